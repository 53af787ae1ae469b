#!/usr/bin/env python3
"""files_check.py - checks of tests/e2e/test_files_extract.sh (one per call).

  files_check.py same-bytes LOGDIR EXDIR REFDIR SOURCE   extracted files of SOURCE == REFDIR's
  files_check.py mail-ref EMLDIR OUTDIR                    leaf parts of each .eml, decoded
                                                           by python3's email module
  files_check.py log LOGDIR EXDIR [CAP]                    files.log against the directory
  files_check.py zeek-fields LOGDIR NEED                   the records against Zeek's field list;
                                                           NEED: conditional fields some record must have

Prints "ok: ..." or "FAIL: ..." lines; exits 1 on a failure.
"""
import email
import email.policy
import hashlib
import json
import os
import re
import sys

bad = 0


def fail(msg):
    global bad
    bad = 1
    print("FAIL: " + msg)


def records(logdir):
    out = []
    with open(os.path.join(logdir, "files.log"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cmd_same_bytes(logdir, exdir, refdir, source):
    mine = sorted(digest(os.path.join(exdir, r["extracted"])) for r in records(logdir)
                  if r.get("source") == source and "extracted" in r
                  and (source == "http" or "filename" in r))  # mail: the attachments
    ref = sorted(digest(os.path.join(refdir, n)) for n in os.listdir(refdir))
    if not ref:
        fail("no reference files in " + refdir)
    elif mine != ref:
        fail("%d extracted vs %d reference files differ:\n  %s\n  %s" % (len(mine), len(ref), mine, ref))
    else:
        print("ok: %d %s files equal the reference bytes" % (len(ref), source))


def cmd_mail_ref(emldir, outdir):
    """the decoded leaf parts that carry a filename (attachments), one file each"""
    n = 0
    for name in sorted(os.listdir(emldir)):
        with open(os.path.join(emldir, name), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.compat32)
        for part in msg.walk():
            if part.is_multipart() or part.get_filename() is None:
                continue
            n += 1
            with open(os.path.join(outdir, "part%03d" % n), "wb") as o:
                o.write(part.get_payload(decode=True) or b"")
    print("ok: %d attachments decoded by the email module" % n)


NAME = re.compile(r"^extract-[0-9]+\.[0-9]{6}-[A-Z0-9_]+-F[0-9A-Za-z]{17}$")


def cmd_log(logdir, exdir, cap=None):
    recs = [r for r in records(logdir) if "extracted" in r]
    if not recs:
        fail("no record says extracted")
        return
    on_disk = set(os.listdir(exdir))
    for r in recs:
        x = r["extracted"]
        if not NAME.match(x) or x != "extract-%.6f-%s-%s" % (r["ts"], r["source"].upper(), r["fuid"]):
            fail("name %r is not extract-<ts>-<SOURCE>-<fuid> of its record" % x)
        if x not in on_disk:
            fail("%s not in the directory" % x)
            continue
        size = os.path.getsize(os.path.join(exdir, x))
        if size != r["extracted_size"]:
            fail("%s: %d bytes on disk, extracted_size %d" % (x, size, r["extracted_size"]))
        if "EXTRACT" not in r.get("analyzers", []):
            fail("%s: EXTRACT not in analyzers" % x)
        if cap is None:
            if r["extracted_cutoff"] or size != r["seen_bytes"] or digest(os.path.join(exdir, x)) != r["sha256"]:
                fail("%s: not the whole file (cutoff %s, %d of %d bytes, or sha256)" %
                     (x, r["extracted_cutoff"], size, r["seen_bytes"]))
        else:
            want = min(r["seen_bytes"], cap)
            if size != want or r["extracted_cutoff"] != (r["seen_bytes"] > cap):
                fail("%s: cap %d: %d bytes, cutoff %s (seen %d)" % (x, cap, size, r["extracted_cutoff"],
                                                                   r["seen_bytes"]))
    stray = on_disk - {r["extracted"] for r in recs}
    if stray:
        fail("files no record names: %s" % sorted(stray))
    if not bad:
        print("ok: %d records match the directory%s" % (len(recs), "" if cap is None else " (cap %d)" % cap))


# Zeek's files.log (Files::Info of base/frameworks/files/main.zeek, Zeek 6+, plus
# the fields base/files/hash and base/files/extract add), in Zeek's order.
ZEEK = ["ts", "fuid", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "source",
        "depth", "analyzers", "mime_type", "filename", "duration", "local_orig", "is_orig",
        "seen_bytes", "total_bytes", "missing_bytes", "overflow_bytes", "timedout",
        "parent_fuid", "md5", "sha1", "sha256", "extracted", "extracted_cutoff", "extracted_size"]
# filled only when known, by Zeek as by us
WHEN_KNOWN = {
    "mime_type": "sniffed from the content; an empty file has none",
    "filename": "only when the protocol names the file",
    "total_bytes": "only when the protocol announces the size (HTTP Content-Length)",
    "extracted": "only with files.extract", "extracted_cutoff": "only with files.extract",
    "extracted_size": "only with files.extract",
}
ABSENT = {
    "local_orig": "no local networks are configured in the engine (Zeek's Site::local_nets)",
    "parent_fuid": "no file is unpacked from a container file",
}


def cmd_zeek_fields(logdir, need="mime_type,extracted"):
    recs = records(logdir)
    if not recs:
        fail("no records")
        return
    for r in recs:
        for k in r:
            if k not in ZEEK:
                fail("%s: field %s is not one of Zeek's" % (r["fuid"], k))
        for k in ZEEK:
            if k in ABSENT:
                if k in r:
                    fail("%s: %s is listed as absent but present" % (r["fuid"], k))
            elif k not in WHEN_KNOWN and k not in r:
                fail("%s: Zeek fills %s, the record lacks it" % (r["fuid"], k))
    # the conditional ones are filled where they are known
    for k in need.split(","):
        if not any(k in r for r in recs):
            fail("no record has %s (%s)" % (k, WHEN_KNOWN[k]))
    if not bad:
        print("ok: %d records carry Zeek's files.log fields (absent by design: %s)" %
              (len(recs), ", ".join("%s (%s)" % kv for kv in ABSENT.items())))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "same-bytes":
        cmd_same_bytes(*args)
    elif cmd == "mail-ref":
        cmd_mail_ref(*args)
    elif cmd == "log":
        cmd_log(args[0], args[1], int(args[2]) if len(args) > 2 else None)
    elif cmd == "zeek-fields":
        cmd_zeek_fields(*args)
    else:
        fail("unknown check " + cmd)
    sys.exit(bad)


if __name__ == "__main__":
    main()
