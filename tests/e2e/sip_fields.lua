-- sip_fields.lua: print the SIP messages and RTP flows the engine decodes, one line each,
-- for tests/e2e/test_sip_tshark.sh.
--
--   engine -q -r F -s tests/e2e/sip_fields.lua [--set test.out=FILE]
--
-- Lines (tab-separated; bytes outside printable ASCII and "\" written as \xNN; absent = "-"):
--   Q <call_id> <method> <uri> <from_uri> <to_uri> <cseq> <branch> <from_tag> <to_tag>
--   R <call_id> <status> <reason> <from_uri> <to_uri> <cseq> <branch>
--   M <call_id> <index> <type> <port> <proto> <formats joined by ",">  (each SDP medium)
--   P <call_id> <media> <rtcp> <packets> <service> <parent is the SIP flow: 1/0>   (rtp.end)
local engine = require "engine"

engine.config_key("test.out", nil, "test harness: where the fields are written")
local path = engine.config["test.out"]
local out = path and assert(io.open(path, "w")) or io.stdout

local function esc(s)
  if s == nil then return "-" end
  s = tostring(s)
  return (s:gsub("[^\32-\91\93-\126]", function(c) return string.format("\\x%02x", c:byte()) end))
end
local function line(...)
  local t = { ... }
  for i = 1, select("#", ...) do t[i] = esc(t[i]) end
  out:write(table.concat(t, "\t"), "\n")
end

local sip_uids = {}
local function media(ev)
  local sdp = ev.sdp
  if not sdp or not sdp.media then return end
  for i, m in ipairs(sdp.media) do
    local f = {}
    for _, x in ipairs(m.formats or {}) do f[#f + 1] = x end
    line("M", ev.call_id, i, m.type, m.port, m.proto, table.concat(f, ","))
  end
end

engine.on("sip.request", function(flow, ev)
  sip_uids[flow.uid] = true
  line("Q", ev.call_id, ev.method, ev.uri, ev.from_uri, ev.to_uri, ev.cseq, ev.branch,
    ev.from_tag, ev.to_tag)
  media(ev)
end)
engine.on("sip.response", function(flow, ev)
  sip_uids[flow.uid] = true
  line("R", ev.call_id, ev.status, ev.reason, ev.from_uri, ev.to_uri, ev.cseq, ev.branch)
  media(ev)
end)
engine.on("rtp.end", function(flow, ev)
  line("P", ev.call_id, ev.media, ev.rtcp and 1 or 0, ev.packets, flow.service,
    sip_uids[flow.parent_uid] and 1 or 0)
end)
engine.on("engine.done", function() if path then out:close() end end)
