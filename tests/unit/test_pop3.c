/* test_pop3.c - the POP3 decoder (decoders/pop3.c) through the whole core:
 * hand-made TCP segments go in through eng_feed, C callbacks record every
 * pop3.* event, mail.message, file.done and weird as one text line each, and
 * the tests compare that transcript (and attachment digests) exactly, also
 * with 1-byte segments, gaps and replies delivered before their command. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "pktbuild.h"

extern const eng_decoder_t eng_decoder_pop3;
static const eng_decoder_t *const pop3_dec = &eng_decoder_pop3;

#include "mailconn.h"

static void on_pop3(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    switch (ev->kind) {
    case ENG_EV_POP3_COMMAND:
        logf_(r, "CMD %s [%s]\n", FLD(ev, 0, 0), FLD(ev, 1, 1));
        break;
    case ENG_EV_POP3_REPLY:
        logf_(r, "REPLY %s [%s]\n", FLD(ev, 0, 0), FLD(ev, 1, 1));
        break;
    case ENG_EV_POP3_AUTH:
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
    eng_on(e, ENG_EV_POP3_COMMAND, on_pop3, r);
    eng_on(e, ENG_EV_POP3_REPLY, on_pop3, r);
    eng_on(e, ENG_EV_POP3_AUTH, on_pop3, r);
    eng_on(e, ENG_EV_MAIL_MESSAGE, on_generic, r);
    eng_on(e, ENG_EV_FILE_DONE, on_generic, r);
    eng_on(e, ENG_EV_WEIRD, on_generic, r);
    eng_on(e, ENG_EV_FLOW_SERVICE, on_service, r);
    eng_on(e, ENG_EV_FLOW_START, on_start, r);
    return e;
}

/* ---- the messages ----------------------------------------------------------- */

static const char ATT[] = "attached bytes \x01\x02\xff and more text for the file\n";

/* a message as on the wire of a RETR (dot-stuffed, ends with ".\r\n") */
static const char MSG1[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.org\r\n"
    "Subject: report\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "--XX\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "..a line that starts with a dot\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    "\r\n"
    "YXR0YWNoZWQgYnl0ZXMgAQL/IGFuZCBtb3JlIHRleHQgZm9yIHRoZSBmaWxlCg==\r\n"
    "--XX--\r\n"
    ".\r\n";

static const char *const SESSION[] = {
    /* dir 1 = server, 0 = client */
    "1+OK POP3 ready <1896.697170952@dbc.mailcom>\r\n",
    "0USER bob\r\n",
    "1+OK\r\n",
    "0PASS s3cret\r\n",
    "1+OK logged in\r\n",
    "0LIST\r\n",
    "1+OK 1 messages\r\n1 620\r\n.\r\n",
    "0RETR 1\r\n",
    "1+OK 620 octets\r\n",
    NULL, /* MSG1 */
    "0QUIT\r\n",
    "1+OK bye\r\n",
};

static const char SESSION_LOG[] =
    "SERVICE pop3 detect\n"
    "REPLY 1 [POP3 ready <1896.697170952@dbc.mailcom>]\n"
    "CMD USER [bob]\n"
    "REPLY 1 []\n"
    "CMD PASS [s3cret]\n"
    "REPLY 1 [logged in]\n"
    "AUTH USER user=bob pass=s3cret ok=1\n"
    "CMD LIST []\n"
    "REPLY 1 [1 messages]\n"
    "CMD RETR [1]\n"
    "REPLY 1 [620 octets]\n"
    "MSG subject=report\n"
    "FILE size=30 missing=0\n"
    "FILE size=46 missing=0\n"
    "CMD QUIT []\n"
    "REPLY 1 [bye]\n";

static void play(conn_t *c, const char *const *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!s[i]) c_send(c, 1, MSG1);
        else c_send(c, s[i][0] - '0', s[i] + 1);
    }
}

static void run_session(size_t mss, const char *want)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    /* content detection sees one segment at a time: tiny ones need a script */
    r.set_service = mss < 8;
    r.service = "pop3";
    conn_t c;
    g_mss = mss;
    c_open(&c, e, 2110); /* not the POP3 port: content detection */
    play(&c, SESSION, sizeof SESSION / sizeof SESSION[0]);
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r, want));
    char sha[65];
    sha_hex((const uint8_t *)ATT, sizeof ATT - 1, sha);
    CHECK(!strcmp(r.file_sha, sha));
    eng_free(e);
    rec_free(&r);
    g_mss = 1400;
}

/* ---- tests ------------------------------------------------------------------ */

TEST(probe)
{
    /* "+OK" alone is undecided (Redis says it too); with a POP3 command from the client, POP3 */
    CHECK(pop3_dec->probe((const uint8_t *)"+OK ready\r\n", 11, ENG_RESP) == -1);
    CHECK(pop3_dec->probe_pair((const uint8_t *)"USER x\r\n", 8, (const uint8_t *)"+OK ready\r\n", 11) == 1);
    CHECK(pop3_dec->probe_pair((const uint8_t *)"CA", 2, (const uint8_t *)"+OK ready\r\n", 11) == -1);
    CHECK(pop3_dec->probe_pair((const uint8_t *)"*1\r\n$4\r\nPING\r\n", 14, (const uint8_t *)"+OK\r\n", 5) == 0);
    CHECK(pop3_dec->probe_pair((const uint8_t *)"SET k v\r\n", 9, (const uint8_t *)"+OK\r\n", 5) == 0);
    CHECK(pop3_dec->probe((const uint8_t *)"+O", 2, ENG_RESP) == -1);
    CHECK(pop3_dec->probe((const uint8_t *)"* OK", 4, ENG_RESP) == 0);
    CHECK(pop3_dec->probe((const uint8_t *)"USER x\r\n", 8, ENG_ORIG) == 0);
}

TEST(session) { run_session(1400, SESSION_LOG); }
static void run_scripted(size_t mss)
{
    char want[4096];
    snprintf(want, sizeof want, "SERVICE pop3 script\n%s", SESSION_LOG + strlen("SERVICE pop3 detect\n"));
    run_session(mss, want);
}
TEST(session_1byte) { run_scripted(1); }
TEST(session_3byte) { run_scripted(3); }

TEST(apop_and_auth)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 110);
    static const char *const s[] = {
        "1+OK ready <1.2@x>\r\n",
        "0APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
        "1-ERR no\r\n",
        /* PLAIN with an initial response: "\0bob\0pw1" */
        "0AUTH PLAIN AGJvYgBwdzE=\r\n",
        "1-ERR bad\r\n",
        /* LOGIN with continuations */
        "0AUTH LOGIN\r\n",
        "1+ VXNlcm5hbWU6\r\n",
        "0Ym9i\r\n",
        "1+ UGFzc3dvcmQ6\r\n",
        "0cHcy\r\n",
        "1+OK welcome\r\n",
        /* unknown count: CRAM-MD5 */
        "0AUTH CRAM-MD5\r\n",
        "1+ PDEyMzRAeD4=\r\n",
        "0Ym9iIDAxMjM0NTY3ODlhYmNkZWY=\r\n",
        "1-ERR denied\r\n",
        "0AUTH\r\n",
        "1+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n",
        "0NOOP\r\n",
        "1+OK\r\n",
    };
    play(&c, s, sizeof s / sizeof s[0]);
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE pop3 detect\n"
        "REPLY 1 [ready <1.2@x>]\n"
        "CMD APOP [mrose c4c9334bac560ecc979e58001b3e22fb]\n"
        "REPLY 0 [no]\n"
        "AUTH APOP user=mrose pass=- ok=0\n"
        "CMD AUTH [PLAIN AGJvYgBwdzE=]\n"
        "REPLY 0 [bad]\n"
        "AUTH PLAIN user=bob pass=pw1 ok=0\n"
        "CMD AUTH [LOGIN]\n"
        "REPLY 1 [welcome]\n"
        "AUTH LOGIN user=bob pass=pw2 ok=1\n"
        "CMD AUTH [CRAM-MD5]\n"
        "REPLY 0 [denied]\n"
        "AUTH CRAM-MD5 user=bob pass=- ok=0\n"
        "CMD AUTH []\n"
        "REPLY 1 []\n"
        "CMD NOOP []\n"
        "REPLY 1 []\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(auth_1byte)
{
    /* the CRAM-MD5 client response arrives byte by byte while the server's
     * "+" is already there; the NOOP after the -ERR is a command again */
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    g_mss = 1;
    r.set_service = 1;
    r.service = "pop3";
    c_open(&c, e, 110);
    static const char *const s[] = {
        "1+OK ready\r\n", "0AUTH CRAM-MD5\r\n", "1+ PDEyMzRAeD4=\r\n",
        "0Ym9iIDAxMjM0NTY3ODlhYmNkZWY=\r\n", "1+OK\r\n", "0NOOP\r\n", "1+OK\r\n",
    };
    play(&c, s, sizeof s / sizeof s[0]);
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE pop3 script\n"
        "REPLY 1 [ready]\n"
        "CMD AUTH [CRAM-MD5]\n"
        "REPLY 1 []\n"
        "AUTH CRAM-MD5 user=bob pass=- ok=1\n"
        "CMD NOOP []\n"
        "REPLY 1 []\n"));
    eng_free(e);
    rec_free(&r);
    g_mss = 1400;
}

TEST(pipelining_top_uidl_capa)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 110);
    c_send(&c, 1, "+OK hi\r\n");
    c_send(&c, 0, "CAPA\r\nUIDL\r\nUIDL 1\r\nTOP 1 0\r\nSTAT\r\n");
    c_send(&c, 1, "+OK caps\r\nTOP\r\nUIDL\r\nPIPELINING\r\n.\r\n"
                  "+OK\r\n1 abc\r\n2 def\r\n.\r\n"
                  "+OK 1 abc\r\n"
                  "+OK top\r\nSubject: hello\r\nFrom: a@b\r\n\r\n.\r\n"
                  "+OK 2 1234\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE pop3 detect\n"
        "REPLY 1 [hi]\n"
        "CMD CAPA []\n"
        "CMD UIDL []\n"
        "CMD UIDL [1]\n"
        "CMD TOP [1 0]\n"
        "CMD STAT []\n"
        "REPLY 1 [caps]\n"
        "REPLY 1 []\n"
        "REPLY 1 [1 abc]\n"
        "REPLY 1 [top]\n"
        "MSG subject=hello\n"
        "REPLY 1 [2 1234]\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(stls_stops)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 110);
    c_send(&c, 1, "+OK hi\r\n");
    c_send(&c, 0, "STLS\r\n");
    c_send(&c, 1, "+OK Begin TLS\r\n");
    c_send(&c, 0, "\x16\x03\x01 binary\r\nUSER x\r\n");
    c_send(&c, 1, "\x16\x03\x03 more\r\n-ERR\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE pop3 detect\n"
        "REPLY 1 [hi]\n"
        "CMD STLS []\n"
        "REPLY 1 [Begin TLS]\n"
        /* the rest went to the TLS decoder, which finds no handshake in it */
        "SERVICE ssl handoff\n"
        "WEIRD tls_handshake_too_long handshake message type 105 of 7233906 bytes (tls.max_handshake 65536)\n"
        "WEIRD tls_handshake_too_long handshake message type 111 of 7496973 bytes (tls.max_handshake 65536)\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(reply_before_command)
{
    /* the server's reply is decoded before the command (its ack does not
     * cover the command yet): the reply waits and is still a RETR body */
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 110);
    c_send(&c, 1, "+OK hi\r\n");
    c_send(&c, 1, "+OK message\r\nSubject: early\r\n\r\nbody\r\n.\r\n");
    c_send(&c, 0, "RETR 1\r\n");
    c_send(&c, 0, "QUIT\r\n");
    c_send(&c, 1, "+OK bye\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE pop3 detect\n"
        "REPLY 1 [hi]\n"
        "CMD RETR [1]\n"
        "REPLY 1 [message]\n"
        "MSG subject=early\n"
        "FILE size=6 missing=0\n"
        "CMD QUIT []\n"
        "REPLY 1 [bye]\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(lost_command_guessed)
{
    /* the RETR command is lost: the body is guessed to be a message */
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 110);
    c_send(&c, 1, "+OK hi\r\n");
    c_hole(&c, 0, 8); /* "RETR 1\r\n" never seen */
    c_ack(&c, 0);
    c_send(&c, 1, "+OK message\r\nSubject: guessed\r\n\r\nbody\r\n.\r\n");
    c_send(&c, 0, "NOOP\r\n");
    c_send(&c, 1, "+OK\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE pop3 detect\n"
        "REPLY 1 [hi]\n"
        "REPLY 1 [message]\n"
        "MSG subject=guessed\n"
        "FILE size=6 missing=0\n"
        "CMD NOOP []\n"
        "REPLY 1 []\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(gap_in_body)
{
    /* a gap inside the RETR body: the message goes on, the file has missing
     * bytes, and the next reply still pairs with its command */
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 110);
    c_send(&c, 1, "+OK hi\r\n");
    c_send(&c, 0, "RETR 1\r\n");
    c_send(&c, 1, "+OK\r\nSubject: holes\r\n\r\nline one\r\n");
    c_hole(&c, 1, 10);
    c_ack(&c, 1);
    c_send(&c, 1, "ne three\r\nline four\r\n.\r\n");
    c_send(&c, 0, "DELE 1\r\n");
    c_send(&c, 1, "-ERR no\r\n");
    c_close(&c);
    eng_finish(e);
    /* the hole becomes a gap when the flow is flushed (the client sent too
     * few packets after it): the DELE is decoded first, its reply after the
     * rest of the body */
    CHECK(check_log(&r,
        "SERVICE pop3 detect\n"
        "REPLY 1 [hi]\n"
        "CMD RETR [1]\n"
        "REPLY 1 []\n"
        "MSG subject=holes\n"
        "CMD DELE [1]\n"
        "FILE size=19 missing=20\n"
        "REPLY 0 [no]\n"));
    CHECK(strstr(r.log, "MSG subject=holes\n") != NULL);
    eng_free(e);
    rec_free(&r);
}

TEST(long_line_in_body)
{
    /* a message line longer than stream.max_line (16384): the POP3 decoder
     * hands it on whole; the MIME decoder cuts it, says so, and counts the
     * rest as missing bytes of the file (never a silent loss) */
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 110);
    c_send(&c, 1, "+OK hi\r\n");
    c_send(&c, 0, "RETR 1\r\n");
    c_send(&c, 1, "+OK\r\nSubject: wide\r\n\r\n");
    static char line[20002];
    memset(line, 'x', 20000);
    memcpy(line + 20000, "\r\n", 2);
    c_sendn(&c, 1, line, sizeof line);
    c_send(&c, 1, "..dot\r\n.\r\n");
    c_send(&c, 0, "QUIT\r\n");
    c_send(&c, 1, "+OK bye\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
        "SERVICE pop3 detect\n"
        "REPLY 1 [hi]\n"
        "CMD RETR [1]\n"
        "REPLY 1 []\n"
        "MSG subject=wide\n"
        "WEIRD mime_line_too_long\n"
        "FILE size=16390 missing=3618\n"
        "CMD QUIT []\n"
        "REPLY 1 [bye]\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(garbage_bounded)
{
    /* a long line without LF in both directions, once the session is POP3 (the
     * greeting and the client's first command decide): nothing grows, no crash */
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 110);
    static uint8_t junk[60000];
    memset(junk, 'A', sizeof junk);
    c_send(&c, 1, "+OK hi\r\n");
    c_send(&c, 0, "CAPA\r\n");
    c_send(&c, 1, "+OK\r\nUSER\r\n.\r\n");
    c_sendn(&c, 0, junk, sizeof junk);
    c_sendn(&c, 1, junk, sizeof junk);
    c_send(&c, 0, "\r\nNOOP\r\n");
    c_send(&c, 1, "\r\n+OK\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(r.log && strstr(r.log, "CMD NOOP []\n") != NULL);
    eng_free(e);
    rec_free(&r);
}

int main(void)
{
    RUN(probe);
    RUN(session);
    RUN(session_1byte);
    RUN(session_3byte);
    RUN(apop_and_auth);
    RUN(auth_1byte);
    RUN(pipelining_top_uidl_capa);
    RUN(stls_stops);
    RUN(reply_before_command);
    RUN(lost_command_guessed);
    RUN(gap_in_body);
    RUN(long_line_in_body);
    RUN(garbage_bounded);
    return check_report("pop3");
}
