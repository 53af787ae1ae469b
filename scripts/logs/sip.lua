-- logs/sip.lua - the sip stream: one record per SIP transaction (Zeek's sip.log): a request
-- with its final response, matched by Call-ID, CSeq (number and method) and the branch of
-- the topmost Via (RFC 3261 §17), written in the order the requests came.
--
-- A transaction's record is written once it is complete and every earlier one of the flow
-- is written: complete means a final response (>= 200) arrived, or the request is an ACK
-- (it has no response). Retransmissions of a request or of a final response (UDP) are not
-- new transactions. A transaction without a final response is written at the end of the
-- flow with its last provisional status (or none); so is a response whose request was not
-- seen (trans_depth counts it). At most MAX_PENDING transactions wait per flow: beyond,
-- the oldest is written as it is.
--
-- Columns: the logs.md ones (trans_depth, method, uri, call_id, from, to, status_code,
-- reason, user_agent) and the cheap ones of Zeek's sip.log: date, request_from /
-- request_to (the request's From / To), response_from / response_to, reply_to, seq (the
-- CSeq), subject, request_path / response_path (the Via hops, as lists), warning,
-- request_body_len / response_body_len (Content-Length) and content_type (the response's,
-- else the request's).
local engine = require "engine"

if engine.log_columns then
  engine.log_columns("sip", {
    "trans_depth", "method", "uri", "call_id", "from", "to", "status_code", "reason",
    "user_agent", "date", "request_from", "request_to", "response_from", "response_to",
    "reply_to", "seq", "subject", "request_path", "response_path", "warning",
    "request_body_len", "response_body_len", "content_type",
  })
end

local MAX_PENDING = 64
local MAX_DONE = 256

local function key(ev)
  local cseq = ev.cseq or ""
  local n, m = cseq:match("^%s*(%d+)%s+(%S+)")
  return (ev.call_id or "") .. "\0" .. (n or cseq) .. "\0" .. (m or ""):upper() .. "\0" .. (ev.branch or "")
end

local function path(v)
  if not v then return nil end
  local t = {}
  for hop in v:gmatch("[^,]+") do
    hop = hop:match("^%s*(.-)%s*$")
    if hop ~= "" then t[#t + 1] = hop end
  end
  return t
end

local function state(flow)
  local s = flow.data.sip
  if not s then
    s = { depth = 0, q = {}, head = 1, tail = 0, open = {}, done = {}, ndone = 0 }
    flow.data.sip = s
  end
  return s
end

local function remember(s, k)
  if s.ndone >= MAX_DONE then s.done, s.ndone = {}, 0 end
  if not s.done[k] then s.ndone = s.ndone + 1 end
  s.done[k] = true
end

local function write(flow, s, r)
  if s.open[r._key] == r then s.open[r._key] = nil end
  r._key, r._done = nil, nil
  engine.log_flow("sip", flow, r)
end

-- write the complete records at the head, in order (all of them when `all`)
local function flush(flow, s, all)
  while s.head <= s.tail do
    local r = s.q[s.head]
    if not (all or r._done or s.tail - s.head + 1 > MAX_PENDING) then break end
    s.q[s.head] = nil
    s.head = s.head + 1
    write(flow, s, r)
  end
  if s.head > s.tail then s.head, s.tail = 1, 0 end
end

local function push(s, r)
  s.tail = s.tail + 1
  s.q[s.tail] = r
end

local function body_len(h)
  return h and tonumber(h["content-length"]) or nil
end

engine.on("sip.request", function(flow, ev)
  local s = state(flow)
  local k = key(ev)
  if s.open[k] or s.done[k] then return end -- a retransmission
  local h = ev.headers or {}
  s.depth = s.depth + 1
  local r = {
    ts = engine.now(),
    trans_depth = s.depth,
    method = ev.method,
    uri = ev.uri,
    call_id = ev.call_id,
    from = ev.from,
    to = ev.to,
    user_agent = ev.user_agent,
    date = h.date,
    request_from = ev.from,
    request_to = ev.to,
    reply_to = h["reply-to"],
    seq = ev.cseq,
    subject = h.subject,
    request_path = path(h.via),
    request_body_len = body_len(h),
    content_type = h["content-type"],
    _key = k,
  }
  push(s, r)
  if ev.method == "ACK" then
    r._done = true
    remember(s, k)
  else
    s.open[k] = r
  end
  flush(flow, s)
end)

engine.on("sip.response", function(flow, ev)
  local s = state(flow)
  local k = key(ev)
  local final = ev.status and ev.status >= 200
  local r = s.open[k]
  if not r then
    if s.done[k] then return end -- a retransmitted final response
    s.depth = s.depth + 1
    r = { ts = engine.now(), trans_depth = s.depth, call_id = ev.call_id, from = ev.from,
          to = ev.to, seq = ev.cseq, _key = k }
    push(s, r)
    s.open[k] = r
  end
  local h = ev.headers or {}
  r.status_code = ev.status
  r.reason = ev.reason
  r.response_from = ev.from
  r.response_to = ev.to
  r.to = ev.to or r.to -- the response's To carries the tag
  r.response_path = path(h.via)
  r.warning = h.warning
  r.response_body_len = body_len(h)
  r.content_type = h["content-type"] or r.content_type
  if final then
    r._done = true
    s.open[k] = nil
    remember(s, k)
    flush(flow, s)
  end
end)

engine.on("flow.end", function(flow)
  local s = flow.data.sip
  if s then flush(flow, s, true) end
end)
