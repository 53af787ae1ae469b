-- logs/ssl.lua - the ssl stream: one record per TLS flow (Zeek's ssl.log), built
-- from the tls.* events of the flow and written at tls.end (the flow ends).
--
-- ts is the network time of the first handshake message seen. version and cipher
-- are the negotiated ones, named as Zeek names them ("TLSv12",
-- "TLS_AES_128_GCM_SHA256"; unknown numbers as "unknown-N"); curve is the key
-- share group of a TLS 1.3 ServerHello or the named curve of an ECDHE
-- ServerKeyExchange; server_name the SNI; next_protocol the ALPN protocol the
-- server selected; established Zeek's meaning (tls.established: ChangeCipherSpec
-- from both sides up to TLS 1.2, application data from both sides in TLS 1.3);
-- ja3 / ja4 of the (last) ClientHello, ja3s of the ServerHello; subject and
-- issuer of the server's own certificate, cert_chain_fps the sha256 of each
-- server certificate in order, and the client_* ones of a client certificate.
-- TLS 1.3 certificates are encrypted: cert_chain_encrypted = true says so, and
-- subject, issuer and the fingerprints stay absent (nothing is guessed).
-- last_alert names the last alert seen in the clear; resumed is not computed.
local engine = require "engine"
local names = require "logs.ssl_names"

engine.log_columns("ssl", {
  "version", "cipher", "curve", "server_name", "next_protocol", "established",
  "ja3", "ja3s", "ja4", "subject", "issuer", "cert_chain_fps",
  "client_subject", "client_issuer", "client_cert_chain_fps", "cert_chain_encrypted",
  "last_alert",
})

local function rec(flow)
  local d = flow.data
  local r = d.ssl
  if not r then
    r = { ts = engine.now(), established = false }
    d.ssl = r
  end
  return r
end

engine.on("tls.client_hello", function(flow, ev)
  local r = rec(flow)
  r._hello = true
  r.server_name = ev.sni
  r.ja3 = ev.ja3
  r.ja4 = ev.ja4
end)

engine.on("tls.server_hello", function(flow, ev)
  local r = rec(flow)
  r._hello = true
  if ev.group then r.curve = names.group(ev.group) end
  if ev.hrr then return end -- HelloRetryRequest: the real ServerHello follows
  r.version = names.version(ev.version)
  r.cipher = names.cipher(ev.cipher)
  r.next_protocol = ev.alpn
  r.ja3s = ev.ja3s
  if ev.version == 0x0304 or (ev.version >= 0x7f00 and ev.version <= 0x7fff) then
    r.cert_chain_encrypted = true
  end
end)

engine.on("tls.server_key_exchange", function(flow, ev)
  rec(flow).curve = names.group(ev.group)
end)

engine.on("tls.certificate", function(flow, ev)
  local r = rec(flow)
  local client = ev.dir == "orig"
  local key = client and "client_cert_chain_fps" or "cert_chain_fps"
  local l = r[key]
  if not l then
    l = {}
    r[key] = l
  end
  l[#l + 1] = ev.sha256
  if ev.index == 0 then
    if client then
      r.client_subject, r.client_issuer = ev.subject, ev.issuer
    else
      r.subject, r.issuer = ev.subject, ev.issuer
    end
  end
end)

engine.on("tls.alert", function(flow, ev)
  rec(flow).last_alert = names.alert(ev.description)
end)

engine.on("tls.established", function(flow, ev)
  local r = rec(flow)
  r.established = true
end)

engine.on("tls.end", function(flow, ev)
  local r = flow.data.ssl
  if not r or not r._hello then return end
  flow.data.ssl = nil
  r._hello = nil
  r.established = ev.established and true or false
  engine.log_flow("ssl", flow, r)
end)
