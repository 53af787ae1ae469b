-- examples/mail_attachment_hashes.lua - alert on mail attachments (SMTP, POP3,
-- IMAP) whose SHA-256 is on a list of known-bad hashes. The list is one hex
-- digest a line (# comments allowed); its path comes from
-- `--set attachments.sha256=FILE`, by default bad-sha256.txt next to this script.
-- The alert carries the file's name, MIME type, size and the envelope sender
-- and recipients of the SMTP transaction that carried it.
--
--   engine -r pcaps/smtp-python.pcap -s scripts/examples/mail_attachment_hashes.lua
local engine = require "engine"

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
engine.config_key("attachments.sha256", nil, "file of sha256 digests of known-bad attachments; default bad-sha256.txt beside the script")
local path = engine.config["attachments.sha256"] or (here .. "bad-sha256.txt")

local bad = {}
for _, line in ipairs(engine.load_list(path)) do
  local h = line:match("^%s*(%x+)")
  if h and #h == 64 then bad[h:lower()] = true end
end

local MAIL = { smtp = true, pop3 = true, imap = true }

-- per flow: the SMTP envelope, and the names of the files still open
local function mail(flow)
  local m = flow.data.mail_hashes
  if not m then
    m = { rcpt = {}, files = {} }
    flow.data.mail_hashes = m
  end
  return m
end

engine.on("smtp.mail_from", function(flow, ev)
  local m = mail(flow)
  m.from, m.rcpt = ev.addr, {}
end)

engine.on("smtp.rcpt_to", function(flow, ev)
  local r = mail(flow).rcpt
  r[#r + 1] = ev.addr
end)

engine.on("file.begin", function(flow, ev)
  if flow and MAIL[ev.source] then
    mail(flow).files[ev.fuid] = { filename = ev.filename, mime_type = ev.mime_type, source = ev.source }
  end
end)

engine.on("file.done", function(flow, ev)
  if not flow then return end
  local m = flow.data.mail_hashes
  local f = m and m.files[ev.fuid]
  if not f then return end -- not a mail file
  m.files[ev.fuid] = nil
  local sha = ev.sha256
  if sha and bad[sha:lower()] then
    local rcpt = {}
    for i, r in ipairs(m.rcpt) do rcpt[i] = r end
    engine.alert(flow, "mail attachment with a known-bad SHA-256", {
      fuid = ev.fuid, sha256 = sha, filename = f.filename, mime_type = f.mime_type,
      size = ev.size, source = f.source, mail_from = m.from, rcpt_to = rcpt,
    })
  end
end)
