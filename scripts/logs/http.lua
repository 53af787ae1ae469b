-- logs/http.lua - the http stream: one record per request/response pair
-- (Zeek's http.log), written when the response is complete (or, for requests
-- never answered, when the flow ends).
--
-- ts is the network time of the request; trans_depth counts the requests of
-- the flow from 1. request_body_len / response_body_len are decoded body
-- lengths (http.message_done body_len). resp_mime_types, resp_fuids and
-- resp_filenames come from the file.begin events of the response direction
-- that arrive between http.response and the response's http.message_done;
-- orig_mime_types, orig_fuids and orig_filenames likewise from request bodies
-- (file.begin with dir "orig"), as in Zeek. A response that ends before its
-- request's body (a client cut off, a server answering early) is held until
-- the request's http.message_done, so request_body_len counts what arrived.
-- An HTTP/0.9 answer is an http.response with status 0. Interim responses (1xx
-- but 101) are not logged as records: the last one before the final response
-- gives the record's info_code / info_msg (Zeek's). A response without a
-- request is logged with what it has.
--
-- From the request's headers, as Zeek: origin (Origin); proxied, the headers that
-- tell of a proxy (Forwarded, X-Forwarded-For, X-Forwarded-From, Client-IP, Via,
-- XRoxy-Connection, Proxy-Connection) as "NAME -> value" with the name upper-case;
-- username from Basic credentials in Authorization (or Proxy-Authorization): the
-- decoded text up to its first ":" (a text without ":" gives
-- "<problem-decoding> (value)"), and password, the rest, only with
-- `--set http.capture_password=true` (Zeek's HTTP::default_capture_password,
-- false by default). Other schemes give no username.
local engine = require "engine"

if engine.log_columns then
  engine.log_columns("http", {
    "trans_depth", "method", "host", "uri", "referrer", "version", "user_agent", "origin",
    "request_body_len", "response_body_len", "status_code", "status_msg",
    "info_code", "info_msg", "username", "password", "proxied",
    "resp_mime_types", "resp_fuids", "resp_filenames",
    "orig_mime_types", "orig_fuids", "orig_filenames",
  })
  engine.log_types("http", { resp_mime_types = "vector[string]", resp_fuids = "vector[string]",
    resp_filenames = "vector[string]", orig_mime_types = "vector[string]",
    orig_fuids = "vector[string]", orig_filenames = "vector[string]", trans_depth = "count",
    request_body_len = "count", response_body_len = "count", status_code = "count",
    tags = "set[string]", info_code = "count", proxied = "set[string]" })
end

-- per flow: { depth = n, pending = {records awaiting a response}, head/tail =
--             indexes of the oldest / newest, req = record whose body is being
--             read, resp = record whose response is being read }
local function state(flow)
  local s = flow.data.http
  if not s then
    s = { depth = 0, pending = {}, head = 1, tail = 0 }
    flow.data.http = s
  end
  return s
end

local capture_password
local function passwords()
  if capture_password == nil then
    local v = engine.config and engine.config["http.capture_password"]
    capture_password = v == true or v == "true" or v == 1 or v == "1" or v == "yes"
  end
  return capture_password
end

local PROXY = { "forwarded", "x-forwarded-for", "x-forwarded-from", "client-ip", "via",
                "xroxy-connection", "proxy-connection" }

local function credentials(r, h)
  local v = h.authorization or h["proxy-authorization"]
  if not v then return end
  local b = v:match("^[Bb][Aa][Ss][Ii][Cc]%s+(%S+)")
  if not b then return end
  local ok, up = pcall(engine.b64decode, b)
  if not ok or not up then up = "" end
  local user, pass = up:match("^([^:]*):(.*)$")
  if user then
    r.username = user
    if passwords() then r.password = pass end
  else
    r.username = "<problem-decoding> (" .. v .. ")"
    if passwords() then r.password = up end
  end
end

local function request_headers(r, h)
  if not h then return end
  r.origin = h.origin
  credentials(r, h)
  for _, n in ipairs(PROXY) do
    local v = h[n]
    if v then
      r.proxied = r.proxied or {}
      r.proxied[#r.proxied + 1] = n:upper() .. " -> " .. v
    end
  end
end

local function interim(status)
  return status and status >= 100 and status < 200 and status ~= 101
end

engine.on("http.request", function(flow, ev)
  local s = state(flow)
  s.depth = s.depth + 1
  local r = {
    ts = engine.now(),
    trans_depth = s.depth,
    method = ev.method,
    host = ev.host,
    uri = ev.uri,
    referrer = ev.referrer, -- the headers map's "referer", without converting the map
    version = ev.version,
    user_agent = ev.user_agent,
    request_body_len = 0,
    response_body_len = 0,
  }
  request_headers(r, ev.headers)
  s.tail = s.tail + 1
  s.pending[s.tail] = r
  s.req = r
end)

engine.on("http.response", function(flow, ev)
  local status = ev.status
  local s = state(flow)
  if interim(status) then
    local r = s.pending[s.head]
    if r and s.head <= s.tail then
      r.info_code = status
      r.info_msg = ev.reason
    end
    return
  end
  local r
  if s.head <= s.tail then
    r = s.pending[s.head]
    s.pending[s.head] = nil
    s.head = s.head + 1
    if s.head > s.tail then s.head, s.tail = 1, 0 end
  else
    s.depth = s.depth + 1
    r = { ts = engine.now(), trans_depth = s.depth, request_body_len = 0 }
  end
  r.status_code = status
  r.status_msg = ev.reason
  r.version = r.version or ev.version
  r.response_body_len = 0
  s.resp = r
end)

local function append(r, key, v)
  if v == nil then return end
  local t = r[key]
  if not t then
    t = {}
    r[key] = t
  end
  t[#t + 1] = v
end

engine.on("file.begin", function(flow, ev)
  if not flow or ev.source ~= "http" then return end
  local s = flow.data.http
  if not s then return end
  local orig = ev.dir == "orig"
  local r
  if orig then r = s.req else r = s.resp end
  if not r then return end
  local side = orig and "orig_" or "resp_"
  append(r, side .. "fuids", ev.fuid)
  append(r, side .. "mime_types", ev.mime_type)
  append(r, side .. "filenames", ev.filename)
end)

engine.on("http.message_done", function(flow, ev)
  local s = flow.data.http
  if not s then return end
  if ev.dir == "orig" then
    local q = s.req
    if q then
      q.request_body_len = ev.body_len
      s.req = nil
      -- answered before its body ended (a client that stopped sending): logged now
      if s.held == q then
        s.held = nil
        engine.log_flow("http", flow, q)
      end
    end
    return
  end
  if interim(ev.status) then return end
  local r = s.resp
  if not r then return end
  s.resp = nil
  r.response_body_len = ev.body_len
  -- the request's body is still arriving: request_body_len is known at its end
  if r == s.req then
    s.held = r
    return
  end
  engine.log_flow("http", flow, r)
end)

-- requests never answered (and a response cut by the end of the flow)
engine.on("flow.end", function(flow)
  local s = flow.data.http
  if not s then return end
  if s.resp then
    engine.log_flow("http", flow, s.resp)
    s.resp = nil
  end
  if s.held then
    engine.log_flow("http", flow, s.held)
    s.held = nil
  end
  for i = s.head, s.tail do
    local r = s.pending[i]
    if r ~= s.resp then engine.log_flow("http", flow, r) end
  end
  s.pending, s.head, s.tail = {}, 1, 0
end)
