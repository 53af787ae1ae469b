-- logs/mail_session.lua - the shape the pop3 and imap streams share: one record
-- per session (flow) of the given protocol, written at flow.end. Not a script
-- to load on its own: logs/pop3.lua and logs/imap.lua call it with their name.
--   require("logs.mail_session")("pop3")
-- ts is the flow's start; user is the user of the last successful <proto>.auth
-- (or of the last attempt when none succeeded); commands counts <proto>.command
-- events; messages counts the flow's mail.message events; fuids lists the files
-- (file.begin of source <proto>) the session carried, in order. Only flows whose
-- service is <proto>, or whose services list names it (a session handed to TLS by
-- STLS / STARTTLS: flow.service is then "ssl", flow.services "<proto>,ssl"), are
-- logged.
local engine = require "engine"

return function(proto)
  engine.log_columns(proto, { "user", "commands", "messages", "fuids" })

  local function ours(flow)
    if flow.service == proto then return true end
    local l = flow.services
    return l ~= nil and ("," .. l .. ","):find("," .. proto .. ",", 1, true) ~= nil
  end

  local function state(flow)
    local s = flow.data[proto]
    if not s then
      s = { commands = 0, messages = 0 }
      flow.data[proto] = s
    end
    return s
  end

  engine.on(proto .. ".command", function(flow)
    local s = state(flow)
    s.commands = s.commands + 1
  end)

  engine.on(proto .. ".auth", function(flow, ev)
    local s = state(flow)
    if ev.user ~= nil and (ev.success or not s.auth_ok) then
      s.user = ev.user
      s.auth_ok = ev.success or s.auth_ok
    end
  end)

  engine.on("mail.message", function(flow)
    if flow and ours(flow) then
      local s = state(flow)
      s.messages = s.messages + 1
    end
  end)

  engine.on("file.begin", function(flow, ev)
    if flow and ev.source == proto and ours(flow) then
      local s = state(flow)
      s.fuids = s.fuids or {}
      s.fuids[#s.fuids + 1] = ev.fuid
    end
  end)

  engine.on("flow.end", function(flow)
    if not ours(flow) then return end
    local s = state(flow)
    engine.log_flow(proto, flow, {
      ts = flow.start_ts,
      user = s.user,
      commands = s.commands,
      messages = s.messages,
      fuids = s.fuids,
    })
  end)
end
