-- logs/x509.lua - the x509 stream: one record per certificate seen in the clear
-- (Zeek's x509.log), at each tls.certificate. ts is the time it was seen;
-- fingerprint its sha256; certificate.* the fields GnuTLS parsed (subject and
-- issuer as RFC 4514 strings, serial in upper-case hex, validity as times);
-- san.dns the subjectAltName DNS names. A certificate that does not parse has
-- only its fingerprint (and the weird tls_certificate_unparsed). fuid is the
-- certificate's file in files.log; host_cert is true for the server's own
-- certificate, client_cert for a client's; uid and id.* those of the TLS flow.
local engine = require "engine"

engine.log_columns("x509", {
  "fingerprint", "fuid", "certificate.subject", "certificate.issuer", "certificate.serial",
  "certificate.not_valid_before", "certificate.not_valid_after", "san.dns",
  "host_cert", "client_cert",
})

engine.on("tls.certificate", function(flow, ev)
  local san = ev.san
  local dns
  if san and #san > 0 then
    dns = {}
    for i = 1, #san do dns[i] = san[i] end
  end
  local client = ev.dir == "orig"
  engine.log_flow("x509", flow, {
    fingerprint = ev.sha256,
    fuid = ev.fuid,
    ["certificate.subject"] = ev.subject,
    ["certificate.issuer"] = ev.issuer,
    ["certificate.serial"] = ev.serial,
    ["certificate.not_valid_before"] = ev.not_before,
    ["certificate.not_valid_after"] = ev.not_after,
    ["san.dns"] = dns,
    host_cert = (not client and ev.index == 0) or nil,
    client_cert = client or nil,
  })
end)
