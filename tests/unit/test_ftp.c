/* test_ftp.c - the FTP decoder (decoders/ftp.c) and the expectations it sets
 * (engine/expect.c) through the whole core: hand-made TCP connections (a
 * control connection and its data connections) go in through eng_feed, C
 * callbacks record every ftp.* event, file.done, weird and flow.service as
 * one text line each, and the tests compare that transcript exactly, also
 * with 1-byte segments, data before its command, the control flow ending
 * first, one 4-tuple used twice, AUTH TLS / CCC, and hostile input (PASV
 * numbers out of range, ten thousand PORT commands, a 1 MB line, a
 * multi-line reply that never ends). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "pktbuild.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

/* ---- the recorder ------------------------------------------------------------- */

typedef struct rec {
    char *log;
    size_t len, cap;
    int quiet_weirds;      /* count weirds instead of logging them */
    int nweird;
    char last_weird[64];
    char force[16];        /* flow:set_service at flow.start for resp port 2121 */
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

static const char *vt(const eng_value_t *v, char *out, size_t cap)
{
    if (v->type == ENG_T_NIL) return "-";
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

static char tb[8][1200];
#define FLD(ev, k, i) ((i) < (ev)->nfields ? vt(&(ev)->f[i], tb[k], sizeof tb[k]) : "-")

static void on_event(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    (void)e;
    switch (ev->kind) {
    case ENG_EV_FTP_COMMAND:
        logf_(r, "CMD %s [%s]\n", FLD(ev, 0, ENG_F_FTP_COMMAND_command), FLD(ev, 1, ENG_F_FTP_COMMAND_arg));
        break;
    case ENG_EV_FTP_REPLY:
        logf_(r, "REPLY %s %s [%s]", FLD(ev, 0, ENG_F_FTP_REPLY_code), FLD(ev, 1, ENG_F_FTP_REPLY_command),
              FLD(ev, 2, ENG_F_FTP_REPLY_text));
        if (ENG_F_FTP_REPLY_data_resp_p < ev->nfields && ev->f[ENG_F_FTP_REPLY_data_resp_p].type != ENG_T_NIL)
            logf_(r, " data=%s:%s passive=%s from=%s", FLD(ev, 3, ENG_F_FTP_REPLY_data_resp_h),
                  FLD(ev, 4, ENG_F_FTP_REPLY_data_resp_p), FLD(ev, 5, ENG_F_FTP_REPLY_data_passive),
                  FLD(ev, 6, ENG_F_FTP_REPLY_data_orig_h));
        logf_(r, "\n");
        break;
    case ENG_EV_FTP_AUTH:
        logf_(r, "AUTH user=%s pass=%s ok=%s\n", FLD(ev, 0, ENG_F_FTP_AUTH_user), FLD(ev, 1, ENG_F_FTP_AUTH_password),
              FLD(ev, 2, ENG_F_FTP_AUTH_success));
        break;
    case ENG_EV_FTP_TRANSFER: {
        const char *du = FLD(ev, 0, ENG_F_FTP_TRANSFER_data_uid);
        int on_data = !strcmp(du, ev->flow->uid);
        logf_(r, "XFER %s [%s] bytes=%s dir=%s file=%s on=%s\n", FLD(ev, 1, ENG_F_FTP_TRANSFER_command),
              FLD(ev, 2, ENG_F_FTP_TRANSFER_arg), FLD(ev, 3, ENG_F_FTP_TRANSFER_bytes),
              FLD(ev, 4, ENG_F_FTP_TRANSFER_dir),
              ENG_F_FTP_TRANSFER_fuid < ev->nfields && ev->f[ENG_F_FTP_TRANSFER_fuid].type != ENG_T_NIL ? "yes" : "no",
              on_data ? "data" : "control");
        break;
    }
    case ENG_EV_FILE_DONE: {
        char sha[80];
        vt(&ev->f[ENG_F_FILE_DONE_sha256], sha, sizeof sha);
        sha[16] = 0;
        logf_(r, "FILE size=%s missing=%s sha=%s\n", FLD(ev, 0, ENG_F_FILE_DONE_size),
              FLD(ev, 1, ENG_F_FILE_DONE_missing_bytes), sha);
        break;
    }
    case ENG_EV_WEIRD:
        r->nweird++;
        snprintf(r->last_weird, sizeof r->last_weird, "%s", FLD(ev, 0, 0));
        if (!r->quiet_weirds) logf_(r, "WEIRD %s\n", FLD(ev, 0, 0));
        break;
    case ENG_EV_FLOW_SERVICE:
        logf_(r, "SERVICE %u %s %s\n", ev->flow->resp_port, FLD(ev, 0, 0), FLD(ev, 1, 1));
        break;
    case ENG_EV_FLOW_START:
        if (r->force[0] && ev->flow->resp_port == 2121) eng_flow_set_service(e, ev->flow, r->force);
        break;
    default:
        break;
    }
}

static eng_t *new_engine(rec_t *r)
{
    memset(r, 0, sizeof *r);
    eng_t *e = eng_new();
    int kinds[] = {ENG_EV_FTP_COMMAND, ENG_EV_FTP_REPLY, ENG_EV_FTP_AUTH, ENG_EV_FTP_TRANSFER,
                   ENG_EV_FILE_DONE, ENG_EV_WEIRD, ENG_EV_FLOW_SERVICE, ENG_EV_FLOW_START};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) eng_on(e, kinds[i], on_event, r);
    return e;
}

static int check_log(rec_t *r, const char *want)
{
    if (!r->log || strcmp(r->log, want)) {
        fprintf(stderr, "---- got:\n%s---- want:\n%s----\n", r->log ? r->log : "", want);
        return 0;
    }
    return 1;
}

/* ---- hand-made TCP connections ------------------------------------------------------ */

static int64_t g_t = T0;
static size_t g_mss = 1400;
static uint8_t frame[70000];

typedef struct tc {
    eng_t *e;
    const char *ip[2];
    uint16_t port[2];
    uint32_t seq[2];
} tc_t;

static void seg(tc_t *c, int dir, uint32_t seq, uint8_t fl, const void *d, size_t n)
{
    size_t len = pb_tcp4(frame, c->ip[dir], c->port[dir], c->ip[!dir], c->port[!dir], seq,
                         c->seq[!dir], fl, d, n, 65535);
    g_t += 1000;
    eng_feed(c->e, g_t, 1, frame, (uint32_t)len, (uint32_t)len);
}

/* connection from a:ap to b:bp (dir 0 = from a) */
static void tc_open(tc_t *c, eng_t *e, const char *a, uint16_t ap, const char *b, uint16_t bp, uint32_t isn)
{
    c->e = e;
    c->ip[0] = a;
    c->ip[1] = b;
    c->port[0] = ap;
    c->port[1] = bp;
    c->seq[0] = isn;
    c->seq[1] = isn + 50000;
    seg(c, 0, c->seq[0] - 1, PB_SYN, NULL, 0);
    seg(c, 1, c->seq[1] - 1, PB_SYN | PB_ACK, NULL, 0);
    seg(c, 0, c->seq[0], PB_ACK, NULL, 0);
}

static void tc_sendn(tc_t *c, int dir, const void *d, size_t n)
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

static void tc_send(tc_t *c, int dir, const char *s) { tc_sendn(c, dir, s, strlen(s)); }

static void tc_close(tc_t *c)
{
    seg(c, 0, c->seq[0], PB_FIN | PB_ACK, NULL, 0);
    seg(c, 1, c->seq[1], PB_FIN | PB_ACK, NULL, 0);
    c->seq[0]++;
    c->seq[1]++;
    seg(c, 0, c->seq[0], PB_ACK, NULL, 0);
}

#define CLI "10.0.0.1"
#define SRV "10.0.0.2"
enum { C = 0, S = 1 }; /* directions of the control connection */

static void login(tc_t *k)
{
    tc_send(k, S, "220 (vsFTPd 3.0.3)\r\n");
    tc_send(k, C, "USER alice\r\n");
    tc_send(k, S, "331 Please specify the password.\r\n");
    tc_send(k, C, "PASS s3cret\r\n");
    tc_send(k, S, "230 Login successful.\r\n");
}

static uint8_t BODY[30000];
static void body_init(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof BODY; i++) {
        x = x * 1103515245u + 12345u;
        BODY[i] = (uint8_t)(x >> 16);
    }
}

static void sha16(const uint8_t *p, size_t n, char out[17])
{
    struct sha256_ctx c;
    uint8_t d[32];
    sha256_init(&c);
    sha256_update(&c, n, p);
    sha256_digest(&c, 32, d);
    for (int i = 0; i < 8; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

/* ---- sessions ------------------------------------------------------------------------ */

/* passive mode: PASV + LIST, PASV + RETR (a 30000-byte file), EPSV + STOR */
static void passive_session(eng_t *e)
{
    tc_t k, d;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    tc_send(&k, C, "PASV\r\n");
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,2,156,64).\r\n");
    tc_open(&d, e, CLI, 40001, SRV, 40000, 7000);
    tc_send(&k, C, "LIST\r\n");
    tc_send(&k, S, "150 Here comes the directory listing.\r\n");
    tc_send(&d, 1, "-rw-r--r-- 1 0 0 30000 Jan 01 report.bin\r\n");
    tc_close(&d);
    tc_send(&k, S, "226 Directory send OK.\r\n");
    tc_send(&k, C, "PASV\r\n");
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,2,156,65).\r\n");
    tc_open(&d, e, CLI, 40002, SRV, 40001, 9000);
    tc_send(&k, C, "RETR report.bin\r\n");
    tc_send(&k, S, "150 Opening BINARY mode data connection for report.bin (30000 bytes).\r\n");
    tc_sendn(&d, 1, BODY, sizeof BODY);
    tc_close(&d);
    tc_send(&k, S, "226 Transfer complete.\r\n");
    tc_send(&k, C, "EPSV\r\n");
    tc_send(&k, S, "229 Entering Extended Passive Mode (|||40002|)\r\n");
    tc_open(&d, e, CLI, 40003, SRV, 40002, 11000);
    tc_send(&k, C, "STOR up.bin\r\n");
    tc_send(&k, S, "150 Ok to send data.\r\n");
    tc_sendn(&d, 0, BODY, 5000);
    tc_close(&d);
    tc_send(&k, S, "226 Transfer complete.\r\n");
    tc_send(&k, C, "QUIT\r\n");
    tc_send(&k, S, "221 Goodbye.\r\n");
    tc_close(&k);
}

static char WANT_PASSIVE[4096];
static void want_passive(void)
{
    char a[17], b[17];
    sha16(BODY, sizeof BODY, a);
    sha16(BODY, 5000, b);
    snprintf(WANT_PASSIVE, sizeof WANT_PASSIVE,
             "SERVICE 21 ftp detect\n"
             "REPLY 220 - [(vsFTPd 3.0.3)]\n"
             "CMD USER [alice]\n"
             "REPLY 331 USER [Please specify the password.]\n"
             "CMD PASS [s3cret]\n"
             "REPLY 230 PASS [Login successful.]\n"
             "AUTH user=alice pass=s3cret ok=1\n"
             "CMD PASV []\n"
             "REPLY 227 PASV [Entering Passive Mode (10,0,0,2,156,64).] data=10.0.0.2:40000 passive=1 from=10.0.0.1\n"
             "SERVICE 40000 ftp-data expect\n"
             "CMD LIST []\n"
             "REPLY 150 LIST [Here comes the directory listing.]\n"
             "REPLY 226 LIST [Directory send OK.]\n"
             "CMD PASV []\n"
             "REPLY 227 PASV [Entering Passive Mode (10,0,0,2,156,65).] data=10.0.0.2:40001 passive=1 from=10.0.0.1\n"
             "SERVICE 40001 ftp-data expect\n"
             "CMD RETR [report.bin]\n"
             "REPLY 150 RETR [Opening BINARY mode data connection for report.bin (30000 bytes).]\n"
             "REPLY 226 RETR [Transfer complete.]\n"
             "CMD EPSV []\n"
             "REPLY 229 EPSV [Entering Extended Passive Mode (|||40002|)] data=10.0.0.2:40002 passive=1 from=10.0.0.1\n"
             "SERVICE 40002 ftp-data expect\n"
             "CMD STOR [up.bin]\n"
             "REPLY 150 STOR [Ok to send data.]\n"
             "REPLY 226 STOR [Transfer complete.]\n"
             "CMD QUIT []\n"
             "REPLY 221 QUIT [Goodbye.]\n"
             "XFER LIST [] bytes=42 dir=download file=no on=control\n"
             "FILE size=30000 missing=0 sha=%s\n"
             "XFER RETR [report.bin] bytes=30000 dir=download file=yes on=control\n"
             "FILE size=5000 missing=0 sha=%s\n"
             "XFER STOR [up.bin] bytes=5000 dir=upload file=yes on=control\n",
             a, b);
}

TEST(passive_pasv_epsv_list_retr_stor)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    passive_session(e);
    eng_finish(e);
    CHECK(check_log(&r, WANT_PASSIVE));
    CHECK_EQ_INT(dec_expect_pending(e), 0);
    eng_free(e);
    free(r.log);
}

TEST(one_byte_segments_same_events)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    g_mss = 1;
    passive_session(e);
    g_mss = 1400;
    eng_finish(e);
    CHECK(check_log(&r, WANT_PASSIVE));
    eng_free(e);
    free(r.log);
}

/* active mode: the server connects from port 20 to the client's one port twice:
 * one 4-tuple, two data connections, each with its own command */
TEST(active_same_four_tuple_twice)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k, d;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    tc_send(&k, C, "PORT 10,0,0,1,195,101\r\n");
    tc_send(&k, S, "200 PORT command successful. Consider using PASV.\r\n");
    tc_send(&k, C, "LIST\r\n");
    tc_open(&d, e, SRV, 20, CLI, 50021, 3000);
    tc_send(&k, S, "150 Here comes the directory listing.\r\n");
    tc_send(&d, 0, "listing\r\n");
    tc_close(&d);
    tc_send(&k, S, "226 Directory send OK.\r\n");
    tc_send(&k, C, "EPRT |1|10.0.0.1|50021|\r\n");
    tc_send(&k, S, "200 EPRT command successful.\r\n");
    tc_send(&k, C, "RETR a.txt\r\n");
    tc_open(&d, e, SRV, 20, CLI, 50021, 900000); /* the same 4-tuple, a new ISN */
    tc_send(&k, S, "150 Opening BINARY mode data connection for a.txt (5 bytes).\r\n");
    tc_send(&d, 0, "hello");
    tc_close(&d);
    tc_send(&k, S, "226 Transfer complete.\r\n");
    tc_close(&k);
    eng_finish(e);
    CHECK(check_log(&r, "SERVICE 21 ftp detect\n"
                        "REPLY 220 - [(vsFTPd 3.0.3)]\n"
                        "CMD USER [alice]\n"
                        "REPLY 331 USER [Please specify the password.]\n"
                        "CMD PASS [s3cret]\n"
                        "REPLY 230 PASS [Login successful.]\n"
                        "AUTH user=alice pass=s3cret ok=1\n"
                        "CMD PORT [10,0,0,1,195,101]\n"
                        "REPLY 200 PORT [PORT command successful. Consider using PASV.] data=10.0.0.1:50021 passive=0 from=10.0.0.2\n"
                        "CMD LIST []\n"
                        "SERVICE 50021 ftp-data expect\n"
                        "REPLY 150 LIST [Here comes the directory listing.]\n"
                        "REPLY 226 LIST [Directory send OK.]\n"
                        "CMD EPRT [|1|10.0.0.1|50021|]\n"
                        "REPLY 200 EPRT [EPRT command successful.] data=10.0.0.1:50021 passive=0 from=10.0.0.2\n"
                        "CMD RETR [a.txt]\n"
                        "XFER LIST [] bytes=9 dir=download file=no on=control\n"
                        "SERVICE 50021 ftp-data expect\n"
                        "REPLY 150 RETR [Opening BINARY mode data connection for a.txt (5 bytes).]\n"
                        "REPLY 226 RETR [Transfer complete.]\n"
                        "FILE size=5 missing=0 sha=2cf24dba5fb0a30e\n"
                        "XFER RETR [a.txt] bytes=5 dir=download file=yes on=control\n"));
    eng_free(e);
    free(r.log);
}

/* the data connection's bytes come before the RETR line is decoded (held, then
 * given to the file once the command is known); the control flow ends first:
 * ftp.transfer then fires on the data flow */
TEST(data_before_command_and_control_ends_first)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k, d;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    tc_send(&k, C, "PASV\r\n");
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,2,156,64)\r\n");
    tc_open(&d, e, CLI, 40001, SRV, 40000, 7000);
    tc_sendn(&d, 1, BODY, 3000);
    tc_send(&k, C, "RETR x\r\n");
    tc_sendn(&d, 1, BODY + 3000, 2000);
    tc_send(&k, S, "150 ok\r\n226 done\r\n");
    /* the control connection is reset and ends (eviction by flow.max: 1) */
    tc_close(&k);
    eng_advance(e, g_t + 10 * SEC); /* the closed control flow times out */
    tc_close(&d);
    eng_finish(e);
    char a[17];
    sha16(BODY, 5000, a);
    char want[2048];
    snprintf(want, sizeof want,
             "SERVICE 21 ftp detect\n"
             "REPLY 220 - [(vsFTPd 3.0.3)]\n"
             "CMD USER [alice]\n"
             "REPLY 331 USER [Please specify the password.]\n"
             "CMD PASS [s3cret]\n"
             "REPLY 230 PASS [Login successful.]\n"
             "AUTH user=alice pass=s3cret ok=1\n"
             "CMD PASV []\n"
             "REPLY 227 PASV [Entering Passive Mode (10,0,0,2,156,64)] data=10.0.0.2:40000 passive=1 from=10.0.0.1\n"
             "SERVICE 40000 ftp-data expect\n"
             "CMD RETR [x]\n"
             "REPLY 150 RETR [ok]\n"
             "REPLY 226 RETR [done]\n"
             "FILE size=5000 missing=0 sha=%s\n"
             "XFER RETR [x] bytes=5000 dir=download file=yes on=data\n",
             a);
    CHECK(check_log(&r, want));
    eng_free(e);
    free(r.log);
}

/* the data connection's SYN comes before the 227 that announces it (a tap merging
 * directions): dec_expect links the young flow itself */
TEST(expectation_after_the_connection_began)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k, d;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    tc_send(&k, C, "PASV\r\n");
    tc_open(&d, e, CLI, 40001, SRV, 40000, 7000);
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,2,156,64)\r\n");
    tc_send(&k, C, "NLST\r\n");
    tc_send(&d, 1, "a\r\nb\r\n");
    tc_close(&d);
    tc_send(&k, S, "150 ok\r\n226 done\r\n");
    eng_finish(e);
    /* linked while the 227 is decoded, before ftp.reply fires */
    CHECK(strstr(r.log, "SERVICE 40000 ftp-data expect\n"
                        "REPLY 227 PASV [Entering Passive Mode (10,0,0,2,156,64)] data=10.0.0.2:40000 passive=1 from=10.0.0.1\n") != NULL);
    CHECK(strstr(r.log, "XFER NLST [] bytes=6 dir=download file=no on=control\n") != NULL);
    /* an older flow to the same endpoint is not taken: only flows younger than 2 s */
    eng_free(e);
    free(r.log);

    e = new_engine(&r);
    tc_open(&d, e, CLI, 40001, SRV, 40000, 7000);
    g_t += 5 * SEC;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    tc_send(&k, C, "PASV\r\n");
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,2,156,64)\r\n");
    CHECK(strstr(r.log, "SERVICE 40000") == NULL);
    CHECK_EQ_INT(dec_expect_pending(e), 1);
    eng_finish(e);
    eng_free(e);
    free(r.log);
}

TEST(multiline_reply_joined_and_iac_removed)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k;
    g_mss = 3;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    tc_send(&k, S, "220-Welcome\r\n220-second line\r\n220 ready\r\n");
    tc_send(&k, C, "FEAT\r\n");
    tc_send(&k, S, "211-Features:\r\n EPSV\r\n211-MDTM\r\n 211 not the end\r\n211 End\r\n");
    /* Telnet: IAC IP IAC DM (RFC 959 ABOR), IAC WILL x, IAC IAC = a 0xff byte */
    tc_send(&k, C, "\xff\xf4\xff\xf2" "ABOR\r\n");
    tc_send(&k, S, "226 ABOR successful\r\n");
    tc_send(&k, C, "CW\xff\xfb\x01" "D a\xff\xff" "b\r\n");
    tc_send(&k, S, "250 ok\r\n");
    g_mss = 1400;
    eng_finish(e);
    /* 3-byte segments: both sides spoke before a probe could decide: the port hint */
    CHECK(check_log(&r, "SERVICE 21 ftp port\n"
                        "REPLY 220 - [Welcome\\x0asecond line\\x0aready]\n"
                        "CMD FEAT []\n"
                        "REPLY 211 FEAT [Features:\\x0a EPSV\\x0aMDTM\\x0a 211 not the end\\x0aEnd]\n"
                        "CMD ABOR []\n"
                        "REPLY 226 ABOR [ABOR successful]\n"
                        "CMD CWD [a\\xffb]\n"
                        "REPLY 250 CWD [ok]\n"));
    eng_free(e);
    free(r.log);
}

/* detection by content on another port: a 220 greeting that does not say FTP waits for
 * the client's first command; an SMTP greeting on the same port stays SMTP */
TEST(detection_on_any_port)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k;
    tc_open(&k, e, CLI, 40000, SRV, 2121, 1000);
    tc_send(&k, S, "220 Welcome to the box\r\n");
    tc_send(&k, C, "USER bob\r\n");
    tc_send(&k, S, "530 no\r\n");
    tc_close(&k);
    tc_open(&k, e, CLI, 40001, SRV, 2525, 1000);
    tc_send(&k, S, "220 mx.example.org ESMTP ready\r\n");
    tc_send(&k, C, "EHLO me\r\n");
    tc_close(&k);
    tc_open(&k, e, CLI, 40002, SRV, 2526, 1000);
    tc_send(&k, S, "220 server ready\r\n");
    tc_send(&k, C, "HELO me\r\n");
    tc_close(&k);
    eng_finish(e);
    CHECK(check_log(&r, "SERVICE 2121 ftp detect\n"
                        "REPLY 220 - [Welcome to the box]\n"
                        "CMD USER [bob]\n"
                        "REPLY 530 USER [no]\n"
                        "AUTH user=bob pass=- ok=0\n"
                        "SERVICE 2525 smtp detect\n"
                        "SERVICE 2526 smtp detect\n"));
    eng_free(e);
    free(r.log);
}

/* AUTH TLS accepted: the flow goes to the TLS decoder; clear text after the records
 * (CCC) hands it back to a fresh FTP decoder, which pairs replies at once */
TEST(auth_tls_then_ccc)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    tc_send(&k, S, "220 FTP ready\r\n");
    tc_send(&k, C, "AUTH TLS\r\n");
    tc_send(&k, S, "234 Proceed with negotiation.\r\n");
    static const uint8_t hello[] = {0x16, 3, 1, 0, 4, 0, 0, 0, 0}; /* a HelloRequest */
    static const uint8_t app[] = {0x17, 3, 3, 0, 3, '2', '3', '0', 0x15, 3, 3, 0, 2, 1, 0};
    tc_sendn(&k, C, hello, sizeof hello);
    tc_sendn(&k, S, app, sizeof app);
    tc_sendn(&k, C, app, sizeof app);
    tc_send(&k, C, "PASV\r\n");
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,2,156,64)\r\n");
    eng_finish(e);
    CHECK(check_log(&r, "SERVICE 21 ftp detect\n"
                        "REPLY 220 - [FTP ready]\n"
                        "CMD AUTH [TLS]\n"
                        "REPLY 234 AUTH [Proceed with negotiation.]\n"
                        "SERVICE 21 ssl handoff\n"
                        "SERVICE 21 ftp handoff\n"
                        "CMD PASV []\n"
                        "REPLY 227 PASV [Entering Passive Mode (10,0,0,2,156,64)] data=10.0.0.2:40000 passive=1 from=10.0.0.1\n"));
    eng_free(e);
    free(r.log);
}

/* CCC with the server's clear text decoded before the client's last TLS records (as
 * pcapmut --reorder makes of ftp-proftpd-ccc.pcap): the client direction goes back to
 * FTP where its TLS walk stood; the records still there are walked, whether they start
 * after the hand-back (case 0), their header was partly held (1) or their body was
 * partly read (2) */
TEST(ccc_server_clear_first)
{
    for (int c = 0; c < 3; c++) {
        rec_t r;
        eng_t *e = new_engine(&r);
        tc_t k;
        tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
        tc_send(&k, S, "220 FTP ready\r\n");
        tc_send(&k, C, "AUTH TLS\r\n");
        tc_send(&k, S, "234 Proceed with negotiation.\r\n");
        static const uint8_t hello[] = {0x16, 3, 1, 0, 4, 0, 0, 0, 0}; /* a HelloRequest */
        static const uint8_t app[] = {0x17, 3, 3, 0, 3, 'x', 'y', 'z'};
        static const uint8_t notify[] = {0x15, 3, 3, 0, 6, 'T', 'Y', 'P', 'E', 0x80, 0x81};
        tc_sendn(&k, C, hello, sizeof hello);
        tc_sendn(&k, S, app, sizeof app);
        tc_sendn(&k, C, app, sizeof app);
        size_t cut = c == 0 ? 0 : c == 1 ? 3 : 7; /* client bytes of notify sent early */
        if (cut) tc_sendn(&k, C, notify, cut);
        tc_sendn(&k, S, notify, sizeof notify);
        /* the reply is decoded first (the client's segments were held by a hole) */
        tc_send(&k, S, "200 Type set to A\r\n");
        tc_sendn(&k, C, notify + cut, sizeof notify - cut);
        tc_send(&k, C, "TYPE A\r\n");
        eng_finish(e);
        CHECK(strstr(r.log, "SERVICE 21 ftp handoff\n") != NULL);
        CHECK(strstr(r.log, "CMD TYPE [A]\nREPLY 200 TYPE [Type set to A]\n") != NULL);
        CHECK(strstr(r.log, "WEIRD") == NULL);
        eng_free(e);
        free(r.log);
    }
}

/* ---- hostile input -------------------------------------------------------------------- */

TEST(pasv_numbers_out_of_range)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    tc_send(&k, C, "PASV\r\n");
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,300,156,64)\r\n");
    tc_send(&k, C, "PORT 10,0,0,1,999,1\r\n");
    tc_send(&k, S, "200 ok\r\n");
    tc_send(&k, C, "EPRT |1|10.0.0.999|1|\r\n");
    tc_send(&k, S, "200 ok\r\n");
    tc_send(&k, C, "EPSV\r\n");
    tc_send(&k, S, "229 Entering Extended Passive Mode (|||70000|)\r\n");
    tc_send(&k, C, "NOOP\r\n");
    tc_send(&k, S, "200 NOOP ok\r\n");
    eng_finish(e);
    CHECK(strstr(r.log, "REPLY 227 PASV [Entering Passive Mode (10,0,0,300,156,64)]\nWEIRD ftp_bad_pasv_reply\n") ||
          strstr(r.log, "WEIRD ftp_bad_pasv_reply\nREPLY 227 PASV [Entering Passive Mode (10,0,0,300,156,64)]\n"));
    CHECK(strstr(r.log, "WEIRD ftp_bad_port\n") != NULL);
    CHECK(strstr(r.log, "WEIRD ftp_bad_eprt\n") != NULL);
    CHECK(strstr(r.log, "WEIRD ftp_bad_epsv_reply\n") != NULL);
    CHECK(strstr(r.log, "REPLY 200 NOOP [NOOP ok]\n") != NULL); /* the flow goes on */
    CHECK(strstr(r.log, "data=") == NULL);
    CHECK_EQ_INT(dec_expect_pending(e), 0);
    eng_free(e);
    free(r.log);
}

TEST(ten_thousand_port_commands)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    r.quiet_weirds = 1;
    tc_t k;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    char line[64];
    size_t before = r.len;
    for (int i = 0; i < 10000; i++) {
        snprintf(line, sizeof line, "PORT 10,0,0,1,%d,%d\r\n", 100 + i / 256, i % 256);
        tc_send(&k, C, line);
        tc_send(&k, S, "200 PORT command successful.\r\n");
        CHECK(dec_expect_pending(e) <= 8);
    }
    (void)before;
    /* all 10000 unanswered at once too */
    for (int i = 0; i < 10000; i++) {
        snprintf(line, sizeof line, "PORT 10,0,0,1,%d,%d\r\n", 100 + i / 256, i % 256);
        tc_send(&k, C, line);
    }
    CHECK(dec_expect_pending(e) <= 8);
    tc_send(&k, C, "NOOP\r\n");
    eng_finish(e);
    CHECK(r.nweird >= 2 && r.nweird <= 4); /* ftp_too_many_data_channels, ftp_too_many_pending: once each */
    CHECK(strstr(r.log, "CMD NOOP []\n") != NULL);
    eng_free(e);
    free(r.log);
}

TEST(one_megabyte_lines)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    size_t n = 1 << 20;
    char *big = malloc(n + 3);
    memset(big, 'A', n);
    memcpy(big, "SITE ", 5);
    memcpy(big + n, "\r\n", 3);
    tc_send(&k, C, big);
    big[0] = '2', big[1] = '0', big[2] = '0', big[3] = ' ';
    tc_send(&k, S, big);
    free(big);
    tc_send(&k, C, "NOOP\r\n");
    tc_send(&k, S, "200 fine\r\n");
    eng_finish(e);
    CHECK(strstr(r.log, "WEIRD ftp_line_too_long\n") != NULL);
    CHECK(strstr(r.log, "CMD NOOP []\nREPLY 200 NOOP [fine]\n") != NULL);
    CHECK(r.len < 200000); /* the cut lines are max_line bytes, not 1 MB */
    eng_free(e);
    free(r.log);
}

TEST(multiline_reply_that_never_ends)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    tc_send(&k, C, "HELP\r\n");
    tc_send(&k, S, "214-help follows\r\n");
    for (int i = 0; i < 1200; i++) tc_send(&k, S, "more help text, never the last line\r\n");
    tc_send(&k, C, "NOOP\r\n");
    tc_send(&k, S, "200 NOOP ok\r\n");
    tc_send(&k, C, "STAT\r\n");
    tc_send(&k, S, "211-status\r\n still open at the end\r\n");
    eng_finish(e);
    CHECK(strstr(r.log, "WEIRD ftp_multiline_too_long\n") != NULL);
    CHECK(strstr(r.log, "REPLY 200 NOOP [NOOP ok]\n") != NULL);
    CHECK(strstr(r.log, "WEIRD ftp_unterminated_multiline\nREPLY 211 STAT [status\\x0a still open at the end]\n") != NULL);
    const char *h = strstr(r.log, "REPLY 214 HELP [");
    CHECK(h && strlen(h) < 4096 * 5); /* text kept up to 4 KiB */
    eng_free(e);
    free(r.log);
}

TEST(a_reply_before_its_command)
{
    /* the server's reply segment is fed before the client's command segment: the
     * reply waits for its command (pairing, auth success) */
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    tc_send(&k, S, "220 FTP\r\n");
    tc_send(&k, S, "331 pw?\r\n");
    tc_send(&k, C, "USER u\r\n");
    tc_send(&k, S, "230 ok\r\n");
    tc_send(&k, C, "PASS p\r\n");
    eng_finish(e);
    CHECK(check_log(&r, "SERVICE 21 ftp detect\n"
                        "REPLY 220 - [FTP]\n"
                        "CMD USER [u]\n"
                        "REPLY 331 USER [pw?]\n"
                        "CMD PASS [p]\n"
                        "REPLY 230 PASS [ok]\n"
                        "AUTH user=u pass=p ok=1\n"));
    eng_free(e);
    free(r.log);
}

/* a refused RETR frees its channel; a PASV answered again abandons the first: the
 * connection that comes to the same port belongs to the command that used it */
TEST(refused_transfer_and_abandoned_channel)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k, d;
    tc_open(&k, e, CLI, 40000, SRV, 21, 1000);
    login(&k);
    tc_send(&k, C, "PASV\r\n");
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,2,156,64)\r\n");
    tc_send(&k, C, "RETR missing\r\n");
    tc_send(&k, S, "550 Failed to open file.\r\n");
    CHECK_EQ_INT(dec_expect_pending(e), 0);
    tc_send(&k, C, "EPSV\r\n");
    tc_send(&k, S, "229 Entering Extended Passive Mode (|||40000|)\r\n");
    tc_send(&k, C, "PASV\r\n");
    tc_send(&k, S, "227 Entering Passive Mode (10,0,0,2,156,64)\r\n");
    CHECK_EQ_INT(dec_expect_pending(e), 1);
    tc_open(&d, e, CLI, 40001, SRV, 40000, 7000);
    tc_send(&k, C, "RETR there\r\n");
    tc_send(&k, S, "150 ok\r\n");
    tc_send(&d, 1, "data");
    tc_close(&d);
    tc_send(&k, S, "226 done\r\n");
    eng_finish(e);
    CHECK(strstr(r.log, "XFER RETR [there] bytes=4 dir=download file=yes on=control\n") != NULL);
    CHECK(strstr(r.log, "XFER RETR [missing]") == NULL);
    CHECK(strstr(r.log, "WEIRD") == NULL);
    eng_free(e);
    free(r.log);
}

/* ftp-data has no probe: it must not keep content detection open (decoder.h: "NULL:
 * never detected by content"). Server bytes no probe wants end detection, so a later
 * HTTP request on the flow is not taken for HTTP (engine.c detect() counted a missing
 * probe as "cannot tell yet" before). */
TEST(decoder_without_probe_does_not_hold_detection)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    tc_t k;
    tc_open(&k, e, CLI, 40000, SRV, 8080, 1000);
    tc_send(&k, S, "SSH-2.0-OpenSSH_9.2\r\n");
    tc_send(&k, C, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    tc_close(&k);
    eng_finish(e);
    CHECK(r.log == NULL || strstr(r.log, "SERVICE") == NULL);
    eng_free(e);
    free(r.log);
}

int main(void)
{
    body_init();
    want_passive();
    RUN(passive_pasv_epsv_list_retr_stor);
    RUN(one_byte_segments_same_events);
    RUN(active_same_four_tuple_twice);
    RUN(data_before_command_and_control_ends_first);
    RUN(expectation_after_the_connection_began);
    RUN(multiline_reply_joined_and_iac_removed);
    RUN(detection_on_any_port);
    RUN(auth_tls_then_ccc);
    RUN(ccc_server_clear_first);
    RUN(pasv_numbers_out_of_range);
    RUN(ten_thousand_port_commands);
    RUN(one_megabyte_lines);
    RUN(multiline_reply_that_never_ends);
    RUN(a_reply_before_its_command);
    RUN(refused_transfer_and_abandoned_channel);
    RUN(decoder_without_probe_does_not_hold_detection);
    return check_report("ftp");
}
