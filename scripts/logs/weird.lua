-- logs/weird.lua - the weird stream: one record per weird event (Zeek's weird.log),
-- with the flow's uid and id.* when the weird belongs to a flow. notice is
-- always false (no notice framework); peer names this process, "engine"
-- (Zeek's peer_description, one process here); source is what raised it (TCP, IP,
-- HTTP, ...: the weird event's source field).
local engine = require "engine"

engine.log_columns("weird", { "name", "addl", "notice", "peer", "source" })

engine.on("weird", function(flow, ev)
  local r = { name = ev.name, addl = ev.detail, notice = false, peer = "engine", source = ev.source }
  if flow then
    engine.log_flow("weird", flow, r)
  else
    r.ts = engine.now()
    engine.log("weird", r)
  end
end)
