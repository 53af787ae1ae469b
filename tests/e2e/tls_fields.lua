-- tls_fields.lua - prints the tls.* events one a line, tab-separated, for
-- tests/e2e/test_tls_tshark.sh (numbers as tshark prints them: 0x%04x).
local engine = require "engine"
local function h(v) return v and string.format("0x%04x", v) or "" end
local function s(v) if v == nil then return "" end return tostring(v) end
local function list(l, f)
  if not l then return "" end
  local t = {}
  for i = 1, #l do t[#t + 1] = f and f(l[i]) or tostring(l[i]) end
  return table.concat(t, ",")
end
-- ALPN bytes >= 0x80 as "?" (tshark_tls.py does the same with tshark's U+FFFD)
local function ascii(v) return (v:gsub("[\128-\255]", "?")) end
engine.on("tls.client_hello", function(flow, ev)
  print(table.concat({ "CH", s(ev.sni), s(ev.ja3), list(ev.alpn, ascii), s(ev.ja4) }, "\t"))
end)
engine.on("tls.server_hello", function(flow, ev)
  print(table.concat({ "SH", h(ev.version), h(ev.cipher), s(ev.alpn), s(ev.ja3s) }, "\t"))
end)
engine.on("tls.certificate", function(flow, ev)
  print(table.concat({ "CERT", s(ev.sha256), s(ev.subject), list(ev.san) }, "\t"))
end)
engine.on("tls.alert", function(flow, ev)
  print(table.concat({ "ALERT", s(ev.level), s(ev.description) }, "\t"))
end)
engine.on("flow.end", function(flow)
  if flow.services then print("SERVICES\t" .. flow.services) end
end)
engine.on("weird", function(flow, ev) print("WEIRD\t" .. ev.name) end)
