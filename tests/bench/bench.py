#!/usr/bin/env python3
"""bench.py - `make bench`: generate the inputs, run every mode and peer, print one table.

  python3 tests/bench/bench.py [--build build] [--mb 200] [--runs 3] [--peer-runs 1] [--budget 12]
                               [--seed 1] [--only "http smtp" | seed] [--no-seed] [--no-peers]

Inputs go to BUILD/bench/ (cached by seed and size: <proto>-s<seed>-<mb>M.pcap and .meta),
made by benchgen from the project's own captures in pcaps/. Each engine figure is the median
of --runs runs, with min and max; peers (tshark -T fields, tcpflow) run --peer-runs times
(default 1: they take most of the time). Every run is a child process timed with a monotonic
clock; peak RSS is the child's ru_maxrss (wait4). docs/performance.md says how to read it.
"""
import argparse
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# the project's captures each input replays (pcaps/), in the order of the brief
INPUTS = {
    "http": ["http-nginx.pcap", "http-curl.pcap"],
    "smtp": ["smtp-*.pcap"],
    "pop3": ["pop3-dovecot.pcap"],
    "imap": ["imap-dovecot.pcap"],
    "ftp": ["ftp-vsftpd-*.pcap"],
    "sip": ["sip-*.pcap"],
    "dns": ["dns-dnsmasq-*.pcap"],
    "tls": ["tls12-*.pcap", "tls13-*.pcap"],
}
ORDER = ["http", "smtp", "pop3", "imap", "ftp", "sip", "dns", "tls", "mix"]

# event name prefixes of each protocol for the lua mode (the same sets as benchrun's owners)
PREFIXES = {
    "http": ["http.", "file."],
    "smtp": ["smtp.", "mail.", "mime.", "file."],
    "pop3": ["pop3.", "mail.", "mime.", "file."],
    "imap": ["imap.", "mail.", "mime.", "file."],
    "ftp": ["ftp.", "file."],
    "sip": ["sip.", "rtp."],
    "dns": ["dns."],
    "tls": ["tls."],
    "mix": ["http.", "file.", "smtp.", "mail.", "mime.", "pop3.", "imap.", "ftp.", "sip.",
            "rtp.", "dns.", "tls."],
}
CORE_EVENTS = ["flow.start", "flow.service", "flow.end", "weird"]

# a few fields of each protocol for `tshark -T fields`
TSHARK = {
    "http": ["http.request.method", "http.request.uri", "http.host", "http.response.code"],
    "smtp": ["smtp.req.command", "smtp.req.parameter", "smtp.response.code"],
    "pop3": ["pop.request.command", "pop.request.parameter", "pop.response.indicator"],
    "imap": ["imap.request.command", "imap.request_tag", "imap.response.status"],
    "ftp": ["ftp.request.command", "ftp.request.arg", "ftp.response.code"],
    "sip": ["sip.Method", "sip.Status-Code", "sip.Call-ID"],
    "dns": ["dns.qry.name", "dns.a", "dns.flags.rcode"],
    "tls": ["tls.handshake.type", "tls.handshake.extensions_server_name",
            "tls.handshake.ciphersuite"],
    "mix": ["http.request.method", "smtp.req.command", "pop.request.command",
            "imap.request.command", "ftp.request.command", "sip.Method", "dns.qry.name",
            "tls.handshake.extensions_server_name"],
}

# the seed's suite: its captures (../shared/pcaps/protolens) and its published medians
SEED_ROWS = [
    ("http", "http_mime.pcap", "http", 1120, 766),
    ("smtp", "smtp.pcap", "smtp", 2599, 1402),
    ("pop3", "pop3.pcap", "pop3", 1790, 1638),
    ("imap", "imap.pcap", "imap", 4544, 2879),
    ("sip", "sip.pcap", "sip", 1073, 805),
]
READLINE = [(100, 797, 506), (500, 1063, 925), (1000, 1115, 994)]
NEWFLOW_SEED_NS = 214


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_timed(cmd, cwd=None, env=None):
    """run cmd as a child: (seconds, peak RSS KiB, exit status, stderr text, CPU seconds)"""
    errf = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errf)
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    errf.seek(0)
    err = errf.read().decode("utf-8", "replace")
    errf.close()
    return secs, ru.ru_maxrss, p.returncode, err, ru.ru_utime + ru.ru_stime


def median(v):
    s = sorted(v)
    return s[len(s) // 2]


def read_meta(path):
    m = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            m[k] = int(v)
    return m


def generate(build, proto, mb, seed):
    out = os.path.join(build, "bench", f"{proto}-s{seed}-{mb}M.pcap")
    meta = out[:-5] + ".meta"
    if os.path.exists(out) and os.path.exists(meta):
        return out, read_meta(meta)
    names = []
    for p in (ORDER[:-1] if proto == "mix" else [proto]):
        for pat in INPUTS[p]:
            names += sorted(glob.glob(os.path.join(TOP, "pcaps", pat)))
    if not names:
        raise SystemExit(f"bench: no capture for {proto} in pcaps/")
    log(f"bench: generating {out} ({mb} MiB, seed {seed}, {len(names)} captures)")
    subprocess.run([os.path.join(build, "bench", "benchgen"), "-s", str(seed), "-m", str(mb),
                    "-M", meta, "-o", out] + names, check=True)
    return out, read_meta(meta)


def list_events(engine):
    """{name: [field, ...]} from `engine --list-events`"""
    txt = subprocess.run([engine, "--list-events"], check=True, capture_output=True,
                         text=True).stdout
    evs, cur = {}, None
    for line in txt.splitlines():
        if line and not line.startswith(" "):
            cur = line.strip()
            evs[cur] = []
        elif cur and line.startswith("    ") and not line.strip().startswith(("when:", "(")):
            evs[cur].append(line.split()[0])
    return evs


def lua_script(build, proto, evs):
    """a handler on every field event of proto that reads every field"""
    path = os.path.join(build, "bench", f"lua-{proto}.lua")
    lines = [
        "-- generated by tests/bench/bench.py from `engine --list-events`: a handler on",
        f"-- every event of {proto} reading every field (tables are walked)",
        "local n, calls = 0, 0",
        "local function touch(v)",
        "  local t = type(v)",
        "  if t == 'string' then return #v end",
        "  if t == 'table' then",
        "    local k = 1",
        "    for _, x in pairs(v) do k = k + touch(x) end",
        "    return k",
        "  end",
        "  if v ~= nil then return 1 end",
        "  return 0",
        "end",
    ]
    for name, fields in evs.items():
        if name not in CORE_EVENTS and not any(name.startswith(p) for p in PREFIXES[proto]):
            continue
        body = " + ".join(f"touch(ev.{f})" for f in fields) or "0"
        lines.append(f"engine.on({name!r}, function(flow, ev) calls = calls + 1; "
                     f"n = n + {body} end)")
    lines.append("engine.on('engine.done', function() io.stderr:write(('lua: %d handler calls, "
                 "%d field bytes\\n'):format(calls, n)) end)")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def fmt_rate(vals, runs):
    n = "" if len(vals) == runs else f" n={len(vals)}"
    return f"{median(vals):8.1f} ({min(vals):.1f}-{max(vals):.1f}){n}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mb", type=int, default=int(os.environ.get("BENCH_MB", 200)))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer-runs", type=int, default=int(os.environ.get("BENCH_PEER_RUNS", 1)))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=float(os.environ.get("BENCH_BUDGET", 12)),
                    help="seconds: a mode is not run again once its runs took this long")
    ap.add_argument("--only", default="")
    ap.add_argument("--modes", default="reassembly decode lua default")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--j2", default="http smtp mix", help="inputs that also run default with -j 2")
    ap.add_argument("--no-seed", action="store_true")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--seed-seconds", type=float, default=0.4)
    a = ap.parse_args()
    build = os.path.abspath(os.path.join(TOP, a.build))
    engine = os.path.join(build, "engine")
    benchrun = os.path.join(build, "bench", "benchrun")
    for b in (engine, benchrun, os.path.join(build, "bench", "benchgen")):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"bench: {b} missing: make bench-bins")
    protos = [] if a.only == "seed" else a.only.split() if a.only else ORDER  # "seed": the seed suite alone
    modes = a.modes.split()
    tshark = None if a.no_peers else shutil.which("tshark")
    tcpflow = None if a.no_peers else shutil.which("tcpflow")
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix="bench-", dir=os.path.join(build, "bench"))
    evs = list_events(engine)
    out = []
    p = out.append
    try:
        libc = " ".join(platform.libc_ver())
        p(f"# make bench: {time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} (shared machine: figures vary)")
        p(f"# compiler: {subprocess.run(['cc', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
        p(f"# CFLAGS: {a.cflags or '(see Makefile: -O2 -g)'}")
        p(f"# allocator: system malloc ({libc}, default tunables); LuaJIT "
          f"{subprocess.run(['pkg-config', '--modversion', 'luajit'], capture_output=True, text=True).stdout.strip()}")
        p(f"# inputs: {a.mb} MiB each, seed {a.seed}; engine figures: median (min-max) of {a.runs} runs"
          f" (fewer, n=..., once a mode's runs took {a.budget:.0f} s); peers: {a.peer_runs} run(s)")
        p("")
        p("| input | mode | MiB/s payload (wall) | MiB/s per CPU s | kpkt/s | peak RSS MiB | peer | peer MiB/s | engine/peer |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for proto in protos:
            pcap, meta = generate(build, proto, a.mb, a.seed)
            mib = meta["payload_bytes"] / 1048576.0
            kpk = meta["packets"] / 1000.0
            label = f"{proto} ({mib:.0f} MiB, {meta['flows']} flows, {meta['max_open']} open)"
            script = lua_script(build, proto, evs)
            cmds = {
                "reassembly": [benchrun, "reassembly", pcap],
                "decode": [benchrun, "decode", proto, pcap],
                "lua": [engine, "-q", "-r", pcap, "-s", script],
                "default": [engine, "-q", "-r", pcap, "-o", os.path.join(tmp, "logs")],
                "default-j2": [engine, "-q", "-j", "2", "-r", pcap, "-o", os.path.join(tmp, "logs")],
            }
            mode_list = modes + (["default-j2"] if proto in a.j2.split() and "default" in modes else [])
            peers = {}
            if tshark:
                peers["decode"] = peers["default"] = peers["lua"] = ("tshark", [
                    tshark, "-n", "-r", pcap, "-T", "fields"] + sum((["-e", f] for f in TSHARK[proto]), []))
            if tcpflow:
                peers["reassembly"] = ("tcpflow", [tcpflow, "-r", pcap, "-o", os.path.join(tmp, "flow")])
            peer_done = {}
            j1 = None
            for mode in mode_list:
                secs, rss, cpu = [], [], []
                for _ in range(a.runs):
                    if secs and sum(secs) > a.budget:
                        break  # a slow mode: fewer runs (shown as n=...) to keep make bench short
                    os.makedirs(os.path.join(tmp, "logs"), exist_ok=True)
                    s, r, rc, err, c = run_timed(cmds[mode])
                    cpu.append(c)
                    shutil.rmtree(os.path.join(tmp, "logs"), ignore_errors=True)
                    if rc != 0:
                        raise SystemExit(f"bench: {proto} {mode} failed ({rc}): {err[-2000:]}")
                    secs.append(s)
                    rss.append(r)
                rates = [mib / s for s in secs]
                cpu_rates = [mib / max(c, 1e-6) for c in cpu]
                kps = [kpk / s for s in secs]
                peer_cols = "| - | - | -"
                if mode == "default":
                    j1 = median(rates)
                if mode == "default-j2" and j1:
                    peer_cols = f"| default -j 1 | {j1:.1f} | {median(rates) / j1:.2f}x (wall)"
                elif mode in peers:
                    pname, pcmd = peers[mode]
                    if pname not in peer_done:
                        ps, pcpu = [], []
                        for _ in range(a.peer_runs):
                            os.makedirs(os.path.join(tmp, "flow"), exist_ok=True)
                            s, r, rc, err, c = run_timed(pcmd, cwd=tmp)
                            pcpu.append(c)
                            shutil.rmtree(os.path.join(tmp, "flow"), ignore_errors=True)
                            if rc != 0:
                                log(f"bench: {pname} failed on {proto} ({rc}): {err[-500:]}")
                                ps = []
                                break
                            ps.append(s)
                        peer_done[pname] = ([mib / s for s in ps], [mib / max(c, 1e-6) for c in pcpu])
                    pr, pc = peer_done[pname]
                    if pr:
                        peer_cols = (f"| {pname} | {median(pr):.1f} | {median(rates) / median(pr):.1f}x"
                                     f" (CPU {median(cpu_rates) / median(pc):.1f}x)")
                p(f"| {label} | {mode} | {fmt_rate(rates, a.runs)} | {median(cpu_rates):.1f} | {median(kps):.0f} | "
                  f"{median(rss) / 1024:.0f} {peer_cols} |")
                log(out[-1])
        if not a.no_seed:
            p("")
            seed_table(out, build, benchrun, a)
        p("")
        p(f"# total {time.time() - t_start:.0f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(out))


def seed_table(out, build, benchrun, a):
    p = out.append
    pcaps = os.environ.get("PCAPS") or os.path.join(TOP, "..", "shared", "pcaps")
    seeddir = os.path.join(pcaps, "protolens")
    p("Seed suite (single core, raw frames from memory, a fresh flow per iteration, a C callback"
      " on every event of the protocol; ports = fresh client port in one instance, engine ="
      " a fresh instance per iteration; medians (min-max) of "
      f"{a.runs} runs of {a.seed_seconds} s of CPU time; timed in the thread's CPU time)")
    p("")
    p("| test | engine, ports | engine, fresh instance | events/iter | protolens no cb | protolens all cb |"
      " ratio to no cb | ratio to all cb |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for size, nocb, allcb in READLINE:
        for rev in (0, 1):
            name = f"readline-{size}{'-rev' if rev else ''}.pcap"
            path = os.path.join(build, "bench", name)
            if not os.path.exists(path):
                subprocess.run([os.path.join(build, "bench", "benchgen"), "-R", str(size)]
                               + (["-r"] if rev else []) + ["-o", path], check=True)
            rows.append((f"readline{size}{' reversed 4..99' if rev else ''}",
                         os.path.join(build, "bench"), name, "readline", nocb, allcb))
    have_seed = os.path.isdir(seeddir)
    for test, name, proto, nocb, allcb in SEED_ROWS:
        rows.append((f"{test} ({name})", seeddir, name, proto, nocb, allcb))
    for test, d, name, proto, nocb, allcb in rows:
        if not os.path.exists(os.path.join(d, name)):
            p(f"| {test} | SKIP: {d} absent | | | {nocb} | {allcb} | | |")
            continue
        r = subprocess.run([benchrun, "seed", "-t", str(a.seed_seconds), "-n", str(a.runs), d,
                            f"{name}={proto}"], capture_output=True, text=True)
        got = {}
        for line in r.stdout.splitlines():
            m = re.match(r"seed \S+ (\w+) mibs=(\d+) min=(\d+) max=(\d+) iters=\d+ payload=\d+ events=(\d+)", line)
            if m:
                got[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)))
        if r.returncode or "ports" not in got or "engine" not in got:
            p(f"| {test} | FAILED: {r.stderr.strip()[-200:]} | | | {nocb} | {allcb} | | |")
            continue
        po, en = got["ports"], got["engine"]
        best = max(po[0], en[0])
        p(f"| {test} | {po[0]} ({po[1]}-{po[2]}) MiB/s | {en[0]} ({en[1]}-{en[2]}) MiB/s | {po[3]} |"
          f" {nocb} MiB/s | {allcb} MiB/s | {best / nocb:.2f} | {best / allcb:.2f} |")
        log(out[-1])
    if not have_seed:
        p(f"(seed captures absent: {seeddir}; their rows are skipped)")
    r = subprocess.run([benchrun, "newflow", "-n", str(a.runs)], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        m = re.match(r"newflow (\w+) ns=(\d+) min=(\d+) max=(\d+)", line)
        if m:
            what = {"syn": "new flow (a SYN on a fresh 5-tuple, 200k kept open)",
                    "decoder": "new flow + decoder (SYN + GET line: HTTP detected, decoder attached; 200k kept open)",
                    "churn": "a flow's whole life (SYN + whole request; flow.max=1024 evicts the oldest)"
                    }.get(m.group(1), m.group(1))
            seedv = f"{NEWFLOW_SEED_NS} ns" if m.group(1) == "decoder" else ""
            ratio = f"{NEWFLOW_SEED_NS / int(m.group(2)):.2f}" if m.group(1) == "decoder" else ""
            p(f"| {what} | {m.group(2)} ({m.group(3)}-{m.group(4)}) ns | | | {seedv} | | {ratio} | |")
    if r.returncode:
        p(f"| new flow | FAILED: {r.stderr.strip()[-200:]} | | | | | | |")
    p("(ratios: engine's better way / protolens, higher is better; for new flow protolens ns / ours)")


if __name__ == "__main__":
    main()
