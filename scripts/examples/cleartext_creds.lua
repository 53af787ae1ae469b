-- examples/cleartext_creds.lua - alert on credentials sent in clear text, over
-- any protocol the engine decodes: SMTP AUTH, POP3 USER/PASS and AUTH, IMAP
-- LOGIN/AUTHENTICATE, HTTP Basic authentication (and FTP USER/PASS where the
-- catalogue has ftp.auth). Only exchanges that reveal the password count:
-- challenge-response mechanisms (CRAM-MD5, APOP, ...) show the user name but
-- not the password, and are not reported. One alert per (flow, user,
-- mechanism); the password itself is never logged.
--
--   engine -r pcaps/smtp-python.pcap -s scripts/examples/cleartext_creds.lua
local engine = require "engine"

local function report(flow, proto, mechanism, user, success)
  local seen = flow.data.cleartext_creds or {}
  flow.data.cleartext_creds = seen
  local key = proto .. "\0" .. tostring(user) .. "\0" .. tostring(mechanism)
  if seen[key] then return end
  seen[key] = true
  engine.alert(flow, "cleartext credentials", {
    proto = proto,
    mechanism = mechanism,
    user = user,
    success = success,
  })
end

for _, proto in ipairs { "smtp", "pop3", "imap", "ftp" } do
  local name = proto .. ".auth"
  if engine.events()[name] then
    engine.on(name, function(flow, ev)
      local password = ev.password
      if password and password ~= "" then
        report(flow, proto, ev.mechanism, ev.user, ev.success)
      end
    end)
  end
end

-- Authorization: Basic base64(user:password)
engine.on("http.request", function(flow, ev)
  local headers = ev.headers
  local auth = headers and headers.authorization
  if not auth then return end
  local b64 = auth:match("^%s*[Bb][Aa][Ss][Ii][Cc]%s+(%S+)")
  if not b64 then return end
  local plain = engine.b64decode(b64)
  if not plain then return end
  local user = plain:match("^([^:]*):") or plain
  report(flow, "http", "Basic", user, nil)
end)
