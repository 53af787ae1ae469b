-- logs/imap.lua - the imap stream: one record per IMAP session (flow), written at
-- flow.end (../shared/spec/logs.md). ts is the flow's start; user is the user
-- of the last successful imap.auth (or of the last attempt when none succeeded);
-- commands counts imap.command events; messages counts the messages retrieved
-- (mail.message events of the flow: whole messages, and header blocks fetched
-- alone with BODY[HEADER...] / RFC822.HEADER); fuids lists the files (file.begin) the session
-- carried, in order. Only flows whose service is "imap" are logged.
local engine = require "engine"

engine.log_columns("imap", { "user", "commands", "messages", "fuids" })

local function state(flow)
  local s = flow.data.imap
  if not s then
    s = { commands = 0, messages = 0 }
    flow.data.imap = s
  end
  return s
end

engine.on("imap.command", function(flow)
  local s = state(flow)
  s.commands = s.commands + 1
end)

engine.on("imap.auth", function(flow, ev)
  local s = state(flow)
  if ev.user ~= nil and (ev.success or not s.auth_ok) then
    s.user = ev.user
    s.auth_ok = ev.success or s.auth_ok
  end
end)

engine.on("mail.message", function(flow)
  if flow and flow.service == "imap" then
    local s = state(flow)
    s.messages = s.messages + 1
  end
end)

engine.on("file.begin", function(flow, ev)
  if flow and flow.service == "imap" and ev.source == "imap" then
    local s = state(flow)
    s.fuids = s.fuids or {}
    s.fuids[#s.fuids + 1] = ev.fuid
  end
end)

engine.on("flow.end", function(flow)
  if flow.service ~= "imap" then return end
  local s = state(flow)
  engine.log_flow("imap", flow, {
    ts = flow.start_ts,
    user = s.user,
    commands = s.commands,
    messages = s.messages,
    fuids = s.fuids,
  })
end)
