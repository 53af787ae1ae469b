/* test_tls.c - the TLS decoder (decoders/tls.c, "ssl") through the whole core, on
 * hand-made records: the ClientHello fields, JA3 and JA4 (checked against values
 * computed by hand from the specs), reassembly across records and 1-byte segments, the
 * bad inputs of the issue (extension lengths that disagree, a record of 2^14+1 bytes, a
 * handshake message longer than its bytes, one larger than the cap, a certificate that
 * does not parse), alerts, established for TLS 1.2 and 1.3, gaps, and the STARTTLS
 * hand-off with the ClientHello arriving before the server's acceptance. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/md5.h>
#include <nettle/sha2.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "pktbuild.h"

#include "mailconn.h"

/* ---- building bytes ---------------------------------------------------------- */

typedef struct buf {
    uint8_t b[40000];
    size_t n;
} buf_t;

static void u8(buf_t *b, unsigned v) { b->b[b->n++] = (uint8_t)v; }
static void u16(buf_t *b, unsigned v) { u8(b, v >> 8); u8(b, v); }
static void u24(buf_t *b, unsigned v) { u8(b, v >> 16); u16(b, v & 0xffff); }
static void raw(buf_t *b, const void *p, size_t n) { memcpy(b->b + b->n, p, n); b->n += n; }
/* patch a 16-bit length at `at` to cover everything after it */
static void fix16(buf_t *b, size_t at) { b->b[at] = (uint8_t)((b->n - at - 2) >> 8); b->b[at + 1] = (uint8_t)(b->n - at - 2); }
static void fix24(buf_t *b, size_t at)
{
    size_t l = b->n - at - 3;
    b->b[at] = (uint8_t)(l >> 16);
    b->b[at + 1] = (uint8_t)(l >> 8);
    b->b[at + 2] = (uint8_t)l;
}

/* the ClientHello handshake message (type, u24 length, body) */
static void client_hello(buf_t *m, int bad_ext)
{
    m->n = 0;
    u8(m, 1);
    size_t L = m->n;
    u24(m, 0);
    u16(m, 0x0303);
    for (int i = 0; i < 32; i++) u8(m, i);
    u8(m, 0); /* session id */
    u16(m, 8);
    u16(m, 0x0a0a); /* GREASE */
    u16(m, 0x1301);
    u16(m, 0x1302);
    u16(m, 0xc02b);
    u8(m, 1);
    u8(m, 0);
    size_t E = m->n;
    u16(m, 0);
    u16(m, 0x1a1a); u16(m, 0); /* GREASE extension */
    /* server_name */
    u16(m, 0x0000); size_t x = m->n; u16(m, 0);
    size_t y = m->n; u16(m, 0); u8(m, 0); u16(m, 6); raw(m, "a.test", 6); fix16(m, y); fix16(m, x);
    /* supported_groups */
    u16(m, 0x000a); u16(m, 8); u16(m, 6); u16(m, 0x2a2a); u16(m, 29); u16(m, 23);
    /* ec_point_formats */
    u16(m, 0x000b); u16(m, 2); u8(m, 1); u8(m, 0);
    /* signature_algorithms */
    u16(m, 0x000d); u16(m, 8); u16(m, 6); u16(m, 0x0403); u16(m, 0x0804); u16(m, 0x0401);
    /* ALPN h2, http/1.1 */
    u16(m, 0x0010); x = m->n; u16(m, 0); y = m->n; u16(m, 0);
    u8(m, 2); raw(m, "h2", 2); u8(m, 8); raw(m, "http/1.1", 8); fix16(m, y); fix16(m, x);
    /* supported_versions */
    u16(m, 0x002b); u16(m, 7); u8(m, 6); u16(m, 0x3a3a); u16(m, 0x0304); u16(m, 0x0303);
    /* key_share: x25519 with a 32-byte key */
    u16(m, 0x0033); x = m->n; u16(m, 0); y = m->n; u16(m, 0);
    u16(m, 29); u16(m, 32); for (int i = 0; i < 32; i++) u8(m, 0x55);
    fix16(m, y); fix16(m, x);
    if (bad_ext) { /* the last extension claims more bytes than the block holds */
        u16(m, 0x0017); u16(m, 40); u16(m, 0);
    }
    fix16(m, E);
    fix24(m, L);
}

/* records of type t carrying p[0..n), cut into pieces of at most `frag` bytes */
static void records(buf_t *out, unsigned t, unsigned ver, const uint8_t *p, size_t n, size_t frag)
{
    while (n) {
        size_t k = n < frag ? n : frag;
        u8(out, t);
        u16(out, ver);
        u16(out, (unsigned)k);
        raw(out, p, k);
        p += k;
        n -= k;
    }
}

static void server_hello(buf_t *m, unsigned cipher, int tls13)
{
    m->n = 0;
    u8(m, 2);
    size_t L = m->n;
    u24(m, 0);
    u16(m, 0x0303);
    for (int i = 0; i < 32; i++) u8(m, 0x40 + i);
    u8(m, 0);
    u16(m, cipher);
    u8(m, 0);
    size_t E = m->n;
    u16(m, 0);
    u16(m, 0xff01); u16(m, 1); u8(m, 0);
    if (tls13) {
        u16(m, 0x002b); u16(m, 2); u16(m, 0x0304);
        u16(m, 0x0033); u16(m, 36); u16(m, 29); u16(m, 32);
        for (int i = 0; i < 32; i++) u8(m, 0x66);
    } else {
        u16(m, 0x0010); u16(m, 5); u16(m, 3); u8(m, 2); raw(m, "h2", 2);
    }
    fix16(m, E);
    fix24(m, L);
}

/* ---- recording --------------------------------------------------------------- */

static char *list_text(const eng_value_t *v, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    if (v->type != ENG_T_LIST) return out;
    for (uint32_t i = 0; i < v->len && o + 16 < cap; i++) {
        const eng_value_t *x = &v->u.list[i];
        if (x->type == ENG_T_INT) o += (size_t)snprintf(out + o, cap - o, "%s%llx", i ? "," : "", (long long)x->u.i);
        else o += (size_t)snprintf(out + o, cap - o, "%s%.*s", i ? "," : "", (int)x->len, (const char *)x->u.s);
    }
    return out;
}

static char lt[8][600];
#define LST(ev, k, i) ((i) < (ev)->nfields ? list_text(&(ev)->f[i], lt[k], sizeof lt[k]) : "-")

static void on_tls(eng_t *e, const eng_event_t *ev, void *u)
{
    rec_t *r = u;
    switch (ev->kind) {
    case ENG_EV_TLS_CLIENT_HELLO:
        logf_(r, "CH v=%s sni=%s alpn=%s ciphers=%s exts=%s groups=%s pf=%s sigs=%s vers=%s ks=%s\n",
              FLD(ev, 0, ENG_F_TLS_CLIENT_HELLO_version), FLD(ev, 1, ENG_F_TLS_CLIENT_HELLO_sni),
              LST(ev, 0, ENG_F_TLS_CLIENT_HELLO_alpn), LST(ev, 1, ENG_F_TLS_CLIENT_HELLO_ciphers),
              LST(ev, 2, ENG_F_TLS_CLIENT_HELLO_extensions), LST(ev, 3, ENG_F_TLS_CLIENT_HELLO_groups),
              LST(ev, 4, ENG_F_TLS_CLIENT_HELLO_point_formats),
              LST(ev, 5, ENG_F_TLS_CLIENT_HELLO_sig_algs), LST(ev, 6, ENG_F_TLS_CLIENT_HELLO_versions),
              LST(ev, 7, ENG_F_TLS_CLIENT_HELLO_key_shares));
        logf_(r, "   ja3=%s ja3s=%s ja4=%s malformed=%s\n", FLD(ev, 0, ENG_F_TLS_CLIENT_HELLO_ja3),
              FLD(ev, 1, ENG_F_TLS_CLIENT_HELLO_ja3_string), FLD(ev, 2, ENG_F_TLS_CLIENT_HELLO_ja4),
              FLD(ev, 3, ENG_F_TLS_CLIENT_HELLO_malformed));
        break;
    case ENG_EV_TLS_SERVER_HELLO:
        logf_(r, "SH v=%s legacy=%s cipher=%s exts=%s ja3s=%s group=%s alpn=%s hrr=%d\n",
              FLD(ev, 0, ENG_F_TLS_SERVER_HELLO_version), FLD(ev, 1, ENG_F_TLS_SERVER_HELLO_legacy_version),
              FLD(ev, 2, ENG_F_TLS_SERVER_HELLO_cipher), LST(ev, 0, ENG_F_TLS_SERVER_HELLO_extensions),
              FLD(ev, 3, ENG_F_TLS_SERVER_HELLO_ja3s_string), FLD(ev, 4, ENG_F_TLS_SERVER_HELLO_group),
              FLD(ev, 5, ENG_F_TLS_SERVER_HELLO_alpn),
              ev->nfields > ENG_F_TLS_SERVER_HELLO_hrr ? (int)ev->f[ENG_F_TLS_SERVER_HELLO_hrr].u.i : -1);
        break;
    case ENG_EV_TLS_CERTIFICATE:
        logf_(r, "CERT subject=%s sha256=%s dir=%s index=%s\n", FLD(ev, 0, ENG_F_TLS_CERTIFICATE_subject),
              FLD(ev, 1, ENG_F_TLS_CERTIFICATE_sha256), FLD(ev, 2, ENG_F_TLS_CERTIFICATE_dir),
              FLD(ev, 3, ENG_F_TLS_CERTIFICATE_index));
        break;
    case ENG_EV_TLS_ALERT:
        logf_(r, "ALERT %s %s %s\n", F(ev, 0), F(ev, 1), F(ev, 2));
        break;
    case ENG_EV_TLS_ESTABLISHED:
        logf_(r, "ESTABLISHED %s %s\n", FLD(ev, 0, 0), FLD(ev, 1, 1));
        break;
    case ENG_EV_TLS_END:
        logf_(r, "END est=%s rec=%s/%s app=%s/%s\n", F(ev, 0), F(ev, 1), F(ev, 2), F(ev, 3), F(ev, 4));
        break;
    default:
        break;
    }
}

static eng_t *new_engine(rec_t *r, const char *service)
{
    memset(r, 0, sizeof *r);
    eng_t *e = eng_new();
    for (int k = ENG_EV_TLS_CLIENT_HELLO; k <= ENG_EV_TLS_END; k++) eng_on(e, k, on_tls, r);
    eng_on(e, ENG_EV_WEIRD, on_generic, r);
    eng_on(e, ENG_EV_FLOW_SERVICE, on_service, r);
    eng_on(e, ENG_EV_FLOW_START, on_start, r);
    if (service) {
        r->set_service = 1;
        r->service = service;
    }
    return e;
}

static int has(const rec_t *r, const char *s)
{
    int ok = r->log && strstr(r->log, s) != NULL;
    if (getenv("TLS_DEBUG") && !ok) fprintf(stderr, "---- log:\n%s----\n", r->log ? r->log : "");
    return ok;
}

static buf_t m, w;

/* the JA3 string and JA4 of client_hello(), by hand from the specs:
 *   JA3 = 771 , ciphers 4865-4866-49195 (0x0a0a GREASE out) , extensions
 *         0-10-11-13-16-43-51 (0x1a1a out) , groups 29-23 (0x2a2a out) , formats 0
 *   JA4 = t 13 (highest supported_version, 0x3a3a out) d (SNI) 03 (ciphers) 07
 *         (extensions) h2 (first ALPN) _ sha256("1301,1302,c02b")[:12] _
 *         sha256("000a,000b,000d,002b,0033_0403,0804,0401")[:12] */
static const char JA3S_[] = "771,4865-4866-49195,0-10-11-13-16-43-51,29-23,0";

static void want_ja(rec_t *r)
{
    char ja3[33], line[256], h1[65], h2[65];
    struct md5_ctx c;
    uint8_t d[16];
    md5_init(&c);
    md5_update(&c, strlen(JA3S_), (const uint8_t *)JA3S_);
    md5_digest(&c, 16, d);
    for (int i = 0; i < 16; i++) sprintf(ja3 + 2 * i, "%02x", d[i]);
    sha_hex((const uint8_t *)"1301,1302,c02b", 14, h1);
    const char *ext = "000a,000b,000d,002b,0033_0403,0804,0401";
    sha_hex((const uint8_t *)ext, strlen(ext), h2);
    snprintf(line, sizeof line, "   ja3=%s ja3s=%s ja4=t13d0307h2_%.12s_%.12s malformed=0\n", ja3, JA3S_,
             h1, h2);
    if (!has(r, line)) {
        fprintf(stderr, "want %sgot:\n%s", line, r->log ? r->log : "");
        CHECK(0);
    }
}

static const char CH_LINE[] =
    "CH v=771 sni=a.test alpn=h2,http/1.1 ciphers=a0a,1301,1302,c02b exts=1a1a,0,a,b,d,10,2b,33 "
    "groups=2a2a,1d,17 pf=0 sigs=403,804,401 vers=3a3a,304,303 ks=1d\n";

TEST(client_hello_fields)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL);
    conn_t c;
    g_mss = 1400;
    c_open(&c, e, 4433); /* not a TLS port: content detection */
    client_hello(&m, 0);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "SERVICE ssl detect\n"));
    CHECK(has(&r, CH_LINE));
    want_ja(&r);
    CHECK(!has(&r, "WEIRD"));
    eng_free(e);
    rec_free(&r);
}

TEST(hello_across_records_and_segments)
{
    for (size_t mss = 1; mss <= 1400; mss += 1399) {
        rec_t r;
        eng_t *e = new_engine(&r, "ssl");
        conn_t c;
        g_mss = mss;
        c_open(&c, e, 443);
        client_hello(&m, 0);
        w.n = 0;
        records(&w, 22, 0x0301, m.b, m.n, 37); /* a message over several records */
        c_sendn(&c, 0, w.b, w.n);
        c_close(&c);
        eng_finish(e);
        CHECK(has(&r, CH_LINE));
        want_ja(&r);
        CHECK(!has(&r, "WEIRD"));
        eng_free(e);
        rec_free(&r);
    }
    g_mss = 1400;
}

TEST(extension_lengths_disagree)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    conn_t c;
    c_open(&c, e, 443);
    client_hello(&m, 1);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "WEIRD tls_extension_length_mismatch ClientHello extension 23 claims 40 bytes"));
    CHECK(has(&r, "malformed=1\n"));
    CHECK(has(&r, "sni=a.test")); /* what parsed is kept */
    eng_free(e);
    rec_free(&r);
}

TEST(record_too_long_then_framing_goes_on)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    conn_t c;
    c_open(&c, e, 443);
    w.n = 0;
    u8(&w, 22); u16(&w, 0x0301); u16(&w, 16385);
    memset(w.b + w.n, 0, 16385);
    w.n += 16385;
    client_hello(&m, 0);
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "WEIRD tls_record_too_long orig record type 22 of 16385 bytes (skipped)\n"));
    CHECK(has(&r, CH_LINE));
    eng_free(e);
    rec_free(&r);
}

TEST(handshake_length_past_the_end)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    conn_t c;
    c_open(&c, e, 443);
    client_hello(&m, 0);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, 100, 16384); /* only the first 100 bytes of it */
    c_sendn(&c, 0, w.b, w.n);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "WEIRD tls_handshake_truncated orig: the flow ended inside a handshake message (100 bytes kept)\n"));
    CHECK(!has(&r, "CH v="));
    eng_free(e);
    rec_free(&r);
}

TEST(handshake_larger_than_cap_is_skipped)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    char err[128];
    CHECK(eng_config_set(e, "tls.max_handshake", "1024", err, sizeof err) == 0);
    conn_t c;
    c_open(&c, e, 443);
    /* a 5000-byte message of type 99, then a ClientHello */
    buf_t *big = malloc(sizeof *big);
    big->n = 0;
    u8(big, 99);
    u24(big, 5000);
    memset(big->b + big->n, 0x77, 5000);
    big->n += 5000;
    client_hello(&m, 0);
    raw(big, m.b, m.n);
    w.n = 0;
    records(&w, 22, 0x0303, big->b, big->n, 700);
    free(big);
    c_sendn(&c, 0, w.b, w.n);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "WEIRD tls_handshake_too_long handshake message type 99 of 5000 bytes (tls.max_handshake 1024)\n"));
    CHECK(has(&r, CH_LINE));
    eng_free(e);
    rec_free(&r);
}

/* TLS 1.2: SH, a certificate that is not DER, CCS both ways, then data and an
 * encrypted alert (counted, not decoded) */
TEST(tls12_bad_certificate_and_established)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    conn_t c;
    c_open(&c, e, 443);
    client_hello(&m, 0);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n);
    server_hello(&m, 0xc02f, 0);
    size_t sh = m.n;
    /* Certificate: list of one "certificate" of 8 bytes */
    u8(&m, 11); u24(&m, 3 + 3 + 8); u24(&m, 3 + 8); u24(&m, 8); raw(&m, "notacert", 8);
    w.n = 0;
    records(&w, 22, 0x0303, m.b, m.n, 16384);
    (void)sh;
    c_sendn(&c, 1, w.b, w.n);
    static const uint8_t ccs[] = {20, 3, 3, 0, 1, 1};
    c_sendn(&c, 0, ccs, sizeof ccs);
    c_sendn(&c, 1, ccs, sizeof ccs);
    static const uint8_t app[] = {23, 3, 3, 0, 4, 9, 9, 9, 9};
    static const uint8_t enc_alert[] = {21, 3, 3, 0, 2, 0x8f, 0x31};
    c_sendn(&c, 0, app, sizeof app);
    c_sendn(&c, 1, enc_alert, sizeof enc_alert);
    c_close(&c);
    eng_finish(e);
    char fp[65], line[200];
    sha_hex((const uint8_t *)"notacert", 8, fp);
    snprintf(line, sizeof line, "CERT subject=- sha256=%s dir=resp index=0\n", fp);
    CHECK(has(&r, "SH v=771 legacy=771 cipher=49199 exts=ff01,10 ja3s=771,49199,65281-16 group=- alpn=h2 hrr=0\n"));
    CHECK(has(&r, "WEIRD tls_certificate_unparsed certificate 0 (8 bytes) is not X.509 DER\n"));
    CHECK(has(&r, line));
    CHECK(has(&r, "ESTABLISHED 771 49199\n"));
    CHECK(!has(&r, "ALERT"));
    CHECK(has(&r, "END est=1 rec=3/3 app=4/0\n"));
    eng_free(e);
    rec_free(&r);
}

/* the client's whole TLS 1.2 flight decoded before the server's (cross-direction
 * delivery order after reordering): CCS before any ServerHello, then the encrypted
 * Finished, whose "length" is ciphertext: encrypted, no tls_handshake_too_long; the
 * server's flight is decoded as usual afterwards */
TEST(client_flight_before_server_hello)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    conn_t c;
    c_open(&c, e, 443);
    client_hello(&m, 0);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n);
    static const uint8_t ccs[] = {20, 3, 3, 0, 1, 1};
    static const uint8_t fin[] = {22, 3, 3, 0, 8, 0xc9, 0xb7, 0xe7, 0x07, 1, 2, 3, 4};
    c_sendn(&c, 0, ccs, sizeof ccs);
    c_sendn(&c, 0, fin, sizeof fin);
    server_hello(&m, 0xc02f, 0);
    w.n = 0;
    records(&w, 22, 0x0303, m.b, m.n, 16384);
    c_sendn(&c, 1, w.b, w.n);
    c_sendn(&c, 1, ccs, sizeof ccs);
    c_sendn(&c, 1, fin, sizeof fin);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "SH v=771 legacy=771 cipher=49199"));
    CHECK(has(&r, "ESTABLISHED 771 49199\n"));
    CHECK(!has(&r, "WEIRD"));
    eng_free(e);
    rec_free(&r);
}

TEST(tls13_established_and_cleartext_alert)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    conn_t c;
    c_open(&c, e, 443);
    client_hello(&m, 0);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n);
    server_hello(&m, 0x1301, 1);
    w.n = 0;
    records(&w, 22, 0x0303, m.b, m.n, 16384);
    /* the encrypted handshake as application_data */
    static const uint8_t app[] = {23, 3, 3, 0, 3, 1, 2, 3};
    raw(&w, app, sizeof app);
    c_sendn(&c, 1, w.b, w.n);
    CHECK(!has(&r, "ESTABLISHED"));
    c_sendn(&c, 0, app, sizeof app);
    CHECK(has(&r, "ESTABLISHED 772 4865\n"));
    CHECK(has(&r, "SH v=772 legacy=771 cipher=4865 exts=ff01,2b,33 ja3s=771,4865,65281-43-51 group=29 alpn=- hrr=0\n"));
    c_close(&c);
    eng_finish(e);
    eng_free(e);
    rec_free(&r);

    /* a fatal alert in the clear answering the ClientHello */
    e = new_engine(&r, "ssl");
    c_open(&c, e, 443);
    client_hello(&m, 0);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n);
    static const uint8_t alert[] = {21, 3, 3, 0, 2, 2, 40};
    c_sendn(&c, 1, alert, sizeof alert);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "ALERT resp 2 40\n"));
    CHECK(has(&r, "END est=0 rec=1/1 app=0/0\n"));
    eng_free(e);
    rec_free(&r);
}

TEST(gaps)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    conn_t c;
    c_open(&c, e, 443);
    /* a gap inside application data keeps the framing; the next record counts */
    static const uint8_t hdr[] = {23, 3, 3, 0, 10};
    c_sendn(&c, 0, hdr, sizeof hdr);
    c_sendn(&c, 0, "abc", 3);
    c_hole(&c, 0, 4);
    c_sendn(&c, 0, "xyz", 3);
    static const uint8_t app2[] = {23, 3, 3, 0, 1, 7};
    c_sendn(&c, 0, app2, sizeof app2);
    /* a gap inside a handshake record: the direction is given up */
    client_hello(&m, 0);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 1, w.b, 20);
    c_hole(&c, 1, 10);
    c_sendn(&c, 1, w.b + 30, w.n - 30);
    c_ack(&c, 0);
    c_ack(&c, 1);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "WEIRD tls_gap_lost_sync resp: bytes lost inside a handshake record\n"));
    CHECK(!has(&r, "WEIRD tls_gap_lost_sync orig"));
    CHECK(has(&r, "END est=0 rec=2/1 app=11/0\n"));
    eng_free(e);
    rec_free(&r);
}

/* POP3 STLS: the client's ClientHello arrives before the server's +OK; the server's
 * ServerHello follows +OK in the same segment. Both reach the TLS decoder (the held
 * client bytes through dec_handoff_carry, the rest of the server segment replayed). */
TEST(starttls_handoff_with_reordered_hello)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL);
    eng_on(e, ENG_EV_POP3_REPLY, on_generic, &r);
    conn_t c;
    c_open(&c, e, 110);
    c_send(&c, 1, "+OK ready\r\n");
    c_send(&c, 0, "STLS\r\n");
    client_hello(&m, 0);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n); /* before the server's answer */
    server_hello(&m, 0xc02f, 0);
    w.n = 0;
    raw(&w, "+OK Begin TLS\r\n", 15);
    records(&w, 22, 0x0303, m.b, m.n, 16384);
    c_sendn(&c, 1, w.b, w.n);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "SERVICE ssl handoff\n"));
    CHECK(has(&r, CH_LINE));
    CHECK(has(&r, "SH v=771 legacy=771 cipher=49199"));
    CHECK(!has(&r, "WEIRD"));
    eng_free(e);
    rec_free(&r);
}

TEST(sslv2_client_hello)
{
    rec_t r;
    eng_t *e = new_engine(&r, NULL);
    conn_t c;
    c_open(&c, e, 4433);
    static const uint8_t v2[] = {0x80, 0x1f, 1, 3, 1, 0, 6, 0, 0, 0, 16,
                                 0x00, 0x00, 0x2f, 0x01, 0x00, 0x80,
                                 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    c_sendn(&c, 0, v2, sizeof v2);
    c_close(&c);
    eng_finish(e);
    CHECK(has(&r, "SERVICE ssl detect\n"));
    CHECK(has(&r, "CH v=769 sni=- alpn= ciphers=2f,10080 exts= groups= pf= sigs= vers= ks=\n   ja3=- ja3s=- ja4=- malformed=-\n"));
    CHECK(!has(&r, "WEIRD"));
    eng_free(e);
    rec_free(&r);
}

/* a ClientHello with an empty cipher list and no extensions: the JA4 lists
 * are empty (memcpy from a NULL list was undefined behaviour, caught by
 * fuzz_tls under UBSan; the SANITIZE=1 build aborts on it) */
TEST(client_hello_without_ciphers)
{
    rec_t r;
    eng_t *e = new_engine(&r, "ssl");
    conn_t c;
    c_open(&c, e, 443);
    m.n = 0;
    u8(&m, 1);
    size_t at = m.n;
    u24(&m, 0);
    u16(&m, 0x0303);
    for (int i = 0; i < 32; i++) u8(&m, (unsigned)i);
    u8(&m, 0);    /* session id */
    u16(&m, 0);   /* no cipher suites */
    u8(&m, 1);
    u8(&m, 0);    /* null compression */
    u16(&m, 0);   /* empty extensions block */
    fix24(&m, at);
    w.n = 0;
    records(&w, 22, 0x0301, m.b, m.n, 16384);
    c_sendn(&c, 0, w.b, w.n);
    c_close(&c);
    eng_finish(e);
    char ja3[33], line[200];
    struct md5_ctx x;
    uint8_t d[16];
    md5_init(&x);
    md5_update(&x, 7, (const uint8_t *)"771,,,,");
    md5_digest(&x, 16, d);
    for (int i = 0; i < 16; i++) sprintf(ja3 + 2 * i, "%02x", d[i]);
    snprintf(line, sizeof line,
             "CH v=771 sni=- alpn= ciphers= exts= groups= pf= sigs= vers= ks=\n"
             "   ja3=%s ja3s=771,,,, ja4=t12i000000_000000000000_000000000000 malformed=0\n", ja3);
    CHECK(has(&r, line));
    eng_free(e);
    rec_free(&r);
}

int main(void)
{
    RUN(client_hello_fields);
    RUN(hello_across_records_and_segments);
    RUN(extension_lengths_disagree);
    RUN(record_too_long_then_framing_goes_on);
    RUN(handshake_length_past_the_end);
    RUN(handshake_larger_than_cap_is_skipped);
    RUN(tls12_bad_certificate_and_established);
    RUN(tls13_established_and_cleartext_alert);
    RUN(gaps);
    RUN(starttls_handoff_with_reordered_hello);
    RUN(sslv2_client_hello);
    RUN(client_flight_before_server_hello);
    RUN(client_hello_without_ciphers);
    return check_report("tls");
}
