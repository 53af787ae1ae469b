-- logs/weird.lua - the weird stream: one record per weird event (Zeek's weird.log),
-- with the flow's uid and id.* when the weird belongs to a flow. notice is
-- always false (no notice framework); peer names this process, "engine"
-- (Zeek's peer_description, one process here).
local engine = require "engine"

engine.log_columns("weird", { "name", "addl", "notice", "peer" })

engine.on("weird", function(flow, ev)
  local r = { name = ev.name, addl = ev.detail, notice = false, peer = "engine" }
  if flow then
    engine.log_flow("weird", flow, r)
  else
    r.ts = engine.now()
    engine.log("weird", r)
  end
end)
