/* cli.c - the `engine` command line (docs/reference/cli.md): parse options, set
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
    const char *rfiles[MAX_ITEMS]; /* -r FILE and positional files, read in order */
    int nrfiles;
    long jobs;
    int repl, stats, list_events, list_config, markdown, quiet, help, version;
} opts_t;

/* ---- messages ------------------------------------------------------------ */

static void usage_line(FILE *f) {
    fputs("usage: engine [-r FILE]... [-i IFACE] [-f BPF] [-s SCRIPT]... [-e LUA] [-o DIR] [-j N]\n"
          "              [--set KEY=VALUE]... [--repl] [--stats] [--list-events] [--list-config]\n"
          "              [--format=markdown] [-q] [-h] [-V] [FILE]...\n",
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
          "  -r FILE            read a capture file (pcap or pcapng); '-' reads standard input;\n"
          "                     repeatable, and files may follow the options: read in order\n"
          "                     as one timeline (flows carry over from one file to the next)\n"
          "  -i IFACE           live capture on an interface; SIGINT/SIGTERM stop cleanly\n"
          "  -f BPF             BPF filter applied to the input (libpcap syntax)\n"
          "  -s SCRIPT          load a Lua policy script; repeatable, loaded in order\n"
          "  -e LUA             run a Lua chunk after the scripts; repeatable\n"
          "  -o DIR             write each log stream to DIR/<stream>.log (created if missing)\n"
          "  -j N               N worker threads (a capture file or -i): flows sharded by their\n"
          "                     address pair, a Lua state each, the same records in time order\n"
          "                     (log.ordered; docs/guide.md)\n"
          "  --set KEY=VALUE    override a configuration value, e.g. --set tcp.overlap=last;\n"
          "                     log.format=tsv (Zeek's TSV logs, with -o), log.rotate=SECONDS\n"
          "  --repl             interactive Lua prompt after the scripts load; with -r the\n"
          "                     capture is read by run()/step() (help() lists the helpers)\n"
          "  --stats            print counters to standard error at exit\n"
          "  --list-events      print the event catalogue with fields, and the flow fields, then exit\n"
          "  --list-config      print the configuration keys with type, default and meaning, then exit\n"
          "  --format=markdown  --list-events / --list-config print Markdown tables\n"
          "                     (docs/reference/events.md and config.md are made so)\n"
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

typedef struct flow_field {
    const char *name, *type, *doc;
} flow_field_t;
static const flow_field_t flow_fields[] = {
#define FLOW_FIELD(n, t, d) {#n, t, d},
#include "flowfields.def"
#undef FLOW_FIELD
};
#define NFLOWFIELDS ((int)(sizeof flow_fields / sizeof flow_fields[0]))

/* a table cell: | would end the cell */
static void md_cell(const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", stdout);
        else putchar(*s);
    }
}

static void list_events_md(void) {
    int n = eng_event_count();
    fputs("# Events and flow fields\n\n"
          "<!-- generated by `engine --list-events --format=markdown` from engine/events.def and\n"
          "     engine/flowfields.def: do not edit; tests/tools/gen-refdocs.sh rewrites it and\n"
          "     tests/e2e/test_refdocs.sh fails when it differs -->\n\n"
          "A handler `engine.on(name, function(flow, ev) ... end)` gets the event's fields as\n"
          "`ev.NAME` (types below; a field the decoder had no value for reads `nil`; a name the\n"
          "event does not have is an error naming the nearest one) and the flow as `flow`\n"
          "(`nil` for `engine.*` events, and for `weird` outside a flow). The owner is the\n"
          "decoder that fires the event (`core`: the engine itself). Lua API: lua-api.md.\n\n"
          "## Events\n\n",
          stdout);
    for (int k = 0; k < n; k++) {
        const char *owner = eng_event_owner(k);
        printf("### `%s`\n\n", eng_event_name(k));
        fputs("Fires: ", stdout);
        md_cell(eng_event_doc(k));
        printf(". Owner: %s.\n\n", owner && *owner ? owner : "core");
        int nf = eng_event_nfields(k);
        if (nf == 0) {
            fputs("No fields.\n\n", stdout);
            continue;
        }
        fputs("| field | type | meaning |\n| --- | --- | --- |\n", stdout);
        for (int i = 0; i < nf; i++) {
            printf("| `%s` | %s | ", eng_event_field_name(k, i), type_name(eng_event_field_type(k, i)));
            md_cell(eng_event_field_doc(k, i));
            fputs(" |\n", stdout);
        }
        putchar('\n');
    }
    fputs("## Flow fields\n\n"
          "`flow.NAME` in a handler; read-only but for `flow.data`. Reading a name not listed\n"
          "is an error naming the nearest one.\n\n"
          "| field | type | meaning |\n| --- | --- | --- |\n",
          stdout);
    for (int i = 0; i < NFLOWFIELDS; i++) {
        printf("| `%s` | %s | ", flow_fields[i].name, flow_fields[i].type);
        md_cell(flow_fields[i].doc);
        fputs(" |\n", stdout);
    }
}

static void list_events(int md) {
    if (md) {
        list_events_md();
        return;
    }
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
        putchar('\n');
    }
    printf("flow (fields of the flow a handler gets)\n");
    for (int i = 0; i < NFLOWFIELDS; i++)
        printf("    %-14s  %-6s  %s\n", flow_fields[i].name, flow_fields[i].type, flow_fields[i].doc);
}

/* ---- --list-config ---------------------------------------------------------- */

static void list_config(int md) {
    const char *name, *type, *def, *doc;
    if (md)
        fputs("# Configuration keys\n\n"
              "<!-- generated by `engine --list-config --format=markdown` from the table in\n"
              "     engine/config.c: do not edit; tests/tools/gen-refdocs.sh rewrites it and\n"
              "     tests/e2e/test_refdocs.sh fails when it differs -->\n\n"
              "Set with `engine --set KEY=VALUE` (repeatable); scripts read the effective values\n"
              "from `engine.config[KEY]` (lua-api.md). Types: `bytes` an integer with an optional\n"
              "suffix k/KiB, M/MiB, G/GiB (powers of 1024); `count` a non-negative integer;\n"
              "`seconds` a number with an optional `s` or `ms`; `bool` true/false, yes/no, on/off,\n"
              "1/0; `port` 0 to 65535; `policy` a TCP overlap policy (first, last, linux, old-linux,\n"
              "bsd, bsd-right, old-solaris, solaris, hpux10, hpux11, irix, macos, vista, windows,\n"
              "windows2k3); `hosts` ADDRESS[/LEN]=POLICY entries separated by commas. A value of the\n"
              "wrong type is a usage error (exit 2), and so\n"
              "is a key that is neither here nor declared by a loaded script with\n"
              "`engine.config_key` (the message names the nearest known key).\n\n"
              "| key | type | default | meaning |\n| --- | --- | --- | --- |\n",
              stdout);
    for (int i = 0; eng_config_known_info(i, &name, &type, &def, &doc) == 0; i++) {
        if (md) {
            printf("| `%s` | ", name);
            md_cell(type);
            printf(" | `%s` | ", def);
            md_cell(doc);
            fputs(" |\n", stdout);
        } else {
            printf("%s\n    type: %s  default: %s\n    %s\n", name, type, def, doc);
        }
    }
}

/* ---- progress ------------------------------------------------------------- */

typedef struct progress {
    int show;           /* draw the line (stderr is a terminal, no -q) */
    int drawn;          /* width of the line on screen, 0 when none */
    int64_t start_ns;
    lbr_t *lbr;         /* to stop the read early when the bridge failed */
    eng_t *eng;         /* its network time is shown */
    uint64_t base_bytes, all_bytes; /* the files before this one; all the files (0: unknown) */
    uint64_t base_pkts;
    int live;           /* flush the logs every second */
    int64_t last_flush;
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
    int64_t mnow = mono_ns();
    if (pg->live && pg->lbr && mnow - pg->last_flush >= 1000000000LL) {
        lbr_flush(pg->lbr); /* tail -f sees the records of a live run within a second */
        pg->last_flush = mnow;
    }
    if (!pg->show) return;
    if (pg->all_bytes) {
        bytes += pg->base_bytes;
        total = pg->all_bytes;
    }
    packets += pg->base_pkts;
    double secs = (double)(mnow - pg->start_ns) / 1e9;
    if (!pg->drawn && secs < 0.5) return; /* a short run shows nothing */
    if (secs <= 0) secs = 1e-9;
    char line[200], a[32], b[32], when[40] = "";
    {
        /* the capture time reached, UTC */
        int64_t ns = pg->eng ? eng_now(pg->eng) : 0;
        time_t t = (time_t)(ns / 1000000000LL);
        struct tm tm;
        if (ns > 0 && gmtime_r(&t, &tm)) strftime(when, sizeof when, "  at %Y-%m-%d %H:%M:%S", &tm);
    }
    int n;
    double kpps = (double)packets / secs / 1000.0;
    if (bytes && total && bytes <= total) {
        fmt_bytes(a, sizeof a, bytes);
        fmt_bytes(b, sizeof b, total);
        double rate = (double)bytes / secs;
        long eta = rate > 0 ? (long)((double)(total - bytes) / rate + 0.5) : 0;
        n = snprintf(line, sizeof line, "  %s / %s  (%d%%)  %.1f kpkt/s  ETA %ld:%02ld%s", a, b,
                     (int)(bytes * 100 / total), kpps, eta / 60, eta % 60, when);
    } else if (bytes) {
        fmt_bytes(a, sizeof a, bytes);
        n = snprintf(line, sizeof line, "  %s  %llu packets  %.1f kpkt/s%s", a,
                     (unsigned long long)packets, kpps, when);
    } else {
        n = snprintf(line, sizeof line, "  %llu packets  %.1f kpkt/s%s",
                     (unsigned long long)packets, kpps, when);
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
    if (s->capture_dropped) stat_line("dropped by the kernel", s->capture_dropped);
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

enum { OPT_SET = 256, OPT_REPL, OPT_STATS, OPT_LIST, OPT_LIST_CONFIG, OPT_FORMAT };

static int parse(int argc, char **argv, opts_t *o) {
    static const struct option longs[] = {
        {"set", required_argument, NULL, OPT_SET},
        {"repl", no_argument, NULL, OPT_REPL},
        {"stats", no_argument, NULL, OPT_STATS},
        {"list-events", no_argument, NULL, OPT_LIST},
        {"list-config", no_argument, NULL, OPT_LIST_CONFIG},
        {"format", required_argument, NULL, OPT_FORMAT},
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
            if (add_item(o->rfiles, &o->nrfiles, optarg, "-r") < 0) return 2;
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
        case OPT_LIST_CONFIG: o->list_config = 1; break;
        case OPT_FORMAT:
            if (strcmp(optarg, "markdown") && strcmp(optarg, "text"))
                return usage_error("--format %s: expected markdown or text", optarg);
            o->markdown = !strcmp(optarg, "markdown");
            break;
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
    for (; optind < argc; optind++) /* positional capture files follow the -r ones */
        if (add_item(o->rfiles, &o->nrfiles, argv[optind], "capture file") < 0) return 2;
    o->rfile = o->nrfiles ? o->rfiles[0] : NULL;
    if (o->markdown && !o->list_events && !o->list_config)
        return usage_error("--format goes with --list-events or --list-config");
    if (o->help || o->version || o->list_events || o->list_config) return 0;
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
        if (o->nrfiles > 1) return usage_error("--repl reads one capture file");
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

/* -j N on a capture file or a live interface (engine/lua_workers.c) */
static int run_workers(const opts_t *o) {
    if (o->outdir && make_dirs(o->outdir) != 0) {
        fprintf(stderr, "engine: %s: %s\n", o->outdir, strerror(errno));
        return 1;
    }
    install_signals();
    progress_t pg = {.start_ns = mono_ns()};
    pg.show = o->rfile && !o->quiet && isatty(STDERR_FILENO);
    lwk_args_t a = {o->rfile, o->rfile ? NULL : o->iface, o->bpf, o->outdir, o->scripts, o->nscripts, o->chunks, o->nchunks,
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
    if (o.list_events || o.list_config) {
        if (o.list_events) list_events(o.markdown);
        if (o.list_events && o.list_config) putchar('\n');
        if (o.list_config) list_config(o.markdown);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    /* what -j N does not do yet runs one worker, said once */
    const char *one = NULL;
    if (o.jobs > 1) {
        if (o.repl) one = "--repl";
        else if (o.nrfiles > 1) one = "several capture files";
        for (int i = 0; i < o.nsets && !one; i++)
            if (!strncmp(o.sets[i], "log.rotate=", 11) || !strcmp(o.sets[i], "log.format=tsv"))
                one = !strncmp(o.sets[i], "log.rotate=", 11) ? "log.rotate" : "log.format=tsv";
        if (one && !o.quiet) fprintf(stderr, "engine: -j %ld: %s runs one worker in this version\n", o.jobs, one);
    }
    if (o.jobs > 1 && (o.rfile || o.iface) && !one) return run_workers(&o);

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
    lbr_set_stop_flag(lb, &g_stop); /* os.exit in a script stops the reading loop */
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
    /* a --set key neither the engine knows nor a loaded script declared
     * (engine.config_key) is a typo: a usage error, with the nearest known key */
    for (int i = 0; i < o.nsets && !fail; i++) {
        char k[512];
        const char *eq = strchr(o.sets[i], '=');
        size_t kl = (size_t)(eq - o.sets[i]);
        if (kl >= sizeof k) kl = sizeof k - 1;
        memcpy(k, o.sets[i], kl);
        k[kl] = 0;
        char near[256];
        if (eng_config_known(k) || lbr_config_check(lb, k, near, sizeof near)) continue;
        fprintf(stderr, "engine: --set %s: unknown key (did you mean '%s'?)\n", k, near);
        fputs("Try 'engine --list-config' for the keys.\n", stderr);
        fail = 2;
    }
    if (fail) {
        repl_free(rp);
        lbr_free(lb);
        eng_free(e);
        return fail;
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

    progress_t pg = {0, 0, mono_ns(), lb, e, 0, 0, 0, 0, mono_ns()};
    pg.show = o.rfile && !o.quiet && isatty(STDERR_FILENO);
    pg.live = !o.rfile;
    for (int i = 0; i < o.nrfiles && o.nrfiles > 1; i++) {
        struct stat st;
        if (strcmp(o.rfiles[i], "-") == 0 || stat(o.rfiles[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            pg.all_bytes = 0; /* a size unknown: no overall percentage */
            break;
        }
        pg.all_bytes += (uint64_t)st.st_size;
    }
    eng_set_progress(e, on_progress, &pg);

    err[0] = 0;
    int r = 0, status = 0;
    if (lbr_exit_requested(lb, NULL)) {
        r = 0; /* os.exit while the scripts loaded: nothing is read */
    } else if (o.rfile) {
        /* the files in order, one timeline: flows, timers and network time carry over */
        for (int i = 0; i < o.nrfiles && !g_stop; i++) {
            err[0] = 0;
            r = eng_read_file_until(e, o.rfiles[i], o.bpf, &g_stop, err, sizeof err);
            if (r == 2) {
                progress_clear(&pg);
                fprintf(stderr, "engine: warning: %s\n", err);
            }
            if (r == 1) break;
            struct stat st;
            if (pg.all_bytes && stat(o.rfiles[i], &st) == 0) pg.base_bytes += (uint64_t)st.st_size;
            pg.base_pkts = eng_stats(e)->packets;
        }
    } else {
        r = eng_read_live(e, o.iface, o.bpf, &g_stop, err, sizeof err);
        if (r == 2) fprintf(stderr, "engine: warning: %s\n", err);
    }
    progress_clear(&pg);
    eng_set_progress(e, NULL, NULL);

    if (r == 1) {
        fprintf(stderr, "engine: %s\n", err[0] ? err : "cannot read the input");
        status = 1;
    }
    if (g_stop && o.rfile && !lbr_failed(lb) && !o.quiet && !lbr_exit_requested(lb, NULL))
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
    } else if (lbr_handler_errors(lb) && !o.quiet) {
        /* the run went on (docs/lua.md, "Handler errors"): say so at the end */
        fprintf(stderr, "engine: %llu handler error%s during the run (shown above; "
                        "--set lua.strict=true stops at the first)\n",
                (unsigned long long)lbr_handler_errors(lb), lbr_handler_errors(lb) == 1 ? "" : "s");
    }
    int xcode;
    if (lbr_exit_requested(lb, &xcode) && status == 0) status = xcode & 255;
    if (o.stats) print_stats(e);
    lbr_free(lb);
    eng_free(e);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "engine: standard output: %s\n", strerror(errno));
        status = 1;
    }
    return status;
}
