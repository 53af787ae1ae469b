-- logs/conn.lua - the conn stream: one record per flow, when it ends (Zeek's conn.log).
-- duration, orig_bytes and resp_bytes are present only when the flow lasted
-- longer than zero seconds, as in Zeek.
local engine = require "engine"

engine.log_columns("conn", {
  "proto", "service", "duration", "orig_bytes", "resp_bytes", "conn_state",
  "missed_bytes", "history", "orig_pkts", "resp_pkts", "vlan", "tunnel_parents",
})
-- Zeek's types, for --set log.format=tsv
engine.log_types("conn", { proto = "enum", vlan = "count", tunnel_parents = "set[string]",
  local_orig = "bool", local_resp = "bool", ip_proto = "count", orig_ip_bytes = "count",
  resp_ip_bytes = "count" })

engine.on("flow.end", function(flow)
  local start = flow.start_ts
  local duration = flow.duration
  local history = flow.history
  local r = {
    ts = start,
    uid = flow.uid,
    ["id.orig_h"] = flow.orig_h,
    ["id.orig_p"] = flow.orig_p,
    ["id.resp_h"] = flow.resp_h,
    ["id.resp_p"] = flow.resp_p,
    proto = flow.proto,
    service = flow.services or flow.service,
    conn_state = flow.state,
    missed_bytes = flow.missed_bytes,
    history = history ~= "" and history or nil,
    orig_pkts = flow.orig_pkts,
    resp_pkts = flow.resp_pkts,
    vlan = flow.vlan,
    tunnel_parents = flow.tunnel_parents,
  }
  if duration > 0 then
    r.duration = duration
    r.orig_bytes = flow.orig_bytes
    r.resp_bytes = flow.resp_bytes
  end
  engine.log("conn", r)
end)
