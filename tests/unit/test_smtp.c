/* test_smtp.c - the SMTP decoder (decoders/smtp.c) through the whole core:
 * hand-made TCP segments go in through eng_feed, C callbacks record every
 * smtp.* event and weird as one text line each, and the tests compare that
 * transcript. The MIME decoder is replaced by a stub defined here (the
 * object file comes before libengine.a, so the archive's mime.o is not
 * linked) that records the exact message bytes the SMTP decoder hands over:
 * dot-unstuffing, BDAT chunks and message boundaries are checked byte for
 * byte, independently of the MIME decoder. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "mime.h"
#include "pktbuild.h"

/* the registry refers to decoders weakly: make sure the archive member is linked */
extern const eng_decoder_t eng_decoder_smtp;
static const eng_decoder_t *const smtp_dec = &eng_decoder_smtp;

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

/* ---- recording ------------------------------------------------------------ */

typedef struct rec {
    char *log;
    size_t len, cap;
    int attach; /* attach smtp at flow.start (no detection) */
} rec_t;

static rec_t *g_rec;

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

/* bytes as text: printable as is, CR LF as \r \n, others \xNN */
static void btext(char *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        uint8_t c = p[i];
        if (c == '\r') o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (c == '\n') o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c >= 32 && c < 127) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = 0;
}

static void vtext(char *out, size_t cap, const eng_value_t *v)
{
    if (v->type == ENG_T_NIL) snprintf(out, cap, "-");
    else if (v->type == ENG_T_INT) snprintf(out, cap, "%lld", (long long)v->u.i);
    else if (v->type == ENG_T_BOOL) snprintf(out, cap, "%s", v->u.i ? "true" : "false");
    else btext(out, cap, v->u.s, v->len);
}

static void on_cmd(eng_t *e, const eng_event_t *ev, void *u)
{
    char a[2][1024];
    vtext(a[0], sizeof a[0], &ev->f[ENG_F_SMTP_COMMAND_verb]);
    vtext(a[1], sizeof a[1], &ev->f[ENG_F_SMTP_COMMAND_arg]);
    logf_(u, "CMD %s [%s] @%lld\n", a[0], a[1], (long long)ev->f[ENG_F_SMTP_COMMAND_offset].u.i);
}
static int g_reply_cmd; /* also log smtp.reply's command and message_end */
static void on_reply(eng_t *e, const eng_event_t *ev, void *u)
{
    char t[2048];
    vtext(t, sizeof t, &ev->f[ENG_F_SMTP_REPLY_text]);
    if (g_reply_cmd) {
        char c[64] = "-", m[16] = "-"; /* fields past nfields are absent */
        if (ev->nfields > ENG_F_SMTP_REPLY_command) vtext(c, sizeof c, &ev->f[ENG_F_SMTP_REPLY_command]);
        if (ev->nfields > ENG_F_SMTP_REPLY_message_end)
            vtext(m, sizeof m, &ev->f[ENG_F_SMTP_REPLY_message_end]);
        logf_(u, "REPLY %lld [%s] to %s end=%s\n", (long long)ev->f[ENG_F_SMTP_REPLY_code].u.i, t,
              c, m);
        return;
    }
    logf_(u, "REPLY %lld [%s] @%lld\n", (long long)ev->f[ENG_F_SMTP_REPLY_code].u.i, t,
          (long long)ev->f[ENG_F_SMTP_REPLY_offset].u.i);
}
static void on_auth(eng_t *e, const eng_event_t *ev, void *u)
{
    char a[4][512];
    for (int i = 0; i < 4; i++) vtext(a[i], sizeof a[i], &ev->f[i]);
    logf_(u, "AUTH %s user=%s pass=%s ok=%s\n", a[0], a[1], a[2], a[3]);
}
static void on_path(eng_t *e, const eng_event_t *ev, void *u)
{
    char a[2][512];
    vtext(a[0], sizeof a[0], &ev->f[0]);
    vtext(a[1], sizeof a[1], &ev->f[1]);
    logf_(u, "%s <%s> [%s]\n", ev->kind == ENG_EV_SMTP_MAIL_FROM ? "FROM" : "TO", a[0], a[1]);
}
static void on_tls(eng_t *e, const eng_event_t *ev, void *u) { logf_(u, "STARTTLS\n"); }
static void on_weird(eng_t *e, const eng_event_t *ev, void *u)
{
    char a[256];
    vtext(a, sizeof a, &ev->f[0]);
    logf_(u, "WEIRD %s\n", a);
}
static void on_msg(eng_t *e, const eng_event_t *ev, void *u) {}
static void on_service(eng_t *e, const eng_event_t *ev, void *u)
{
    char a[64], b[64];
    vtext(a, sizeof a, &ev->f[0]);
    vtext(b, sizeof b, &ev->f[1]);
    logf_(u, "SERVICE %s %s\n", a, b);
}
static void on_start(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    if (r->attach) eng_flow_attach(e, ev->flow, smtp_dec, "script");
}

/* ---- the MIME stub ---------------------------------------------------------- */

struct mime_msg {
    uint8_t *b;
    size_t n, cap;
    uint64_t gap;
};

mime_msg_t *mime_begin(eng_t *e, eng_flow_t *f, int dir, const char *source)
{
    mime_msg_t *m = calloc(1, sizeof *m);
    if (g_rec) logf_(g_rec, "MSG begin %s\n", source);
    return m;
}
void mime_feed(mime_msg_t *m, const uint8_t *p, size_t n)
{
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2 + 64;
        m->b = realloc(m->b, m->cap);
    }
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
void mime_gap(mime_msg_t *m, uint64_t n) { m->gap += n; }
void mime_end(mime_msg_t *m)
{
    if (!m) return;
    static char t[1 << 17];
    btext(t, sizeof t, m->b, m->n);
    if (g_rec) logf_(g_rec, "MSG end [%s] gap=%llu\n", t, (unsigned long long)m->gap);
    free(m->b);
    free(m);
}
/* the HTTP decoder, linked in through the registry, asks MIME for filenames */
int mime_cd_filename(const uint8_t *v, size_t n, char *out, size_t cap)
{
    if (cap) out[0] = 0;
    return -1;
}

/* ---- engine and connection ---------------------------------------------------- */

static eng_t *new_engine(rec_t *r, int attach, const char *k1, const char *v1)
{
    memset(r, 0, sizeof *r);
    r->attach = attach;
    g_rec = r;
    eng_t *e = eng_new();
    char err[128];
    if (k1) CHECK(eng_config_set(e, k1, v1, err, sizeof err) == 0);
    eng_on(e, ENG_EV_SMTP_COMMAND, on_cmd, r);
    eng_on(e, ENG_EV_SMTP_REPLY, on_reply, r);
    eng_on(e, ENG_EV_SMTP_AUTH, on_auth, r);
    eng_on(e, ENG_EV_SMTP_MAIL_FROM, on_path, r);
    eng_on(e, ENG_EV_SMTP_RCPT_TO, on_path, r);
    eng_on(e, ENG_EV_SMTP_STARTTLS, on_tls, r);
    eng_on(e, ENG_EV_WEIRD, on_weird, r);
    eng_on(e, ENG_EV_MAIL_MESSAGE, on_msg, r); /* makes the decoder feed the (stub) MIME decoder */
    eng_on(e, ENG_EV_FLOW_SERVICE, on_service, r);
    eng_on(e, ENG_EV_FLOW_START, on_start, r);
    return e;
}

typedef struct conn {
    eng_t *e;
    uint32_t seq[2];
    int64_t t;
    uint16_t port;
} conn_t;

static uint8_t frame[4096];

static void seg(conn_t *c, int dir, uint32_t seq, uint8_t fl, const void *d, size_t n)
{
    size_t len = dir ? pb_tcp4(frame, "10.0.0.2", c->port, "10.0.0.1", 40000, seq, c->seq[0], fl, d, n, 65535)
                     : pb_tcp4(frame, "10.0.0.1", 40000, "10.0.0.2", c->port, seq, c->seq[1], fl, d, n, 65535);
    c->t += 1000;
    eng_feed(c->e, c->t, 1, frame, (uint32_t)len, (uint32_t)len);
}

static void c_open(conn_t *c, eng_t *e, uint16_t port)
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

static void done(eng_t *e, rec_t *r)
{
    eng_free(e);
    free(r->log);
    g_rec = NULL;
}

/* a conversation: alternating steps, S: server, C: client */
typedef struct step {
    int dir;
    const char *text;
} step_t;

/* play steps with segments of mss bytes; interleave: 1-byte segments of both
 * directions of consecutive steps alternate (client bytes may overtake) */
static void play(conn_t *c, const step_t *st, size_t mss)
{
    for (; st->text; st++) c_sendn(c, st->dir, st->text, strlen(st->text), mss);
}

static char *run_steps(const step_t *st, size_t mss, int attach)
{
    rec_t r;
    eng_t *e = new_engine(&r, attach, NULL, NULL);
    conn_t c;
    c_open(&c, e, 2525);
    play(&c, st, mss);
    c_close(&c);
    eng_finish(e);
    char *log = r.log;
    r.log = NULL;
    eng_free(e);
    g_rec = NULL;
    return log;
}

/* ---- tests ------------------------------------------------------------------ */

TEST(probe)
{
    const eng_decoder_t *d = smtp_dec;
    CHECK(d && !strcmp(d->name, "smtp"));
#define P(s, dir) d->probe((const uint8_t *)(s), strlen(s), dir)
    CHECK_EQ_INT(P("220 mail.example.com ESMTP Postfix\r\n", 1), 1);
    CHECK_EQ_INT(P("220-mx.test ESMTP\r\n", 1), 1);
    CHECK_EQ_INT(P("220 mx.test smtp ready", 1), 1);
    CHECK_EQ_INT(P("220 ProFTPD Server\r\n", 1), 0);
    CHECK_EQ_INT(P("220 mx ready\r\n", 1), -1); /* SMTP or FTP: the client's command decides */
    CHECK_EQ_INT(P("EHLO me\r\n", 0), 1);
    CHECK_EQ_INT(P("220 mx.te", 1), -1);
    CHECK_EQ_INT(P("22", 1), -1);
    CHECK_EQ_INT(P("230 x", 1), 0);
    CHECK_EQ_INT(P("+OK POP3", 1), 0);
    CHECK_EQ_INT(P("EHLO client\r\n", 0), 1);
    CHECK_EQ_INT(P("helo x", 0), 1);
    CHECK_EQ_INT(P("EHL", 0), -1);
    CHECK_EQ_INT(P("", 0), -1);
    CHECK_EQ_INT(P("GET / HTTP/1.1", 0), 0);
    CHECK_EQ_INT(P("EHLOX", 0), 0);
#undef P
}

static const step_t basic[] = {
    {1, "220 mx.test ESMTP ready\r\n"},
    {0, "EHLO client.test\r\n"},
    {1, "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"},
    {0, "MAIL FROM:<alice@a.test> SIZE=123 BODY=8BITMIME\r\n"},
    {1, "250 2.1.0 Ok\r\n"},
    {0, "RCPT TO:<bob@b.test>\r\n"},
    {1, "250 2.1.5 Ok\r\n"},
    {0, "rcpt to: <carol@c.test> NOTIFY=NEVER\r\n"},
    {1, "250 2.1.5 Ok\r\n"},
    {0, "DATA\r\n"},
    {1, "354 End data with <CR><LF>.<CR><LF>\r\n"},
    {0, "Subject: hi\r\n\r\nline one\r\n..leading dot\r\n.x\r\n...\r\nend\r\n.\r\n"},
    {1, "250 2.0.0 Ok: queued\r\n"},
    {0, "QUIT\r\n"},
    {1, "221 2.0.0 Bye\r\n"},
    {0, NULL},
};

static const char *basic_want =
    "REPLY 220 [mx.test ESMTP ready] @0\n"
    "CMD EHLO [client.test] @0\n"
    "REPLY 250 [mx.test\\nPIPELINING\\nSIZE 1000\\n8BITMIME] @25\n"
    "CMD MAIL [FROM:<alice@a.test> SIZE=123 BODY=8BITMIME] @18\n"
    "FROM <alice@a.test> [SIZE=123 BODY=8BITMIME]\n"
    "REPLY 250 [2.1.0 Ok] @83\n"
    "CMD RCPT [TO:<bob@b.test>] @67\n"
    "TO <bob@b.test> []\n"
    "REPLY 250 [2.1.5 Ok] @97\n"
    "CMD RCPT [to: <carol@c.test> NOTIFY=NEVER] @89\n"
    "TO <carol@c.test> [NOTIFY=NEVER]\n"
    "REPLY 250 [2.1.5 Ok] @111\n"
    "CMD DATA [] @127\n"
    "REPLY 354 [End data with <CR><LF>.<CR><LF>] @125\n"
    "MSG begin smtp\n"
    "MSG end [Subject: hi\\r\\n\\r\\nline one\\r\\n.leading dot\\r\\n.x\\r\\n..\\r\\nend\\r\\n] gap=0\n"
    "REPLY 250 [2.0.0 Ok: queued] @162\n"
    "CMD QUIT [] @190\n"
    "REPLY 221 [2.0.0 Bye] @184\n";

static void check_basic(char *log, const char *service)
{
    char want[4096];
    snprintf(want, sizeof want, "SERVICE smtp %s\n%s", service, basic_want);
    rec_t r = {.log = log};
    check_log(&r, want);
    free(log);
}

TEST(basic_session) { check_basic(run_steps(basic, 1400, 0), "detect"); }

/* (detection probes each segment on its own: 1-byte segments are attached by hand) */
TEST(basic_one_byte_segments) { check_basic(run_steps(basic, 1, 1), "script"); }
TEST(basic_three_byte_segments) { check_basic(run_steps(basic, 3, 1), "script"); }

TEST(pipelining)
{
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "EHLO c\r\n"},
        {1, "250-mx\r\n250 PIPELINING\r\n"},
        {0, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<nobody@x>\r\nDATA\r\n"},
        {1, "250 ok\r\n250 ok\r\n550 no such user\r\n354 go\r\n"},
        {0, "hello\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT TO:<nobody@x>\r\nDATA\r\n"},
        {1, "250 queued\r\n250 ok\r\n550 no\r\n554 no valid recipients\r\n"},
        {0, "RSET\r\nQUIT\r\n"},
        {1, "250 reset\r\n221 bye\r\n"},
        {0, NULL},
    };
    char *log = run_steps(st, 1400, 1);
    rec_t r = {.log = log};
    check_log(&r, "SERVICE smtp script\n"
                  "REPLY 220 [mx ESMTP] @0\n"
                  "CMD EHLO [c] @0\n"
                  "REPLY 250 [mx\\nPIPELINING] @14\n"
                  "CMD MAIL [FROM:<a@x>] @8\n"
                  "FROM <a@x> []\n"
                  "CMD RCPT [TO:<b@x>] @25\n"
                  "TO <b@x> []\n"
                  "CMD RCPT [TO:<nobody@x>] @40\n"
                  "TO <nobody@x> []\n"
                  "CMD DATA [] @60\n"
                  "REPLY 250 [ok] @38\n"
                  "REPLY 250 [ok] @46\n"
                  "REPLY 550 [no such user] @54\n"
                  "REPLY 354 [go] @72\n"
                  "MSG begin smtp\n"
                  "MSG end [hello\\r\\n] gap=0\n"
                  "CMD MAIL [FROM:<a@x>] @76\n"
                  "FROM <a@x> []\n"
                  "CMD RCPT [TO:<nobody@x>] @93\n"
                  "TO <nobody@x> []\n"
                  "CMD DATA [] @113\n"
                  "REPLY 250 [queued] @80\n"
                  "REPLY 250 [ok] @92\n"
                  "REPLY 550 [no] @100\n"
                  "REPLY 554 [no valid recipients] @108\n"
                  "CMD RSET [] @119\n"
                  "CMD QUIT [] @125\n"
                  "REPLY 250 [reset] @133\n"
                  "REPLY 221 [bye] @144\n");
    free(log);
}

/* the rejected DATA's following commands are commands, not message content */
TEST(data_rejected_one_byte)
{
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "MAIL FROM:<a@x>\r\nRCPT TO:<nobody@x>\r\nDATA\r\n"},
        {1, "250 ok\r\n550 no\r\n554 no valid recipients\r\n"},
        {0, "QUIT\r\n"},
        {1, "221 bye\r\n"},
        {0, NULL},
    };
    char *log = run_steps(st, 1, 1);
    CHECK(log && strstr(log, "CMD QUIT [] @"));
    CHECK(log && !strstr(log, "MSG"));
    free(log);
}

static char *auth_run(const step_t *st) { return run_steps(st, 1400, 1); }

TEST(auth_plain_initial)
{
    /* "\0alice\0s3cret" */
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"},
        {1, "235 2.7.0 Authentication successful\r\n"},
        {0, "QUIT\r\n"},
        {1, "221 bye\r\n"},
        {0, NULL},
    };
    char *log = auth_run(st);
    rec_t r = {.log = log};
    check_log(&r, "SERVICE smtp script\n"
                  "REPLY 220 [mx ESMTP] @0\n"
                  "CMD AUTH [PLAIN AGFsaWNlAHMzY3JldA==] @0\n"
                  "REPLY 235 [2.7.0 Authentication successful] @14\n"
                  "AUTH PLAIN user=alice pass=s3cret ok=true\n"
                  "CMD QUIT [] @33\n"
                  "REPLY 221 [bye] @51\n");
    free(log);
}

TEST(auth_plain_challenge_and_failure)
{
    /* "admin\0bob\0wrong": authzid admin, authcid bob */
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "AUTH PLAIN\r\n"},
        {1, "334 \r\n"},
        {0, "YWRtaW4AYm9iAHdyb25n\r\n"},
        {1, "535 5.7.8 Error: authentication failed\r\n"},
        {0, "QUIT\r\n"},
        {1, "221 bye\r\n"},
        {0, NULL},
    };
    char *log = auth_run(st);
    rec_t r = {.log = log};
    check_log(&r, "SERVICE smtp script\n"
                  "REPLY 220 [mx ESMTP] @0\n"
                  "CMD AUTH [PLAIN] @0\n"
                  "REPLY 334 [] @14\n"
                  "REPLY 535 [5.7.8 Error: authentication failed] @20\n"
                  "AUTH PLAIN user=bob pass=wrong ok=false\n"
                  "CMD QUIT [] @34\n"
                  "REPLY 221 [bye] @60\n");
    free(log);
}

TEST(auth_login_both_forms)
{
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "AUTH LOGIN\r\n"},
        {1, "334 VXNlcm5hbWU6\r\n"},
        {0, "dXNlcjEyMzQ1QGV4YW1wbGUxMjMuY29t\r\n"},
        {1, "334 UGFzc3dvcmQ6\r\n"},
        {0, "MTIzNDU2Nzg=\r\n"},
        {1, "535 nope\r\n"},
        {0, "auth login Ym9i\r\n"},
        {1, "334 UGFzc3dvcmQ6\r\n"},
        {0, "cGFzcw==\r\n"},
        {1, "235 ok\r\n"},
        {0, "QUIT\r\n"},
        {1, "221 bye\r\n"},
        {0, NULL},
    };
    char *log = run_steps(st, 1, 1);
    CHECK(log && strstr(log, "AUTH LOGIN user=user12345@example123.com pass=12345678 ok=false\n"));
    CHECK(log && strstr(log, "CMD AUTH [login Ym9i]"));
    CHECK(log && strstr(log, "AUTH LOGIN user=bob pass=pass ok=true\n"));
    CHECK(log && strstr(log, "CMD QUIT"));
    /* base64 lines are not commands */
    CHECK(log && !strstr(log, "CMD MTIz"));
    CHECK(log && !strstr(log, "WEIRD"));
    free(log);
}

TEST(auth_other_mechanisms)
{
    /* CRAM-MD5 response "tim b913a602c7eda7a495b4e6e7334d3890"; cancel with "*";
     * XOAUTH2 "user=someuser@example.com\1auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\1\1" */
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "AUTH CRAM-MD5\r\n"},
        {1, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"},
        {0, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"},
        {1, "235 ok\r\n"},
        {0, "AUTH LOGIN\r\n"},
        {1, "334 VXNlcm5hbWU6\r\n"},
        {0, "*\r\n"},
        {1, "501 cancelled\r\n"},
        {0, "AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB2RjlkZnQ0cW1UYzJOdmIzUmxja0JoZEhSaGRtbHpkR0V1WTI5dENnPT0BAQ==\r\n"},
        {1, "235 ok\r\n"},
        {0, "AUTH GSSAPI\r\n"},
        {1, "504 unsupported\r\n"},
        {0, NULL},
    };
    char *log = auth_run(st);
    CHECK(log && strstr(log, "AUTH CRAM-MD5 user=tim pass=- ok=true\n"));
    CHECK(log && strstr(log, "AUTH LOGIN user=- pass=- ok=false\n"));
    CHECK(log && strstr(log, "AUTH XOAUTH2 user=someuser@example.com pass=- ok=true\n"));
    CHECK(log && strstr(log, "AUTH GSSAPI user=- pass=- ok=false\n"));
    free(log);
}

TEST(bdat_chunks)
{
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 13\r\nA: b\r\n\r\n.\r\n..BDAT 4 LAST\r\nxyz\nQUIT\r\n"},
        {1, "250 ok\r\n250 ok\r\n250 13 bytes\r\n250 queued\r\n221 bye\r\n"},
        {0, NULL},
    };
    for (size_t mss = 1; mss <= 1400; mss += 1399) {
        char *log = run_steps(st, mss, 1);
        rec_t r = {.log = log};
        check_log(&r, "SERVICE smtp script\n"
                      "REPLY 220 [mx ESMTP] @0\n"
                      "CMD MAIL [FROM:<a@x>] @0\n"
                      "FROM <a@x> []\n"
                      "CMD RCPT [TO:<b@x>] @17\n"
                      "TO <b@x> []\n"
                      "CMD BDAT [13] @32\n"
                      "MSG begin smtp\n"
                      "CMD BDAT [4 LAST] @54\n"
                      "MSG end [A: b\\r\\n\\r\\n.\\r\\n..xyz\\n] gap=0\n"
                      "CMD QUIT [] @71\n"
                      "REPLY 250 [ok] @14\n"
                      "REPLY 250 [ok] @22\n"
                      "REPLY 250 [13 bytes] @30\n"
                      "REPLY 250 [queued] @44\n"
                      "REPLY 221 [bye] @56\n");
        free(log);
    }
}

TEST(starttls_accepted)
{
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "EHLO c\r\n"},
        {1, "250-mx\r\n250 STARTTLS\r\n"},
        {0, "STARTTLS\r\n"},
        {1, "220 2.0.0 Ready to start TLS\r\n"},
        {0, "\x16\x03\x01\x00\x05hello MAIL FROM:<x@y>\r\n"},
        {1, "\x16\x03\x03\x00\x02hi 250 ok\r\n"},
        {0, NULL},
    };
    for (size_t mss = 1; mss <= 1400; mss += 1399) {
        char *log = run_steps(st, mss, 1);
        rec_t r = {.log = log};
        check_log(&r, "SERVICE smtp script\n"
                      "REPLY 220 [mx ESMTP] @0\n"
                      "CMD EHLO [c] @0\n"
                      "REPLY 250 [mx\\nSTARTTLS] @14\n"
                      "CMD STARTTLS [] @8\n"
                      "REPLY 220 [2.0.0 Ready to start TLS] @36\n"
                      "STARTTLS\n"
                      "SERVICE ssl handoff\n");
        free(log);
    }
}

TEST(starttls_refused)
{
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "STARTTLS\r\n"},
        {1, "454 TLS not available\r\n"},
        {0, "QUIT\r\n"},
        {1, "221 bye\r\n"},
        {0, NULL},
    };
    char *log = run_steps(st, 1, 1);
    CHECK(log && !strstr(log, "STARTTLS\n"));
    CHECK(log && strstr(log, "CMD QUIT [] @10\n"));
    free(log);
}

TEST(two_messages)
{
    static const step_t st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "MAIL FROM:<a@x>\r\n"},  {1, "250 ok\r\n"},
        {0, "RCPT TO:<b@x>\r\n"},    {1, "250 ok\r\n"},
        {0, "DATA\r\n"},             {1, "354 go\r\n"},
        {0, "one\r\n.\r\n"},         {1, "250 queued 1\r\n"},
        {0, "RSET\r\n"},             {1, "250 ok\r\n"},
        {0, "MAIL FROM:<c@x>\r\n"},  {1, "250 ok\r\n"},
        {0, "RCPT TO:<d@x>\r\n"},    {1, "250 ok\r\n"},
        {0, "DATA\r\n"},             {1, "354 go\r\n"},
        {0, "two\n.\n"},             {1, "250 queued 2\r\n"},
        {0, NULL},
    };
    char *log = run_steps(st, 1400, 1);
    CHECK(log && strstr(log, "MSG end [one\\r\\n] gap=0\n"));
    CHECK(log && strstr(log, "MSG end [two\\n] gap=0\n"));
    CHECK(log && strstr(log, "REPLY 250 [queued 2]"));
    free(log);
}

/* replies that arrive before the command they answer (reordered capture) */
TEST(reply_before_command)
{
    rec_t r;
    eng_t *e = new_engine(&r, 1, NULL, NULL);
    conn_t c;
    c_open(&c, e, 2525);
    c_send(&c, 1, "220 mx ESMTP\r\n");
    c_send(&c, 1, "250 ok\r\n");              /* to MAIL, not seen yet */
    c_send(&c, 0, "MAIL FROM:<a@x>\r\nDA");
    c_send(&c, 1, "354 go\r\n");
    c_send(&c, 0, "TA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
    c_send(&c, 1, "250 queued\r\n221 bye\r\n"); /* to "." and QUIT, QUIT not seen yet */
    c_send(&c, 0, "QUIT\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r, "SERVICE smtp script\n"
                  "REPLY 220 [mx ESMTP] @0\n"
                  "CMD MAIL [FROM:<a@x>] @0\n"
                  "FROM <a@x> []\n"
                  "REPLY 250 [ok] @14\n"
                  "CMD DATA [] @17\n"
                  "REPLY 354 [go] @22\n"
                  "WEIRD smtp_mail_transaction_invalid\n" /* DATA with no RCPT */
                  "MSG begin smtp\n"
                  "MSG end [Subject: x\\r\\n\\r\\nbody\\r\\n] gap=0\n"
                  "REPLY 250 [queued] @30\n"
                  "CMD QUIT [] @46\n"
                  "REPLY 221 [bye] @42\n");
    done(e, &r);
}

/* AUTH LOGIN: the server's next challenge and its final reply arrive before the
 * client's response lines (reordered capture) */
TEST(auth_replies_before_lines)
{
    rec_t r;
    eng_t *e = new_engine(&r, 1, NULL, NULL);
    conn_t c;
    c_open(&c, e, 2525);
    c_send(&c, 1, "220 mx ESMTP\r\n");
    c_send(&c, 0, "AUTH LOGIN\r\n");
    c_send(&c, 1, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n250 ok\r\n");
    c_send(&c, 0, "Ym9i\r\n");
    c_send(&c, 0, "cGFzcw==\r\nMAIL FROM:<bob@x>\r\n");
    c_close(&c);
    eng_finish(e);
    check_log(&r, "SERVICE smtp script\n"
                  "REPLY 220 [mx ESMTP] @0\n"
                  "CMD AUTH [LOGIN] @0\n"
                  "REPLY 334 [VXNlcm5hbWU6] @14\n"
                  "REPLY 334 [UGFzc3dvcmQ6] @32\n"
                  "REPLY 235 [ok] @50\n"
                  "AUTH LOGIN user=bob pass=pass ok=true\n"
                  "CMD MAIL [FROM:<bob@x>] @28\n"
                  "FROM <bob@x> []\n"
                  "REPLY 250 [ok] @58\n");
    done(e, &r);
}

/* the server direction is missing: the wait for 354 ends after max_line bytes */
TEST(one_sided_client)
{
    rec_t r;
    eng_t *e = new_engine(&r, 1, "stream.max_line", "64");
    conn_t c;
    c_open(&c, e, 2525);
    c_send(&c, 0, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
    static char body[4000];
    size_t n = 0;
    for (int i = 0; i < 40; i++) n += (size_t)snprintf(body + n, sizeof body - n, "line %02d of the message body\r\n", i);
    n += (size_t)snprintf(body + n, sizeof body - n, ".\r\nQUIT\r\n");
    c_sendn(&c, 0, body, n, 100);
    c_close(&c);
    eng_finish(e);
    CHECK(r.log && strstr(r.log, "MSG end [line 00 of the message body\\r\\nline 01"));
    CHECK(r.log && strstr(r.log, "line 39 of the message body\\r\\n] gap=0\n"));
    CHECK(r.log && strstr(r.log, "CMD QUIT"));
    done(e, &r);
}

/* message lines longer than stream.max_line lose nothing */
TEST(long_message_lines)
{
    rec_t r;
    eng_t *e = new_engine(&r, 1, "stream.max_line", "64");
    conn_t c;
    c_open(&c, e, 2525);
    c_send(&c, 1, "220 mx ESMTP\r\n");
    c_send(&c, 0, "DATA\r\n");
    c_send(&c, 1, "354 go\r\n");
    static char body[3000], want[3000];
    memset(body, 'a', 1000);
    memcpy(body + 1000, "\r\n..b\r\n.\r\n", 11);
    c_sendn(&c, 0, body, strlen(body), 7);
    c_send(&c, 1, "250 ok\r\n");
    c_close(&c);
    eng_finish(e);
    memcpy(want, "MSG end [", 9);
    memset(want + 9, 'a', 1000);
    strcpy(want + 1009, "\\r\\n.b\\r\\n] gap=0\n");
    CHECK(r.log && strstr(r.log, want));
    CHECK(r.log && strstr(r.log, "REPLY 250 [ok]"));
    done(e, &r);
}

/* a capture that starts in the middle: replies without commands, then normal */
TEST(mid_session)
{
    rec_t r;
    eng_t *e = new_engine(&r, 1, NULL, NULL);
    conn_t c;
    c.e = e;
    c.t = T0;
    c.port = 25;
    c.seq[0] = 7000;
    c.seq[1] = 9000;
    c_send(&c, 0, "RCPT TO:<b@x>\r\n");
    c_send(&c, 1, "250 ok\r\n");
    c_send(&c, 0, "DATA\r\n");
    c_send(&c, 1, "354 go\r\n");
    c_send(&c, 0, "hi\r\n.\r\n");
    c_send(&c, 1, "250 queued\r\n");
    eng_finish(e);
    CHECK(r.log && strstr(r.log, "MSG end [hi\\r\\n] gap=0\n"));
    CHECK(r.log && strstr(r.log, "REPLY 250 [queued]"));
    done(e, &r);
}

/* lost bytes inside a message: the MIME decoder is told, the dot still ends it */
TEST(gap_in_message)
{
    rec_t r;
    eng_t *e = new_engine(&r, 1, NULL, NULL);
    conn_t c;
    c_open(&c, e, 2525);
    c_send(&c, 1, "220 mx ESMTP\r\n");
    c_send(&c, 0, "DATA\r\n");
    c_send(&c, 1, "354 go\r\n");
    c_send(&c, 0, "first\r\n");
    c.seq[0] += 10; /* 10 bytes never sent */
    c_send(&c, 0, "second\r\n.\r\nQUIT\r\n");
    seg(&c, 1, c.seq[1], PB_ACK, NULL, 0); /* acknowledges the hole: a gap */
    c_send(&c, 1, "250 ok\r\n221 bye\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(r.log && strstr(r.log, "MSG end [first\\r\\nsecond\\r\\n] gap=10\n"));
    CHECK(r.log && strstr(r.log, "CMD QUIT"));
    done(e, &r);
}

/* nobody subscribed: the decoder does nothing and nothing breaks */
TEST(no_subscribers)
{
    eng_t *e = eng_new();
    conn_t c;
    c_open(&c, e, 25);
    c_send(&c, 1, "220 mx ESMTP\r\n");
    c_send(&c, 0, "EHLO x\r\n");
    c_close(&c);
    eng_finish(e);
    eng_free(e);
}

/* RFC 5321 transaction states: smtp.reply names the command it answers and whether
 * it ends a transaction with a message; out-of-order commands are weird, refusals
 * of a pipelined group are not */
static const step_t invalid_seq[] = {
    {1, "220 mx ESMTP\r\n"},
    {0, "EHLO c\r\n"},
    {1, "250-mx\r\n250 CHUNKING\r\n"},
    {0, "RCPT TO:<early@x>\r\n"},            /* before any MAIL */
    {1, "503 need MAIL\r\n"},
    {0, "MAIL FROM:<a@x>\r\n"},
    {1, "250 ok\r\n"},
    {0, "RCPT TO:<b@x>\r\n"},
    {1, "250 ok\r\n"},
    {0, "MAIL FROM:<again@x>\r\n"},          /* a second MAIL */
    {1, "503 nested MAIL\r\n"},
    {0, "RSET\r\n"},                         /* ends the transaction without a message */
    {1, "250 reset\r\n"},
    {0, "DATA\r\n"},                         /* no MAIL, no RCPT */
    {1, "503 need RCPT\r\n"},
    {0, "MAIL FROM:<bad@x>\r\n"},            /* refused, then a MAIL again: not nested */
    {1, "550 no\r\n"},
    {0, "MAIL FROM:<c@x>\r\n"},
    {1, "250 ok\r\n"},
    {0, "RCPT TO:<gone@x>\r\n"},             /* refused recipient, then DATA: not weird */
    {1, "550 unknown\r\n"},
    {0, "RCPT TO:<d@x>\r\n"},
    {1, "250 ok\r\n"},
    {0, "DATA\r\n"},
    {1, "354 go\r\n"},
    {0, "Subject: s\r\n\r\nhi\r\n.\r\n"},
    {1, "250 2.0.0 Ok: queued as 1A\r\n"},
    {0, "MAIL FROM:<e@x>\r\n"},
    {1, "250 ok\r\n"},
    {0, "RCPT TO:<f@x>\r\n"},
    {1, "250 ok\r\n"},
    {0, "BDAT 4\r\nab\r\n"},
    {1, "250 4 bytes\r\n"},
    {0, "BDAT 0 LAST\r\n"},
    {1, "250 queued as 2B\r\n"},
    {0, "MAIL FROM:<g@x>\r\n"},                 /* new transaction, ended by EHLO */
    {1, "250 ok\r\n"},
    {0, "EHLO c\r\n"},
    {1, "250 mx\r\n"},
    {0, "RCPT TO:<h@x>\r\n"},                 /* the EHLO reset it: no MAIL */
    {1, "503 need MAIL\r\n"},
    {0, "QUIT\r\n"},
    {1, "221 bye\r\n"},
    {0, NULL},
};

static void check_invalid_seq(size_t mss)
{
    g_reply_cmd = 1;
    char *log = run_steps(invalid_seq, mss, 1);
    g_reply_cmd = 0;
    /* only the lines this test is about */
    char got[8192];
    size_t o = 0;
    got[0] = 0;
    for (char *l = log; l && *l;) {
        char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l + 1) : strlen(l);
        if ((!strncmp(l, "REPLY", 5) || !strncmp(l, "WEIRD", 5)) && o + n < sizeof got) {
            memcpy(got + o, l, n);
            o += n;
            got[o] = 0;
        }
        l += n;
    }
    static const char want[] =
        "REPLY 220 [mx ESMTP] to - end=-\n"
        "REPLY 250 [mx\\nCHUNKING] to EHLO end=false\n"
        "REPLY 503 [need MAIL] to RCPT end=false\n"
        "WEIRD smtp_mail_transaction_invalid\n"
        "REPLY 250 [ok] to MAIL end=false\n"
        "REPLY 250 [ok] to RCPT end=false\n"
        "REPLY 503 [nested MAIL] to MAIL end=false\n"
        "WEIRD smtp_nested_mail_transaction\n"
        "REPLY 250 [reset] to RSET end=false\n"
        "REPLY 503 [need RCPT] to DATA end=false\n"
        "WEIRD smtp_mail_transaction_invalid\n"
        "REPLY 550 [no] to MAIL end=false\n"
        "REPLY 250 [ok] to MAIL end=false\n"
        "REPLY 550 [unknown] to RCPT end=false\n"
        "REPLY 250 [ok] to RCPT end=false\n"
        "REPLY 354 [go] to DATA end=false\n"
        "REPLY 250 [2.0.0 Ok: queued as 1A] to . end=true\n"
        "REPLY 250 [ok] to MAIL end=false\n"
        "REPLY 250 [ok] to RCPT end=false\n"
        "REPLY 250 [4 bytes] to BDAT end=false\n"
        "REPLY 250 [queued as 2B] to BDAT end=true\n"
        "REPLY 250 [ok] to MAIL end=false\n"
        "REPLY 250 [mx] to EHLO end=false\n"
        "REPLY 503 [need MAIL] to RCPT end=false\n"
        "WEIRD smtp_mail_transaction_invalid\n"
        "REPLY 221 [bye] to QUIT end=false\n";
    if (strcmp(got, want)) {
        fprintf(stderr, "---- got (mss %zu):\n%s---- want:\n%s----\n", mss, got, want);
        CHECK(0);
    }
    free(log);
}

TEST(transaction_states) { check_invalid_seq(1400); }
TEST(transaction_states_one_byte) { check_invalid_seq(1); }

int main(void)
{
    RUN(probe);
    RUN(basic_session);
    RUN(basic_one_byte_segments);
    RUN(basic_three_byte_segments);
    RUN(pipelining);
    RUN(data_rejected_one_byte);
    RUN(auth_plain_initial);
    RUN(auth_plain_challenge_and_failure);
    RUN(auth_login_both_forms);
    RUN(auth_other_mechanisms);
    RUN(bdat_chunks);
    RUN(starttls_accepted);
    RUN(starttls_refused);
    RUN(two_messages);
    RUN(reply_before_command);
    RUN(auth_replies_before_lines);
    RUN(one_sided_client);
    RUN(long_message_lines);
    RUN(mid_session);
    RUN(gap_in_message);
    RUN(no_subscribers);
    RUN(transaction_states);
    RUN(transaction_states_one_byte);
    return check_report("smtp");
}
