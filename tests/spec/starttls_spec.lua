-- logs/pop3.lua and logs/imap.lua (logs/mail_session.lua) on sessions that STLS /
-- STARTTLS handed to the TLS decoder: flow.service is then "ssl", flow.services
-- "pop3,ssl" / "imap,ssl"; the session is still logged with the commands before it.
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local POP3 = H.script("logs/pop3.lua")
local IMAP = H.script("logs/imap.lua")

describe("mail session logs after STARTTLS", function()
  it("logs a POP3 session handed to TLS (services pop3,ssl)", function()
    local eng = T.load { POP3 }
    local flow = { resp_p = 110, service = "pop3" }
    eng:fire("pop3.command", { command = "CAPA", arg = "" }, flow)
    eng:fire("pop3.command", { command = "STLS", arg = "" }, flow)
    flow.service, flow.services = "ssl", "pop3,ssl"
    eng:fire("flow.end", { reason = "closed" }, flow)
    local r = eng:records("pop3")
    assert.are.equal(1, #r)
    assert.are.equal(2, r[1].commands)
  end)

  it("logs an IMAP session handed to TLS (services imap,ssl)", function()
    local eng = T.load { IMAP }
    local flow = { resp_p = 143, service = "imap" }
    eng:fire("imap.command", { tag = "A001", command = "CAPABILITY" }, flow)
    eng:fire("imap.command", { tag = "A002", command = "STARTTLS" }, flow)
    flow.service, flow.services = "ssl", "imap,ssl"
    eng:fire("flow.end", { reason = "closed" }, flow)
    local r = eng:records("imap")
    assert.are.equal(1, #r)
    assert.are.equal(2, r[1].commands)
  end)

  it("does not log a flow whose services only resemble the name", function()
    local eng = T.load { POP3 }
    eng:fire("flow.end", { reason = "closed" }, { resp_p = 995, service = "ssl", services = "pop3s,ssl" })
    eng:fire("flow.end", { reason = "closed" }, { resp_p = 443, service = "ssl", services = "ssl" })
    assert.are.equal(0, #eng:records("pop3"))
  end)

  it("logs the real STLS and STARTTLS captures", function()
    for _, c in ipairs { { "pop3-dovecot-stls.pcap", POP3, "pop3", 110 },
                         { "imap-dovecot-starttls.pcap", IMAP, "imap", 143 } } do
      local pcap = H.need_pcap(c[1])
      if pcap then
        local out = T.run { pcap = pcap, scripts = { c[2] } }
        assert.are.equal(1, #out[c[3]])
        assert.are.equal(c[4], out[c[3]][1]["id.resp_p"])
        assert.are.equal(2, out[c[3]][1].commands)
      end
    end
  end)
end)
