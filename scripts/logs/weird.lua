-- logs/weird.lua - the weird stream: one record per weird event (Zeek's weird.log),
-- with the flow's uid and id.* when the weird belongs to a flow.
local engine = require "engine"

engine.log_columns("weird", { "name", "addl" })

engine.on("weird", function(flow, ev)
  local r = { name = ev.name, addl = ev.detail }
  if flow then
    engine.log_flow("weird", flow, r)
  else
    r.ts = engine.now()
    engine.log("weird", r)
  end
end)
