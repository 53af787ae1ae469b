-- scripts/examples/mail_attachment_hashes.lua
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local HASHES = H.script("examples/mail_attachment_hashes.lua")
local BAD = string.rep("ab", 32)

local function list_file(lines)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  return path
end

describe("examples/mail_attachment_hashes.lua", function()
  it("alerts on the listed attachment of a real SMTP capture, with the envelope", function()
    local out = T.run { pcap = H.pcap("smtp-python.pcap"), scripts = { HASHES } }
    assert.are.equal(1, #out.alert)
    local a = out.alert[1]
    assert.are.equal("report.csv", a.filename)
    assert.are.equal("smtp", a.source)
    assert.are.equal("alice@example.com", a.mail_from)
    assert.are.same({ "bob@example.org", "carol@example.org" }, a.rcpt_to)
    assert.are.equal(64, #a.sha256)
  end)

  it("gives the envelope of the message that carried the file, on a reused connection", function()
    local pcap = H.need_pcap("smtp-python-two.pcap")
    if not pcap then return end
    local list = list_file { "b032823e0a90242d6010664097731064e8fe0bbb3d2e632cfc2411fce85b0857" }
    local out = T.run { pcap = pcap, scripts = { HASHES }, config = { ["attachments.sha256"] = list } }
    os.remove(list)
    assert.are.equal(1, #out.alert)
    assert.are.equal("attach.txt", out.alert[1].filename)
    assert.are.equal(1750, out.alert[1].size)
    assert.are.same({ "carol@c.test", "dave@d.test" }, out.alert[1].rcpt_to)
  end)

  describe("with synthetic files", function()
    local path, eng
    before_each(function()
      path = list_file { "# list", BAD:upper() }
      eng = T.load { HASHES, config = { ["attachments.sha256"] = path } }
    end)
    after_each(function()
      eng:close()
      os.remove(path)
    end)

    it("alerts on IMAP and POP3 attachments too, whatever the digest's case", function()
      eng:fire("file.begin", { fuid = "F1", source = "imap", filename = "x.exe" }, { resp_p = 143 })
      eng:fire("file.done", { fuid = "F1", size = 9, sha256 = BAD }, { resp_p = 143 })
      local a = eng:records("alert")
      assert.are.equal(1, #a)
      assert.are.equal("x.exe", a[1].filename)
      assert.are.equal("imap", a[1].source)
    end)

    it("ignores files that are not mail, and digests not on the list", function()
      eng:fire("file.begin", { fuid = "F2", source = "http" }, { resp_p = 80 })
      eng:fire("file.done", { fuid = "F2", size = 9, sha256 = BAD }, { resp_p = 80 })
      eng:fire("file.begin", { fuid = "F3", source = "smtp" }, { resp_p = 25 })
      eng:fire("file.done", { fuid = "F3", size = 9, sha256 = string.rep("0", 64) }, { resp_p = 25 })
      assert.are.equal(0, #eng:records("alert"))
    end)
  end)
end)
