-- scripts/examples/cleartext_creds.lua
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local CREDS = H.script("examples/cleartext_creds.lua")

describe("examples/cleartext_creds.lua", function()
  it("alerts on SMTP AUTH PLAIN in a real capture, without logging the password", function()
    local out = T.run { pcap = H.pcap("smtp-python.pcap"), scripts = { CREDS } }
    assert.are.equal(1, #out.alert)
    local a = out.alert[1]
    assert.are.equal("cleartext credentials", a.msg)
    assert.are.equal("smtp", a.proto)
    assert.are.equal("PLAIN", a.mechanism)
    assert.are.equal("alice", a.user)
    assert.is_true(a.success)
    for _, v in pairs(a) do assert.are_not.equal("s3cret", v) end
  end)

  it("alerts on POP3 USER/PASS and AUTH PLAIN, not on APOP or CRAM-MD5", function()
    local pcap = H.need_pcap("pop3-dovecot.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { CREDS } }
    local mechs = {}
    for _, a in ipairs(out.alert) do
      assert.are.equal("pop3", a.proto)
      assert.are.equal("bob", a.user)
      mechs[a.mechanism] = (mechs[a.mechanism] or 0) + 1
    end
    assert.are.same({ USER = 2, PLAIN = 1 }, mechs)
  end)

  it("alerts on IMAP LOGIN and AUTHENTICATE PLAIN, failed logins included", function()
    local pcap = H.need_pcap("imap-dovecot.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { CREDS } }
    assert.are.equal(5, #out.alert)
    assert.are.equal(1, #H.where(out.alert, { mechanism = "LOGIN", success = false }))
    assert.are.equal(0, #H.where(out.alert, { mechanism = "CRAM-MD5" }))
  end)

  it("alerts on POP3 and IMAP logins fired by hand, and ignores challenge-response", function()
    local eng = T.load { CREDS }
    eng:fire("pop3.auth", { mechanism = "USER", user = "bob", password = "x", success = true },
             { resp_p = 110 })
    eng:fire("imap.auth", { mechanism = "LOGIN", user = "carol", password = "y", success = false },
             { resp_p = 143 })
    eng:fire("pop3.auth", { mechanism = "APOP", user = "bob", success = true }, { resp_p = 110 })
    local a = eng:records("alert")
    assert.are.equal(2, #a)
    assert.are.equal("pop3", a[1].proto)
    assert.are.equal("bob", a[1].user)
    assert.are.equal("imap", a[2].proto)
    assert.is_false(a[2].success)
  end)

  it("decodes HTTP Basic authorization and ignores other schemes", function()
    local eng = T.load { CREDS }
    local flow = { resp_p = 80 }
    eng:fire("http.request", { method = "GET", uri = "/", headers = {
      authorization = "Basic " .. T.b64encode("dave:hunter2") } }, flow)
    eng:fire("http.request", { method = "GET", uri = "/", headers = {
      authorization = "Bearer abc.def" } }, { resp_p = 8080 })
    eng:fire("http.request", { method = "GET", uri = "/", headers = {} }, { resp_p = 8081 })
    local a = eng:records("alert")
    assert.are.equal(1, #a)
    assert.are.equal("http", a[1].proto)
    assert.are.equal("dave", a[1].user)
    assert.are.equal(80, a[1]["id.resp_p"])
  end)

  it("alerts once per flow, user and mechanism", function()
    local eng = T.load { CREDS }
    local flow = { uid = "Crepeat", resp_p = 25 }
    for _ = 1, 3 do
      eng:fire("smtp.auth", { mechanism = "LOGIN", user = "eve", password = "p" }, flow)
    end
    eng:fire("smtp.auth", { mechanism = "LOGIN", user = "eve", password = "p" }, { uid = "Cother" })
    assert.are.equal(2, #eng:records("alert"))
  end)

  it("says nothing about a capture without credentials", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), scripts = { CREDS } }
    assert.are.equal(0, #out.alert)
  end)
end)
