-- engine/testing.lua - test policy scripts with busted on the real C core
-- (../shared/spec/testing.md, docs/testing.md).
--
--   local T = require "engine.testing"
--   local out = T.run { pcap = "pcaps/http-curl.pcap", scripts = { "scripts/admin.lua" } }
--   assert.are.equal(1, #out.alert)
--
--   local eng = T.load { "scripts/admin.lua" }
--   eng:fire("http.request", { method = "GET", uri = "/admin" }, { resp_p = 8080 })
--   assert.are.equal(1, #eng:records("alert"))
--
-- Every T.run and T.load makes a fresh engine instance with its own Lua state
-- (a child of busted's), so policies never run in busted's state and specs
-- cannot see each other's globals, handlers, timers or flows. Log records are
-- captured in memory as the JSON lines `engine` would print and decoded back
-- into tables, so a spec sees exactly what would be logged.
--
-- Needs the C module engine_core.so on package.cpath (`engine test` sets it).
local ok_core, core = pcall(require, "engine_core")
if not ok_core then
  error("engine.testing: cannot load the engine_core C module (" .. tostring(core) .. "); run " ..
    "specs with `engine test`, which sets LUA_CPATH to the build folder", 2)
end
local cjson = require("cjson").new()

local type, pairs, ipairs, tostring, error, pcall, setmetatable, select =
  type, pairs, ipairs, tostring, error, pcall, setmetatable, select
local find, sub, format = string.find, string.sub, string.format

local T = { version = core.version }

-- the folder holding lua/ and scripts/: where this file is, else ENGINE_HOME
local function find_home()
  local src = debug.getinfo(1, "S").source
  if sub(src, 1, 1) == "@" then
    local dir = src:sub(2):match("^(.*)/lua/engine/testing%.lua$")
    if dir then return dir == "" and "/" or dir end
    if src == "@lua/engine/testing.lua" then return "." end
  end
  return os.getenv("ENGINE_HOME")
end
T.home = find_home()

-- call a core method; errors are raised at the spec's line (level 3: the
-- caller of the public function that called us)
local function call(level, f, ...)
  local res = { pcall(f, ...) }
  if not res[1] then error(tostring(res[2]), level + 1) end
  return unpack(res, 2, table.maxn(res))
end

local streams_mt = {
  -- a stream nothing was written to reads as an empty list
  __index = function() return {} end,
}

-- split what the child wrote into records by stream; other output passes
-- through to the real standard output
local function absorb(text, streams, order)
  if text == "" then return end
  local pos, n = 1, #text
  while pos <= n do
    local nl = find(text, "\n", pos, true) or n + 1
    local line = sub(text, pos, nl - 1)
    pos = nl + 1
    if sub(line, 1, 9) == '{"_path":' then
      local ok, rec = pcall(cjson.decode, line)
      if ok and type(rec) == "table" and type(rec._path) == "string" then
        local path = rec._path
        rec._path = nil
        local list = rawget(streams, path)
        if not list then
          list = {}
          rawset(streams, path, list)
          order[#order + 1] = path
        end
        list[#list + 1] = rec
      else
        io.stdout:write(line, "\n")
      end
    elseif line ~= "" or nl <= n then
      io.stdout:write(line, "\n")
    end
  end
end

local function as_list(v, what)
  if v == nil then return {} end
  if type(v) == "string" then return { v } end
  if type(v) ~= "table" then error(what .. " must be a list", 4) end
  return v
end

-- a fresh instance with scripts loaded; opts: scripts, code, config, strict
local function make(opts, level)
  local config = {}
  for k, v in pairs(opts.config or {}) do config[k] = v end
  if config["lua.strict"] == nil then
    config["lua.strict"] = opts.strict ~= false -- a handler error fails the spec
  end
  if config["lua.handler_timeout_ms"] == nil and opts.timeout_ms then
    config["lua.handler_timeout_ms"] = opts.timeout_ms
  end
  local inst = call(level, core.new, T.home, config)
  local scripts = as_list(opts.scripts, "scripts")
  local code = as_list(opts.code, "code")
  for _, path in ipairs(scripts) do
    local ok, err = inst:load(path)
    if not ok then inst:close(); error(err, level) end
  end
  for i, chunk in ipairs(code) do
    local ok, err = inst:load_string(chunk, "=(code #" .. i .. ")")
    if not ok then inst:close(); error(err, level) end
  end
  if #scripts == 0 and #code == 0 and opts.default ~= false then
    local ok, err = inst:load_default()
    if not ok then inst:close(); error(err, level) end
  end
  return inst
end

local function stats_of(inst)
  local ok, s = pcall(inst.eval, inst, 'return require("cjson").encode(engine.stats())')
  if ok and s then return cjson.decode(s) end
  return {}
end

-- T.run{ pcap=, scripts=, code=, config=, bpf=, strict= } -> out
-- out.<stream> is the list of records of that stream (empty when none),
-- out.stats the counters (engine.stats()), out.streams the stream names in
-- order of first record, out.warning set when the capture was cut off.
function T.run(opts)
  if type(opts) ~= "table" then error("T.run{ pcap = ..., scripts = { ... } }", 2) end
  if type(opts.pcap) ~= "string" then error("T.run: pcap = \"file\" is required", 2) end
  local inst = make(opts, 3)
  local out, order = setmetatable({}, streams_mt), {}
  local ok, rc, warning = pcall(inst.read, inst, opts.pcap, opts.bpf)
  if ok then ok, rc = pcall(inst.finish, inst) end
  local taken = inst:take()
  absorb(taken, out, order)
  if not ok then
    inst:close()
    error(tostring(rc), 2)
  end
  rawset(out, "stats", stats_of(inst))
  rawset(out, "streams", order)
  if warning then rawset(out, "warning", warning) end
  inst:close()
  return out
end

-- ---- T.load: an engine driven by hand --------------------------------------

local Engine = {}
Engine.__index = Engine

-- T.load{ "a.lua", "b.lua", config=, code=, start=, strict= } -> eng
-- The clock starts at `start` (network time in seconds, default 1e9); the
-- scripts are loaded, then engine.init fires.
function T.load(opts)
  if type(opts) == "string" then opts = { opts } end
  if type(opts) ~= "table" then error("T.load{ \"script.lua\", ... }", 2) end
  local o = {}
  for k, v in pairs(opts) do if type(k) ~= "number" then o[k] = v end end
  local scripts = {}
  for _, s in ipairs(as_list(opts.scripts, "scripts")) do scripts[#scripts + 1] = s end
  for _, s in ipairs(opts) do scripts[#scripts + 1] = s end
  o.scripts = scripts
  local inst = make(o, 3)
  local eng = setmetatable({ _inst = inst, _streams = setmetatable({}, streams_mt), _order = {} },
    Engine)
  call(2, inst.start, inst, o.start or 1e9)
  return eng
end

function Engine:_sync()
  local inst = rawget(self, "_inst")
  if inst then absorb(inst:take(), self._streams, self._order) end
end

function Engine:_call(method, ...)
  local inst = rawget(self, "_inst")
  if not inst then error("engine closed", 3) end
  local res = { pcall(inst[method], inst, ...) }
  self:_sync()
  if not res[1] then error(tostring(res[2]), 3) end
  return unpack(res, 2, table.maxn(res))
end

-- fire an event by hand: fields by name (events.md types), and the flow it
-- belongs to: a table of flow fields (uid, proto, orig_h, orig_p, resp_h,
-- resp_p, service, start_ts, last_ts, orig_bytes, resp_bytes, orig_pkts,
-- resp_pkts, missed_bytes, state, history, vlan), nil for a default flow,
-- false for none. The same uid (or, without uid, the same proto and
-- endpoints) is the same flow, with the same flow.data, until flow.end is
-- fired for it.
function Engine:fire(name, fields, flow)
  self:_call("fire", name, fields, flow)
  return self
end

-- move network time forward: timers and engine.tick fire
function Engine:advance(seconds)
  self:_call("advance", seconds)
  return self
end

function Engine:now()
  local t = self:_call("now")
  return t
end

-- feed a capture (its flows are real ones)
function Engine:read(pcap, bpf)
  local rc, warning = self:_call("read", pcap, bpf)
  return rc, warning
end

-- end of input: live synthetic flows end ("eof"), then real flows, due
-- timers, engine.done
function Engine:finish()
  self:_call("finish")
  return self
end

-- the records of one stream so far (a list; empty when none), or with no
-- argument a table stream -> list
function Engine:records(stream)
  self:_sync()
  if stream == nil then
    local t = {}
    for _, s in ipairs(self._order) do t[s] = self._streams[s] end
    return t
  end
  return self._streams[stream]
end

function Engine:stats()
  local inst = rawget(self, "_inst")
  if not inst then error("engine closed", 2) end
  return stats_of(inst)
end

-- release the instance (also done by the garbage collector)
function Engine:close()
  local inst = rawget(self, "_inst")
  if inst then
    self:_sync()
    inst:close()
    self._inst = nil
  end
end

-- the event catalogue: name -> { field = "a string" | "an integer" | ... }
function T.events() return core.events() end

-- the engine module's helpers, for building inputs in specs
local util = require "engine.util"
T.b64encode, T.b64decode = util.b64encode, util.b64decode
-- T.hash(kind, s): what engine.hash gives inside a script (md5, sha1, sha256 through nettle,
-- as the files framework computes them), from the C module's eng_digest_hex
local digest_lib, digest_buf
local DIGESTS = { md5 = 0, sha1 = 1, sha256 = 2 }
function T.hash(kind, s)
  local k = DIGESTS[kind]
  if not k then error("T.hash: unknown kind '" .. tostring(kind) .. "' (md5, sha1, sha256)", 2) end
  if type(s) ~= "string" then error("T.hash(kind, s): s must be a string", 2) end
  if not digest_lib then
    local ffi = require "ffi"
    pcall(ffi.cdef, "int eng_digest_hex(int kind, const uint8_t *p, size_t n, char *out);")
    digest_lib = ffi.load(package.searchpath("engine_core", package.cpath))
    digest_buf = ffi.new("char[65]")
  end
  digest_lib.eng_digest_hex(k, s, #s, digest_buf)
  return require("ffi").string(digest_buf)
end

return T
