/* test_decoder_api.c - the engine side of decoders/decoder.h: expectations
 * (engine/expect.c), hand-off (engine/decoder_api.c), dec_wanted from the
 * owner column of events.def, and the line cursor of engine/bytes.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decoder.h"
#include "pktbuild.h"

#define T0 1700000000000000000LL
#define MS 1000000LL

static uint8_t buf[4096];

static void tcp(eng_t *e, int64_t t, const char *src, uint16_t sp, const char *dst, uint16_t dp,
                uint32_t seq, uint32_t ack, uint8_t fl, const char *d) {
    size_t n = pb_tcp4(buf, src, sp, dst, dp, seq, ack, fl, d, d ? strlen(d) : 0, 1000);
    eng_feed(e, t, 1, buf, (uint32_t)n, (uint32_t)n);
}

/* a whole connection: handshake, one request from the client, FIN both ways */
static void conn(eng_t *e, int64_t t, const char *c, uint16_t cp, const char *s, uint16_t sp,
                 const char *req) {
    size_t n = req ? strlen(req) : 0;
    tcp(e, t, c, cp, s, sp, 100, 0, PB_SYN, NULL);
    tcp(e, t + 1, s, sp, c, cp, 500, 101, PB_SYN | PB_ACK, NULL);
    tcp(e, t + 2, c, cp, s, sp, 101, 501, PB_ACK, NULL);
    if (n) tcp(e, t + 3, c, cp, s, sp, 101, 501, PB_ACK | PB_PSH, req);
    tcp(e, t + 4, c, cp, s, sp, 101 + (uint32_t)n, 501, PB_ACK | PB_FIN, NULL);
    tcp(e, t + 5, s, sp, c, cp, 501, 102 + (uint32_t)n, PB_ACK | PB_FIN, NULL);
}

typedef struct rec {
    char svc[8][64];      /* "service by" of each flow.service */
    char parent[8][24];   /* parent_uid at flow.service */
    uint64_t tag[8];
    int nsvc;
    char first_uid[24];
    int nreq;
    char uri[64];
    char services_at_end[8][48];
    int nend;
    int nweird_dropped;
    /* what to expect from the first flow */
    int nexpect;
    const char *expect_addr;
    uint16_t expect_port;
    const char *peer;      /* NULL: any */
    int64_t timeout_ns;
    eng_t *e;
} rec_t;

static void on_start(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    if (r->first_uid[0]) return;
    snprintf(r->first_uid, sizeof r->first_uid, "%s", ev->flow->uid);
    for (int i = 0; i < r->nexpect; i++) {
        dec_expect_t x;
        memset(&x, 0, sizeof x);
        x.proto = 6;
        x.family = 4;
        inet_pton(AF_INET, r->expect_addr, x.addr);
        x.port = (uint16_t)(r->expect_port + i);
        if (r->peer) inet_pton(AF_INET, r->peer, x.peer);
        else x.peer_any = 1;
        x.timeout_ns = r->timeout_ns;
        x.service = "http";
        x.tag = 7 + (uint64_t)i;
        CHECK_EQ_INT(dec_expect(e, ev->flow, &x), 0);
    }
}

static void on_service(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    if (r->nsvc >= 8) return;
    snprintf(r->svc[r->nsvc], sizeof r->svc[0], "%.*s %.*s", (int)ev->f[0].len, ev->f[0].u.s,
             (int)ev->f[1].len, ev->f[1].u.s);
    snprintf(r->parent[r->nsvc], sizeof r->parent[0], "%s", ev->flow->parent_uid);
    r->tag[r->nsvc] = dec_flow_expect_tag(ev->flow);
    eng_flow_t *p = dec_flow_parent(e, ev->flow);
    if (*ev->flow->parent_uid) CHECK(p && !strcmp(p->uid, ev->flow->parent_uid));
    else CHECK(p == NULL);
    r->nsvc++;
}

static void on_req(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    r->nreq++;
    snprintf(r->uri, sizeof r->uri, "%.*s", (int)ev->f[ENG_F_HTTP_REQUEST_uri].len,
             ev->f[ENG_F_HTTP_REQUEST_uri].u.s);
}

static void on_end(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    if (r->nend < 8) snprintf(r->services_at_end[r->nend], 48, "%s", ev->flow->services);
    r->nend++;
}

static void on_weird(eng_t *e, const eng_event_t *ev, void *u) {
    rec_t *r = u;
    if (ev->f[0].len == 19 && !memcmp(ev->f[0].u.s, "expectation_dropped", 19)) r->nweird_dropped++;
}

static eng_t *new_engine(rec_t *r) {
    eng_t *e = eng_new();
    r->e = e;
    eng_on(e, ENG_EV_FLOW_START, on_start, r);
    eng_on(e, ENG_EV_FLOW_SERVICE, on_service, r);
    eng_on(e, ENG_EV_HTTP_REQUEST, on_req, r);
    eng_on(e, ENG_EV_FLOW_END, on_end, r);
    eng_on(e, ENG_EV_WEIRD, on_weird, r);
    return e;
}

/* an engine whose first flow, the control connection 10.0.0.1:40000 ->
 * 10.0.0.2:2121 (its SYN is fed), sets n expectations of addr:port.. */
static eng_t *control_expecting(rec_t *r, int n, const char *addr, uint16_t port, const char *peer,
                                int64_t timeout_ns) {
    memset(r, 0, sizeof *r);
    r->nexpect = n;
    r->expect_addr = addr;
    r->expect_port = port;
    r->peer = peer;
    r->timeout_ns = timeout_ns;
    eng_t *e = new_engine(r);
    tcp(e, T0, "10.0.0.1", 40000, "10.0.0.2", 2121, 1, 0, PB_SYN, NULL);
    return e;
}

/* a control connection 10.0.0.1 -> 10.0.0.2:2121 expects 10.0.0.2:5000;
 * the data connection arrives with bytes no probe claims... but the
 * expected decoder (http here) is attached whatever the port */
TEST(expectation_links_the_next_connection) {
    rec_t r;
    eng_t *e = control_expecting(&r, 1, "10.0.0.2", 5000, "10.0.0.1", 10000 * MS);
    CHECK_EQ_INT(dec_expect_pending(e), 1);
    conn(e, T0 + 10 * MS, "10.0.0.1", 40001, "10.0.0.2", 5000, "GET /linked HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK_EQ_INT(dec_expect_pending(e), 0);
    CHECK_EQ_INT(r.nsvc, 1);
    CHECK_STR(r.svc[0], "http expect");
    CHECK_STR(r.parent[0], r.first_uid);
    CHECK_EQ_INT(r.tag[0], 7);
    CHECK_EQ_INT(r.nreq, 1);
    CHECK_STR(r.uri, "/linked");
    /* consumed: a second connection to the same endpoint is not linked */
    conn(e, T0 + 20 * MS, "10.0.0.1", 40002, "10.0.0.2", 5000, "hello\r\n");
    CHECK_EQ_INT(r.nsvc, 1);
    eng_finish(e);
    eng_free(e);
}

TEST(expectation_peer_and_expiry) {
    rec_t r;
    eng_t *e = control_expecting(&r, 1, "10.0.0.2", 5000, "10.0.0.1", 1000 * MS);
    /* another client: not the expected peer */
    conn(e, T0 + 10 * MS, "10.0.0.9", 40001, "10.0.0.2", 5000, "xyz\r\n");
    CHECK_EQ_INT(r.nsvc, 0);
    CHECK_EQ_INT(dec_expect_pending(e), 1);
    /* the right peer, too late */
    conn(e, T0 + 2000 * MS, "10.0.0.1", 40001, "10.0.0.2", 5000, "xyz\r\n");
    CHECK_EQ_INT(r.nsvc, 0);
    eng_finish(e);
    eng_free(e);
}

/* the data connection may come from either side (active FTP: the server
 * connects to the client's announced port) */
TEST(expectation_matches_either_endpoint) {
    rec_t r;
    memset(&r, 0, sizeof r);
    r.nexpect = 1;
    r.expect_addr = "10.0.0.1"; /* the client's announced endpoint */
    r.expect_port = 6000;
    r.timeout_ns = 10000 * MS;
    eng_t *e = new_engine(&r);
    tcp(e, T0, "10.0.0.1", 40000, "10.0.0.2", 2121, 1, 0, PB_SYN, NULL);
    conn(e, T0 + 10 * MS, "10.0.0.2", 20, "10.0.0.1", 6000, "GET /active HTTP/1.0\r\n\r\n");
    CHECK_EQ_INT(r.nsvc, 1);
    CHECK_STR(r.svc[0], "http expect");
    CHECK_EQ_INT(r.nreq, 1);
    eng_finish(e);
    eng_free(e);
}

TEST(expectations_bounded_per_flow_and_dropped_with_parent) {
    rec_t r;
    eng_t *e = control_expecting(&r, DEC_EXPECT_PER_FLOW + 8, "10.0.0.2", 5000, NULL, 100000 * MS);
    CHECK_EQ_INT(dec_expect_pending(e), DEC_EXPECT_PER_FLOW);
    CHECK_EQ_INT(r.nweird_dropped, 8);
    /* the oldest went: port 5000 no longer links, the newest (5039) does */
    conn(e, T0 + 10 * MS, "10.0.0.1", 40001, "10.0.0.2", 5000, "x\r\n");
    CHECK_EQ_INT(r.nsvc, 0);
    conn(e, T0 + 20 * MS, "10.0.0.1", 40002, "10.0.0.2", 5000 + DEC_EXPECT_PER_FLOW + 7, "x\r\n");
    CHECK_EQ_INT(r.nsvc, 1);
    CHECK_EQ_INT(r.tag[0], 7 + DEC_EXPECT_PER_FLOW + 7);
    /* the parent resets: its expectations go */
    tcp(e, T0 + 30 * MS, "10.0.0.1", 40000, "10.0.0.2", 2121, 2, 0, PB_RST, NULL);
    eng_advance(e, T0 + 60000 * MS);
    CHECK_EQ_INT(dec_expect_pending(e), 0);
    eng_finish(e);
    eng_free(e);
}

/* ---- hand-off: a toy decoder that hands the flow to http after "UPGRADE\n" */
typedef struct toy {
    int ends, bytes;
} toy_t;
static int toy_ends_total;
static void toy_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                     size_t len) {
    toy_t *t = st;
    t->bytes += (int)len;
    const char *m = "UPGRADE\n";
    for (size_t i = 0; i + 8 <= len; i++)
        if (!memcmp(p + i, m, 8)) {
            CHECK_EQ_INT(dec_handoff(e, f, "http", dir, off + i + 8), 0);
            return;
        }
}
static void toy_end(eng_t *e, eng_flow_t *f, void *st) {
    ((toy_t *)st)->ends++;
    toy_ends_total++;
}
static const eng_decoder_t toy = {.name = "toy", .state_size = sizeof(toy_t), .data = toy_data,
                                  .end = toy_end};
static void attach_toy(eng_t *e, const eng_event_t *ev, void *u) {
    CHECK_EQ_INT(eng_flow_attach(e, ev->flow, &toy, "script"), 0);
}

TEST(handoff_gives_the_rest_of_the_chunk_to_the_new_decoder) {
    rec_t r;
    memset(&r, 0, sizeof r);
    eng_t *e = eng_new();
    eng_on(e, ENG_EV_FLOW_START, attach_toy, &r);
    eng_on(e, ENG_EV_FLOW_SERVICE, on_service, &r);
    eng_on(e, ENG_EV_HTTP_REQUEST, on_req, &r);
    eng_on(e, ENG_EV_FLOW_END, on_end, &r);
    toy_ends_total = 0;
    conn(e, T0, "10.0.0.1", 40000, "10.0.0.2", 7000,
         "hello\nUPGRADE\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n");
    eng_finish(e);
    CHECK_EQ_INT(r.nsvc, 2);
    CHECK_STR(r.svc[0], "toy script");
    CHECK_STR(r.svc[1], "http handoff");
    CHECK_EQ_INT(r.nreq, 1);
    CHECK_STR(r.uri, "/after");
    CHECK_EQ_INT(r.nend, 1);
    CHECK_STR(r.services_at_end[0], "toy,http");
    CHECK_EQ_INT(toy_ends_total, 1); /* the parked decoder still ended, once */
    eng_free(e);
}

/* ---- dec_wanted from the owner column ------------------------------------ */
static void nop(eng_t *e, const eng_event_t *ev, void *u) {}

TEST(wanted_follows_subscriptions) {
    eng_t *e = eng_new();
    const eng_decoder_t *http = eng_decoder_find("http"), *smtp = eng_decoder_find("smtp");
    CHECK(http && smtp);
    CHECK_EQ_INT(dec_wanted(e, http), 0);
    int id = eng_on(e, ENG_EV_HTTP_REQUEST, nop, NULL);
    CHECK_EQ_INT(dec_wanted(e, http), 1);
    CHECK_EQ_INT(dec_wanted(e, smtp), 0);
    int id2 = eng_on(e, ENG_EV_FILE_DONE, nop, NULL); /* files: every decoder that carries files */
    CHECK_EQ_INT(dec_wanted(e, smtp), 1);
    eng_off(e, id);
    CHECK_EQ_INT(dec_wanted(e, http), 1);
    eng_off(e, id2);
    CHECK_EQ_INT(dec_wanted(e, http), 0);
    CHECK_EQ_INT(dec_wanted(e, smtp), 0);
    int id3 = eng_on(e, ENG_EV_MAIL_HEADER, nop, NULL);
    CHECK_EQ_INT(dec_wanted(e, smtp), 1);
    CHECK_EQ_INT(dec_wanted(e, eng_decoder_find("dns")), 0);
    /* http lists the mail owners in uses: a CONNECT tunnel may carry SMTP */
    CHECK_EQ_INT(dec_wanted(e, http), 1);
    eng_off(e, id3);
    /* every event's owner is the core, a decoder or a framework decoders use */
    for (int k = 0; k < eng_event_count(); k++) {
        const char *o = eng_event_owner(k);
        CHECK(o != NULL);
        if (!o || !*o) continue;
        int found = 0;
        for (int i = 0; i < eng_decoder_count(); i++) {
            const eng_decoder_t *d = eng_decoder_at(i);
            if (!strcmp(d->name, o)) found = 1;
            for (const char *const *u = d->uses; u && *u; u++)
                if (!strcmp(*u, o)) found = 1;
        }
        if (!found) fprintf(stderr, "event %s: owner '%s' is no decoder's\n", eng_event_name(k), o);
        CHECK(found);
    }
    eng_free(e);
}

/* ---- the line cursor -------------------------------------------------------- */
TEST(line_cursor_is_bounded) {
    const char *s = "227 Entering\tPassive Mode (1,2,3,4,255,256)";
    lcur_t c = lcur((const uint8_t *)s, strlen(s));
    uint64_t v = 0;
    CHECK_EQ_INT(lc_uint(&c, &v, 999), 3);
    CHECK_EQ_INT(v, 227);
    CHECK_EQ_INT(lc_skip_blanks(&c), 1);
    const uint8_t *t;
    size_t n = lc_token(&c, &t);
    CHECK_MEM(t, n, "Entering", 8);
    lc_skip_blanks(&c);
    n = lc_until(&c, '(', &t);
    CHECK_MEM(t, n, "Passive Mode ", 13);
    CHECK(lc_expect(&c, '('));
    CHECK(!lc_expect(&c, '('));
    int got[6], k = 0;
    while (k < 6) {
        uint64_t x;
        if (!lc_uint(&c, &x, 255)) break;
        got[k++] = (int)x;
        if (!lc_expect(&c, ',')) break;
    }
    CHECK_EQ_INT(k, 5);              /* 256 is past the bound: not read */
    CHECK_EQ_INT(got[4], 255);
    CHECK_EQ_INT(lc_peek(&c), '2');  /* nothing consumed by the failed number */
    n = lc_rest(&c, &t);
    CHECK_MEM(t, n, "256)", 4);
    CHECK(lc_eof(&c));
    CHECK_EQ_INT(lc_peek(&c), -1);
    CHECK_EQ_INT(lc_get(&c), -1);
    CHECK_EQ_INT(lc_token(&c, &t), 0);
    CHECK_EQ_INT(lc_uint(&c, &v, 10), 0);
    lc_skip(&c, 100);
    CHECK(lc_eof(&c));
    /* a bound smaller than one digit, and overflow of 64 bits */
    lcur_t d = lcur((const uint8_t *)"9", 1);
    CHECK_EQ_INT(lc_uint(&d, &v, 5), 0);
    lcur_t o = lcur((const uint8_t *)"99999999999999999999999", 23);
    CHECK_EQ_INT(lc_uint(&o, &v, UINT64_MAX), 0);
    lcur_t m = lcur((const uint8_t *)"18446744073709551615", 20);
    CHECK_EQ_INT(lc_uint(&m, &v, UINT64_MAX), 20);
    CHECK(v == UINT64_MAX);
}

int main(void) {
    RUN(expectation_links_the_next_connection);
    RUN(expectation_peer_and_expiry);
    RUN(expectation_matches_either_endpoint);
    RUN(expectations_bounded_per_flow_and_dropped_with_parent);
    RUN(handoff_gives_the_rest_of_the_chunk_to_the_new_decoder);
    RUN(wanted_follows_subscriptions);
    RUN(line_cursor_is_bounded);
    return check_report("decoder_api");
}
