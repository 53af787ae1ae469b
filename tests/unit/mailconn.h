/* mailconn.h - what the mail decoder tests (test_pop3.c, test_imap.c) share:
 * a recorder that turns events into one text line each (rec_t, logf_, vt, F,
 * FLD, on_generic, on_start, on_service), a hand-made TCP connection fed to
 * the core (conn_t: c_open, c_send, c_sendn, c_hole, c_ack, c_close, with
 * g_mss bytes a segment), check_log and sha_hex. Include once, after
 * check.h, engine.h and pktbuild.h. */
#ifndef TESTS_MAILCONN_H
#define TESTS_MAILCONN_H

#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

typedef struct rec {
    char *log;
    size_t len, cap;
    char file_sha[160];
    int set_service;
    const char *service;
} rec_t;

static inline void logf_(rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void logf_(rec_t *r, const char *fmt, ...)
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
static inline const char *vt(const eng_value_t *v, char *out, size_t cap)
{
    if (v->type == ENG_T_NIL) {
        snprintf(out, cap, "-");
        return out;
    }
    if (v->type == ENG_T_INT || v->type == ENG_T_BOOL) {
        snprintf(out, cap, "%lld", (long long)v->u.i);
        return out;
    }
    size_t o = 0;
    for (uint32_t i = 0; i < v->len && o + 5 < cap; i++) {
        uint8_t c = v->u.s[i];
        if (c >= 32 && c < 127) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = 0;
    return out;
}

static char tb[6][1200];
#define F(ev, i) vt(&(ev)->f[i], tb[i], sizeof tb[i])
#define FLD(ev, k, i) ((i) < (ev)->nfields ? vt(&(ev)->f[i], tb[k], sizeof tb[k]) : "-")

static inline void on_generic(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    const char *name = "?";
    switch (ev->kind) {
    case ENG_EV_MAIL_MESSAGE: name = "MSG"; break;
    case ENG_EV_WEIRD: name = "WEIRD"; break;
    case ENG_EV_FILE_DONE: name = "FILE"; break;
    default: break;
    }
    if (ev->kind == ENG_EV_FILE_DONE) {
        char sha[128];
        vt(&ev->f[ENG_F_FILE_DONE_sha256], sha, sizeof sha);
        snprintf(r->file_sha, sizeof r->file_sha, "%s", sha);
        logf_(r, "FILE size=%s missing=%s\n", FLD(ev, 0, ENG_F_FILE_DONE_size),
              FLD(ev, 1, ENG_F_FILE_DONE_missing_bytes));
        return;
    }
    if (ev->kind == ENG_EV_MAIL_MESSAGE) {
        logf_(r, "MSG subject=%s\n", FLD(ev, 0, ENG_F_MAIL_MESSAGE_subject));
        return;
    }
    logf_(r, "%s", name);
    for (int i = 0; i < ev->nfields; i++) {
        if (ev->kind == ENG_EV_WEIRD &&
            (i == ENG_F_WEIRD_source || ev->f[i].type == ENG_T_NIL)) continue; /* checked elsewhere */
        logf_(r, " %s", FLD(ev, 0, i));
    }
    logf_(r, "\n");
}

static inline void on_start(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    if (r->set_service) eng_flow_set_service(e, ev->flow, r->service);
}

static inline void on_service(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    logf_(r, "SERVICE %s %s\n", F(ev, 0), F(ev, 1));
}

static inline void rec_free(rec_t *r) { free(r->log); }

/* ---- a TCP connection by hand ----------------------------------------------- */

typedef struct conn {
    eng_t *e;
    uint32_t seq[2];
    int64_t t;
    uint16_t port;
} conn_t;

static uint8_t frame[70000];

static inline void seg(conn_t *c, int dir, uint32_t seq, uint8_t fl, const void *d, size_t n)
{
    size_t len = dir ? pb_tcp4(frame, "10.0.0.2", c->port, "10.0.0.1", 40000, seq, c->seq[0], fl,
                               d, n, 65535)
                     : pb_tcp4(frame, "10.0.0.1", 40000, "10.0.0.2", c->port, seq, c->seq[1], fl,
                               d, n, 65535);
    c->t += 1000;
    eng_feed(c->e, c->t, 1, frame, (uint32_t)len, (uint32_t)len);
}

static inline void c_open(conn_t *c, eng_t *e, uint16_t port)
{
    c->e = e;
    c->t = T0;
    c->port = port;
    c->seq[0] = 1000;
    c->seq[1] = 5000;
    seg(c, 0, 999, PB_SYN, NULL, 0);
    seg(c, 1, 4999, PB_SYN | PB_ACK, NULL, 0);
    seg(c, 0, 1000, PB_ACK, NULL, 0);
}

static size_t g_mss = 1400;

static inline void c_sendn(conn_t *c, int dir, const void *d, size_t n)
{
    const uint8_t *p = d;
    while (n) {
        size_t k = n < g_mss ? n : g_mss;
        seg(c, dir, c->seq[dir], PB_ACK | PB_PSH, p, k);
        c->seq[dir] += (uint32_t)k;
        p += k;
        n -= k;
    }
}

static inline void c_send(conn_t *c, int dir, const char *s) { c_sendn(c, dir, s, strlen(s)); }
static inline void c_hole(conn_t *c, int dir, uint32_t n) { c->seq[dir] += n; }
static inline void c_ack(conn_t *c, int dir) { seg(c, !dir, c->seq[!dir], PB_ACK, NULL, 0); }

static inline void c_close(conn_t *c)
{
    seg(c, 1, c->seq[1], PB_FIN | PB_ACK, NULL, 0);
    seg(c, 0, c->seq[0], PB_FIN | PB_ACK, NULL, 0);
    c->seq[1]++;
    c->seq[0]++;
    seg(c, 1, c->seq[1], PB_ACK, NULL, 0);
}

static inline int check_log(rec_t *r, const char *want)
{
    if (!r->log || strcmp(r->log, want)) {
        fprintf(stderr, "---- got:\n%s---- want:\n%s----\n", r->log ? r->log : "", want);
        return 0;
    }
    return 1;
}

static inline void sha_hex(const uint8_t *p, size_t n, char out[65])
{
    struct sha256_ctx c;
    uint8_t d[32];
    sha256_init(&c);
    sha256_update(&c, n, p);
    sha256_digest(&c, 32, d);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

#endif
