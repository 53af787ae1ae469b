-- logs/pop3.lua - the pop3 stream: one record per POP3 session (flow), written at
-- flow.end (../shared/spec/logs.md). ts is the flow's start; user is the user
-- of the last successful pop3.auth (or of the last attempt when none succeeded);
-- commands counts pop3.command events; messages counts the messages retrieved
-- (mail.message events of the flow: whole messages and TOP/partial ones whose
-- header block was decoded); fuids lists the files (file.begin) the session
-- carried, in order. Only flows whose service is "pop3" are logged.
local engine = require "engine"

engine.log_columns("pop3", { "user", "commands", "messages", "fuids" })

local function state(flow)
  local s = flow.data.pop3
  if not s then
    s = { commands = 0, messages = 0 }
    flow.data.pop3 = s
  end
  return s
end

engine.on("pop3.command", function(flow)
  local s = state(flow)
  s.commands = s.commands + 1
end)

engine.on("pop3.auth", function(flow, ev)
  local s = state(flow)
  if ev.user ~= nil and (ev.success or not s.auth_ok) then
    s.user = ev.user
    s.auth_ok = ev.success or s.auth_ok
  end
end)

engine.on("mail.message", function(flow)
  if flow and flow.service == "pop3" then
    local s = state(flow)
    s.messages = s.messages + 1
  end
end)

engine.on("file.begin", function(flow, ev)
  if flow and flow.service == "pop3" and ev.source == "pop3" then
    local s = state(flow)
    s.fuids = s.fuids or {}
    s.fuids[#s.fuids + 1] = ev.fuid
  end
end)

engine.on("flow.end", function(flow)
  if flow.service ~= "pop3" then return end
  local s = state(flow)
  engine.log_flow("pop3", flow, {
    ts = flow.start_ts,
    user = s.user,
    commands = s.commands,
    messages = s.messages,
    fuids = s.fuids,
  })
end)
