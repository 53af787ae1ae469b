/* cli.c - the `engine` command line (shared/spec/cli.md): parse options, set
 * up an engine instance and its Lua bridge, read a capture or an interface,
 * and report. Exit status: 0 ok, 1 runtime failure, 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <luajit.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "lua_bridge.h"
#include "lua_repl.h"
#include "lua_workers.h"

#define MAX_ITEMS 256 /* -s, -e and --set given at most this many times each */

static volatile int g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

typedef struct opts {
    const char *rfile, *iface, *bpf, *outdir;
    const char *scripts[MAX_ITEMS];
    int nscripts;
    const char *chunks[MAX_ITEMS];
    int nchunks;
    const char *sets[MAX_ITEMS];
    int nsets;
    long jobs;
    int repl, stats, list_events, quiet, help, version;
} opts_t;

/* ---- messages ------------------------------------------------------------ */

static void usage_line(FILE *f) {
    fputs("usage: engine [-r FILE | -i IFACE] [-f BPF] [-s SCRIPT]... [-e LUA] [-o DIR] [-j N]\n"
          "              [--set KEY=VALUE]... [--repl] [--stats] [--list-events] [-q] [-h] [-V]\n",
          f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("engine: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    usage_line(stderr);
    fputs("Try 'engine -h' for more information.\n", stderr);
    return 2;
}

static void help(void) {
    usage_line(stdout);
    fputs("\nAnalyse network traffic with Lua policy scripts; write JSON logs.\n\n"
          "  -r FILE            read a capture file (pcap or pcapng); '-' reads standard input\n"
          "  -i IFACE           live capture on an interface; SIGINT/SIGTERM stop cleanly\n"
          "  -f BPF             BPF filter applied to the input (libpcap syntax)\n"
          "  -s SCRIPT          load a Lua policy script; repeatable, loaded in order\n"
          "  -e LUA             run a Lua chunk after the scripts; repeatable\n"
          "  -o DIR             write each log stream to DIR/<stream>.log (created if missing)\n"
          "  -j N               N worker threads on a capture file: flows sharded by their\n"
          "                     address pair, a Lua state each, the same records (docs/guide.md)\n"
          "  --set KEY=VALUE    override a configuration value, e.g. --set tcp.overlap=last\n"
          "  --repl             interactive Lua prompt after the scripts load; with -r the\n"
          "                     capture is read by run()/step() (help() lists the helpers)\n"
          "  --stats            print counters to standard error at exit\n"
          "  --list-events      print the event catalogue with fields, then exit\n"
          "  -q                 no progress output\n"
          "  -h, --help         this help\n"
          "  -V, --version      version\n"
          "\nengine test [BUSTED-OPTION]... [DIR]...\n"
          "                     run the busted specs in DIR (default spec/) under LuaJIT with\n"
          "                     require \"engine.testing\" available (docs/testing.md)\n"
          "\nWithout -s or -e the default scripts (scripts/default.lua) run and write the\n"
          "standard logs (conn, weird, files, http, smtp, pop3, imap, ssl, x509, dns, ftp,\n"
          "sip); --repl starts without them (docs/repl.md).\n"
          "Without -o every record goes to standard output as one JSON object a line,\n"
          "with a \"_path\" field naming its stream.\n"
          "\nExit status: 0 success (a capture cut off mid-record is a warning), 1 runtime\n"
          "failure (unreadable capture, script error), 2 usage error.\n",
          stdout);
}

static void version(void) {
    printf("engine %s\n%s\n%s\n", ENG_VERSION, LUAJIT_VERSION, pcap_lib_version());
}

/* ---- --list-events ------------------------------------------------------- */

static const char *type_name(int t) {
    switch (t) {
    case ENG_T_STR: return "string";
    case ENG_T_INT: return "int";
    case ENG_T_NUM: return "number";
    case ENG_T_BOOL: return "bool";
    case ENG_T_LIST: return "list";
    case ENG_T_MAP: return "map";
    default: return "?";
    }
}

static void list_events(void) {
    int n = eng_event_count();
    for (int k = 0; k < n; k++) {
        int nf = eng_event_nfields(k);
        int w = 5;
        for (int i = 0; i < nf; i++) {
            int l = (int)strlen(eng_event_field_name(k, i));
            if (l > w) w = l;
        }
        printf("%s\n    when: %s\n", eng_event_name(k), eng_event_doc(k));
        if (nf == 0) printf("    (no fields)\n");
        for (int i = 0; i < nf; i++)
            printf("    %-*s  %-6s  %s\n", w, eng_event_field_name(k, i),
                   type_name(eng_event_field_type(k, i)), eng_event_field_doc(k, i));
        if (k + 1 < n) putchar('\n');
    }
}

/* ---- progress ------------------------------------------------------------- */

typedef struct progress {
    int show;           /* draw the line (stderr is a terminal, no -q) */
    int drawn;          /* width of the line on screen, 0 when none */
    int64_t start_ns;
    lbr_t *lbr;         /* to stop the read early when the bridge failed */
} progress_t;

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fmt_bytes(char *buf, size_t len, uint64_t b) {
    double v = (double)b;
    if (b >= (1ull << 30)) snprintf(buf, len, "%.1f GiB", v / (1ull << 30));
    else snprintf(buf, len, "%.1f MiB", v / (1ull << 20));
}

static void progress_clear(progress_t *pg) {
    if (pg->drawn) {
        fprintf(stderr, "\r%*s\r", pg->drawn, "");
        fflush(stderr);
        pg->drawn = 0;
    }
}

static void on_progress(void *user, uint64_t bytes, uint64_t total, uint64_t packets) {
    progress_t *pg = user;
    if (pg->lbr && lbr_failed(pg->lbr)) g_stop = 1;
    if (!pg->show) return;
    double secs = (double)(mono_ns() - pg->start_ns) / 1e9;
    if (!pg->drawn && secs < 0.5) return; /* a short run shows nothing */
    if (secs <= 0) secs = 1e-9;
    char line[160], a[32], b[32];
    int n;
    double kpps = (double)packets / secs / 1000.0;
    if (bytes && total && bytes <= total) {
        fmt_bytes(a, sizeof a, bytes);
        fmt_bytes(b, sizeof b, total);
        double rate = (double)bytes / secs;
        long eta = rate > 0 ? (long)((double)(total - bytes) / rate + 0.5) : 0;
        n = snprintf(line, sizeof line, "  %s / %s  (%d%%)  %.1f kpkt/s  ETA %ld:%02ld", a, b,
                     (int)(bytes * 100 / total), kpps, eta / 60, eta % 60);
    } else if (bytes) {
        fmt_bytes(a, sizeof a, bytes);
        n = snprintf(line, sizeof line, "  %s  %llu packets  %.1f kpkt/s", a,
                     (unsigned long long)packets, kpps);
    } else {
        n = snprintf(line, sizeof line, "  %llu packets  %.1f kpkt/s",
                     (unsigned long long)packets, kpps);
    }
    if (n < 0) return;
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    int pad = pg->drawn > n ? pg->drawn - n : 0;
    fprintf(stderr, "\r%s%*s", line, pad, "");
    fflush(stderr);
    pg->drawn = n + pad;
}

/* ---- --stats -------------------------------------------------------------- */

static void stat_line(const char *name, uint64_t v) {
    fprintf(stderr, "  %-26s %12llu\n", name, (unsigned long long)v);
}

static void print_stats(const eng_t *e) {
    const eng_stats_t *s = eng_stats(e);
    fprintf(stderr, "packets\n");
    stat_line("packets", s->packets);
    stat_line("bytes", s->bytes);
    stat_line("truncated", s->truncated);
    stat_line("non-IP", s->non_ip);
    stat_line("bad IP", s->ip_errors);
    fprintf(stderr, "flows\n");
    stat_line("total", s->flows);
    stat_line("evicted", s->flows_evicted);
    stat_line("timed out", s->flows_timed_out);
    fprintf(stderr, "TCP reassembly\n");
    stat_line("segments", s->tcp_segments);
    stat_line("in order", s->tcp_in_order);
    stat_line("out of order", s->tcp_out_of_order);
    stat_line("retransmitted", s->tcp_retransmitted);
    stat_line("overlaps", s->tcp_overlaps);
    stat_line("overlap conflicts", s->tcp_overlap_conflicts);
    stat_line("gaps", s->tcp_gaps);
    stat_line("gap bytes", s->tcp_gap_bytes);
    stat_line("bytes delivered", s->tcp_bytes_delivered);
    stat_line("bytes buffered at peak", s->tcp_buffered_peak);
    fprintf(stderr, "UDP\n");
    stat_line("datagrams", s->udp_datagrams);
    fprintf(stderr, "IP fragments\n");
    stat_line("seen", s->frags);
    stat_line("reassembled", s->frags_reassembled);
    stat_line("timed out", s->frags_timed_out);
    stat_line("overlapping", s->frags_overlapping);
    fprintf(stderr, "weirds\n");
    stat_line("total", s->weirds);
    uint64_t c;
    const char *w;
    for (int i = 0; (w = eng_weird_name(e, i, &c)) != NULL; i++) stat_line(w, c);
    fprintf(stderr, "%-28s %12s %12s\n", "events", "fired", "handler ms");
    for (int k = 0; k < ENG_EV_COUNT; k++) {
        if (!s->events_fired[k]) continue;
        fprintf(stderr, "  %-26s %12llu %12.3f\n", eng_event_name(k),
                (unsigned long long)s->events_fired[k], (double)s->handler_ns[k] / 1e6);
    }
    fprintf(stderr, "Lua\n");
    stat_line("handler errors", s->handler_errors);
}

/* ---- helpers --------------------------------------------------------------- */

/* mkdir -p; 0 or -1 with errno set */
static int make_dirs(const char *path) {
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int add_item(const char **v, int *n, const char *s, const char *what) {
    if (*n >= MAX_ITEMS) {
        fprintf(stderr, "engine: too many %s options (at most %d)\n", what, MAX_ITEMS);
        return -1;
    }
    v[(*n)++] = s;
    return 0;
}

enum { OPT_SET = 256, OPT_REPL, OPT_STATS, OPT_LIST };

static int parse(int argc, char **argv, opts_t *o) {
    static const struct option longs[] = {
        {"set", required_argument, NULL, OPT_SET},
        {"repl", no_argument, NULL, OPT_REPL},
        {"stats", no_argument, NULL, OPT_STATS},
        {"list-events", no_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->jobs = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":r:i:f:s:e:o:j:qhV", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->rfile) return usage_error("-r given twice");
            o->rfile = optarg;
            break;
        case 'i':
            if (o->iface) return usage_error("-i given twice");
            o->iface = optarg;
            break;
        case 'f': o->bpf = optarg; break;
        case 's':
            if (add_item(o->scripts, &o->nscripts, optarg, "-s") < 0) return 2;
            break;
        case 'e':
            if (add_item(o->chunks, &o->nchunks, optarg, "-e") < 0) return 2;
            break;
        case 'o': o->outdir = optarg; break;
        case 'j': {
            char *end;
            errno = 0;
            long j = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || j < 1 || j > 1024)
                return usage_error("-j %s: expected a number of workers from 1 to 1024", optarg);
            o->jobs = j;
            break;
        }
        case OPT_SET:
            if (!strchr(optarg, '=') || optarg[0] == '=')
                return usage_error("--set %s: expected KEY=VALUE", optarg);
            if (add_item(o->sets, &o->nsets, optarg, "--set") < 0) return 2;
            break;
        case OPT_REPL: o->repl = 1; break;
        case OPT_STATS: o->stats = 1; break;
        case OPT_LIST: o->list_events = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': o->help = 1; break;
        case 'V': o->version = 1; break;
        case ':': {
            char opt[64];
            if (optopt > 0 && optopt < 256) snprintf(opt, sizeof opt, "-%c", optopt);
            else snprintf(opt, sizeof opt, "%s", argv[optind - 1]);
            return usage_error("option %s needs an argument", opt);
        }
        default: {
            char opt[64];
            if (optopt > 0 && optopt < 256) snprintf(opt, sizeof opt, "-%c", optopt);
            else snprintf(opt, sizeof opt, "%s", argv[optind - 1]);
            return usage_error("unknown option %s", opt);
        }
        }
    }
    if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
    if (o->help || o->version || o->list_events) return 0;
    if (o->rfile && o->iface) return usage_error("give -r FILE or -i IFACE, not both");
    if (o->bpf && *o->bpf) {
        /* a filter that does not compile is the user's to fix: a usage error, before any
         * input is opened (compiled for Ethernet; one valid only for another link type is
         * caught when the capture is opened, exit 1) */
        pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
        struct bpf_program prog;
        if (dead && pcap_compile(dead, &prog, o->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", pcap_geterr(dead));
            pcap_close(dead);
            return usage_error("-f '%s': %s", o->bpf, msg);
        }
        if (dead) {
            pcap_freecode(&prog);
            pcap_close(dead);
        }
    }
    if (o->repl) {
        if (o->iface) return usage_error("--repl reads a capture file (-r FILE), not an interface");
        if (o->rfile && strcmp(o->rfile, "-") == 0)
            return usage_error("--repl reads its commands from standard input: -r - is not possible");
        return 0;
    }
    if (!o->rfile && !o->iface) return usage_error("no input: give -r FILE or -i IFACE");
    return 0;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void on_progress_done(void *user) { progress_clear(user); }

/* -j N on a capture file (engine/lua_workers.c) */
static int run_workers(const opts_t *o) {
    if (o->outdir && make_dirs(o->outdir) != 0) {
        fprintf(stderr, "engine: %s: %s\n", o->outdir, strerror(errno));
        return 1;
    }
    install_signals();
    progress_t pg = {0, 0, mono_ns(), NULL};
    pg.show = !o->quiet && isatty(STDERR_FILENO);
    lwk_args_t a = {o->rfile, o->bpf, o->outdir, o->scripts, o->nscripts, o->chunks, o->nchunks,
                    o->sets, o->nsets, (int)o->jobs, o->stats, o->quiet, &g_stop,
                    on_progress, &pg, on_progress_done, print_stats};
    int status = lwk_run(&a);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "engine: standard output: %s\n", strerror(errno));
        status = 1;
    }
    return status;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv) {
    /* `engine test [BUSTED-ARG]... [DIR]...`: run busted specs (docs/testing.md) */
    if (argc > 1 && strcmp(argv[1], "test") == 0) return lbr_test_main(argc - 1, argv + 1);
    opts_t o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    if (o.help) {
        help();
        return 0;
    }
    if (o.version) {
        version();
        return 0;
    }
    if (o.list_events) {
        list_events();
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (o.jobs > 1 && (o.iface || o.repl) && !o.quiet)
        fprintf(stderr, "engine: -j %ld: %s runs one worker in this version\n", o.jobs,
                o.iface ? "live capture" : "--repl");
    if (o.jobs > 1 && o.rfile && !o.repl) return run_workers(&o);

    char err[1024];
    eng_t *e = eng_new();
    if (!e) {
        fprintf(stderr, "engine: out of memory\n");
        return 1;
    }
    {
        /* uids and fuids differ from run to run, as Zeek's do, so the logs of two runs
         * never share one; --set engine.seed=N (applied next) makes them repeatable */
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
            seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        char sv[32];
        snprintf(sv, sizeof sv, "%llu", (unsigned long long)(seed >> 1));
        eng_config_set(e, "engine.seed", sv, err, sizeof err);
    }
    for (int i = 0; i < o.nsets; i++) {
        char kv[512];
        const char *eq = strchr(o.sets[i], '=');
        size_t kl = (size_t)(eq - o.sets[i]);
        if (kl >= sizeof kv) kl = sizeof kv - 1;
        memcpy(kv, o.sets[i], kl);
        kv[kl] = 0;
        if (eng_config_set(e, kv, eq + 1, err, sizeof err) != 0) {
            fprintf(stderr, "engine: --set %s: %s\n", o.sets[i], err);
            eng_free(e);
            return 2;
        }
    }
    if (o.outdir && make_dirs(o.outdir) != 0) {
        fprintf(stderr, "engine: %s: %s\n", o.outdir, strerror(errno));
        eng_free(e);
        return 1;
    }
    if (o.stats) eng_stats_timing(e, 1);

    err[0] = 0;
    lbr_t *lb = lbr_new(e, NULL, o.outdir, err, sizeof err);
    if (!lb) {
        fprintf(stderr, "engine: %s\n", err[0] ? err : "cannot start Lua");
        eng_free(e);
        return 1;
    }
    int fail = 0;
    repl_t *rp = NULL;
    if (o.repl) {
        err[0] = 0;
        rp = repl_new(e, lb, o.rfile, o.bpf, err, sizeof err);
        if (!rp) {
            fprintf(stderr, "engine: %s\n", err[0] ? err : "cannot start the REPL");
            fail = 1;
        }
    }
    for (int i = 0; i < o.nscripts && !fail; i++) {
        err[0] = 0;
        if (rp ? repl_load_script(rp, o.scripts[i], err, sizeof err) != 0
               : lbr_load_file(lb, o.scripts[i], err, sizeof err) != 0) {
            fprintf(stderr, "engine: %s\n", err[0] ? err : o.scripts[i]);
            fail = 1;
        }
    }
    for (int i = 0; i < o.nchunks && !fail; i++) {
        char name[32];
        if (o.nchunks > 1) snprintf(name, sizeof name, "=(-e #%d)", i + 1);
        else snprintf(name, sizeof name, "=(-e)");
        err[0] = 0;
        if (lbr_load_string(lb, o.chunks[i], name, err, sizeof err) != 0) {
            fprintf(stderr, "engine: %s\n", err[0] ? err : "-e chunk failed");
            fail = 1;
        }
    }
    if (!fail && o.nscripts == 0 && o.nchunks == 0 && !o.repl) {
        err[0] = 0;
        if (lbr_load_default(lb, err, sizeof err) != 0) {
            fprintf(stderr, "engine: %s\n", err[0] ? err : "cannot load the default scripts");
            fail = 1;
        }
    }
    if (fail) {
        repl_free(rp);
        lbr_free(lb);
        eng_free(e);
        return 1;
    }
    if (rp) {
        /* the REPL reads the capture itself (run/step); at the end the
         * instance is finished like after a normal run */
        int status = repl_loop(rp);
        repl_free(rp);
        eng_finish(e);
        if (lbr_failed(lb)) {
            const char *m = lbr_error(lb);
            fprintf(stderr, "engine: %s\n", m && *m ? m : "a script failed");
            status = 1;
        }
        if (o.stats) print_stats(e);
        lbr_free(lb);
        eng_free(e);
        if (fflush(stdout) != 0 && status == 0) status = 1;
        return status;
    }

    install_signals();

    progress_t pg = {0, 0, mono_ns(), lb};
    pg.show = o.rfile && !o.quiet && isatty(STDERR_FILENO);
    eng_set_progress(e, on_progress, &pg);

    err[0] = 0;
    int r;
    if (o.rfile) r = eng_read_file_until(e, o.rfile, o.bpf, &g_stop, err, sizeof err);
    else r = eng_read_live(e, o.iface, o.bpf, &g_stop, err, sizeof err);
    progress_clear(&pg);
    eng_set_progress(e, NULL, NULL);

    int status = 0;
    if (r == 1) {
        fprintf(stderr, "engine: %s\n", err[0] ? err : "cannot read the input");
        status = 1;
    } else if (r == 2) {
        fprintf(stderr, "engine: warning: %s\n", err);
    }
    if (g_stop && o.rfile && !lbr_failed(lb) && !o.quiet)
        fprintf(stderr, "engine: interrupted; flushing flows and logs\n");

    eng_finish(e);
    {
        /* a link type the engine does not decode: said once, and a run in which no
         * packet could be decoded at all fails */
        int lt[4];
        uint64_t np[4], skipped = 0;
        int n = eng_unsupported_links(e, lt, np, 4);
        for (int i = 0; i < n && i < 4; i++) {
            const char *nm = pcap_datalink_val_to_name(lt[i]);
            const char *ds = pcap_datalink_val_to_description(lt[i]);
            fprintf(stderr, "engine: link type %d (%s%s%s) is not decoded: %llu packets skipped\n",
                    lt[i], nm ? nm : "unknown", ds ? ", " : "", ds ? ds : "",
                    (unsigned long long)np[i]);
            skipped += np[i];
        }
        const eng_stats_t *st = eng_stats(e);
        if (n && skipped == st->packets && status == 0) {
            fprintf(stderr, "engine: no packet of the input could be decoded\n");
            status = 1;
        }
    }
    if (lbr_failed(lb)) {
        const char *m = lbr_error(lb);
        fprintf(stderr, "engine: %s\n", m && *m ? m : "a script failed");
        status = 1;
    }
    if (o.stats) print_stats(e);
    lbr_free(lb);
    eng_free(e);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "engine: standard output: %s\n", strerror(errno));
        status = 1;
    }
    return status;
}
