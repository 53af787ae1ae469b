-- logs/ftp.lua - the ftp stream: one record per command and its final reply (Zeek's
-- ftp.log), from the ftp.* events of the control flow.
--
-- ts is the network time of the command; user the argument of the latest USER;
-- password the argument of PASS, only with --set ftp.log_passwords=true (without it the
-- PASS record has no arg either). A reply of 1xx
-- is preliminary: the record waits for the final one (226 after 150). A PASV/EPSV reply
-- (227/229) and the 2xx answer to PORT/EPRT carry the data channel announced
-- (data_channel.passive, .orig_h, .resp_h, .resp_p). A transfer command (RETR, STOR, STOU,
-- APPE, LIST, NLST, MLSD) answered 2xx is written once its data connection has ended
-- (ftp.transfer, which usually fires a little after the 226) with fuid, file_size and
-- mime_type of the file (RETR/STOR/STOU/APPE; listings carry no file), or when the
-- control flow ends first; a transfer whose data connection outlives the control flow
-- is in files.log and conn.log only.
local engine = require "engine"

engine.log_columns("ftp", {
  "user", "password", "command", "arg", "mime_type", "file_size", "reply_code", "reply_msg",
  "data_channel.passive", "data_channel.orig_h", "data_channel.resp_h", "data_channel.resp_p",
  "fuid",
})

local XFER = { RETR = true, STOR = true, STOU = true, APPE = true, LIST = true, NLST = true, MLSD = true }
local FILE = { RETR = true, STOR = true, STOU = true, APPE = true }
local MAXQ = 32

local log_passwords
local function passwords()
  if log_passwords == nil then
    local v = engine.config["ftp.log_passwords"]
    log_passwords = v == true or v == "true" or v == 1 or v == "yes"
  end
  return log_passwords
end

local function session(flow)
  local d = flow.data
  local s = d.ftp
  if not s then
    s = { cmds = {}, pending = {}, xfers = {} }
    d.ftp = s
  end
  return s
end

-- mime types of FTP files by fuid, from file.begin (ftp.transfer carries the type only
-- when the file had 4 KiB before its end); bounded
local mimes, nmimes = {}, 0

local function push(l, v)
  if #l >= MAXQ then table.remove(l, 1) end
  l[#l + 1] = v
end

-- a waiting record and a transfer belong together: same command and, when both know it,
-- same argument (RETR a.txt must not get b.txt's file when b's data connection ends first)
local function same_transfer(r, t)
  return r.command == t.command and (r.arg == nil or t.arg == nil or r.arg == t.arg)
end

local function add_transfer(r, t)
  if FILE[r.command] then
    r.fuid = t.fuid
    r.file_size = t.bytes
    r.mime_type = t.mime_type or (t.fuid and mimes[t.fuid])
    if t.fuid and mimes[t.fuid] then
      mimes[t.fuid] = nil
      nmimes = nmimes - 1
    end
  end
end

engine.on("ftp.command", function(flow, ev)
  local s = session(flow)
  local c = ev.command
  if c == "USER" then
    s.user = ev.arg
    s.password = nil
  elseif c == "PASS" then
    if passwords() then s.password = ev.arg end
  end
  push(s.cmds, { ts = engine.now() })
end)

engine.on("ftp.reply", function(flow, ev)
  if ev.command == nil or ev.code < 200 then return end
  local s = session(flow)
  local c = table.remove(s.cmds, 1)
  local r = {
    ts = c and c.ts or engine.now(),
    user = s.user,
    password = s.password,
    command = ev.command,
    arg = (ev.command ~= "PASS" or passwords()) and ev.arg or nil,
    reply_code = ev.code,
    reply_msg = ev.text,
  }
  if ev.data_resp_h then
    r["data_channel.passive"] = ev.data_passive
    r["data_channel.orig_h"] = ev.data_orig_h
    r["data_channel.resp_h"] = ev.data_resp_h
    r["data_channel.resp_p"] = ev.data_resp_p
  end
  if XFER[ev.command] and ev.code < 300 then
    -- the transfer's data connection may have ended already, or ends soon
    for i, t in ipairs(s.xfers) do
      if same_transfer(r, t) then
        table.remove(s.xfers, i)
        add_transfer(r, t)
        engine.log_flow("ftp", flow, r)
        return
      end
    end
    if #s.pending >= MAXQ then engine.log_flow("ftp", flow, table.remove(s.pending, 1)) end push(s.pending, r)
    return
  end
  engine.log_flow("ftp", flow, r)
end)

engine.on("ftp.transfer", function(flow, ev)
  local s = flow.data.ftp
  if not s then return end -- on the data flow: the control flow has ended
  local t = { command = ev.command, arg = ev.arg, fuid = ev.fuid, bytes = ev.bytes, mime_type = ev.mime_type }
  for i, r in ipairs(s.pending) do
    if same_transfer(r, t) then
      table.remove(s.pending, i)
      add_transfer(r, t)
      engine.log_flow("ftp", flow, r)
      return
    end
  end
  push(s.xfers, t)
end)

engine.on("file.begin", function(flow, ev)
  if ev.source ~= "ftp" or not ev.mime_type then return end
  if nmimes >= 256 then mimes, nmimes = {}, 0 end
  mimes[ev.fuid] = ev.mime_type
  nmimes = nmimes + 1
end)

engine.on("flow.end", function(flow)
  local s = flow.data.ftp
  if not s then return end
  for _, r in ipairs(s.pending) do engine.log_flow("ftp", flow, r) end
  s.pending = {}
end)
