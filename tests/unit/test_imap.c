/* test_imap.c - the IMAP decoder (decoders/imap.c) through the whole core:
 * hand-made TCP segments go in through eng_feed, C callbacks record every
 * imap.* event, mail.message, file.done and weird as one text line each, and
 * the tests compare that transcript (and attachment digests) exactly, also
 * with 1-byte segments, gaps and completions delivered before their command. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "pktbuild.h"

extern const eng_decoder_t eng_decoder_imap;
static const eng_decoder_t *const imap_dec = &eng_decoder_imap;

#include "mailconn.h"

static void on_imap(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    switch (ev->kind) {
    case ENG_EV_IMAP_COMMAND:
        logf_(r, "CMD %s %s [%s]\n", FLD(ev, 0, 0), FLD(ev, 1, 1), FLD(ev, 2, 2));
        break;
    case ENG_EV_IMAP_RESPONSE:
        logf_(r, "RESP %s %s [%s]\n", FLD(ev, 0, 0), FLD(ev, 1, 1), FLD(ev, 2, 2));
        break;
    case ENG_EV_IMAP_AUTH:
        logf_(r, "AUTH %s user=%s pass=%s ok=%s\n", FLD(ev, 0, 0), FLD(ev, 1, 1), FLD(ev, 2, 2),
              FLD(ev, 3, 3));
        break;
    default:
        break;
    }
}

static eng_t *new_engine(rec_t *r)
{
    memset(r, 0, sizeof *r);
    eng_t *e = eng_new();
    eng_on(e, ENG_EV_IMAP_COMMAND, on_imap, r);
    eng_on(e, ENG_EV_IMAP_RESPONSE, on_imap, r);
    eng_on(e, ENG_EV_IMAP_AUTH, on_imap, r);
    eng_on(e, ENG_EV_MAIL_MESSAGE, on_generic, r);
    eng_on(e, ENG_EV_FILE_DONE, on_generic, r);
    eng_on(e, ENG_EV_WEIRD, on_generic, r);
    eng_on(e, ENG_EV_FLOW_SERVICE, on_service, r);
    eng_on(e, ENG_EV_FLOW_START, on_start, r);
    return e;
}

static const char ATT[] = "attached bytes \x01\x02\xff and more text for the file\n";

static const char MSG1[] =
    "From: Alice <alice@example.org>\r\n"
    "Subject: report\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    "\r\n"
    "YXR0YWNoZWQgYnl0ZXMgAQL/IGFuZCBtb3JlIHRleHQgZm9yIHRoZSBmaWxlCg==\r\n"
    "--XX--\r\n";

static void play(conn_t *c, const char *const *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!s[i]) {
            char hdr[64];
            snprintf(hdr, sizeof hdr, "* 1 FETCH (UID 7 BODY[] {%zu}\r\n", strlen(MSG1));
            c_send(c, 1, hdr);
            c_send(c, 1, MSG1);
            c_send(c, 1, ")\r\n");
        } else {
            c_send(c, s[i][0] - '0', s[i] + 1);
        }
    }
}

static const char *const SESSION[] = {
    "1* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n",
    "0a1 CAPABILITY\r\n",
    "1* CAPABILITY IMAP4rev1 LITERAL+ IDLE\r\na1 OK done\r\n",
    "0a2 LOGIN {3}\r\n",
    "1+ go ahead\r\n",
    "0bob {4+}\r\npw 1\r\n",
    "1a2 NO bad\r\n",
    "0a3 AUTHENTICATE PLAIN\r\n",
    "1+ \r\n",
    "0AGJvYgBwdzI=\r\n",
    "1a3 OK [CAPABILITY IMAP4rev1] in\r\n",
    "0a4 SELECT \"INBOX\"\r\n",
    "1* 1 EXISTS\r\n* LIST () \"/\" {5}\r\nINBOX\r\na4 OK selected\r\n",
    "0a5 UID FETCH 7 (BODY.PEEK[])\r\n",
    NULL,
    "1a5 OK fetched\r\n",
    "0a6 IDLE\r\n",
    "1+ idling\r\n* 2 EXISTS\r\n",
    "0DONE\r\n",
    "1a6 OK idle done\r\n",
    "0a7 LOGOUT\r\n",
    "1* BYE\r\na7 OK bye\r\n",
};

static const char SESSION_LOG[] =
    "CMD a1 CAPABILITY []\n"
    "RESP a1 OK [done]\n"
    "CMD a2 LOGIN [bob pw 1]\n"
    "RESP a2 NO [bad]\n"
    "AUTH LOGIN user=bob pass=pw 1 ok=0\n"
    "CMD a3 AUTHENTICATE [PLAIN]\n"
    "RESP a3 OK [[CAPABILITY IMAP4rev1] in]\n"
    "AUTH PLAIN user=bob pass=pw2 ok=1\n"
    "CMD a4 SELECT [\"INBOX\"]\n"
    "RESP a4 OK [selected]\n"
    "CMD a5 UID [FETCH 7 (BODY.PEEK[])]\n"
    "MSG subject=report\n"
    "FILE size=46 missing=0\n"
    "RESP a5 OK [fetched]\n"
    "CMD a6 IDLE []\n"
    "RESP a6 OK [idle done]\n"
    "CMD a7 LOGOUT []\n"
    "RESP a7 OK [bye]\n";

static void run_session(size_t mss)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    g_mss = mss;
    r.set_service = mss < 8; /* detection sees one segment at a time */
    r.service = "imap";
    c_open(&c, e, 2143);
    play(&c, SESSION, sizeof SESSION / sizeof SESSION[0]);
    c_close(&c);
    eng_finish(e);
    char want[4096];
    snprintf(want, sizeof want, "SERVICE imap %s\n%s", mss < 8 ? "script" : "detect", SESSION_LOG);
    CHECK(check_log(&r, want));
    char sha[65];
    sha_hex((const uint8_t *)ATT, sizeof ATT - 1, sha);
    CHECK(!strcmp(r.file_sha, sha));
    eng_free(e);
    rec_free(&r);
    g_mss = 1400;
}

TEST(probe)
{
    CHECK(imap_dec->probe((const uint8_t *)"* OK ready\r\n", 12, ENG_RESP) == 1);
    CHECK(imap_dec->probe((const uint8_t *)"* PREAUTH x\r\n", 13, ENG_RESP) == 1);
    CHECK(imap_dec->probe((const uint8_t *)"* O", 3, ENG_RESP) == -1);
    CHECK(imap_dec->probe((const uint8_t *)"+OK hi\r\n", 8, ENG_RESP) == 0);
    CHECK(imap_dec->probe((const uint8_t *)"a1 CAPABILITY\r\n", 15, ENG_ORIG) == 1);
    CHECK(imap_dec->probe((const uint8_t *)"a1 LOGIN bob x\r\n", 16, ENG_ORIG) == 1);
    CHECK(imap_dec->probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16, ENG_ORIG) == 0);
    CHECK(imap_dec->probe((const uint8_t *)"a1 CAPA", 7, ENG_ORIG) == -1);
}

TEST(session) { run_session(1400); }
TEST(session_1byte) { run_session(1); }
TEST(session_3byte) { run_session(3); }

TEST(sasl_mechanisms)
{
    /* the SASL rules SMTP uses (decoders/sasl.c): XOAUTH2 names its user in
     * the initial response; LOGIN follows the server's "Username:" and
     * "Password:" challenges */
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 143);
    c_send(&c, 1, "* OK hi\r\n");
    c_send(&c, 0, "x1 AUTHENTICATE XOAUTH2 dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB0b2sBAQ==\r\n");
    c_send(&c, 1, "x1 OK done\r\n");
    c_send(&c, 0, "x2 AUTHENTICATE LOGIN\r\n");
    c_send(&c, 1, "+ VXNlcm5hbWU6\r\n");
    c_send(&c, 0, "Y2Fyb2w=\r\n");
    c_send(&c, 1, "+ UGFzc3dvcmQ6\r\n");
    c_send(&c, 0, "czNjcjN0\r\n");
    c_send(&c, 1, "x2 NO [AUTHENTICATIONFAILED] no\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE imap detect\n"
        "CMD x1 AUTHENTICATE [XOAUTH2 dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB0b2sBAQ==]\n"
        "RESP x1 OK [done]\n"
        "AUTH XOAUTH2 user=alice@example.org pass=- ok=1\n"
        "CMD x2 AUTHENTICATE [LOGIN]\n"
        "RESP x2 NO [[AUTHENTICATIONFAILED] no]\n"
        "AUTH LOGIN user=carol pass=s3cr3t ok=0\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(literal_args_bounded_and_header_fetches)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 143);
    static char big[3000];
    memset(big, 'x', sizeof big);
    c_send(&c, 1, "* OK hi\r\n");
    c_send(&c, 0, "t1 APPEND INBOX {3000+}\r\n");
    c_sendn(&c, 0, big, sizeof big);
    c_send(&c, 0, "\r\n");
    c_send(&c, 1, "t1 OK appended\r\n");
    c_send(&c, 0, "t2 FETCH 1 (BODY[HEADER] RFC822.SIZE)\r\n");
    /* header blocks are messages (mail.header, mail.message, no file); a part
     * and a partial body from an offset are skipped */
    c_send(&c, 1, "* 1 FETCH (BODY[HEADER] {20}\r\nSubject: headers\r\n\r\n RFC822.SIZE 99)\r\n"
                  "* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {17}\r\nSubject: fields\r\n)\r\n"
                  "* 3 FETCH (BODY[1] {15}\r\nSubject: part\r\n)\r\n"
                  "* 4 FETCH (BODY[]<10> {18}\r\nSubject: partial\r\n)\r\n"
                  "* 5 FETCH (RFC822.HEADER {20}\r\nSubject: rfc822h\r\n\r\n)\r\n"
                  "t2 OK done\r\n");
    c_send(&c, 0, "t3 LOGIN \"a\\\\b\" {0}\r\n\r\n");
    c_send(&c, 1, "t3 OK in\r\n");
    c_close(&c);
    eng_finish(e);
    char want[4096];
    snprintf(want, sizeof want,
             "SERVICE imap detect\n"
             "CMD t1 APPEND [INBOX %.*s...]\n"
             "RESP t1 OK [appended]\n"
             "CMD t2 FETCH [1 (BODY[HEADER] RFC822.SIZE)]\n"
             "MSG subject=headers\n"
             "MSG subject=fields\n"
             "MSG subject=rfc822h\n"
             "RESP t2 OK [done]\n"
             "CMD t3 LOGIN [\"a\\\\b\"]\n"
             "RESP t3 OK [in]\n"
             "AUTH LOGIN user=a\\b pass= ok=1\n",
             1024 - 6 - 3, big);
    CHECK(check_log(&r, want));
    eng_free(e);
    rec_free(&r);
}

TEST(starttls_stops)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 143);
    c_send(&c, 1, "* OK hi\r\n");
    c_send(&c, 0, "s1 STARTTLS\r\n");
    c_send(&c, 1, "s1 OK begin\r\n");
    c_send(&c, 0, "\x16\x03\x01 tls\r\ns2 LOGIN a b\r\n");
    c_send(&c, 1, "\x16\x03\x03 tls\r\ns2 OK\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE imap detect\n"
        "CMD s1 STARTTLS []\n"
        "RESP s1 OK [begin]\n"
        /* the rest went to the TLS decoder, which finds no handshake in it */
        "SERVICE ssl handoff\n"
        "WEIRD tls_handshake_too_long handshake message type 108 of 7539978 bytes (tls.max_handshake 65536)\n"
        "WEIRD tls_handshake_too_long handshake message type 108 of 7539978 bytes (tls.max_handshake 65536)\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(completion_before_command)
{
    /* the server's completion is decoded before the LOGIN command (its ack
     * does not cover the command yet): it is held and still pairs */
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 143);
    c_send(&c, 1, "* OK hi\r\n");
    c_send(&c, 1, "x1 OK welcome\r\n* 3 EXISTS\r\n");
    c_send(&c, 0, "x1 LOGIN bob pw\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE imap detect\n"
        "CMD x1 LOGIN [bob pw]\n"
        "RESP x1 OK [welcome]\n"
        "AUTH LOGIN user=bob pass=pw ok=1\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(gap_in_fetch_literal)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 143);
    c_send(&c, 1, "* OK hi\r\n");
    c_send(&c, 0, "f1 FETCH 1 RFC822\r\n");
    c_send(&c, 1, "* 1 FETCH (RFC822 {39}\r\nSubject: hole\r\n\r\nline1\r\n");
    c_hole(&c, 1, 8);
    c_send(&c, 1, "line3\r\n)\r\nf1 OK done\r\n");
    c_send(&c, 0, "f2 NOOP\r\n");
    c_send(&c, 1, "f2 OK\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE imap detect\n"
        "CMD f1 FETCH [1 RFC822]\n"
        "MSG subject=hole\n"
        "CMD f2 NOOP []\n"
        "FILE size=5 missing=15\n"
        "RESP f1 OK [done]\n"
        "RESP f2 OK []\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(garbage_bounded)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 143);
    static uint8_t junk[60000];
    memset(junk, '{', sizeof junk);
    c_send(&c, 1, "* OK hi\r\n");
    c_sendn(&c, 0, junk, sizeof junk);
    c_sendn(&c, 1, junk, sizeof junk);
    c_send(&c, 0, "\r\nz1 NOOP\r\n");
    c_send(&c, 1, "\r\nz1 OK\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(r.log && strstr(r.log, "CMD z1 NOOP []\n") != NULL);
    CHECK(r.log && strstr(r.log, "RESP z1 OK []\n") != NULL);
    eng_free(e);
    rec_free(&r);
}

int main(void)
{
    RUN(probe);
    RUN(session);
    RUN(session_1byte);
    RUN(session_3byte);
    RUN(sasl_mechanisms);
    RUN(literal_args_bounded_and_header_fetches);
    RUN(starttls_stops);
    RUN(completion_before_command);
    RUN(gap_in_fetch_literal);
    RUN(garbage_bounded);
    return check_report("imap");
}
