-- logs/pop3.lua: one record per POP3 session
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local POP3 = H.script("logs/pop3.lua")

describe("scripts/logs/pop3.lua", function()
  it("logs every session of a real capture with its user", function()
    local pcap = H.need_pcap("pop3-dovecot.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { POP3 } }
    assert.is_true(#out.pop3 >= 1)
    local messages = 0
    for _, r in ipairs(out.pop3) do
      assert.are.equal("bob", r.user)
      assert.are.equal(110, r["id.resp_p"])
      assert.is_true(r.commands >= 1)
      messages = messages + r.messages
    end
    assert.is_true(messages >= 1)
  end)

  it("counts commands and messages, and keeps the successful user", function()
    local eng = T.load { POP3 }
    local flow = { resp_p = 110, service = "pop3" }
    eng:fire("pop3.auth", { mechanism = "USER", user = "wrong", success = false }, flow)
    eng:fire("pop3.auth", { mechanism = "USER", user = "bob", success = true }, flow)
    eng:fire("pop3.command", { command = "STAT" }, flow)
    eng:fire("pop3.command", { command = "RETR", arg = "1" }, flow)
    eng:fire("mail.message", { subject = "s" }, flow)
    eng:fire("flow.end", { reason = "closed" }, flow)
    local r = eng:records("pop3")
    assert.are.equal(1, #r)
    assert.are.equal("bob", r[1].user)
    assert.are.equal(2, r[1].commands)
    assert.are.equal(1, r[1].messages)
  end)

  it("logs only POP3 flows", function()
    local eng = T.load { POP3 }
    eng:fire("mail.message", { subject = "s" }, { resp_p = 25, service = "smtp" })
    eng:finish()
    assert.are.equal(0, #eng:records("pop3"))
  end)
end)
