-- logs/ftp.lua: one record per FTP command and its final reply
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local FTP = H.script("logs/ftp.lua")
local FILES = H.script("logs/files.lua")

local SHA_REPORT = "4c4f06d2201ce215a76280c9b5a5d25e8d300b6a4b569f54ed82e75112114979"
local SHA_UPLOAD = "853ffb72fa3e261c654dca05fc56c70910ed0da996152e7ea676164515c9195a"

describe("scripts/logs/ftp.lua", function()
  for _, mode in ipairs { "pasv", "epsv", "port", "eprt" } do
    it("logs a real " .. mode .. " session: commands, data channels, files", function()
      local pcap = H.need_pcap("ftp-vsftpd-" .. mode .. ".pcap")
      if not pcap then return end
      local out = T.run { pcap = pcap, scripts = { FTP, FILES } }
      local cmds = {}
      for _, r in ipairs(out.ftp) do
        cmds[#cmds + 1] = r.command
        assert.are.equal(21, r["id.resp_p"])
        assert.is_nil(r.password)
      end
      assert.are.equal(16, #out.ftp)
      local pass = H.where(out.ftp, { command = "PASS" })[1]
      assert.are.equal("ftptest", pass.user)
      assert.are.equal(230, pass.reply_code)
      assert.is_nil(pass.arg) -- the password is not logged
      -- the data channel on the PASV/EPSV/PORT/EPRT records, three of them
      local chan = H.where(out.ftp, { command = mode:upper() })
      assert.are.equal(3, #chan)
      for _, r in ipairs(chan) do
        assert.are.equal(mode == "pasv" or mode == "epsv", r["data_channel.passive"])
        assert.are.equal("127.0.0.1", r["data_channel.resp_h"])
        assert.is_true(r["data_channel.resp_p"] > 1024)
      end
      -- the transfers: fuid and size of the file on RETR and STOR, none on LIST
      local list = H.where(out.ftp, { command = "LIST" })[1]
      assert.are.equal(226, list.reply_code)
      assert.is_nil(list.fuid)
      local retr = H.where(out.ftp, { command = "RETR", arg = "report.bin" })[1]
      local stor = H.where(out.ftp, { command = "STOR" })[1]
      assert.are.equal(20000, retr.file_size)
      assert.are.equal(9146, stor.file_size)
      assert.are.equal("text/plain", stor.mime_type)
      local files = {}
      for _, f in ipairs(out.files) do files[f.fuid] = f end
      assert.are.equal(SHA_REPORT, files[retr.fuid].sha256)
      assert.are.equal(SHA_UPLOAD, files[stor.fuid].sha256)
      assert.are.equal("ftp", files[retr.fuid].source)
      assert.are.equal("report.bin", files[retr.fuid].filename)
      -- the files were carried by the data flows, not the control flow
      assert.are_not.equal(retr.uid, files[retr.fuid].uid)
    end)
  end

  it("logs passwords only with ftp.log_passwords=true", function()
    local pcap = H.need_pcap("ftp-vsftpd-port-reuse.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { FTP }, config = { ["ftp.log_passwords"] = "true" } }
    local pass = H.where(out.ftp, { command = "PASS" })
    assert.are.equal(2, #pass)
    assert.are.equal("s3cret", pass[1].password)
    assert.are.equal("s3cret", pass[1].arg)
    assert.are.equal(230, pass[1].reply_code)
    assert.are.equal("wrong", pass[2].password)
    assert.are.equal(530, pass[2].reply_code)
    -- one client port for two data connections: each transfer on its own record
    assert.are.equal(8, H.where(out.ftp, { command = "RETR" })[1].file_size)
  end)

  it("pairs commands and replies from events fired by hand, and waits for the transfer", function()
    local eng = T.load { FTP }
    local flow = { resp_p = 21, service = "ftp" }
    eng:fire("ftp.command", { command = "USER", arg = "bob" }, flow)
    eng:fire("ftp.reply", { code = 331, text = "pw", command = "USER", arg = "bob" }, flow)
    eng:fire("ftp.command", { command = "PASS", arg = "x" }, flow)
    eng:fire("ftp.reply", { code = 230, text = "ok", command = "PASS", arg = "x" }, flow)
    eng:fire("ftp.command", { command = "RETR", arg = "f" }, flow)
    eng:fire("ftp.reply", { code = 150, text = "opening", command = "RETR", arg = "f" }, flow)
    eng:fire("ftp.reply", { code = 226, text = "done", command = "RETR", arg = "f" }, flow)
    assert.are.equal(2, #eng:records("ftp")) -- RETR waits for its data connection
    eng:fire("ftp.transfer", { command = "RETR", arg = "f", bytes = 42, fuid = "Fx", dir = "download",
      mime_type = "text/plain", data_uid = "Cdata" }, flow)
    local r = eng:records("ftp")
    assert.are.equal(3, #r)
    assert.are.equal("bob", r[3].user)
    assert.are.equal(226, r[3].reply_code)
    assert.are.equal(42, r[3].file_size)
    assert.are.equal("Fx", r[3].fuid)
    assert.are.equal("text/plain", r[3].mime_type)
    assert.is_nil(r[2].arg)
    assert.is_nil(r[2].password)
    -- a transfer whose reply never came is written when the flow ends
    eng:fire("ftp.command", { command = "STOR", arg = "g" }, flow)
    eng:fire("ftp.reply", { code = 226, text = "done", command = "STOR", arg = "g" }, flow)
    eng:fire("flow.end", { reason = "closed" }, flow)
    r = eng:records("ftp")
    assert.are.equal(4, #r)
    assert.are.equal("STOR", r[4].command)
    assert.is_nil(r[4].fuid)
  end)
  it("writes every transfer record when more than 32 wait for their data connections", function()
    -- a data flow ends (ftp.transfer) a few seconds after its 226, so a burst of small
    -- RETRs leaves many records waiting; beyond the bound the oldest used to be dropped
    -- unwritten (50 RETRs in a second gave 32 records)
    local eng = T.load { FTP, start = 1000 }
    local flow = { proto = "tcp", orig_p = 30001, resp_p = 21 }
    for i = 1, 50 do
      eng:fire("ftp.command", { command = "RETR", arg = "f" .. i }, flow)
      eng:fire("ftp.reply", { code = 226, text = "done", command = "RETR", arg = "f" .. i }, flow)
    end
    assert.are.equal(50 - 32, #eng:records("ftp")) -- the oldest written as they stand
    assert.are.equal("f1", eng:records("ftp")[1].arg)
    eng:fire("flow.end", { reason = "closed" }, flow)
    local r = eng:records("ftp")
    assert.are.equal(50, #r)
    local seen = {}
    for _, x in ipairs(r) do seen[x.arg] = true end
    for i = 1, 50 do assert.is_true(seen["f" .. i], "f" .. i .. " missing") end
    eng:close()
  end)
  it("gives each waiting transfer record its own file when the data connections end out of order", function()
    local eng = T.load { FTP }
    local flow = { resp_p = 21, service = "ftp" }
    for _, f in ipairs { "a.txt", "b.txt" } do
      eng:fire("ftp.command", { command = "RETR", arg = f }, flow)
      eng:fire("ftp.reply", { code = 226, text = "done", command = "RETR", arg = f }, flow)
    end
    -- b's data connection ends first
    eng:fire("ftp.transfer", { command = "RETR", arg = "b.txt", bytes = 2, fuid = "Fb", dir = "download" }, flow)
    eng:fire("ftp.transfer", { command = "RETR", arg = "a.txt", bytes = 1, fuid = "Fa", dir = "download" }, flow)
    local r = eng:records("ftp")
    assert.are.equal(2, #r)
    for _, x in ipairs(r) do
      assert.are.equal(x.arg == "a.txt" and "Fa" or "Fb", x.fuid)
      assert.are.equal(x.arg == "a.txt" and 1 or 2, x.file_size)
    end
    eng:close()
  end)
end)
