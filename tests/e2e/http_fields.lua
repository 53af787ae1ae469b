-- http_fields.lua: print the HTTP requests and responses the engine decodes, one line each,
-- with the flow's 5-tuple, for tests/e2e/test_http_tshark.sh.
--
--   engine -q -r F -s tests/e2e/http_fields.lua [--set test.out=FILE] [--set test.force=1]
--
-- Lines (tab-separated; bytes outside printable ASCII and "\" written as \xNN):
--   Q <uid> <orig_h> <orig_p> <resp_h> <resp_p> <method> <uri> <host> <user_agent>
--   R <uid> <orig_h> <orig_p> <resp_h> <resp_p> <status>
--   H <uid> <orig_h> <orig_p> <resp_h> <resp_p> <sha256> <size> <missing_bytes>   (file.done)
-- (the flow uid tells apart connections that reuse a 5-tuple)
-- A missing host or user agent is written as an empty field.  test.force=1 sets the
-- service of TCP flows to port 80, 8080 and 8081 to "http" at flow.start (content detection
-- may not see a request line split in 1-byte segments).
local engine = require "engine"

engine.config_key("test.out", nil, "test harness: where the fields are written")
engine.config_key("test.force", nil, "test harness: write even without tshark")
local path = engine.config["test.out"]
local out = path and assert(io.open(path, "w")) or io.stdout
local force = tostring(engine.config["test.force"]) == "1"

local function esc(s)
  if s == nil then return "" end
  s = tostring(s)
  return (s:gsub("[^\32-\91\93-\126]", function(c) return string.format("\\x%02x", c:byte()) end))
end

local function tuple(flow)
  return string.format("%s\t%s\t%d\t%s\t%d", flow.uid, flow.orig_h, flow.orig_p, flow.resp_h, flow.resp_p)
end

if force then
  engine.on("flow.start", function(flow)
    local p = flow.resp_p
    if flow.proto == "tcp" and (p == 80 or p == 8080 or p == 8081) then flow:set_service("http") end
  end)
end

engine.on("http.request", function(flow, ev)
  out:write("Q\t", tuple(flow), "\t", esc(ev.method), "\t", esc(ev.uri), "\t", esc(ev.host), "\t",
    esc(ev.user_agent), "\n")
end)

engine.on("http.response", function(flow, ev)
  out:write("R\t", tuple(flow), "\t", tostring(ev.status), "\n")
end)

engine.on("file.done", function(flow, ev)
  if flow then
    out:write("H\t", tuple(flow), "\t", tostring(ev.sha256), "\t",
      tostring(ev.size), "\t", tostring(ev.missing_bytes), "\n")
  end
end)

engine.on("engine.done", function()
  if out ~= io.stdout then out:close() else out:flush() end
end)
