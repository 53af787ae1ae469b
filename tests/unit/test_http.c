/* test_http.c - the HTTP/1.x decoder (decoders/http.c) through the whole core:
 * hand-made TCP segments go in through eng_feed, C callbacks record every
 * http.* event (and weirds, file.done) as one text line each, and the tests
 * compare that transcript, the decoded body bytes and their digests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>
#include <zlib.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "pktbuild.h"

/* the registry refers to decoders weakly: make sure the archive member is linked */
extern const eng_decoder_t eng_decoder_http;
static const eng_decoder_t *const http_dec = &eng_decoder_http;

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

/* ---- recording ------------------------------------------------------------ */

typedef struct rec {
    char *log;
    size_t len, cap;
    uint8_t *body[2];      /* body of the current message */
    size_t blen[2], bcap[2];
    uint8_t *last[2];      /* body of the last finished message */
    size_t lastlen[2];
    uint64_t body_events[2];
    int bad_offset;
    char file_sha[65];     /* sha256 of the last file.done */
    int set_service;       /* attach http at flow.start (no content detection) */
    int log_body;          /* print bodies in DONE lines */
} rec_t;

static void logf_(rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(rec_t *r, const char *fmt, ...)
{
    char tmp[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
    if (r->len + (size_t)n + 1 > r->cap) {
        r->cap = (r->len + (size_t)n + 1) * 2;
        r->log = realloc(r->log, r->cap);
    }
    memcpy(r->log + r->len, tmp, (size_t)n + 1);
    r->len += (size_t)n;
}

/* a value as text: printable bytes, others as \xNN; NIL as "-" */
static void vtext(char *out, size_t cap, const eng_value_t *v)
{
    if (v->type == ENG_T_NIL) {
        snprintf(out, cap, "-");
        return;
    }
    if (v->type == ENG_T_INT) {
        snprintf(out, cap, "%lld", (long long)v->u.i);
        return;
    }
    size_t o = 0;
    for (uint32_t i = 0; i < v->len && o + 5 < cap; i++) {
        uint8_t c = v->u.s[i];
        if (c >= 32 && c < 127) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = 0;
}

static void logmap(rec_t *r, const eng_value_t *m)
{
    char k[256], v[1024];
    logf_(r, " {");
    for (uint32_t i = 0; i < m->len; i++) {
        vtext(k, sizeof k, &m->u.list[2 * i]);
        vtext(v, sizeof v, &m->u.list[2 * i + 1]);
        logf_(r, "%s%s=%s", i ? "|" : "", k, v);
    }
    logf_(r, "}");
}

static int dirof(const eng_value_t *v) { return v->u.s[0] == 'r'; }

static void on_req(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    char a[4][512];
    vtext(a[0], 512, &ev->f[ENG_F_HTTP_REQUEST_method]);
    vtext(a[1], 512, &ev->f[ENG_F_HTTP_REQUEST_uri]);
    vtext(a[2], 512, &ev->f[ENG_F_HTTP_REQUEST_version]);
    vtext(a[3], 512, &ev->f[ENG_F_HTTP_REQUEST_host]);
    char ua[512];
    vtext(ua, sizeof ua, &ev->f[ENG_F_HTTP_REQUEST_user_agent]);
    logf_(r, "REQ %s %s %s host=%s ua=%s @%lld", a[0], a[1], a[2], a[3], ua,
          (long long)ev->f[ENG_F_HTTP_REQUEST_offset].u.i);
    if (ev->nfields > ENG_F_HTTP_REQUEST_referrer && ev->f[ENG_F_HTTP_REQUEST_referrer].type == ENG_T_STR) {
        char ref[512];
        vtext(ref, sizeof ref, &ev->f[ENG_F_HTTP_REQUEST_referrer]);
        logf_(r, " ref=%s", ref);
    }
    CHECK(ev->f[ENG_F_HTTP_REQUEST_headers].type == ENG_T_MAP);
    logmap(r, &ev->f[ENG_F_HTTP_REQUEST_headers]);
    logf_(r, "\n");
}

static void on_resp(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    char a[2][512];
    vtext(a[0], 512, &ev->f[ENG_F_HTTP_RESPONSE_version]);
    vtext(a[1], 512, &ev->f[ENG_F_HTTP_RESPONSE_reason]);
    logf_(r, "RESP %s %lld %s @%lld", a[0], (long long)ev->f[ENG_F_HTTP_RESPONSE_status].u.i, a[1],
          (long long)ev->f[ENG_F_HTTP_RESPONSE_offset].u.i);
    logmap(r, &ev->f[ENG_F_HTTP_RESPONSE_headers]);
    logf_(r, "\n");
}

static void on_hdr(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    char n[512], v[1024];
    vtext(n, sizeof n, &ev->f[ENG_F_HTTP_HEADER_name]);
    vtext(v, sizeof v, &ev->f[ENG_F_HTTP_HEADER_value]);
    logf_(r, "HDR %s %s: %s @%lld\n", dirof(&ev->f[0]) ? "resp" : "orig", n, v,
          (long long)ev->f[ENG_F_HTTP_HEADER_offset].u.i);
}

static void on_body(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    int d = dirof(&ev->f[0]);
    const eng_value_t *v = &ev->f[ENG_F_HTTP_BODY_data];
    if ((uint64_t)ev->f[ENG_F_HTTP_BODY_offset].u.i != r->blen[d]) r->bad_offset = 1;
    if (r->blen[d] + v->len > r->bcap[d]) {
        r->bcap[d] = (r->blen[d] + v->len) * 2;
        r->body[d] = realloc(r->body[d], r->bcap[d]);
    }
    memcpy(r->body[d] + r->blen[d], v->u.s, v->len);
    r->blen[d] += v->len;
    r->body_events[d]++;
}

static void on_done(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    int d = dirof(&ev->f[0]);
    char st[32] = "-";
    if (ev->nfields > ENG_F_HTTP_MESSAGE_DONE_status)
        vtext(st, sizeof st, &ev->f[ENG_F_HTTP_MESSAGE_DONE_status]);
    logf_(r, "DONE %s body=%lld wire=%lld status=%s", d ? "resp" : "orig",
          (long long)ev->f[ENG_F_HTTP_MESSAGE_DONE_body_len].u.i,
          (long long)ev->f[ENG_F_HTTP_MESSAGE_DONE_wire_len].u.i, st);
    CHECK_EQ_INT(ev->f[ENG_F_HTTP_MESSAGE_DONE_body_len].u.i, r->blen[d]);
    if (r->log_body) {
        eng_value_t bv;
        bv.type = ENG_T_STR;
        bv.len = (uint32_t)(r->blen[d] > 200 ? 200 : r->blen[d]);
        bv.u.s = r->body[d];
        char b[1024];
        vtext(b, sizeof b, &bv);
        logf_(r, " [%s]", b);
    }
    logf_(r, "\n");
    free(r->last[d]);
    r->last[d] = r->body[d];
    r->lastlen[d] = r->blen[d];
    r->body[d] = NULL;
    r->blen[d] = r->bcap[d] = 0;
}

static void on_weird(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    char n[128];
    vtext(n, sizeof n, &ev->f[0]);
    logf_(r, "WEIRD %s\n", n);
}

static void on_file_done(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    char sha[256];
    vtext(sha, sizeof sha, &ev->f[ENG_F_FILE_DONE_sha256]);
    size_t n = strlen(sha) < 64 ? strlen(sha) : 64;
    memcpy(r->file_sha, sha, n);
    r->file_sha[n] = 0;
    logf_(r, "FILE size=%lld missing=%lld\n", (long long)ev->f[ENG_F_FILE_DONE_size].u.i,
          (long long)ev->f[ENG_F_FILE_DONE_missing_bytes].u.i);
}

static void on_service(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    char a[64], b[64];
    vtext(a, sizeof a, &ev->f[0]);
    vtext(b, sizeof b, &ev->f[1]);
    logf_(r, "SERVICE %s %s\n", a, b);
}

static void on_start(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    if (r->set_service) eng_flow_set_service(e, ev->flow, "http");
}

static eng_t *new_engine(rec_t *r, const char *k1, const char *v1)
{
    memset(r, 0, sizeof *r);
    r->log_body = 1;
    eng_t *e = eng_new();
    char err[128];
    if (k1) CHECK(eng_config_set(e, k1, v1, err, sizeof err) == 0);
    eng_on(e, ENG_EV_HTTP_REQUEST, on_req, r);
    eng_on(e, ENG_EV_HTTP_RESPONSE, on_resp, r);
    eng_on(e, ENG_EV_HTTP_HEADER, on_hdr, r);
    eng_on(e, ENG_EV_HTTP_BODY, on_body, r);
    eng_on(e, ENG_EV_HTTP_MESSAGE_DONE, on_done, r);
    eng_on(e, ENG_EV_WEIRD, on_weird, r);
    eng_on(e, ENG_EV_FILE_DONE, on_file_done, r);
    eng_on(e, ENG_EV_FLOW_SERVICE, on_service, r);
    eng_on(e, ENG_EV_FLOW_START, on_start, r);
    return e;
}

static void rec_free(rec_t *r)
{
    free(r->log);
    for (int d = 0; d < 2; d++) {
        free(r->body[d]);
        free(r->last[d]);
    }
}

/* ---- a TCP connection by hand ----------------------------------------------- */

typedef struct conn {
    eng_t *e;
    uint32_t seq[2]; /* next sequence number of each side */
    int64_t t;
} conn_t;

static uint8_t frame[2048];

static void seg(conn_t *c, int dir, uint32_t seq, uint8_t fl, const void *d, size_t n)
{
    size_t len = dir ? pb_tcp4(frame, "10.0.0.2", 80, "10.0.0.1", 40000, seq, c->seq[0], fl, d, n, 65535)
                     : pb_tcp4(frame, "10.0.0.1", 40000, "10.0.0.2", 80, seq, c->seq[1], fl, d, n, 65535);
    c->t += 1000;
    eng_feed(c->e, c->t, 1, frame, (uint32_t)len, (uint32_t)len);
}

static void c_open(conn_t *c, eng_t *e)
{
    c->e = e;
    c->t = T0;
    c->seq[0] = 1000;
    c->seq[1] = 5000;
    seg(c, 0, 999, PB_SYN, NULL, 0);
    seg(c, 1, 4999, PB_SYN | PB_ACK, NULL, 0);
    seg(c, 0, 1000, PB_ACK, NULL, 0);
}

static void c_sendn(conn_t *c, int dir, const void *d, size_t n, size_t mss)
{
    const uint8_t *p = d;
    while (n) {
        size_t k = n < mss ? n : mss;
        seg(c, dir, c->seq[dir], PB_ACK | PB_PSH, p, k);
        c->seq[dir] += (uint32_t)k;
        p += k;
        n -= k;
    }
}

static void c_send(conn_t *c, int dir, const char *s) { c_sendn(c, dir, s, strlen(s), 1400); }

/* skip n bytes of dir (they are never sent) */
static void c_hole(conn_t *c, int dir, uint32_t n) { c->seq[dir] += n; }
/* the other side acknowledges everything of dir: holes become gaps */
static void c_ack(conn_t *c, int dir) { seg(c, !dir, c->seq[!dir], PB_ACK, NULL, 0); }

static void c_close(conn_t *c)
{
    seg(c, 1, c->seq[1], PB_FIN | PB_ACK, NULL, 0);
    seg(c, 0, c->seq[0], PB_FIN | PB_ACK, NULL, 0);
    c->seq[1]++;
    c->seq[0]++;
    seg(c, 1, c->seq[1], PB_ACK, NULL, 0);
}

static void check_log(rec_t *r, const char *want)
{
    if (!r->log || strcmp(r->log, want)) {
        fprintf(stderr, "---- got:\n%s---- want:\n%s----\n", r->log ? r->log : "", want);
        CHECK(0);
    }
}

/* ---- tests ------------------------------------------------------------------ */

TEST(probe)
{
    const eng_decoder_t *d = http_dec;
    CHECK(d && !strcmp(d->name, "http"));
    CHECK_EQ_INT(d->probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16, 0), 1);
    CHECK_EQ_INT(d->probe((const uint8_t *)"PROPFIND /x", 11, 0), 1);
    CHECK_EQ_INT(d->probe((const uint8_t *)"GE", 2, 0), -1);
    CHECK_EQ_INT(d->probe((const uint8_t *)"GET", 3, 0), -1);
    CHECK_EQ_INT(d->probe((const uint8_t *)"GETX / HTTP/1.1\r\n", 17, 0), 1); /* unknown method */
    CHECK_EQ_INT(d->probe((const uint8_t *)"GETX /", 6, 0), 0);
    CHECK_EQ_INT(d->probe((const uint8_t *)"\x16\x03\x01\x02\x00", 5, 0), 0);
    CHECK_EQ_INT(d->probe((const uint8_t *)"EHLO x\r\n", 8, 0), 0);
    CHECK_EQ_INT(d->probe((const uint8_t *)"HTTP/1.1 200 OK\r\n", 17, 1), 1);
    CHECK_EQ_INT(d->probe((const uint8_t *)"HTTP/", 5, 1), -1);
    CHECK_EQ_INT(d->probe((const uint8_t *)"220 smtp", 8, 1), 0);
    CHECK_EQ_INT(d->probe((const uint8_t *)"", 0, 0), -1);
}

TEST(simple_get)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1.0\r\n"
                  "Accept: */*\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "HDR orig Host: example.com @30\n"
              "HDR orig User-Agent: t/1.0 @49\n"
              "HDR orig Accept: */* @68\n"
              "REQ GET /index.html?q=1 1.1 host=example.com ua=t/1.0 @0 {host=example.com|user-agent=t/1.0|accept=*/*}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Content-Length: 5 @17\n"
              "HDR resp Content-Type: text/plain @36\n"
              "RESP 1.1 200 OK @0 {content-length=5|content-type=text/plain}\n"
              "FILE size=5 missing=0\n"
              "DONE resp body=5 wire=5 status=200 [hello]\n");
    eng_free(e);
    rec_free(&r);
}

/* the field offsets point into the stream */
static const char *g_stream;
static int g_offsets_ok = 1;
static void on_hdr_off(eng_t *e, const eng_event_t *ev, void *u)
{
    const eng_value_t *v = &ev->f[ENG_F_HTTP_HEADER_value];
    if (dirof(&ev->f[0]) == 0 && v->len && memcmp(g_stream + v->offset, v->u.s, v->len))
        g_offsets_ok = 0;
    const eng_value_t *n = &ev->f[ENG_F_HTTP_HEADER_name];
    if (dirof(&ev->f[0]) == 0 && memcmp(g_stream + n->offset, n->u.s, n->len)) g_offsets_ok = 0;
}
static void on_req_off(eng_t *e, const eng_event_t *ev, void *u)
{
    const eng_value_t *v = &ev->f[ENG_F_HTTP_REQUEST_uri];
    if (memcmp(g_stream + v->offset, v->u.s, v->len)) g_offsets_ok = 0;
    v = &ev->f[ENG_F_HTTP_REQUEST_method];
    if (memcmp(g_stream + v->offset, v->u.s, v->len)) g_offsets_ok = 0;
}

TEST(field_offsets)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    eng_on(e, ENG_EV_HTTP_HEADER, on_hdr_off, NULL);
    eng_on(e, ENG_EV_HTTP_REQUEST, on_req_off, NULL);
    g_stream = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /submit HTTP/1.1\r\nHost:   spaced  \r\n"
               "Content-Length: 3\r\n\r\nabc";
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, g_stream);
    eng_finish(e);
    CHECK(g_offsets_ok);
    eng_free(e);
    rec_free(&r);
}

/* folded header, repeated names, bare LF, header without value */
TEST(folded_repeated_bare_lf)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET / HTTP/1.1\nHost: a\nX-Long: one\n  two\n\tthree  \nAccept: a\n"
                  "accept: b\nX-Empty:\n\n");
    c_send(&c, 1, "HTTP/1.0 404 Not Found\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nnope");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "HDR orig Host: a @15\n"
              "HDR orig X-Long: one two three @23\n"
              "HDR orig Accept: a @50\n"
              "HDR orig accept: b @60\n"
              "HDR orig X-Empty:  @70\n"
              "REQ GET / 1.1 host=a ua=- @0 {host=a|x-long=one two three|accept=a, b|x-empty=}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Set-Cookie: a=1 @24\n"
              "HDR resp Set-Cookie: b=2 @41\n"
              "RESP 1.0 404 Not Found @0 {set-cookie=a=1, b=2}\n"
              "FILE size=4 missing=0\n"
              "DONE resp body=4 wire=4 status=404 [nope]\n");
    eng_free(e);
    rec_free(&r);
}

/* referrer: the headers map's "referer" value (repeats joined), absent without one */
TEST(referrer_field)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET /a HTTP/1.1\r\nHost: a\r\nReferer: http://x/\r\nREFERER: http://y/\r\n\r\n"
                  "GET /b HTTP/1.1\r\nHost: a\r\nReferrer: typo\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(strstr(r.log, "REQ GET /a 1.1 host=a ua=- @0 ref=http://x/, http://y/ "
                        "{host=a|referer=http://x/, http://y/}\n") != NULL);
    CHECK(strstr(r.log, "REQ GET /b 1.1 host=a ua=- @68 {host=a|referrer=typo}\n") != NULL);
    eng_free(e);
    rec_free(&r);
}

/* three pipelined requests in one segment, three responses in one segment */
TEST(pipelining)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                  "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
                  "HEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr1"
                  "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nr2\r\n0\r\n\r\n"
                  "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "HDR orig Host: h @17\n"
              "REQ GET /1 1.1 host=h ua=- @0 {host=h}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR orig Host: h @46\n"
              "HDR orig Content-Length: 4 @55\n"
              "REQ POST /2 1.1 host=h ua=- @28 {host=h|content-length=4}\n"
              "FILE size=4 missing=0\n"
              "DONE orig body=4 wire=4 status=- [body]\n"
              "HDR orig Host: h @98\n"
              "REQ HEAD /3 1.1 host=h ua=- @80 {host=h}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Content-Length: 2 @17\n"
              "RESP 1.1 200 OK @0 {content-length=2}\n"
              "FILE size=2 missing=0\n"
              "DONE resp body=2 wire=2 status=200 [r1]\n"
              "HDR resp Transfer-Encoding: chunked @62\n"
              "RESP 1.1 201 Created @40 {transfer-encoding=chunked}\n"
              "FILE size=2 missing=0\n"
              "DONE resp body=2 wire=12 status=201 [r2]\n"
              "HDR resp Content-Length: 1000 @121\n"
              "RESP 1.1 200 OK @104 {content-length=1000}\n"
              "DONE resp body=0 wire=0 status=200 []\n");
    eng_free(e);
    rec_free(&r);
}

/* 204 and 304 have no body even with Content-Length; 100 Continue is interim */
TEST(no_body_statuses_and_continue)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "DELETE /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
    c_send(&c, 0, "PUT /z HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 100 Continue\r\n\r\n");
    c_send(&c, 0, "xyz");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "HDR orig Host: h @20\n"
              "REQ DELETE /x 1.1 host=h ua=- @0 {host=h}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR orig Host: h @48\n"
              "REQ GET /y 1.1 host=h ua=- @31 {host=h}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "RESP 1.1 204 No Content @0 {}\n"
              "DONE resp body=0 wire=0 status=204 []\n"
              "HDR resp Content-Length: 10 @54\n"
              "RESP 1.1 304 Not Modified @27 {content-length=10}\n"
              "DONE resp body=0 wire=0 status=304 []\n"
              "HDR orig Expect: 100-continue @76\n"
              "HDR orig Content-Length: 3 @98\n"
              "REQ PUT /z 1.1 host=- ua=- @59 {expect=100-continue|content-length=3}\n"
              "RESP 1.1 100 Continue @76 {}\n"
              "DONE resp body=0 wire=0 status=100 []\n"
              "FILE size=3 missing=0\n"
              "DONE orig body=3 wire=3 status=- [xyz]\n"
              "HDR resp Content-Length: 2 @118\n"
              "RESP 1.1 200 OK @101 {content-length=2}\n"
              "FILE size=2 missing=0\n"
              "DONE resp body=2 wire=2 status=200 [ok]\n");
    eng_free(e);
    rec_free(&r);
}

/* HTTP/1.0 response delimited by the end of the connection */
TEST(body_until_close)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET / HTTP/1.0\r\n\r\n");
    c_send(&c, 1, "HTTP/1.0 200 OK\r\nServer: x\r\n\r\npart1,");
    c_send(&c, 1, "part2");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "REQ GET / 1.0 host=- ua=- @0 {}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Server: x @17\n"
              "RESP 1.0 200 OK @0 {server=x}\n"
              "FILE size=11 missing=0\n"
              "DONE resp body=11 wire=11 status=200 [part1,part2]\n");
    eng_free(e);
    rec_free(&r);
}

/* ---- gzip, chunked, trailers, resegmentation ---------------------------------- */

static size_t make_orig(uint8_t *out, size_t n)
{
    uint32_t x = 12345;
    static const char *words[] = {"alpha ", "beta ", "gamma ", "delta\n", "<tag attr=\"v\"> ", "0123 "};
    size_t o = 0;
    while (o < n) {
        x = x * 1103515245u + 12345u;
        const char *w = words[(x >> 16) % 6];
        size_t k = strlen(w);
        if (o + k > n) k = n - o;
        memcpy(out + o, w, k);
        o += k;
        if ((x >> 8) % 7 == 0 && o < n) out[o++] = (uint8_t)(x >> 3); /* some binary */
    }
    return n;
}

static size_t zcompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap, int wbits)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    CHECK(rc == Z_STREAM_END);
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return got;
}

static void sha_hex(const uint8_t *p, size_t n, char out[65])
{
    struct sha256_ctx s;
    uint8_t dg[32];
    sha256_init(&s);
    sha256_update(&s, n, p);
    sha256_digest(&s, 32, dg);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", dg[i]);
}

/* build the gzip chunked exchange into req/resp buffers */
static uint8_t orig_body[60000], gz[70000], resp_wire[80000];
static size_t orig_n, gz_n, resp_n;
static const char *gz_req = "GET /big.txt HTTP/1.1\r\nHost: files\r\nAccept-Encoding: gzip\r\n\r\n";

static void build_gzip_exchange(void)
{
    orig_n = make_orig(orig_body, sizeof orig_body);
    gz_n = zcompress(orig_body, orig_n, gz, sizeof gz, 15 + 16);
    size_t o = (size_t)sprintf((char *)resp_wire, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                                                  "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n");
    size_t i = 0, k = 1;
    while (i < gz_n) {
        size_t n = k < gz_n - i ? k : gz_n - i;
        o += (size_t)sprintf((char *)resp_wire + o, "%zx%s\r\n", n, k % 3 ? "" : ";ext=1");
        memcpy(resp_wire + o, gz + i, n);
        o += n;
        memcpy(resp_wire + o, "\r\n", 2);
        o += 2;
        i += n;
        k = k * 3 + 7; /* growing chunk sizes: 1, 10, 37, ... */
    }
    o += (size_t)sprintf((char *)resp_wire + o, "0\r\nX-Sum: abc\r\n\r\n");
    resp_n = o;
}

static void run_gzip(rec_t *r, int mode)
{
    eng_t *e = new_engine(r, NULL, NULL);
    r->log_body = 0;
    r->set_service = mode != 0;
    conn_t c;
    c_open(&c, e);
    if (mode == 0) {
        c_send(&c, 0, gz_req);
        c_sendn(&c, 1, resp_wire, resp_n, 1400);
    } else {
        /* 1-byte segments, each direction sent in blocks of 5 in reverse order */
        for (int dir = 0; dir < 2; dir++) {
            const uint8_t *p = dir ? resp_wire : (const uint8_t *)gz_req;
            size_t n = dir ? resp_n : strlen(gz_req);
            uint32_t base = c.seq[dir];
            for (size_t b = 0; b < n; b += 5) {
                size_t end = b + 5 < n ? b + 5 : n;
                for (size_t i = end; i-- > b;) seg(&c, dir, base + (uint32_t)i, PB_ACK, p + i, 1);
            }
            c.seq[dir] = base + (uint32_t)n;
        }
    }
    c_close(&c);
    eng_finish(e);
    eng_free(e);
}

TEST(gzip_chunked_trailers)
{
    build_gzip_exchange();
    char want_sha[65], got_sha[65];
    sha_hex(orig_body, orig_n, want_sha);

    rec_t r1, r2;
    run_gzip(&r1, 0);
    CHECK(!r1.bad_offset);
    CHECK_MEM(r1.last[1], r1.lastlen[1], orig_body, orig_n);
    sha_hex(r1.last[1], r1.lastlen[1], got_sha);
    CHECK_STR(got_sha, want_sha);
    CHECK_STR(r1.file_sha, want_sha);
    char want[2048];
    snprintf(want, sizeof want,
             "SERVICE http detect\n"
             "HDR orig Host: files @23\n"
             "HDR orig Accept-Encoding: gzip @36\n"
             "REQ GET /big.txt 1.1 host=files ua=- @0 {host=files|accept-encoding=gzip}\n"
             "DONE orig body=0 wire=0 status=-\n"
             "HDR resp Content-Encoding: gzip @17\n"
             "HDR resp Transfer-Encoding: chunked @41\n"
             "HDR resp Trailer: X-Sum @69\n"
             "RESP 1.1 200 OK @0 {content-encoding=gzip|transfer-encoding=chunked|trailer=X-Sum}\n"
             "HDR resp X-Sum: abc @%zu\n"
             "FILE size=%zu missing=0\n"
             "DONE resp body=%zu wire=%zu status=200\n",
             resp_n - 14, orig_n, orig_n, resp_n - 87);
    check_log(&r1, want);

    /* the same exchange in 1-byte segments, reordered: the same events */
    run_gzip(&r2, 1);
    CHECK(!r2.bad_offset);
    CHECK_MEM(r2.last[1], r2.lastlen[1], orig_body, orig_n);
    CHECK_STR(r2.file_sha, want_sha);
    /* the service comes from the script here; the rest is identical */
    CHECK(r2.log && !strncmp(r2.log, "SERVICE http script\n", 20));
    CHECK(r2.log && !strcmp(r2.log + 20, want + 20));
    rec_free(&r1);
    rec_free(&r2);
}

/* raw deflate and zlib-wrapped deflate */
TEST(deflate_both_forms)
{
    uint8_t src[3000], z[4000];
    size_t n = make_orig(src, sizeof src);
    for (int form = 0; form < 2; form++) {
        size_t zn = zcompress(src, n, z, sizeof z, form ? 15 : -15);
        rec_t r;
        eng_t *e = new_engine(&r, NULL, NULL);
        conn_t c;
        c_open(&c, e);
        c_send(&c, 0, "GET / HTTP/1.1\r\n\r\n");
        char h[128];
        snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n", zn);
        c_send(&c, 1, h);
        c_sendn(&c, 1, z, 1, 1); /* the two header bytes come apart */
        c_sendn(&c, 1, z + 1, zn - 1, 700);
        c_close(&c);
        eng_finish(e);
        CHECK_MEM(r.last[1], r.lastlen[1], src, n);
        CHECK(!strstr(r.log, "WEIRD"));
        eng_free(e);
        rec_free(&r);
    }
}

/* ---- limits and anomalies ----------------------------------------------------- */

TEST(header_too_long)
{
    rec_t r;
    eng_t *e = new_engine(&r, "stream.max_line", "64");
    conn_t c;
    c_open(&c, e);
    char req[512];
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX-Big: %0100d\r\nHost: h\r\n\r\n", 7);
    c_send(&c, 0, req);
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "WEIRD http_header_too_long\n"
              "HDR orig X-Big: 000000000000000000000000000000000000000000000000000000000 @16\n"
              "HDR orig Host: h @125\n"
              "REQ GET / 1.1 host=h ua=- @0 {x-big=000000000000000000000000000000000000000000000000000000000|host=h}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Content-Length: 0 @17\n"
              "RESP 1.1 200 OK @0 {content-length=0}\n"
              "DONE resp body=0 wire=0 status=200 []\n");
    eng_free(e);
    rec_free(&r);
}

TEST(too_many_headers)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    static char req[20000];
    size_t o = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 300; i++) o += (size_t)sprintf(req + o, "X-%d: v\r\n", i);
    sprintf(req + o, "Host: late\r\n\r\n");
    c_send(&c, 0, req);
    eng_finish(e);
    CHECK(strstr(r.log, "WEIRD http_too_many_headers\n") != NULL);
    CHECK(strstr(r.log, "HDR orig Host: late") != NULL); /* still reported */
    CHECK(strstr(r.log, "|x-255=v}") != NULL);             /* the map stops at 256 */
    CHECK(strstr(r.log, "x-256=") == NULL);
    eng_free(e);
    rec_free(&r);
}

TEST(bad_chunk_size_resync)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\ngarbage\r\n"
                  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "REQ GET /a 1.1 host=- ua=- @0 {}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "REQ GET /b 1.1 host=- ua=- @19 {}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Transfer-Encoding: chunked @17\n"
              "RESP 1.1 200 OK @0 {transfer-encoding=chunked}\n"
              "WEIRD http_bad_chunk_size\n"
              "FILE size=3 missing=0\n"
              "DONE resp body=3 wire=12 status=200 [abc]\n"
              "HDR resp Content-Length: 2 @85\n"
              "RESP 1.1 200 OK @68 {content-length=2}\n"
              "FILE size=2 missing=0\n"
              "DONE resp body=2 wire=2 status=200 [ok]\n");
    eng_free(e);
    rec_free(&r);
}

TEST(bad_lines_and_unmatched)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    r.set_service = 1;
    conn_t c;
    c_open(&c, e);
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c_send(&c, 0, "\x01\x02 junk\r\nmore junk\r\nGET /ok HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "NOT A STATUS\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http script\n"
              "HDR resp Content-Length: 0 @17\n"
              "WEIRD http_unmatched_response\n"
              "RESP 1.1 200 OK @0 {content-length=0}\n"
              "DONE resp body=0 wire=0 status=200 []\n"
              "WEIRD http_bad_request_line\n"
              "REQ GET /ok 1.1 host=- ua=- @20 {}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "WEIRD http_bad_status_line\n"
              "HDR resp Content-Length: 0 @69\n"
              "RESP 1.1 200 OK @52 {content-length=0}\n"
              "DONE resp body=0 wire=0 status=200 []\n");
    eng_free(e);
    rec_free(&r);
}

/* a gap inside a Content-Length body is absorbed; a gap in headers resyncs */
TEST(gap_absorbed_and_resync)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    c_hole(&c, 1, 4); /* "defg" lost */
    c_send(&c, 1, "hij");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Le");
    c_hole(&c, 1, 10); /* lost inside the header block of response 2 */
    c_send(&c, 1, "\r\nX: y\r\n\r\nsome body\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nZ");
    c_ack(&c, 1);
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "REQ GET /1 1.1 host=- ua=- @0 {}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "REQ GET /2 1.1 host=- ua=- @19 {}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "REQ GET /3 1.1 host=- ua=- @38 {}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Content-Length: 10 @17\n"
              "RESP 1.1 200 OK @0 {content-length=10}\n"
              "FILE size=6 missing=4\n"
              "DONE resp body=6 wire=10 status=200 [abchij]\n"
              "WEIRD http_gap_resync\n"
              "DONE resp body=0 wire=0 status=200 []\n"
              "HDR resp Content-Length: 1 @130\n"
              "RESP 1.1 202 Accepted @107 {content-length=1}\n"
              "FILE size=1 missing=0\n"
              "DONE resp body=1 wire=1 status=202 [Z]\n");
    eng_free(e);
    rec_free(&r);
}

TEST(connect_tunnel)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
                  "\x16\x03\x01\x00\x05hello"); /* early tunnel bytes, held */
    c_send(&c, 0, " GET / HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 Connection established\r\n\r\n");
    c_send(&c, 0, "GET / HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "\x16\x03\x03\x00\x02hi HTTP/1.1 200 OK\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "HDR orig Host: example.com:443 @34\n"
              "REQ CONNECT example.com:443 1.1 host=example.com:443 ua=- @0 {host=example.com:443}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "RESP 1.1 200 Connection established @0 {}\n"
              "DONE resp body=0 wire=0 status=200 []\n");
    eng_free(e);
    rec_free(&r);
}

/* a CONNECT tunnel whose client speaks cleartext HTTP (suricata-verify's
 * http-connect-fragmented.pcap: the request line comes as "GE" + "T / ..."):
 * both directions are HTTP again, as tshark and Zeek's tunnel detection see
 * it; a tunnel whose server greets as SMTP is handed to the SMTP decoder
 * (services "http,smtp", as Zeek writes it) */
TEST(connect_cleartext_tunnel)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    r.log_body = 0;
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "CONNECT abc:443 HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\n\r\n");
    c_send(&c, 0, "GE");
    c_send(&c, 0, "T / HTTP/1.1\r\nUser-Agent: V\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 204 No\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "REQ CONNECT abc:443 1.1 host=- ua=- @0 {}\n"
              "DONE orig body=0 wire=0 status=-\n"
              "RESP 1.1 200 OK @0 {}\n"
              "DONE resp body=0 wire=0 status=200\n"
              "HDR orig User-Agent: V @44\n"
              "REQ GET / 1.1 host=- ua=V @28 {user-agent=V}\n"
              "DONE orig body=0 wire=0 status=-\n"
              "RESP 1.1 204 No @19 {}\n"
              "DONE resp body=0 wire=0 status=204\n");
    eng_free(e);
    rec_free(&r);

    e = new_engine(&r, NULL, NULL);
    r.log_body = 0;
    c_open(&c, e);
    c_send(&c, 0, "CONNECT mail:25 HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\n\r\n");
    c_send(&c, 1, "220 mail ESMTP\r\n");
    c_send(&c, 0, "GET / HTTP/1.1\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "REQ CONNECT mail:25 1.1 host=- ua=- @0 {}\n"
              "DONE orig body=0 wire=0 status=-\n"
              "RESP 1.1 200 OK @0 {}\n"
              "DONE resp body=0 wire=0 status=200\n"
              "SERVICE smtp handoff\n");
    eng_free(e);
    rec_free(&r);
}

/* a CONNECT tunnel whose client sends a TLS ClientHello (ja4/https-connect.pcap,
 * ndpi/http_connect.pcap): handed to the TLS decoder, the hello first */
TEST(connect_tls_tunnel)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    r.log_body = 0;
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "CONNECT h:443 HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\n\r\n");
    uint8_t hello[5 + 4 + 38];
    memset(hello, 0, sizeof hello);
    memcpy(hello, "\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03", 11);
    c_sendn(&c, 0, hello, 7, 1400); /* the hello split over two segments */
    c_sendn(&c, 0, hello + 7, sizeof hello - 7, 1400);
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "REQ CONNECT h:443 1.1 host=- ua=- @0 {}\n"
              "DONE orig body=0 wire=0 status=-\n"
              "RESP 1.1 200 OK @0 {}\n"
              "DONE resp body=0 wire=0 status=200\n"
              "SERVICE ssl handoff\n");
    eng_free(e);
    rec_free(&r);
}

/* a CONNECT refused: the bytes the client sent meanwhile are HTTP again */
TEST(connect_refused)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    r.log_body = 0;
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "CONNECT h:443 HTTP/1.1\r\n\r\nGET http://h/ HTTP/1.1\r\n");
    c_send(&c, 0, "Host: h\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 3\r\n\r\nno!");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "REQ CONNECT h:443 1.1 host=- ua=- @0 {}\n"
              "DONE orig body=0 wire=0 status=-\n"
              "HDR resp Content-Length: 3 @25\n"
              "RESP 1.1 407 Proxy Auth @0 {content-length=3}\n"
              "HDR orig Host: h @50\n"
              "REQ GET http://h/ 1.1 host=h ua=- @26 {host=h}\n"
              "DONE orig body=0 wire=0 status=-\n"
              "FILE size=3 missing=0\n"
              "DONE resp body=3 wire=3 status=407\n"
              "HDR resp Content-Length: 0 @66\n"
              "RESP 1.1 200 OK @49 {content-length=0}\n"
              "DONE resp body=0 wire=0 status=200\n");
    eng_free(e);
    rec_free(&r);
}

/* an Upgrade the server does not take: the next request is parsed */
TEST(refused_upgrade)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    /* an upgrade that the server refuses: the next request is parsed */
    c_send(&c, 0, "GET /chat HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "HDR orig Upgrade: h2c @20\n"
              "HDR orig Connection: Upgrade @34\n"
              "REQ GET /chat 1.1 host=- ua=- @0 {upgrade=h2c|connection=Upgrade}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Content-Length: 1 @17\n"
              "RESP 1.1 200 OK @0 {content-length=1}\n"
              "REQ GET /next 1.1 host=- ua=- @57 {}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "FILE size=1 missing=0\n"
              "DONE resp body=1 wire=1 status=200 [A]\n"
              "HDR resp Content-Length: 1 @56\n"
              "RESP 1.1 200 OK @39 {content-length=1}\n"
              "FILE size=1 missing=0\n"
              "DONE resp body=1 wire=1 status=200 [B]\n");
    eng_free(e);
    rec_free(&r);
}

TEST(upgrade_101)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    c_send(&c, 0, "\x81\x05hello");
    c_send(&c, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi");
    c_send(&c, 0, "GET /not-http HTTP/1.1\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "HDR orig Host: h @18\n"
              "HDR orig Upgrade: websocket @27\n"
              "HDR orig Connection: Upgrade @47\n"
              "REQ GET /ws 1.1 host=h ua=- @0 {host=h|upgrade=websocket|connection=Upgrade}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Upgrade: websocket @34\n"
              "RESP 1.1 101 Switching Protocols @0 {upgrade=websocket}\n"
              "DONE resp body=0 wire=0 status=101 []\n");
    eng_free(e);
    rec_free(&r);
}

/* 64 MiB of zeros compress to ~64 KiB: decoding stops at the bound */
TEST(decompression_bomb)
{
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    size_t cap = big / 500;
    uint8_t *z = malloc(cap);
    size_t zn = zcompress(zeros, big, z, cap, 15 + 16);
    free(zeros);
    rec_t r;
    eng_t *e = new_engine(&r, NULL, NULL);
    r.log_body = 0;
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET /bomb HTTP/1.1\r\n\r\n");
    char h[128];
    snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
    c_send(&c, 1, h);
    c_sendn(&c, 1, z, zn, 1400);
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c_send(&c, 0, "GET /after HTTP/1.1\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(strstr(r.log, "WEIRD http_decompression_bomb\n") != NULL);
    CHECK(r.lastlen[1] == 0); /* the last response is the empty one after it */
    char want[128];
    snprintf(want, sizeof want, "wire=%zu status=200\n", zn);
    CHECK(strstr(r.log, want) != NULL);
    /* decoded bytes stopped shortly after 10 MiB */
    const char *p = strstr(r.log, "DONE resp body=");
    CHECK(p != NULL);
    long long got = p ? atoll(p + 15) : 0;
    CHECK(got > (10 << 20) && got < (11 << 20));
    CHECK(strstr(r.log, "REQ GET /after") != NULL);
    free(z);
    eng_free(e);
    rec_free(&r);
}

TEST(max_body)
{
    rec_t r;
    eng_t *e = new_engine(&r, "http.max_body", "4");
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789");
    eng_finish(e);
    check_log(&r,
              "SERVICE http detect\n"
              "HDR orig Content-Length: 10 @19\n"
              "REQ POST /up 1.1 host=- ua=- @0 {content-length=10}\n"
              "WEIRD http_body_truncated\n"
              "FILE size=4 missing=0\n"
              "DONE orig body=4 wire=10 status=- [0123]\n");
    eng_free(e);
    rec_free(&r);
}

/* ---- Content-Disposition filenames (file.begin) ----------------------------------- */

/* file.begin as "BEGIN <source> <filename or ->" in the transcript; the raw
 * bytes of the last filename are kept too */
static char g_fn[4096];
static size_t g_fn_len;
static int g_fn_nil, g_begins;

static void on_file_begin(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    const eng_value_t *v = &ev->f[ENG_F_FILE_BEGIN_filename];
    char src[32], fn[6000];
    vtext(src, sizeof src, &ev->f[ENG_F_FILE_BEGIN_source]);
    vtext(fn, sizeof fn, v);
    logf_(r, "BEGIN %s %s\n", src, fn);
    g_begins++;
    g_fn_nil = v->type == ENG_T_NIL;
    g_fn_len = 0;
    if (!g_fn_nil) {
        CHECK(v->type == ENG_T_STR);
        g_fn_len = v->len < sizeof g_fn ? v->len : sizeof g_fn;
        memcpy(g_fn, v->u.s, g_fn_len);
    }
}

static eng_t *fn_engine(rec_t *r)
{
    eng_t *e = new_engine(r, NULL, NULL);
    eng_on(e, ENG_EV_FILE_BEGIN, on_file_begin, r);
    g_begins = 0;
    g_fn_nil = 1;
    g_fn_len = 0;
    return e;
}

/* a GET answered by a 200 with header line hdr ("" for none) and body "hello",
 * both sent in segments of mss bytes; returns the transcript (free it) */
static char *cd_exchange(const char *hdr, size_t mss)
{
    rec_t r;
    eng_t *e = fn_engine(&r);
    conn_t c;
    c_open(&c, e);
    const char *req = "GET /dl HTTP/1.1\r\nHost: x\r\n\r\n";
    c_sendn(&c, 0, req, strlen(req), mss);
    size_t cap = strlen(hdr) + 128;
    char *resp = malloc(cap);
    int n = snprintf(resp, cap, "HTTP/1.1 200 OK\r\n%sContent-Length: 5\r\n\r\nhello", hdr);
    c_sendn(&c, 1, resp, (size_t)n, mss);
    free(resp);
    c_close(&c);
    eng_finish(e);
    CHECK_EQ_INT(g_begins, 1);
    char *log = r.log;
    r.log = NULL;
    eng_free(e);
    rec_free(&r);
    return log;
}

/* the filename file.begin carried (NULL: nil), the same in 1-byte segments */
static void check_fn(const char *hdr, const char *want, size_t want_len)
{
    char *a = cd_exchange(hdr, 1400);
    if (want) {
        CHECK(!g_fn_nil);
        CHECK_MEM(g_fn, g_fn_len, want, want_len);
    } else {
        CHECK(g_fn_nil);
    }
    char *b = cd_exchange(hdr, 1);
    if (want) {
        CHECK(!g_fn_nil);
        CHECK_MEM(g_fn, g_fn_len, want, want_len);
    } else {
        CHECK(g_fn_nil);
    }
    CHECK(a && b && !strcmp(a, b));
    free(a);
    free(b);
}

#define FN(s) (s), sizeof(s) - 1

TEST(cd_filename)
{
    /* the whole transcript once */
    char *log = cd_exchange("Content-Disposition: attachment; filename=\"report.zip\"\r\n", 1400);
    check_log(&(rec_t){.log = log},
              "SERVICE http detect\n"
              "HDR orig Host: x @18\n"
              "REQ GET /dl 1.1 host=x ua=- @0 {host=x}\n"
              "DONE orig body=0 wire=0 status=- []\n"
              "HDR resp Content-Disposition: attachment; filename=\"report.zip\" @17\n"
              "HDR resp Content-Length: 5 @73\n"
              "RESP 1.1 200 OK @0 {content-disposition=attachment; filename=\"report.zip\"|content-length=5}\n"
              "BEGIN http report.zip\n"
              "FILE size=5 missing=0\n"
              "DONE resp body=5 wire=5 status=200 [hello]\n");
    free(log);
    check_fn("Content-Disposition: attachment; filename=\"report.zip\"\r\n", FN("report.zip"));
    check_fn("content-disposition:attachment;filename=report.zip\r\n", FN("report.zip"));
    /* RFC 5987 / 2231: percent-decoded, UTF-8 */
    check_fn("Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n",
             FN("r\xc3\xa9sum\xc3\xa9.pdf"));
    /* both: filename* wins, whichever comes first */
    check_fn("Content-Disposition: attachment; filename=\"resume.pdf\"; "
             "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n",
             FN("r\xc3\xa9sum\xc3\xa9.pdf"));
    check_fn("Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf; "
             "filename=\"resume.pdf\"\r\n",
             FN("r\xc3\xa9sum\xc3\xa9.pdf"));
    /* another charset is converted to UTF-8 */
    check_fn("Content-Disposition: attachment; filename*=iso-8859-1'en'caf%E9.txt\r\n",
             FN("caf\xc3\xa9.txt"));
    /* a folded header */
    check_fn("Content-Disposition: attachment;\r\n filename=\"folded.txt\"\r\n", FN("folded.txt"));
    /* the first Content-Disposition counts */
    check_fn("Content-Disposition: attachment; filename=one.txt\r\n"
             "Content-Disposition: attachment; filename=two.txt\r\n",
             FN("one.txt"));
    /* no filename: nil */
    check_fn("", NULL, 0);
    check_fn("Content-Disposition: inline\r\n", NULL, 0);
    check_fn("Content-Disposition: attachment; name=\"x.bin\"; filenames=y\r\n", NULL, 0);
}

TEST(cd_filename_long)
{
    /* cut at the MIME cap (1024 raw bytes) */
    static char h[24000], want[2048];
    int k = snprintf(h, sizeof h, "Content-Disposition: attachment; filename=\"");
    memset(h + k, 'a', 3000);
    snprintf(h + k + 3000, sizeof h - (size_t)k - 3000, "\"\r\n");
    memset(want, 'a', 1024);
    check_fn(h, want, 1024);
    /* percent-encoded: the raw value is cut at 1024 bytes, "UTF-8''" and 339
     * escapes; the last one is half an U+00E9 and goes: 169 x U+00E9 */
    k = snprintf(h, sizeof h, "Content-Disposition: attachment; filename*=UTF-8''");
    for (int i = 0; i < 2000; i++) k += snprintf(h + k, sizeof h - (size_t)k, "%%C3%%A9");
    snprintf(h + k, sizeof h - (size_t)k, "\r\n");
    for (int i = 0; i < 338; i += 2) memcpy(want + i, "\xc3\xa9", 2);
    check_fn(h, want, 338);
    /* a header line longer than stream.max_line (16 KiB): cut by the reader first */
    k = snprintf(h, sizeof h, "Content-Disposition: attachment; filename=\"");
    memset(h + k, 'b', 20000);
    snprintf(h + k + 20000, sizeof h - (size_t)k - 20000, "\"\r\n");
    memset(want, 'b', 1024);
    check_fn(h, want, 1024);
    char *log = cd_exchange(h, 1400);
    CHECK(strstr(log, "WEIRD http_header_too_long\n") != NULL);
    CHECK(strstr(log, "FILE size=5 missing=0\n") != NULL);
    free(log);
}

/* a request body gets its filename too; it does not leak into the next message;
 * a file begun by a gap has it */
TEST(cd_filename_request_and_next)
{
    rec_t r;
    eng_t *e = fn_engine(&r);
    r.log_body = 0;
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "POST /up HTTP/1.1\r\nContent-Disposition: attachment; filename=\"up.bin\"\r\n"
                  "Content-Length: 3\r\n\r\nabc"
                  "GET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Disposition: inline; filename=r1.txt\r\n"
                  "Content-Length: 2\r\n\r\nok"
                  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno"
                  "HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=g.bin\r\n"
                  "Content-Length: 6\r\n\r\n");
    c_hole(&c, 1, 4); /* the first 4 body bytes lost: the file begins with a gap */
    c_send(&c, 1, "ef");
    c_ack(&c, 1);
    c_close(&c);
    eng_finish(e);
    char got[512] = "";
    for (const char *p = r.log; p && (p = strstr(p, "BEGIN ")); p++) {
        const char *eol = strchr(p, '\n');
        strncat(got, p, (size_t)(eol - p + 1));
    }
    CHECK_STR(got, "BEGIN http up.bin\n"
                   "BEGIN http r1.txt\n"
                   "BEGIN http -\n"
                   "BEGIN http g.bin\n");
    CHECK(strstr(r.log, "FILE size=2 missing=4\n") != NULL);
    eng_free(e);
    rec_free(&r);
}

/* with nothing subscribed the decoder does no work; no crash on later input */
TEST(no_subscribers)
{
    eng_t *e = eng_new();
    conn_t c;
    c_open(&c, e);
    c_send(&c, 0, "GET / HTTP/1.1\r\n\r\n");
    c_send(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    c_close(&c);
    eng_finish(e);
    CHECK_EQ_INT(eng_stats(e)->events_fired[ENG_EV_HTTP_REQUEST], 0);
    eng_free(e);
}

int main(void)
{
    RUN(probe);
    RUN(simple_get);
    RUN(field_offsets);
    RUN(folded_repeated_bare_lf);
    RUN(referrer_field);
    RUN(pipelining);
    RUN(no_body_statuses_and_continue);
    RUN(body_until_close);
    RUN(gzip_chunked_trailers);
    RUN(deflate_both_forms);
    RUN(header_too_long);
    RUN(too_many_headers);
    RUN(bad_chunk_size_resync);
    RUN(bad_lines_and_unmatched);
    RUN(gap_absorbed_and_resync);
    RUN(connect_tunnel);
    RUN(connect_cleartext_tunnel);
    RUN(connect_tls_tunnel);
    RUN(connect_refused);
    RUN(refused_upgrade);
    RUN(upgrade_101);
    RUN(decompression_bomb);
    RUN(max_body);
    RUN(cd_filename);
    RUN(cd_filename_long);
    RUN(cd_filename_request_and_next);
    RUN(no_subscribers);
    return check_report("http");
}
