-- logs/imap.lua: one record per IMAP session
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local IMAP = H.script("logs/imap.lua")

describe("scripts/logs/imap.lua", function()
  it("logs every session of a real capture with its user", function()
    local pcap = H.need_pcap("imap-dovecot.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { IMAP } }
    assert.is_true(#out.imap >= 1)
    local messages = 0
    for _, r in ipairs(out.imap) do
      assert.are.equal("bob", r.user)
      assert.are.equal(143, r["id.resp_p"])
      messages = messages + r.messages
    end
    assert.is_true(messages >= 1)
  end)

  it("counts commands and messages, and keeps the successful user", function()
    local eng = T.load { IMAP }
    local flow = { resp_p = 143, service = "imap" }
    eng:fire("imap.command", { tag = "a1", command = "LOGIN", args = "carol x" }, flow)
    eng:fire("imap.auth", { mechanism = "LOGIN", user = "carol", success = true }, flow)
    eng:fire("imap.command", { tag = "a2", command = "SELECT", args = "INBOX" }, flow)
    eng:fire("file.begin", { fuid = "Fx", source = "imap" }, flow)
    eng:fire("flow.end", { reason = "closed" }, flow)
    local r = eng:records("imap")
    assert.are.equal(1, #r)
    assert.are.equal("carol", r[1].user)
    assert.are.equal(2, r[1].commands)
    assert.are.same({ "Fx" }, r[1].fuids)
  end)
end)
