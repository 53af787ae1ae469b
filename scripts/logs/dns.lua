-- logs/dns.lua - the dns stream: one record per query with its answer (Zeek's
-- dns.log, ../shared/spec/logs.md), from dns.query and dns.answer.
--
-- A query waits in its flow for the response with the same trans_id (and,
-- when both carry one, the same query name, case-insensitively); the record is
-- written when the response comes, with ts the query's time and rtt from the
-- event. A response whose query was not seen (yet) waits too: when the query
-- comes later (a capture where the response is first), the two make one
-- record; otherwise it is written alone at the flow's end. Queries never
-- answered are written at the flow's end, or once they are older than
-- dns.query_timeout seconds (default 10, checked when the flow has new DNS
-- events), without rcode and with rejected false.
--
-- Fields as Zeek: proto, trans_id, rtt, query, qclass_name (C_INTERNET, ...),
-- qtype_name, rcode_name, AA, TC, RD, RA, Z, answers (the data of each record
-- of the answer section, as dig prints it), TTLs (their TTLs), rejected (as Zeek:
-- a response with no record in any section, OPT included). A UDP answer with
-- TC set and the TCP retry that follows are two records (two flows).
--
-- Bounds: at most dns.max_pending (default 64) queries and as many orphan
-- responses wait per flow, and dns.max_pending_total (default 100000) in all
-- flows; beyond, the oldest is written at once, as unanswered.
local engine = require "engine"

engine.log_columns("dns", {
  "proto", "trans_id", "rtt", "query", "qclass_name", "qtype_name", "rcode_name",
  "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected",
})
engine.log_types("dns", { proto = "enum", trans_id = "count", answers = "vector[string]",
  TTLs = "vector[interval]", AA = "bool", TC = "bool", RD = "bool", RA = "bool", Z = "count",
  rejected = "bool", qclass = "count", qtype = "count", rcode = "count" })

local function cfg(key, dflt)
  local v = engine.config and tonumber(engine.config[key])
  return v or dflt
end

local MAX_FLOW = cfg("dns.max_pending", 64)
local MAX_TOTAL = cfg("dns.max_pending_total", 100000)
local TIMEOUT = cfg("dns.query_timeout", 10)

local CLASS = {
  IN = "C_INTERNET", CS = "C_CSNET", CH = "C_CHAOS", HS = "C_HESIOD", NONE = "C_NONE", ANY = "C_ANY",
}

-- A waiting item: { r = record, key = lower-case query name (or nil),
-- flow = flow, list = the flow's list it is in, or nil once written }.
-- `all` holds every waiting item of every flow, oldest first (items written
-- meanwhile are skipped, and dropped by compact()).
local all, all_head, all_tail, total = {}, 1, 0, 0

local function state(flow)
  local s = flow.data.dns
  if not s then
    s = { q = {}, a = {} } -- queries / orphan responses waiting, oldest first
    flow.data.dns = s
  end
  return s
end

local function lower(x) return x and x:lower() end

-- take item w out of its list and write its record
local function write(w)
  local l = w.list
  if not l then return end
  for i = 1, #l do
    if l[i] == w then table.remove(l, i) break end
  end
  w.list = nil
  total = total - 1
  engine.log_flow("dns", w.flow, w.r)
end

local function compact()
  if all_tail - all_head + 1 > 2 * total + 64 then -- more dead items than live ones
    local n, t = 0, {}
    for i = all_head, all_tail do
      local w = all[i]
      if w.list then n = n + 1; t[n] = w end
    end
    all, all_head, all_tail = t, 1, n
  end
end

local function wait(flow, list, r, key)
  if #list >= MAX_FLOW then write(list[1]) end
  local w = { r = r, key = key, flow = flow, list = list }
  list[#list + 1] = w
  total = total + 1
  all_tail = all_tail + 1
  all[all_tail] = w
  while total > MAX_TOTAL and all_head <= all_tail do
    local x = all[all_head]
    all[all_head] = nil
    all_head = all_head + 1
    write(x)
  end
  compact()
end

-- take the i-th item of list out (not written); its record
local function take(list, i)
  local w = table.remove(list, i)
  w.list = nil
  total = total - 1
  return w.r
end

-- queries older than the timeout
local function expire(s)
  local now = engine.now()
  while s.q[1] and now - s.q[1].r.ts > TIMEOUT do write(s.q[1]) end
end

local function fill_answer(r, ev)
  local data, ttls = {}, {}
  local an = ev.answers
  if an then
    for i = 1, #an do
      local rr = an[i]
      data[i] = rr.data
      ttls[i] = rr.ttl
    end
  end
  r.rcode_name = ev.rcode
  r.AA, r.TC, r.RA = ev.aa, ev.tc, ev.ra
  if r.RD == nil then r.RD = ev.rd end
  r.rtt = ev.rtt
  if #data > 0 then r.answers, r.TTLs = data, ttls end
  -- Zeek's rule (its dns_rejected): a response without any record in any section, the
  -- OPT record counted (an NXDOMAIN with a SOA in authority is an answer, not a rejection)
  local au, ad = ev.authority, ev.additional
  r.rejected = #data == 0 and not (au and #au > 0) and not (ad and #ad > 0) and ev.edns == nil
  r.query = r.query or ev.qname
  r.qtype_name = r.qtype_name or ev.qtype
end

engine.on("dns.query", function(flow, ev)
  local s = state(flow)
  expire(s)
  local id, key = ev.id, lower(ev.qname)
  local qclass = CLASS[ev.qclass] or ev.qclass
  -- a response seen before its query: one record, at the query's time, no rtt
  for i, w in ipairs(s.a) do
    if w.r.trans_id == id and (w.key == nil or w.key == key) then
      local r = take(s.a, i)
      r.ts = engine.now()
      r.query, r.qtype_name, r.qclass_name = ev.qname, ev.qtype, qclass
      r.RD, r.Z, r.rtt = ev.rd, ev.z, nil
      engine.log_flow("dns", flow, r)
      return
    end
  end
  wait(flow, s.q, {
    ts = engine.now(),
    proto = flow.proto,
    trans_id = id,
    query = ev.qname,
    qclass_name = qclass,
    qtype_name = ev.qtype,
    RD = ev.rd,
    Z = ev.z,
    AA = false, TC = false, RA = false,
    rejected = false,
  }, key)
end)

engine.on("dns.answer", function(flow, ev)
  local s = state(flow)
  expire(s)
  local id, key = ev.id, lower(ev.qname)
  for i, w in ipairs(s.q) do
    if w.r.trans_id == id and (key == nil or w.key == key) then
      local r = take(s.q, i)
      fill_answer(r, ev)
      engine.log_flow("dns", flow, r)
      return
    end
  end
  local r = { proto = flow.proto, trans_id = id }
  fill_answer(r, ev)
  local rtt = ev.rtt
  if rtt then
    -- its query was seen (and timed out here): written at the query's time
    r.ts = engine.now() - rtt
    engine.log_flow("dns", flow, r)
    return
  end
  r.ts = engine.now()
  wait(flow, s.a, r, key)
end)

-- (a named function, not a closure in the handler: LuaJIT does not compile
-- a return from a function that creates closures, and this handler runs at
-- every flow's end)
local function by_ts(x, y) return x.r.ts < y.r.ts end

engine.on("flow.end", function(flow)
  local s = flow.data.dns
  if not s then return end
  local rest = {}
  for _, w in ipairs(s.q) do rest[#rest + 1] = w end
  for _, w in ipairs(s.a) do rest[#rest + 1] = w end
  table.sort(rest, by_ts)
  for _, w in ipairs(rest) do write(w) end
end)
