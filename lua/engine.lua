-- engine.lua - the `engine` module (docs/reference/lua-api.md, docs/lua.md).
--
-- Loaded once per Lua state by the C bridge (engine/lua_bridge.c), which
-- passes a boot table: `api` (address of struct lbr_api: every C function
-- this module calls, plus the instance), `outdir`, `home`, `traceback`, and
-- the two Lua/C functions that may fire events (`set_service`, `skip`; an
-- FFI call must not re-enter the Lua state). The bridge then makes the
-- returned table the global `engine` and package.loaded.engine.
local boot = ...
if type(boot) ~= "table" or not boot.api then
  error("lua/engine.lua is loaded by the engine itself; scripts use require \"engine\"", 2)
end

local ffi = require "ffi"
local bit = require "bit"

local type, pairs, ipairs, tonumber, tostring, error, setmetatable, rawget, rawset, select =
  type, pairs, ipairs, tonumber, tostring, error, setmetatable, rawget, rawset, select
local format, byte, char, sub, find = string.format, string.byte, string.char, string.sub, string.find
local floor = math.floor
local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift

-- ---- C declarations (must match engine/engine.h and engine/lua_bridge.c) ----

local STAT_NAMES = {
  "packets", "bytes", "truncated", "capture_dropped", "non_ip", "ip_errors",
  "flows", "flows_active", "flows_evicted", "flows_timed_out",
  "flows_evicted_half_open", "flows_evicted_closed", "flows_evicted_established",
  "tcp_segments", "tcp_in_order", "tcp_out_of_order", "tcp_retransmitted",
  "tcp_overlaps", "tcp_overlap_conflicts", "tcp_gaps", "tcp_gap_bytes",
  "tcp_bytes_delivered", "tcp_buffered", "tcp_buffered_peak",
  "udp_datagrams",
  "frags", "frags_reassembled", "frags_timed_out", "frags_overlapping", "frag_buffered",
  "weirds",
  "mem_buffered", "mem_buffered_peak", "memcap_cuts", "memcap_cut_bytes", "mem_unreleased",
}

if not pcall(ffi.typeof, "struct lbr_api") then
  ffi.cdef [[
typedef struct eng eng_t;
typedef struct lua_bridge lbr_t;
struct eng_flow;
typedef struct eng_event eng_event_t;
typedef struct eng_stats eng_stats_t;
struct lbr_shared {
  const eng_event_t *ev;
  int32_t cur;
  int32_t nproxies;
  uint64_t gen;
};
struct lbr_api {
  size_t sizeof_event, sizeof_flow, sizeof_stats, sizeof_value, sizeof_shared;
  int event_count, max_fields, history_len;
  eng_t *e;
  lbr_t *b;
  struct lbr_shared *sh;
  int (*eng_event_count)(void);
  const char *(*eng_event_name)(int);
  int (*eng_event_nfields)(int);
  const char *(*eng_event_field_name)(int, int);
  int (*eng_event_field_type)(int, int);
  int64_t (*eng_now)(const eng_t *);
  const char *(*eng_flow_state)(const struct eng_flow *);
  char *(*eng_flow_addr)(const struct eng_flow *, int, char *, size_t);
  const char *(*eng_proto_name)(int);
  const eng_stats_t *(*eng_stats)(const eng_t *);
  const char *(*eng_weird_name)(const eng_t *, int, uint64_t *);
  int (*eng_config_count)(const eng_t *);
  const char *(*eng_config_key)(const eng_t *, int);
  const char *(*eng_config_value)(const eng_t *, int);
  int (*lbr_ffi_subscribe)(lbr_t *, int, int);
  void (*lbr_ffi_set_wakeup)(lbr_t *, int64_t);
  void (*lbr_ffi_handler_error)(lbr_t *, const char *, const char *);
  void (*lbr_ffi_fail)(lbr_t *, const char *);
  int64_t (*lbr_ffi_utf8_check)(const char *, size_t);
  size_t (*lbr_ffi_utf8_sanitize)(const char *, size_t, uint8_t *);
  int (*eng_digest_hex)(int, const char *, size_t, char *);
  int (*eng_config_known_info)(int, const char **, const char **, const char **, const char **);
  int (*lbr_ffi_flows)(lbr_t *, const struct eng_flow **, int);
  const char *(*eng_flow_community_id)(const struct eng_flow *, unsigned, char *, size_t);
};
]]
end

local C = ffi.cast("struct lbr_api *", boot.api)   -- the one C namespace
local E, B, S = C.e, C.b, C.sh
local NK = C.event_count

-- the array sizes come from C, so only a changed layout can break the check below
if ffi.sizeof("struct eng_stats") == nil then
  ffi.cdef(format([[
typedef struct eng_value {
  uint32_t type;
  uint32_t len;
  union { const uint8_t *s; const struct eng_value *list; int64_t i; double n; } u;
  uint64_t offset;
} eng_value_t;
struct eng_flow {
  uint64_t id;
  char uid[24];
  uint8_t proto, family;
  uint16_t vlan;
  uint8_t has_vlan, ended, skipped, pad_;
  uint16_t orig_port, resp_port;
  uint8_t orig_addr[16], resp_addr[16];
  int64_t start_ns, last_ns;
  uint64_t bytes[2];
  uint64_t pkts[2];
  uint64_t missed_bytes;
  const char *service;
  char history[%d];
  char services[48];
  char parent_uid[24];
  char tunnel_parents[80];
  uint64_t ip_bytes[2];
};
struct eng_event {
  int32_t kind;
  int32_t nfields;
  struct eng_flow *flow;
  eng_value_t f[%d];
};
struct eng_stats {
  uint64_t %s;
  uint64_t events_fired[%d];
  uint64_t handler_ns[%d];
  uint64_t handler_errors;
};]], C.history_len, C.max_fields, table.concat(STAT_NAMES, ", "), NK, NK))
end

local function check_size(what, got, want)
  if tonumber(got) ~= tonumber(want) then
    error(format("lua/engine.lua: %s is %d bytes here but %d in C: update the ffi.cdef",
      what, tonumber(got), tonumber(want)), 0)
  end
end
check_size("eng_event_t", ffi.sizeof("eng_event_t"), C.sizeof_event)
check_size("struct eng_flow", ffi.sizeof("struct eng_flow"), C.sizeof_flow)
check_size("eng_stats_t", ffi.sizeof("struct eng_stats"), C.sizeof_stats)
check_size("eng_value_t", ffi.sizeof("eng_value_t"), C.sizeof_value)
check_size("struct lbr_shared", ffi.sizeof("struct lbr_shared"), C.sizeof_shared)

local M = { version = "0.1.0" }

-- ---- time -------------------------------------------------------------------

local NS = 1000000000LL
local function ns2s(ns)
  local s = ns / NS
  return tonumber(s) + tonumber(ns - s * NS) / 1e9
end
local function now() return ns2s(C.eng_now(E)) end
M.now = now

-- ---- the catalogue --------------------------------------------------------------

local names, kinds, fieldlist, fieldmap = {}, {}, {}, {}
for k = 0, NK - 1 do
  local name = ffi.string(C.eng_event_name(k))
  names[k], kinds[name] = name, k
  local fl, fm = {}, {}
  for i = 0, C.eng_event_nfields(k) - 1 do
    local p = C.eng_event_field_name(k, i)
    if p ~= nil then
      local fname = ffi.string(p)
      fl[#fl + 1], fm[fname] = fname, i
    end
  end
  fieldlist[k], fieldmap[k] = fl, fm
end
local K_FLOW_END = kinds["flow.end"]
local K_ENGINE_DONE = kinds["engine.done"]

function M.events()
  local t = {}
  for k = 0, NK - 1 do
    local fl = {}
    for i, f in ipairs(fieldlist[k]) do fl[i] = f end
    t[names[k]] = fl
  end
  return t
end

local function distance(a, b)
  local la, lb = #a, #b
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ca = byte(a, i)
    for j = 1, lb do
      local cost = ca == byte(b, j) and 0 or 1
      local v = prev[j - 1] + cost
      if prev[j] + 1 < v then v = prev[j] + 1 end
      if cur[j - 1] + 1 < v then v = cur[j - 1] + 1 end
      cur[j] = v
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

-- the name of list nearest to name (edit distance; a case-insensitive match first)
local function nearest_in(name, list)
  name = tostring(name)
  local low = name:lower()
  for _, n in ipairs(list) do
    if n:lower() == low then return n end
  end
  local best, bd = nil, math.huge
  for _, n in ipairs(list) do
    local d = distance(name, n)
    if d < bd then best, bd = n, d end
  end
  return best
end

local namelist = {}
for k = 0, NK - 1 do namelist[k + 1] = names[k] end
local function nearest(name) return nearest_in(name, namelist) end

-- the error for a name an event or a flow does not have (only on the miss path)
local function no_field(what, key, list)
  local near = nearest_in(key, list)
  if near then
    error(format("%s has no field '%s' (did you mean '%s'?)", what, tostring(key), near), 3)
  end
  error(format("%s has no field '%s' (it has no fields)", what, tostring(key)), 3)
end

-- ---- events: lazily converted, read-only views of the C event -----------------

-- Accessors return (f(x)), not f(x), because they run for every field read and
-- LuaJIT compiles neither a tail call of a builtin (ffi.string, tonumber,
-- rawget) at the base of a trace ("NYI: return to lower frame") nor more tail
-- calls in one trace than jit.opt loopunroll (15: "loop unroll limit
-- reached", a conn.log record reads 20 flow fields)
local function conv(v)
  local t = v.type
  if t == 1 then
    if v.len == 0 then return "" end
    return (ffi.string(v.u.s, v.len))
  elseif t == 2 then
    return (tonumber(v.u.i))
  elseif t == 3 then
    return (tonumber(v.u.n))
  elseif t == 4 then
    return v.u.i ~= 0
  end
  return nil -- lists and maps (5, 6) go to field_table
end

local field_table = boot.field_table
local EVP = {}
for k = 0, NK - 1 do
  local fm, name, fl = fieldmap[k], names[k], fieldlist[k]
  EVP[k] = setmetatable({}, {
    __index = function(_, key)
      local i = fm[key]
      if i == nil then no_field("event '" .. name .. "'", key, fl) end
      local cev = S.ev
      if cev == nil or cev.kind ~= k then
        error("event '" .. name .. "' read after its handler returned: keep the fields, not ev", 2)
      end
      if i >= cev.nfields then return nil end
      local v = cev.f[i]
      if v.type >= 5 then return (field_table(i)) end -- lists and maps: built in C (lua_bridge.c)
      return (conv(v)) -- not a tail call: a trace counts tail calls against loopunroll (15)
    end,
    __newindex = function() error("ev is read-only", 2) end,
    __tostring = function() return "event " .. name end,
    __metatable = false,
  })
end

-- ---- flows: proxies over the C struct, one per flow while it lives -------------

local proxies, nproxies = {}, 0
local addrbuf = ffi.new("char[64]")
local FLOWSIZE = C.sizeof_flow

local function low32(a, fam)
  local o = fam == 6 and 12 or 0
  return a[o] * 16777216 + a[o + 1] * 65536 + a[o + 2] * 256 + a[o + 3]
end

local function addr(f, dir)
  local p = C.eng_flow_addr(f, dir, addrbuf, 64)
  return p ~= nil and ffi.string(p) or nil
end

-- address strings are cached; the core may flip a young flow's orientation,
-- so the cache is keyed by the ports and the low bits of the originator
local function addrs(p, f)
  local key, ka = f.orig_port * 65536 + f.resp_port, low32(f.orig_addr, f.family)
  if rawget(p, "_ak") ~= key or rawget(p, "_aa") ~= ka then
    rawset(p, "_oh", addr(f, 0))
    rawset(p, "_rh", addr(f, 1))
    rawset(p, "_ak", key)
    rawset(p, "_aa", ka)
  end
end

local cidbuf = ffi.new("char[32]")
local CID_SEED -- flow.community_id_seed, read at the first use (engine.config is ready then)
local getters = {
  uid = function(p, f) local v = ffi.string(f.uid); rawset(p, "uid", v); return v end,
  id = function(p, f) return (tonumber(f.id)) end,
  proto = function(p, f)
    local n = C.eng_proto_name(f.proto)
    local v = n ~= nil and ffi.string(n) or tostring(f.proto)
    rawset(p, "proto", v)
    return v
  end,
  orig_h = function(p, f) addrs(p, f); return (rawget(p, "_oh")) end,
  resp_h = function(p, f) addrs(p, f); return (rawget(p, "_rh")) end,
  ip_proto = function(p, f) return f.proto end,
  orig_p = function(p, f) return f.orig_port end,
  resp_p = function(p, f) return f.resp_port end,
  service = function(p, f)
    if rawget(p, "_dead") then return (rawget(p, "_svc")) end
    local s = f.service
    return s ~= nil and ffi.string(s) or nil
  end,
  start_ts = function(p, f) return ns2s(f.start_ns) end,
  last_ts = function(p, f) return ns2s(f.last_ns) end,
  duration = function(p, f) return tonumber(f.last_ns - f.start_ns) / 1e9 end,
  orig_bytes = function(p, f) return (tonumber(f.bytes[0])) end,
  resp_bytes = function(p, f) return (tonumber(f.bytes[1])) end,
  orig_pkts = function(p, f) return (tonumber(f.pkts[0])) end,
  orig_ip_bytes = function(p, f) return (tonumber(f.ip_bytes[0])) end,
  resp_ip_bytes = function(p, f) return (tonumber(f.ip_bytes[1])) end,
  resp_pkts = function(p, f) return (tonumber(f.pkts[1])) end,
  missed_bytes = function(p, f) return (tonumber(f.missed_bytes)) end,
  state = function(p, f)
    if rawget(p, "_dead") then return (rawget(p, "_state")) end
    return (ffi.string(C.eng_flow_state(f)))
  end,
  history = function(p, f) return (ffi.string(f.history)) end,
  community_id = function(p, f)
    if not CID_SEED then CID_SEED = tonumber(M.config["flow.community_id_seed"]) or 0 end
    local r = C.eng_flow_community_id(f, CID_SEED, cidbuf, 32)
    return r ~= nil and ffi.string(r) or nil
  end,
  services = function(p, f)
    if rawget(p, "_dead") then return (rawget(p, "_svcs")) end
    local s = ffi.string(f.services)
    return s ~= "" and s or nil
  end,
  parent_uid = function(p, f)
    local s = ffi.string(f.parent_uid)
    if s == "" then s = nil end
    rawset(p, "parent_uid", s)
    return s
  end,
  tunnel_parents = function(p, f)
    local s = ffi.string(f.tunnel_parents)
    if s == "" then return nil end
    local t = {}
    for u in s:gmatch("[^,]+") do t[#t + 1] = u end
    return t
  end,
  vlan = function(p, f) if f.has_vlan ~= 0 then return f.vlan end return nil end,
  ended = function(p, f) return rawget(p, "_dead") == true or f.ended ~= 0 end,
  data = function(p, f) local t = {}; rawset(p, "data", t); return t end,
}

local function ptrnum(f) return tonumber(ffi.cast("uintptr_t", f)) end

local methods = {
  set_service = function(self, name)
    if type(name) ~= "string" then error("flow:set_service(name): name must be a string", 2) end
    if rawget(self, "_dead") then return false end
    if not boot.set_service(ptrnum(rawget(self, "_f")), name) then
      error("flow:set_service: no decoder named '" .. name .. "'", 2)
    end
    return true
  end,
  skip = function(self)
    if not rawget(self, "_dead") then boot.skip(ptrnum(rawget(self, "_f"))) end
  end,
}

-- every name a flow answers, for the error on a name it does not have
local flow_names = {}
for k in pairs(getters) do flow_names[#flow_names + 1] = k end
for k in pairs(methods) do flow_names[#flow_names + 1] = k end
table.sort(flow_names)
function M._flow_fields()
  local t = {}
  for i, n in ipairs(flow_names) do t[i] = n end
  return t
end

local flow_mt = {
  __index = function(p, k)
    local g = getters[k]
    if g then return (g(p, rawget(p, "_f"))) end -- not a tail call (see conv)
    local m = methods[k]
    if m == nil then no_field("flow", k, flow_names) end
    return m
  end,
  __newindex = function(_, k)
    error("flow." .. tostring(k) .. " is read-only: keep your own state in flow.data", 2)
  end,
  __tostring = function(p) return "flow " .. p.uid end,
  __metatable = false,
}

local function getproxy(f)
  local id = tonumber(f.id)
  local p = proxies[id]
  if p == nil then
    p = setmetatable({ _f = f }, flow_mt)
    proxies[id] = p
    nproxies = nproxies + 1
    S.nproxies = nproxies
  end
  return p
end

-- after flow.end the C flow is freed: the proxy keeps a copy of its fields
local function kill(p, f)
  rawset(p, "_state", ffi.string(C.eng_flow_state(f)))
  if f.service ~= nil then rawset(p, "_svc", ffi.string(f.service)) end
  if f.services[0] ~= 0 then rawset(p, "_svcs", ffi.string(f.services)) end
  local copy = ffi.new("struct eng_flow")
  ffi.copy(copy, f, FLOWSIZE)
  rawset(p, "_f", copy)
  rawset(p, "_dead", true)
end

local function drop(f)
  local id = tonumber(f.id)
  local p = proxies[id]
  if p ~= nil then
    proxies[id] = nil
    nproxies = nproxies - 1
    S.nproxies = nproxies
    kill(p, f)
  end
end

-- ---- handlers -----------------------------------------------------------------

local H, byid, next_id = {}, {}, 0
for k = 0, NK - 1 do H[k] = {} end
local HID = {}
for k = 0, NK - 1 do HID[k] = {} end

function M.on(name, fn)
  if type(name) ~= "string" then error("engine.on(name, fn): name must be a string", 2) end
  local k = kinds[name]
  if not k then
    error(format("unknown event '%s' (did you mean '%s'?)", name, nearest(name)), 2)
  end
  if type(fn) ~= "function" then
    error("engine.on('" .. name .. "', fn): fn must be a function", 2)
  end
  next_id = next_id + 1
  -- copy on write: a dispatch in progress keeps iterating its own list
  local hs, ids = {}, {}
  for i, h in ipairs(H[k]) do hs[i], ids[i] = h, HID[k][i] end
  hs[#hs + 1], ids[#ids + 1] = fn, next_id
  H[k], HID[k] = hs, ids
  byid[next_id] = k
  C.lbr_ffi_subscribe(B, k, #hs)
  return next_id
end

function M.off(id)
  local k = byid[id]
  if not k then return false end
  byid[id] = nil
  local hs, ids = {}, {}
  for i, h in ipairs(H[k]) do
    if HID[k][i] ~= id then hs[#hs + 1], ids[#ids + 1] = h, HID[k][i] end
  end
  H[k], HID[k] = hs, ids
  C.lbr_ffi_subscribe(B, k, #hs)
  return true
end

-- engine.flows(): an iterator over the flows open now (a snapshot: flows that start
-- later are not in it; one that ends meanwhile answers from the copy taken at its end)
local flowbuf, flowbuf_n = nil, 0
function M.flows()
  local n = C.lbr_ffi_flows(B, nil, 0)
  if n > flowbuf_n then
    flowbuf_n = n * 2
    flowbuf = ffi.new("const struct eng_flow *[?]", flowbuf_n)
  end
  if n > 0 then n = math.min(n, C.lbr_ffi_flows(B, flowbuf, flowbuf_n)) end
  local list = {}
  for i = 0, n - 1 do list[i + 1] = getproxy(flowbuf[i]) end
  -- proxies are dropped at flow.end: keep it subscribed while they live
  if n > 0 then C.lbr_ffi_subscribe(B, K_FLOW_END, #H[K_FLOW_END]) end
  local i = 0
  return function()
    i = i + 1
    return list[i]
  end
end

-- called by C for each subscribed event, with the handler index to start at
-- (> 1 after a handler failed); S.cur tells C which handler is running
function M._dispatch(kind, start)
  local hs = H[kind]
  local n = #hs
  local cev = S.ev
  if start <= n then
    local f, flow = cev.flow, nil
    if f ~= nil then flow = getproxy(f) end
    local ev = EVP[kind]
    for i = start, n do
      S.cur = i
      hs[i](flow, ev)
    end
  end
  if kind == K_FLOW_END then
    local f = cev.flow
    if f ~= nil then drop(f) end
  end
end

-- called by C when handler i of `kind` timed out (lua.handler_timeout_ms): after
-- `max` timeouts (lua.max_timeouts, 0 = never) the handler is switched off; the
-- message to print is returned then, nil otherwise
local strikes = {}
local getinfo = debug.getinfo -- the sandbox leaves scripts a smaller debug table
function M._strike(kind, i, max)
  local id, fn = HID[kind][i], H[kind][i]
  if not id then return nil end
  local n = (strikes[id] or 0) + 1
  strikes[id] = n
  if max == 0 or n < max then return nil end
  local where = "?"
  local info = getinfo(fn, "S")
  if info then where = info.short_src .. ":" .. info.linedefined end
  M.off(id)
  strikes[id] = nil
  return format("handler for %s (%s) switched off after %d timeouts (lua.max_timeouts)",
    names[kind] or tostring(kind), where, n)
end

-- ---- timers (network time) ------------------------------------------------------

local heap, tseq = {}, 0
local unbased = {} -- timers made before the clock started

local function less(a, b) return a.at < b.at or (a.at == b.at and a.seq < b.seq) end
local function push(t)
  local i = #heap + 1
  heap[i] = t
  while i > 1 do
    local p = floor(i / 2)
    if less(heap[i], heap[p]) then heap[i], heap[p] = heap[p], heap[i]; i = p else break end
  end
end
local function pop()
  local top, n = heap[1], #heap
  heap[1] = heap[n]
  heap[n] = nil
  n = n - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and less(heap[l], heap[m]) then m = l end
    if r <= n and less(heap[r], heap[m]) then m = r end
    if m == i then break end
    heap[i], heap[m] = heap[m], heap[i]
    i = m
  end
  return top
end

local function arm()
  if #unbased > 0 then
    C.lbr_ffi_set_wakeup(B, 1) -- at the first packet
  elseif heap[1] then
    C.lbr_ffi_set_wakeup(B, heap[1].at)
  else
    C.lbr_ffi_set_wakeup(B, 0)
  end
end

local function s2ns(seconds) return floor(seconds * 1e9 + 0.5) end

local timer_mt = { __index = { cancel = function(t) t.cancelled = true end } }

-- errors name the caller's file:line (level 3: the caller of engine.after/every,
-- which must not tail-call schedule)
local function schedule(seconds, fn, every, what)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    error(what .. ": seconds must be a number >= 0, got " .. tostring(seconds), 3)
  end
  if every and seconds <= 0 then error(what .. ": seconds must be > 0", 3) end
  if type(fn) ~= "function" then error(what .. ": fn must be a function", 3) end
  tseq = tseq + 1
  -- times in int64 nanoseconds: a float of seconds since 1970 is too coarse
  local t = setmetatable({ seq = tseq, fn = fn, every = every and s2ns(seconds) or nil,
    delay = s2ns(seconds) }, timer_mt)
  local n = C.eng_now(E)
  if n == 0 then
    unbased[#unbased + 1] = t
  else
    t.at = n + t.delay
    push(t)
  end
  arm()
  return t
end

function M.after(seconds, fn)
  local t = schedule(seconds, fn, false, "engine.after")
  return t
end
function M.every(seconds, fn)
  local t = schedule(seconds, fn, true, "engine.every")
  return t
end

local tb = boot.traceback

local function fire(t)
  S.cur = S.cur + 1
  local ok, err = xpcall(t.fn, tb)
  if not ok then C.lbr_ffi_handler_error(B, "timer", tostring(err)) end
end

-- Called by C with at_done = 0 when network time reaches the wake-up: C moves
-- the clock to each due time in turn (engine.now() = the timer's due time),
-- except past the first hour of a long silence, where the late timers run at
-- the new time and an every timer fires once and counts its period from there.
-- Called at engine.done with at_done = 1, after every flow has ended and before
-- the engine.done handlers: every pending timer fires, in due order, an every
-- timer once, with engine.now() the final network time. Timers made while
-- these run are not fired (a timer that schedules itself cannot loop).
function M._timers(at_done)
  local t_now = C.eng_now(E)
  if #unbased > 0 then
    for _, t in ipairs(unbased) do t.at = t_now + t.delay; push(t) end
    unbased = {}
  end
  if at_done ~= 0 then
    local pending = heap
    heap = {}
    C.lbr_ffi_set_wakeup(B, 0)
    table.sort(pending, less)
    for _, t in ipairs(pending) do
      if not t.cancelled then fire(t) end
    end
    heap, unbased = {}, {}
    C.lbr_ffi_set_wakeup(B, 0)
    return
  end
  while heap[1] and heap[1].at <= t_now do
    local t = pop()
    if not t.cancelled then
      fire(t)
      if t.every then
        t.at = t.at + t.every
        if t.at <= t_now then t.at = t_now + t.every end
        push(t)
      end
    end
  end
  arm()
end

-- ---- logs -----------------------------------------------------------------------

local log = require "engine.log"
local writer = log.new { C = C, B = B, outdir = boot.outdir,
  config = function(k) return M.config[k] end, now = function() return now() end,
  sink = boot.log_write, sink_flush = boot.log_flush, sink_user = boot.log_user }
-- -j N: this Lua state is worker `id` (0-based) of `count` (docs/lua.md, "Workers")
M.worker = { id = boot.worker_id or 0, count = boot.workers or 1 }

-- engine.log fills ts (engine.now()) when the record has none, as log_flow does
local write = writer.write
function M.log(stream, record)
  if type(record) == "table" and record.ts == nil then record.ts = now() end
  write(stream, record)
end
M.log_columns = writer.columns
M.log_types = writer.types

local function flow_fields(r, flow)
  r.uid = flow.uid
  r["id.orig_h"] = flow.orig_h
  r["id.orig_p"] = flow.orig_p
  r["id.resp_h"] = flow.resp_h
  r["id.resp_p"] = flow.resp_p
end

function M.log_flow(stream, flow, record)
  if type(record) ~= "table" then error("engine.log_flow(stream, flow, record): record must be a table", 2) end
  if record.ts == nil then record.ts = now() end
  if flow ~= nil then flow_fields(record, flow) end
  return writer.write(stream, record)
end

writer.columns("alert", { "msg" })
function M.alert(flow, msg, extra)
  local r = {}
  if extra ~= nil then
    if type(extra) ~= "table" then error("engine.alert(flow, msg, extra): extra must be a table", 2) end
    for k, v in pairs(extra) do r[k] = v end
  end
  r.msg = tostring(msg)
  r.ts = now()
  if flow ~= nil then flow_fields(r, flow) end
  return writer.write("alert", r)
end

-- C: engine.done, after its handlers: forget flows, flush the logs
function M._done()
  for id, p in pairs(proxies) do
    local f = rawget(p, "_f")
    proxies[id] = nil
    kill(p, f)
  end
  nproxies = 0
  S.nproxies = 0
  writer.flush()
end

local rotating = false
function M._shutdown()
  -- with log.rotate the last files are renamed with their span too, as Zeek does at exit
  if rotating then writer.rotate(now()) end
  writer.close()
end
function M._flush() writer.flush() end  -- C: every second of a live run

-- ---- stats and config -------------------------------------------------------------

function M.stats()
  local st = C.eng_stats(E)
  local t = {}
  for _, n in ipairs(STAT_NAMES) do t[n] = tonumber(st[n]) end
  t.handler_errors = tonumber(st.handler_errors)
  local fired, hns = {}, {}
  for k = 0, NK - 1 do
    fired[names[k]] = tonumber(st.events_fired[k])
    hns[names[k]] = tonumber(st.handler_ns[k])
  end
  t.events_fired, t.handler_ns = fired, hns
  local w, cnt = {}, ffi.new("uint64_t[1]")
  local i = 0
  while true do
    local n = C.eng_weird_name(E, i, cnt)
    if n == nil then break end
    w[ffi.string(n)] = tonumber(cnt[0])
    i = i + 1
  end
  t.weird = w
  return t
end

local MULT = { k = 1024, kb = 1024, kib = 1024, m = 1048576, mb = 1048576, mib = 1048576,
  g = 1073741824, gb = 1073741824, gib = 1073741824 }

local function config_value(s)
  local l = s:lower()
  if l == "true" or l == "yes" or l == "on" then return true end
  if l == "false" or l == "no" or l == "off" then return false end
  local n = tonumber(s)
  if n then return n end
  local num, unit = l:match("^(%d+%.?%d*)%s*(%a+)$")
  if num then
    if MULT[unit] then return tonumber(num) * MULT[unit] end
    if unit == "ms" then return tonumber(num) / 1000 end
    if unit == "s" then return tonumber(num) end
  end
  return s
end

local config_values
local declared, declared_list = {}, {} -- engine.config_key: name -> { default, doc }
local function load_config()
  config_values = {}
  for i = 0, C.eng_config_count(E) - 1 do
    local k, v = C.eng_config_key(E, i), C.eng_config_value(E, i)
    if k ~= nil and v ~= nil then config_values[ffi.string(k)] = config_value(ffi.string(v)) end
  end
end

-- the keys of the engine's table (engine/config.c)
local known_keys = {}
do
  local name = ffi.new("const char *[1]")
  local i = 0
  while C.eng_config_known_info(i, name, nil, nil, nil) == 0 do
    known_keys[#known_keys + 1] = ffi.string(name[0])
    i = i + 1
  end
end

-- engine.config_key(name, default, doc): a script's own configuration key, so that
-- `--set name=...` is accepted; engine.config[name] is default when it is not set
function M.config_key(name, default, doc)
  if type(name) ~= "string" or not find(name, "^[%w_][%w_%.%-]*$") then
    error("engine.config_key(name, default, doc): name must be a key such as 'myscript.limit'", 2)
  end
  if doc ~= nil and type(doc) ~= "string" then
    error("engine.config_key(name, default, doc): doc must be a string", 2)
  end
  if not declared[name] then declared_list[#declared_list + 1] = name end
  declared[name] = { default = default, doc = doc }
  if config_values and config_values[name] == nil then config_values[name] = default end
end

-- C (engine --set check): was key declared; the nearest known or declared key
function M._config_check(key)
  if declared[key] then return true, key end
  local all = {}
  for _, k in ipairs(known_keys) do all[#all + 1] = k end
  for _, k in ipairs(declared_list) do all[#all + 1] = k end
  return false, nearest_in(key, all)
end

-- frozen at first use (the command line sets it before scripts run)
M.config = setmetatable({}, {
  __index = function(_, k)
    if not config_values then load_config() end
    local v = config_values[k]
    if v == nil and declared[k] then return declared[k].default end
    return v
  end,
  __newindex = function() error("engine.config is read-only (use --set KEY=VALUE)", 2) end,
  __call = function()
    if not config_values then load_config() end
    local t = {}
    for k, d in pairs(declared) do t[k] = d.default end
    for k, v in pairs(config_values) do t[k] = v end
    return t
  end,
  __metatable = false,
})

-- ---- helpers --------------------------------------------------------------------

local util = require "engine.util"
M.cidr = util.cidr
M.b64encode = util.b64encode
M.b64decode = util.b64decode
M.load_list = util.load_list
-- engine.hash(kind, s): digests by the same library as the files framework (nettle)
local DIGESTS = { md5 = 0, sha1 = 1, sha256 = 2 }
local digest_buf = ffi.new("char[65]")
function M.hash(kind, s)
  local k = DIGESTS[kind]
  if not k then error("engine.hash: unknown kind '" .. tostring(kind) .. "' (md5, sha1, sha256)", 2) end
  if type(s) ~= "string" then error("engine.hash(kind, s): s must be a string", 2) end
  C.eng_digest_hex(k, s, #s, digest_buf)
  return (ffi.string(digest_buf))
end

-- log.rotate=SECONDS (with -o DIR): every SECONDS of network time, at multiples of
-- SECONDS since 1970 as Zeek aligns them, the logs are closed and renamed with
-- their time span (lua/engine/log.lua W.rotate). Network time follows the clock in a
-- live run; reading files, the capture's time decides (Zeek rotates only live).
do
  local r = M.config["log.rotate"]
  if r ~= nil and r ~= "" then
    r = tonumber(r)
    if not r or r ~= r or r < 1 then
      error("log.rotate: expected a number of seconds >= 1, not '" .. tostring(M.config["log.rotate"]) .. "'", 0)
    end
    if boot.outdir then
      rotating = true
      M.after(0, function()
        local t = now()
        local first = (floor(t / r) + 1) * r - t
        M.after(first, function()
          writer.rotate(now())
          M.every(r, function() writer.rotate(now()) end)
        end)
      end)
    end
  end
end

return M
