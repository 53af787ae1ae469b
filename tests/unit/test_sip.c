/* test_sip.c - the SIP decoder (decoders/sip.c) through the whole core: hand-made
 * UDP datagrams and TCP segments go in through eng_feed, C callbacks record the
 * sip.* and rtp.end events (with the headers map and the SDP table), flow.service
 * and weird as text lines, and the tests compare that transcript exactly; also
 * with 1-byte TCP segments, several messages in one segment, the RTP flows the
 * SDP announced (expectations), and bad input (bounded, named weirds). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "pktbuild.h"

#include "mailconn.h"

/* a map/list value as text: {k=v,...} [a,b] */
static void vtext(rec_t *r, const eng_value_t *v)
{
    char b[1200];
    if (v->type == ENG_T_MAP) {
        logf_(r, "{");
        for (uint32_t i = 0; i < v->len; i++) {
            if (i) logf_(r, ",");
            vtext(r, &v->u.list[2 * i]);
            logf_(r, "=");
            vtext(r, &v->u.list[2 * i + 1]);
        }
        logf_(r, "}");
    } else if (v->type == ENG_T_LIST) {
        logf_(r, "[");
        for (uint32_t i = 0; i < v->len; i++) {
            if (i) logf_(r, ",");
            vtext(r, &v->u.list[i]);
        }
        logf_(r, "]");
    } else {
        logf_(r, "%s", vt(v, b, sizeof b));
    }
}

static int g_show_headers, g_show_sdp;

/* the value of key k in a MAP, or NULL */
static const eng_value_t *map_get(const eng_value_t *m, const char *k)
{
    if (m->type != ENG_T_MAP) return NULL;
    for (uint32_t i = 0; i < m->len; i++) {
        const eng_value_t *kv = &m->u.list[2 * i];
        if (kv->len == strlen(k) && !memcmp(kv->u.s, k, kv->len)) return &m->u.list[2 * i + 1];
    }
    return NULL;
}

static void on_sip(eng_t *e, const eng_event_t *ev, void *u)
{
    (void)e;
    rec_t *r = u;
    const eng_value_t *hdrs, *sdp;
    if (ev->kind == ENG_EV_SIP_REQUEST) {
        logf_(r, "REQ %s %s", FLD(ev, 0, ENG_F_SIP_REQUEST_method), FLD(ev, 1, ENG_F_SIP_REQUEST_uri));
        logf_(r, " cid=%s cseq=%s", FLD(ev, 0, ENG_F_SIP_REQUEST_call_id), FLD(ev, 1, ENG_F_SIP_REQUEST_cseq));
        logf_(r, " from=%s;%s", FLD(ev, 0, ENG_F_SIP_REQUEST_from_uri), FLD(ev, 1, ENG_F_SIP_REQUEST_from_tag));
        logf_(r, " to=%s;%s", FLD(ev, 0, ENG_F_SIP_REQUEST_to_uri), FLD(ev, 1, ENG_F_SIP_REQUEST_to_tag));
        logf_(r, " br=%s ua=%s", FLD(ev, 0, ENG_F_SIP_REQUEST_branch), FLD(ev, 1, ENG_F_SIP_REQUEST_user_agent));
        logf_(r, " %s off=%s\n", FLD(ev, 0, ENG_F_SIP_REQUEST_dir), FLD(ev, 1, ENG_F_SIP_REQUEST_offset));
        hdrs = &ev->f[ENG_F_SIP_REQUEST_headers];
        sdp = ENG_F_SIP_REQUEST_sdp < ev->nfields ? &ev->f[ENG_F_SIP_REQUEST_sdp] : NULL;
    } else if (ev->kind == ENG_EV_SIP_RESPONSE) {
        logf_(r, "RESP %s [%s]", FLD(ev, 0, ENG_F_SIP_RESPONSE_status), FLD(ev, 1, ENG_F_SIP_RESPONSE_reason));
        logf_(r, " cid=%s cseq=%s", FLD(ev, 0, ENG_F_SIP_RESPONSE_call_id), FLD(ev, 1, ENG_F_SIP_RESPONSE_cseq));
        logf_(r, " to=%s;%s", FLD(ev, 0, ENG_F_SIP_RESPONSE_to_uri), FLD(ev, 1, ENG_F_SIP_RESPONSE_to_tag));
        logf_(r, " br=%s %s off=%s\n", FLD(ev, 0, ENG_F_SIP_RESPONSE_branch),
              FLD(ev, 1, ENG_F_SIP_RESPONSE_dir), FLD(ev, 2, ENG_F_SIP_RESPONSE_offset));
        hdrs = &ev->f[ENG_F_SIP_RESPONSE_headers];
        sdp = ENG_F_SIP_RESPONSE_sdp < ev->nfields ? &ev->f[ENG_F_SIP_RESPONSE_sdp] : NULL;
    } else { /* rtp.end */
        logf_(r, "RTP cid=%s media=%s rtcp=%s packets=%s bytes=%s bad=%s\n", FLD(ev, 0, 0), FLD(ev, 1, 1),
              FLD(ev, 2, 2), FLD(ev, 3, 3), FLD(ev, 4, 4), FLD(ev, 5, 5));
        return;
    }
    if (g_show_headers) {
        logf_(r, "  H ");
        vtext(r, hdrs);
        logf_(r, "\n");
    }
    if (g_show_sdp && sdp && sdp->type == ENG_T_MAP) {
        const eng_value_t *m = map_get(sdp, "media");
        const eng_value_t *c = map_get(sdp, "connection");
        const eng_value_t *o = map_get(sdp, "origin");
        logf_(r, "  SDP o=");
        if (o) vtext(r, o);
        logf_(r, " c=");
        if (c) vtext(r, c);
        logf_(r, " media=");
        if (m) vtext(r, m);
        logf_(r, "\n");
    }
}

static eng_t *new_engine(rec_t *r)
{
    memset(r, 0, sizeof *r);
    eng_t *e = eng_new();
    eng_on(e, ENG_EV_SIP_REQUEST, on_sip, r);
    eng_on(e, ENG_EV_SIP_RESPONSE, on_sip, r);
    eng_on(e, ENG_EV_RTP_END, on_sip, r);
    eng_on(e, ENG_EV_WEIRD, on_generic, r);
    eng_on(e, ENG_EV_FLOW_SERVICE, on_service, r);
    eng_on(e, ENG_EV_FLOW_START, on_start, r);
    return e;
}

static int64_t g_t = T0;

static void udp(eng_t *e, const char *src, uint16_t sp, const char *dst, uint16_t dp, const void *d,
                size_t n)
{
    size_t len = pb_udp4(frame, src, sp, dst, dp, d, n);
    g_t += 1000000;
    eng_feed(e, g_t, 1, frame, (uint32_t)len, (uint32_t)len);
}

static void udps(eng_t *e, int dir, const char *s)
{
    if (dir) udp(e, "10.0.0.2", 5060, "10.0.0.1", 5062, s, strlen(s));
    else udp(e, "10.0.0.1", 5062, "10.0.0.2", 5060, s, strlen(s));
}

/* ---- the messages ------------------------------------------------------------------ */

#define SDP_OFFER                                                                              \
    "v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"     \
    "t=0 0\r\nm=audio 20000 RTP/AVP 0 8 97\r\na=rtpmap:97 iLBC/8000\r\n"                       \
    "m=video 0 RTP/AVP 31\r\nm=video 20002 RTP/AVP 34\r\nc=IN IP4 10.0.0.7/127\r\n"
#define SDP_ANSWER "v=0\r\no=bob 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n"

static char invite[2048], ok200[2048];

static void make_msgs(void)
{
    snprintf(invite, sizeof invite,
             "INVITE sip:bob@b.example SIP/2.0\r\n"
             "Via: SIP/2.0/UDP p1.example;branch=z9hG4bKp1\r\n"
             "v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK776asdhds ;rport\r\n"
             "Max-Forwards: 70\r\n"
             "f: \"Alice, A.\" <sip:alice@a.example>;tag=1928301774\r\n"
             "t: Bob <sip:bob@b.example>\r\n"
             "i: a84b4c76e66710@pc33.a.example\r\n"
             "CSeq: 314159 INVITE\r\n"
             "User-Agent: UA\r\n"
             " folded/1.0\r\n"
             "c: application/sdp\r\n"
             "l: %zu\r\n\r\n%s",
             strlen(SDP_OFFER), SDP_OFFER);
    snprintf(ok200, sizeof ok200,
             "SIP/2.0 200 OK\r\n"
             "Via: SIP/2.0/UDP p1.example;branch=z9hG4bKp1\r\n"
             "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK776asdhds ;rport\r\n"
             "From: \"Alice, A.\" <sip:alice@a.example>;tag=1928301774\r\n"
             "To: Bob <sip:bob@b.example>;tag=a6c85cf\r\n"
             "Call-ID: a84b4c76e66710@pc33.a.example\r\n"
             "CSeq: 314159 INVITE\r\n"
             "Content-Type: application/sdp\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(SDP_ANSWER), SDP_ANSWER);
}

static const char REQ_INVITE[] =
    "REQ INVITE sip:bob@b.example cid=a84b4c76e66710@pc33.a.example cseq=314159 INVITE "
    "from=sip:alice@a.example;1928301774 to=sip:bob@b.example;- br=z9hG4bKp1 ua=UA folded/1.0";
static const char RESP_OK[] = "RESP 200 [OK] cid=a84b4c76e66710@pc33.a.example cseq=314159 INVITE "
                              "to=sip:bob@b.example;a6c85cf br=z9hG4bKp1";

/* ---- tests -------------------------------------------------------------------------------- */

TEST(probe)
{
    const eng_decoder_t *sip = eng_decoder_find("sip"), *http = eng_decoder_find("http");
    CHECK(sip && http);
    if (!sip || !http) return;
#define P(d, s) (d)->probe((const uint8_t *)(s), strlen(s), 0)
    CHECK_EQ_INT(P(sip, "INVITE sip:bob@b.example SIP/2.0\r\n"), 1);
    CHECK_EQ_INT(P(sip, "SIP/2.0 180 Ringing\r\n"), 1);
    CHECK_EQ_INT(P(sip, "\r\n\r\nOPTIONS sips:x SIP/2.0\n"), 1);
    CHECK_EQ_INT(P(sip, "INVI"), -1);
    CHECK_EQ_INT(P(sip, "INVITE sip:bob"), -1);
    CHECK_EQ_INT(P(sip, "SIP/2.0 1"), -1);
    CHECK_EQ_INT(P(sip, "SIP/2.0 x"), 0);
    CHECK_EQ_INT(P(sip, "GET / HTTP/1.1\r\n"), 0);
    CHECK_EQ_INT(P(sip, "INVITE sip:bob@b.example HTTP/1.1\r\n"), 0);
    CHECK_EQ_INT(P(sip, "\x16\x03\x01"), 0);
    /* HTTP's probe leaves SIP's OPTIONS alone, and still takes its own */
    CHECK_EQ_INT(P(http, "OPTIONS sip:bob@b SIP/2.0\r\n"), 0);
    CHECK_EQ_INT(P(http, "OPTIONS si"), -1);
    CHECK_EQ_INT(P(http, "OPTIONS sips"), -1);
    CHECK_EQ_INT(P(http, "OPTIONS * HTTP/1.1\r\n"), 1);
    CHECK_EQ_INT(P(http, "OPTIONS /x HTTP/1.1\r\n"), 1);
#undef P
}

/* a UDP call: compact forms, folding, repeated Via, SDP offer/answer, RTP linked */
TEST(udp_call)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    g_show_headers = g_show_sdp = 1;
    udps(e, 0, invite);
    udps(e, 0, invite); /* a retransmission: same event, no new expectation */
    CHECK_EQ_INT(dec_expect_pending(e), 4); /* audio and the second video, RTP + RTCP */
    udps(e, 1, "\r\n\r\n");                /* keep-alive */
    udps(e, 1, ok200);
    CHECK_EQ_INT(dec_expect_pending(e), 6);
    /* the RTP of the call: 10.0.0.1:20000 <-> 10.0.0.9:30000 fulfils both audio expectations'
     * endpoints; one flow */
    uint8_t rtp[172] = {0x80, 0, 0, 1};
    uint8_t rtcp[28] = {0x80, 200, 0, 6};
    udp(e, "10.0.0.9", 30000, "10.0.0.1", 20000, rtp, sizeof rtp);
    udp(e, "10.0.0.1", 20000, "10.0.0.9", 30000, rtp, sizeof rtp);
    udp(e, "10.0.0.1", 20000, "10.0.0.9", 30000, "xx", 2); /* not RTP */
    udp(e, "10.0.0.1", 20001, "10.0.0.9", 30001, rtcp, sizeof rtcp);
    udp(e, "10.0.0.5", 7000, "10.0.0.7", 20002, rtp, sizeof rtp); /* the video, other c= */
    eng_finish(e);
    char inv[4096], want[12288];
    snprintf(inv, sizeof inv,
             "%s orig off=-\n"
             "  H {via=SIP/2.0/UDP p1.example;branch=z9hG4bKp1, SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK776asdhds ;rport,"
             "max-forwards=70,from=\"Alice, A.\" <sip:alice@a.example>;tag=1928301774,to=Bob <sip:bob@b.example>,"
             "call-id=a84b4c76e66710@pc33.a.example,cseq=314159 INVITE,user-agent=UA folded/1.0,"
             "content-type=application/sdp,content-length=%zu}\n"
             "  SDP o=alice 2890844526 2890844526 IN IP4 10.0.0.1 c=10.0.0.1 media=["
             "{type=audio,port=20000,proto=RTP/AVP,formats=[0,8,97],connection=10.0.0.1},"
             "{type=video,port=0,proto=RTP/AVP,formats=[31],connection=10.0.0.1},"
             "{type=video,port=20002,proto=RTP/AVP,formats=[34],connection=10.0.0.7}]\n",
             REQ_INVITE, strlen(SDP_OFFER));
    /* the retransmission gives the same event again */
    snprintf(want, sizeof want, "SERVICE sip detect\n%s%s", inv, inv);
    size_t n = strlen(want);
    snprintf(want + n, sizeof want - n,
             "%s resp off=-\n"
             "  H {via=SIP/2.0/UDP p1.example;branch=z9hG4bKp1, SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK776asdhds ;rport,"
             "from=\"Alice, A.\" <sip:alice@a.example>;tag=1928301774,to=Bob <sip:bob@b.example>;tag=a6c85cf,"
             "call-id=a84b4c76e66710@pc33.a.example,cseq=314159 INVITE,content-type=application/sdp,"
             "content-length=%zu}\n"
             "  SDP o=bob 1 1 IN IP4 10.0.0.2 c=10.0.0.9 media=[{type=audio,port=30000,proto=RTP/AVP,"
             "formats=[0],connection=10.0.0.9}]\n"
             "SERVICE rtp expect\n"
             "WEIRD rtp_unexpected_payload 2 bytes that are not RTP version 2\n"
             "SERVICE rtp expect\n"
             "SERVICE rtp expect\n"
             "RTP cid=a84b4c76e66710@pc33.a.example media=audio rtcp=0 packets=3 bytes=346 bad=1\n"
             "RTP cid=a84b4c76e66710@pc33.a.example media=audio rtcp=1 packets=1 bytes=28 bad=0\n"
             "RTP cid=a84b4c76e66710@pc33.a.example media=video rtcp=0 packets=1 bytes=172 bad=0\n",
             RESP_OK, strlen(SDP_ANSWER));
    CHECK(check_log(&r, want));
    g_show_headers = g_show_sdp = 0;
    eng_free(e);
    rec_free(&r);
}

/* the RTP flow's parent is the SIP flow */
static char g_parent[64];
static void on_rtp_parent(eng_t *e, const eng_event_t *ev, void *u)
{
    (void)e;
    (void)u;
    snprintf(g_parent, sizeof g_parent, "%s", ev->flow->parent_uid);
}
static char g_sipuid[64];
static void on_sip_uid(eng_t *e, const eng_event_t *ev, void *u)
{
    (void)e;
    (void)u;
    snprintf(g_sipuid, sizeof g_sipuid, "%s", ev->flow->uid);
}

TEST(rtp_parent)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    eng_on(e, ENG_EV_RTP_END, on_rtp_parent, NULL);
    eng_on(e, ENG_EV_SIP_REQUEST, on_sip_uid, NULL);
    udps(e, 0, invite);
    uint8_t rtp[20] = {0x80};
    udp(e, "10.0.0.1", 20000, "192.0.2.1", 9, rtp, sizeof rtp);
    eng_finish(e);
    CHECK(g_sipuid[0] != 0);
    CHECK(!strcmp(g_parent, g_sipuid));
    eng_free(e);
    rec_free(&r);
}

static void tcp_call(size_t mss, int together)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    g_mss = mss;
    c_open(&c, e, 5060);
    c_send(&c, 0, "\r\n");
    c_send(&c, 0, invite);
    if (together) { /* 100 and 200 in one segment */
        char both[4096];
        snprintf(both, sizeof both, "SIP/2.0 100 Trying\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n%s", ok200);
        c_send(&c, 1, both);
    } else {
        c_send(&c, 1, "SIP/2.0 100 Trying\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n");
        c_send(&c, 1, ok200);
    }
    c_close(&c);
    eng_finish(e);
    char want[4096];
    snprintf(want, sizeof want,
             "SERVICE sip detect\n"
             "%s orig off=2\n"
             "RESP 100 [Trying] cid=x cseq=- to=-;- br=- resp off=0\n"
             "%s resp off=53\n",
             REQ_INVITE, RESP_OK);
    CHECK(check_log(&r, want));
    CHECK_EQ_INT(dec_expect_pending(e), 0); /* the parent ended: its expectations went */
    eng_free(e);
    rec_free(&r);
    g_mss = 1400;
}

TEST(tcp_framing) { tcp_call(1400, 1); }
TEST(tcp_1byte) { tcp_call(1, 0); }
TEST(tcp_7byte_together) { tcp_call(7, 1); }

/* Content-Length past the end of a datagram; a datagram that is not SIP; no empty line */
TEST(udp_bad)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    udps(e, 0, "OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 500\r\n\r\nshort");
    udps(e, 1, "hello");
    udps(e, 0, "OPTIONS sip:a SIP/2.0\r\nCall-ID: 2\r\nno colon here\r\n");
    udps(e, 0, "OPTIONS sip:a SIP/2.0\r\nCall-ID: 3\r\nContent-Length: x9\r\n\r\n");
    udps(e, 1, "SIP/2.0 200\r\nCall-ID: 3\r\n\r\n"); /* no reason phrase */
    char longline[20000];
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "OPTIONS sip:", 12);
    memcpy(longline + sizeof longline - 12, " SIP/2.0\r\n", 11);
    longline[sizeof longline - 1] = 0;
    udps(e, 0, longline); /* a start line over stream.max_line */
    eng_finish(e);
    CHECK(check_log(&r,
                    "SERVICE sip detect\n"
                    "WEIRD sip_truncated_body Content-Length 500, 5 bytes in the datagram\n"
                    "REQ OPTIONS sip:a cid=1 cseq=- from=-;- to=-;- br=- ua=- orig off=-\n"
                    "WEIRD sip_bad_start_line hello\n"
                    "WEIRD sip_unterminated_headers no empty line after the headers\n"
                    "WEIRD sip_bad_header no colon here\n"
                    "REQ OPTIONS sip:a cid=2 cseq=- from=-;- to=-;- br=- ua=- orig off=-\n"
                    "WEIRD sip_bad_content_length Content-Length not a number or too large\n"
                    "REQ OPTIONS sip:a cid=3 cseq=- from=-;- to=-;- br=- ua=- orig off=-\n"
                    "RESP 200 [] cid=3 cseq=- to=-;- br=- resp off=-\n"
                    "WEIRD sip_bad_start_line OPTIONS sip:aaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"));
    eng_free(e);
    rec_free(&r);
}

/* a 1 MB header line, a header block without end, a Content-Length past the end of
 * the flow: named weirds, and the messages after them are still decoded */
TEST(tcp_bad)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    conn_t c;
    c_open(&c, e, 5060);
    c_send(&c, 0, "OPTIONS sip:a SIP/2.0\r\nX-Big: ");
    size_t big = 1 << 20;
    char *b = malloc(big);
    memset(b, 'a', big);
    c_sendn(&c, 0, b, big);
    c_send(&c, 0, "\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n");
    /* a header block that never ends: 2000 lines of 40 bytes */
    c_send(&c, 0, "OPTIONS sip:a SIP/2.0\r\n");
    for (int i = 0; i < 2000; i++) c_send(&c, 0, "X-Hdr: 0123456789012345678901234567890\r\n");
    c_send(&c, 0, "\r\n");
    c_send(&c, 0, "OPTIONS sip:a SIP/2.0\r\nCall-ID: 2\r\nContent-Length: 0\r\n\r\n");
    c_send(&c, 1, "SIP/2.0 200 OK\r\nCall-ID: 1\r\nContent-Length: 99\r\n\r\nabc");
    free(b);
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
                    "SERVICE sip detect\n"
                    "WEIRD sip_header_too_long a header line over 16384 bytes\n"
                    /* 1 MiB from the client, nothing from the server: past its 64 KiB window,
                     * held, then far past it: the capture misses the server's ACKs (tcp.c) */
                    "WEIRD tcp_packet_out_of_window orig seq 65430, 1400 bytes, 295 past the window the receiver "
                    "offered (acknowledged 1000, window 65535): those bytes are not stream data unless acknowledged\n"
                    "WEIRD tcp_packet_out_of_window orig seq 131230, 66095 bytes past the window the receiver "
                    "offered: the capture misses its acknowledgements, the window of this direction is no longer judged\n"
                    "REQ OPTIONS sip:a cid=1 cseq=- from=-;- to=-;- br=- ua=- orig off=0\n"
                    "WEIRD sip_headers_too_large header block over 65536 bytes\n"
                    "REQ OPTIONS sip:a cid=2 cseq=- from=-;- to=-;- br=- ua=- orig off=1128666\n"
                    "WEIRD sip_truncated_message the flow ended inside a body\n"
                    "RESP 200 [OK] cid=1 cseq=- to=-;- br=- resp off=0\n"));
    eng_free(e);
    rec_free(&r);
}

/* garbage on a TCP flow given to sip by a script: one weird per resync, bounded */
/* an INVITE with an SDP and no Call-ID, twice: the media are expected once, the
 * second compares with an empty Call-ID (found by fuzz_stream_smtp: memcmp with a
 * null pointer, undefined even for 0 bytes; the asan build traps on it) */
TEST(sdp_without_callid)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    char msg[2048];
    snprintf(msg, sizeof msg,
             "INVITE sip:bob@b.example SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1\r\n"
             "From: <sip:alice@a.example>;tag=1\r\nTo: <sip:bob@b.example>\r\n"
             "CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(SDP_ANSWER), SDP_ANSWER);
    udps(e, 0, msg);
    CHECK_EQ_INT(dec_expect_pending(e), 2); /* RTP and RTCP of 10.0.0.9:30000 */
    udps(e, 0, msg);
    CHECK_EQ_INT(dec_expect_pending(e), 2); /* announced already */
    eng_finish(e);
    eng_free(e);
    CHECK_STR(r.log ? r.log : "",
              "SERVICE sip detect\n"
              "REQ INVITE sip:bob@b.example cid=- cseq=1 INVITE from=sip:alice@a.example;1 "
              "to=sip:bob@b.example;- br=z9hG4bK1 ua=- orig off=-\n"
              "REQ INVITE sip:bob@b.example cid=- cseq=1 INVITE from=sip:alice@a.example;1 "
              "to=sip:bob@b.example;- br=z9hG4bK1 ua=- orig off=-\n");
    rec_free(&r);
}

TEST(tcp_garbage_resync)
{
    rec_t r;
    eng_t *e = new_engine(&r);
    r.set_service = 1;
    r.service = "sip";
    conn_t c;
    c_open(&c, e, 5999);
    for (int i = 0; i < 100; i++) c_send(&c, 0, "garbage garbage\r\n");
    c_send(&c, 0, "BYE sip:a SIP/2.0\r\ni: 9\r\nl: 0\r\n\r\nmore garbage\r\n");
    c_send(&c, 0, "OPTIONS sip:a SIP/2.0\r\ni: 10\r\n\r\n");
    c_close(&c);
    eng_finish(e);
    CHECK(check_log(&r,
                    "SERVICE sip script\n"
                    "WEIRD sip_bad_start_line garbage garbage\n"
                    "REQ BYE sip:a cid=9 cseq=- from=-;- to=-;- br=- ua=- orig off=1700\n"
                    "WEIRD sip_bad_start_line more garbage\n"
                    "WEIRD sip_missing_content_length a message over TCP without Content-Length\n"
                    "REQ OPTIONS sip:a cid=10 cseq=- from=-;- to=-;- br=- ua=- orig off=1747\n"));
    eng_free(e);
    rec_free(&r);
}

int main(void)
{
    make_msgs();
    RUN(probe);
    RUN(udp_call);
    RUN(rtp_parent);
    RUN(tcp_framing);
    RUN(tcp_1byte);
    RUN(tcp_7byte_together);
    RUN(udp_bad);
    RUN(tcp_bad);
    RUN(tcp_garbage_resync);
    RUN(sdp_without_callid);
    return check_report("sip");
}
