/* benchrun - the C side of `make bench` (docs/performance.md), linked with libengine only
 * (no Lua).
 *
 *   benchrun reassembly IN.pcap      flows and TCP reassembly: --set engine.detect=false, no
 *                                    subscriber at all
 *   benchrun decode PROTO IN.pcap    decoders run; a C callback on every event of PROTO
 *                                    counts it and reads the length of every field
 *   benchrun seed [-t SECONDS] [-n RUNS] DIR CAPTURE[=PROTO]...
 *                                    the seed's suite: each capture loaded into memory, then
 *                                    replayed from its raw frames with a fresh flow per
 *                                    iteration, every event of PROTO handled by a C callback;
 *                                    prints one line per capture and way (see below)
 *   benchrun newflow [-n RUNS]       new flow + decoder, in ns
 *
 * PROTO: http smtp pop3 imap ftp sip dns tls mix. Events of a protocol: those whose owner in
 * engine/events.def is the protocol's decoder(s), plus "mail" (smtp, pop3, imap) and "files"
 * (http, smtp, pop3, imap, ftp), plus flow.start, flow.service, flow.end and weird; mix: every
 * event with an owner, and those four. Never tcp.data / udp.data (they are `reassembly`'s
 * bytes, not decoded fields).
 *
 * Seed rows, two ways of making a fresh flow per iteration:
 *   ports   one engine instance; each iteration rewrites the client port of every frame
 *           (2 bytes, in the timed loop) and moves the timestamps on, so each iteration is a
 *           new flow in the same flow table (closed flows expire as time goes on)
 *   engine  each iteration a fresh instance: eng_new, subscriptions, the frames, eng_free
 * Output lines (parsed by bench.py):
 *   seed NAME WAY mibs=MED min=MIN max=MAX iters=N payload=BYTES events=E
 *   newflow WAY ns=MED min=MIN max=MAX
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

static void die(const char *m) {
    fprintf(stderr, "benchrun: %s\n", m);
    exit(1);
}

/* ---- which events belong to a protocol ---------------------------------- */
static int owner_in(const char *owner, const char *proto) {
    static const struct {
        const char *proto, *owners[4];
    } map[] = {
        {"http", {"http", "files"}},
        {"smtp", {"smtp", "mail", "files"}},
        {"pop3", {"pop3", "mail", "files"}},
        {"imap", {"imap", "mail", "files"}},
        {"ftp", {"ftp", "ftp-data", "files"}},
        {"sip", {"sip", "rtp"}},
        {"dns", {"dns"}},
        {"tls", {"ssl"}},
        {"readline", {"smtp", "mail", "files"}},
    };
    if (!strcmp(proto, "mix")) return owner[0] != 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].proto, proto)) continue;
        for (int j = 0; j < 4 && map[i].owners[j]; j++)
            if (!strcmp(owner, map[i].owners[j])) return 1;
        return 0;
    }
    fprintf(stderr, "benchrun: unknown protocol '%s'\n", proto);
    exit(2);
}

typedef struct {
    uint64_t events, bytes;
} counter_t;

static uint64_t value_len(const eng_value_t *v) {
    switch (v->type) {
    case ENG_T_STR: return v->len;
    case ENG_T_LIST: {
        uint64_t n = 0;
        for (uint32_t i = 0; i < v->len; i++) n += value_len(&v->u.list[i]);
        return n + 1;
    }
    case ENG_T_MAP: {
        uint64_t n = 0;
        for (uint32_t i = 0; i < 2 * v->len; i++) n += value_len(&v->u.list[i]);
        return n + 1;
    }
    case ENG_T_NIL: return 0;
    default: return 1;
    }
}

static void on_event(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    counter_t *c = user;
    c->events++;
    for (int i = 0; i < ev->nfields; i++) c->bytes += value_len(&ev->f[i]);
}

static int subscribe(eng_t *e, const char *proto, counter_t *c) {
    int n = 0;
    for (int k = 0; k < eng_event_count(); k++) {
        const char *name = eng_event_name(k);
        int core = !strcmp(name, "flow.start") || !strcmp(name, "flow.service") ||
                   !strcmp(name, "flow.end") || !strcmp(name, "weird");
        if (core || owner_in(eng_event_owner(k), proto)) {
            if (eng_on(e, k, on_event, c) < 0) die("eng_on failed");
            n++;
        }
    }
    return n;
}

/* ---- modes on a file ----------------------------------------------------- */
static int run_file(const char *mode, const char *proto, const char *path) {
    char err[256];
    eng_t *e = eng_new();
    if (!e) die("eng_new failed");
    counter_t c = {0, 0};
    if (!strcmp(mode, "reassembly")) {
        if (eng_config_set(e, "engine.detect", "false", err, sizeof err)) die(err);
    } else {
        subscribe(e, proto, &c);
    }
    int rc = eng_read_file(e, path, NULL, err, sizeof err);
    if (rc == 1) die(err);
    eng_finish(e);
    const eng_stats_t *s = eng_stats(e);
    fprintf(stderr, "benchrun %s: packets %" PRIu64 " flows %" PRIu64 " delivered %" PRIu64
                    " events %" PRIu64 " field bytes %" PRIu64 " weirds %" PRIu64 "\n",
            mode, s->packets, s->flows, s->tcp_bytes_delivered, c.events, c.bytes, s->weirds);
    eng_free(e);
    return 0;
}

/* ---- captures in memory -------------------------------------------------- */
typedef struct {
    uint8_t *data;
    uint32_t len;
    int64_t ts; /* ns from the first frame */
    int port_off; /* offset of the client port in data, or -1 */
} frame_t;

typedef struct {
    frame_t *f;
    size_t n;
    int dlt;
    int64_t span; /* ns from the first to the last frame */
    uint64_t payload;
} cap_t;

static int be16(const uint8_t *p) { return p[0] << 8 | p[1]; }

/* L3 offset for the link types of the seed's captures and ours */
static int l3_off(int dlt, const uint8_t *p, uint32_t len, int *v4) {
    int off = -1, et = -1;
    if (dlt == DLT_EN10MB && len >= 14) {
        off = 14;
        et = be16(p + 12);
        while ((et == 0x8100 || et == 0x88a8) && len >= (uint32_t)off + 4) {
            et = be16(p + off + 2);
            off += 4;
        }
    } else if ((dlt == DLT_NULL || dlt == DLT_LOOP) && len >= 5) {
        off = 4;
        et = (p[4] >> 4) == 4 ? 0x0800 : 0x86dd;
    } else if (dlt == DLT_RAW && len >= 1) {
        off = 0;
        et = (p[0] >> 4) == 4 ? 0x0800 : 0x86dd;
    }
    if (off < 0 || (et != 0x0800 && et != 0x86dd)) return -1;
    *v4 = et == 0x0800;
    return off;
}

static void load(cap_t *c, const char *path) {
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
    if (!p) {
        fprintf(stderr, "benchrun: %s: %s\n", path, eb);
        exit(1);
    }
    memset(c, 0, sizeof *c);
    c->dlt = pcap_datalink(p);
    size_t cap = 0;
    struct pcap_pkthdr *h;
    const u_char *d;
    int64_t t0 = 0;
    uint8_t cli[16];
    int cli_port = -1, cli_alen = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        if (c->n == cap) {
            c->f = realloc(c->f, (cap = cap ? cap * 2 : 64) * sizeof *c->f);
            if (!c->f) die("out of memory");
        }
        frame_t *f = &c->f[c->n++];
        f->data = malloc(h->caplen ? h->caplen : 1);
        if (!f->data) die("out of memory");
        memcpy(f->data, d, h->caplen);
        f->len = h->caplen;
        int64_t ts = (int64_t)h->ts.tv_sec * 1000000000LL + h->ts.tv_usec;
        if (c->n == 1) t0 = ts;
        f->ts = ts - t0 < 0 ? 0 : ts - t0;
        if (f->ts > c->span) c->span = f->ts;
        f->port_off = -1;
        int v4;
        int o = l3_off(c->dlt, f->data, f->len, &v4);
        if (o < 0) continue;
        const uint8_t *ip = f->data + o;
        uint32_t rest = f->len - (uint32_t)o, hl, proto, iplen;
        const uint8_t *src;
        int alen = v4 ? 4 : 16;
        if (v4) {
            if (rest < 20) continue;
            hl = (ip[0] & 15) * 4u;
            proto = ip[9];
            src = ip + 12;
            iplen = (uint32_t)be16(ip + 2);
        } else {
            if (rest < 40) continue;
            hl = 40;
            proto = ip[6];
            src = ip + 8;
            iplen = 40 + (uint32_t)be16(ip + 4);
        }
        if (iplen > rest) iplen = rest;
        if ((proto != 6 && proto != 17) || iplen < hl + 8) continue;
        const uint8_t *l4 = ip + hl;
        uint32_t l4len = iplen - hl;
        if (proto == 6) {
            uint32_t th = (l4[12] >> 4) * 4u;
            if (l4len >= th) c->payload += l4len - th;
        } else
            c->payload += l4len - 8;
        /* the client: the sender of the first TCP/UDP frame, but the receiver of a SYN-ACK
           or, with no SYN, of a frame from the lower port (captures picked up mid-stream,
           such as the seed's smtp.pcap, start with the server's packet) */
        int sp = be16(l4), dp = be16(l4 + 2);
        if (cli_port < 0) {
            int synack = proto == 6 && (l4[13] & 0x12) == 0x12;
            if (!(proto == 6 && (l4[13] & 0x02))) synack = synack || sp < dp;
            memcpy(cli, synack ? (v4 ? ip + 16 : ip + 24) : src, (size_t)alen);
            cli_port = synack ? dp : sp;
            cli_alen = alen;
        }
        if (alen == cli_alen && !memcmp(src, cli, (size_t)alen) && sp == cli_port)
            f->port_off = (int)(l4 - f->data);
        else if (dp == cli_port)
            f->port_off = (int)(l4 - f->data) + 2;
    }
    pcap_close(p);
    if (!c->n) die("empty capture");
}

/* Seed rows and new flow are timed in CPU time of this thread, not wall time: the machine is
 * shared, and a waiting process would otherwise count the other processes' time. The
 * large-input modes are timed by bench.py (wall and CPU both). */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* one timed run of a seed row: MiB/s */
static double seed_run(cap_t *c, const char *proto, int fresh_engine, double secs, uint64_t *iters_out,
                       uint64_t *events_out) {
    counter_t cnt = {0, 0};
    eng_t *e = NULL;
    if (!fresh_engine) {
        e = eng_new();
        subscribe(e, proto, &cnt);
    }
    int64_t base = 1700000000LL * 1000000000LL;
    uint64_t it = 0;
    double t0 = now_s(), t1;
    do {
        for (int k = 0; k < 16; k++, it++) {
            if (fresh_engine) {
                e = eng_new();
                subscribe(e, proto, &cnt);
            } else {
                uint16_t port = (uint16_t)(20000 + it % 40000);
                for (size_t i = 0; i < c->n; i++)
                    if (c->f[i].port_off >= 0 && (uint32_t)c->f[i].port_off + 2 <= c->f[i].len) {
                        c->f[i].data[c->f[i].port_off] = (uint8_t)(port >> 8);
                        c->f[i].data[c->f[i].port_off + 1] = (uint8_t)port;
                    }
            }
            for (size_t i = 0; i < c->n; i++)
                eng_feed(e, base + c->f[i].ts, c->dlt, c->f[i].data, c->f[i].len, c->f[i].len);
            base += c->span + 1000000; /* the next flow starts 1 ms after this one's last frame */
            if (fresh_engine) {
                eng_free(e);
                e = NULL;
            }
        }
        t1 = now_s();
    } while (t1 - t0 < secs);
    if (e) {
        if (getenv("BENCHRUN_DEBUG")) {
            const eng_stats_t *st = eng_stats(e);
            fprintf(stderr, "debug: packets %" PRIu64 " flows %" PRIu64 " delivered %" PRIu64 " weirds %" PRIu64 " events %" PRIu64 "\n",
                    st->packets, st->flows, st->tcp_bytes_delivered, st->weirds, cnt.events);
        }
        eng_free(e);
    }
    *iters_out = it;
    *events_out = cnt.events / (it ? it : 1);
    return (double)c->payload * (double)it / (t1 - t0) / (1024.0 * 1024.0);
}

static int run_seed(int argc, char **argv) {
    double secs = 0.5;
    int runs = 3, i = 0;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc) die("missing option value");
        if (!strcmp(argv[i], "-t")) secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-n")) runs = atoi(argv[i + 1]);
        else die("unknown option");
    }
    if (runs < 1 || runs > 99) die("bad -n");
    if (i >= argc) die("usage: benchrun seed [-t S] [-n N] DIR CAPTURE[=PROTO]...");
    const char *dir = argv[i++];
    for (; i < argc; i++) {
        char name[256], path[1024];
        snprintf(name, sizeof name, "%s", argv[i]);
        char *eq = strchr(name, '=');
        const char *proto = eq ? eq + 1 : NULL;
        if (eq) *eq = 0;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (!proto) die("CAPTURE=PROTO expected");
        cap_t c;
        load(&c, path);
        for (int way = 0; way < 2; way++) {
            double v[99];
            uint64_t iters = 0, ev = 0;
            for (int r = 0; r < runs; r++) v[r] = seed_run(&c, proto, way, secs, &iters, &ev);
            qsort(v, (size_t)runs, sizeof v[0], cmp_d);
            printf("seed %s %s mibs=%.0f min=%.0f max=%.0f iters=%" PRIu64 " payload=%" PRIu64
                   " events=%" PRIu64 "\n",
                   name, way ? "engine" : "ports", v[runs / 2], v[0], v[runs - 1], iters, c.payload, ev);
            fflush(stdout);
        }
        for (size_t k = 0; k < c.n; k++) free(c.f[k].data);
        free(c.f);
    }
    return 0;
}

/* ---- new flow + decoder -------------------------------------------------- */
/* Ethernet/IPv4/TCP frames from 10.X.Y.1:PORT to 192.168.0.1:80. "syn": one SYN per fresh
 * 5-tuple, the flow alone (no payload, so no decoder yet). "decoder": the SYN, then a data
 * packet "GET / HTTP/1.1\r\n" (seq ISN+1), so that content detection attaches the HTTP
 * decoder (its init) and the decoder reads the request line: a flow with its decoder at
 * work, two packets. (A first packet with data but no SYN is held by the reassembler until
 * the peer speaks, tcp.c, so it would not reach the decoder.) */
static size_t mkframe(uint8_t *f, int syn, const char *req) {
    size_t pl = syn ? 0 : strlen(req);
    memset(f, 0, 54);
    f[0] = 2; f[6] = 2; f[12] = 8;
    uint8_t *ip = f + 14, *tcp = f + 34;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((40 + pl) >> 8); ip[3] = (uint8_t)(40 + pl);
    ip[8] = 64; ip[9] = 6;
    ip[12] = 10; ip[15] = 1;
    ip[16] = 192; ip[17] = 168; ip[19] = 1;
    tcp[3] = 80;
    tcp[7] = syn ? 1 : 2;
    tcp[12] = 0x50;
    tcp[13] = syn ? 0x02 : 0x18;
    tcp[14] = 0xff;
    memcpy(f + 54, req, pl);
    return 54 + pl;
}

static int run_newflow(int argc, char **argv) {
    int runs = argc >= 2 && !strcmp(argv[0], "-n") ? atoi(argv[1]) : 3;
    const char *only = getenv("BENCHRUN_NEWFLOW"); /* syn, decoder or churn alone (profiling) */
    if (runs < 1 || runs > 99) die("bad -n");
    const int N = 200000;
    /* way 1 "syn", 0 "decoder": 200k flows kept open (the table grows to hold them, every
     * flow on fresh memory). way 2 "churn": SYN + request with flow.max=1024, so each new
     * flow evicts the oldest (a half-open one, its decoder ended): a flow's whole life, on
     * a warm table and recycled memory, which is what a fresh flow per iteration measures */
    for (int way = 1; way >= -1; way--) {
        int syn = way == 1, churn = way == -1;
        if (only && strcmp(only, syn ? "syn" : churn ? "churn" : "decoder")) continue;
        double v[99];
        for (int r = 0; r < runs; r++) {
            uint8_t f[128], g[128];
            /* churn: a whole request (its blank line), so the flow's end is no weird */
            size_t len = mkframe(f, 1, ""),
                   glen = mkframe(g, 0, churn ? "GET / HTTP/1.1\r\nHost: a\r\n\r\n" : "GET / HTTP/1.1\r\n");
            counter_t cnt = {0, 0};
            eng_t *e = eng_new();
            if (churn) {
                char err[128];
                if (eng_config_set(e, "flow.max", "1024", err, sizeof err)) die(err);
            }
            subscribe(e, "http", &cnt);
            int64_t ts = 1700000000LL * 1000000000LL;
            double t0 = now_s();
            for (int i = 0; i < N; i++) {
                /* a fresh 5-tuple: client address and port from i */
                f[14 + 13] = (uint8_t)(i >> 16); /* 10.X.Y.1 port 0x50ZZ, XYZ = i */
                f[14 + 14] = (uint8_t)(i >> 8);
                f[34] = 0x50;
                f[35] = (uint8_t)i;
                eng_feed(e, ts + i, DLT_EN10MB, f, (uint32_t)len, (uint32_t)len);
                if (!syn) {
                    memcpy(g + 26, f + 26, 4);
                    memcpy(g + 34, f + 34, 2);
                    eng_feed(e, ts + i, DLT_EN10MB, g, (uint32_t)glen, (uint32_t)glen);
                }
            }
            double t1 = now_s();
            if (getenv("BENCHRUN_DEBUG"))
                fprintf(stderr, "debug: flows %" PRIu64 " delivered %" PRIu64 " service %" PRIu64 " weirds %" PRIu64 "\n",
                        eng_stats(e)->flows, eng_stats(e)->tcp_bytes_delivered,
                        eng_stats(e)->events_fired[ENG_EV_FLOW_SERVICE], eng_stats(e)->weirds);
            if (getenv("BENCHRUN_DEBUG"))
                for (int k = 0; eng_weird_name(e, k, NULL); k++) {
                    uint64_t c = 0;
                    const char *wn = eng_weird_name(e, k, &c);
                    fprintf(stderr, "debug: weird %s %" PRIu64 "\n", wn, c);
                }
            if (!syn && eng_stats(e)->events_fired[ENG_EV_HTTP_REQUEST] + eng_stats(e)->events_fired[ENG_EV_FLOW_SERVICE] < (uint64_t)N)
                die("newflow: the HTTP decoder was not attached");
            v[r] = (t1 - t0) * 1e9 / N;
            eng_free(e); /* not timed: ending 200k flows */
        }
        qsort(v, (size_t)runs, sizeof v[0], cmp_d);
        printf("newflow %s ns=%.0f min=%.0f max=%.0f\n", syn ? "syn" : churn ? "churn" : "decoder", v[runs / 2], v[0],
               v[runs - 1]);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "reassembly")) return run_file("reassembly", NULL, argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "decode")) return run_file("decode", argv[2], argv[3]);
    if (argc >= 2 && !strcmp(argv[1], "seed")) return run_seed(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "newflow")) return run_newflow(argc - 2, argv + 2);
    fprintf(stderr, "usage: benchrun reassembly IN | decode PROTO IN | seed [-t S] [-n N] DIR CAP=PROTO... |"
                    " newflow [-n N]\n");
    return 2;
}
