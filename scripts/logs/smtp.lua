-- logs/smtp.lua - the smtp stream: one record per mail transaction (Zeek's smtp.log),
-- built from the smtp.* events, the mail.message / mail.header events of the message
-- and the file.begin events of its parts, all on the same flow.
--
-- A transaction starts at MAIL FROM (or at the first message bytes of a capture that
-- starts later) and is written when the next one starts, at RSET, at QUIT, or when
-- the flow ends. ts is the network time the transaction started; trans_depth counts
-- the transactions of the connection from 1. helo is the last HELO/EHLO argument,
-- user the user of the last successful AUTH, tls true once STARTTLS was accepted (a
-- connection whose STARTTLS was accepted before any transaction still gets one
-- record, with tls = true, since what follows is encrypted). user_agent is the
-- message's X-Mailer or User-Agent header; fuids the files of the message's parts.
local engine = require "engine"

engine.log_columns("smtp", {
  "trans_depth", "helo", "mailfrom", "rcptto", "date", "from", "to", "cc", "subject",
  "msg_id", "user_agent", "user", "fuids", "tls",
})

local function session(flow)
  local d = flow.data
  local s = d.smtp
  if not s then
    s = { depth = 0 }
    d.smtp = s
  end
  return s
end

-- mail.* and file.* fire for POP3 and IMAP flows too: only SMTP flows count
local function smtp_session(flow)
  if flow == nil then return nil end
  local s = flow.data.smtp
  if s then return s end
  if flow.service == "smtp" then return session(flow) end
  return nil
end

local function current(s)
  local r = s.cur
  if not r then
    s.depth = s.depth + 1
    r = { ts = engine.now(), trans_depth = s.depth }
    s.cur = r
  end
  return r
end

local function flush(flow, s)
  local r = s.cur
  if not r then return end
  s.cur = nil
  r._msg = nil
  r.helo = s.helo
  r.user = s.user
  if s.tls then r.tls = true end
  engine.log_flow("smtp", flow, r)
end

local function has_content(r)
  return r and (r.mailfrom or r.rcptto or r.subject or r.from or r.fuids or r._msg)
end

engine.on("smtp.command", function(flow, ev)
  local s = session(flow)
  local verb = ev.verb
  if verb == "HELO" or verb == "EHLO" then
    s.helo = ev.arg
  elseif verb == "MAIL" then
    if has_content(s.cur) then flush(flow, s) end
  elseif verb == "RSET" or verb == "QUIT" then
    if has_content(s.cur) then flush(flow, s) end
  end
end)

engine.on("smtp.mail_from", function(flow, ev)
  local r = current(session(flow))
  r.mailfrom = ev.addr
end)

engine.on("smtp.rcpt_to", function(flow, ev)
  local r = current(session(flow))
  local l = r.rcptto
  if not l then
    l = {}
    r.rcptto = l
  end
  l[#l + 1] = ev.addr
end)

engine.on("smtp.auth", function(flow, ev)
  if ev.success then session(flow).user = ev.user end
end)

engine.on("smtp.starttls", function(flow)
  local s = session(flow)
  s.tls = true
  current(s)
end)

engine.on("mail.message", function(flow, ev)
  local s = smtp_session(flow)
  if not s then return end
  local r = current(s)
  r._msg = true
  r.date = ev.date
  r.from = ev.from
  r.to = ev.to
  r.cc = ev.cc
  r.subject = ev.subject
  r.msg_id = ev.message_id
end)

engine.on("mail.header", function(flow, ev)
  local n = ev.name
  local len = #n -- only names of these lengths can match: no lower-case copy of the others
  if len ~= 8 and len ~= 10 then return end
  n = n:lower()
  if n == "x-mailer" or n == "user-agent" then
    local s = smtp_session(flow)
    if not s then return end
    local r = current(s)
    r._msg = true
    r.user_agent = ev.value
  end
end)

engine.on("file.begin", function(flow, ev)
  if ev.source ~= "smtp" then return end
  local s = smtp_session(flow)
  if not s then return end
  local r = current(s)
  local l = r.fuids
  if not l then
    l = {}
    r.fuids = l
  end
  l[#l + 1] = ev.fuid
end)

engine.on("flow.end", function(flow)
  local s = flow.data.smtp
  if s and s.cur then
    local r = s.cur
    if has_content(r) or s.tls then flush(flow, s) end
  end
end)
