/* workers.c - `-j N` (workers.h): the reader, the bounded queues, the worker
 * threads and the shared log output. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "workers.h"

/* ---- batches and queues -------------------------------------------------- */

#define BATCH_BYTES (128 * 1024) /* a batch's data; a bigger frame gets a batch of its own */
#define QCAP 8                   /* batches waiting in a worker's queue */
#define ADVANCE_EVERY_NS NS_PER_SEC

enum { REC_FRAME = 0, REC_ADVANCE = 1 };

typedef struct rec {
    int64_t ts;
    uint32_t caplen, wirelen;
    int32_t linktype;
    uint32_t kind; /* REC_* */
} rec_t;           /* followed by caplen bytes, padded to 8 */

typedef struct batch {
    size_t cap, used;
    uint8_t data[];
} batch_t;

/* a bounded blocking queue of batch pointers: one producer, one consumer */
typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    batch_t *slot[QCAP + 2];
    int cap, head, count;
} queue_t;

static void q_init(queue_t *q, int cap) {
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    pthread_cond_init(&q->nonfull, NULL);
    q->cap = cap;
    q->head = q->count = 0;
}

static void q_destroy(queue_t *q) {
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->nonempty);
    pthread_cond_destroy(&q->nonfull);
}

/* NULL is the end marker */
static void q_push(queue_t *q, batch_t *b) {
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap) pthread_cond_wait(&q->nonfull, &q->mu);
    q->slot[(q->head + q->count) % q->cap] = b;
    q->count++;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->mu);
}

static batch_t *q_pop(queue_t *q) {
    pthread_mutex_lock(&q->mu);
    while (q->count == 0) pthread_cond_wait(&q->nonempty, &q->mu);
    batch_t *b = q->slot[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_cond_signal(&q->nonfull);
    pthread_mutex_unlock(&q->mu);
    return b;
}

/* non-blocking; 0 when empty */
static int q_trypop(queue_t *q, batch_t **out) {
    pthread_mutex_lock(&q->mu);
    int ok = q->count > 0;
    if (ok) {
        *out = q->slot[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_signal(&q->nonfull);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

/* non-blocking push; 0 when full */
static int q_trypush(queue_t *q, batch_t *b) {
    pthread_mutex_lock(&q->mu);
    int ok = q->count < q->cap;
    if (ok) {
        q->slot[(q->head + q->count) % q->cap] = b;
        q->count++;
        pthread_cond_signal(&q->nonempty);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

/* ---- the group ------------------------------------------------------------- */

typedef struct worker {
    wk_group_t *g;
    int idx;
    eng_t *e;
    pthread_t th;
    int started;
    queue_t q;      /* full batches, reader -> worker */
    queue_t spare;  /* used batches, worker -> reader */
    batch_t *cur;   /* the reader's batch being filled */
    int64_t cur_since; /* time of cur's first record */
    int64_t sent_ts; /* latest time handed to it (frame or advance) */
    uint64_t frames;
} worker_t;

struct wk_group {
    int n;
    worker_t *w;
    wk_poll_t poll;
    void *poll_user;
    atomic_int failed;      /* a worker's poll said stop */
    eng_t *router;          /* the reader's instance: frames are decoded up to IP here */
    uint64_t key;           /* hash key of the routing */
    volatile int *ext_stop;
    volatile int stop_read;
    int64_t last_ts, next_adv;
    int64_t last_push; /* live: when partial batches were last handed on */
    int any, oom;
};

uint64_t wk_seed(uint64_t seed, int i) { return seed + ((uint64_t)i << 40); }

wk_group_t *wk_group_new(int n, eng_t **engines, wk_poll_t poll, void *user) {
    if (n < 1 || n > WK_MAX) return NULL;
    wk_group_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->w = calloc((size_t)n, sizeof *g->w);
    g->router = eng_new();
    if (!g->w || !g->router) {
        free(g->w);
        eng_free(g->router);
        free(g);
        return NULL;
    }
    g->n = n;
    g->poll = poll;
    g->poll_user = user;
    g->key = hash_key();
    atomic_init(&g->failed, 0);
    for (int i = 0; i < n; i++) {
        worker_t *w = &g->w[i];
        w->g = g;
        w->idx = i;
        w->e = engines[i];
        w->sent_ts = INT64_MIN;
        q_init(&w->q, QCAP);
        q_init(&w->spare, QCAP + 2);
    }
    return g;
}

void wk_merge_reader_stats(eng_t *dst, const wk_group_t *g) {
    if (g) dst->stats.capture_dropped += g->router->stats.capture_dropped;
}

uint64_t wk_frames(const wk_group_t *g, int i) { return g && i >= 0 && i < g->n ? g->w[i].frames : 0; }

static void free_batches(queue_t *q) {
    batch_t *b;
    while (q_trypop(q, &b)) free(b);
}

void wk_group_free(wk_group_t *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        worker_t *w = &g->w[i];
        free_batches(&w->q);
        free_batches(&w->spare);
        free(w->cur);
        q_destroy(&w->q);
        q_destroy(&w->spare);
    }
    eng_free(g->router);
    free(g->w);
    free(g);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    wk_group_t *g = w->g;
    eng_start(w->e);
    for (;;) {
        batch_t *b = q_pop(&w->q);
        if (!b) break;
        if (!atomic_load_explicit(&g->failed, memory_order_relaxed)) {
            size_t off = 0;
            while (off < b->used) {
                const rec_t *r = (const rec_t *)(b->data + off);
                const uint8_t *pkt = b->data + off + sizeof *r;
                off += sizeof *r + (((size_t)r->caplen + 7) & ~(size_t)7);
                if (r->kind == REC_ADVANCE) eng_advance(w->e, r->ts);
                else eng_feed(w->e, r->ts, r->linktype, pkt, r->caplen, r->wirelen);
            }
            if (g->poll && g->poll(g->poll_user, w->idx))
                atomic_store(&g->failed, 1);
        }
        b->used = 0;
        if (b->cap != BATCH_BYTES || !q_trypush(&w->spare, b)) free(b);
    }
    eng_finish(w->e);
    if (g->poll && g->poll(g->poll_user, w->idx)) atomic_store(&g->failed, 1);
    return NULL;
}

static batch_t *new_batch(worker_t *w, size_t need) {
    batch_t *b = NULL;
    if (need <= BATCH_BYTES && q_trypop(&w->spare, &b)) return b;
    size_t cap = need > BATCH_BYTES ? need : BATCH_BYTES;
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

/* room for need bytes in w's current batch (pushing it when full) for a
 * record of time ts; NULL: out of memory */
static uint8_t *reserve(worker_t *w, size_t need, int64_t ts) {
    if (w->cur && w->cur->cap - w->cur->used < need) {
        q_push(&w->q, w->cur);
        w->cur = NULL;
    }
    if (!w->cur) {
        w->cur = new_batch(w, need);
        w->cur_since = ts;
    }
    if (!w->cur) return NULL;
    uint8_t *p = w->cur->data + w->cur->used;
    w->cur->used += need;
    return p;
}

static void put_advance(worker_t *w, int64_t ts) {
    rec_t *r = (rec_t *)reserve(w, sizeof(rec_t), ts);
    if (!r) return;
    memset(r, 0, sizeof *r);
    r->ts = ts;
    r->kind = REC_ADVANCE;
    w->sent_ts = ts;
}

/* a keyed hash of one address, summed over both so that the direction does not matter */
static uint64_t addr_hash(uint64_t key, const uint8_t *a, int len) {
    uint64_t x = 0, y = 0;
    memcpy(&x, a, len < 8 ? (size_t)len : 8);
    if (len > 8) memcpy(&y, a + 8, 8);
    return hash_mix64(hash_mix64(x ^ key) + y);
}

static int route_of(wk_group_t *g, int64_t ts, int linktype, const uint8_t *pkt, uint32_t caplen,
                    uint32_t wirelen) {
    if (g->n == 1) return 0;
    pkt_t p;
    memset(&p, 0, sizeof p);
    /* link and IP layers only (fragments are held here too, bounded by
     * ip.max_frag_bytes of this instance; the worker reassembles its own) */
    layers_decode(g->router, ts, linktype, pkt, caplen, wirelen, &p);
    if (p.family != 4 && p.family != 6) return 0;
    int alen = p.family == 4 ? 4 : 16;
    uint64_t h = addr_hash(g->key, p.src, alen) + addr_hash(g->key, p.dst, alen);
    return (int)(hash_mix64(h) % (uint64_t)g->n);
}

static void route(void *user, int64_t ts, int linktype, const uint8_t *pkt, uint32_t caplen,
                  uint32_t wirelen) {
    wk_group_t *g = user;
    if ((g->ext_stop && *g->ext_stop) || atomic_load_explicit(&g->failed, memory_order_relaxed)) {
        g->stop_read = 1;
        return;
    }
    worker_t *w = &g->w[route_of(g, ts, linktype, pkt, caplen, wirelen)];
    if (!g->any || ts > g->last_ts) g->last_ts = ts;
    g->any = 1;
    size_t need = sizeof(rec_t) + (((size_t)caplen + 7) & ~(size_t)7);
    rec_t *r = (rec_t *)reserve(w, need, ts);
    if (!r) {
        g->oom = 1;
        g->stop_read = 1;
        return;
    }
    r->ts = ts;
    r->caplen = caplen;
    r->wirelen = wirelen;
    r->linktype = linktype;
    r->kind = REC_FRAME;
    memcpy(r + 1, pkt, caplen);
    w->frames++;
    if (ts > w->sent_ts) w->sent_ts = ts;
    /* the other workers' clocks follow the capture's, at least once a second,
     * and a light worker's partial batch waits at most about a second of network
     * time (its timers fire, and with log.ordered its records do not hold the
     * other workers' back) */
    if (g->last_ts >= g->next_adv) {
        for (int i = 0; i < g->n; i++) {
            worker_t *v = &g->w[i];
            if (v->sent_ts < g->last_ts - ADVANCE_EVERY_NS) put_advance(v, g->last_ts);
            if (v->cur && v->cur->used && v->cur_since < g->last_ts - ADVANCE_EVERY_NS) {
                q_push(&v->q, v->cur);
                v->cur = NULL;
            }
        }
        g->next_adv = g->last_ts + ADVANCE_EVERY_NS;
    }
}

#define LIVE_PUSH_EVERY_NS 50000000LL /* live: a partial batch waits at most this long */

/* live capture, after each read of the interface: partial batches go on (so
 * a quiet link does not hold frames back), and on a quiet link every worker's
 * clock follows the real one, as one instance's does (capture.c) */
static void live_tick(void *user, int64_t now, int quiet) {
    wk_group_t *g = user;
    if ((g->ext_stop && *g->ext_stop) || atomic_load_explicit(&g->failed, memory_order_relaxed))
        g->stop_read = 1;
    if (!quiet && now - g->last_push < LIVE_PUSH_EVERY_NS) return;
    g->last_push = now;
    for (int i = 0; i < g->n; i++) {
        worker_t *w = &g->w[i];
        if (quiet && g->any && w->sent_ts < now) put_advance(w, now);
        if (w->cur && w->cur->used) {
            q_push(&w->q, w->cur);
            w->cur = NULL;
        }
    }
}

/* start the workers' threads; 0, or 1 with err set */
static int start_workers(wk_group_t *g, char *err, size_t errlen) {
    int started = 0;
    for (int i = 0; i < g->n; i++) {
        worker_t *w = &g->w[i];
        if (pthread_create(&w->th, NULL, worker_main, w) != 0) break;
        w->started = 1;
        started++;
    }
    if (started < g->n) {
        snprintf(err, errlen, "cannot start %d worker threads: %s", g->n, strerror(errno));
        return 1;
    }
    return 0;
}

/* every worker moved to the last time, its queue ended, its thread joined */
static void end_workers(wk_group_t *g) {
    for (int i = 0; i < g->n; i++) {
        worker_t *w = &g->w[i];
        if (!w->started) continue;
        if (g->any && w->sent_ts < g->last_ts) put_advance(w, g->last_ts);
        if (w->cur) {
            q_push(&w->q, w->cur);
            w->cur = NULL;
        }
        q_push(&w->q, NULL);
    }
    for (int i = 0; i < g->n; i++)
        if (g->w[i].started) pthread_join(g->w[i].th, NULL);
    /* an instance whose thread never ran is finished here */
    for (int i = 0; i < g->n; i++)
        if (!g->w[i].started) eng_finish(g->w[i].e);
}

static void hook_router(wk_group_t *g, volatile int *stop) {
    g->ext_stop = stop;
    g->stop_read = 0;
    g->next_adv = INT64_MIN;
    g->router->feed_hook = route;
    g->router->feed_hook_user = g;
}

int wk_read_file(wk_group_t *g, const char *path, const char *bpf, volatile int *stop,
                 eng_progress_t progress, void *pguser, char *err, size_t errlen) {
    int rc = start_workers(g, err, errlen);
    if (!rc) {
        hook_router(g, stop);
        eng_set_progress(g->router, progress, pguser);
        rc = eng_read_file_until(g->router, path, bpf, &g->stop_read, err, errlen);
        eng_set_progress(g->router, NULL, NULL);
        if (g->oom) {
            snprintf(err, errlen, "out of memory queueing frames for the workers");
            rc = 1;
        }
    }
    end_workers(g);
    return rc;
}

int wk_read_live(wk_group_t *g, const char *iface, const char *bpf, volatile int *stop,
                 eng_progress_t progress, void *pguser, char *err, size_t errlen) {
    int rc = start_workers(g, err, errlen);
    if (!rc) {
        hook_router(g, stop);
        g->router->live_tick_hook = live_tick;
        eng_set_progress(g->router, progress, pguser);
        rc = eng_read_live(g->router, iface, bpf, &g->stop_read, err, errlen);
        eng_set_progress(g->router, NULL, NULL);
        g->router->live_tick_hook = NULL;
        if (g->oom) {
            snprintf(err, errlen, "out of memory queueing frames for the workers");
            rc = 1;
        }
    }
    end_workers(g);
    return rc;
}

/* ---- shared log output ------------------------------------------------------- */

typedef struct out_stream {
    char *name;
    FILE *fp; /* standard output when there is no outdir */
    char *path;
} out_stream_t;

/* log.ordered: a line waiting in the reorder buffer, tagged with the network
 * time its worker wrote it at (never less than the worker's previous tag) */
typedef struct ord_line {
    int64_t t;
    uint32_t off, len;
    int sidx; /* wk_out_t.s */
} ord_line_t;

/* a worker's lines, in the order it wrote them */
typedef struct ord_chunk {
    struct ord_chunk *next;
    ord_line_t *l;
    int nl, capl, pos; /* pos: the next line to write */
    char *text;
    size_t used, cap;
} ord_chunk_t;

typedef struct ord_fifo {
    ord_chunk_t *head, *tail;
    int64_t progress; /* the worker's later lines are tagged at least this */
} ord_fifo_t;

struct wk_out {
    pthread_mutex_t mu;
    char *outdir;
    out_stream_t s[WK_MAX_STREAMS];
    int n;
    int failed;
    char err[512];
    /* log.ordered (wk_out_order) */
    int nw;           /* workers; 0: lines go out as they come */
    ord_fifo_t *fifo; /* one per worker */
    size_t held, cap; /* bytes waiting, and the most that may wait */
    int64_t last_t;   /* the last line written: its tag and worker */
    int last_w, wrote;
    uint64_t late;    /* lines written after a line they should have preceded */
};

wk_out_t *wk_out_new(const char *outdir) {
    wk_out_t *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    if (outdir && !(o->outdir = strdup(outdir))) {
        free(o);
        return NULL;
    }
    pthread_mutex_init(&o->mu, NULL);
    return o;
}

int wk_out_order(wk_out_t *o, int nworkers, size_t max_bytes) {
    if (nworkers < 2) return 0;
    o->fifo = calloc((size_t)nworkers, sizeof *o->fifo);
    if (!o->fifo) return -1;
    for (int i = 0; i < nworkers; i++) o->fifo[i].progress = INT64_MIN;
    o->nw = nworkers;
    o->cap = max_bytes;
    return 0;
}

uint64_t wk_out_late(const wk_out_t *o) { return o ? o->late : 0; }

static void out_fail(wk_out_t *o, const char *path, const char *what) {
    if (o->failed) return;
    o->failed = 1;
    snprintf(o->err, sizeof o->err, "%s %s: %s", what, path, strerror(errno));
}

/* with o->mu held: the index of a stream in o->s, its file opened on its first
 * lines; -1 (too many streams, out of memory, cannot open) */
static int out_stream(wk_out_t *o, const char *name, size_t nlen) {
    for (int i = 0; i < o->n; i++)
        if (strlen(o->s[i].name) == nlen && memcmp(o->s[i].name, name, nlen) == 0) return o->s[i].fp ? i : -1;
    if (o->n == WK_MAX_STREAMS) return -1;
    out_stream_t *s = &o->s[o->n];
    s->name = strndup(name, nlen);
    if (!s->name) return -1;
    if (!o->outdir) {
        s->fp = stdout;
        return o->n++;
    }
    size_t pl = strlen(o->outdir) + nlen + 6;
    s->path = malloc(pl);
    if (!s->path) {
        free(s->name);
        return -1;
    }
    snprintf(s->path, pl, "%s/%s.log", o->outdir, s->name);
    s->fp = fopen(s->path, "w");
    if (!s->fp) {
        out_fail(o, s->path, "cannot open log");
        free(s->name);
        free(s->path);
        return -1;
    }
    setvbuf(s->fp, NULL, _IOFBF, 65536);
    return o->n++;
}

/* with o->mu held */
static int out_put(wk_out_t *o, int sidx, const char *buf, size_t len) {
    if (fwrite(buf, 1, len, o->s[sidx].fp) == len) return 0;
    out_fail(o, o->outdir ? o->s[sidx].path : "standard output", "cannot write log");
    return -1;
}

static int out_write(wk_out_t *o, const char *name, size_t nlen, const char *buf, size_t len) {
    pthread_mutex_lock(&o->mu);
    int i = out_stream(o, name, nlen);
    int rc = i < 0 ? -1 : out_put(o, i, buf, len);
    pthread_mutex_unlock(&o->mu);
    return rc;
}

static void chunk_free(ord_chunk_t *c) {
    if (!c) return;
    free(c->l);
    free(c->text);
    free(c);
}

/* (t, w) before (u, v): lines are ordered by tag, ties by worker */
static int key_before(int64_t t, int w, int64_t u, int v) { return t < u || (t == u && w < v); }

/* with o->mu held: write the waiting lines in the order of their tags (ties:
 * the lower worker first), as long as no worker can still write a line that
 * goes before them; all: every line (the run ended), or when more than o->cap
 * bytes wait, the earliest ones anyway (counted in o->late if that was too
 * early). The worker m with the earliest line writes all its lines before the
 * next worker's bound at once, runs of one stream in one fwrite. */
static int ord_emit(wk_out_t *o, int all) {
    int rc = 0;
    for (;;) {
        int m = -1;
        int64_t tm = 0;
        for (int w = 0; w < o->nw; w++) {
            const ord_chunk_t *c = o->fifo[w].head;
            if (c && (m < 0 || c->l[c->pos].t < tm)) {
                m = w;
                tm = c->l[c->pos].t;
            }
        }
        if (m < 0) return rc;
        int forced = !all && o->held > o->cap;
        /* the bound: another worker's first waiting line, or, for one with
         * nothing waiting, its clock (unless every line goes out) */
        int bw = -1;
        int64_t bt = 0;
        for (int v = 0; v < o->nw; v++) {
            if (v == m) continue;
            const ord_chunk_t *c = o->fifo[v].head;
            int64_t k;
            if (c) k = c->l[c->pos].t;
            else if (all || forced) continue;
            else k = o->fifo[v].progress;
            if (bw < 0 || key_before(k, v, bt, bw)) {
                bw = v;
                bt = k;
            }
        }
        ord_fifo_t *f = &o->fifo[m];
        int wrote = 0;
        while (f->head) {
            ord_chunk_t *c = f->head;
            int run_s = -1;
            uint32_t run_off = 0, run_len = 0;
            while (c->pos < c->nl) {
                const ord_line_t *ln = &c->l[c->pos];
                if (bw >= 0 && !key_before(ln->t, m, bt, bw)) break;
                if (o->wrote && key_before(ln->t, m, o->last_t, o->last_w)) o->late++;
                o->wrote = 1;
                o->last_t = ln->t;
                o->last_w = m;
                if (run_s >= 0 && (ln->sidx != run_s || ln->off != run_off + run_len)) {
                    if (out_put(o, run_s, c->text + run_off, run_len) != 0) rc = -1;
                    run_s = -1;
                }
                if (run_s < 0) {
                    run_s = ln->sidx;
                    run_off = ln->off;
                    run_len = 0;
                }
                run_len += ln->len;
                o->held -= ln->len;
                c->pos++;
                wrote = 1;
                if (forced && o->held <= o->cap) break;
            }
            if (run_s >= 0 && out_put(o, run_s, c->text + run_off, run_len) != 0) rc = -1;
            if (c->pos < c->nl) break;
            f->head = c->next;
            if (!f->head) f->tail = NULL;
            chunk_free(c);
            if (forced && o->held <= o->cap) break;
        }
        if (!wrote) return rc; /* the earliest line must wait for a worker's clock */
    }
}

int wk_out_flush(wk_out_t *o) {
    if (!o) return 0;
    pthread_mutex_lock(&o->mu);
    for (int i = 0; i < o->n; i++)
        if (o->s[i].fp && o->s[i].fp != stdout && fflush(o->s[i].fp) != 0) out_fail(o, o->s[i].path, "cannot write log");
    if (!o->outdir && fflush(stdout) != 0) out_fail(o, "standard output", "cannot write log");
    int rc = o->failed ? -1 : 0;
    pthread_mutex_unlock(&o->mu);
    return rc;
}

int wk_out_close(wk_out_t *o, char *err, size_t errlen) {
    if (!o) return 0;
    pthread_mutex_lock(&o->mu);
    if (o->nw) ord_emit(o, 1);
    for (int i = 0; i < o->n; i++) {
        if (o->s[i].fp && o->s[i].fp != stdout && fclose(o->s[i].fp) != 0) out_fail(o, o->s[i].path, "cannot write log");
        o->s[i].fp = NULL;
    }
    if (!o->outdir && fflush(stdout) != 0) out_fail(o, "standard output", "cannot write log");
    int rc = o->failed ? -1 : 0;
    if (rc && err && errlen) snprintf(err, errlen, "%s", o->err);
    pthread_mutex_unlock(&o->mu);
    return rc;
}

void wk_out_free(wk_out_t *o) {
    if (!o) return;
    wk_out_close(o, NULL, 0);
    for (int i = 0; i < o->n; i++) {
        free(o->s[i].name);
        free(o->s[i].path);
    }
    for (int w = 0; w < o->nw; w++)
        while (o->fifo[w].head) {
            ord_chunk_t *c = o->fifo[w].head;
            o->fifo[w].head = c->next;
            chunk_free(c);
        }
    free(o->fifo);
    pthread_mutex_destroy(&o->mu);
    free(o->outdir);
    free(o);
}

typedef struct line_buf {
    char *name;
    size_t nlen;
    char *buf; /* unordered: the lines waiting (WK_LINES_BUF) */
    size_t len;
    int sidx;  /* ordered: the stream's index in the output */
} line_buf_t;

struct wk_lines {
    wk_out_t *o;
    line_buf_t s[WK_MAX_STREAMS];
    int n;
    /* ordered output (the output's wk_out_order was called) */
    const eng_t *e;
    int w;
    ord_chunk_t *cur;
    int64_t last_t;
};

wk_lines_t *wk_lines_new(wk_out_t *o, const eng_t *e, int worker) {
    wk_lines_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->o = o;
    l->e = e;
    l->w = worker;
    l->last_t = INT64_MIN;
    return l;
}

static int ordered(const wk_lines_t *l) { return l->o->nw > 0 && l->w >= 0 && l->w < l->o->nw; }

static int lb_flush(wk_lines_t *l, line_buf_t *s) {
    if (!s->len) return 0;
    int rc = out_write(l->o, s->name, s->nlen, s->buf, s->len);
    s->len = 0;
    return rc;
}

/* ordered: hand the current chunk to the output; the worker's later lines are
 * tagged at least progress */
static int hand_on(wk_lines_t *l, int64_t progress) {
    wk_out_t *o = l->o;
    pthread_mutex_lock(&o->mu);
    ord_fifo_t *f = &o->fifo[l->w];
    ord_chunk_t *c = l->cur;
    if (c && c->nl) {
        if (f->tail) f->tail->next = c;
        else f->head = c;
        f->tail = c;
        o->held += c->used;
        l->cur = NULL;
    }
    if (progress > f->progress) f->progress = progress;
    int rc = ord_emit(o, 0);
    pthread_mutex_unlock(&o->mu);
    return rc;
}

static int64_t tag_now(wk_lines_t *l) {
    int64_t t = eng_now(l->e);
    if (t < l->last_t) t = l->last_t;
    return l->last_t = t;
}

static int ord_write(wk_lines_t *l, line_buf_t *s, const char *line, size_t len) {
    int64_t t = tag_now(l);
    ord_chunk_t *c = l->cur;
    if (c && c->used + len > c->cap) {
        if (hand_on(l, t) != 0) return -1; /* takes the chunk */
        c = NULL;
    } else if (c && c->nl == c->capl) {
        ord_line_t *nl = realloc(c->l, (size_t)c->capl * 2 * sizeof *nl);
        if (!nl) return -1;
        c->l = nl;
        c->capl *= 2;
    }
    if (!c) {
        size_t cap = len > WK_LINES_BUF ? len : WK_LINES_BUF;
        c = calloc(1, sizeof *c);
        if (!c || !(c->text = malloc(cap)) || !(c->l = malloc(256 * sizeof *c->l))) {
            chunk_free(c);
            return -1;
        }
        c->cap = cap;
        c->capl = 256;
        l->cur = c;
    }
    memcpy(c->text + c->used, line, len);
    c->l[c->nl++] = (ord_line_t){t, (uint32_t)c->used, (uint32_t)len, s->sidx};
    c->used += len;
    return 0;
}

int wk_lines_write(void *lines, const char *stream, size_t slen, const char *line, size_t len) {
    wk_lines_t *l = lines;
    int ord = ordered(l);
    line_buf_t *s = NULL;
    for (int i = 0; i < l->n; i++)
        if (l->s[i].nlen == slen && memcmp(l->s[i].name, stream, slen) == 0) {
            s = &l->s[i];
            break;
        }
    if (!s) {
        if (l->n == WK_MAX_STREAMS || len > UINT32_MAX) return -1;
        s = &l->s[l->n];
        s->name = strndup(stream, slen);
        s->buf = ord ? NULL : malloc(WK_LINES_BUF);
        if (!s->name || (!ord && !s->buf)) {
            free(s->name);
            free(s->buf);
            s->name = s->buf = NULL;
            return -1;
        }
        if (ord) {
            pthread_mutex_lock(&l->o->mu);
            s->sidx = out_stream(l->o, stream, slen);
            pthread_mutex_unlock(&l->o->mu);
            if (s->sidx < 0) {
                free(s->name);
                s->name = NULL;
                return -1;
            }
        }
        s->nlen = slen;
        s->len = 0;
        l->n++;
    }
    if (ord) return ord_write(l, s, line, len);
    if (s->len + len > WK_LINES_BUF && lb_flush(l, s) != 0) return -1;
    if (len > WK_LINES_BUF) return out_write(l->o, s->name, s->nlen, line, len);
    memcpy(s->buf + s->len, line, len);
    s->len += len;
    return 0;
}

int wk_lines_flush(void *lines) {
    wk_lines_t *l = lines;
    if (ordered(l)) return hand_on(l, tag_now(l));
    int rc = 0;
    for (int i = 0; i < l->n; i++)
        if (lb_flush(l, &l->s[i]) != 0) rc = -1;
    return rc;
}

int wk_lines_ordered(const wk_lines_t *l) { return l && ordered(l); }

void wk_lines_free(wk_lines_t *l) {
    if (!l) return;
    wk_lines_flush(l);
    chunk_free(l->cur);
    for (int i = 0; i < l->n; i++) {
        free(l->s[i].name);
        free(l->s[i].buf);
    }
    free(l);
}

/* ---- merged counters ------------------------------------------------------------ */

void wk_share_memcap(eng_t *e, int n) {
    if (n > 1 && e->cfg.memcap) e->mem.limit = e->cfg.memcap / (uint64_t)n ? e->cfg.memcap / (uint64_t)n : 1;
}

void wk_merge_stats(eng_t *dst, const eng_t *src) {
    eng_stats(src); /* reassembly and engine.memcap keep their own counters: copy them in */
    /* eng_stats(dst) copies dst's own from reasm and mem: sum them there too */
    reasm_ctx_t *dr = &dst->reasm;
    const reasm_ctx_t *sr = &src->reasm;
    dr->in_order += sr->in_order;
    dr->out_of_order += sr->out_of_order;
    dr->retransmitted += sr->retransmitted;
    dr->overlaps += sr->overlaps;
    dr->conflicts += sr->conflicts;
    dr->delivered += sr->delivered;
    dr->buffered += sr->buffered;
    dr->buffered_peak += sr->buffered_peak;
    dst->mem.used += src->mem.used;
    dst->mem.peak += src->mem.peak;
    dst->mem.cuts += src->mem.cuts;
    dst->mem.cut_bytes += src->mem.cut_bytes;
    dst->mem.leaked += src->mem.leaked;
    uint64_t *d = (uint64_t *)&dst->stats;
    const uint64_t *s = (const uint64_t *)&src->stats;
    for (size_t i = 0; i < sizeof dst->stats / sizeof *d; i++) d[i] += s[i];
    for (int i = 0; i < src->nweirds; i++) {
        int j = 0;
        while (j < dst->nweirds && strcmp(dst->weirds[j].name, src->weirds[i].name) != 0) j++;
        if (j == dst->nweirds) {
            if (dst->nweirds == dst->capweirds) {
                int cap = dst->capweirds ? dst->capweirds * 2 : 16;
                struct weird_count *w = realloc(dst->weirds, (size_t)cap * sizeof *w);
                if (!w) continue;
                dst->weirds = w;
                dst->capweirds = cap;
            }
            char *n = strdup(src->weirds[i].name);
            if (!n) continue;
            dst->weirds[dst->nweirds++] = (struct weird_count){n, 0};
        }
        dst->weirds[j].n += src->weirds[i].n;
    }
    for (int i = 0; i < src->nunsup; i++) {
        int j = 0;
        while (j < dst->nunsup && dst->unsup[j].linktype != src->unsup[i].linktype) j++;
        if (j == dst->nunsup) {
            if (dst->nunsup == ENG_UNSUP_LINKS) j = ENG_UNSUP_LINKS - 1;
            else dst->unsup[dst->nunsup++].linktype = src->unsup[i].linktype;
        }
        dst->unsup[j].packets += src->unsup[i].packets;
    }
}
