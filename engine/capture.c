/* capture.c - packet input through libpcap: capture files (pcap, pcapng,
 * stdin) and live interfaces, feeding eng_feed() with nanosecond times. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

#define LIVE_SNAPLEN 262144
#define LIVE_TIMEOUT_MS 100
/* the kernel's ring for a live capture. Not immediate mode: there libpcap uses
 * TPACKET_V2, one slot of snaplen bytes a packet, and a 2 MiB ring held 8
 * packets of 256 KiB: a burst of nine lost packets (measured on lo). TPACKET_V3
 * packs packets into blocks handed over when full or after LIVE_TIMEOUT_MS. */
#define LIVE_BUFFER_BYTES (32 << 20)
#define PROGRESS_EVERY_NS 250000000LL /* at most 4 progress calls a second */
#define PROGRESS_CHECK 256            /* look at the clock every this many packets */

void eng_set_progress(eng_t *e, eng_progress_t fn, void *user) {
    e->progress = fn;
    e->progress_user = user;
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t real_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* a pcap header time as nanoseconds; frac is in ns or us per the handle's precision */
static int64_t hdr_ns(const struct pcap_pkthdr *h, int nano) {
    int64_t frac = (int64_t)h->ts.tv_usec;
    return (int64_t)h->ts.tv_sec * NS_PER_SEC + (nano ? frac : frac * 1000);
}

/* message "name: text", without repeating "name: " when libpcap already said it */
static void pcap_msg(char *err, size_t errlen, const char *name, const char *text) {
    if (!err || !errlen) return;
    size_t n = strlen(name);
    if (strncmp(text, name, n) == 0 && text[n] == ':')
        snprintf(err, errlen, "%s", text);
    else
        snprintf(err, errlen, "%s: %s", name, text);
}

static int set_filter(pcap_t *p, const char *name, const char *bpf, char *err, size_t errlen) {
    if (!bpf || !*bpf) return 0;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "bad filter '%s': %s", bpf, pcap_geterr(p));
        return -1;
    }
    int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot set filter '%s': %s", name, bpf, pcap_geterr(p));
        return -1;
    }
    return 0;
}

static const char *display_name(const char *path) {
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

/* eng_read_file with a stop flag (NULL: read to the end). */
int eng_read_file_until(eng_t *e, const char *path, const char *bpf, volatile int *stop,
                        char *err, size_t errlen) {
    char ebuf[PCAP_ERRBUF_SIZE];
    const char *name = display_name(path);
    if (err && errlen) err[0] = 0;
    ebuf[0] = 0;

    uint64_t total = 0;
    if (strcmp(path, "-") != 0) {
        struct stat st;
        if (stat(path, &st) != 0) {
            pcap_msg(err, errlen, name, strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            pcap_msg(err, errlen, name, strerror(EISDIR));
            return 1;
        }
        if (S_ISREG(st.st_mode)) total = (uint64_t)st.st_size;
    }

    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!p) {
        if (strstr(ebuf, "unknown file format"))
            pcap_msg(err, errlen, name, "not a pcap or pcapng capture (unknown file format)");
        else if (total == 0 && strstr(ebuf, "truncated"))
            pcap_msg(err, errlen, name, "empty file, not a capture");
        else
            pcap_msg(err, errlen, name, ebuf);
        return 1;
    }
    int nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    if (set_filter(p, name, bpf, err, errlen) < 0) {
        pcap_close(p);
        return 1;
    }
    int dlt = pcap_datalink(p);
    FILE *fp = pcap_file(p);
    eng_start(e);

    uint64_t npkts = 0;
    int64_t last_progress = e->progress ? mono_ns() : 0;
    int rc = 0;
    for (;;) {
        if (stop && *stop) break;
        struct pcap_pkthdr *h;
        const u_char *data;
        int r = pcap_next_ex(p, &h, &data);
        if (r == 1) {
            uint32_t caplen = h->caplen, len = h->len;
            if (len < caplen) len = caplen;
            eng_feed(e, hdr_ns(h, nano), dlt, data, caplen, len);
            npkts++;
            if (e->progress && npkts % PROGRESS_CHECK == 0) {
                int64_t now = mono_ns();
                if (now - last_progress >= PROGRESS_EVERY_NS) {
                    long pos = fp ? ftell(fp) : -1;
                    e->progress(e->progress_user, pos >= 0 ? (uint64_t)pos : 0, total, npkts);
                    last_progress = now;
                }
            }
            continue;
        }
        if (r == PCAP_ERROR_BREAK) break; /* end of file */
        if (r == 0) continue;             /* not for files, but harmless */
        const char *msg = pcap_geterr(p);
        if (strstr(msg, "truncated")) {
            if (err && errlen)
                snprintf(err, errlen, "%s: capture cut off mid-record after %llu packets", name,
                         (unsigned long long)npkts);
            rc = 2;
        } else {
            pcap_msg(err, errlen, name, msg);
            rc = 1;
        }
        break;
    }
    if (e->progress && rc != 1) {
        long pos = fp ? ftell(fp) : -1;
        e->progress(e->progress_user, pos >= 0 ? (uint64_t)pos : total, total, npkts);
    }
    pcap_close(p);
    return rc;
}

int eng_read_file(eng_t *e, const char *path, const char *bpf, char *err, size_t errlen) {
    return eng_read_file_until(e, path, bpf, NULL, err, errlen);
}

/* ---- live capture -------------------------------------------------------- */

typedef struct live_ctx {
    eng_t *e;
    int dlt, nano;
    uint64_t npkts;
} live_ctx_t;

static void live_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data) {
    live_ctx_t *c = (live_ctx_t *)user;
    uint32_t caplen = h->caplen, len = h->len;
    if (len < caplen) len = caplen;
    eng_feed(c->e, hdr_ns(h, c->nano), c->dlt, data, caplen, len);
    c->npkts++;
}

int eng_read_live(eng_t *e, const char *iface, const char *bpf, volatile int *stop, char *err,
                  size_t errlen) {
    char ebuf[PCAP_ERRBUF_SIZE];
    ebuf[0] = 0;
    if (err && errlen) err[0] = 0;
    pcap_t *p = pcap_create(iface, ebuf);
    if (!p) {
        pcap_msg(err, errlen, iface, ebuf);
        return 1;
    }
    pcap_set_snaplen(p, LIVE_SNAPLEN);
    pcap_set_promisc(p, 1);
    pcap_set_timeout(p, LIVE_TIMEOUT_MS);
    pcap_set_buffer_size(p, LIVE_BUFFER_BYTES);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO); /* best effort */
    int a = pcap_activate(p);
    if (a < 0) {
        const char *why = pcap_geterr(p);
        if (a == PCAP_ERROR_NO_SUCH_DEVICE && !*why) why = "no such device";
        else if (a == PCAP_ERROR_PERM_DENIED && !*why) why = "permission denied";
        else if (!*why) why = pcap_statustostr(a);
        pcap_msg(err, errlen, iface, why);
        pcap_close(p);
        return 1;
    }
    live_ctx_t c = {e, pcap_datalink(p), 0, 0};
    c.nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    if (set_filter(p, iface, bpf, err, errlen) < 0) {
        pcap_close(p);
        return 1;
    }
    eng_start(e);
    int64_t last_progress = mono_ns();
    int rc = 0;
    /* Non-blocking reads behind our own poll() with a short timeout, so that
     * *stop is seen promptly: libpcap itself may block in poll() forever
     * (TPACKET_V3) and restarts it after a signal. */
    int fd = pcap_get_selectable_fd(p);
    if (fd >= 0 && pcap_setnonblock(p, 1, ebuf) < 0) fd = -1;
    while (!(stop && *stop)) {
        if (fd >= 0) {
            struct pollfd pfd = {fd, POLLIN, 0};
            int pr = poll(&pfd, 1, LIVE_TIMEOUT_MS);
            if (pr < 0 && errno != EINTR) {
                pcap_msg(err, errlen, iface, strerror(errno));
                rc = 1;
                break;
            }
            if (stop && *stop) break;
        }
        int n = pcap_dispatch(p, -1, live_packet, (u_char *)&c);
        if (n == PCAP_ERROR_BREAK) break;
        if (n < 0) {
            pcap_msg(err, errlen, iface, pcap_geterr(p));
            rc = 1;
            break;
        }
        if (e->live_tick_hook) e->live_tick_hook(e->feed_hook_user, real_ns(), n == 0 && c.npkts > 0);
        /* quiet link: let network time follow the clock so flows time out */
        if (n == 0 && c.npkts > 0 && !e->feed_hook) {
            int64_t now = real_ns();
            if (now > eng_now(e)) eng_advance(e, now);
        }
        if (e->progress) {
            int64_t m = mono_ns();
            if (m - last_progress >= PROGRESS_EVERY_NS) {
                e->progress(e->progress_user, 0, 0, c.npkts);
                last_progress = m;
            }
        }
    }
    /* packets the capture could not keep up with: counted, a weird, a warning */
    struct pcap_stat ps;
    if (pcap_stats(p, &ps) == 0 && ps.ps_drop + ps.ps_ifdrop > 0) {
        uint64_t d = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
        e->stats.capture_dropped += d;
        if (!e->feed_hook)
            eng_weird(e, NULL, "capture_dropped_packets", "%s: %llu packets dropped by the kernel (%u ring full, %u by the interface)",
                      iface, (unsigned long long)d, ps.ps_drop, ps.ps_ifdrop);
        if (rc == 0) {
            snprintf(err, errlen, "%s: the kernel dropped %llu packets: the capture did not keep up",
                     iface, (unsigned long long)d);
            rc = 2;
        }
    }
    pcap_close(p);
    return rc;
}

/* ---- incremental reading (the REPL's step/run) --------------------------- */

struct eng_capture {
    pcap_t *p;
    char *name;          /* for messages */
    int dlt, nano;
    int done;            /* end of file, cut off, or error reached */
    uint64_t packets;
};

eng_capture_t *eng_capture_open(const char *path, const char *bpf, char *err, size_t errlen) {
    char ebuf[PCAP_ERRBUF_SIZE];
    const char *name = display_name(path);
    if (err && errlen) err[0] = 0;
    ebuf[0] = 0;
    off_t size = -1;
    if (strcmp(path, "-") != 0) {
        struct stat st;
        if (stat(path, &st) != 0) {
            pcap_msg(err, errlen, name, strerror(errno));
            return NULL;
        }
        if (S_ISDIR(st.st_mode)) {
            pcap_msg(err, errlen, name, strerror(EISDIR));
            return NULL;
        }
        if (S_ISREG(st.st_mode)) size = st.st_size;
    }
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!p) {
        if (strstr(ebuf, "unknown file format"))
            pcap_msg(err, errlen, name, "not a pcap or pcapng capture (unknown file format)");
        else if (size == 0 && strstr(ebuf, "truncated"))
            pcap_msg(err, errlen, name, "empty file, not a capture");
        else
            pcap_msg(err, errlen, name, ebuf);
        return NULL;
    }
    if (set_filter(p, name, bpf, err, errlen) < 0) {
        pcap_close(p);
        return NULL;
    }
    eng_capture_t *c = calloc(1, sizeof *c);
    if (c) c->name = strdup(name);
    if (!c || !c->name) {
        if (c) free(c);
        pcap_close(p);
        if (err && errlen) snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    c->p = p;
    c->dlt = pcap_datalink(p);
    c->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    return c;
}

long long eng_capture_step(eng_t *e, eng_capture_t *c, long long n, volatile int *stop,
                           int *state, char *err, size_t errlen) {
    long long fed = 0;
    int st = ENG_CAP_MORE;
    if (err && errlen) err[0] = 0;
    if (c->done) {
        if (state) *state = ENG_CAP_EOF;
        return 0;
    }
    eng_start(e);
    while (n < 0 || fed < n) {
        if (stop && *stop) break;
        struct pcap_pkthdr *h;
        const u_char *data;
        int r = pcap_next_ex(c->p, &h, &data);
        if (r == 1) {
            uint32_t caplen = h->caplen, len = h->len;
            if (len < caplen) len = caplen;
            eng_feed(e, hdr_ns(h, c->nano), c->dlt, data, caplen, len);
            fed++;
            c->packets++;
            continue;
        }
        if (r == 0) continue;
        if (r == PCAP_ERROR_BREAK) {
            st = ENG_CAP_EOF;
        } else {
            const char *msg = pcap_geterr(c->p);
            if (strstr(msg, "truncated")) {
                if (err && errlen)
                    snprintf(err, errlen, "%s: capture cut off mid-record after %llu packets",
                             c->name, (unsigned long long)c->packets);
                st = ENG_CAP_CUT;
            } else {
                pcap_msg(err, errlen, c->name, msg);
                st = ENG_CAP_ERROR;
            }
        }
        c->done = 1;
        break;
    }
    if (state) *state = st;
    return fed;
}

uint64_t eng_capture_packets(const eng_capture_t *c) { return c ? c->packets : 0; }

void eng_capture_close(eng_capture_t *c) {
    if (!c) return;
    pcap_close(c->p);
    free(c->name);
    free(c);
}

/* Lives here rather than in engine.c because only input sources need it: a
 * finished instance reads its input again from the start. */
void eng_reset(eng_t *e) {
    if (e->started && !e->finished) eng_finish(e);
    flow_table_free(e); /* no flows are left after eng_finish: only the buckets */
    memcap_free(&e->mem);
    e->mem.peak = e->mem.cuts = e->mem.cut_bytes = e->mem.leaked = 0;
    flow_table_init(&e->ft);
    frag_free(e->frags);
    e->frags = frag_new(); /* NULL is tolerated: created again at the first fragment */
    reasm_ctx_init(&e->reasm, &tcp_reasm_sink);
    e->reasm.max_ooo = e->cfg.tcp_max_ooo_bytes;
    e->reasm.max_total = e->cfg.tcp_max_total_bytes;
    e->mem.limit = e->cfg.memcap;
    e->reasm.overlap_policy = e->cfg.tcp_overlap;
    memset(&e->stats, 0, sizeof e->stats);
    for (int i = 0; i < e->nweirds; i++) free(e->weirds[i].name);
    e->nweirds = 0;
    e->started = e->finished = 0;
    e->now = e->next_tick = e->next_expire = e->next_due = 0; /* set again at the first packet */
    e->cur_flow = NULL;
    e->next_file_id = 0;
    e->extract_total = 0; /* files.c: a new run, new extraction budget */
    e->extract_dead = 0;
}
