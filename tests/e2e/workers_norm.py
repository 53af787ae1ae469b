#!/usr/bin/env python3
"""workers_norm.py - the records of a log folder, with uids and fuids replaced by what they
name, sorted: two runs of the same capture (-j 1 and -j N) print the same text exactly when
they wrote the same records.

  python3 workers_norm.py DIR        prints "<stream>\t<record as sorted JSON>" lines, sorted

A flow's uid (C + 17 base-62 digits) becomes "C<ts proto orig_h orig_p resp_h resp_p>" from
conn.log, a file's fuid (F...) the files.log record that describes it (its uid replaced); uids
differ from run to run and between workers, what they name does not.
"""
import json
import os
import re
import sys

UID = re.compile(r"\bC[0-9A-Za-z]{17}\b")
FUID = re.compile(r"\bF[0-9A-Za-z]{17}\b")


def load(d):
    logs = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        recs = []
        with open(os.path.join(d, name), encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                if not line.endswith("\n"):
                    sys.exit("%s/%s: a line without its newline" % (d, name))
                recs.append(json.loads(line))
        logs[name[:-4]] = recs
    return logs


def subst(v, pat, table):
    if isinstance(v, str):
        return pat.sub(lambda m: table.get(m.group(0), m.group(0)[0] + "?"), v)
    if isinstance(v, list):
        return [subst(x, pat, table) for x in v]
    if isinstance(v, dict):
        return {k: subst(x, pat, table) for k, x in v.items()}
    return v


def main():
    logs = load(sys.argv[1])
    uids = {}
    for r in logs.get("conn", []):
        key = "C<%s %s %s %s %s %s>" % (r.get("ts"), r.get("proto"), r.get("id.orig_h"),
                                        r.get("id.orig_p"), r.get("id.resp_h"), r.get("id.resp_p"))
        uids[r["uid"]] = key
    fuids = {}
    for r in logs.get("files", []):
        if "fuid" not in r:
            continue
        rest = {k: v for k, v in r.items() if k != "fuid"}
        fuids[r["fuid"]] = "F<" + json.dumps(subst(rest, UID, uids), sort_keys=True) + ">"
    out = []
    for stream, recs in logs.items():
        for r in recs:
            r = subst(subst(r, UID, uids), FUID, fuids)
            out.append(stream + "\t" + json.dumps(r, sort_keys=True))
    out.sort()
    sys.stdout.write("".join(l + "\n" for l in out))


main()
