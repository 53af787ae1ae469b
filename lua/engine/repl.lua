-- engine/repl.lua - the REPL's helpers (docs/repl.md): evaluation and
-- printing, completion candidates, flow tracking, run/step/rewind, flows,
-- flow, collect, stream, show, reload, help.
--
-- Loaded by engine/lua_repl.c, which calls R.init{ step, stop, rewind,
-- capture, tty } (C functions: step may fire events, so it is a Lua/C
-- function, not an FFI call), then R.load_script(path) for each -s script,
-- then R.eval(chunk) for each chunk typed and R.complete(line, word) on Tab.
local engine = require "engine"

local type, pairs, ipairs, tostring, tonumber, select, pcall, xpcall, rawget, getmetatable =
  type, pairs, ipairs, tostring, tonumber, select, pcall, xpcall, rawget, getmetatable
local format, sub, byte, rep, concat, sort = string.format, string.sub, string.byte,
  string.rep, table.concat, table.sort
local floor, huge, min, max = math.floor, math.huge, math.min, math.max

local R = {}

-- bounds on what the REPL keeps while tracking a capture
local MAX_FLOWS = 100000          -- flows tracked (later ones are counted, not kept)
local MAX_FLOW_EVENTS = 100       -- events kept per flow
local MAX_FIELD_BYTES = 200       -- a string field in a flow's event log is cut here
local MAX_STREAM = 1024 * 1024    -- bytes kept per flow direction
local MAX_STREAM_TOTAL = 64 * 1024 * 1024 -- bytes kept across all streams
local MAX_COLLECT = 10000         -- collect() without n stops here
local MAX_PACKETS = 200000        -- packet summaries kept (later ones are counted, not kept)
local MAX_PACKET_BYTES = 64 * 1024 * 1024 -- frame bytes kept over all packets (for show)
local MAX_STEP_LINES = 1000       -- step(n) prints at most this many summary lines
R.limits = { flows = MAX_FLOWS, flow_events = MAX_FLOW_EVENTS, stream = MAX_STREAM,
  stream_total = MAX_STREAM_TOTAL, collect = MAX_COLLECT, packets = MAX_PACKETS,
  packet_bytes = MAX_PACKET_BYTES, step_lines = MAX_STEP_LINES }

local C              -- the C functions given to init
local catalogue = engine.events()
local out = io.stdout

local function say(...) out:write(...) out:write("\n") end

-- ---- printing -----------------------------------------------------------------

local function fmt_number(x)
  if x ~= x then return "nan" end
  if x == huge then return "inf" elseif x == -huge then return "-inf" end
  if x == floor(x) and x > -2^53 and x < 2^53 then return format("%d", x) end
  for p = 15, 17 do
    local s = format("%." .. p .. "g", x)
    if tonumber(s) == x then return s end
  end
  return tostring(x)
end

local ESC = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" }
-- a string as a quoted literal that is safe on a terminal: control bytes and
-- bytes >= 0x80 are \xNN; cut after `limit` bytes (noting the length)
local function fmt_string(s, limit)
  local cut = limit and #s > limit
  local body = cut and sub(s, 1, limit) or s
  body = body:gsub('[%z\1-\31"\\\127-\255]', function(c)
    return ESC[c] or format("\\x%02x", byte(c))
  end)
  if cut then return '"' .. body .. format('"... (%d bytes)', #s) end
  return '"' .. body .. '"'
end

local function is_ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not ({
    ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1, ["elseif"] = 1, ["end"] = 1,
    ["false"] = 1, ["for"] = 1, ["function"] = 1, ["if"] = 1, ["in"] = 1, ["local"] = 1,
    ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1, ["return"] = 1, ["then"] = 1,
    ["true"] = 1, ["until"] = 1, ["while"] = 1, ["goto"] = 1 })[k]
end

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta == "number" and tb == "number" then return a < b end
  if ta == "number" then return true end
  if tb == "number" then return false end
  if ta == "string" and tb == "string" then return a < b end
  if ta == "string" then return true end
  if tb == "string" then return false end
  return tostring(a) < tostring(b)
end

local FLOWLIST = {}   -- metatable of what flows() returns: printed one flow a line
local PACKETLIST = {} -- metatable of what packets() returns: printed one packet a line
local PACKET = {}     -- metatable of a packet record: show() prints its layers and bytes
local flow_summary    -- defined below
local packet_line, packet_detail -- defined below

local function is_proxy(t)
  return type(t) == "table" and type(rawget(t, "_f")) == "cdata" and getmetatable(t) == false
end

local MAX_ITEMS, MAX_DEPTH, WIDTH = 200, 6, 100
local fmt

local function flow_line(s)
  local h = function(a) return a and a:find(":", 1, true) and "[" .. a .. "]" or tostring(a) end
  return format("%-20s %-4s %s:%s -> %s:%s  %-6s %s/%s bytes  %s%s", tostring(s.uid),
    tostring(s.proto), h(s.orig_h), tostring(s.orig_p), h(s.resp_h), tostring(s.resp_p),
    s.service or "-", fmt_number(s.orig_bytes or 0), fmt_number(s.resp_bytes or 0),
    tostring(s.state), s.ended and "" or " (open)")
end

local function fmt_table(t, indent, seen, depth)
  if seen[t] then return "<cycle>" end
  if getmetatable(t) == FLOWLIST then
    if #t == 0 then return "(no flows)" end
    local lines = {}
    for i, s in ipairs(t) do
      if i > MAX_ITEMS then lines[#lines + 1] = format("... (%d more)", #t - MAX_ITEMS) break end
      lines[#lines + 1] = format("%3d  %s", i, flow_line(s))
    end
    return concat(lines, "\n" .. indent)
  end
  if getmetatable(t) == PACKETLIST then
    if #t == 0 then return "(no packets)" end
    local lines = {}
    for i, p in ipairs(t) do
      if i > MAX_ITEMS then lines[#lines + 1] = format("... (%d more)", #t - MAX_ITEMS) break end
      lines[#lines + 1] = packet_line(p)
    end
    return concat(lines, "\n" .. indent)
  end
  if getmetatable(t) == PACKET then
    if depth == 0 then return packet_detail(t) end
    return packet_line(t)
  end
  if is_proxy(t) then t = flow_summary(t) end
  if depth > MAX_DEPTH then return "{...}" end
  local mt = getmetatable(t)
  if mt ~= nil then
    local ok, s = pcall(tostring, t)
    if ok and type(s) == "string" and not s:match("^table: ") then return s end
  end
  local keys, n = {}, 0
  for k in pairs(t) do n = n + 1; keys[n] = k end
  if n == 0 then return "{}" end
  sort(keys, key_less)
  local arraylike = true
  for i = 1, n do if keys[i] ~= i then arraylike = false break end end
  seen[t] = true
  local parts = {}
  for i, k in ipairs(keys) do
    if i > MAX_ITEMS then parts[#parts + 1] = format("... (%d more)", n - MAX_ITEMS) break end
    local v = fmt(t[k], indent .. "  ", seen, depth + 1)
    if arraylike then
      parts[#parts + 1] = v
    elseif is_ident(k) then
      parts[#parts + 1] = k .. " = " .. v
    else
      parts[#parts + 1] = "[" .. fmt(k, indent .. "  ", seen, depth + 1) .. "] = " .. v
    end
  end
  seen[t] = nil
  local one = "{ " .. concat(parts, ", ") .. " }"
  if #one + #indent <= WIDTH and not one:find("\n", 1, true) then return one end
  return "{\n" .. indent .. "  " .. concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
end

function fmt(x, indent, seen, depth)
  local tx = type(x)
  if tx == "string" then return fmt_string(x, depth > 0 and 400 or nil) end
  if tx == "number" then return fmt_number(x) end
  if tx == "table" then
    if x == engine.config then x = engine.config() end -- an empty read-only proxy: its copy
    return fmt_table(x, indent or "", seen or {}, depth or 0)
  end
  return tostring(x)
end

-- the text show() prints
function R.format(x) return fmt(x, "", {}, 0) end

local function show(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = R.format((select(i, ...))) end
  if n > 0 then say(concat(parts, "\t")) end
end

-- ---- evaluation ------------------------------------------------------------------

local function msgh(e)
  if type(e) ~= "string" then
    local mt = getmetatable(e)
    if mt and mt.__tostring then return tostring(e) end
    return format("(error object is a %s value)", type(e))
  end
  return e
end

local function incomplete(err)
  return type(err) == "string" and err:sub(-7) == "'<eof>'"
end

local function report(...)
  local ok = ...
  if not ok then
    out:flush()
    io.stderr:write(tostring((select(2, ...))), "\n")
    return
  end
  if select("#", ...) > 1 then show(select(2, ...)) end
end

-- Compile "return <chunk>", else "<chunk>"; "more" when the chunk is
-- incomplete (the syntax error is at '<eof>'); otherwise run and print.
function R.eval(chunk)
  local f, rerr = loadstring("return " .. chunk, "=stdin")
  if not f then
    local err
    f, err = loadstring(chunk, "=stdin")
    if not f then
      -- "1 +" is incomplete as an expression though not as a statement
      if incomplete(err) or incomplete(rerr) then return "more" end
      out:flush()
      io.stderr:write(err, "\n")
      return "error"
    end
  end
  report(xpcall(f, msgh))
  return "done"
end

-- ---- completion --------------------------------------------------------------------

local KEYWORDS = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until",
  "while" }

-- fields of a value for completion: its keys, and those of a table __index
local function fields_of(v, out_, seen)
  seen = seen or {}
  if type(v) ~= "table" or seen[v] then return out_ end
  seen[v] = true
  if is_proxy(v) then
    for _, k in ipairs({ "uid", "proto", "orig_h", "orig_p", "resp_h", "resp_p", "service",
      "start_ts", "last_ts", "duration", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts",
      "state", "history", "vlan", "data", "ended", "set_service", "skip" }) do out_[k] = true end
    return out_
  end
  if v == engine.config then v = engine.config() end
  for k in pairs(v) do if type(k) == "string" then out_[k] = true end end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__index) == "table" then fields_of(mt.__index, out_, seen) end
  return out_
end

-- the value of a path of names and indexes: a.b, a:b, a[2], a["k"], a[2].b;
-- nil when it does not parse or a step is not a table (nothing is called)
local function resolve_path(path)
  local name, rest = path:match("^([%a_][%w_]*)(.*)$")
  if not name then return nil end
  local v = rawget(_G, name)
  while rest ~= "" do
    if type(v) ~= "table" then return nil end
    local k, r = rest:match("^[.:]([%a_][%w_]*)(.*)$")
    if not k then
      local num, r2 = rest:match("^%[%s*(%d+)%s*%](.*)$")
      if num then k, r = tonumber(num), r2
      else
        local str, r3 = rest:match("^%[%s*[\"']([^\"']*)[\"']%s*%](.*)$")
        if not str then return nil end
        k, r = str, r3
      end
    end
    local ok, x = pcall(function() return v[k] end)
    if not ok then return nil end
    v, rest = x, r
  end
  return v
end

local EVENT_ARG = { "engine%.on%(%s*[\"']([%w._]*)$", "collect%(%s*[\"']([%w._]*)$",
  "on%(%s*[\"']([%w._]*)$" }

-- candidates that replace `word`, the text before the cursor being `line`
function R.complete(line, word)
  local cands = {}
  -- event names inside the first string argument of engine.on( / collect(
  for _, pat in ipairs(EVENT_ARG) do
    local part = line:match(pat)
    if part then
      for name in pairs(catalogue) do
        if name:sub(1, #part) == part then cands[#cands + 1] = word:sub(1, #word - #part) .. name end
      end
      sort(cands)
      return cands
    end
  end
  -- table fields: a.b.c<partial>, a:m<partial>, a[2].<partial>, a["k"].<partial>
  local prefix, sep, partial = word:match("^([%a_][%w_.%[%]\"']*)([.:])([%w_]*)$")
  if prefix and (prefix:find("%.$") or prefix:find(":")) then prefix = nil end
  if not prefix and word:find("[", 1, true) then
    -- "t[ab": complete what follows the last "[" on its own
    local head, tail = word:match("^(.*%[)([^%[]*)$")
    if head and not tail:find("[%]\"']") then
      local sub_c = R.complete(line, tail)
      for i, c in ipairs(sub_c) do sub_c[i] = head .. c end
      return sub_c
    end
  end
  if prefix then
    local v = resolve_path(prefix)
    local ok, keys = pcall(fields_of, v, {})
    if ok then
      for k in pairs(keys) do
        if k:sub(1, #partial) == partial and is_ident(k) and k:sub(1, 1) ~= "_" or
          (k:sub(1, #partial) == partial and partial:sub(1, 1) == "_") then
          local ok2, fv = pcall(function() return v[k] end)
          if sep == "." or (ok2 and type(fv) == "function") then
            cands[#cands + 1] = prefix .. sep .. k
          end
        end
      end
    end
    sort(cands)
    return cands
  end
  -- globals and keywords
  if word:match("^[%a_]?[%w_]*$") then
    local seen = {}
    for k in pairs(fields_of(_G, {})) do
      if k:sub(1, #word) == word and is_ident(k) then seen[k] = true end
    end
    for _, k in ipairs(KEYWORDS) do if k:sub(1, #word) == word then seen[k] = true end end
    for k in pairs(seen) do cands[#cands + 1] = k end
    sort(cands)
  end
  return cands
end

-- ---- flow tracking ---------------------------------------------------------------------

local T -- { flows = uid -> rec, order = {rec...}, untracked, stream_total, eof }

local function reset_tracking()
  T = { flows = {}, order = {}, untracked = 0, stream_total = 0, eof = false,
    packets = {}, npackets = 0, packets_untracked = 0, packet_bytes = 0,
    cur_events = {}, -- names of the events fired while the next packet is processed
    last = nil,      -- the record of the last packet read
    watch = nil }    -- function(rec) called for each packet read (step, go)
end
reset_tracking()

function flow_summary(p)
  return {
    uid = p.uid, proto = p.proto, orig_h = p.orig_h, orig_p = p.orig_p, resp_h = p.resp_h,
    resp_p = p.resp_p, service = p.service, state = p.state, history = p.history,
    start_ts = p.start_ts, duration = p.duration, orig_bytes = p.orig_bytes,
    resp_bytes = p.resp_bytes, orig_pkts = p.orig_pkts, resp_pkts = p.resp_pkts,
    missed_bytes = p.missed_bytes, vlan = p.vlan, ended = p.ended,
  }
end

local function new_stream() return { parts = {}, len = 0, seen = 0, next = 0, gaps = 0 } end

local function on_start(flow)
  if #T.order >= MAX_FLOWS then T.untracked = T.untracked + 1 return end
  local rec = { proxy = flow, uid = flow.uid, events = {}, more = 0,
    streams = { orig = new_stream(), resp = new_stream() } }
  T.flows[rec.uid] = rec
  T.order[#T.order + 1] = rec
end

local function cut(v)
  local tv = type(v)
  if tv == "string" then
    if #v > MAX_FIELD_BYTES then return sub(v, 1, MAX_FIELD_BYTES) .. format("...(%d bytes)", #v) end
    return v
  elseif tv == "table" then
    local t, n = {}, 0
    for k, x in pairs(v) do
      n = n + 1
      if n > 50 then t["..."] = "more" break end
      t[k] = cut(x)
    end
    return t
  end
  return v
end

local function logger(name)
  local fl = catalogue[name]
  return function(flow, ev)
    T.cur_events[name] = true
    if flow == nil then return end
    local rec = T.flows[flow.uid]
    if not rec then return end
    local evs = rec.events
    if #evs >= MAX_FLOW_EVENTS then rec.more = rec.more + 1 return end
    local t = { event = name, ts = engine.now(), packet = T.npackets + 1 }
    for _, f in ipairs(fl) do
      local v = ev[f]
      if v ~= nil and t[f] == nil then t[f] = cut(v) end
    end
    evs[#evs + 1] = t
  end
end

local function on_data(flow, ev)
  local rec = T.flows[flow.uid]
  if not rec then return end
  local s = rec.streams[ev.dir]
  if not s then return end
  local off = ev.offset or s.next
  local dv = ev.data -- converted once
  local len = #dv
  if off > s.next then s.gaps = s.gaps + 1 end
  if off + len > s.seen then s.seen = off + len end
  if off + len > s.next then s.next = off + len end
  local room = min(MAX_STREAM - s.len, MAX_STREAM_TOTAL - T.stream_total)
  if room <= 0 then s.truncated = true return end
  if len > room then dv = sub(dv, 1, room); s.truncated = true end
  s.parts[#s.parts + 1] = dv
  s.len = s.len + #dv
  T.stream_total = T.stream_total + #dv
end

local BULKY = { ["tcp.data"] = true, ["file.data"] = true, ["mime.data"] = true,
  ["http.body"] = true, packet = true }
local ENGINE_LEVEL = { ["engine.init"] = true, ["engine.done"] = true, ["engine.tick"] = true }

local PACKET_FIELDS = { "number", "ts", "caplen", "len", "layers", "src", "dst", "proto",
  "sport", "dport", "flags", "payload", "vlan", "uid", "service" }

local function on_packet(flow, ev)
  local rec = { events = T.cur_events }
  T.cur_events = {}
  for _, f in ipairs(PACKET_FIELDS) do rec[f] = ev[f] end
  T.npackets = rec.number
  if T.packet_bytes + rec.caplen <= MAX_PACKET_BYTES then
    rec.data = ev.data
    T.packet_bytes = T.packet_bytes + #rec.data
  end
  setmetatable(rec, PACKET)
  if #T.packets < MAX_PACKETS then T.packets[#T.packets + 1] = rec
  else T.packets_untracked = T.packets_untracked + 1 end
  T.last = rec
  if T.watch then T.watch(rec) end
end

local function track()
  engine.on("flow.start", on_start)
  engine.on("tcp.data", on_data)
  engine.on("packet", on_packet)
  local names = {}
  for name in pairs(catalogue) do
    if not BULKY[name] and not ENGINE_LEVEL[name] then names[#names + 1] = name end
  end
  sort(names)
  -- flow.start first so that its own record is logged
  for _, name in ipairs(names) do engine.on(name, logger(name)) end
end

local function find(x)
  if type(x) == "number" then return T.order[x] end
  if is_proxy(x) then x = x.uid end
  if type(x) == "table" then x = x.uid end
  if type(x) ~= "string" then return nil end
  local rec = T.flows[x]
  if rec then return rec end
  local hit -- a unique prefix will do
  for _, r in ipairs(T.order) do
    if r.uid:sub(1, #x) == x then
      if hit then return nil end
      hit = r
    end
  end
  return hit
end

-- ---- stepping ----------------------------------------------------------------------------

local function status(fed, state, msg, total)
  local line = format("-- %d packet%s read (%d in all)", fed, fed == 1 and "" or "s", total)
  if state == "eof" then
    line = line .. "; end of capture: flows ended, engine.done ran (rewind() to start again)"
  elseif state == "cut" then
    line = line .. "; warning: " .. tostring(msg) .. "; flows ended, engine.done ran"
  elseif state == "error" then
    line = line .. "; error: " .. tostring(msg)
  elseif state == "interrupted" then
    line = line .. "; interrupted"
  end
  say(line)
end

local function do_step(n)
  local fed, state, msg, total = C.step(n)
  if state == "nocapture" then error(msg, 3) end
  if state ~= "more" and state ~= "interrupted" and state ~= "stopped" then
    if T.eof and fed == 0 then
      say("-- end of capture (rewind() to start again)")
      return fed, state
    end
    T.eof = true
  end
  status(fed, state, msg, total)
  return fed, state
end

-- ---- packets: summaries, detail, filters ------------------------------------------------

local function addr_port(a, p)
  if a == nil then return "-" end
  if a:find(":", 1, true) then a = "[" .. a .. "]" end
  if p ~= nil then return a .. ":" .. p end
  return a
end

-- "  12  1795434438.216904  127.0.0.1:8080 -> 127.0.0.1:41048  tcp [PA]  len 107 cap 107
--  payload 41  CFAguIEMUD8keCX9J6 http"
function packet_line(p)
  local l = format("%4d  %.6f  ", p.number, p.ts)
  if p.src then
    l = l .. addr_port(p.src, p.sport) .. " -> " .. addr_port(p.dst, p.dport) .. "  "
  end
  l = l .. (p.proto or p.layers)
  if p.flags then l = l .. " [" .. p.flags .. "]" end
  l = l .. format("  len %d cap %d", p.len, p.caplen)
  if p.payload then l = l .. format(" payload %d", p.payload) end
  l = l .. "  " .. (p.uid or "-") .. " " .. (p.service or "-")
  return l
end

local function hex_dump(data)
  local lines = {}
  for off = 0, #data - 1, 16 do
    local chunk = sub(data, off + 1, off + 16)
    local hx = {}
    for i = 1, #chunk do hx[i] = format("%02x", byte(chunk, i)) end
    local asc = chunk:gsub("[^\32-\126]", ".")
    lines[#lines + 1] = format("%04x  %-47s  %s", off, concat(hx, " "), asc)
  end
  return lines
end

-- the layers of a frame, read from its bytes for display (every read is
-- bounds-checked: a short frame stops the description)
local function u8(d, i) return byte(d, i) end
local function u16(d, i) local a, b = byte(d, i, i + 1); return b and a * 256 + b end
local function u32(d, i)
  local a, b, c, x = byte(d, i, i + 3)
  return x and ((a * 256 + b) * 256 + c) * 256 + x
end
local function mac(d, i)
  if #d < i + 5 then return "?" end
  local t = {}
  for k = 0, 5 do t[#t + 1] = format("%02x", byte(d, i + k)) end
  return concat(t, ":")
end

local function describe_layers(p)
  local d, out = p.data, {}
  if not d then return { "(frame bytes not kept: more than " .. MAX_PACKET_BYTES .. " bytes of frames)" } end
  local link = p.layers:match("^[^:]+")
  local i -- offset (1-based) of the IP header
  if link == "eth" and #d >= 14 then
    local et = u16(d, 13)
    i = 15
    out[#out + 1] = format("Ethernet  dst %s  src %s  type 0x%04x", mac(d, 1), mac(d, 7), et)
    while (et == 0x8100 or et == 0x88a8) and #d >= i + 3 do
      out[#out + 1] = format("802.1Q  vlan %d  type 0x%04x", u16(d, i) % 4096, u16(d, i + 2))
      et = u16(d, i + 2)
      i = i + 4
    end
    if et ~= 0x0800 and et ~= 0x86dd then i = nil end
  elseif link == "sll" and #d >= 16 then
    out[#out + 1] = format("Linux cooked  type 0x%04x", u16(d, 15)); i = 17
  elseif link == "sll2" and #d >= 20 then
    out[#out + 1] = format("Linux cooked v2  type 0x%04x", u16(d, 1)); i = 21
  elseif link == "raw" or link == "ipv4" or link == "ipv6" then
    i = 1
  elseif link == "null" or link == "loop" then
    out[#out + 1] = "BSD loopback"; i = 5
  else
    out[#out + 1] = p.layers
  end
  local l4, proto
  if i and #d >= i and floor(u8(d, i) / 16) == 4 and #d >= i + 19 then
    local ihl = (u8(d, i) % 16) * 4
    local fo = u16(d, i + 6)
    proto = u8(d, i + 9)
    out[#out + 1] = format("IPv4  %s -> %s  hlen %d  len %d  id 0x%04x  ttl %d  proto %d%s%s",
      p.src or "?", p.dst or "?", ihl, u16(d, i + 2), u16(d, i + 4), u8(d, i + 8), proto,
      floor(fo / 16384) % 2 == 1 and "  DF" or "", (fo % 8192 ~= 0 or floor(fo / 8192) % 2 == 1)
      and format("  fragment offset %d%s", (fo % 8192) * 8, floor(fo / 8192) % 2 == 1 and " MF" or "")
      or "")
    if fo % 8192 == 0 then l4 = i + ihl end
  elseif i and #d >= i + 39 and floor(u8(d, i) / 16) == 6 then
    proto = u8(d, i + 6)
    out[#out + 1] = format("IPv6  %s -> %s  payload length %d  next header %d  hop limit %d",
      p.src or "?", p.dst or "?", u16(d, i + 4), proto, u8(d, i + 7))
    l4 = i + 40
    if p.proto ~= "tcp" and p.proto ~= "udp" then l4 = nil end -- extension headers: not shown
    proto = p.proto == "tcp" and 6 or p.proto == "udp" and 17 or proto
  end
  if l4 and proto == 6 and #d >= l4 + 19 then
    out[#out + 1] = format("TCP  %d -> %d  seq %d  ack %d  hlen %d  flags [%s]  win %d  payload %d",
      u16(d, l4), u16(d, l4 + 2), u32(d, l4 + 4), u32(d, l4 + 8), floor(u8(d, l4 + 12) / 16) * 4,
      p.flags or "", u16(d, l4 + 14), p.payload or 0)
  elseif l4 and proto == 17 and #d >= l4 + 7 then
    out[#out + 1] = format("UDP  %d -> %d  length %d", u16(d, l4), u16(d, l4 + 2), u16(d, l4 + 4))
  elseif p.proto and p.proto ~= "tcp" and p.proto ~= "udp" then
    out[#out + 1] = format("%s  payload %d", p.proto:upper(), p.payload or 0)
  end
  if p.uid then
    out[#out + 1] = format("flow %s  service %s", p.uid, p.service or "-")
  end
  local evs = {}
  for name in pairs(p.events or {}) do evs[#evs + 1] = name end
  if #evs > 0 then sort(evs); out[#out + 1] = "events  " .. concat(evs, " ") end
  return out
end

function packet_detail(p)
  local lines = { format("packet %d  %.6f  %d bytes on the wire, %d captured  %s", p.number, p.ts,
    p.len, p.caplen, p.layers) }
  for _, l in ipairs(describe_layers(p)) do lines[#lines + 1] = "  " .. l end
  if p.data then for _, l in ipairs(hex_dump(p.data)) do lines[#lines + 1] = l end end
  return concat(lines, "\n")
end

local function has_item(list, x) -- "smtp,ssl" has "ssl"
  if list == nil then return false end
  for w in list:gmatch("[^,]+") do if w == x then return true end end
  return false
end

-- a packet filter: nil (every packet), a function of the record, a table of
-- fields ({ uid = "C...", service = "http", event = "http.request", proto = "udp",
-- src = ..., sport = ..., flags = ... }: uid may be a prefix, service one of the
-- flow's services, event one fired while the packet was processed), or a
-- string: an event name, else a uid (prefix) of a known flow, else a service
local function packet_filter(filter, fname, level)
  if filter == nil then return function() return true end end
  if type(filter) == "function" then return filter end
  if type(filter) == "string" then
    if catalogue[filter] then filter = { event = filter }
    elseif filter:match("^C[%w]+$") and find(filter) then filter = { uid = find(filter).uid }
    else filter = { service = filter } end
  end
  if type(filter) ~= "table" then
    error(fname .. ": filter must be a function, a table of fields or a string", level + 1)
  end
  if filter.event and not catalogue[filter.event] then
    error(fname .. ": unknown event " .. tostring(filter.event), level + 1)
  end
  return function(p)
    for k, v in pairs(filter) do
      if k == "uid" then
        if not p.uid or p.uid:sub(1, #v) ~= v then return false end
      elseif k == "service" then
        if not has_item(p.service, v) then return false end
      elseif k == "event" then
        if not (p.events and p.events[v]) then return false end
      elseif p[k] ~= v then
        return false
      end
    end
    return true
  end
end

local function packets(filter)
  local match = packet_filter(filter, "packets(filter)", 2)
  local list = setmetatable({}, PACKETLIST)
  for _, p in ipairs(T.packets) do if match(p) then list[#list + 1] = p end end
  if T.packets_untracked > 0 then
    say(format("-- %d later packets were not kept (more than %d)", T.packets_untracked, MAX_PACKETS))
  end
  return list
end

local function packet(n)
  if n == nil then return T.last end
  if type(n) ~= "number" then error("packet(n): n must be a packet number", 2) end
  local p = T.packets[n]
  if p and p.number == n then return p end
  error(format("packet(n): packet %d was not read%s", n,
    n > T.npackets and " yet (go(n) reads up to it)" or ""), 2)
end

local function run() do_step(-1) end

-- read packets, printing the summary of each one that matches the filter,
-- until n of them were printed (or the end, or Ctrl-C)
local function step(n, filter)
  if n == nil then n = 1 end
  if type(n) ~= "number" or n < 0 then error("step(n): n must be a number >= 0", 2) end
  n = floor(n)
  local match = packet_filter(filter, "step(n, filter)", 2)
  local shown, more = 0, 0
  T.watch = function(p)
    if not match(p) then return end
    shown = shown + 1
    if shown <= MAX_STEP_LINES then say(packet_line(p)) else more = more + 1 end
    if shown >= n then C.stop() end
  end
  local ok, err = pcall(do_step, filter == nil and n or -1)
  T.watch = nil
  if more > 0 then say(format("-- %d more summaries not printed", more)) end
  if not ok then error(err, 2) end
end

-- go(n): packet n becomes the last one read (reading on, or rewinding first
-- when it was already passed); go{ time = T }: the first packet at or after
-- T (epoch seconds, or seconds from the first packet when T < 1e9)
local go_first_ts -- the first packet's time in this pass
local function go(x)
  local want_n, want_t
  if type(x) == "number" then want_n = floor(x)
  elseif type(x) == "table" and type(x.time) == "number" then want_t = x.time
  else error("go(n) or go{ time = T }", 2) end
  if want_n and want_n < 1 then error("go(n): n must be >= 1", 2) end
  local function passed()
    if not T.last then return false end
    if want_n then return T.last.number >= want_n end
    local t = want_t < 1e9 and (go_first_ts or T.packets[1] and T.packets[1].ts or 0) + want_t or want_t
    return T.last.ts >= t and (T.packets[T.last.number - 1] == nil or T.packets[T.last.number - 1].ts < t)
  end
  if passed() and not (want_n and T.last.number == want_n) then
    local ok, err = C.rewind()
    reset_tracking()
    if not ok then error(err, 2) end
    say("-- rewound")
  elseif passed() then
    say(packet_line(T.last))
    return
  end
  local first
  T.watch = function(p)
    first = first or p.ts
    if want_n and p.number >= want_n then C.stop() end
    if want_t then
      local t = want_t < 1e9 and first + want_t or want_t
      if p.ts >= t then C.stop() end
    end
  end
  local ok, err = pcall(do_step, -1)
  T.watch = nil
  if not ok then error(err, 2) end
  if T.last then say(packet_line(T.last)) end
end

local function rewind()
  local ok, err = C.rewind()
  reset_tracking()
  if not ok then error(err, 2) end
  say("-- rewound: the next step() or run() starts again from the first packet")
end

-- ---- inspecting ------------------------------------------------------------------------------

local function matches(s, filter)
  if filter == nil then return true end
  if type(filter) == "function" then return filter(s) end
  for k, v in pairs(filter) do
    if s[k] ~= v then return false end
  end
  return true
end

local function flows(filter)
  if filter ~= nil and type(filter) ~= "function" and type(filter) ~= "table" then
    error("flows(filter): filter must be a function or a table of fields to match", 2)
  end
  local list = setmetatable({}, FLOWLIST)
  for _, rec in ipairs(T.order) do
    local s = flow_summary(rec.proxy)
    if matches(s, filter) then list[#list + 1] = s end
  end
  if T.untracked > 0 then
    say(format("-- %d later flows were not tracked (more than %d)", T.untracked, MAX_FLOWS))
  end
  return list
end

local function flow(x)
  local rec = find(x)
  if not rec then error("flow(uid): no such flow: " .. tostring(x), 2) end
  local s = flow_summary(rec.proxy)
  s.events = rec.events
  if rec.more > 0 then s.events_not_kept = rec.more end
  s.stream_bytes = { orig = rec.streams.orig.len, resp = rec.streams.resp.len }
  return s
end

local function stream(x, dir)
  dir = dir or "orig"
  if dir ~= "orig" and dir ~= "resp" then error('stream(uid, dir): dir is "orig" or "resp"', 2) end
  local rec = find(x)
  if not rec then error("stream(uid, dir): no such flow: " .. tostring(x), 2) end
  local s = rec.streams[dir]
  local data = concat(s.parts)
  s.parts = { data }
  local notes = {}
  if s.truncated then
    notes[#notes + 1] = format("truncated: first %d of %d bytes kept", s.len, s.seen)
  end
  if s.gaps > 0 then notes[#notes + 1] = format("%d gap(s) left out", s.gaps) end
  if #notes > 0 then return data, concat(notes, "; ") end
  return data
end

local function collect(name, n)
  if type(name) ~= "string" then error("collect(name, n): name must be an event name", 2) end
  if not catalogue[name] then
    local ok, err = pcall(engine.on, name, function() end)
    if ok then engine.off(err) end
    error(ok and ("unknown event " .. name) or err, 2)
  end
  if n == nil then n = MAX_COLLECT end
  if type(n) ~= "number" or n < 1 then error("collect(name, n): n must be a number >= 1", 2) end
  local fl, res = catalogue[name], {}
  local id = engine.on(name, function(fw, ev)
    if #res >= n then return end
    local t = {}
    for _, f in ipairs(fl) do t[f] = ev[f] end
    if fw ~= nil and t.uid == nil then t.uid = fw.uid end
    if t.ts == nil then t.ts = engine.now() end
    res[#res + 1] = t
    if #res >= n then C.stop() end
  end)
  local ok, err = pcall(do_step, -1)
  engine.off(id)
  if not ok then error(err, 2) end
  return res
end

-- ---- scripts ---------------------------------------------------------------------------------

local scripts = {} -- { path, ids = {...}, mods = {...} } in load order
local function noop() end
local function next_id() -- handler ids are a counter: the one a new handler would get
  local id = engine.on("engine.init", noop)
  engine.off(id)
  return id
end

local function load_into(rec)
  local loaded = {}
  for k in pairs(package.loaded) do loaded[k] = true end
  local first = next_id() + 1
  local f, err = loadfile(rec.path)
  local ok = f ~= nil
  if ok then ok, err = pcall(f) end
  local last = next_id() - 1
  rec.ids = {}
  for id = first, last do rec.ids[#rec.ids + 1] = id end
  rec.mods = {}
  for k in pairs(package.loaded) do if not loaded[k] then rec.mods[#rec.mods + 1] = k end end
  if not ok then error(err, 0) end
end

function R.load_script(path)
  local rec = { path = path }
  scripts[#scripts + 1] = rec
  load_into(rec)
end

local function reload()
  if #scripts == 0 then say("-- no scripts were given with -s") return end
  for _, rec in ipairs(scripts) do
    local n = 0
    for _, id in ipairs(rec.ids) do if engine.off(id) then n = n + 1 end end
    for _, m in ipairs(rec.mods) do package.loaded[m] = nil end
    local ok, err = pcall(load_into, rec)
    if not ok then error(err, 0) end
    say(format("-- reloaded %s: %d handler%s dropped, %d registered", rec.path, n,
      n == 1 and "" or "s", #rec.ids))
  end
end

-- ---- help ------------------------------------------------------------------------------------

local HELP = [[
run()              process the rest of the capture with the handlers now registered
step(n)            process the next n packets (default 1)
rewind()           end the current pass (flows end, engine.done runs), start again
                   from the first packet: fresh flows, same handlers
flows(filter)      flows seen so far; filter: function(f) or { service = "http", ... }
flow(uid)          one flow with its events so far (uid, unique uid prefix, or index)
collect(name, n)   run until n events `name` (default ]] .. MAX_COLLECT .. [[) were seen; plain tables
stream(uid, dir)   reassembled bytes of a flow direction ("orig"/"resp"), at most ]] ..
  format("%d KiB", MAX_STREAM / 1024) .. [[

show(x)            pretty-print any value
reload()           reload the -s scripts (their handlers are replaced)
help()             this text
Expressions print their value; a chunk that is not complete asks for more
lines. Tab completes globals, fields (after . or :) and event names in
engine.on("...  Ctrl-C stops run()/step() or code at the prompt; Ctrl-D leaves.]]

local function help() say(HELP) end

-- ---- set-up ----------------------------------------------------------------------------------

function R.init(cfg)
  C = cfg
  track()
  _G.run, _G.step, _G.rewind = run, step, rewind
  _G.flows, _G.flow, _G.collect, _G.stream = flows, flow, collect, stream
  _G.show, _G.reload, _G.help = show, reload, help
  _G.packets, _G.packet, _G.go = packets, packet, go
end

return R
