/* test_reasm.c - TCP reassembly of one direction (engine/reasm.c).
 *
 * A recording sink keeps the delivered bytes, the gaps and the overlaps, and
 * checks on every callback that data and gaps come in order, each byte of the
 * stream reported exactly once (the invariant every test ends by asserting).
 */
#include "check.h"
#include "reasm.h"

#include <stdlib.h>

/* ---- the stream and a PRNG ----------------------------------------------- */

#define SLEN (6u << 20)
/* the peer's ACK, acted on at once (the engine waits a few packets first) */
static void ack_now(reasm_ctx_t *c, reasm_dir_t *d, uint32_t ack) {
    reasm_ack(c, d, ack);
    reasm_ack_gaps(c, d);
}

static uint8_t *S; /* a random stream, the bytes every test sends */

static uint64_t rng_s = 88172645463325252ull;
static uint32_t rnd(void) {
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return (uint32_t)(rng_s >> 11);
}

/* ---- the recording sink -------------------------------------------------- */

typedef struct { uint64_t off, len; int conflict; } ev_t;

#define IMG 8192 /* offsets below this are also kept in an image */

typedef struct {
    uint8_t *out; /* delivered bytes, concatenated */
    size_t n, cap;
    uint64_t pos; /* where the next data or gap must start */
    int order_errors, content_errors;
    uint64_t data_calls, gap_bytes;
    const uint8_t *last_p;
    uint64_t last_off, last_len;
    ev_t gap[64];
    int ngap;
    ev_t ovl[64];
    uint8_t kept_new[64], delivered[64]; /* of each overlap */
    int novl;
    int nostore;           /* count the delivered bytes, do not keep them */
    const uint8_t *expect; /* when set: delivered bytes must equal expect[off] */
    uint64_t expect_len;
    uint8_t img[IMG];
    uint8_t have[IMG]; /* 1 data, 2 gap */
} rec_t;

static void on_data(void *ctx, int dir, uint64_t off, const uint8_t *p, size_t len) {
    rec_t *r = ctx;
    if (off != r->pos || len == 0) r->order_errors++;
    r->pos = off + len;
    r->data_calls++;
    r->last_p = p;
    r->last_off = off;
    r->last_len = len;
    for (size_t i = 0; i < len && off + i < IMG; i++) {
        r->img[off + i] = p[i];
        r->have[off + i] += 1;
    }
    if (r->nostore) {
        r->n += len;
        return;
    }
    if (r->n + len > r->cap) {
        r->cap = (r->n + len) * 2;
        r->out = realloc(r->out, r->cap);
    }
    memcpy(r->out + r->n, p, len);
    r->n += len;
    if (r->expect && (off + len > r->expect_len || memcmp(p, r->expect + off, len) != 0))
        r->content_errors++;
}

static void on_gap(void *ctx, int dir, uint64_t off, uint64_t len) {
    rec_t *r = ctx;
    if (off != r->pos || len == 0) r->order_errors++;
    r->pos = off + len;
    r->gap_bytes += len;
    if (r->ngap < 64) r->gap[r->ngap] = (ev_t){off, len, 0};
    r->ngap++;
    for (uint64_t i = 0; i < len && off + i < IMG; i++) r->have[off + i] += 2;
}

static void on_overlap(void *ctx, int dir, uint64_t off, uint64_t len, int conflict, int kept_new,
                       int delivered) {
    rec_t *r = ctx;
    if (r->novl < 64) {
        r->ovl[r->novl] = (ev_t){off, len, conflict};
        r->kept_new[r->novl] = (uint8_t)kept_new;
        r->delivered[r->novl] = (uint8_t)delivered;
    }
    r->novl++;
}

static const reasm_sink_t sink = {on_data, on_gap, on_overlap, NULL};

typedef struct {
    reasm_ctx_t c;
    reasm_dir_t d[2];
    rec_t r[2];
} T;

static T *t_new(void) {
    T *t = calloc(1, sizeof *t);
    reasm_ctx_init(&t->c, &sink);
    for (int i = 0; i < 2; i++) reasm_dir_init(&t->d[i], &t->r[i], i);
    return t;
}

/* the invariant: every byte of [0, total) reported exactly once, in order,
 * as data or gap (total: the stream length, or -1 to take `next`) */
static void t_check(T *t, int dir, int64_t total) {
    rec_t *r = &t->r[dir];
    uint64_t want = total < 0 ? t->d[dir].next : (uint64_t)total;
    CHECK_EQ_INT(r->order_errors, 0);
    CHECK_EQ_INT(r->content_errors, 0);
    CHECK_EQ_INT(r->pos, want);
    CHECK_EQ_INT(r->n + r->gap_bytes, want);
    CHECK_EQ_INT(t->d[dir].next, want);
    for (uint64_t i = 0; i < want && i < IMG; i++)
        if (r->have[i] != 1 && r->have[i] != 2) {
            CHECK(!"byte reported other than once");
            break;
        }
}

static void t_free(T *t) {
    t_check(t, 0, -1);
    t_check(t, 1, -1);
    reasm_dir_free(&t->c, &t->d[0]);
    reasm_dir_free(&t->c, &t->d[1]);
    CHECK_EQ_INT(t->c.buffered, 0);
    CHECK(t->c.oldest == NULL && t->c.newest == NULL);
    free(t->r[0].out);
    free(t->r[1].out);
    free(t);
}

/* send stream bytes [off, off+len) of direction dir, ISN isn */
static void send_s(T *t, int dir, uint32_t isn, uint64_t off, size_t len, int flags) {
    reasm_segment(&t->c, &t->d[dir], isn + 1 + (uint32_t)off, S + off, len, flags);
}

#define CHECK_EV(e, o, l, cf)                                                       \
    do {                                                                            \
        CHECK_EQ_INT((e).off, (o));                                                 \
        CHECK_EQ_INT((e).len, (l));                                                 \
        CHECK_EQ_INT((e).conflict, (cf));                                           \
    } while (0)

/* ---- tests --------------------------------------------------------------- */

TEST(in_order_zero_copy) {
    T *t = t_new();
    uint32_t isn = 1000;
    reasm_syn(&t->c, &t->d[0], isn);
    for (int i = 0; i < 10; i++) {
        send_s(t, 0, isn, (uint64_t)i * 100, 100, 0);
        CHECK(t->r[0].last_p == S + i * 100); /* the segment's own bytes */
        CHECK_EQ_INT(t->r[0].last_len, 100);
        CHECK_EQ_INT(t->r[0].data_calls, i + 1);
    }
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 1000);
    CHECK_EQ_INT(t->c.in_order, 10);
    CHECK_EQ_INT(t->c.segments, 10);
    CHECK_EQ_INT(t->c.delivered, 1000);
    CHECK_EQ_INT(t->c.buffered_peak, 0);
    CHECK_EQ_INT(t->r[0].ngap + t->r[0].novl, 0);
    CHECK_EQ_INT(reasm_next(&t->d[0]), 1000);
    t_free(t);
}

TEST(reorder_reverse_100) {
    T *t = t_new();
    uint32_t isn = 77;
    reasm_syn(&t->c, &t->d[0], isn);
    for (int i = 99; i >= 0; i--) {
        send_s(t, 0, isn, (uint64_t)i * 10, 10, 0);
        if (i) CHECK_EQ_INT(t->r[0].n, 0);
    }
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 1000);
    CHECK_EQ_INT(t->c.out_of_order, 99);
    CHECK_EQ_INT(t->c.in_order, 1);
    CHECK_EQ_INT(t->c.buffered_peak, 990);
    CHECK_EQ_INT(t->c.buffered, 0);
    CHECK_EQ_INT(t->r[0].ngap + t->r[0].novl, 0);
    CHECK(t->c.oldest == NULL);
    t_free(t);
}

TEST(duplicates) {
    T *t = t_new();
    uint32_t isn = 5;
    reasm_syn(&t->c, &t->d[0], isn);
    send_s(t, 0, isn, 0, 100, 0);
    send_s(t, 0, isn, 0, 100, 0); /* retransmission of delivered bytes */
    CHECK_EQ_INT(t->c.retransmitted, 1);
    send_s(t, 0, isn, 200, 100, 0);
    send_s(t, 0, isn, 200, 100, 0); /* duplicate of buffered bytes */
    send_s(t, 0, isn, 100, 100, 0);
    send_s(t, 0, isn, 150, 100, 0); /* all delivered now */
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 300);
    CHECK_EQ_INT(t->r[0].novl, 3);
    CHECK_EV(t->r[0].ovl[0], 0, 100, 0);
    CHECK_EV(t->r[0].ovl[1], 200, 100, 0);
    CHECK_EV(t->r[0].ovl[2], 150, 100, 0);
    CHECK_EQ_INT(t->c.overlaps, 3);
    CHECK_EQ_INT(t->c.conflicts, 0);
    CHECK_EQ_INT(t->c.retransmitted, 2);
    t_free(t);
}

/* Buffered ranges A = [10,20) and B = [30,40); a new segment [so, so+sl)
 * whose bytes inside A or B differ from S when `conflict`. FIN at 50, flush;
 * the image must hold the old bytes (FIRST) or the new (LAST). */
static void overlap_case(int policy, int conflict, uint64_t so, uint64_t sl, int nexp,
                         const ev_t *exp) {
    T *t = t_new();
    t->c.overlap_policy = policy;
    uint32_t isn = 0xFFFFFF00u;
    reasm_syn(&t->c, &t->d[0], isn);
    send_s(t, 0, isn, 10, 10, 0);
    send_s(t, 0, isn, 30, 10, 0);
    uint8_t nb[64];
    uint8_t want[64];
    uint8_t covered[64] = {0};
    for (int i = 0; i < 50; i++) {
        int inbuf = (i >= 10 && i < 20) || (i >= 30 && i < 40);
        int innew = (uint64_t)i >= so && (uint64_t)i < so + sl;
        nb[i] = inbuf && conflict ? S[i] ^ 0x5a : S[i];
        want[i] = inbuf && innew && policy == REASM_LAST ? nb[i] : S[i];
        covered[i] = inbuf || innew;
    }
    reasm_segment(&t->c, &t->d[0], isn + 1 + (uint32_t)so, nb + so, sl, 0);
    reasm_segment(&t->c, &t->d[0], isn + 1 + 50, NULL, 0, REASM_FIN);
    reasm_flush(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->d[0].closed, 1);
    t_check(t, 0, 50);
    rec_t *r = &t->r[0];
    CHECK_EQ_INT(r->novl, nexp);
    for (int i = 0; i < nexp && i < r->novl; i++) CHECK_EV(r->ovl[i], exp[i].off, exp[i].len, conflict);
    CHECK_EQ_INT(t->c.conflicts, conflict ? nexp : 0);
    int bad = 0;
    for (int i = 0; i < 50; i++) {
        if (covered[i] && (r->have[i] != 1 || r->img[i] != want[i])) bad++;
        if (!covered[i] && r->have[i] != 2) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    t_free(t);
}

TEST(partial_overlaps_policies) {
    static const struct {
        uint64_t so, sl;
        int n;
        ev_t e[2];
    } cases[] = {
        {5, 10, 1, {{10, 5, 0}}},                /* left */
        {15, 10, 1, {{15, 5, 0}}},               /* right */
        {12, 6, 1, {{12, 6, 0}}},                /* inside */
        {10, 10, 1, {{10, 10, 0}}},              /* exact */
        {8, 14, 1, {{10, 10, 0}}},               /* covering */
        {15, 20, 2, {{15, 5, 0}, {30, 5, 0}}},   /* spanning two, hole between */
        {5, 40, 2, {{10, 10, 0}, {30, 10, 0}}},  /* covering both */
        {0, 35, 2, {{10, 10, 0}, {30, 5, 0}}},   /* in order, then into both */
        {0, 50, 2, {{10, 10, 0}, {30, 10, 0}}},  /* in order, covering all */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int policy = 0; policy < 2; policy++)
            for (int conflict = 0; conflict < 2; conflict++)
                overlap_case(policy, conflict, cases[k].so, cases[k].sl, cases[k].n, cases[k].e);
}

/* The overlap policies, one old segment [10,20) buffered (byte 0 missing) and
 * one new segment with other bytes in each of the nine positions: starts
 * before / at / after the old one, ends before / at / after its end. The
 * table is what a host of each policy keeps (Suricata's rules, reasm.h):
 * 1 = the new bytes. Checked three ways: reasm_takes_new, the tcp.overlap
 * report (kept_new) and the bytes delivered once byte 0 comes. The policy
 * is the direction's own (reasm_dir_policy), the ctx's default is another. */
static const struct {
    const char *name;
    int pol;
    const char *take; /* cases: at-before at-at at-after, before-(same) x3, after-(same) x3 */
} policy_table[] = {
    {"first", REASM_FIRST, "000000000"},          {"last", REASM_LAST, "111111111"},
    {"linux", REASM_LINUX, "001111000"},          {"old-linux", REASM_OLD_LINUX, "011111000"},
    {"bsd", REASM_BSD, "000111000"},              {"bsd-right", REASM_BSD_RIGHT, "000111000"},
    {"old-solaris", REASM_OLD_SOLARIS, "011011001"}, {"solaris", REASM_SOLARIS, "011011001"},
    {"hpux10", REASM_HPUX10, "000111000"},        {"hpux11", REASM_HPUX11, "011011001"},
    {"irix", REASM_IRIX, "000111000"},            {"macos", REASM_MACOS, "000111000"},
    {"vista", REASM_VISTA, "000000000"},          {"windows", REASM_WINDOWS, "000111000"},
    {"windows2k3", REASM_WINDOWS2K3, "000111000"},
};
/* new segment [so, se) for each case; the old one is [10, 20) */
static const uint64_t pcase[9][2] = {
    {10, 15}, {10, 20}, {10, 25}, /* same start: ends before, at, after */
    {5, 15},  {5, 20},  {5, 25},  /* starts before */
    {12, 18}, {12, 20}, {12, 25}, /* starts after */
};

TEST(overlap_policy_table) {
    CHECK_EQ_INT(sizeof policy_table / sizeof policy_table[0], REASM_NPOLICIES);
    for (size_t k = 0; k < sizeof policy_table / sizeof policy_table[0]; k++) {
        int pol = policy_table[k].pol;
        CHECK_STR(reasm_policy_names[pol], policy_table[k].name);
        CHECK_EQ_INT(reasm_policy_by_name(policy_table[k].name), pol);
        for (int c = 0; c < 9; c++) {
            int want = policy_table[k].take[c] == '1';
            uint64_t so = pcase[c][0], se = pcase[c][1];
            if (reasm_takes_new(pol, so, se, 10, 20) != want) {
                fprintf(stderr, "    %s case %d: takes_new %d\n", policy_table[k].name, c, !want);
                CHECK(0);
            }
            T *t = t_new();
            t->c.overlap_policy = pol == REASM_LAST ? REASM_FIRST : REASM_LAST; /* not this one */
            reasm_dir_policy(&t->d[0], pol);
            CHECK_EQ_INT(reasm_policy_of(&t->c, &t->d[0]), pol);
            uint32_t isn = 1000;
            reasm_syn(&t->c, &t->d[0], isn);
            send_s(t, 0, isn, 10, 10, 0); /* old: out of order */
            uint8_t nb[32];
            for (int i = 0; i < 32; i++) nb[i] = (uint8_t)(S[i] ^ 0xa5);
            reasm_segment(&t->c, &t->d[0], isn + 1 + (uint32_t)so, nb + so, se - so, 0);
            rec_t *r = &t->r[0];
            CHECK_EQ_INT(r->novl, 1);
            if (r->novl == 1) {
                uint64_t lo = so > 10 ? so : 10, hi = se < 20 ? se : 20;
                CHECK_EV(r->ovl[0], lo, hi - lo, 1);
                CHECK_EQ_INT(r->kept_new[0], want);
                CHECK_EQ_INT(r->delivered[0], 0);
            }
            send_s(t, 0, isn, 0, 5, 0); /* byte 0 (not reaching the new bytes): all is delivered */
            reasm_segment(&t->c, &t->d[0], isn + 1 + 25, NULL, 0, REASM_FIN);
            reasm_flush(&t->c, &t->d[0]);
            t_check(t, 0, 25);
            int bad = 0;
            for (uint64_t i = 0; i < 25; i++) {
                int in_old = i >= 10 && i < 20, in_new = i >= so && i < se;
                uint8_t w = in_old && !(in_new && want) ? S[i] : in_new ? nb[i] : S[i];
                if (!in_old && !in_new && i >= 5) continue; /* a gap */
                if (r->img[i] != w) bad++;
            }
            if (bad) fprintf(stderr, "    %s case %d: %d bytes wrong\n", policy_table[k].name, c, bad);
            CHECK_EQ_INT(bad, 0);
            t_free(t);
        }
    }
    CHECK_EQ_INT(reasm_policy_by_name("Linux"), -1); /* names are lower case */
    CHECK_EQ_INT(reasm_policy_by_name("solaris9"), -1);
    CHECK_EQ_INT(reasm_policy_by_name(NULL), -1);
    CHECK(reasm_policy_names[REASM_NPOLICIES] == NULL);
}

/* the policy applies to buffered bytes only: delivered bytes stay, whatever
 * it says (reported kept old, delivered, conflict from the history) */
TEST(overlap_policy_delivered_stays) {
    for (int pol = 0; pol < REASM_NPOLICIES; pol++) {
        T *t = t_new();
        t->c.keep_hist = 1;
        reasm_dir_policy(&t->d[0], pol);
        reasm_syn(&t->c, &t->d[0], 0);
        send_s(t, 0, 0, 0, 20, 0);
        uint8_t nb[32];
        for (int i = 0; i < 32; i++) nb[i] = (uint8_t)(S[i] ^ 0x33);
        reasm_segment(&t->c, &t->d[0], 1 + 5, nb + 5, 20, 0); /* [5,25): 15 delivered, 5 new */
        rec_t *r = &t->r[0];
        CHECK_EQ_INT(r->novl, 1);
        CHECK_EV(r->ovl[0], 5, 15, 1);
        CHECK_EQ_INT(r->kept_new[0], 0);
        CHECK_EQ_INT(r->delivered[0], 1);
        CHECK_MEM(r->out, 20, S, 20);
        CHECK_MEM(r->out + 20, 5, nb + 20, 5);
        t_free(t);
    }
}

/* per-direction policies: two directions of one ctx, linux and windows,
 * the same exact-cover overlap: windows keeps the old, linux too (exact);
 * a segment starting before: both take the new */
TEST(overlap_policy_per_direction) {
    T *t = t_new();
    reasm_dir_policy(&t->d[0], REASM_OLD_LINUX);
    reasm_dir_policy(&t->d[1], REASM_WINDOWS);
    uint8_t nb[32];
    for (int i = 0; i < 32; i++) nb[i] = (uint8_t)(S[i] ^ 0x77);
    for (int d = 0; d < 2; d++) {
        reasm_syn(&t->c, &t->d[d], 0);
        send_s(t, d, 0, 10, 10, 0);
        reasm_segment(&t->c, &t->d[d], 1 + 10, nb + 10, 10, 0); /* exact cover */
        send_s(t, d, 0, 0, 10, 0);
    }
    CHECK_MEM(t->r[0].out + 10, 10, nb + 10, 10); /* old-linux: the new */
    CHECK_MEM(t->r[1].out + 10, 10, S + 10, 10);  /* windows: the old */
    reasm_dir_policy(&t->d[1], -1);               /* back to the ctx's */
    CHECK_EQ_INT(reasm_policy_of(&t->c, &t->d[1]), REASM_FIRST);
    t_free(t);
}

TEST(overlap_with_delivered) {
    /* bytes already delivered, no history kept: overlap with conflict 0,
     * even if they differ */
    T *t = t_new();
    reasm_syn(&t->c, &t->d[0], 0);
    send_s(t, 0, 0, 0, 100, 0);
    uint8_t x[40];
    for (int i = 0; i < 40; i++) x[i] = S[80 + i] ^ 0xff;
    reasm_segment(&t->c, &t->d[0], 1 + 80, x, 40, 0); /* [80,100) old, [100,120) new */
    CHECK_EQ_INT(t->r[0].novl, 1);
    CHECK_EV(t->r[0].ovl[0], 80, 20, 0);
    CHECK_EQ_INT(t->r[0].n, 120);
    CHECK_MEM(t->r[0].out + 100, 20, x + 20, 20);
    CHECK_EQ_INT(t->c.retransmitted, 0);
    t_free(t);
}

TEST(overlap_with_delivered_history) {
    /* with keep_hist, the last REASM_HIST delivered bytes are compared */
    T *t = t_new();
    t->c.keep_hist = 1;
    reasm_syn(&t->c, &t->d[0], 0);
    for (uint64_t o = 0; o < 3 * REASM_HIST; o += 1000) send_s(t, 0, 0, o, 1000, 0);
    uint64_t next = t->d[0].next; /* 12288 (a multiple of 1000 past 3*4096) */
    CHECK_EQ_INT(t->c.hist_bytes, REASM_HIST);
    /* the same bytes again: no conflict */
    send_s(t, 0, 0, next - 500, 500, 0);
    CHECK_EV(t->r[0].ovl[0], next - 500, 500, 0);
    /* one byte changed, 300 bytes back, across the ring's wrap point too */
    uint8_t x[600];
    memcpy(x, S + next - 600, 600);
    x[300] ^= 0x20;
    reasm_segment(&t->c, &t->d[0], 1 + (uint32_t)(next - 600), x, 600, 0);
    CHECK_EV(t->r[0].ovl[1], next - 600, 600, 1);
    CHECK_EQ_INT(t->c.conflicts, 1);
    /* a segment that starts in delivered bytes and goes on: the old part
     * compared (it differs), the new part delivered as sent */
    uint8_t y[200];
    memcpy(y, S + next - 100, 200);
    y[0] ^= 1;
    reasm_segment(&t->c, &t->d[0], 1 + (uint32_t)(next - 100), y, 200, 0);
    CHECK_EV(t->r[0].ovl[2], next - 100, 100, 1);
    CHECK_MEM(t->r[0].out + next, 100, y + 100, 100);
    /* older than the ring: cannot be compared, conflict 0 */
    uint8_t z[100];
    memset(z, 0xAA, sizeof z);
    reasm_segment(&t->c, &t->d[0], 1 + 100, z, 100, 0);
    CHECK_EV(t->r[0].ovl[3], 100, 100, 0);
    /* straddling the ring's start: only the kept part is compared (equal) */
    uint64_t hs = t->d[0].next - REASM_HIST;
    send_s(t, 0, 0, hs - 50, 100, 0);
    CHECK_EV(t->r[0].ovl[4], hs - 50, 100, 0);
    /* after a gap the ring starts over: it holds the 10 bytes after it only */
    reasm_segment(&t->c, &t->d[0], 1 + (uint32_t)(t->d[0].next + 10), S, 10, 0);
    reasm_flush(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->d[0].hist_len, 10);
    reasm_dir_free(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->c.hist_bytes, 0);
    t_free(t);
}

TEST(one_byte_segments) {
    T *t = t_new();
    uint32_t isn = 123456;
    reasm_syn(&t->c, &t->d[0], isn);
    for (int i = 0; i < 503; i++) send_s(t, 0, isn, (uint64_t)((i * 7) % 503), 1, 0);
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 503);
    CHECK_EQ_INT(t->r[0].ngap + t->r[0].novl, 0);
    CHECK_EQ_INT(t->c.buffered, 0);
    t_free(t);
}

TEST(wraparound_2_32) {
    /* ISN 0xFFFFFFF0: sequence numbers wrap after 15 bytes; 5 MB, reordered in pairs */
    T *t = t_new();
    uint32_t isn = 0xFFFFFFF0u;
    reasm_syn(&t->c, &t->d[0], isn);
    uint64_t L = 5u << 20, seg = 1460, nseg = (L + seg - 1) / seg;
    for (uint64_t i = 0; i < nseg; i += 2) {
        for (int k = 1; k >= 0; k--) {
            uint64_t j = i + (uint64_t)k;
            if (j >= nseg) continue;
            uint64_t o = j * seg, n = o + seg > L ? L - o : seg;
            send_s(t, 0, isn, o, n, 0);
        }
        if (i % 64 == 0) ack_now(&t->c, &t->d[0], isn + 1 + (uint32_t)(i * seg)); /* old acks */
    }
    CHECK_EQ_INT(t->r[0].n, L);
    CHECK(t->r[0].n == L && memcmp(t->r[0].out, S, L) == 0);
    CHECK_EQ_INT(t->r[0].ngap, 0);
    CHECK_EQ_INT(t->r[0].novl, 0);
    ack_now(&t->c, &t->d[0], isn + 1 + (uint32_t)L); /* everything: nothing to do */
    CHECK_EQ_INT(t->r[0].ngap, 0);
    t_free(t);

    /* four times around the sequence space, picked up mid-stream near the wrap */
    t = t_new();
    t->r[0].nostore = 1;
    uint32_t s0 = 0xFFFF0000u;
    uint64_t total = 0, chunk = 65536;
    for (int round = 0; round < 4 * 65536 + 10; round++) {
        reasm_segment(&t->c, &t->d[0], s0 + (uint32_t)total, S + (total % (SLEN - chunk)), chunk,
                      0);
        total += chunk;
    }
    CHECK_EQ_INT(t->d[0].next, total);
    CHECK_EQ_INT(t->c.delivered, total);
    CHECK_EQ_INT(t->r[0].ngap + t->r[0].novl, 0);
    t_free(t);
}

/* Picked up mid-stream: the first REASM_HOLD_SEGS data segments are held, and
 * one with a lower sequence number moves offset 0 down to it (a capture whose
 * first segments came reordered: before, their bytes were "before the stream"
 * and lost). After the hold, bytes before offset 0 are old retransmissions. */
TEST(midstream_pickup) {
    T *t = t_new();
    uint32_t s0 = 5000;
    reasm_segment(&t->c, &t->d[0], s0 + 100, S + 100, 100, 0); /* seen first */
    CHECK_EQ_INT(t->d[0].base_seq, s0 + 100);
    CHECK_EQ_INT(t->r[0].n, 0); /* held */
    reasm_segment(&t->c, &t->d[0], s0, S, 50, 0); /* earlier: offset 0 moves down */
    CHECK_EQ_INT(t->d[0].base_seq, s0);
    CHECK_EQ_INT(t->c.retransmitted, 0);
    uint8_t x[200];
    memcpy(x, S + 25, 75);
    memset(x + 75, 'z', 100);
    reasm_segment(&t->c, &t->d[0], s0 + 25, x, 175, 0); /* fills [50,100), overlaps both */
    CHECK_EQ_INT(t->r[0].n, 0);
    CHECK_EQ_INT(t->r[0].novl, 2);
    CHECK_EV(t->r[0].ovl[0], 25, 25, 0);
    CHECK_EV(t->r[0].ovl[1], 100, 100, 1);
    CHECK_EQ_INT(t->d[0].hold, 1);
    reasm_settle(&t->c, &t->d[0]);
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 200);
    CHECK_EQ_INT(t->c.buffered, 0);
    /* settled: in order goes straight through, earlier bytes are retransmissions */
    reasm_segment(&t->c, &t->d[0], s0 + 200, S + 200, 10, 0);
    CHECK_EQ_INT(t->r[0].n, 210);
    reasm_segment(&t->c, &t->d[0], s0 - 100, S, 50, 0);
    CHECK_EQ_INT(t->c.retransmitted, 1);
    CHECK_EQ_INT(t->d[0].base_seq, s0);
    /* a late SYN changes nothing */
    reasm_syn(&t->c, &t->d[0], 1);
    CHECK_EQ_INT(t->d[0].base_seq, s0);
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 210);
    t_free(t);
}

/* the hold ends by itself after REASM_HOLD_SEGS segments, at flush, at an ack
 * gap; a segment too far below (REASM_HOLD_BACK) does not move offset 0; a
 * SYN-anchored direction never holds */
TEST(midstream_hold_ends) {
    T *t = t_new();
    uint32_t s0 = 0xFFFFFFF0u; /* the rebase crosses the wrap */
    /* segments of 10 bytes, the first REASM_HOLD_SEGS in the order 1,0,3,2,... */
    for (int i = 0; i < REASM_HOLD_SEGS; i++) {
        int k = i ^ 1;
        reasm_segment(&t->c, &t->d[0], s0 + 10u * (uint32_t)k, S + 10 * k, 10, 0);
        if (i < REASM_HOLD_SEGS - 1) CHECK_EQ_INT(t->r[0].n, 0);
    }
    CHECK_EQ_INT(t->d[0].hold, 0);
    CHECK_EQ_INT(t->d[0].base_seq, s0);
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 10 * REASM_HOLD_SEGS);
    t_free(t);

    t = t_new();
    reasm_segment(&t->c, &t->d[0], 100000, S + 100, 10, 0);
    reasm_segment(&t->c, &t->d[0], 100000 - 100 - REASM_HOLD_BACK, S, 10, 0); /* too far */
    CHECK_EQ_INT(t->c.retransmitted, 1);
    reasm_segment(&t->c, &t->d[0], 100000 - 100, S, 10, 0); /* leaves a hole [10,100) */
    CHECK_EQ_INT(t->r[0].n, 0);
    reasm_flush(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->r[0].n, 20);
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EV(t->r[0].gap[0], 10, 90, 0);
    CHECK_MEM(t->r[0].img + 100, 10, S + 100, 10);
    t_free(t);

    t = t_new();
    reasm_segment(&t->c, &t->d[0], 7000, S + 10, 10, 0);
    reasm_ack(&t->c, &t->d[0], 7030); /* the peer got 20 bytes more than we saw */
    reasm_segment(&t->c, &t->d[0], 6990, S, 10, 0); /* offset 0 moves: acked follows */
    reasm_ack_gaps(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->r[0].n, 20);
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EV(t->r[0].gap[0], 20, 20, 0);
    t_free(t);

    t = t_new();
    reasm_syn(&t->c, &t->d[0], 99);
    reasm_segment(&t->c, &t->d[0], 100, S, 10, 0);
    CHECK_EQ_INT(t->d[0].hold, 0);
    CHECK_EQ_INT(t->r[0].n, 10);
    t_free(t);
}

TEST(data_on_syn) {
    T *t = t_new();
    /* SYN with data, direction not started: base = seq+1 */
    reasm_segment(&t->c, &t->d[0], 999, (const uint8_t *)"hello", 5, REASM_SYN);
    CHECK_EQ_INT(t->d[0].base_seq, 1000);
    reasm_segment(&t->c, &t->d[0], 1005, (const uint8_t *)"world", 5, 0);
    reasm_segment(&t->c, &t->d[0], 999, (const uint8_t *)"hello", 5, REASM_SYN); /* again */
    CHECK_MEM(t->r[0].out, t->r[0].n, "helloworld", 10);
    CHECK_EQ_INT(t->r[0].novl, 1);
    CHECK_EV(t->r[0].ovl[0], 0, 5, 0);
    /* after reasm_syn */
    reasm_syn(&t->c, &t->d[1], 41);
    reasm_segment(&t->c, &t->d[1], 41, (const uint8_t *)"abc", 3, REASM_SYN);
    CHECK_MEM(t->r[1].out, t->r[1].n, "abc", 3);
    t_free(t);
}

TEST(fin_then_rst) {
    T *t = t_new();
    reasm_syn(&t->c, &t->d[0], 0);
    send_s(t, 0, 0, 0, 100, 0);
    send_s(t, 0, 0, 100, 50, REASM_FIN);
    CHECK_EQ_INT(t->d[0].has_fin, 1);
    CHECK_EQ_INT(t->d[0].fin_off, 150);
    CHECK_EQ_INT(t->d[0].next, 150); /* complete */
    send_s(t, 0, 0, 150, 10, 0);     /* past the FIN: ignored */
    CHECK_EQ_INT(t->c.after_fin, 1);
    reasm_flush(&t->c, &t->d[0]); /* the FIN */
    reasm_segment(&t->c, &t->d[0], 1 + 151, NULL, 0, REASM_RST);
    reasm_flush(&t->c, &t->d[0]); /* the RST */
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 150);
    CHECK_EQ_INT(t->r[0].ngap, 0);
    CHECK_EQ_INT(t->r[0].data_calls, 2);
    t_check(t, 0, 150);
    t_free(t);
}

TEST(rst_then_fin) {
    T *t = t_new();
    reasm_syn(&t->c, &t->d[0], 0);
    send_s(t, 0, 0, 0, 100, 0);
    send_s(t, 0, 0, 200, 100, 0); /* buffered */
    send_s(t, 0, 0, 300, 0, REASM_RST);
    CHECK_EQ_INT(t->d[0].closed, 1);
    reasm_flush(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EV(t->r[0].gap[0], 100, 100, 0);
    send_s(t, 0, 0, 300, 10, REASM_FIN); /* after the RST: ignored */
    send_s(t, 0, 0, 100, 100, 0);        /* so is the missing segment */
    ack_now(&t->c, &t->d[0], 1 + 400);
    reasm_flush(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->r[0].n, 200);
    CHECK_MEM(t->r[0].out, 100, S, 100);
    CHECK_MEM(t->r[0].out + 100, 100, S + 200, 100);
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EQ_INT(t->c.after_fin, 2);
    t_check(t, 0, 300);
    t_free(t);
}

TEST(fin_with_hole) {
    /* a hole before buffered bytes, and one before the FIN */
    T *t = t_new();
    reasm_syn(&t->c, &t->d[0], 9);
    send_s(t, 0, 9, 0, 10, 0);
    send_s(t, 0, 9, 20, 10, 0);
    reasm_segment(&t->c, &t->d[0], 10 + (3u << 29), NULL, 0, REASM_FIN); /* bogus: too far */
    CHECK_EQ_INT(t->d[0].has_fin, 0);
    send_s(t, 0, 9, 40, 0, REASM_FIN);
    CHECK_EQ_INT(t->r[0].ngap, 0);
    reasm_segment(&t->c, &t->d[0], 10 + (3u << 29), NULL, 0, REASM_FIN); /* bogus */
    CHECK_EQ_INT(t->d[0].fin_off, 40);
    reasm_flush(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->r[0].ngap, 2);
    CHECK_EV(t->r[0].gap[0], 10, 10, 0);
    CHECK_EV(t->r[0].gap[1], 30, 10, 0);
    CHECK_EQ_INT(t->c.gaps, 2);
    CHECK_EQ_INT(t->c.gap_bytes, 20);
    CHECK_MEM(t->r[0].out, 10, S, 10);
    CHECK_MEM(t->r[0].out + 10, 10, S + 20, 10);
    t_check(t, 0, 40);
    t_free(t);

    /* bytes buffered past the FIN are dropped */
    t = t_new();
    reasm_syn(&t->c, &t->d[0], 9);
    send_s(t, 0, 9, 20, 30, 0);
    send_s(t, 0, 9, 30, 0, REASM_FIN);
    CHECK_EQ_INT(t->c.buffered, 10);
    send_s(t, 0, 9, 0, 20, 0);
    CHECK_EQ_INT(t->r[0].n, 30);
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 30);
    t_check(t, 0, 30);
    t_free(t);
}

TEST(keepalive) {
    T *t = t_new();
    reasm_syn(&t->c, &t->d[0], 100);
    reasm_segment(&t->c, &t->d[0], 100, (const uint8_t *)"k", 1, 0); /* before any data */
    send_s(t, 0, 100, 0, 50, 0);
    reasm_segment(&t->c, &t->d[0], 101 + 49, (const uint8_t *)"\0", 1, 0);
    reasm_segment(&t->c, &t->d[0], 101 + 49, NULL, 0, 0);
    CHECK_EQ_INT(t->c.keepalives, 3);
    CHECK_EQ_INT(t->r[0].novl, 0);
    CHECK_EQ_INT(t->c.retransmitted, 0);
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 50);
    t_free(t);
}

TEST(max_ooo_gap_and_continue) {
    T *t = t_new();
    t->c.max_ooo = 1000;
    reasm_syn(&t->c, &t->d[0], 0);
    send_s(t, 0, 0, 0, 100, 0);
    for (int i = 0; i < 10; i++) send_s(t, 0, 0, 200 + (uint64_t)i * 100, 100, 0);
    CHECK_EQ_INT(t->c.buffered, 1000); /* at the bound, not past it */
    CHECK_EQ_INT(t->r[0].ngap, 0);
    send_s(t, 0, 0, 1300, 100, 0);      /* past it */
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EV(t->r[0].gap[0], 100, 100, 0);
    CHECK_EQ_INT(t->d[0].next, 1200);
    CHECK_EQ_INT(t->c.buffered, 100);
    send_s(t, 0, 0, 1200, 100, 0);
    CHECK_EQ_INT(t->d[0].next, 1400);
    CHECK_MEM(t->r[0].out, 100, S, 100);
    CHECK_MEM(t->r[0].out + 100, t->r[0].n - 100, S + 200, 1200);
    send_s(t, 0, 0, 150, 100, 0); /* late: partly gap, partly delivered */
    CHECK_EQ_INT(t->r[0].novl, 1);
    CHECK_EV(t->r[0].ovl[0], 150, 100, 0);
    t_check(t, 0, 1400);
    t_free(t);

    /* one segment larger than max_ooo by itself */
    t = t_new();
    t->c.max_ooo = 1000;
    reasm_syn(&t->c, &t->d[0], 0);
    send_s(t, 0, 0, 500, 3000, 0);
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EV(t->r[0].gap[0], 0, 500, 0);
    CHECK_MEM(t->r[0].out, t->r[0].n, S + 500, 3000);
    CHECK_EQ_INT(t->c.buffered, 0);
    t_check(t, 0, 3500);
    t_free(t);

    /* max_ooo 0: nothing is ever buffered */
    t = t_new();
    t->c.max_ooo = 0;
    reasm_syn(&t->c, &t->d[0], 0);
    send_s(t, 0, 0, 10, 10, 0);
    send_s(t, 0, 0, 30, 10, 0);
    CHECK_EQ_INT(t->r[0].ngap, 2);
    CHECK_EQ_INT(t->c.buffered, 0);
    t_check(t, 0, 40);
    t_free(t);
}

TEST(max_total_oldest_first) {
    T *t = t_new();
    t->c.max_total = 1000;
    reasm_syn(&t->c, &t->d[0], 0);
    reasm_syn(&t->c, &t->d[1], 5000);
    send_s(t, 0, 0, 100, 500, 0);    /* dir 0 starts buffering first: oldest */
    send_s(t, 1, 5000, 100, 400, 0);
    CHECK(t->c.oldest == &t->d[0] && t->c.newest == &t->d[1]);
    CHECK_EQ_INT(t->c.buffered, 900);
    send_s(t, 1, 5000, 600, 200, 0); /* 1100: dir 0 gives way */
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EV(t->r[0].gap[0], 0, 100, 0);
    CHECK_MEM(t->r[0].out, t->r[0].n, S + 100, 500);
    CHECK_EQ_INT(t->r[1].ngap, 0);
    CHECK_EQ_INT(t->r[1].n, 0);
    CHECK_EQ_INT(t->c.buffered, 600);
    CHECK(t->c.oldest == &t->d[1] && t->c.newest == &t->d[1]);
    CHECK_EQ_INT(t->c.buffered_peak, 1100);

    /* dir 1 oldest now; dir 0 buffers 1000 more: dir 1 skips both its holes */
    send_s(t, 0, 0, 700, 1000, 0);
    CHECK(t->c.oldest == &t->d[0]);
    CHECK_EQ_INT(t->r[1].ngap, 2);
    CHECK_EV(t->r[1].gap[0], 0, 100, 0);
    CHECK_EV(t->r[1].gap[1], 500, 100, 0);
    CHECK_EQ_INT(t->r[1].n, 600);
    CHECK_EQ_INT(t->c.buffered, 1000);
    CHECK_EQ_INT(t->r[0].ngap, 1);
    t_free(t);
}

TEST(ack_past_hole) {
    T *t = t_new();
    uint32_t isn = 0xFFFFFFFEu;
    reasm_syn(&t->c, &t->d[0], isn);
    send_s(t, 0, isn, 0, 100, 0);
    send_s(t, 0, isn, 200, 100, 0);
    ack_now(&t->c, &t->d[0], isn + 1 + 50);          /* old ack */
    ack_now(&t->c, &t->d[0], isn + 1 + 100 + (1u << 30)); /* bogus */
    ack_now(&t->c, &t->d[0], isn + 1 + 100 - (1u << 31)); /* bogus */
    CHECK_EQ_INT(t->r[0].ngap, 0);
    ack_now(&t->c, &t->d[0], isn + 1 + 150); /* inside the hole */
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EV(t->r[0].gap[0], 100, 50, 0);
    CHECK_EQ_INT(t->d[0].next, 150);
    ack_now(&t->c, &t->d[0], isn + 1 + 250); /* past it: gap, then the buffered bytes */
    CHECK_EQ_INT(t->r[0].ngap, 2);
    CHECK_EV(t->r[0].gap[1], 150, 50, 0);
    CHECK_EQ_INT(t->d[0].next, 300);
    send_s(t, 0, isn, 300, 10, 0);
    CHECK_EQ_INT(t->d[0].next, 310);
    CHECK_EQ_INT(t->c.buffered, 0);
    t_check(t, 0, 310);
    t_free(t);

    /* an ack past several holes, and past the FIN's own sequence number */
    t = t_new();
    reasm_syn(&t->c, &t->d[0], 0);
    send_s(t, 0, 0, 10, 10, 0);
    send_s(t, 0, 0, 30, 10, 0);
    send_s(t, 0, 0, 50, 0, REASM_FIN);
    ack_now(&t->c, &t->d[0], 1 + 51);
    CHECK_EQ_INT(t->r[0].ngap, 3);
    CHECK_EV(t->r[0].gap[2], 40, 10, 0);
    CHECK_EQ_INT(t->r[0].n, 20);
    t_check(t, 0, 50);
    t_free(t);
}

/* The seed's known failures. */
TEST(seed_lost_segment_does_not_stall) {
    for (int how = 0; how < 2; how++) {
        T *t = t_new();
        reasm_syn(&t->c, &t->d[0], 1);
        send_s(t, 0, 1, 0, 100, 0);
        for (int i = 2; i < 10; i++) send_s(t, 0, 1, (uint64_t)i * 100, 100, 0); /* 100..200 lost */
        CHECK_EQ_INT(t->d[0].next, 100);
        if (how == 0) ack_now(&t->c, &t->d[0], 2 + 1000);
        else reasm_flush(&t->c, &t->d[0]);
        CHECK_EQ_INT(t->d[0].next, 1000);
        CHECK_EQ_INT(t->r[0].ngap, 1);
        CHECK_EV(t->r[0].gap[0], 100, 100, 0);
        send_s(t, 0, 1, 1000, 100, 0); /* and goes on */
        CHECK_EQ_INT(t->d[0].next, 1100);
        CHECK_MEM(t->r[0].out + 100, 900, S + 200, 900);
        t_free(t);
    }
}

TEST(seed_1000_out_of_order) {
    T *t = t_new();
    reasm_syn(&t->c, &t->d[0], 7);
    for (int i = 1; i <= 1000; i++) send_s(t, 0, 7, (uint64_t)i * 100, 100, 0);
    CHECK_EQ_INT(t->d[0].nsegs, 1000);
    send_s(t, 0, 7, 0, 100, 0);
    CHECK_EQ_INT(t->r[0].n, 100100);
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 100100);
    CHECK_EQ_INT(t->r[0].ngap, 0);
    CHECK_EQ_INT(t->c.out_of_order, 1000);
    t_free(t);

    /* and in random order */
    t = t_new();
    reasm_syn(&t->c, &t->d[0], 7);
    int perm[1000];
    for (int i = 0; i < 1000; i++) perm[i] = i;
    for (int i = 999; i > 0; i--) {
        int j = (int)(rnd() % (uint32_t)(i + 1)), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (int i = 0; i < 1000; i++) send_s(t, 0, 7, (uint64_t)perm[i] * 100, 100, 0);
    CHECK_MEM(t->r[0].out, t->r[0].n, S, 100000);
    CHECK_EQ_INT(t->r[0].ngap, 0);
    t_free(t);
}

TEST(seed_flush_without_fin) {
    T *t = t_new();
    reasm_segment(&t->c, &t->d[0], 100, S, 100, 0);
    reasm_segment(&t->c, &t->d[0], 300, S + 200, 100, 0);
    reasm_flush(&t->c, &t->d[0]);
    CHECK_EQ_INT(t->d[0].next, 300);
    CHECK_EQ_INT(t->r[0].ngap, 1);
    CHECK_EQ_INT(t->d[0].closed, 0); /* no FIN nor RST: the stream may go on */
    reasm_flush(&t->c, &t->d[0]);
    reasm_segment(&t->c, &t->d[0], 400, S + 300, 100, 0);
    CHECK_EQ_INT(t->d[0].next, 400);
    CHECK_MEM(t->r[0].out + 100, 200, S + 200, 200);
    t_free(t);
}

TEST(dir_free_and_swap) {
    T *t = t_new();
    reasm_syn(&t->c, &t->d[0], 0);
    reasm_syn(&t->c, &t->d[1], 0);
    send_s(t, 0, 0, 10, 10, 0);
    send_s(t, 1, 0, 10, 20, 0);
    CHECK(t->c.oldest == &t->d[0]);
    reasm_dir_swap(&t->c, &t->d[0], &t->d[1]);
    CHECK(t->c.oldest == &t->d[1] && t->c.newest == &t->d[0]);
    CHECK(t->d[1].newer == &t->d[0] && t->d[0].older == &t->d[1]);
    CHECK_EQ_INT(t->d[0].ooo_bytes, 20);
    CHECK_EQ_INT(t->d[0].dir, 0);
    CHECK(t->d[0].sink_ctx == &t->r[0]);
    reasm_dir_free(&t->c, &t->d[1]);
    CHECK_EQ_INT(t->c.buffered, 20);
    CHECK(t->c.oldest == &t->d[0] && t->c.newest == &t->d[0]);
    reasm_dir_swap(&t->c, &t->d[0], &t->d[1]); /* one linked, one not */
    CHECK(t->c.oldest == &t->d[1] && t->c.newest == &t->d[1]);
    CHECK(t->d[0].older == NULL && t->d[0].newer == NULL);
    reasm_dir_free(&t->c, &t->d[1]);
    CHECK_EQ_INT(t->c.buffered, 0);
    CHECK(t->c.oldest == NULL);
    t->r[0].pos = t->d[0].next; /* nothing delivered: the invariant is moot */
    t->r[1].pos = t->d[1].next;
    t_free(t);
}

/* random segmentation, shuffle, duplicates, overlapping retransmissions */
static uint64_t sum_gaps, sum_overlaps, sum_ooo, sum_limit_gaps;

static void random_run(int lossy) {
    T *t = t_new();
    uint64_t L = 1 + rnd() % 3000;
    uint32_t isn = rnd() % 4 == 0 ? 0xFFFFFFFFu - rnd() % 4000 : rnd();
    t->c.overlap_policy = (int)(rnd() % 2);
    t->c.keep_hist = (int)(rnd() % 2); /* identical retransmissions: never a conflict */
    if (lossy) {
        t->c.max_ooo = rnd() % 2000;
        t->c.max_total = rnd() % 3000;
    }
    enum { MAXS = 8192 };
    uint64_t so[MAXS], sl[MAXS];
    int n = 0;
    uint32_t maxseg = 1 + rnd() % 300;
    for (uint64_t o = 0; o < L && n < MAXS;) {
        uint64_t l = 1 + rnd() % maxseg;
        if (o + l > L) l = L - o;
        so[n] = o;
        sl[n++] = l;
        o += l;
    }
    int ndup = (int)(rnd() % (uint32_t)(n + 1));
    for (int i = 0; i < ndup && n < MAXS; i++) { /* retransmissions, resegmented */
        uint64_t o = rnd() % L, l = 1 + rnd() % (2 * maxseg);
        if (o + l > L) l = L - o;
        so[n] = o;
        sl[n++] = l;
    }
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint32_t)(i + 1));
        uint64_t a = so[i], b = sl[i];
        so[i] = so[j];
        sl[i] = sl[j];
        so[j] = a;
        sl[j] = b;
    }
    for (int k = 0; k < 2; k++) {
        reasm_syn(&t->c, &t->d[k], isn + (uint32_t)k * 1000);
        t->r[k].expect = S;
        t->r[k].expect_len = L;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            if (lossy && rnd() % 10 == 0) continue;
            uint32_t base = isn + (uint32_t)k * 1000 + 1;
            reasm_segment(&t->c, &t->d[k], base + (uint32_t)so[i], S + so[i], sl[i], 0);
            if (lossy && rnd() % 8 == 0) ack_now(&t->c, &t->d[k], base + rnd() % (uint32_t)(L + 1));
        }
    }
    for (int k = 0; k < 2; k++) {
        if (lossy) {
            reasm_segment(&t->c, &t->d[k], isn + (uint32_t)k * 1000 + 1 + (uint32_t)L, NULL, 0,
                          REASM_FIN);
            reasm_flush(&t->c, &t->d[k]);
        } else {
            CHECK_EQ_INT(t->r[k].ngap, 0);
            CHECK(t->r[k].n == L && memcmp(t->r[k].out, S, L) == 0);
        }
        t_check(t, k, (int64_t)L);
    }
    CHECK_EQ_INT(t->c.conflicts, 0);
    CHECK_EQ_INT(t->c.buffered, 0);
    sum_gaps += t->c.gaps;
    sum_overlaps += t->c.overlaps;
    sum_ooo += t->c.out_of_order;
    if (lossy && t->c.buffered_peak > t->c.max_total) sum_limit_gaps++;
    if (lossy) CHECK(t->c.buffered_peak <= t->c.max_total + 2 * maxseg);
    t_free(t);
}

TEST(randomized) {
    rng_s = 12345;
    for (int i = 0; i < 3000; i++) random_run(0);
    CHECK(sum_gaps == 0 && sum_overlaps > 0 && sum_ooo > 0);
    rng_s = 67890;
    for (int i = 0; i < 3000; i++) random_run(1);
    CHECK(sum_gaps > 1000 && sum_limit_gaps > 100); /* the lossy runs did lose */
}

int main(void) {
    S = malloc(SLEN);
    for (size_t i = 0; i < SLEN; i++) S[i] = (uint8_t)rnd();
    RUN(in_order_zero_copy);
    RUN(reorder_reverse_100);
    RUN(duplicates);
    RUN(partial_overlaps_policies);
    RUN(overlap_policy_table);
    RUN(overlap_policy_delivered_stays);
    RUN(overlap_policy_per_direction);
    RUN(overlap_with_delivered);
    RUN(overlap_with_delivered_history);
    RUN(one_byte_segments);
    RUN(wraparound_2_32);
    RUN(midstream_pickup);
    RUN(midstream_hold_ends);
    RUN(data_on_syn);
    RUN(fin_then_rst);
    RUN(rst_then_fin);
    RUN(fin_with_hole);
    RUN(keepalive);
    RUN(max_ooo_gap_and_continue);
    RUN(max_total_oldest_first);
    RUN(ack_past_hole);
    RUN(seed_lost_segment_does_not_stall);
    RUN(seed_1000_out_of_order);
    RUN(seed_flush_without_fin);
    RUN(dir_free_and_swap);
    RUN(randomized);
    free(S);
    return check_report("reasm");
}
