#!/usr/bin/env python3
"""tshark_tls.py - tshark's view of the TLS handshakes of a capture, in the row format
of tests/e2e/tls_fields.lua, for tests/e2e/test_tls_tshark.sh.

stdin: tab-separated rows of `tshark -T fields -E occurrence=a -E aggregator=,` with the
fields FIELDS below, one row per frame that holds a handshake message or an alert.
stdout:
  CH <sni> <ja3> <alpn,...>          each ClientHello
  J4 <ja4>                           JA4 of each ClientHello, computed here from tshark's
                                     dissection as FoxIO's JA4.md says, independently of
                                     decoders/tls.c ("-" when tshark's fields cannot give
                                     it: extensions 34 or 50 put their signature schemes
                                     into sig_hash_alg too; an ALPN that is not UTF-8 is
                                     shown by tshark as U+FFFD; the SSLv2 form, for
                                     which tshark gives no JA3)
  SH <version> <cipher> <alpn> <ja3s> each ServerHello (version: supported_versions, else
                                     legacy_version)
  CERT <sha256>                      each certificate sent in the clear
  ALERT <description>                each alert in the clear
Records tshark decrypted with keys embedded in the capture are left out (the engine
cannot see into them).
"""
import hashlib
import sys

FIELDS = ["tls.handshake.type", "tls.handshake.extensions_server_name", "tls.handshake.ja3",
          "tls.handshake.extensions_alpn_str", "tls.handshake.extensions.supported_version",
          "tls.handshake.version", "tls.handshake.ciphersuite", "tls.handshake.ja3s",
          "tls.handshake.extension.type", "tls.handshake.sig_hash_alg",
          "tls.handshake.certificate", "tls.alert_message.desc", "tls.record.opaque_type"]

if len(sys.argv) > 1 and sys.argv[1] == "--fields":
    print(" ".join("-e " + f for f in FIELDS))
    sys.exit(0)


def grease(v):
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def nums(s):
    return [int(x, 0) for x in s.split(",") if x != ""]


VER = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
       0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}


def h12(items):
    return hashlib.sha256(items.encode()).hexdigest()[:12] if items else "000000000000"


def ja4(ciph, ext, sig, svers, legacy, alpn_str):
    ciphers = [c for c in nums(ciph) if not grease(c)]
    exts = [e for e in nums(ext) if not grease(e)]
    if 34 in exts or 50 in exts or "\ufffd" in alpn_str:
        return "-"
    sigs = [s for s in nums(sig) if not grease(s)]
    sv = [v for v in nums(svers) if not grease(v)]
    ver = VER.get(max(sv) if sv else legacy, "00")
    alpn = alpn_str.split(",")[0] if alpn_str else ""
    if alpn:
        a, b = alpn[0], alpn[-1]
        if a.isascii() and a.isalnum() and b.isascii() and b.isalnum():
            a2 = a + b
        else:
            hx = alpn.encode().hex()
            a2 = hx[0] + hx[-1]
    else:
        a2 = "00"
    part_a = "t%s%s%02d%02d%s" % (ver, "d" if 0 in exts else "i", min(len(ciphers), 99),
                                  min(len(exts), 99), a2)
    part_b = h12(",".join("%04x" % c for c in sorted(ciphers)))
    se = sorted(e for e in exts if e not in (0, 16))
    c = ",".join("%04x" % e for e in se)
    if se and sigs:
        c += "_" + ",".join("%04x" % s for s in sigs)
    return "%s_%s_%s" % (part_a, part_b, h12(c) if se else "000000000000")


def main():
    for line in sys.stdin:
        f = line.rstrip("\n").split("\t")
        f += [""] * (len(FIELDS) - len(f))
        (types, sni, ja3, alpn, svers, hver, ciph, ja3s, ext, sig, certs, alert,
         opaque) = f[:len(FIELDS)]
        decrypted = opaque != ""
        t = nums(types)
        if 1 in t:
            shown = "".join(ch if ord(ch) < 128 else "?" * len(ch.encode()) if ch != "\ufffd" else "?"
                            for ch in alpn)
            print("CH\t%s\t%s\t%s" % (sni, ja3, shown))
            hv = nums(hver)
            # no JA3 from tshark: the SSLv2 form (JA3/JA4 are not defined on it)
            j = ja4(ciph, ext, sig, svers, hv[-1] if hv else 0, alpn) if ja3 else "-"
            print("J4\t" + j)
        if 2 in t:
            v = nums(svers)
            ver = v[-1] if v else (nums(hver)[-1] if hver else 0)
            c = nums(ciph)
            print("SH\t0x%04x\t0x%04x\t%s\t%s" % (ver, c[-1] if c else 0, alpn, ja3s))
        if 11 in t and not decrypted:
            for hx in certs.split(","):
                if hx:
                    print("CERT\t" + hashlib.sha256(bytes.fromhex(hx.replace(":", ""))).hexdigest())
        if alert and not decrypted:
            for d in alert.split(","):
                print("ALERT\t%d" % int(d, 0))


main()
