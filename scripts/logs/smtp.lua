-- logs/smtp.lua - the smtp stream: one record per mail transaction (Zeek's smtp.log),
-- built from the smtp.* events, the mail.message / mail.header events of the message
-- and the file.begin events of its parts, all on the same flow.
--
-- Transactions follow RFC 5321 3.3 on the server's replies (smtp.reply's command):
-- a MAIL the server accepts (2xx) starts one; a RCPT it accepts adds its address to
-- rcptto (a refused recipient is not part of the transaction, nor is a RCPT sent
-- with no transaction open); the reply to the end of DATA or to BDAT LAST
-- (message_end) ends it with a message; an accepted RSET, HELO or EHLO, and QUIT, end
-- it without one. A transaction is written when it ends, when the next accepted
-- MAIL starts another, or when the flow ends. Commands still unanswered at the end of
-- the flow (a capture without the server's side) are taken as accepted. A capture
-- that starts later gets a record at its first message bytes.
--
-- ts is the network time the transaction started; trans_depth counts the
-- transactions of the connection from 1. helo is the last HELO/EHLO argument, user
-- the user of the last successful AUTH, tls true once STARTTLS was accepted (a
-- connection whose STARTTLS was accepted before any transaction still gets one
-- record, with tls = true, since what follows is encrypted). last_reply is the last
-- reply of the transaction, "code text" (of a multi-line reply its last line, as
-- Zeek). From the message's top-level headers: date, from, reply_to, msg_id,
-- in_reply_to, subject (decoded), to and cc as lists of addresses (the header split
-- at commas outside quotes, <> and comments; repeats once), x_originating_ip (the
-- first IP address in X-Originating-IP), first_received / second_received (the last
-- two Received headers, as Zeek), user_agent (X-Mailer, User-Agent or X-User-Agent).
-- path is Zeek's: the responder and originator addresses, then the address of each
-- Received header in order (the second address in it when it has several, else the
-- first; one equal to the previous entry is not repeated), at most MAX_PATH.
-- is_webmail is true when user_agent names a webmail program (WEBMAIL below).
-- fuids the files of the message's parts.
local engine = require "engine"

engine.log_columns("smtp", {
  "trans_depth", "helo", "mailfrom", "rcptto", "date", "from", "to", "cc", "reply_to",
  "msg_id", "in_reply_to", "subject", "x_originating_ip", "first_received",
  "second_received", "last_reply", "path", "user_agent", "user", "fuids", "tls",
  "is_webmail",
})

local MAX_PENDING = 64 -- MAIL / RCPT commands awaiting their reply (the decoder's queue)
local MAX_ADDRS = 1000 -- rcptto, to, cc entries per transaction (Zeek's limit)
local MAX_PATH = 1000

-- user agents of webmail programs (Zeek's SMTP software detection knows these)
local WEBMAIL = {
  "^iPlanet Messenger", "^Sun Java%(tm%) System Messenger Express", "%(IMP%)",
  "^SquirrelMail", "^NeoMail", "ZimbraWebClient", "^Roundcube", "^Horde",
}

local function session(flow)
  local d = flow.data
  local s = d.smtp
  if not s then
    s = { depth = 0, pend = {}, ph = 1, pt = 0 }
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

local function new_record(flow, s)
  s.depth = s.depth + 1
  local r = { ts = engine.now(), trans_depth = s.depth, _n = {} }
  if flow.resp_h and flow.orig_h then r.path = { flow.resp_h, flow.orig_h } end
  s.cur = r
  return r
end

local function current(flow, s)
  return s.cur or new_record(flow, s)
end

local function has_content(r)
  return r and (r.mailfrom or r.rcptto or r.subject or r.from or r.fuids or r._msg)
end

local function flush(flow, s)
  local r = s.cur
  if not r then return end
  s.cur = nil
  r._msg, r._n, r._open = nil, nil, nil
  r.helo = s.helo
  r.user = s.user
  r.tls = s.tls == true -- Zeek logs it always (default F)
  if r.user_agent then
    for _, p in ipairs(WEBMAIL) do
      if r.user_agent:find(p) then
        r.is_webmail = true
        break
      end
    end
  end
  engine.log_flow("smtp", flow, r)
end

-- add v to list field key of r once (a set, kept in order), at most MAX_ADDRS
local function add_once(r, key, v)
  if v == nil or v == "" then return end
  local seen = r._n[key]
  if not seen then
    seen = { n = 0 }
    r._n[key] = seen
  end
  if seen[v] or seen.n >= MAX_ADDRS then return end
  seen[v] = true
  seen.n = seen.n + 1
  local l = r[key]
  if not l then
    l = {}
    r[key] = l
  end
  l[#l + 1] = v
end

-- "A <a@x>, \"B, C\" <b@x>, (c, d) e@x" -> { "A <a@x>", "\"B, C\" <b@x>", "(c, d) e@x" }
local function split_addrs(v)
  local out, start, quote, angle, paren, esc = {}, 1, false, 0, 0, false
  local n = #v
  for i = 1, n + 1 do
    local c = i <= n and v:sub(i, i) or ","
    if esc then
      esc = false
    elseif quote then
      if c == "\\" then esc = true elseif c == '"' then quote = false end
    elseif c == '"' then quote = true
    elseif c == "\\" then esc = true
    elseif c == "<" then angle = angle + 1
    elseif c == ">" and angle > 0 then angle = angle - 1
    elseif c == "(" then paren = paren + 1
    elseif c == ")" and paren > 0 then paren = paren - 1
    elseif c == "," and angle == 0 and paren == 0 then
      local part = v:sub(start, i - 1):match("^%s*(.-)%s*$")
      if part ~= "" then out[#out + 1] = part end
      start = i + 1
    end
  end
  return out
end

local function by_pos(x, y) return x.pos < y.pos end

-- IPv4 dotted quads and bracketed / bare IPv6 addresses in s, in order (the
-- comparator is not a closure here: LuaJIT does not compile a function that
-- creates one)
local function ips(s)
  local out = {}
  for a in s:gmatch("%d+%.%d+%.%d+%.%d+") do
    local ok = true
    for o in a:gmatch("%d+") do
      if #o > 3 or tonumber(o) > 255 then ok = false end
    end
    if ok then out[#out + 1] = { pos = s:find(a, 1, true), a = a } end
  end
  for a in s:gmatch("%[IPv6:([%x:%.]+)%]") do
    out[#out + 1] = { pos = s:find(a, 1, true), a = a:lower() }
  end
  table.sort(out, by_pos)
  local l = {}
  for i, x in ipairs(out) do l[i] = x.a end
  return l
end

local function last_line(text)
  return text:match("([^\n]*)$") or text
end

-- pending MAIL / RCPT commands, in order, matched to their replies
local function pend_push(s, e)
  if s.pt - s.ph + 1 >= MAX_PENDING then
    s.pend[s.ph] = nil
    s.ph = s.ph + 1
  end
  s.pt = s.pt + 1
  s.pend[s.pt] = e
end

local function pend_pop(s, verb)
  local e = s.pend[s.ph]
  if not e or e.verb ~= verb then return nil end
  s.pend[s.ph] = nil
  s.ph = s.ph + 1
  if s.ph > s.pt then s.ph, s.pt = 1, 0 end
  return e
end

-- a MAIL or RCPT the server accepted (ok) or refused
local function answered(flow, s, e, ok)
  if e.verb == "MAIL" then
    if not ok then return end
    local r = s.cur
    if r and r._open then
      flush(flow, s) -- accepted inside a transaction: the server restarted it
    elseif r and (r.mailfrom or r.rcptto) then
      flush(flow, s)
    end
    r = s.cur
    -- message bytes seen before the reply (BDAT pipelined with MAIL) stay with it
    if not r then r = new_record(flow, s) end
    r._open = true
    r.mailfrom = e.addr
  elseif ok and s.cur and s.cur._open then
    add_once(s.cur, "rcptto", e.addr)
  end
end

engine.on("smtp.command", function(flow, ev)
  local s = session(flow)
  local verb = ev.verb
  if verb == "HELO" or verb == "EHLO" then
    s.helo = ev.arg
  elseif verb == "MAIL" or verb == "RCPT" then
    pend_push(s, { verb = verb })
  end
end)

engine.on("smtp.mail_from", function(flow, ev)
  local s = session(flow)
  local e = s.pend[s.pt]
  if e and e.verb == "MAIL" and e.addr == nil then
    e.addr = ev.addr
  else -- no smtp.command before it (events fired by a script)
    pend_push(s, { verb = "MAIL", addr = ev.addr })
  end
end)

engine.on("smtp.rcpt_to", function(flow, ev)
  local s = session(flow)
  local e = s.pend[s.pt]
  if e and e.verb == "RCPT" and e.addr == nil then
    e.addr = ev.addr
  else -- no smtp.command before it (events fired by a script)
    pend_push(s, { verb = "RCPT", addr = ev.addr })
  end
end)

engine.on("smtp.reply", function(flow, ev)
  local s = session(flow)
  local cmd = ev.command
  if not cmd then return end -- the greeting, an unmatched reply
  local code = ev.code or 0
  local ok = code >= 200 and code < 300
  local reply = code .. " " .. last_line(ev.text or "")
  if cmd == "MAIL" or cmd == "RCPT" then
    local e = pend_pop(s, cmd)
    if e then answered(flow, s, e, ok) end
  end
  local r = s.cur
  if ev.message_end then
    r = current(flow, s)
    r.last_reply = reply
    flush(flow, s)
    return
  end
  if r then r.last_reply = reply end
  if (ok and (cmd == "RSET" or cmd == "HELO" or cmd == "EHLO")) or cmd == "QUIT" then
    if has_content(r) then flush(flow, s) else s.cur = nil end
  end
end)

engine.on("smtp.auth", function(flow, ev)
  if ev.success then session(flow).user = ev.user end
end)

engine.on("smtp.starttls", function(flow)
  local s = session(flow)
  s.tls = true
  current(flow, s)
end)

engine.on("mail.message", function(flow, ev)
  local s = smtp_session(flow)
  if not s then return end
  local r = current(flow, s)
  r._msg = true
  r.date = ev.date
  r.from = ev.from
  if ev.to then for _, a in ipairs(split_addrs(ev.to)) do add_once(r, "to", a) end end
  if ev.cc then for _, a in ipairs(split_addrs(ev.cc)) do add_once(r, "cc", a) end end
  r.subject = ev.subject
  r.msg_id = ev.message_id
end)

local HEADERS = {
  ["x-mailer"] = "ua", ["user-agent"] = "ua", ["x-user-agent"] = "ua",
  ["reply-to"] = "reply_to", ["in-reply-to"] = "in_reply_to",
  ["x-originating-ip"] = "xoip", ["received"] = "received",
}
local LENS = { [8] = true, [10] = true, [12] = true, [11] = true, [16] = true }

engine.on("mail.header", function(flow, ev)
  local n = ev.name
  if not LENS[#n] then return end -- only names of these lengths can match: no lower-case copy of the others
  local what = HEADERS[n:lower()]
  if not what then return end
  local s = smtp_session(flow)
  if not s then return end
  local r = current(flow, s)
  r._msg = true
  local v = ev.value
  if what == "ua" then
    r.user_agent = v
  elseif what == "xoip" then
    r.x_originating_ip = ips(v)[1]
  elseif what == "received" then
    if r.first_received then r.second_received = r.first_received end
    r.first_received = v
    local l = ips(v)
    local ip = l[2] or l[1]
    if ip then
      r.path = r.path or {}
      local p = r.path
      if p[#p] ~= ip and #p < MAX_PATH then p[#p + 1] = ip end
    end
  else
    r[what] = v
  end
end)

engine.on("file.begin", function(flow, ev)
  if ev.source ~= "smtp" then return end
  local s = smtp_session(flow)
  if not s then return end
  local r = current(flow, s)
  local l = r.fuids
  if not l then
    l = {}
    r.fuids = l
  end
  l[#l + 1] = ev.fuid
end)

engine.on("flow.end", function(flow)
  local s = flow.data.smtp
  if not s then return end
  -- commands the capture holds no reply for: taken as accepted
  for i = s.ph, s.pt do
    local e = s.pend[i]
    if e then answered(flow, s, e, true) end
  end
  s.pend, s.ph, s.pt = {}, 1, 0
  local r = s.cur
  if r and (has_content(r) or s.tls) then flush(flow, s) end
end)
