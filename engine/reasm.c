/* reasm.c - TCP reassembly of one direction (contract: reasm.h).
 *
 * State of a direction: `next`, the offset of the next byte to deliver, and a
 * sorted list of disjoint buffered ranges, all starting above `next`.
 *
 *  - A segment at `next` is delivered straight from the caller's buffer up to
 *    the first buffered range (no copy, no allocation); whatever of it lies
 *    past that goes through the out-of-order path and the ranges that became
 *    contiguous are delivered from the buffer.
 *  - A segment above `next` fills the holes of the list (one allocation per
 *    hole filled); the bytes it shares with buffered ranges are compared
 *    (overlap event per range touched, conflict when they differ) and
 *    replace them when the direction's policy says the new segment wins
 *    (reasm_takes_new). Each range remembers the extent of the segment that
 *    filled it (src_off, src_end): that is the "old segment" the policy
 *    compares the new one with. Replaced bytes keep that origin, so a third
 *    segment is compared with the first one's extent (a host that keeps
 *    both segments in its queue may compare it with either: Suricata
 *    compares it with each; the cases differ only for three segments
 *    overlapping at once).
 *  - Bytes below `next` are retransmissions: overlap event, conflict when
 *    they differ from the delivered bytes still in the history ring (kept
 *    only while ctx->keep_hist, REASM_HIST bytes a direction, allocated at
 *    the first delivery with keep_hist on (tcp.c: someone listens, and the
 *    direction's peer has sent a packet) while all histories together stay within
 *    max_total: memory for histories is bounded like the buffered ranges).
 *  - A direction picked up mid-stream holds its first segments (reasm.h):
 *    they all take the out-of-order path, and one with a lower sequence
 *    number than any seen moves offset 0 down (rebase) until settle().
 *  - Past a limit (max_ooo or REASM_MAX_RANGES per direction, max_total for
 *    the ctx, oldest buffering direction first) the hole before the first
 *    range is a gap, and the ranges that became contiguous are delivered.
 *  - reasm_ack turns holes below the peer's ack into gaps; reasm_flush turns
 *    every hole (up to the FIN, if seen) into gaps.
 *
 * Offsets are 64-bit: seq unwraps relative to `next`, so a segment is placed
 * within +-2 GiB of `next` (the TCP window is far smaller).
 *
 * Counters: `segments` counts segments carrying payload; `in_order` those
 * starting at `next`, `out_of_order` those buffered (or dropped as already
 * buffered), `retransmitted` those entirely below `next`.
 *
 * The sink callbacks run from inside these functions: they must not free or
 * flush the direction being processed (defer that to after the call); with
 * max_total, they may be called for another direction of the ctx.
 */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

struct reasm_seg {
    reasm_seg_t *next;  /* NULL at the tail */
    reasm_seg_t *prev;  /* the head's prev is the tail */
    uint64_t off;
    uint64_t src_off, src_end; /* the segment that filled this range first */
    uint32_t len;
    uint8_t data[];
};

/* A direction keeps at most this many buffered ranges: bounds the per-range
 * memory overhead and the cost of a list walk whatever the segment sizes. */
#define REASM_MAX_RANGES 4096
/* larger segments do not exist in TCP; cut longer ones (offsets stay sane) */
#define REASM_MAX_SEG (1u << 30)
/* an ack (or FIN) this far or farther ahead of `next` is bogus */
#define REASM_MAX_ACK_AHEAD (1u << 30)

static inline uint64_t end_of(const reasm_seg_t *s) { return s->off + s->len; }
static inline uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* ---- the ctx's list of directions holding buffered bytes ----------------- */

static int is_linked(const reasm_ctx_t *c, const reasm_dir_t *d) {
    return d->older || d->newer || c->oldest == d;
}

static void link_newest(reasm_ctx_t *c, reasm_dir_t *d) {
    d->newer = NULL;
    d->older = c->newest;
    if (c->newest) c->newest->newer = d;
    else c->oldest = d;
    c->newest = d;
}

static void unlink_dir(reasm_ctx_t *c, reasm_dir_t *d) {
    if (d->older) d->older->newer = d->newer;
    else if (c->oldest == d) c->oldest = d->newer;
    if (d->newer) d->newer->older = d->older;
    else if (c->newest == d) c->newest = d->older;
    d->older = d->newer = NULL;
}

/* ---- buffered ranges ----------------------------------------------------- */

static inline void mem(reasm_ctx_t *c, reasm_dir_t *d, int64_t delta) {
    if (c->sink && c->sink->mem) c->sink->mem(d->sink_ctx, delta);
}

static void account(reasm_ctx_t *c, reasm_dir_t *d, uint32_t len, int add) {
    mem(c, d, add ? (int64_t)len : -(int64_t)len);
    if (add) {
        if (d->ooo_bytes == 0) link_newest(c, d);
        d->ooo_bytes += len;
        d->nsegs++;
        c->buffered += len;
        if (c->buffered > c->buffered_peak) c->buffered_peak = c->buffered;
    } else {
        d->ooo_bytes -= len;
        d->nsegs--;
        c->buffered -= len;
        if (d->ooo_bytes == 0) unlink_dir(c, d);
    }
}

/* insert n before `at` (NULL: at the tail) */
static void seg_insert(reasm_dir_t *d, reasm_seg_t *at, reasm_seg_t *n) {
    if (!d->segs) {
        n->next = NULL;
        n->prev = n;
        d->segs = n;
    } else if (!at) {
        reasm_seg_t *t = d->segs->prev;
        t->next = n;
        n->prev = t;
        n->next = NULL;
        d->segs->prev = n;
    } else {
        n->next = at;
        n->prev = at->prev;
        if (at == d->segs) d->segs = n;
        else at->prev->next = n;
        at->prev = n;
    }
}

static void seg_remove(reasm_dir_t *d, reasm_seg_t *s) {
    if (s == d->segs) {
        d->segs = s->next;
        if (d->segs) d->segs->prev = s->prev;
    } else {
        s->prev->next = s->next;
        if (s->next) s->next->prev = s->prev;
        else d->segs->prev = s->prev;
    }
}

static void seg_drop(reasm_ctx_t *c, reasm_dir_t *d, reasm_seg_t *s) {
    seg_remove(d, s);
    account(c, d, s->len, 0);
    free(s);
}

/* a new range [off, off+len) holding p, before `at` */
static void seg_new(reasm_ctx_t *c, reasm_dir_t *d, reasm_seg_t *at, uint64_t off,
                    const uint8_t *p, uint64_t len, uint64_t src_off, uint64_t src_end) {
    reasm_seg_t *n = malloc(sizeof *n + len);
    if (!n) return; /* the bytes are lost: a gap at the next ack or flush */
    n->off = off;
    n->src_off = src_off;
    n->src_end = src_end;
    n->len = (uint32_t)len;
    memcpy(n->data, p, len);
    seg_insert(d, at, n);
    account(c, d, n->len, 1);
}

/* ---- sink ---------------------------------------------------------------- */

/* keep delivered bytes [next, next+len) in the history ring */
static void hist_keep(reasm_ctx_t *c, reasm_dir_t *d, const uint8_t *p, uint64_t len) {
    if (!d->hist) {
        if (!c->keep_hist || c->hist_bytes >= c->max_total) return;
        d->hist = malloc(REASM_HIST);
        if (!d->hist) return;
        c->hist_bytes += REASM_HIST;
        mem(c, d, REASM_HIST);
        d->hist_len = 0;
    }
    uint64_t off = d->next;
    d->hist_len = len >= REASM_HIST - d->hist_len ? REASM_HIST : d->hist_len + (uint32_t)len;
    if (len > REASM_HIST) {
        p += len - REASM_HIST;
        off += len - REASM_HIST;
        len = REASM_HIST;
    }
    size_t pos = (size_t)(off % REASM_HIST);
    size_t k = REASM_HIST - pos < len ? REASM_HIST - pos : (size_t)len;
    memcpy(d->hist + pos, p, k);
    memcpy(d->hist, p + k, (size_t)len - k);
}

/* do bytes [o, o+len) (all below next) differ from the delivered ones kept? */
static int hist_differs(const reasm_dir_t *d, uint64_t o, const uint8_t *p, uint64_t len) {
    if (!d->hist) return 0;
    uint64_t hs = d->next - d->hist_len, e = o + len;
    if (o < hs) {
        if (e <= hs) return 0;
        p += hs - o;
        o = hs;
    }
    while (o < e) {
        size_t pos = (size_t)(o % REASM_HIST);
        size_t k = REASM_HIST - pos < e - o ? REASM_HIST - pos : (size_t)(e - o);
        if (memcmp(d->hist + pos, p, k)) return 1;
        p += k;
        o += k;
    }
    return 0;
}

static void deliver(reasm_ctx_t *c, reasm_dir_t *d, const uint8_t *p, uint64_t len) {
    if (!len) return;
    if (d->hist || c->keep_hist) hist_keep(c, d, p, len);
    if (c->sink && c->sink->data) c->sink->data(d->sink_ctx, d->dir, d->next, p, len);
    d->next += len;
    c->delivered += len;
}

static void gap_to(reasm_ctx_t *c, reasm_dir_t *d, uint64_t to) {
    if (to <= d->next) return;
    uint64_t len = to - d->next;
    c->gaps++;
    c->gap_bytes += len;
    if (c->sink && c->sink->gap) c->sink->gap(d->sink_ctx, d->dir, d->next, len);
    d->next = to;
    d->hist_len = 0; /* the ring holds bytes before the gap only */
}

static void overlap(reasm_ctx_t *c, reasm_dir_t *d, uint64_t off, uint64_t len, int conflict,
                    int kept_new, int delivered) {
    c->overlaps++;
    if (conflict) c->conflicts++;
    if (c->sink && c->sink->overlap)
        c->sink->overlap(d->sink_ctx, d->dir, off, len, conflict, kept_new, delivered);
}

/* deliver the buffered ranges that start at (or below) next */
static void deliver_contig(reasm_ctx_t *c, reasm_dir_t *d) {
    reasm_seg_t *s;
    while ((s = d->segs) && s->off <= d->next) {
        if (end_of(s) > d->next) deliver(c, d, s->data + (d->next - s->off), end_of(s) - d->next);
        seg_drop(c, d, s);
    }
}

/* the hole before the first buffered range becomes a gap */
static void skip_hole(reasm_ctx_t *c, reasm_dir_t *d) {
    d->hold = 0; /* a held direction's first range is at offset 0: no gap */
    if (!d->segs) return;
    gap_to(c, d, d->segs->off);
    deliver_contig(c, d);
}

/* end a mid-stream hold: offset 0 is fixed, deliver from it */
static void settle(reasm_ctx_t *c, reasm_dir_t *d) {
    if (!d->hold) return;
    d->hold = 0;
    deliver_contig(c, d);
}

/* while holding (nothing delivered yet): offset 0 moves k bytes down */
static void rebase(reasm_dir_t *d, uint32_t k) {
    d->base_seq -= k;
    for (reasm_seg_t *s = d->segs; s; s = s->next) {
        s->off += k;
        s->src_off += k;
        s->src_end += k;
    }
    if (d->has_fin) d->fin_off += k;
    if (d->acked) d->acked += k;
}

static void enforce_limits(reasm_ctx_t *c, reasm_dir_t *d) {
    uint64_t max_ooo = min64(c->max_ooo, (uint64_t)1 << 31);
    while (d->segs && (d->ooo_bytes > max_ooo || d->nsegs > REASM_MAX_RANGES)) skip_hole(c, d);
    while (c->buffered > c->max_total && c->oldest) skip_hole(c, c->oldest);
}

/* [off, off+len), off > next, part of the segment [ns, ne): fill the holes
 * of the list, compare the rest, the policy decides which copy stays */
static void ooo_insert(reasm_ctx_t *c, reasm_dir_t *d, uint64_t off, const uint8_t *p,
                       uint64_t len, uint64_t ns, uint64_t ne) {
    int pol = reasm_policy_of(c, d);
    uint64_t cur = off, e = off + len;
    reasm_seg_t *s = d->segs;
    if (s && end_of(s->prev) <= off) s = NULL; /* past the tail: the usual case */
    while (s && end_of(s) <= cur) s = s->next;
    while (cur < e) {
        if (!s || s->off >= e) {
            seg_new(c, d, s, cur, p + (cur - off), e - cur, ns, ne);
            break;
        }
        if (cur < s->off) {
            seg_new(c, d, s, cur, p + (cur - off), s->off - cur, ns, ne);
            cur = s->off;
        }
        uint64_t oe = min64(e, end_of(s));
        uint8_t *old = s->data + (cur - s->off);
        const uint8_t *nw = p + (cur - off);
        int conflict = memcmp(old, nw, oe - cur) != 0;
        int take = reasm_takes_new(pol, ns, ne, s->src_off, s->src_end);
        overlap(c, d, cur, oe - cur, conflict, take, 0);
        if (conflict && take) memcpy(old, nw, oe - cur);
        cur = oe;
        s = s->next;
    }
}

/* the FIN's offset is known: bytes buffered past it are dropped */
static void note_fin(reasm_ctx_t *c, reasm_dir_t *d, int64_t fin) {
    if (d->has_fin || fin < 0 || (uint64_t)fin < d->next) return;
    if ((uint64_t)fin - d->next >= REASM_MAX_ACK_AHEAD) return; /* bogus */
    d->has_fin = 1;
    d->fin_off = (uint64_t)fin;
    int dropped = 0;
    while (d->segs && d->segs->prev->off >= d->fin_off) {
        seg_drop(c, d, d->segs->prev);
        dropped = 1;
    }
    if (d->segs && end_of(d->segs->prev) > d->fin_off) {
        reasm_seg_t *t = d->segs->prev;
        uint32_t cut = (uint32_t)(end_of(t) - d->fin_off);
        t->len -= cut;
        d->ooo_bytes -= cut;
        c->buffered -= cut;
        mem(c, d, -(int64_t)cut);
        dropped = 1;
    }
    if (dropped) c->after_fin++;
}

/* ---- overlap policies (reasm.h) ------------------------------------------ */

const char *const reasm_policy_names[REASM_NPOLICIES + 1] = {
    [REASM_FIRST] = "first",         [REASM_LAST] = "last",
    [REASM_LINUX] = "linux",         [REASM_OLD_LINUX] = "old-linux",
    [REASM_BSD] = "bsd",             [REASM_BSD_RIGHT] = "bsd-right",
    [REASM_OLD_SOLARIS] = "old-solaris", [REASM_SOLARIS] = "solaris",
    [REASM_HPUX10] = "hpux10",       [REASM_HPUX11] = "hpux11",
    [REASM_IRIX] = "irix",           [REASM_MACOS] = "macos",
    [REASM_VISTA] = "vista",         [REASM_WINDOWS] = "windows",
    [REASM_WINDOWS2K3] = "windows2k3", [REASM_NPOLICIES] = NULL,
};

int reasm_policy_by_name(const char *name) {
    for (int i = 0; name && i < REASM_NPOLICIES; i++)
        if (!strcmp(reasm_policy_names[i], name)) return i;
    return -1;
}

int reasm_takes_new(int policy, uint64_t ns, uint64_t ne, uint64_t os, uint64_t oe) {
    if (policy == REASM_BSD_RIGHT) policy = REASM_BSD; /* they differ for fragments only */
    if (policy == REASM_OLD_SOLARIS) policy = REASM_SOLARIS;
    switch (policy) {
    case REASM_LAST: return 1;
    case REASM_LINUX:
        return ns < os || (ns == os && ne > oe);
    case REASM_OLD_LINUX:
        return ns < os || (ns == os && ne >= oe);
    case REASM_BSD:
    case REASM_HPUX10:
    case REASM_IRIX:
    case REASM_MACOS:
    case REASM_WINDOWS:
    case REASM_WINDOWS2K3:
        return ns < os;
    case REASM_SOLARIS:
    case REASM_HPUX11:
        return (ns <= os && ne >= oe) || (ns > os && ne > oe);
    default: /* first, vista */
        return 0;
    }
}

/* ---- API ----------------------------------------------------------------- */

void reasm_ctx_init(reasm_ctx_t *c, const reasm_sink_t *sink) {
    memset(c, 0, sizeof *c);
    c->sink = sink;
    c->max_ooo = 1 << 20;
    c->max_total = 256u << 20;
    c->overlap_policy = REASM_FIRST;
}

void reasm_dir_policy(reasm_dir_t *d, int policy) {
    d->policy = policy >= 0 && policy < REASM_NPOLICIES ? (uint8_t)(policy + 1) : 0;
}

void reasm_dir_init(reasm_dir_t *d, void *sink_ctx, int dir) {
    memset(d, 0, sizeof *d);
    d->sink_ctx = sink_ctx;
    d->dir = (uint8_t)dir;
}

void reasm_syn(reasm_ctx_t *c, reasm_dir_t *d, uint32_t isn) {
    if (d->started) return;
    d->base_seq = isn + 1;
    d->started = 1;
}

void reasm_segment(reasm_ctx_t *c, reasm_dir_t *d, uint32_t seq, const uint8_t *p, size_t len,
                   int flags) {
    if (!p) len = 0;
    if (len > REASM_MAX_SEG) len = REASM_MAX_SEG;
    if (flags & REASM_SYN) {
        if (!d->started) {
            d->base_seq = seq + 1;
            d->started = 1;
        }
        seq++;
    }
    if (!d->started) { /* picked up mid-stream: hold (see reasm.h) */
        d->base_seq = seq;
        d->started = 1;
        d->hold = 1;
    }
    if (len) c->segments++;
    if (d->hold && len && !d->closed) {
        uint32_t below = d->base_seq - seq;
        if (below > 0 && below <= REASM_HOLD_BACK) rebase(d, below);
    }
    if (d->closed) {
        if (len) c->after_fin++;
        return;
    }
    uint32_t next_seq = d->base_seq + (uint32_t)d->next;
    if (len <= 1 && seq == next_seq - 1 && !(flags & (REASM_SYN | REASM_FIN | REASM_RST))) {
        c->keepalives++;
        return;
    }
    int64_t off = (int64_t)d->next + (int32_t)(seq - next_seq);
    int64_t end = off + (int64_t)len;
    if (flags & REASM_FIN) note_fin(c, d, end);
    if (flags & REASM_RST) d->closed = 1; /* after this segment's bytes */
    if (!len) return;

    if (end <= 0) { /* wholly before the stream's first byte */
        c->retransmitted++;
        return;
    }
    if (off < 0) {
        p += -off;
        off = 0;
    }
    uint64_t o = (uint64_t)off, e = (uint64_t)end;
    if (d->has_fin && e > d->fin_off) {
        c->after_fin++;
        if (o >= d->fin_off) return;
        e = d->fin_off;
    }
    const uint64_t ns = o, ne = e; /* the segment, for the overlap policy */
    if (e <= d->next) {
        c->retransmitted++;
        overlap(c, d, o, e - o, hist_differs(d, o, p, e - o), 0, 1);
        return;
    }
    if (o < d->next) { /* starts with bytes already delivered */
        overlap(c, d, o, d->next - o, hist_differs(d, o, p, d->next - o), 0, 1);
        p += d->next - o;
        o = d->next;
    }
    if (o > d->next || d->hold) {
        c->out_of_order++;
        ooo_insert(c, d, o, p, e - o, ns, ne);
        if (d->hold && ++d->held >= REASM_HOLD_SEGS) settle(c, d);
        enforce_limits(c, d);
        return;
    }

    /* in order */
    c->in_order++;
    uint64_t n = e - o;
    if (d->segs && d->segs->off - o < n) n = d->segs->off - o;
    deliver(c, d, p, n);
    if (o + n < e) ooo_insert(c, d, o + n, p + n, e - o - n, ns, ne);
    deliver_contig(c, d);
}

int reasm_ack(reasm_ctx_t *c, reasm_dir_t *d, uint32_t ack) {
    if (!d->started || d->closed) return 0;
    int32_t ahead = (int32_t)(ack - (d->base_seq + (uint32_t)d->next));
    if (ahead > 0 && (uint32_t)ahead < REASM_MAX_ACK_AHEAD) {
        uint64_t a = d->next + (uint64_t)ahead;
        if (d->has_fin && a > d->fin_off) a = d->fin_off; /* the FIN's own sequence number */
        if (a > d->acked) d->acked = a;
    }
    return d->acked > d->next;
}

void reasm_settle(reasm_ctx_t *c, reasm_dir_t *d) { settle(c, d); }

void reasm_ack_gaps(reasm_ctx_t *c, reasm_dir_t *d) {
    settle(c, d);
    if (!d->started || d->closed || d->acked <= d->next) return;
    uint64_t a = d->acked;
    if (d->has_fin && a > d->fin_off) a = d->fin_off;
    while (d->next < a) {
        gap_to(c, d, d->segs ? min64(d->segs->off, a) : a);
        deliver_contig(c, d);
    }
}

void reasm_flush(reasm_ctx_t *c, reasm_dir_t *d) {
    settle(c, d);
    /* acknowledged bytes never seen; but one byte acknowledged past the data
     * with no FIN seen is most likely the FIN itself, lost: not a gap */
    if (!d->has_fin && d->acked == d->next + 1 && !d->segs) d->acked = d->next;
    reasm_ack_gaps(c, d);
    while (d->segs) skip_hole(c, d);
    if (d->has_fin) {
        gap_to(c, d, d->fin_off);
        d->closed = 1;
    }
}

static void hist_free(reasm_ctx_t *c, reasm_dir_t *d) {
    if (!d->hist) return;
    free(d->hist);
    d->hist = NULL;
    d->hist_len = 0;
    c->hist_bytes -= REASM_HIST;
    mem(c, d, -(int64_t)REASM_HIST);
}

uint64_t reasm_cut(reasm_ctx_t *c, reasm_dir_t *d) {
    uint64_t freed = d->ooo_bytes + (d->hist ? REASM_HIST : 0);
    if (d->segs) {
        uint64_t to = end_of(d->segs->prev);
        while (d->segs) seg_drop(c, d, d->segs);
        d->hold = 0;
        gap_to(c, d, to);
    }
    hist_free(c, d);
    return freed;
}

void reasm_dir_free(reasm_ctx_t *c, reasm_dir_t *d) {
    while (d->segs) seg_drop(c, d, d->segs);
    if (is_linked(c, d)) unlink_dir(c, d);
    hist_free(c, d);
    d->closed = 1;
}

static reasm_dir_t *sub_dir(reasm_dir_t *x, reasm_dir_t *a, reasm_dir_t *b) {
    return x == a ? b : x == b ? a : x;
}

void reasm_dir_swap(reasm_ctx_t *c, reasm_dir_t *a, reasm_dir_t *b) {
    if (a == b) return;
    /* b takes a's place in the list and a takes b's: their contents swap */
    reasm_dir_t *nb[4] = {a->older, a->newer, b->older, b->newer};
    reasm_dir_t *ao = sub_dir(a->older, a, b), *an = sub_dir(a->newer, a, b);
    reasm_dir_t *bo = sub_dir(b->older, a, b), *bn = sub_dir(b->newer, a, b);
    for (int i = 0; i < 4; i++) {
        reasm_dir_t *x = nb[i];
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= nb[j] == x;
        if (!x || x == a || x == b || seen) continue;
        x->older = sub_dir(x->older, a, b);
        x->newer = sub_dir(x->newer, a, b);
    }
    c->oldest = sub_dir(c->oldest, a, b);
    c->newest = sub_dir(c->newest, a, b);
    reasm_dir_t sa = *a;
    void *actx = a->sink_ctx, *bctx = b->sink_ctx;
    uint8_t adir = a->dir, bdir = b->dir;
    *a = *b;
    *b = sa;
    a->sink_ctx = actx;
    a->dir = adir;
    a->older = bo;
    a->newer = bn;
    b->sink_ctx = bctx;
    b->dir = bdir;
    b->older = ao;
    b->newer = an;
}
