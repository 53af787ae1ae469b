-- starttls_fields.lua - for tests/e2e/test_starttls.sh: the clear-text commands of the
-- mail and FTP decoders (one "CMD<TAB>verb arg" line each; IMAP: "tag COMMAND"), the
-- flows a decoder attached to ("SVC<TAB>resp_p<TAB>name") and the weirds, in order.
local engine = require "engine"
local function line(a, b)
  if b == nil or b == "" then return a end
  return a .. " " .. b
end
engine.on("smtp.command", function(f, ev) print("CMD\t" .. line(ev.verb, ev.arg)) end)
engine.on("pop3.command", function(f, ev) print("CMD\t" .. line(ev.command, ev.arg)) end)
engine.on("imap.command", function(f, ev) print("CMD\t" .. line(ev.tag, ev.command)) end)
engine.on("ftp.command", function(f, ev) print("CMD\t" .. line(ev.command, ev.arg)) end)
engine.on("flow.service", function(f, ev)
  print("SVC\t" .. tostring(f.resp_p) .. "\t" .. tostring(f.service))
end)
engine.on("weird", function(f, ev) print("WEIRD\t" .. ev.name) end)
