/* lua_workers.c - `engine -j N -r FILE|-i IFACE` (lua_workers.h): N instances, each
 * with its configuration, its Lua bridge and the scripts loaded into it, read
 * by engine/workers.c; logs through one shared output; counters merged. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "decoder.h"
#include "lua_bridge.h"
#include "lua_workers.h"
#include "workers.h"

typedef struct run {
    int n;
    eng_t **e;
    lbr_t **lb;
    wk_lines_t **lines;
    wk_out_t *out;
    int live;
    int ordered; /* log.ordered: each batch hands the worker's records on */
    int64_t *flushed; /* live: when worker i last flushed its logs (monotonic ns) */
} run_t;

static int64_t mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* on worker i's thread, after each batch: stop when its scripts failed; live,
 * its records reach the files at least once a second (tail -f sees them) */
static int poll_failed(void *user, int i) {
    run_t *r = user;
    if (r->ordered) wk_lines_flush(r->lines[i]);
    if (r->live) {
        int64_t now = mono_now();
        if (now - r->flushed[i] >= 1000000000LL) {
            r->flushed[i] = now;
            lbr_flush(r->lb[i]);
            wk_lines_flush(r->lines[i]);
            wk_out_flush(r->out);
        }
    }
    return lbr_failed(r->lb[i]);
}

static uint64_t run_seed(void) {
    /* as for -j 1 (cli.c): random unless --set engine.seed=N */
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return seed >> 1;
}

static int set_kv(eng_t *e, const char *item, char *err, size_t errlen) {
    char kv[512];
    const char *eq = strchr(item, '=');
    size_t kl = (size_t)(eq - item);
    if (kl >= sizeof kv) kl = sizeof kv - 1;
    memcpy(kv, item, kl);
    kv[kl] = 0;
    return eng_config_set(e, kv, eq + 1, err, errlen);
}

static uint64_t config_seed(const eng_t *e) {
    for (int i = 0; i < eng_config_count(e); i++)
        if (strcmp(eng_config_key(e, i), "engine.seed") == 0) {
            const char *v = eng_config_value(e, i);
            return v ? strtoull(v, NULL, 10) : 0;
        }
    return 0;
}

/* worker i: instance, configuration, bridge and scripts; 0, 1 (runtime) or 2 (usage) */
static int setup(run_t *r, const lwk_args_t *a, int i, uint64_t seed) {
    char err[1024];
    eng_t *e = r->e[i] = eng_new();
    if (!e) {
        fprintf(stderr, "engine: out of memory\n");
        return 1;
    }
    char sv[32];
    snprintf(sv, sizeof sv, "%llu", (unsigned long long)seed);
    eng_config_set(e, "engine.seed", sv, err, sizeof err);
    for (int k = 0; k < a->nsets; k++)
        if (set_kv(e, a->sets[k], err, sizeof err) != 0) {
            fprintf(stderr, "engine: --set %s: %s\n", a->sets[k], err);
            return 2;
        }
    /* disjoint uids and fuids per worker; worker 0 keeps the run's seed */
    snprintf(sv, sizeof sv, "%llu", (unsigned long long)wk_seed(config_seed(e), i));
    eng_config_set(e, "engine.seed", sv, err, sizeof err);
    if (a->stats) eng_stats_timing(e, 1);
    r->lines[i] = wk_lines_new(r->out, e, i);
    if (!r->lines[i]) {
        fprintf(stderr, "engine: out of memory\n");
        return 1;
    }
    lbr_worker_t w = {i, r->n, wk_lines_write, wk_lines_flush, r->lines[i]};
    err[0] = 0;
    r->lb[i] = lbr_new_worker(e, NULL, a->outdir, &w, err, sizeof err);
    if (!r->lb[i]) {
        fprintf(stderr, "engine: %s\n", err[0] ? err : "cannot start Lua");
        return 1;
    }
    /* a script's message is said once, by worker 0 */
    for (int k = 0; k < a->nscripts; k++) {
        err[0] = 0;
        if (lbr_load_file(r->lb[i], a->scripts[k], err, sizeof err) != 0) {
            if (i == 0) fprintf(stderr, "engine: %s\n", err[0] ? err : a->scripts[k]);
            return 1;
        }
    }
    for (int k = 0; k < a->nchunks; k++) {
        char name[32];
        if (a->nchunks > 1) snprintf(name, sizeof name, "=(-e #%d)", k + 1);
        else snprintf(name, sizeof name, "=(-e)");
        err[0] = 0;
        if (lbr_load_string(r->lb[i], a->chunks[k], name, err, sizeof err) != 0) {
            if (i == 0) fprintf(stderr, "engine: %s\n", err[0] ? err : "-e chunk failed");
            return 1;
        }
    }
    if (a->nscripts == 0 && a->nchunks == 0) {
        err[0] = 0;
        if (lbr_load_default(r->lb[i], err, sizeof err) != 0) {
            if (i == 0) fprintf(stderr, "engine: %s\n", err[0] ? err : "cannot load the default scripts");
            return 1;
        }
    }
    return 0;
}

static void release(run_t *r) {
    for (int i = 0; i < r->n; i++) {
        if (r->lb) lbr_free(r->lb[i]); /* closes its logs: the rest of its lines go out */
        if (r->lines) wk_lines_free(r->lines[i]);
        if (r->e) eng_free(r->e[i]);
    }
    free(r->e);
    free(r->lb);
    free(r->lines);
    free(r->flushed);
}

int lwk_run(const lwk_args_t *a) {
    run_t r = {0};
    r.n = a->jobs;
    r.e = calloc((size_t)r.n, sizeof *r.e);
    r.lb = calloc((size_t)r.n, sizeof *r.lb);
    r.lines = calloc((size_t)r.n, sizeof *r.lines);
    r.flushed = calloc((size_t)r.n, sizeof *r.flushed);
    r.live = a->iface != NULL;
    r.out = wk_out_new(a->outdir);
    if (!r.e || !r.lb || !r.lines || !r.flushed || !r.out) {
        fprintf(stderr, "engine: out of memory\n");
        release(&r);
        wk_out_free(r.out);
        return 1;
    }
    uint64_t seed = run_seed();
    for (int i = 0; i < r.n; i++) {
        int rc = setup(&r, a, i, seed);
        if (rc) {
            release(&r);
            wk_out_free(r.out);
            return rc;
        }
        if (i == 0) {
            /* log.ordered (read from worker 0's configuration, before any record) */
            const char *v = dec_config(r.e[0], "log.ordered");
            r.ordered = v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"));
            if (r.ordered && wk_out_order(r.out, r.n, dec_config_u64(r.e[0], "log.reorder_bytes", 64u << 20)) != 0) {
                fprintf(stderr, "engine: out of memory\n");
                release(&r);
                wk_out_free(r.out);
                return 1;
            }
        }
    }
    char err[1024];
    int status = 0;
    wk_group_t *g = wk_group_new(r.n, r.e, poll_failed, &r);
    eng_t *sum = eng_new();
    if (!g || !sum) {
        fprintf(stderr, "engine: out of memory\n");
        wk_group_free(g);
        eng_free(sum);
        release(&r);
        wk_out_free(r.out);
        return 1;
    }
    err[0] = 0;
    int rr = a->iface ? wk_read_live(g, a->iface, a->bpf, a->stop, a->progress, a->progress_user, err, sizeof err)
                      : wk_read_file(g, a->rfile, a->bpf, a->stop, a->progress, a->progress_user, err, sizeof err);
    if (a->progress_done) a->progress_done(a->progress_user);
    if (rr == 1) {
        fprintf(stderr, "engine: %s\n", err[0] ? err : "cannot read the input");
        status = 1;
    } else if (rr == 2) {
        fprintf(stderr, "engine: warning: %s\n", err);
    }
    const char *failmsg = NULL;
    wk_merge_reader_stats(sum, g);
    for (int i = 0; i < r.n; i++) {
        wk_merge_stats(sum, r.e[i]);
        if (!failmsg && lbr_failed(r.lb[i])) {
            const char *m = lbr_error(r.lb[i]);
            failmsg = m && *m ? m : "a script failed";
        }
    }
    if (a->stop && *a->stop && a->rfile && !failmsg && !a->quiet)
        fprintf(stderr, "engine: interrupted; flushing flows and logs\n");
    {
        int lt[4];
        uint64_t np[4], skipped = 0;
        int n = eng_unsupported_links(sum, lt, np, 4);
        for (int i = 0; i < n && i < 4; i++) {
            const char *nm = pcap_datalink_val_to_name(lt[i]);
            const char *ds = pcap_datalink_val_to_description(lt[i]);
            fprintf(stderr, "engine: link type %d (%s%s%s) is not decoded: %llu packets skipped\n",
                    lt[i], nm ? nm : "unknown", ds ? ", " : "", ds ? ds : "",
                    (unsigned long long)np[i]);
            skipped += np[i];
        }
        if (n && skipped == eng_stats(sum)->packets && status == 0) {
            fprintf(stderr, "engine: no packet of the input could be decoded\n");
            status = 1;
        }
    }
    if (failmsg) {
        fprintf(stderr, "engine: %s\n", failmsg);
        status = 1;
    }
    if (a->stats && a->print_stats) a->print_stats(sum);
    wk_group_free(g);
    eng_free(sum);
    release(&r);
    if (wk_out_close(r.out, err, sizeof err) != 0) {
        fprintf(stderr, "engine: %s\n", err);
        status = 1;
    }
    if (wk_out_late(r.out))
        fprintf(stderr, "engine: warning: log.ordered: %llu records written out of order (the reorder buffer, log.reorder_bytes, was full)\n",
                (unsigned long long)wk_out_late(r.out));
    wk_out_free(r.out);
    return status;
}
