/* expect.c - expectations: connections a decoder announced before they come
 * (FTP data channels after 227/229/PORT/EPRT, SIP media after an SDP body),
 * after Suricata's app-layer-expectation.c.
 *
 * An entry is keyed by (proto, the endpoint that will be reached); it sits in
 * a hash chain, in the FIFO of all entries (oldest first, for the global
 * bound and expiry) and in its parent flow's list (for the per-flow bound and
 * for dropping them when the parent ends). A new flow looks itself up once,
 * in flow_announce: one hash probe per endpoint, nothing at all while no
 * expectation exists. A match is consumed: the flow gets the expected
 * decoder, a parent link and the tag.
 */
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "internal.h"

#define XBUCKETS 8192u /* power of two */

typedef struct xentry {
    dec_expect_t x;
    const eng_decoder_t *dec;
    flow_t *parent;
    int64_t deadline;
    uint64_t seq;                 /* creation order: the oldest match wins */
    struct xentry *hnext;         /* hash chain */
    struct xentry *older, *newer; /* the FIFO */
    struct xentry *pnext;         /* the parent's list, newest first */
} xentry_t;

typedef struct expect_table {
    xentry_t *buckets[XBUCKETS];
    xentry_t *oldest, *newest;
    uint64_t n, seq, key;
} expect_table_t;

static uint32_t xhash(const expect_table_t *t, uint8_t proto, const uint8_t *a, uint16_t port) {
    uint64_t w0, w1;
    memcpy(&w0, a, 8);
    memcpy(&w1, a + 8, 8);
    return (uint32_t)hash_mix64(t->key ^ hash_mix64(w0 ^ hash_mix64(w1 ^ ((uint64_t)proto << 16 | port))));
}

static void unlink_entry(expect_table_t *t, xentry_t *x) {
    xentry_t **pp = &t->buckets[xhash(t, x->x.proto, x->x.addr, x->x.port) & (XBUCKETS - 1)];
    while (*pp && *pp != x) pp = &(*pp)->hnext;
    if (*pp) *pp = x->hnext;
    if (x->older) x->older->newer = x->newer;
    else t->oldest = x->newer;
    if (x->newer) x->newer->older = x->older;
    else t->newest = x->older;
    flow_t *p = x->parent;
    if (p) { /* a parent with entries has its cold part */
        xentry_t **q = &p->x->expects;
        while (*q && *q != x) q = &(*q)->pnext;
        if (*q) *q = x->pnext;
        p->x->n_expects--;
    }
    t->n--;
    free(x);
}

static void expire(eng_t *e, expect_table_t *t) {
    while (t->oldest && t->oldest->deadline < e->now) unlink_entry(t, t->oldest);
}

static void retro(eng_t *e, expect_table_t *t, xentry_t *x);

int dec_expect(eng_t *e, eng_flow_t *pparent, const dec_expect_t *x) {
    flow_t *parent = pparent ? FLOW(pparent) : NULL;
    const eng_decoder_t *d = x ? eng_decoder_find(x->service) : NULL;
    if (!d || !parent || pparent->ended || (x->proto != 6 && x->proto != 17) ||
        (x->family != 4 && x->family != 6) || x->timeout_ns <= 0)
        return -1;
    expect_table_t *t = e->expect;
    if (!t) {
        if (!(t = e->expect = calloc(1, sizeof *t))) return -1;
        t->key = hash_key();
    }
    expire(e, t);
    flow_cold_t *px = flow_cold(parent);
    if (!px) {
        eng_weird(e, pparent, "out_of_memory", "expectation");
        return -1;
    }
    if (px->n_expects >= DEC_EXPECT_PER_FLOW) {
        xentry_t *o = px->expects;
        while (o && o->pnext) o = o->pnext; /* the parent's oldest */
        eng_weird(e, pparent, "expectation_dropped", "more than %d connections expected by one flow",
                  DEC_EXPECT_PER_FLOW);
        if (o) unlink_entry(t, o);
    }
    if (t->n >= DEC_EXPECT_MAX) {
        eng_weird(e, pparent, "expectation_dropped", "more than %d connections expected", DEC_EXPECT_MAX);
        unlink_entry(t, t->oldest);
    }
    xentry_t *n = calloc(1, sizeof *n);
    if (!n) return -1;
    n->x = *x;
    if (x->family == 4) { /* only the first 4 bytes count */
        memset(n->x.addr + 4, 0, 12);
        memset(n->x.peer + 4, 0, 12);
    }
    n->dec = d;
    n->parent = parent;
    n->deadline = e->now + x->timeout_ns;
    n->seq = ++t->seq;
    uint32_t h = xhash(t, n->x.proto, n->x.addr, n->x.port) & (XBUCKETS - 1);
    n->hnext = t->buckets[h];
    t->buckets[h] = n;
    n->older = t->newest;
    if (t->newest) t->newest->newer = n;
    else t->oldest = n;
    t->newest = n;
    n->pnext = px->expects;
    px->expects = n;
    px->n_expects++;
    t->n++;
    retro(e, t, n);
    return 0;
}

void dec_expect_cancel(eng_t *e, eng_flow_t *pparent, uint64_t tag) {
    expect_table_t *t = e->expect;
    if (!t || !pparent || !FLOW(pparent)->x) return;
    for (xentry_t *x = FLOW(pparent)->x->expects, *nx; x; x = nx) {
        nx = x->pnext;
        if (x->x.tag == tag) unlink_entry(t, x);
    }
}

uint64_t dec_expect_pending(const eng_t *e) { return e->expect ? e->expect->n : 0; }

/* the oldest live entry reached at (a, port) whose peer fits (b, bport) */
static xentry_t *find(eng_t *e, expect_table_t *t, const flow_t *f, const uint8_t *a, uint16_t port,
                      const uint8_t *b, uint16_t bport) {
    xentry_t *best = NULL;
    size_t alen = f->pub.family == 4 ? 4 : 16;
    for (xentry_t *x = t->buckets[xhash(t, f->pub.proto, a, port) & (XBUCKETS - 1)]; x; x = x->hnext) {
        if (x->x.proto != f->pub.proto || x->x.family != f->pub.family || x->x.port != port ||
            memcmp(x->x.addr, a, alen) || x->deadline < e->now)
            continue;
        if (!x->x.peer_any && memcmp(x->x.peer, b, alen)) continue;
        if (x->x.peer_port && x->x.peer_port != bport) continue;
        if (!best || x->seq < best->seq) best = x;
    }
    return best;
}

/* link flow f to expectation x (consumed) and attach its decoder */
static void consume(eng_t *e, expect_table_t *t, flow_t *f, xentry_t *x) {
    const eng_decoder_t *d = x->dec;
    flow_t *p = x->parent;
    flow_cold_t *fx = flow_cold(f); /* NULL when out of memory: the decoder still comes */
    if (fx) fx->expect_tag = x->x.tag;
    unlink_entry(t, x);
    if (p && !p->pub.ended && fx) {
        fx->parent = p;
        fx->sibling = p->x->children;
        p->x->children = f;
        memcpy(f->pub.parent_uid, p->pub.uid, sizeof f->pub.parent_uid);
    }
    eng_flow_attach(e, &f->pub, d, "expect");
}

/* x fits flow f (the endpoint reached on either side, the peer on the other) */
static int fits(const xentry_t *x, const flow_t *f) {
    size_t alen = f->pub.family == 4 ? 4 : 16;
    if (x->x.proto != f->pub.proto || x->x.family != f->pub.family) return 0;
    for (int side = 0; side < 2; side++) {
        const uint8_t *a = side ? f->pub.orig_addr : f->pub.resp_addr;
        const uint8_t *b = side ? f->pub.resp_addr : f->pub.orig_addr;
        uint16_t ap = side ? f->pub.orig_port : f->pub.resp_port;
        uint16_t bp = side ? f->pub.resp_port : f->pub.orig_port;
        if (x->x.port != ap || memcmp(x->x.addr, a, alen)) continue;
        if (!x->x.peer_any && memcmp(x->x.peer, b, alen)) continue;
        if (x->x.peer_port && x->x.peer_port != bp) continue;
        return 1;
    }
    return 0;
}

/* An expectation may come after the connection it announces has started:
 * the capture (or a tap merging directions) can put the data connection's
 * first packets before the reply that announced it. Flows that began at most
 * RETRO_NS ago and have no decoder yet, among the RETRO_SCAN most recently
 * active flows of the protocol, are matched too; the earliest such flow wins. */
#define RETRO_NS (2LL * NS_PER_SEC)
#define RETRO_SCAN 64
static void retro(eng_t *e, expect_table_t *t, xentry_t *x) {
    flow_t *best = NULL;
    int classes[2] = {x->x.proto == 6 ? TO_TCP : TO_OTHER, x->x.proto == 6 ? TO_TCP_CLOSED : -1};
    int lists[2 * EST_NLEVELS];
    for (int l = 0; l < 2 * EST_NLEVELS; l++)
        lists[l] = classes[l / EST_NLEVELS] < 0 ? -1 : FL_LIST(classes[l / EST_NLEVELS], l % EST_NLEVELS);
    for (int l = 0; l < 2 * EST_NLEVELS; l++) {
        if (lists[l] < 0) continue;
        int k = 0;
        for (flow_t *f = e->ft.tail[lists[l]]; f && k < RETRO_SCAN; f = f->prev, k++) {
            if (f->dec || (f->x && f->x->parent) || f->pub.ended || f->pub.skipped || f == x->parent ||
                f->pub.start_ns < e->now - RETRO_NS || !fits(x, f))
                continue;
            if (!best || f->pub.start_ns < best->pub.start_ns ||
                (f->pub.start_ns == best->pub.start_ns && f->pub.id < best->pub.id))
                best = f;
        }
    }
    if (best) consume(e, t, best, x);
}

int flow_announce(eng_t *e, flow_t *f) {
    if (eng_wants(e, ENG_EV_FLOW_START)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FLOW_START, &f->pub);
        eng_fire(e, &ev);
        if (f->pub.ended) return 0;
    }
    expect_table_t *t = e->expect;
    if (!t || !t->n || f->pub.skipped) return 1;
    uint8_t a[16], b[16];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memcpy(a, f->pub.resp_addr, f->pub.family == 4 ? 4 : 16);
    memcpy(b, f->pub.orig_addr, f->pub.family == 4 ? 4 : 16);
    xentry_t *x = find(e, t, f, a, f->pub.resp_port, b, f->pub.orig_port);
    if (!x) x = find(e, t, f, b, f->pub.orig_port, a, f->pub.resp_port);
    if (!x) return 1;
    consume(e, t, f, x);
    return !f->pub.ended;
}

void expect_flow_end(eng_t *e, flow_t *f) {
    expect_table_t *t = e->expect;
    flow_cold_t *fx = f->x;
    if (!fx) return;
    while (t && fx->expects) unlink_entry(t, fx->expects);
    for (flow_t *c = fx->children; c; c = c->x->sibling) c->x->parent = NULL;
    fx->children = NULL;
    if (fx->parent) {
        flow_t **q = &fx->parent->x->children;
        while (*q && *q != f) q = &(*q)->x->sibling;
        if (*q) *q = fx->sibling;
        fx->parent = NULL;
    }
}

void expect_free(eng_t *e) {
    expect_table_t *t = e->expect;
    if (!t) return;
    for (xentry_t *x = t->oldest, *nx; x; x = nx) {
        nx = x->newer;
        free(x);
    }
    free(t);
    e->expect = NULL;
}

eng_flow_t *dec_flow_parent(eng_t *e, eng_flow_t *pf) {
    (void)e;
    flow_t *p = pf && FLOW(pf)->x ? FLOW(pf)->x->parent : NULL;
    return p && !p->pub.ended ? &p->pub : NULL;
}

uint64_t dec_flow_expect_tag(const eng_flow_t *pf) {
    const flow_t *f = (const flow_t *)pf;
    return f->x ? f->x->expect_tag : 0;
}
