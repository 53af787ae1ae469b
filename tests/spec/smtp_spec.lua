-- logs/smtp.lua: one record per mail transaction
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local SMTP = H.script("logs/smtp.lua")

describe("scripts/logs/smtp.lua", function()
  it("logs the envelope, headers, user and files of a real transaction", function()
    local out = T.run { pcap = H.pcap("smtp-python.pcap"), scripts = { SMTP } }
    assert.are.equal(1, #out.smtp)
    local r = out.smtp[1]
    assert.are.equal(1, r.trans_depth)
    assert.are.equal("client.example.com", r.helo)
    assert.are.equal("alice@example.com", r.mailfrom)
    assert.are.same({ "bob@example.org", "carol@example.org" }, r.rcptto)
    assert.are.equal("Quarterly report", r.subject)
    assert.are.equal("<report-1@example.com>", r.msg_id)
    assert.are.equal("alice", r.user)
    assert.are.equal(2, #r.fuids)
  end)

  it("logs two transactions of one connection separately", function()
    local pcap = H.need_pcap("smtp-python-two.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { SMTP } }
    assert.are.equal(2, #out.smtp)
    assert.are.equal(out.smtp[1].uid, out.smtp[2].uid)
    assert.are.same({ 1, 2 }, { out.smtp[1].trans_depth, out.smtp[2].trans_depth })
    assert.are.same({ "bob@b.test" }, out.smtp[1].rcptto)
    assert.are.same({ "carol@c.test", "dave@d.test" }, out.smtp[2].rcptto)
    assert.are.equal("second ✓", out.smtp[2].subject) -- RFC 2047 decoded
  end)

  it("writes a transaction when its flow ends, from events fired by hand", function()
    local eng = T.load { SMTP }
    local flow = { resp_p = 25, service = "smtp" }
    eng:fire("smtp.command", { verb = "EHLO", arg = "mx.test" }, flow)
    eng:fire("smtp.mail_from", { addr = "a@x.test" }, flow)
    eng:fire("smtp.rcpt_to", { addr = "b@y.test" }, flow)
    assert.are.equal(0, #eng:records("smtp"))
    eng:fire("flow.end", { reason = "closed" }, flow)
    local r = eng:records("smtp")
    assert.are.equal(1, #r)
    assert.are.equal("a@x.test", r[1].mailfrom)
    assert.are.same({ "b@y.test" }, r[1].rcptto)
  end)
end)
