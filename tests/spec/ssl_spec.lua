-- logs/ssl.lua and logs/x509.lua: one ssl record per TLS flow, one x509 record per certificate
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local SSL = H.script("logs/ssl.lua")
local X509 = H.script("logs/x509.lua")

describe("scripts/logs/ssl.lua", function()
  it("logs a real TLS 1.2 handshake with SNI, ALPN, curve and the server chain", function()
    local pcap = H.need_pcap("tls12-sni-alpn.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { SSL, X509 } }
    assert.are.equal(1, #out.ssl)
    local r = out.ssl[1]
    assert.are.equal("TLSv12", r.version)
    assert.are.equal("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", r.cipher)
    assert.are.equal("x25519", r.curve)
    assert.are.equal("tls.test", r.server_name)
    assert.are.equal("http/1.1", r.next_protocol)
    assert.is_true(r.established)
    assert.are.equal("CN=tls.test,O=Engine Test,C=ZZ", r.subject)
    assert.are.equal("CN=Engine Test Root,O=Engine Test CA,C=ZZ", r.issuer)
    assert.are.equal(2, #r.cert_chain_fps)
    assert.is_truthy(r.ja3:match("^%x+$") and #r.ja3 == 32)
    assert.is_truthy(r.ja4:match("^t13d%d%d%d%dh2_%x+_%x+$"))
    assert.are.equal(2, #out.x509)
    local leaf = H.where(out.x509, { host_cert = true })[1]
    assert.are.equal(r.cert_chain_fps[1], leaf.fingerprint)
    assert.are.equal("2002", leaf["certificate.serial"])
    assert.are.same({ "tls.test", "www.tls.test" }, leaf["san.dns"])
    assert.is_true(leaf["certificate.not_valid_after"] > leaf["certificate.not_valid_before"])
  end)

  it("says that TLS 1.3 certificates are encrypted instead of guessing", function()
    local pcap = H.need_pcap("tls13-sni-alpn.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { SSL, X509 } }
    assert.are.equal(1, #out.ssl)
    local r = out.ssl[1]
    assert.are.equal("TLSv13", r.version)
    assert.are.equal("TLS_AES_256_GCM_SHA384", r.cipher)
    assert.is_true(r.cert_chain_encrypted)
    assert.is_nil(r.subject)
    assert.is_nil(r.cert_chain_fps)
    assert.are.equal(0, #(out.x509 or {}))
  end)

  it("names ciphers, groups and alerts, and unknown numbers as Zeek does", function()
    local eng = T.load { SSL }
    local flow = { resp_p = 443, service = "ssl" }
    eng:fire("tls.client_hello", { version = 0x0303, sni = "x.test", ja3 = "j3", ja4 = "j4" }, flow)
    eng:fire("tls.server_hello", { version = 0x0303, cipher = 0x9999, ja3s = "j3s", hrr = false }, flow)
    eng:fire("tls.server_key_exchange", { group = 23 }, flow)
    eng:fire("tls.alert", { dir = "orig", level = 2, description = 48 }, flow)
    eng:fire("tls.end", { established = false }, flow)
    local r = eng:records("ssl")
    assert.are.equal(1, #r)
    assert.are.equal("unknown-39321", r[1].cipher)
    assert.are.equal("secp256r1", r[1].curve)
    assert.are.equal("unknown_ca", r[1].last_alert)
    assert.is_false(r[1].established)
    assert.are.equal("x.test", r[1].server_name)
  end)

  it("writes nothing for a flow without a hello", function()
    local eng = T.load { SSL }
    eng:fire("tls.end", { established = false }, { resp_p = 443, service = "ssl" })
    assert.are.equal(0, #eng:records("ssl"))
  end)
end)
