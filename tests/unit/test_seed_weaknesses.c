/* test_seed_weaknesses.c - the six known failures of the seed's reassembler
 * (spec/performance.md, last paragraph), each driven through the whole core
 * with hand-made packets (eng_feed), each asserting that this engine does not
 * have it:
 *   1. a lost segment stalls the stream for ever
 *   2. more than 128 out-of-order packets are dropped silently
 *   3. sequence numbers crossing 2^32 break the stream
 *   4. a line longer than its 2 KiB buffer stalls the flow for good
 *   5. no way to flush a flow that ends without FIN
 *   6. if the first packet seen is server-to-client, the streams are swapped
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "internal.h"
#include "pktbuild.h"
#include "stream.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)
#define CAP (2 << 20)

typedef struct out {
    uint8_t *data[2];
    size_t n[2];
    uint64_t gap[2];
    int ends;
    char lines[8][64];
    int nlines, ncut;
} out_t;

static void on_data(eng_t *e, const eng_event_t *ev, void *u) {
    out_t *o = u;
    int d = ev->f[ENG_F_TCP_DATA_dir].u.s[0] == 'r';
    const eng_value_t *v = &ev->f[ENG_F_TCP_DATA_data];
    CHECK_EQ_INT(ev->f[ENG_F_TCP_DATA_offset].u.i, o->n[d] + o->gap[d]);
    if (o->n[d] + v->len <= CAP) memcpy(o->data[d] + o->n[d], v->u.s, v->len);
    o->n[d] += v->len;
}
static void on_gap(eng_t *e, const eng_event_t *ev, void *u) {
    out_t *o = u;
    o->gap[ev->f[ENG_F_TCP_GAP_dir].u.s[0] == 'r'] += (uint64_t)ev->f[ENG_F_TCP_GAP_len].u.i;
}
static void on_end(eng_t *e, const eng_event_t *ev, void *u) { ((out_t *)u)->ends++; }

static eng_t *setup(out_t *o) {
    memset(o, 0, sizeof *o);
    o->data[0] = malloc(CAP);
    o->data[1] = malloc(CAP);
    eng_t *e = eng_new();
    eng_on(e, ENG_EV_TCP_DATA, on_data, o);
    eng_on(e, ENG_EV_TCP_GAP, on_gap, o);
    eng_on(e, ENG_EV_FLOW_END, on_end, o);
    return e;
}
static void teardown(eng_t *e, out_t *o) {
    eng_free(e);
    free(o->data[0]);
    free(o->data[1]);
}

static uint8_t frame[4096];
static int64_t now = T0;
static void seg(eng_t *e, int from_server, uint32_t seq, uint32_t ack, uint8_t fl, const void *d, size_t n) {
    size_t len = from_server
        ? pb_tcp4(frame, "192.0.2.2", 25, "192.0.2.1", 51000, seq, ack, fl, d, n, 8192)
        : pb_tcp4(frame, "192.0.2.1", 51000, "192.0.2.2", 25, seq, ack, fl, d, n, 8192);
    eng_feed(e, now += 1000, 1, frame, (uint32_t)len, (uint32_t)len);
}
static void handshake(eng_t *e, uint32_t cisn, uint32_t sisn) {
    seg(e, 0, cisn, 0, PB_SYN, NULL, 0);
    seg(e, 1, sisn, cisn + 1, PB_SYN | PB_ACK, NULL, 0);
    seg(e, 0, cisn + 1, sisn + 1, PB_ACK, NULL, 0);
}

static uint8_t src[CAP];
static void fill(size_t n) {
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)('a' + (i * 7 + i / 13) % 26);
}

/* 1. a lost segment: the stream goes on after a gap, before the connection ends */
TEST(lost_segment_does_not_stall) {
    out_t o;
    eng_t *e = setup(&o);
    fill(40 * 100);
    handshake(e, 1000, 5000);
    for (int i = 0; i < 40; i++) {
        if (i == 3) continue; /* lost on the way to the tap */
        now += SEC / 25;      /* 40 ms apart: the ACK patience ends a second after the hole */
        seg(e, 0, 1001 + (uint32_t)i * 100, 5001, PB_ACK, src + i * 100, 100);
        seg(e, 1, 5001, 1001 + (uint32_t)(i + 1) * 100, PB_ACK, NULL, 0); /* the server got it all */
    }
    /* before any FIN or end of input, the bytes after the hole were delivered */
    CHECK_EQ_INT(o.gap[0], 100);
    CHECK(o.n[0] >= 30 * 100);
    CHECK_MEM(o.data[0], 300, src, 300);
    CHECK_MEM(o.data[0] + 300, o.n[0] - 300, src + 400, o.n[0] - 300);
    teardown(e, &o);
}

/* 2. a thousand out-of-order segments: all delivered, none dropped */
TEST(thousand_out_of_order_segments) {
    out_t o;
    eng_t *e = setup(&o);
    fill(1000 * 50);
    handshake(e, 7, 9);
    for (int i = 999; i >= 0; i--) seg(e, 0, 8 + (uint32_t)i * 50, 10, PB_ACK, src + i * 50, 50);
    CHECK_EQ_INT(o.gap[0], 0);
    CHECK_MEM(o.data[0], o.n[0], src, 1000 * 50);
    CHECK_EQ_INT(eng_stats(e)->tcp_out_of_order > 0, 1);
    teardown(e, &o);
}

/* 3. sequence numbers wrap around 2^32 in the middle of the stream */
TEST(sequence_wraparound) {
    out_t o;
    eng_t *e = setup(&o);
    fill(1 << 20);
    uint32_t isn = 0xFFFFFFFFu - 5000;
    handshake(e, isn, 77);
    for (uint32_t off = 0; off < (1u << 20); off += 1000) {
        uint32_t n = off + 1000 <= (1u << 20) ? 1000 : (1u << 20) - off;
        seg(e, 0, isn + 1 + off, 78, PB_ACK, src + off, n);
    }
    CHECK_EQ_INT(o.gap[0], 0);
    CHECK_MEM(o.data[0], o.n[0], src, 1 << 20);
    teardown(e, &o);
}

/* 4. a line far longer than any buffer: cut, reported, and the next lines decode */
typedef struct lstate {
    stream_reader_t sr[2];
    out_t *o;
} lstate_t;
static out_t *line_out;
static void ld_init(eng_t *e, eng_flow_t *f, void *st) {
    lstate_t *s = st;
    sr_init(&s->sr[0], (uint32_t)2048);
    sr_init(&s->sr[1], (uint32_t)2048);
    s->o = line_out;
}
static void ld_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                    size_t n) {
    lstate_t *s = st;
    sr_view_t v;
    sr_push(&s->sr[dir], off, p, n);
    int r;
    while ((r = sr_line(&s->sr[dir], &v)) != SR_MORE) {
        if (r != SR_OK) continue;
        if (v.cut) {
            s->o->ncut++;
            continue;
        }
        if (s->o->nlines < 8) snprintf(s->o->lines[s->o->nlines++], 64, "%.*s", (int)v.len, v.p);
    }
}
static void ld_end(eng_t *e, eng_flow_t *f, void *st) {
    lstate_t *s = st;
    sr_free(&s->sr[0]);
    sr_free(&s->sr[1]);
}
static const eng_decoder_t line_decoder = {
    .name = "lines", .state_size = sizeof(lstate_t), .init = ld_init, .data = ld_data, .end = ld_end};
static void attach_lines(eng_t *e, const eng_event_t *ev, void *u) {
    eng_flow_attach(e, ev->flow, &line_decoder, "script");
}

TEST(overlong_line_does_not_stall) {
    out_t o;
    eng_t *e = setup(&o);
    line_out = &o;
    eng_on(e, ENG_EV_FLOW_START, attach_lines, NULL);
    handshake(e, 100, 200);
    uint32_t seq = 101;
    const char *a = "MAIL FROM:<a@example.org>\r\n";
    seg(e, 0, seq, 201, PB_ACK, a, strlen(a));
    seq += (uint32_t)strlen(a);
    memset(src, 'X', 100000); /* a 100 KB line, no line ending, in 1000-byte segments */
    for (int i = 0; i < 100; i++, seq += 1000) seg(e, 0, seq, 201, PB_ACK, src + i * 1000, 1000);
    const char *b = "\r\nRCPT TO:<b@example.org>\r\nDATA\r\n";
    seg(e, 0, seq, 201, PB_ACK, b, strlen(b));
    CHECK_EQ_INT(o.ncut, 1);
    CHECK_EQ_INT(o.nlines, 3);
    CHECK_STR(o.lines[0], "MAIL FROM:<a@example.org>");
    CHECK_STR(o.lines[1], "RCPT TO:<b@example.org>");
    CHECK_STR(o.lines[2], "DATA");
    teardown(e, &o);
}

/* 5. a flow that ends without FIN: buffered bytes are flushed at timeout and at end of input */
TEST(flush_without_fin) {
    out_t o;
    eng_t *e = setup(&o);
    fill(300);
    handshake(e, 1, 2);
    seg(e, 0, 2, 3, PB_ACK, src, 100);
    seg(e, 0, 202, 3, PB_ACK, src + 200, 100); /* 100..200 never comes */
    CHECK_EQ_INT(o.n[0], 100);
    eng_advance(e, now + 301 * SEC); /* flow.tcp_timeout */
    CHECK_EQ_INT(o.ends, 1);
    CHECK_EQ_INT(o.gap[0], 100);
    CHECK_EQ_INT(o.n[0], 200);
    CHECK_MEM(o.data[0] + 100, 100, src + 200, 100);
    teardown(e, &o);

    e = setup(&o);
    handshake(e, 1, 2);
    seg(e, 0, 102, 3, PB_ACK, src + 100, 100); /* only the second half */
    eng_finish(e);
    CHECK_EQ_INT(o.ends, 1);
    CHECK_EQ_INT(o.gap[0], 100);
    CHECK_MEM(o.data[0], o.n[0], src + 100, 100);
    teardown(e, &o);
}

/* 6. the first packet seen comes from the server: directions are not swapped */
static void on_end_tuple(eng_t *e, const eng_event_t *ev, void *u) {
    snprintf(u, 32, "%u>%u", ev->flow->orig_port, ev->flow->resp_port);
}
TEST(server_first_not_swapped) {
    for (int variant = 0; variant < 2; variant++) {
        out_t o;
        char tuple[32] = "";
        eng_t *e = setup(&o);
        eng_on(e, ENG_EV_FLOW_END, on_end_tuple, tuple);
        if (variant == 0) { /* the capture starts at the SYN-ACK */
            seg(e, 1, 500, 101, PB_SYN | PB_ACK, NULL, 0);
            seg(e, 0, 101, 501, PB_ACK, "EHLO x\r\n", 8);
            seg(e, 1, 501, 109, PB_ACK, "250 ok\r\n", 8);
        } else { /* mid-stream, the server's greeting first */
            seg(e, 1, 500, 101, PB_ACK, "220 mail\r\n", 10);
            seg(e, 0, 101, 510, PB_ACK, "EHLO x\r\n", 8);
        }
        eng_finish(e);
        CHECK_STR(tuple, "51000>25");
        CHECK_MEM(o.data[0], o.n[0], "EHLO x\r\n", 8);
        CHECK(o.n[1] == 8 || o.n[1] == 10);
        CHECK(memcmp(o.data[1], variant == 0 ? "250 ok\r\n" : "220 mail\r\n", o.n[1]) == 0);
        teardown(e, &o);
    }
}

int main(void) {
    RUN(lost_segment_does_not_stall);
    RUN(thousand_out_of_order_segments);
    RUN(sequence_wraparound);
    RUN(overlong_line_does_not_stall);
    RUN(flush_without_fin);
    RUN(server_first_not_swapped);
    return check_report("seed_weaknesses");
}
