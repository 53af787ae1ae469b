/* test_memcap.c - engine.memcap (engine/memcap.c, engine.c memcap_enforce):
 * the accounting and its max-heap, and which flow a full budget cuts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decoder.h"
#include "internal.h"
#include "pktbuild.h"

#define T0 1700000000000000000LL

/* ---- the accounting alone ------------------------------------------------- */

static int heap_ok(const memcap_t *mc) {
    for (uint32_t i = 0; i < mc->n; i++) {
        if (mc->heap[i]->hidx != i + 1 || mc->heap[i]->held == 0) return 0;
        if (i && mc->heap[(i - 1) / 2]->held < mc->heap[i]->held) return 0;
    }
    return 1;
}

TEST(accounting_tracks_totals_and_the_largest) {
    memcap_t mc;
    memset(&mc, 0, sizeof mc);
    enum { N = 1000 };
    mem_acct_t *a = calloc(N, sizeof *a);
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) mem_acct_init(&a[i], &mc);
    /* pseudo-random grow and shrink; the heap's top is always the largest */
    uint32_t x = 12345;
    for (int step = 0; step < 20000; step++) {
        x = x * 1103515245u + 12345u;
        int i = (int)((x >> 8) % N);
        int64_t d = (int64_t)((x >> 4) % 5000);
        if ((x & 1) && a[i].held) d = -(int64_t)(a[i].held < (uint64_t)d ? a[i].held : (uint64_t)d);
        mem_charge(&a[i], d);
        sum += (uint64_t)d; /* wraps correctly for negative d */
        if (step % 997 == 0) {
            CHECK(heap_ok(&mc));
            uint64_t best = 0;
            for (int k = 0; k < N; k++) best = a[k].held > best ? a[k].held : best;
            mem_acct_t *t = memcap_top(&mc);
            CHECK(best == 0 ? t == NULL : t && t->held == best);
        }
    }
    CHECK_EQ_INT(mc.used, sum);
    CHECK(mc.peak >= mc.used);
    /* a shrink past what is held stops at zero; release takes the rest */
    mem_charge(&a[0], 10);
    mem_charge(&a[0], -(int64_t)a[0].held - 100);
    CHECK_EQ_INT(a[0].held, 0);
    CHECK_EQ_INT(a[0].hidx, 0);
    for (int i = 0; i < N; i++) mem_acct_release(&a[i]);
    CHECK_EQ_INT(mc.used, 0);
    CHECK_EQ_INT(mc.n, 0);
    CHECK(memcap_top(&mc) == NULL);
    mem_charge(NULL, 5); /* unbound: nothing */
    mem_acct_t u = {0};
    mem_charge(&u, 5);
    CHECK_EQ_INT(u.held, 0);
    memcap_free(&mc);
    free(a);
}

/* a stream reader bound to an account charges its buffer's capacity, and a
 * cut (sr_gap with len 0) drops the partial unit and frees the buffer */
TEST(stream_reader_charges_capacity_and_a_cut_frees_it) {
    memcap_t mc;
    memset(&mc, 0, sizeof mc);
    mem_acct_t a;
    mem_acct_init(&a, &mc);
    stream_reader_t sr;
    sr_init(&sr, 16384);
    sr_bind(&sr, &a);
    static uint8_t line[10000];
    memset(line, 'A', sizeof line);
    sr_view_t v;
    sr_push(&sr, 0, line, sizeof line);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    CHECK_EQ_INT(a.held, 16384); /* 64 doubled to hold 10000 bytes */
    CHECK_EQ_INT(mc.used, 16384);
    sr_gap(&sr, sizeof line, 0);
    CHECK_EQ_INT(a.held, 0);
    CHECK_EQ_INT(mc.used, 0);
    const uint8_t rest[] = "AAA\r\nGET / HTTP/1.1\r\n";
    sr_push(&sr, sizeof line, rest, sizeof rest - 1);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_GAP); /* the dropped unit is reported once */
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK(v.len == 3 && !memcmp(v.p, "AAA", 3)); /* the cut line's tail: the decoder resyncs */
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK(v.len == 14 && !memcmp(v.p, "GET / HTTP/1.1", 14));
    /* a cut with nothing kept reports nothing */
    sr_gap(&sr, sizeof line + sizeof rest - 1, 0);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_free(&sr);
    CHECK_EQ_INT(mc.used, 0);
    memcap_free(&mc);
}

/* ---- the engine: which flow is cut ------------------------------------------ */

typedef struct rec {
    int ncut;
    char cut_uid[24];
    char cut_detail[256];
    char uris[8][64];
    size_t uri_len[8];
    int nreq;
    char uid_of_port[70000 / 1000][24]; /* flow uid by client port / 1000 */
    uint64_t held_at_end_max;           /* what a flow still held when flow.end fired */
} rec_t;

static void on_weird(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    const eng_value_t *n = &ev->f[ENG_F_WEIRD_name], *d = &ev->f[ENG_F_WEIRD_detail];
    if (n->len != 15 || memcmp(n->u.s, "memcap_flow_cut", 15)) return;
    if (r->ncut++ == 0 && ev->flow) {
        snprintf(r->cut_uid, sizeof r->cut_uid, "%s", ev->flow->uid);
        snprintf(r->cut_detail, sizeof r->cut_detail, "%.*s", (int)d->len, d->u.s);
    }
}

static void on_req(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    const eng_value_t *v = &ev->f[ENG_F_HTTP_REQUEST_uri];
    if (r->nreq >= 8) return;
    r->uri_len[r->nreq] = v->len;
    snprintf(r->uris[r->nreq++], 64, "%.*s", (int)v->len, v->u.s);
}

static void on_start(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    snprintf(r->uid_of_port[ev->flow->orig_port / 1000], 24, "%s", ev->flow->uid);
}

static void on_end(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    uint64_t h = FLOW((eng_flow_t *)ev->flow)->mem.held;
    if (h > r->held_at_end_max) r->held_at_end_max = h;
}

static uint8_t pbuf[20000];

static void seg(eng_t *e, int64_t t, uint16_t cp, int from_client, uint32_t seq, uint32_t ack,
                uint8_t fl, const uint8_t *d, size_t n) {
    size_t len = from_client ? pb_tcp4(pbuf, "10.0.0.1", cp, "10.0.0.2", 80, seq, ack, fl, d, n, 65535)
                             : pb_tcp4(pbuf, "10.0.0.2", 80, "10.0.0.1", cp, seq, ack, fl, d, n, 65535);
    eng_feed(e, t, 1, pbuf, (uint32_t)len, (uint32_t)len);
}

static void open_conn(eng_t *e, int64_t t, uint16_t cp) {
    seg(e, t, cp, 1, 100, 0, PB_SYN, NULL, 0);
    seg(e, t + 1, cp, 0, 500, 101, PB_SYN | PB_ACK, NULL, 0);
    seg(e, t + 2, cp, 1, 101, 501, PB_ACK, NULL, 0);
}

/* an unfinished request line of n bytes ("GET /" then 'a's) in 1400-byte segments */
static void partial_line(eng_t *e, int64_t t, uint16_t cp, size_t n) {
    static uint8_t line[20000];
    memset(line, 'a', n);
    memcpy(line, "GET /", 5);
    for (size_t k = 0; k < n; k += 1400)
        seg(e, t + (int64_t)k, cp, 1, 101 + (uint32_t)k, 501, PB_ACK | PB_PSH, line + k,
            n - k < 1400 ? n - k : 1400);
}

TEST(full_budget_cuts_the_flow_holding_the_most) {
    rec_t r;
    memset(&r, 0, sizeof r);
    eng_t *e = eng_new();
    char err[128];
    CHECK_EQ_INT(eng_config_set(e, "engine.memcap", "30000", err, sizeof err), 0);
    /* the delivered-bytes rings (a weird subscriber keeps them) would add 4096 a direction */
    CHECK_EQ_INT(eng_config_set(e, "tcp.check_delivered_overlaps", "false", err, sizeof err), 0);
    eng_on(e, ENG_EV_WEIRD, on_weird, &r);
    eng_on(e, ENG_EV_HTTP_REQUEST, on_req, &r);
    eng_on(e, ENG_EV_FLOW_START, on_start, &r);
    eng_on(e, ENG_EV_FLOW_END, on_end, &r);
    int64_t t = T0;
    uint16_t A = 1000, B = 2000, C = 3000, D = 4000;
    open_conn(e, t, A);
    open_conn(e, t + 10, B);
    open_conn(e, t + 20, C);
    open_conn(e, t + 30, D);
    /* readers' buffers: 4096 (A), 16384 (B), 8192 (C): 28672, within the budget */
    partial_line(e, t + 100, A, 3000);
    partial_line(e, t + 200000, B, 15000);
    partial_line(e, t + 400000, C, 5000);
    CHECK_EQ_INT(r.ncut, 0);
    CHECK_EQ_INT(eng_stats(e)->mem_buffered, 28672);
    /* D's 2048 bytes pass 30000: B, holding the most, is cut, not D */
    partial_line(e, t + 600000, D, 1500);
    CHECK_EQ_INT(r.ncut, 1);
    CHECK(!strcmp(r.cut_uid, r.uid_of_port[B / 1000]));
    CHECK(strstr(r.cut_detail, "this flow held 16384") != NULL);
    const eng_stats_t *s = eng_stats(e);
    CHECK_EQ_INT(s->memcap_cuts, 1);
    CHECK_EQ_INT(s->memcap_cut_bytes, 16384);
    CHECK_EQ_INT(s->mem_buffered, 4096 + 8192 + 2048);
    CHECK_EQ_INT(s->mem_buffered_peak, 28672 + 2048);
    /* D finishes its request: its events come */
    const char *tail = " HTTP/1.1\r\nHost: x\r\n\r\n";
    seg(e, t + 700000, D, 1, 101 + 1500, 501, PB_ACK | PB_PSH, (const uint8_t *)tail, strlen(tail));
    CHECK_EQ_INT(r.nreq, 1);
    CHECK(r.nreq == 1 && r.uri_len[0] == 1500 - 4 && !strncmp(r.uris[0], "/aaa", 4));
    /* B goes on after its cut: the rest of its line is dropped, its next request is read */
    const char *more = "aaaa HTTP/1.1\r\nHost: x\r\n\r\nGET /b-after-cut HTTP/1.1\r\nHost: x\r\n\r\n";
    seg(e, t + 800000, B, 1, 101 + 15000, 501, PB_ACK | PB_PSH, (const uint8_t *)more, strlen(more));
    int found = 0;
    for (int i = 0; i < r.nreq; i++) found |= !strcmp(r.uris[i], "/b-after-cut");
    CHECK(found);
    eng_finish(e);
    /* every decoder gave back what it charged before its flow ended */
    CHECK_EQ_INT(r.held_at_end_max, 0);
    CHECK_EQ_INT(eng_stats(e)->mem_buffered, 0);
    eng_free(e);
}

/* out-of-order bytes count in the same budget: the flow holding them is cut as
 * a reassembly gap (tcp.gap, then the stream goes on) */
static int ngap;
static uint64_t gap_len;
static void on_gap(eng_t *e, const eng_event_t *ev, void *u) {
    ngap++;
    gap_len += (uint64_t)ev->f[ENG_F_TCP_GAP_len].u.i;
}

TEST(out_of_order_bytes_count_and_are_cut_as_a_gap) {
    rec_t r;
    memset(&r, 0, sizeof r);
    eng_t *e = eng_new();
    char err[128];
    CHECK_EQ_INT(eng_config_set(e, "engine.memcap", "10000", err, sizeof err), 0);
    CHECK_EQ_INT(eng_config_set(e, "tcp.check_delivered_overlaps", "false", err, sizeof err), 0);
    CHECK_EQ_INT(eng_config_set(e, "engine.detect", "false", err, sizeof err), 0);
    eng_on(e, ENG_EV_WEIRD, on_weird, &r);
    eng_on(e, ENG_EV_FLOW_START, on_start, &r);
    eng_on(e, ENG_EV_TCP_GAP, on_gap, &r);
    int64_t t = T0;
    open_conn(e, t, 1000);
    open_conn(e, t + 10, 2000);
    static uint8_t d[1400];
    memset(d, 'x', sizeof d);
    /* flow 1000: 4 segments after a 100-byte hole (5600 bytes buffered) */
    for (int k = 0; k < 4; k++) seg(e, t + 100 + k, 1000, 1, 201 + 1400 * (uint32_t)k, 501, PB_ACK, d, 1400);
    CHECK_EQ_INT(eng_stats(e)->mem_buffered, 5600);
    /* flow 2000: 3 segments after a hole (4200): 9800 in all, then one more: cut 1000 */
    for (int k = 0; k < 3; k++) seg(e, t + 200 + k, 2000, 1, 201 + 1400 * (uint32_t)k, 501, PB_ACK, d, 1400);
    CHECK_EQ_INT(r.ncut, 0);
    seg(e, t + 300, 2000, 1, 201 + 1400 * 3, 501, PB_ACK, d, 1400);
    CHECK_EQ_INT(r.ncut, 1);
    CHECK(!strcmp(r.cut_uid, r.uid_of_port[1]));
    CHECK_EQ_INT(ngap, 1);
    CHECK_EQ_INT(gap_len, 100 + 5600); /* the hole and the dropped ranges */
    CHECK_EQ_INT(eng_stats(e)->mem_buffered, 5600);
    /* flow 1000 goes on in order after the cut: delivered, nothing buffered for it */
    seg(e, t + 400, 1000, 1, 201 + 5600, 501, PB_ACK, d, 1400);
    CHECK_EQ_INT(eng_stats(e)->mem_buffered, 5600);
    CHECK_EQ_INT(r.ncut, 1);
    eng_finish(e);
    CHECK_EQ_INT(eng_stats(e)->mem_buffered, 0);
    eng_free(e);
}

int main(void) {
    RUN(accounting_tracks_totals_and_the_largest);
    RUN(stream_reader_charges_capacity_and_a_cut_frees_it);
    RUN(full_budget_cuts_the_flow_holding_the_most);
    RUN(out_of_order_bytes_count_and_are_cut_as_a_gap);
    return check_report("memcap");
}
