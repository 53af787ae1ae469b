/* test_flow.c - flows through the whole core with hand-made packets:
 * orientation, Zeek history and conn_state, flow.end reasons, timeouts,
 * eviction, port reuse, uids, and tcp.data/tcp.gap delivery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine.h"
#include "pktbuild.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

typedef struct rec {
    char ends[16][64];   /* "uid reason state history" of each flow.end */
    int nends, nstarts;
    uint8_t data[2][4096];
    size_t ndata[2];
    uint64_t gaps[2];
    int nticks;
    char weird[64];
} rec_t;

static void on_end(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    if (r->nends < 16)
        snprintf(r->ends[r->nends], 64, "%.*s %s %s", (int)ev->f[0].len, ev->f[0].u.s,
                 eng_flow_state(ev->flow), ev->flow->history);
    r->nends++;
}
static void on_start(eng_t *e, const eng_event_t *ev, void *u) { ((rec_t *)u)->nstarts++; }
static void on_data(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    int d = ev->f[ENG_F_TCP_DATA_dir].u.s[0] == 'r';
    const eng_value_t *v = &ev->f[ENG_F_TCP_DATA_data];
    CHECK_EQ_INT(ev->f[ENG_F_TCP_DATA_offset].u.i, r->ndata[d] + r->gaps[d]);
    if (r->ndata[d] + v->len <= sizeof r->data[d]) memcpy(r->data[d] + r->ndata[d], v->u.s, v->len);
    r->ndata[d] += v->len;
}
static void on_gap(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    int d = ev->f[ENG_F_TCP_GAP_dir].u.s[0] == 'r';
    r->gaps[d] += (uint64_t)ev->f[ENG_F_TCP_GAP_len].u.i;
}
static void on_tick(eng_t *e, const eng_event_t *ev, void *u) { ((rec_t *)u)->nticks++; }
static void on_weird(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    snprintf(r->weird, sizeof r->weird, "%.*s", (int)ev->f[0].len, ev->f[0].u.s);
}

static eng_t *new_engine(rec_t *r) {
    memset(r, 0, sizeof *r);
    eng_t *e = eng_new();
    eng_on(e, ENG_EV_FLOW_END, on_end, r);
    eng_on(e, ENG_EV_FLOW_START, on_start, r);
    eng_on(e, ENG_EV_TCP_DATA, on_data, r);
    eng_on(e, ENG_EV_TCP_GAP, on_gap, r);
    eng_on(e, ENG_EV_ENGINE_TICK, on_tick, r);
    eng_on(e, ENG_EV_WEIRD, on_weird, r);
    return e;
}

static uint8_t buf[4096];
/* client 10.0.0.1:40000, server 10.0.0.2:80 */
static void cli(eng_t *e, int64_t t, uint32_t seq, uint32_t ack, uint8_t fl, const char *d) {
    size_t n = pb_tcp4(buf, "10.0.0.1", 40000, "10.0.0.2", 80, seq, ack, fl, d, d ? strlen(d) : 0, 1000);
    eng_feed(e, t, 1, buf, (uint32_t)n, (uint32_t)n);
}
static void srv(eng_t *e, int64_t t, uint32_t seq, uint32_t ack, uint8_t fl, const char *d) {
    size_t n = pb_tcp4(buf, "10.0.0.2", 80, "10.0.0.1", 40000, seq, ack, fl, d, d ? strlen(d) : 0, 1000);
    eng_feed(e, t, 1, buf, (uint32_t)n, (uint32_t)n);
}

TEST(full_connection_sf) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
    cli(e, T0 + 3, 101, 501, PB_ACK | PB_PSH, "GET / HTTP/1.0\r\n\r\n");
    srv(e, T0 + 4, 501, 119, PB_ACK | PB_PSH, "HTTP/1.0 200 OK\r\n\r\nhi");
    srv(e, T0 + 5, 522, 119, PB_ACK | PB_FIN, NULL);
    cli(e, T0 + 6, 119, 523, PB_ACK | PB_FIN, NULL);
    srv(e, T0 + 7, 523, 120, PB_ACK, NULL);
    CHECK_EQ_INT(r.nends, 0); /* closed flows linger for stragglers */
    eng_finish(e);
    CHECK_EQ_INT(r.nstarts, 1);
    CHECK_EQ_INT(r.nends, 1);
    CHECK_STR(r.ends[0], "closed SF ShADdfFa");
    CHECK_MEM(r.data[0], r.ndata[0], "GET / HTTP/1.0\r\n\r\n", 18);
    CHECK_MEM(r.data[1], r.ndata[1], "HTTP/1.0 200 OK\r\n\r\nhi", 21);
    eng_free(e);
}

static void on_overlap(eng_t *e, const eng_event_t *ev, void *u) {
    char *out = u;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%lld/%lld/%lld ", (long long)ev->f[ENG_F_TCP_OVERLAP_offset].u.i,
             (long long)ev->f[ENG_F_TCP_OVERLAP_len].u.i,
             (long long)ev->f[ENG_F_TCP_OVERLAP_conflict].u.i);
}

TEST(retransmission_conflict_with_delivered_bytes) {
    /* a tcp.overlap subscriber makes the core keep recent delivered bytes, so
     * a retransmission that says something else is a conflict (an evasion
     * attempt or a broken stack), and the same bytes again are not */
    rec_t r;
    eng_t *e = new_engine(&r);
    char ovl[256] = "";
    eng_on(e, ENG_EV_TCP_OVERLAP, on_overlap, ovl);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
    cli(e, T0 + 3, 101, 501, PB_ACK | PB_PSH, "GET /index.html HTTP/1.0\r\n");
    cli(e, T0 + 4, 101, 501, PB_ACK | PB_PSH, "GET /index.html");  /* same bytes */
    cli(e, T0 + 5, 105, 501, PB_ACK | PB_PSH, "/admin.php");       /* other bytes */
    eng_finish(e);
    CHECK_STR(ovl, "0/15/0 4/10/1 ");
    /* the first version stays the stream (delivered bytes are not taken back) */
    CHECK_MEM(r.data[0], r.ndata[0], "GET /index.html HTTP/1.0\r\n", 26);
    eng_free(e);
}

TEST(rejected) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 0, 101, PB_RST | PB_ACK, NULL);
    eng_finish(e);
    CHECK_EQ_INT(r.nends, 1);
    CHECK_STR(r.ends[0], "reset REJ Sr");
    eng_free(e);
}

TEST(syn_only_s0_and_timeout) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    eng_advance(e, T0 + 299 * SEC);
    CHECK_EQ_INT(r.nends, 0);
    eng_advance(e, T0 + 301 * SEC);
    CHECK_EQ_INT(r.nends, 1);
    CHECK_STR(r.ends[0], "timeout S0 S");
    CHECK_EQ_INT(eng_stats(e)->flows_timed_out, 1);
    CHECK(r.nticks >= 300);
    eng_free(e);
}

TEST(synack_first_flips) {
    rec_t r;
    eng_t *e = new_engine(&r);
    srv(e, T0, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 1, 101, 501, PB_ACK | PB_PSH, "abc");
    eng_finish(e);
    CHECK_EQ_INT(r.nends, 1);
    /* the client (SYN-ACK's receiver) is the originator */
    CHECK(strstr(r.ends[0], "^hAD") != NULL || strstr(r.ends[0], "^hD") != NULL);
    CHECK_MEM(r.data[0], r.ndata[0], "abc", 3);
    eng_free(e);
}

static void on_end_orig(eng_t *e, const eng_event_t *ev, void *u) {
    char a[64];
    eng_flow_addr(ev->flow, ENG_ORIG, a, sizeof a);
    snprintf(u, 64, "%.50s:%u", a, ev->flow->orig_port);
}

TEST(midstream_server_first_is_not_swapped) {
    rec_t r;
    eng_t *e = new_engine(&r);
    char orig[64] = "";
    eng_on(e, ENG_EV_FLOW_END, on_end_orig, orig);
    srv(e, T0, 1000, 2000, PB_ACK | PB_PSH, "220 hello\r\n");
    cli(e, T0 + 1, 2000, 1011, PB_ACK | PB_PSH, "HELO x\r\n");
    eng_finish(e);
    CHECK_STR(orig, "10.0.0.1:40000");
    CHECK_MEM(r.data[0], r.ndata[0], "HELO x\r\n", 8);
    CHECK_MEM(r.data[1], r.ndata[1], "220 hello\r\n", 11);
    CHECK(strstr(r.ends[0], "eof OTH ^") != NULL);
    eng_free(e);
}

/* a capture that starts mid-stream with the server's segments reordered: the
 * first bytes are not lost (reasm's mid-stream hold), and the client's data
 * after them still comes after them */
TEST(midstream_reordered_first_segments) {
    rec_t r;
    eng_t *e = new_engine(&r);
    srv(e, T0, 1010, 2000, PB_ACK, "00 OK\r\n");
    srv(e, T0 + 1, 1000, 2000, PB_ACK, "HTTP/1.1 2");
    srv(e, T0 + 2, 1005, 2000, PB_ACK, "1.1 2"); /* a duplicate while held */
    CHECK_EQ_INT(r.ndata[1], 0);
    cli(e, T0 + 3, 2000, 1017, PB_ACK | PB_PSH, "GET / HTTP/1.1\r\n");
    CHECK_MEM(r.data[1], r.ndata[1], "HTTP/1.1 200 OK\r\n", 17);
    CHECK_EQ_INT(r.ndata[0], 0); /* the client's own hold */
    eng_finish(e);
    CHECK_MEM(r.data[0], r.ndata[0], "GET / HTTP/1.1\r\n", 16);
    CHECK_EQ_INT(r.gaps[0] + r.gaps[1], 0);
    eng_free(e);
}

/* both FINs seen while bytes before the client's FIN are missing (the capture
 * reordered the FIN ahead of the data, timestamps staying in place): the flow
 * is not put on the 5 s closed timeout, so the data 10 s later still belongs
 * to it instead of starting a new flow */
TEST(fin_ahead_of_data_keeps_flow) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
    cli(e, T0 + 3, 104, 501, PB_FIN | PB_ACK, NULL);
    srv(e, T0 + 4, 501, 101, PB_FIN | PB_ACK, NULL);
    cli(e, T0 + 10 * SEC, 101, 502, PB_ACK | PB_PSH, "abc");
    CHECK_EQ_INT(r.nends, 0);
    CHECK_MEM(r.data[0], r.ndata[0], "abc", 3);
    cli(e, T0 + 11 * SEC, 105, 502, PB_ACK, NULL);
    srv(e, T0 + 20 * SEC, 502, 105, PB_ACK, NULL); /* closed now: the 5 s timeout */
    CHECK_EQ_INT(r.nends, 1);
    CHECK_EQ_INT(r.nstarts, 2);
    eng_finish(e);
    CHECK(strstr(r.ends[0], "closed SF") != NULL);
    eng_free(e);
}

/* mid-stream, the first packet from 8080 (a port the HTTP decoder lists, not
 * below 1024) to an ephemeral port: the sender is the server, as in Zeek
 * (likely_server_ports), so its response is in the resp direction; 40000 to
 * 41000 keeps the first sender as the originator */
TEST(midstream_decoder_port_is_server) {
    rec_t r;
    eng_t *e = new_engine(&r);
    char orig[64] = "";
    eng_on(e, ENG_EV_FLOW_END, on_end_orig, orig);
    size_t n = pb_tcp4(buf, "10.0.0.2", 8080, "10.0.0.1", 48474, 7, 9, PB_ACK | PB_PSH, "HTTP/1.1 200 \r\n", 15, 1000);
    eng_feed(e, T0, 1, buf, (uint32_t)n, (uint32_t)n);
    eng_finish(e);
    CHECK_STR(orig, "10.0.0.1:48474");
    CHECK_MEM(r.data[1], r.ndata[1], "HTTP/1.1 200 \r\n", 15);
    eng_free(e);
    e = new_engine(&r);
    eng_on(e, ENG_EV_FLOW_END, on_end_orig, orig);
    n = pb_tcp4(buf, "10.0.0.2", 40000, "10.0.0.1", 41000, 7, 9, PB_ACK | PB_PSH, "x", 1, 1000);
    eng_feed(e, T0, 1, buf, (uint32_t)n, (uint32_t)n);
    eng_finish(e);
    CHECK_STR(orig, "10.0.0.2:40000");
    eng_free(e);
}

/* the client's RST seen before the server's last segment, which fills a hole
 * (a tap merging the directions out of order; the host got it before it
 * reset): the server direction keeps its buffered bytes, the straggler fills
 * the hole, and the stream is whole, without a gap */
TEST(rst_ahead_of_straggler_fills_hole) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
    srv(e, T0 + 3, 501, 101, PB_ACK, "abc");
    srv(e, T0 + 4, 507, 101, PB_ACK | PB_PSH, "ghi"); /* past the hole "def" */
    cli(e, T0 + 5, 101, 0, PB_RST, NULL);
    srv(e, T0 + 6, 504, 101, PB_ACK, "def");
    eng_finish(e);
    CHECK_MEM(r.data[1], r.ndata[1], "abcdefghi", 9);
    CHECK_EQ_INT(r.gaps[1], 0);
    CHECK_EQ_INT(r.nstarts, 1);
    eng_free(e);
}

/* "GET /ev", a client RST far outside the window the server advertised (1000
 * bytes from 108), then "il HTTP/1.1": the host drops the RST and reads
 * /evil, so does the engine (weird tcp_rst_out_of_window); a RST in the window
 * then ends the flow */
TEST(rst_out_of_window_ignored) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
    cli(e, T0 + 3, 101, 501, PB_ACK | PB_PSH, "GET /ev");
    srv(e, T0 + 4, 501, 108, PB_ACK, NULL);
    cli(e, T0 + 5, 108 + 5000, 0, PB_RST, NULL);
    CHECK_STR(r.weird, "tcp_rst_out_of_window");
    CHECK_EQ_INT(r.nends, 0);
    cli(e, T0 + 6, 108, 501, PB_ACK | PB_PSH, "il HTTP/1.1\r\n");
    CHECK_MEM(r.data[0], r.ndata[0], "GET /evil HTTP/1.1\r\n", 20);
    srv(e, T0 + 7, 501, 121, PB_ACK, NULL);
    cli(e, T0 + 8, 121 + 400, 0, PB_RST, NULL); /* in the window: accepted */
    eng_finish(e);
    CHECK_EQ_INT(r.nends, 1);
    CHECK(strstr(r.ends[0], "R") != NULL);
    eng_free(e);
}

/* client 100 -> server 500, SYN / SYN-ACK / ACK at T0..T0+2 */
static void handshake(eng_t *e) {
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
}

/* Zeek's rules for a RST around a FIN exchange (TCPSessionAdapter): after both FINs a RST
 * changes nothing (SF); a side that sent FIN then RST is closed again by the peer's FIN (SF);
 * FIN then RST with no FIN back stays a reset (RSTO) */
TEST(rst_around_fin_exchange) {
    rec_t r;
    eng_t *e = new_engine(&r);
    handshake(e);
    srv(e, T0 + 3, 501, 101, PB_FIN | PB_ACK, NULL);
    cli(e, T0 + 4, 101, 502, PB_FIN | PB_ACK, NULL);
    cli(e, T0 + 5, 102, 502, PB_RST | PB_ACK, NULL);
    eng_finish(e);
    CHECK_EQ_INT(r.nends, 1);
    CHECK(r.nends == 1 && strstr(r.ends[0], " SF ") != NULL);
    eng_free(e);

    e = new_engine(&r);
    handshake(e);
    cli(e, T0 + 3, 101, 501, PB_FIN | PB_ACK, NULL);
    cli(e, T0 + 4, 102, 501, PB_RST | PB_ACK, NULL);
    srv(e, T0 + 5, 501, 102, PB_FIN | PB_ACK, NULL);
    eng_finish(e);
    CHECK(r.nends == 1 && strstr(r.ends[0], " SF ") != NULL);
    eng_free(e);

    e = new_engine(&r);
    handshake(e);
    cli(e, T0 + 3, 101, 501, PB_FIN | PB_ACK, NULL);
    cli(e, T0 + 4, 102, 501, PB_RST | PB_ACK, NULL);
    eng_finish(e);
    CHECK(r.nends == 1 && strstr(r.ends[0], " RSTO ") != NULL);
    eng_free(e);
}

TEST(rsto_and_port_reuse) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
    cli(e, T0 + 3, 101, 501, PB_RST | PB_ACK, NULL);
    /* the same 5-tuple, a new SYN: a new flow */
    cli(e, T0 + 4, 9000, 0, PB_SYN, NULL);
    CHECK_EQ_INT(r.nends, 1);
    CHECK_STR(r.ends[0], "reset RSTO ShAR");
    eng_finish(e);
    CHECK_EQ_INT(r.nstarts, 2);
    CHECK_EQ_INT(r.nends, 2);
    CHECK_STR(r.ends[1], "eof S0 S");
    eng_free(e);
}

TEST(lost_segment_gap_on_ack) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
    cli(e, T0 + 3, 101, 501, PB_ACK, "aaaa");
    /* "bbbb" at 105 is lost */
    cli(e, T0 + 4, 109, 501, PB_ACK, "cccc");
    srv(e, T0 + 5, 501, 113, PB_ACK, NULL); /* the server got all of it */
    CHECK_EQ_INT(r.gaps[0], 0); /* the capture may still deliver it, reordered */
    for (int i = 0; i < 16; i++) srv(e, T0 + 6 + i, 501, 113, PB_ACK, NULL);
    CHECK_EQ_INT(r.gaps[0], 0); /* the server's packets do not carry it */
    for (int i = 0; i < 16; i++) cli(e, T0 + 30 + i, 113, 501, PB_ACK, NULL);
    CHECK_EQ_INT(r.gaps[0], 0); /* 16 packets, but few bytes past the hole and no time */
    cli(e, T0 + 2 * SEC, 113, 501, PB_ACK, NULL);
    CHECK_EQ_INT(r.gaps[0], 4); /* its sender moved on 16 packets and a second: a gap, the stream goes on */
    CHECK_MEM(r.data[0], r.ndata[0], "aaaacccc", 8);
    eng_finish(e);
    CHECK(strstr(r.ends[0], "G") != NULL);
    eng_free(e);
}

TEST(ack_before_data_reordered_is_not_a_gap) {
    rec_t r;
    eng_t *e = new_engine(&r);
    cli(e, T0, 100, 0, PB_SYN, NULL);
    srv(e, T0 + 1, 500, 101, PB_SYN | PB_ACK, NULL);
    cli(e, T0 + 2, 101, 501, PB_ACK, NULL);
    /* the client's ACK of the server's data is captured before the data */
    cli(e, T0 + 3, 101, 509, PB_ACK, NULL);
    srv(e, T0 + 4, 505, 101, PB_ACK, "efgh");
    srv(e, T0 + 5, 501, 101, PB_ACK, "abcd");
    eng_finish(e);
    CHECK_EQ_INT(r.gaps[1], 0);
    CHECK_MEM(r.data[1], r.ndata[1], "abcdefgh", 8);
    eng_free(e);
}

TEST(eviction_at_flow_max) {
    rec_t r;
    eng_t *e = new_engine(&r);
    char err[128];
    CHECK_EQ_INT(eng_config_set(e, "flow.max", "2", err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        char src[32];
        snprintf(src, sizeof src, "10.0.1.%d", i + 1);
        size_t n = pb_tcp4(buf, src, 1000, "10.0.0.2", 25, 1, 0, PB_SYN, NULL, 0, 100);
        eng_feed(e, T0 + i, 1, buf, (uint32_t)n, (uint32_t)n);
    }
    CHECK_EQ_INT(r.nends, 3);
    CHECK_STR(r.ends[0], "evicted S0 S");
    CHECK_EQ_INT(eng_stats(e)->flows_evicted, 3);
    CHECK_EQ_INT(eng_stats(e)->flows_active, 2);
    eng_finish(e);
    CHECK_EQ_INT(r.nends, 5);
    eng_free(e);
}

static void on_start_uid(eng_t *e, const eng_event_t *ev, void *u) {
    strcat((char *)u, ev->flow->uid);
    strcat((char *)u, ",");
}

TEST(uids_deterministic_and_seeded) {
    char a[256] = "", b[256] = "", c[256] = "";
    char *outs[3] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        eng_t *e = eng_new();
        char err[64];
        if (k == 2) eng_config_set(e, "engine.seed", "7", err, sizeof err);
        eng_on(e, ENG_EV_FLOW_START, on_start_uid, outs[k]);
        size_t n = pb_udp4(buf, "10.0.0.1", 53, "10.0.0.2", 5353, "x", 1);
        eng_feed(e, T0, 1, buf, (uint32_t)n, (uint32_t)n);
        n = pb_udp4(buf, "10.0.0.3", 53, "10.0.0.2", 5353, "x", 1);
        eng_feed(e, T0, 1, buf, (uint32_t)n, (uint32_t)n);
        eng_free(e);
    }
    CHECK(strlen(a) == 2 * 19);
    CHECK(a[0] == 'C');
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
}

/* uids are stable across versions: the same (engine.seed, flow number) gives the same
 * uid, so logs of two versions can be joined on it (engine/base.c, make_id) */
void make_id(char out[19], char prefix, uint64_t seed, uint64_t n);
TEST(uid_stable_across_versions) {
    char x[19];
    make_id(x, 'C', 0, 1);
    CHECK_STR(x, "CmQqY7iiEwT2pGIg7U"); /* the first flow's uid with the default seed */
    make_id(x, 'F', 7, 12345);
    CHECK_STR(x, "Fn46G9R1KdB0Hq6JL5");
}

TEST(udp_flow_and_state) {
    rec_t r;
    eng_t *e = new_engine(&r);
    size_t n = pb_udp4(buf, "10.0.0.1", 5000, "10.0.0.2", 53, "query", 5);
    eng_feed(e, T0, 1, buf, (uint32_t)n, (uint32_t)n);
    n = pb_udp4(buf, "10.0.0.2", 53, "10.0.0.1", 5000, "answer", 6);
    eng_feed(e, T0 + SEC, 1, buf, (uint32_t)n, (uint32_t)n);
    eng_advance(e, T0 + 62 * SEC);
    CHECK_EQ_INT(r.nends, 1);
    CHECK_STR(r.ends[0], "timeout SF Dd");
    eng_free(e);
}

TEST(udp_reply_first_flips) {
    /* the first datagram is from port 53 to a high port: its receiver is
     * the originator (Zeek's '^'); a later query keeps that orientation */
    rec_t r;
    eng_t *e = new_engine(&r);
    char orig[64] = "";
    eng_on(e, ENG_EV_FLOW_END, on_end_orig, orig);
    size_t n = pb_udp4(buf, "10.0.0.2", 53, "10.0.0.1", 5000, "answer", 6);
    eng_feed(e, T0, 1, buf, (uint32_t)n, (uint32_t)n);
    n = pb_udp4(buf, "10.0.0.1", 5000, "10.0.0.2", 53, "query", 5);
    eng_feed(e, T0 + SEC, 1, buf, (uint32_t)n, (uint32_t)n);
    eng_finish(e);
    CHECK_EQ_INT(r.nends, 1);
    CHECK_STR(orig, "10.0.0.1:5000");
    CHECK_STR(r.ends[0], "eof SF ^dD");
    eng_free(e);
}

TEST(ipv6_flow) {
    rec_t r;
    eng_t *e = new_engine(&r);
    char orig[64] = "";
    eng_on(e, ENG_EV_FLOW_END, on_end_orig, orig);
    size_t n = pb_tcp(buf, 1, "2001:db8::1", 40000, "2001:db8::2", 80, 1, 0, PB_SYN, NULL, 0, 100);
    eng_feed(e, T0, 1, buf, (uint32_t)n, (uint32_t)n);
    eng_finish(e);
    CHECK_STR(orig, "2001:db8::1:40000");
    eng_free(e);
}

TEST(truncated_tcp_header_is_weird) {
    rec_t r;
    eng_t *e = new_engine(&r);
    size_t n = pb_tcp4(buf, "10.0.0.1", 1, "10.0.0.2", 2, 1, 0, PB_SYN, NULL, 0, 100);
    for (uint32_t cut = 0; cut < n; cut++) eng_feed(e, T0, 1, buf, cut, (uint32_t)n);
    CHECK(eng_stats(e)->weirds > 0);
    CHECK(r.weird[0] != 0);
    CHECK_EQ_INT(r.nstarts, 0);
    eng_free(e);
}

/* ---- eviction order at flow.max -------------------------------------------- */
/* flows here are told apart by their originator port */
typedef struct evrec {
    char ended[64][24]; /* "port reason" in flow.end order */
    int n;
} evrec_t;
static void ev_end(eng_t *e, const eng_event_t *ev, void *u) {
    evrec_t *r = u;
    if (r->n < 64)
        snprintf(r->ended[r->n++], 24, "%u %.*s", ev->flow->orig_port, (int)ev->f[0].len, ev->f[0].u.s);
}
static void tcp_pkt(eng_t *e, int64_t t, uint16_t sport, int from_srv, uint32_t seq, uint32_t ack,
                    uint8_t fl, const char *d) {
    char src[32];
    snprintf(src, sizeof src, "10.1.%u.%u", sport >> 8, sport & 255);
    size_t n = from_srv ? pb_tcp4(buf, "10.0.0.2", 80, src, sport, seq, ack, fl, d, d ? strlen(d) : 0, 1000)
                        : pb_tcp4(buf, src, sport, "10.0.0.2", 80, seq, ack, fl, d, d ? strlen(d) : 0, 1000);
    eng_feed(e, t, 1, buf, (uint32_t)n, (uint32_t)n);
}
/* an established flow with data: handshake, a request and its answer */
static void session(eng_t *e, int64_t t, uint16_t port) {
    tcp_pkt(e, t, port, 0, 100, 0, PB_SYN, NULL);
    tcp_pkt(e, t + 1, port, 1, 500, 101, PB_SYN | PB_ACK, NULL);
    tcp_pkt(e, t + 2, port, 0, 101, 501, PB_ACK, NULL);
    tcp_pkt(e, t + 3, port, 0, 101, 501, PB_ACK | PB_PSH, "ping");
    tcp_pkt(e, t + 4, port, 1, 501, 105, PB_ACK | PB_PSH, "pong");
}
static uint64_t weird_n(eng_t *e, const char *name) {
    uint64_t c = 0;
    const char *w;
    for (int i = 0; (w = eng_weird_name(e, i, &c)); i++)
        if (!strcmp(w, name)) return c;
    return 0;
}

TEST(eviction_spares_established_flows) {
    evrec_t r;
    memset(&r, 0, sizeof r);
    eng_t *e = eng_new();
    char err[128];
    CHECK_EQ_INT(eng_config_set(e, "flow.max", "4", err, sizeof err), 0);
    eng_on(e, ENG_EV_FLOW_END, ev_end, &r);
    session(e, T0, 1);                                  /* established, the oldest */
    tcp_pkt(e, T0 + 10, 2, 0, 7, 0, PB_SYN, NULL);      /* half-open */
    tcp_pkt(e, T0 + 11, 2, 0, 8, 0, PB_ACK | PB_PSH, "x"); /* ... with data: still half-open */
    session(e, T0 + 20, 3);                             /* established */
    tcp_pkt(e, T0 + 30, 4, 0, 7, 0, PB_SYN, NULL);      /* half-open, the newest */
    CHECK_EQ_INT(r.n, 0);
    /* a flood: 25 new half-open flows, each evicting the least recent flow
     * not established, never 1 or 3 (least recently active: 1, then 2) */
    for (int i = 0; i < 25; i++) tcp_pkt(e, T0 + 100 + i, (uint16_t)(1000 + i), 0, 7, 0, PB_SYN, NULL);
    CHECK_EQ_INT(r.n, 25);
    CHECK_STR(r.ended[0], "2 evicted");
    CHECK_STR(r.ended[1], "4 evicted");
    CHECK_STR(r.ended[2], "1000 evicted");
    CHECK_STR(r.ended[24], "1022 evicted");
    const eng_stats_t *s = eng_stats(e);
    CHECK_EQ_INT(s->flows_evicted, 25);
    CHECK_EQ_INT(s->flows_evicted_half_open, 25);
    CHECK_EQ_INT(s->flows_evicted_established, 0);
    /* one weird at the 1st and the 10th of the kind, not one per flow */
    CHECK_EQ_INT(weird_n(e, "flow_evicted_half_open"), 2);
    /* a closed flow is as good as a half-open one: the less recent goes */
    tcp_pkt(e, T0 + 200, 1, 0, 105, 505, PB_ACK | PB_FIN, NULL); /* 1 closes (FIN both ways) */
    tcp_pkt(e, T0 + 201, 1, 1, 505, 106, PB_ACK | PB_FIN, NULL);
    tcp_pkt(e, T0 + 202, 1, 0, 106, 506, PB_ACK, NULL);
    tcp_pkt(e, T0 + 300, 2000, 0, 7, 0, PB_SYN, NULL); /* evicts 1023 (older than closed 1) */
    tcp_pkt(e, T0 + 301, 2001, 0, 7, 0, PB_SYN, NULL); /* evicts 1024 */
    tcp_pkt(e, T0 + 302, 2002, 0, 7, 0, PB_SYN, NULL); /* evicts closed 1 */
    CHECK_EQ_INT(r.n, 28);
    CHECK_STR(r.ended[25], "1023 evicted");
    CHECK_STR(r.ended[26], "1024 evicted");
    CHECK_STR(r.ended[27], "1 evicted");
    CHECK_EQ_INT(s->flows_evicted_closed, 1);
    CHECK_EQ_INT(weird_n(e, "flow_evicted_closed"), 1);
    eng_finish(e);
    CHECK_EQ_INT(r.n, 32);
    CHECK_STR(r.ended[28], "3 eof"); /* the established session outlived the flood */
    eng_free(e);
}

TEST(eviction_of_established_when_nothing_else) {
    evrec_t r;
    memset(&r, 0, sizeof r);
    eng_t *e = eng_new();
    char err[128];
    CHECK_EQ_INT(eng_config_set(e, "flow.max", "2", err, sizeof err), 0);
    eng_on(e, ENG_EV_FLOW_END, ev_end, &r);
    session(e, T0, 1);
    session(e, T0 + 10, 2);
    tcp_pkt(e, T0 + 20, 3, 0, 7, 0, PB_SYN, NULL); /* only established ones: the older, 1, goes */
    tcp_pkt(e, T0 + 30, 4, 0, 7, 0, PB_SYN, NULL); /* 3 is half-open: it goes, not 2 */
    /* UDP: a flow that only one side sent on goes before one both sides did */
    size_t n = pb_udp4(buf, "10.9.0.1", 5353, "10.0.0.2", 53, "q", 1);
    eng_feed(e, T0 + 40, 1, buf, (uint32_t)n, (uint32_t)n); /* evicts 4 */
    n = pb_udp4(buf, "10.0.0.2", 53, "10.9.0.1", 5353, "a", 1);
    eng_feed(e, T0 + 41, 1, buf, (uint32_t)n, (uint32_t)n); /* now both ways */
    n = pb_udp4(buf, "10.9.0.2", 5354, "10.0.0.2", 53, "q", 1);
    eng_feed(e, T0 + 50, 1, buf, (uint32_t)n, (uint32_t)n); /* evicts 2 (older than 5353) */
    n = pb_udp4(buf, "10.9.0.3", 5355, "10.0.0.2", 53, "q", 1);
    eng_feed(e, T0 + 60, 1, buf, (uint32_t)n, (uint32_t)n); /* evicts one-way 5354 */
    /* a handshake without payload goes before a flow with payload, even a less recent one */
    tcp_pkt(e, T0 + 70, 6, 0, 100, 0, PB_SYN, NULL); /* evicts one-way 5355 */
    tcp_pkt(e, T0 + 71, 6, 1, 500, 101, PB_SYN | PB_ACK, NULL);
    tcp_pkt(e, T0 + 72, 6, 0, 101, 501, PB_ACK, NULL);
    tcp_pkt(e, T0 + 80, 7, 0, 100, 0, PB_SYN, NULL); /* evicts 6, not 5353 */
    CHECK_EQ_INT(r.n, 7);
    CHECK_STR(r.ended[0], "1 evicted");
    CHECK_STR(r.ended[1], "3 evicted");
    CHECK_STR(r.ended[2], "4 evicted");
    CHECK_STR(r.ended[3], "2 evicted");
    CHECK_STR(r.ended[4], "5354 evicted");
    CHECK_STR(r.ended[5], "5355 evicted");
    CHECK_STR(r.ended[6], "6 evicted");
    CHECK_EQ_INT(eng_stats(e)->flows_evicted_established, 3);
    CHECK_EQ_INT(eng_stats(e)->flows_evicted_half_open, 4);
    CHECK_EQ_INT(weird_n(e, "flow_evicted_established"), 1);
    eng_free(e);
}

int main(void) {
    RUN(full_connection_sf);
    RUN(rejected);
    RUN(syn_only_s0_and_timeout);
    RUN(synack_first_flips);
    RUN(midstream_server_first_is_not_swapped);
    RUN(midstream_reordered_first_segments);
    RUN(fin_ahead_of_data_keeps_flow);
    RUN(midstream_decoder_port_is_server);
    RUN(rst_ahead_of_straggler_fills_hole);
    RUN(rst_out_of_window_ignored);
    RUN(rst_around_fin_exchange);
    RUN(rsto_and_port_reuse);
    RUN(lost_segment_gap_on_ack);
    RUN(ack_before_data_reordered_is_not_a_gap);
    RUN(eviction_at_flow_max);
    RUN(eviction_spares_established_flows);
    RUN(eviction_of_established_when_nothing_else);
    RUN(uids_deterministic_and_seeded);
    RUN(uid_stable_across_versions);
    RUN(retransmission_conflict_with_delivered_bytes);
    RUN(udp_flow_and_state);
    RUN(udp_reply_first_flips);
    RUN(ipv6_flow);
    RUN(truncated_tcp_header_is_weird);
    return check_report("flow");
}
