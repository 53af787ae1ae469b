/* tls.c - TLS (RFC 5246, 8446) and SSLv3 handshakes, both directions; decoder "ssl".
 *
 * Each direction is a record reader on the stream reader: a 5-byte record
 * header (sr_bytes), then the record body taken piecewise (sr_some, never
 * buffered as a whole). Handshake record bodies are appended to a per-
 * direction handshake buffer in which handshake messages are reassembled
 * across records (a ClientHello larger than one record); each complete
 * message is parsed from there:
 *
 *   ClientHello   -> tls.client_hello (versions, SNI, ALPN, ciphers, extensions
 *                    in order, groups, point formats, signature algorithms,
 *                    key share groups, JA3 and JA4)
 *   ServerHello   -> tls.server_hello (negotiated version, cipher, extensions,
 *                    selected group and ALPN, JA3S); a HelloRetryRequest is
 *                    marked (hrr) and the second ClientHello is decoded too
 *   Certificate   -> tls.certificate for each certificate (TLS <= 1.2: in the
 *                    clear), parsed with GnuTLS only when some subscriber
 *                    wants tls.certificate; each DER certificate also goes to
 *                    the files framework (source "tls")
 *   ServerKeyExchange of an ECDHE suite -> tls.server_key_exchange (the curve)
 *
 * Alerts in the clear fire tls.alert. After ChangeCipherSpec (TLS <= 1.2) or
 * after the ServerHello of TLS 1.3 (server side), records are counted, not
 * decoded. tls.established fires once: TLS <= 1.2 when both sides have sent
 * ChangeCipherSpec, TLS 1.3 when both sides have sent application_data
 * records after the ServerHello (the client's first one is its Finished).
 * tls.end fires when the flow ends, with the record and byte counts.
 *
 * JA3 (Salesforce): "version,ciphers,extensions,groups,point_formats" in
 * decimal, values joined by '-', GREASE values (RFC 8701) left out of every
 * list; md5 (nettle) in lower-case hex. JA3S: "version,cipher,extensions".
 * JA4 (FoxIO, technical_details/JA4.md; only JA4, not JA4S or the rest of
 * JA4+): see ja4() below.
 *
 * Bounds: a record header is 5 bytes; a plaintext record longer than 2^14
 * (or any record longer than 2^14 + 2048) is a weird tls_record_too_long and
 * its body is skipped without being parsed (framing goes on). A handshake
 * message longer than tls.max_handshake (default 64 KiB) is a weird
 * tls_handshake_too_long and skipped. Certificates parsed per message: at
 * most CERT_MAX (weird tls_too_many_certificates), SANs per certificate at
 * most SAN_MAX. Lists in events are allocated for the event and freed after
 * it (bounded by the message size).
 *
 * Gaps: a gap inside the body of a record being skipped or counted keeps the
 * framing; any other gap stops decoding of that direction (weird
 * tls_gap_lost_sync): its bytes are counted only.
 *
 * The SSLv2-compatible ClientHello (first client record) fires tls.client_hello
 * with sslv2 = true (version, ciphers; no JA3/JA4). After STARTTLS the mail
 * decoders hand the flow over (decoders/starttls.h). docs/decoders.md section 10.
 *
 * Weirds: tls_record_too_long, tls_bad_record, tls_handshake_too_long,
 * tls_handshake_truncated, tls_client_hello_malformed,
 * tls_server_hello_malformed, tls_extension_length_mismatch,
 * tls_certificate_malformed, tls_certificate_unparsed,
 * tls_too_many_certificates, tls_gap_lost_sync.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/md5.h>
#include <nettle/sha2.h>

#include "decoder.h"
#include "files.h"
#include "stream.h"

extern const eng_decoder_t eng_decoder_ssl;

#define REC_PLAIN_MAX 16384u
#define REC_MAX (16384u + 2048u)
#define HS_MAX_DEFAULT (64u * 1024u)
#define CERT_MAX 16
#define SAN_MAX 64
#define SAN_LEN 512

enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23, CT_HEARTBEAT = 24,
       CT_V2_HELLO = 0x80 /* our mark: an SSLv2-format ClientHello record */ };
enum { HT_CLIENT_HELLO = 1, HT_SERVER_HELLO = 2, HT_CERTIFICATE = 11, HT_SERVER_KEY_EXCHANGE = 12 };
/* per-direction reader state */
enum { D_HDR = 0, D_BODY, D_DONE };

typedef struct tdir {
    stream_reader_t sr;
    uint8_t st;
    uint8_t rtype;          /* the record being read */
    uint32_t rleft;         /* body bytes of it still to come */
    uint8_t parse;          /* its body is parsed (else only counted) */
    uint8_t enc;            /* further handshake records are encrypted */
    uint8_t ccs, app;       /* ChangeCipherSpec / application data seen */
    uint8_t ccs_early;      /* CCS before any ServerHello: only a ClientHello may follow in clear */
    uint8_t alert[2];
    uint8_t alert_len;
    uint8_t *hs;            /* handshake messages being reassembled */
    struct mem_acct *acct;  /* engine.memcap: hs_cap is charged to it */
    uint32_t hs_len, hs_cap;
    uint32_t hs_skip;       /* bytes of an over-long handshake message still to drop */
    uint64_t records, app_bytes;
} tdir_t;

typedef struct tls {
    tdir_t d[2];
    uint8_t inited;
    uint8_t established;
    uint8_t sh_seen;        /* a ServerHello (not a HelloRetryRequest) */
    uint8_t tls13;
    uint16_t version;       /* negotiated */
    uint16_t cipher;
    uint32_t hs_max;
} tls_t;

static int is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

/* ---- small growable text buffer (JA3 strings) -------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int bad;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->bad) return;
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 256;
        while (c < b->len + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->bad = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_num(sbuf_t *b, unsigned v, int *first, char sep)
{
    char t[16];
    int n = snprintf(t, sizeof t, "%s%u", *first ? "" : (sep == '-' ? "-" : ","), v);
    *first = 0;
    sb_put(b, t, (size_t)n);
}

static void hexstr(const uint8_t *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = 0;
}

static void md5_hex(const char *s, size_t n, char out[33])
{
    struct md5_ctx c;
    uint8_t d[MD5_DIGEST_SIZE];
    md5_init(&c);
    md5_update(&c, n, (const uint8_t *)s);
    md5_digest(&c, sizeof d, d);
    hexstr(d, sizeof d, out);
}

static void sha256_hex(const uint8_t *s, size_t n, char out[65])
{
    struct sha256_ctx c;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, n, s);
    sha256_digest(&c, sizeof d, d);
    hexstr(d, sizeof d, out);
}

/* ---- value lists for events -------------------------------------------------- */

typedef struct vlist {
    eng_value_t *v;
    uint32_t n, cap;
} vlist_t;

static void vl_add(vlist_t *l, eng_value_t x)
{
    if (l->n == l->cap) {
        uint32_t c = l->cap ? l->cap * 2 : 16;
        eng_value_t *q = realloc(l->v, c * sizeof *q);
        if (!q) return;
        l->v = q;
        l->cap = c;
    }
    l->v[l->n++] = x;
}

static eng_value_t vl_value(const vlist_t *l)
{
    eng_value_t v;
    v.type = ENG_T_LIST;
    v.len = l->n;
    v.u.list = l->v;
    v.offset = ENG_NO_OFFSET;
    return v;
}

/* ---- JA4 ------------------------------------------------------------------------ */

static int cmp_u16(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return x < y ? -1 : x > y;
}

static const char *ja4_version(uint16_t v)
{
    switch (v) {
    case 0x0304: return "13";
    case 0x0303: return "12";
    case 0x0302: return "11";
    case 0x0301: return "10";
    case 0x0300: return "s3";
    case 0x0002: return "s2";
    case 0xfeff: return "d1";
    case 0xfefd: return "d2";
    case 0xfefc: return "d3";
    default: return "00";
    }
}

static int alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* sha256 of a hex list, first 12 hex digits; "000000000000" when empty */
static void ja4_hash(const sbuf_t *b, char out[13])
{
    if (b->len == 0 || b->bad) {
        memcpy(out, "000000000000", 13);
        return;
    }
    char h[65];
    sha256_hex((const uint8_t *)b->p, b->len, h);
    memcpy(out, h, 12);
    out[12] = 0;
}

static void hex_list(sbuf_t *b, const uint16_t *v, size_t n)
{
    char t[8];
    for (size_t i = 0; i < n; i++) {
        snprintf(t, sizeof t, "%s%04x", i ? "," : "", v[i]);
        sb_put(b, t, strlen(t));
    }
}

/* JA4 = t<ver><d|i><nciphers:2><nexts:2><alpn:2>_<sha256(sorted ciphers)[:12]>_
 *       <sha256(sorted extensions without 0000 and 0010 "_" sig_algs in order)[:12]>
 * GREASE ignored everywhere; counts capped at 99; the version is the highest
 * of supported_versions, else the legacy version. out >= 40 bytes. */
static void ja4(uint16_t version, int sni, const uint16_t *ciph, size_t nc, const uint16_t *ext,
                size_t ne, const uint16_t *sig, size_t ns, const uint8_t *alpn, size_t alen,
                char *out, size_t outlen)
{
    char a[3] = "00";
    if (alen > 0) {
        uint8_t f = alpn[0], l = alpn[alen - 1];
        if (alnum(f) && alnum(l)) {
            a[0] = (char)f;
            a[1] = (char)l;
        } else {
            static const char hx[] = "0123456789abcdef";
            a[0] = hx[f >> 4];
            a[1] = hx[l & 15];
        }
    }
    uint16_t *sc = malloc((nc + ne + 1) * sizeof *sc);
    char hb[13], hc[13];
    if (!sc) {
        if (outlen) out[0] = 0;
        return;
    }
    uint16_t *se = sc + nc;
    if (nc) memcpy(sc, ciph, nc * sizeof *sc); /* ciph is NULL with no cipher suites */
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (ext[i] != 0x0000 && ext[i] != 0x0010) se[k++] = ext[i];
    qsort(sc, nc, sizeof *sc, cmp_u16);
    qsort(se, k, sizeof *se, cmp_u16);
    sbuf_t b = {0}, c = {0};
    hex_list(&b, sc, nc);
    ja4_hash(&b, hb);
    hex_list(&c, se, k);
    if (k && ns) {
        sb_put(&c, "_", 1);
        hex_list(&c, sig, ns);
    }
    if (k) ja4_hash(&c, hc);
    else memcpy(hc, "000000000000", 13);
    snprintf(out, outlen, "t%s%c%02u%02u%s_%s_%s", ja4_version(version), sni ? 'd' : 'i',
             (unsigned)(nc > 99 ? 99 : nc), (unsigned)(ne > 99 ? 99 : ne), a, hb, hc);
    free(b.p);
    free(c.p);
    free(sc);
}

/* ---- ClientHello ------------------------------------------------------------------ */

static void u16_add(uint16_t **a, size_t *n, size_t *cap, uint16_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        uint16_t *q = realloc(*a, c * sizeof *q);
        if (!q) return;
        *a = q;
        *cap = c;
    }
    (*a)[(*n)++] = v;
}

typedef struct u16s {
    uint16_t *v;
    size_t n, cap;
} u16s_t;

#define U16ADD(l, x) u16_add(&(l).v, &(l).n, &(l).cap, (x))

static eng_value_t int_list(vlist_t *vl, const u16s_t *l)
{
    for (size_t i = 0; i < l->n; i++) vl_add(vl, ev_int(l->v[i]));
    return vl_value(vl);
}

static void client_hello(eng_t *e, eng_flow_t *f, tls_t *s, const uint8_t *m, size_t len)
{
    bcur_t c = bcur(m, len);
    uint16_t legacy = bc_be16(&c);
    bc_skip(&c, 32);
    bcur_t sid = bc_sub(&c, bc_u8(&c));
    (void)sid;
    uint16_t cl = bc_be16(&c);
    bcur_t cs = bc_sub(&c, cl);
    bcur_t comp = bc_sub(&c, bc_u8(&c));
    (void)comp;
    if (c.bad || (cl & 1)) {
        eng_weird(e, f, "tls_client_hello_malformed", "ClientHello fields run past its end");
        return;
    }
    u16s_t ciph = {0}, ciph_ng = {0}, exts = {0}, exts_ng = {0}, groups = {0}, groups_ng = {0},
           pf = {0}, sigs = {0}, sigs_ng = {0}, vers = {0}, ks = {0};
    while (bc_has(&cs, 2)) {
        uint16_t v = bc_be16(&cs);
        U16ADD(ciph, v);
        if (!is_grease(v)) U16ADD(ciph_ng, v);
    }
    const uint8_t *sni = NULL;
    size_t sni_len = 0;
    vlist_t alpn = {0};
    const uint8_t *alpn1 = NULL;
    size_t alpn1_len = 0;
    int has_sni = 0, bad_ext = 0;
    uint16_t max_ver = 0;
    if (c.len > 0) {
        uint16_t el = bc_be16(&c);
        if (c.bad) {
            bad_ext = 1;
            eng_weird(e, f, "tls_extension_length_mismatch",
                      "ClientHello ends with 1 byte where the extensions length belongs");
        } else if (el != c.len) {
            bad_ext = 1;
            eng_weird(e, f, "tls_extension_length_mismatch",
                      "ClientHello extensions block is %u bytes, %zu remain", el, c.len);
        }
        bcur_t ex = bc_sub(&c, el < c.len ? el : c.len);
        while (ex.len > 0) {
            uint16_t t = bc_be16(&ex);
            uint16_t l = bc_be16(&ex);
            if (ex.bad || l > ex.len) {
                if (!bad_ext)
                    eng_weird(e, f, "tls_extension_length_mismatch",
                              "ClientHello extension %u claims %u bytes, %zu remain", t, l,
                              ex.bad ? (size_t)0 : ex.len);
                bad_ext = 1;
                break;
            }
            bcur_t b = bc_sub(&ex, l);
            U16ADD(exts, t);
            if (!is_grease(t)) U16ADD(exts_ng, t);
            int inner_bad = 0;
            switch (t) {
            case 0x0000: { /* server_name */
                has_sni = 1;
                bcur_t lst = bc_sub(&b, bc_be16(&b));
                while (lst.len > 0 && !lst.bad) {
                    uint8_t nt = bc_u8(&lst);
                    uint16_t nl = bc_be16(&lst);
                    bcur_t nm = bc_sub(&lst, nl);
                    if (nm.bad) break;
                    if (nt == 0 && !sni) {
                        sni = nm.p;
                        sni_len = nm.len;
                    }
                }
                inner_bad = lst.bad;
                break;
            }
            case 0x000a: { /* supported_groups */
                bcur_t lst = bc_sub(&b, bc_be16(&b));
                while (bc_has(&lst, 2)) {
                    uint16_t g = bc_be16(&lst);
                    U16ADD(groups, g);
                    if (!is_grease(g)) U16ADD(groups_ng, g);
                }
                inner_bad = lst.bad || lst.len;
                break;
            }
            case 0x000b: { /* ec_point_formats */
                bcur_t lst = bc_sub(&b, bc_u8(&b));
                while (bc_has(&lst, 1)) U16ADD(pf, bc_u8(&lst));
                inner_bad = lst.bad;
                break;
            }
            case 0x000d: { /* signature_algorithms */
                bcur_t lst = bc_sub(&b, bc_be16(&b));
                while (bc_has(&lst, 2)) {
                    uint16_t g = bc_be16(&lst);
                    U16ADD(sigs, g);
                    if (!is_grease(g)) U16ADD(sigs_ng, g);
                }
                inner_bad = lst.bad || lst.len;
                break;
            }
            case 0x0010: { /* ALPN */
                bcur_t lst = bc_sub(&b, bc_be16(&b));
                while (lst.len > 0 && !lst.bad) {
                    bcur_t nm = bc_sub(&lst, bc_u8(&lst));
                    if (nm.bad) break;
                    if (!alpn1 && alpn.n == 0) {
                        alpn1 = nm.p;
                        alpn1_len = nm.len;
                    }
                    vl_add(&alpn, ev_str(nm.p, nm.len, ENG_NO_OFFSET));
                }
                inner_bad = lst.bad;
                break;
            }
            case 0x002b: { /* supported_versions */
                bcur_t lst = bc_sub(&b, bc_u8(&b));
                while (bc_has(&lst, 2)) {
                    uint16_t v = bc_be16(&lst);
                    U16ADD(vers, v);
                    if (!is_grease(v) && v > max_ver) max_ver = v;
                }
                inner_bad = lst.bad || lst.len;
                break;
            }
            case 0x0033: { /* key_share */
                bcur_t lst = bc_sub(&b, bc_be16(&b));
                while (lst.len > 0 && !lst.bad) {
                    uint16_t g = bc_be16(&lst);
                    bcur_t k = bc_sub(&lst, bc_be16(&lst));
                    if (k.bad) break;
                    U16ADD(ks, g);
                }
                inner_bad = lst.bad;
                break;
            }
            default:
                break;
            }
            if ((inner_bad || b.bad) && !bad_ext) {
                eng_weird(e, f, "tls_extension_length_mismatch",
                          "ClientHello extension %u: inner lengths disagree with its length", t);
                bad_ext = 1;
            }
        }
    }
    if (!dec_wants(e, ENG_EV_TLS_CLIENT_HELLO)) goto out;
    /* JA3 */
    sbuf_t j3 = {0};
    char num[16];
    int first = 1;
    snprintf(num, sizeof num, "%u,", legacy);
    sb_put(&j3, num, strlen(num));
    for (size_t i = 0; i < ciph_ng.n; i++) sb_num(&j3, ciph_ng.v[i], &first, '-');
    sb_put(&j3, ",", 1);
    first = 1;
    for (size_t i = 0; i < exts_ng.n; i++) sb_num(&j3, exts_ng.v[i], &first, '-');
    sb_put(&j3, ",", 1);
    first = 1;
    for (size_t i = 0; i < groups_ng.n; i++) sb_num(&j3, groups_ng.v[i], &first, '-');
    sb_put(&j3, ",", 1);
    first = 1;
    for (size_t i = 0; i < pf.n; i++) sb_num(&j3, pf.v[i], &first, '-');
    char j3h[33] = "";
    if (!j3.bad && j3.p) md5_hex(j3.p, j3.len, j3h);
    char j4[64];
    ja4(max_ver ? max_ver : legacy, has_sni, ciph_ng.v, ciph_ng.n, exts_ng.v, exts_ng.n, sigs_ng.v,
        sigs_ng.n, alpn1, alpn1_len, j4, sizeof j4);

    vlist_t lv = {0}, lc = {0}, le = {0}, lg = {0}, lp = {0}, ls = {0}, lk = {0};
    eng_event_t ev;
    ev_init(&ev, ENG_EV_TLS_CLIENT_HELLO, f);
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_version, ev_int(legacy));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_versions, int_list(&lv, &vers));
    if (sni) ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_sni, ev_str(sni, sni_len, ENG_NO_OFFSET));
    if (alpn.n) ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_alpn, vl_value(&alpn));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_ciphers, int_list(&lc, &ciph));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_extensions, int_list(&le, &exts));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_groups, int_list(&lg, &groups));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_point_formats, int_list(&lp, &pf));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_sig_algs, int_list(&ls, &sigs));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_key_shares, int_list(&lk, &ks));
    if (j3h[0]) {
        ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_ja3, ev_str(j3h, 32, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_ja3_string, ev_str(j3.p, j3.len, ENG_NO_OFFSET));
    }
    if (j4[0]) ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_ja4, ev_cstr(j4));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_malformed, ev_bool(bad_ext));
    dec_fire(e, &ev);
    free(lv.v);
    free(lc.v);
    free(le.v);
    free(lg.v);
    free(lp.v);
    free(ls.v);
    free(lk.v);
    free(j3.p);
out:
    free(alpn.v);
    free(ciph.v);
    free(ciph_ng.v);
    free(exts.v);
    free(exts_ng.v);
    free(groups.v);
    free(groups_ng.v);
    free(pf.v);
    free(sigs.v);
    free(sigs_ng.v);
    free(vers.v);
    free(ks.v);
}

/* ---- ServerHello --------------------------------------------------------------------- */

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

static void server_hello(eng_t *e, eng_flow_t *f, tls_t *s, const uint8_t *m, size_t len)
{
    bcur_t c = bcur(m, len);
    uint16_t legacy = bc_be16(&c);
    uint8_t rnd[32];
    bc_copy(&c, rnd, 32);
    bc_sub(&c, bc_u8(&c));
    uint16_t cipher = bc_be16(&c);
    bc_u8(&c);
    if (c.bad) {
        eng_weird(e, f, "tls_server_hello_malformed", "ServerHello fields run past its end");
        return;
    }
    int hrr = !memcmp(rnd, hrr_random, 32);
    if (hrr) s->tls13 = 1; /* HelloRetryRequest exists only in TLS 1.3: CCS is then a no-op */
    u16s_t exts = {0};
    uint16_t version = legacy, group = 0;
    int has_group = 0, bad_ext = 0;
    const uint8_t *alpn = NULL;
    size_t alpn_len = 0;
    if (c.len > 0) {
        uint16_t el = bc_be16(&c);
        if (c.bad || el != c.len) {
            bad_ext = 1;
            eng_weird(e, f, "tls_extension_length_mismatch",
                      "ServerHello extensions block is %u bytes, %zu remain", el, c.len);
        }
        bcur_t ex = bc_sub(&c, el < c.len ? el : c.len);
        while (ex.len > 0) {
            uint16_t t = bc_be16(&ex);
            uint16_t l = bc_be16(&ex);
            if (ex.bad || l > ex.len) {
                if (!bad_ext)
                    eng_weird(e, f, "tls_extension_length_mismatch",
                              "ServerHello extension %u claims %u bytes", t, l);
                bad_ext = 1;
                break;
            }
            bcur_t b = bc_sub(&ex, l);
            U16ADD(exts, t);
            if (t == 0x002b && b.len >= 2) {
                version = bc_be16(&b);
            } else if (t == 0x0033 && b.len >= 2) {
                group = bc_be16(&b);
                has_group = 1;
            } else if (t == 0x0010) {
                bc_be16(&b);
                bcur_t nm = bc_sub(&b, bc_u8(&b));
                if (!nm.bad) {
                    alpn = nm.p;
                    alpn_len = nm.len;
                }
            }
        }
    }
    if (!hrr) {
        s->sh_seen = 1;
        s->version = version;
        s->cipher = cipher;
        s->tls13 = version == 0x0304 || (version >= 0x7f00 && version <= 0x7fff);
        if (s->tls13) s->d[ENG_RESP].enc = 1; /* the rest of the server's handshake is encrypted */
        else if (s->d[ENG_ORIG].ccs_early) s->d[ENG_ORIG].enc = 1;
    }
    if (dec_wants(e, ENG_EV_TLS_SERVER_HELLO)) {
        sbuf_t j = {0};
        char num[32];
        int first = 1;
        snprintf(num, sizeof num, "%u,%u,", legacy, cipher);
        sb_put(&j, num, strlen(num));
        for (size_t i = 0; i < exts.n; i++) sb_num(&j, exts.v[i], &first, '-');
        char jh[33] = "";
        if (!j.bad && j.p) md5_hex(j.p, j.len, jh);
        vlist_t le = {0};
        eng_event_t ev;
        ev_init(&ev, ENG_EV_TLS_SERVER_HELLO, f);
        ev_set(&ev, ENG_F_TLS_SERVER_HELLO_version, ev_int(version));
        ev_set(&ev, ENG_F_TLS_SERVER_HELLO_legacy_version, ev_int(legacy));
        ev_set(&ev, ENG_F_TLS_SERVER_HELLO_cipher, ev_int(cipher));
        ev_set(&ev, ENG_F_TLS_SERVER_HELLO_extensions, int_list(&le, &exts));
        if (jh[0]) {
            ev_set(&ev, ENG_F_TLS_SERVER_HELLO_ja3s, ev_str(jh, 32, ENG_NO_OFFSET));
            ev_set(&ev, ENG_F_TLS_SERVER_HELLO_ja3s_string, ev_str(j.p, j.len, ENG_NO_OFFSET));
        }
        if (has_group) ev_set(&ev, ENG_F_TLS_SERVER_HELLO_group, ev_int(group));
        if (alpn) ev_set(&ev, ENG_F_TLS_SERVER_HELLO_alpn, ev_str(alpn, alpn_len, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_TLS_SERVER_HELLO_hrr, ev_bool(hrr));
        dec_fire(e, &ev);
        free(le.v);
        free(j.p);
    }
    free(exts.v);
}

/* ---- Certificate ------------------------------------------------------------------------ */

static void one_cert(eng_t *e, eng_flow_t *f, int dir, int idx, const uint8_t *der, size_t n)
{
    char fuid[32] = "";
    eng_file_t *fl = eng_file_begin(e, f, dir, "tls", NULL, 0);
    if (fl) {
        eng_file_data(e, fl, der, n);
        const char *id = eng_file_fuid(fl);
        if (id) snprintf(fuid, sizeof fuid, "%s", id);
        eng_file_end(e, fl);
    }
    if (!dec_wants(e, ENG_EV_TLS_CERTIFICATE)) return;
    char fp[65];
    sha256_hex(der, n, fp);
    eng_event_t ev;
    ev_init(&ev, ENG_EV_TLS_CERTIFICATE, f);
    ev_set(&ev, ENG_F_TLS_CERTIFICATE_sha256, ev_str(fp, 64, ENG_NO_OFFSET));
    if (fuid[0]) ev_set(&ev, ENG_F_TLS_CERTIFICATE_fuid, ev_cstr(fuid));
    ev_set(&ev, ENG_F_TLS_CERTIFICATE_dir, ev_dir(dir));
    ev_set(&ev, ENG_F_TLS_CERTIFICATE_index, ev_int(idx));

    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {NULL, 0}, idn = {NULL, 0};
    char serial_hex[2 * 64 + 1] = "";
    char (*sans)[SAN_LEN] = NULL;
    vlist_t san = {0};
    int ok = 0;
    if (gnutls_x509_crt_init(&crt) == 0) {
        gnutls_datum_t d = {(unsigned char *)der, (unsigned)n};
        if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) == 0) ok = 1;
    }
    if (!ok) {
        eng_weird(e, f, "tls_certificate_unparsed", "certificate %d (%zu bytes) is not X.509 DER",
                  idx, n);
    } else {
        if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0)
            ev_set(&ev, ENG_F_TLS_CERTIFICATE_subject, ev_str(dn.data, dn.size, ENG_NO_OFFSET));
        if (gnutls_x509_crt_get_issuer_dn3(crt, &idn, 0) == 0)
            ev_set(&ev, ENG_F_TLS_CERTIFICATE_issuer, ev_str(idn.data, idn.size, ENG_NO_OFFSET));
        uint8_t ser[64];
        size_t sl = sizeof ser;
        if (gnutls_x509_crt_get_serial(crt, ser, &sl) == 0) {
            static const char hx[] = "0123456789ABCDEF";
            for (size_t i = 0; i < sl; i++) {
                serial_hex[2 * i] = hx[ser[i] >> 4];
                serial_hex[2 * i + 1] = hx[ser[i] & 15];
            }
            serial_hex[2 * sl] = 0;
            ev_set(&ev, ENG_F_TLS_CERTIFICATE_serial, ev_cstr(serial_hex));
        }
        time_t nb = gnutls_x509_crt_get_activation_time(crt);
        time_t na = gnutls_x509_crt_get_expiration_time(crt);
        if (nb != (time_t)-1) ev_set(&ev, ENG_F_TLS_CERTIFICATE_not_before, ev_num((double)nb));
        if (na != (time_t)-1) ev_set(&ev, ENG_F_TLS_CERTIFICATE_not_after, ev_num((double)na));
        sans = malloc(SAN_MAX * sizeof *sans);
        for (unsigned i = 0; sans && san.n < SAN_MAX && i < 4 * SAN_MAX; i++) {
            size_t sz = SAN_LEN - 1;
            unsigned crit = 0;
            int r = gnutls_x509_crt_get_subject_alt_name(crt, i, sans[san.n], &sz, &crit);
            if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
            if (r == GNUTLS_SAN_DNSNAME && sz < SAN_LEN) {
                vl_add(&san, ev_str(sans[san.n], sz, ENG_NO_OFFSET));
            }
        }
        ev_set(&ev, ENG_F_TLS_CERTIFICATE_san, vl_value(&san));
    }
    dec_fire(e, &ev);
    free(san.v);
    free(sans);
    if (dn.data) gnutls_free(dn.data);
    if (idn.data) gnutls_free(idn.data);
    if (crt) gnutls_x509_crt_deinit(crt);
}

static void certificate(eng_t *e, eng_flow_t *f, tls_t *s, int dir, const uint8_t *m, size_t len)
{
    if (!dec_wants(e, ENG_EV_TLS_CERTIFICATE) && !dec_wants(e, ENG_EV_FILE_BEGIN) &&
        !dec_wants(e, ENG_EV_FILE_DONE) && !dec_wants(e, ENG_EV_FILE_DATA))
        return;
    bcur_t c = bcur(m, len);
    if (s->tls13) bc_sub(&c, bc_u8(&c)); /* certificate_request_context (never in the clear) */
    uint32_t ll = (uint32_t)bc_u8(&c) << 16;
    ll |= bc_be16(&c);
    if (c.bad || ll != c.len) {
        eng_weird(e, f, "tls_certificate_malformed", "certificate list is %u bytes, %zu remain",
                  ll, c.bad ? (size_t)0 : c.len);
        if (c.bad) return;
    }
    bcur_t lst = bc_sub(&c, ll < c.len ? ll : c.len);
    int idx = 0;
    while (lst.len > 0) {
        uint32_t cl = (uint32_t)bc_u8(&lst) << 16;
        cl |= bc_be16(&lst);
        bcur_t one = bc_sub(&lst, cl);
        if (one.bad) {
            eng_weird(e, f, "tls_certificate_malformed", "certificate %d claims %u bytes", idx, cl);
            return;
        }
        if (s->tls13) bc_sub(&lst, bc_be16(&lst)); /* per-certificate extensions */
        if (idx >= CERT_MAX) {
            eng_weird(e, f, "tls_too_many_certificates", "more than %d certificates in a chain",
                      CERT_MAX);
            return;
        }
        one_cert(e, f, dir, idx, one.p, one.len);
        idx++;
    }
}

static void server_key_exchange(eng_t *e, eng_flow_t *f, tls_t *s, const uint8_t *m, size_t len)
{
    /* ECDHE and ECDH_anon suites only (IANA registry ranges; the PSK ones
     * begin with an identity hint and are left out): ServerECDHParams begin
     * with curve_type 3 (named_curve) and the group. */
    uint16_t cs = s->cipher;
    static const uint16_t r[][2] = {
        {0xc006, 0xc00a}, {0xc010, 0xc019}, {0xc023, 0xc024}, {0xc027, 0xc028}, {0xc02b, 0xc02c},
        {0xc02f, 0xc030}, {0xc048, 0xc049}, {0xc04c, 0xc04d}, {0xc05c, 0xc05d}, {0xc060, 0xc061},
        {0xc072, 0xc073}, {0xc076, 0xc077}, {0xc086, 0xc087}, {0xc08a, 0xc08b}, {0xc0ac, 0xc0af},
        {0xcca8, 0xcca9}};
    int ecdhe = 0;
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (cs >= r[i][0] && cs <= r[i][1]) ecdhe = 1;
    if (!ecdhe || len < 3 || m[0] != 3) return;
    if (!dec_wants(e, ENG_EV_TLS_SERVER_KEY_EXCHANGE)) return;
    eng_event_t ev;
    ev_init(&ev, ENG_EV_TLS_SERVER_KEY_EXCHANGE, f);
    ev_set(&ev, ENG_F_TLS_SERVER_KEY_EXCHANGE_group, ev_int(rd_be16(m, len, 1)));
    dec_fire(e, &ev);
}

/* ---- the SSLv2-compatible ClientHello (RFC 5246 appendix E.2) ------------------------------
 * m: the record body after the 2-byte header: msg_type 1, version, cipher_spec
 * length, session_id length, challenge length, then the specs (3 bytes each). It
 * fires tls.client_hello with version and ciphers (the 3-byte specs as numbers;
 * those of the form 0x00XXXX are the TLS suites XXXX); it has no extensions, so no
 * SNI, ALPN or lists; JA3 and JA4 are defined on TLS ClientHellos and are absent. */
static void v2_client_hello(eng_t *e, eng_flow_t *f, const uint8_t *m, size_t len)
{
    bcur_t c = bcur(m, len);
    bc_u8(&c);
    uint16_t ver = bc_be16(&c);
    uint16_t csl = bc_be16(&c), sidl = bc_be16(&c), chl = bc_be16(&c);
    bcur_t cs = bc_sub(&c, csl);
    bc_skip(&c, sidl);
    bc_skip(&c, chl);
    if (c.bad || csl % 3) {
        eng_weird(e, f, "tls_client_hello_malformed", "SSLv2 ClientHello fields disagree with its length");
        return;
    }
    if (!dec_wants(e, ENG_EV_TLS_CLIENT_HELLO)) return;
    vlist_t lc = {0};
    while (bc_has(&cs, 3)) {
        uint32_t v = (uint32_t)bc_u8(&cs) << 16;
        v |= bc_be16(&cs);
        vl_add(&lc, ev_int(v));
    }
    eng_event_t ev;
    ev_init(&ev, ENG_EV_TLS_CLIENT_HELLO, f);
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_version, ev_int(ver));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_ciphers, vl_value(&lc));
    ev_set(&ev, ENG_F_TLS_CLIENT_HELLO_sslv2, ev_bool(1));
    dec_fire(e, &ev);
    free(lc.v);
}

/* ---- handshake messages ---------------------------------------------------------------- */

static void hs_message(eng_t *e, eng_flow_t *f, tls_t *s, int dir, uint8_t type, const uint8_t *m,
                       size_t len)
{
    switch (type) {
    case HT_CLIENT_HELLO:
        if (dir == ENG_ORIG) client_hello(e, f, s, m, len);
        break;
    case HT_SERVER_HELLO:
        if (dir == ENG_RESP) server_hello(e, f, s, m, len);
        break;
    case HT_CERTIFICATE:
        certificate(e, f, s, dir, m, len);
        break;
    case HT_SERVER_KEY_EXCHANGE:
        if (dir == ENG_RESP) server_key_exchange(e, f, s, m, len);
        break;
    default:
        break;
    }
}

/* parse every complete message in the buffer */
static void hs_run(eng_t *e, eng_flow_t *f, tls_t *s, int dir)
{
    tdir_t *d = &s->d[dir];
    size_t pos = 0;
    while (d->hs_len - pos >= 4 && !d->enc) {
        const uint8_t *h = d->hs + pos;
        uint32_t ml = ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
        /* after a CCS seen before any ServerHello, anything but a ClientHello is the
         * encrypted Finished (the client's flight decoded before the server's): its
         * "length" is ciphertext, so this comes before the length check */
        if (d->ccs_early && h[0] != HT_CLIENT_HELLO) { /* encrypted after all */
            d->enc = 1;
            break;
        }
        if (ml > s->hs_max) {
            eng_weird(e, f, "tls_handshake_too_long",
                      "handshake message type %u of %u bytes (tls.max_handshake %u)", h[0], ml,
                      s->hs_max);
            size_t have = d->hs_len - pos - 4;
            d->hs_skip = ml > have ? (uint32_t)(ml - have) : 0;
            pos = d->hs_len;
            break;
        }
        if (d->hs_len - pos - 4 < ml) break;
        uint8_t type = h[0];
        pos += 4 + ml;
        hs_message(e, f, s, dir, type, h + 4, ml);
        if (d->st == D_DONE) return;
    }
    if (d->enc) pos = d->hs_len; /* what follows is encrypted */
    if (pos) {
        memmove(d->hs, d->hs + pos, d->hs_len - pos);
        d->hs_len -= (uint32_t)pos;
    }
}

static void hs_append(eng_t *e, eng_flow_t *f, tls_t *s, int dir, const uint8_t *p, size_t n)
{
    tdir_t *d = &s->d[dir];
    if (d->hs_skip) {
        size_t k = n < d->hs_skip ? n : d->hs_skip;
        d->hs_skip -= (uint32_t)k;
        p += k;
        n -= k;
    }
    while (n) {
        size_t room = (size_t)s->hs_max + 4 - d->hs_len;
        size_t k = n < room ? n : room;
        if (d->hs_len + k > d->hs_cap) {
            size_t c = d->hs_cap ? d->hs_cap : 4096;
            while (c < d->hs_len + k) c *= 2;
            if (c > (size_t)s->hs_max + 4) c = (size_t)s->hs_max + 4;
            uint8_t *q = realloc(d->hs, c);
            if (!q) return;
            dec_mem_charge(d->acct, (int64_t)c - (int64_t)d->hs_cap);
            d->hs = q;
            d->hs_cap = (uint32_t)c;
        }
        memcpy(d->hs + d->hs_len, p, k);
        d->hs_len += (uint32_t)k;
        p += k;
        n -= k;
        hs_run(e, f, s, dir);
        if (d->hs_skip && n) {
            size_t j = n < d->hs_skip ? n : d->hs_skip;
            d->hs_skip -= (uint32_t)j;
            p += j;
            n -= j;
        }
        if (d->enc || d->st == D_DONE) return;
    }
}

/* ---- records ------------------------------------------------------------------------------ */

/* append to the handshake buffer without parsing (the SSLv2 hello; <= 32 KiB) */
static void hs_raw(tdir_t *d, const uint8_t *p, size_t n)
{
    if (d->hs_len + n > d->hs_cap) {
        size_t c = d->hs_cap ? d->hs_cap : 4096;
        while (c < d->hs_len + n) c *= 2;
        uint8_t *q = realloc(d->hs, c);
        if (!q) return;
        dec_mem_charge(d->acct, (int64_t)c - (int64_t)d->hs_cap);
        d->hs = q;
        d->hs_cap = (uint32_t)c;
    }
    memcpy(d->hs + d->hs_len, p, n);
    d->hs_len += (uint32_t)n;
}

static void fire_established(eng_t *e, eng_flow_t *f, tls_t *s)
{
    if (s->established) return;
    s->established = 1;
    if (!dec_wants(e, ENG_EV_TLS_ESTABLISHED)) return;
    eng_event_t ev;
    ev_init(&ev, ENG_EV_TLS_ESTABLISHED, f);
    if (s->sh_seen) {
        ev_set(&ev, ENG_F_TLS_ESTABLISHED_version, ev_int(s->version));
        ev_set(&ev, ENG_F_TLS_ESTABLISHED_cipher, ev_int(s->cipher));
    }
    dec_fire(e, &ev);
}

static void alert(eng_t *e, eng_flow_t *f, int dir, const uint8_t a[2])
{
    if (!dec_wants(e, ENG_EV_TLS_ALERT)) return;
    eng_event_t ev;
    ev_init(&ev, ENG_EV_TLS_ALERT, f);
    ev_set(&ev, ENG_F_TLS_ALERT_dir, ev_dir(dir));
    ev_set(&ev, ENG_F_TLS_ALERT_level, ev_int(a[0]));
    ev_set(&ev, ENG_F_TLS_ALERT_description, ev_int(a[1]));
    dec_fire(e, &ev);
}

/* A flow FTP handed over (AUTH TLS) whose direction dir, at a record
 * boundary after TLS records, carries clear text again (CCC, RFC 4217
 * section 6; or a client and server that shut TLS down with close_notify and
 * went on in clear): a letter from the client, a reply digit from the server.
 * The flow goes back to a fresh FTP decoder from the record's first byte
 * (roff), with the 5 bytes read as a header and what the reader still holds
 * carried over. 1 when handed back. */
static int hand_back_to_ftp(eng_t *e, eng_flow_t *f, tls_t *s, int dir, uint64_t roff,
                            const uint8_t h[5])
{
    const char *from = dec_flow_handed_from(f);
    if (!from || strcmp(from, "ftp") != 0 || s->d[dir].records == 0) return 0;
    int clear = dir == ENG_ORIG ? ((h[0] | 0x20) >= 'a' && (h[0] | 0x20) <= 'z')
                                : (h[0] >= '1' && h[0] <= '6');
    if (!clear || dec_handoff(e, f, "ftp", dir, roff) != 0) return 0;
    stream_reader_t *r = &s->d[dir].sr;
    if (r->chunk) sr_push(r, r->chunk_off + r->chunk_len, NULL, 0); /* the unread rest into buf */
    size_t n = r->buf_len && r->buf_off == roff + 5 ? r->buf_len : 0;
    uint8_t *b = malloc(5 + n);
    if (b) {
        memcpy(b, h, 5);
        if (n) memcpy(b + 5, r->buf, n);
        dec_handoff_carry(e, f, dir, roff, b, 5 + n);
        free(b);
    }
    /* The other direction goes to FTP from where its TLS walk stands (the clear
     * text of one side can be decoded before the other side's last records, e.g.
     * the server's reply to CCC before the client's close_notify); FTP walks the
     * records it still finds there (ftp.c tls_walk). Bytes of a record header the
     * reader holds are carried; inside a record body, a stand-in header for the
     * rest of that record is carried in front of it, so FTP skips it too. */
    int o = !dir;
    tdir_t *od = &s->d[o];
    stream_reader_t *orr = &od->sr;
    if (orr->chunk) sr_push(orr, orr->chunk_off + orr->chunk_len, NULL, 0);
    if (od->st == D_HDR && orr->buf_len) {
        dec_handoff_carry(e, f, o, orr->buf_off, orr->buf, orr->buf_len);
    } else if (od->st == D_BODY && od->rleft && od->rleft <= 0xffff && !orr->buf_len) {
        uint64_t at = sr_offset(orr);
        uint8_t hb[5] = {CT_APPDATA, 3, 3, (uint8_t)(od->rleft >> 8), (uint8_t)od->rleft};
        if (at >= 5) dec_handoff_carry(e, f, o, at - 5, hb, 5);
    }
    s->d[0].st = s->d[1].st = D_DONE;
    return 1;
}

/* a record header has been read (its first byte at stream offset roff) */
static void record_begin(eng_t *e, eng_flow_t *f, tls_t *s, int dir, const uint8_t h[5],
                         uint64_t roff)
{
    tdir_t *d = &s->d[dir];
    uint8_t type = h[0];
    uint16_t ver = (uint16_t)((h[1] << 8) | h[2]);
    uint16_t len = (uint16_t)((h[3] << 8) | h[4]);
    if (dir == ENG_ORIG && d->records == 0 && (type & 0x80) && h[2] == HT_CLIENT_HELLO) {
        /* SSLv2 record header: 15-bit length, then the body, of which we hold 3 bytes */
        uint32_t vl = ((uint32_t)(type & 0x7f) << 8) | h[1];
        d->records++;
        d->st = D_BODY;
        if (vl < 9) {
            eng_weird(e, f, "tls_client_hello_malformed", "SSLv2 ClientHello of %u bytes", vl);
            d->st = D_DONE;
            return;
        }
        d->rtype = CT_V2_HELLO;
        d->parse = 1;
        d->rleft = vl - 3;
        d->hs_len = 0;
        hs_raw(d, h + 2, 3);
        return;
    }
    if (type < CT_CCS || type > CT_HEARTBEAT || (ver >> 8) != 3) {
        if (hand_back_to_ftp(e, f, s, dir, roff, h)) return;
        const char *from = dec_flow_handed_from(f);
        int text = 1;
        for (int i = 0; i < 5; i++) text &= (h[i] >= 0x20 && h[i] < 0x7f) || h[i] == '\r' || h[i] == '\n' || h[i] == '\t';
        if (from && d->records == 0 && text) {
            /* STARTTLS was accepted, then clear text instead of TLS: a server that
             * goes on in clear (stripped or injected STARTTLS), or a client talking
             * past the hand-off */
            char t[6];
            for (int i = 0; i < 5; i++) t[i] = h[i] >= 0x20 && h[i] < 0x7f ? (char)h[i] : '.';
            t[5] = 0;
            eng_weird(e, f, "tls_cleartext_after_starttls",
                      "%s sent clear text (\"%s...\") where TLS was expected after %s accepted STARTTLS: "
                      "the direction is no longer decoded", dir ? "resp" : "orig", t, from);
            d->st = D_DONE;
            return;
        }
        eng_weird(e, f, "tls_bad_record",
                  "%s record header type %u version 0x%04x: the direction is no longer decoded",
                  dir ? "resp" : "orig", type, ver);
        d->st = D_DONE;
        return;
    }
    d->records++;
    d->rtype = type;
    d->rleft = len;
    d->alert_len = 0;
    int plain = !d->enc && (type == CT_HANDSHAKE || type == CT_ALERT || type == CT_CCS);
    d->parse = plain;
    if (len > REC_MAX || (plain && len > REC_PLAIN_MAX)) {
        eng_weird(e, f, "tls_record_too_long", "%s record type %u of %u bytes (skipped)",
                  dir ? "resp" : "orig", type, len);
        d->parse = 0;
    }
    if (type == CT_CCS) {
        d->ccs = 1;
        /* TLS <= 1.2: what follows CCS is encrypted. Before any ServerHello
         * (a one-sided capture, or the TLS 1.3 middlebox-compatibility CCS
         * of a client answering a HelloRetryRequest we did not see) only a
         * second ClientHello can follow in the clear */
        if (!s->tls13 && s->sh_seen) d->enc = 1;
        else if (!s->tls13) d->ccs_early = 1;
        if (d->hs_len) {
            eng_weird(e, f, "tls_handshake_truncated",
                      "ChangeCipherSpec inside a %u-byte partial handshake message", d->hs_len);
            d->hs_len = 0;
        }
        d->hs_skip = 0;
        if (!s->tls13 && s->d[0].ccs && s->d[1].ccs) fire_established(e, f, s);
    } else if (type == CT_APPDATA) {
        d->app = 1;
        d->app_bytes += len;
        if (s->tls13 && s->sh_seen) {
            d->enc = 1;
            if (s->d[0].app && s->d[1].app) fire_established(e, f, s);
        }
    }
    d->st = D_BODY;
}

static void record_body(eng_t *e, eng_flow_t *f, tls_t *s, int dir, const uint8_t *p, size_t n)
{
    tdir_t *d = &s->d[dir];
    if (!d->parse) return;
    if (d->rtype == CT_V2_HELLO) {
        hs_raw(d, p, n);
    } else if (d->rtype == CT_HANDSHAKE) {
        hs_append(e, f, s, dir, p, n);
    } else if (d->rtype == CT_ALERT) {
        for (size_t i = 0; i < n; i++) {
            d->alert[d->alert_len++] = p[i];
            if (d->alert_len == 2) {
                alert(e, f, dir, d->alert);
                d->alert_len = 0;
            }
        }
    }
}

static void run(eng_t *e, eng_flow_t *f, tls_t *s, int dir)
{
    tdir_t *d = &s->d[dir];
    stream_reader_t *sr = &d->sr;
    sr_view_t v;
    if (!sr->chunk) return;
    for (;;) {
        if (d->st == D_DONE) {
            while (sr_some(sr, SIZE_MAX, &v) != SR_MORE) {}
            return;
        }
        if (d->st == D_HDR) {
            int rc = sr_bytes(sr, 5, &v);
            if (rc == SR_MORE) return;
            if (rc == SR_GAP) {
                eng_weird(e, f, "tls_gap_lost_sync", "%s: bytes lost between records",
                          dir ? "resp" : "orig");
                d->st = D_DONE;
                continue;
            }
            uint8_t h[5];
            memcpy(h, v.p, 5);
            record_begin(e, f, s, dir, h, v.off);
            continue;
        }
        /* D_BODY */
        if (d->rleft == 0) {
            d->st = D_HDR;
            if (d->rtype == CT_V2_HELLO) {
                v2_client_hello(e, f, d->hs, d->hs_len);
                d->hs_len = 0;
                d->rtype = 0;
            }
            continue;
        }
        int rc = sr_some(sr, d->rleft, &v);
        if (rc == SR_MORE) return;
        if (rc == SR_GAP) { /* only reached for gaps tls_gap did not absorb */
            d->st = D_DONE;
            continue;
        }
        d->rleft -= (uint32_t)v.len;
        record_body(e, f, s, dir, v.p, v.len);
    }
}

/* ---- descriptor -------------------------------------------------------------------------- */

static int tls_probe(const uint8_t *p, size_t len, int dir)
{
    (void)dir;
    if (len < 1) return -1;
    if ((p[0] & 0x80) && dir == ENG_ORIG) { /* SSLv2-format ClientHello */
        if (len < 5) return -1;
        uint32_t vl = ((uint32_t)(p[0] & 0x7f) << 8) | p[1];
        return vl >= 9 && p[2] == HT_CLIENT_HELLO &&
               ((p[3] == 3 && p[4] <= 4) || (p[3] == 0 && p[4] == 2));
    }
    if (p[0] != CT_HANDSHAKE) return 0;
    if (len < 2) return -1;
    if (p[1] != 3) return 0;
    if (len < 3) return -1;
    if (p[2] > 4) return 0;
    if (len < 6) return -1;
    uint16_t rl = (uint16_t)((p[3] << 8) | p[4]);
    if (rl < 4 || rl > REC_MAX) return 0;
    if (p[5] != HT_CLIENT_HELLO && p[5] != HT_SERVER_HELLO) return 0;
    if (len < 9) return -1;
    uint32_t ml = ((uint32_t)p[6] << 16) | ((uint32_t)p[7] << 8) | p[8];
    return ml >= 38 && ml <= 1u << 20; /* a hello's fixed part, a sane bound */
}

static void tls_init(eng_t *e, eng_flow_t *f, void *st)
{
    tls_t *s = st;
    for (int i = 0; i < 2; i++) {
        sr_init(&s->d[i].sr, 64);
        sr_bind(&s->d[i].sr, dec_flow_mem(f));
        s->d[i].acct = dec_flow_mem(f);
    }
    uint64_t m = dec_config_u64(e, "tls.max_handshake", HS_MAX_DEFAULT);
    if (m < 1024) m = 1024;
    if (m > (16u << 20)) m = 16u << 20;
    s->hs_max = (uint32_t)m;
    s->inited = 1;
}

static void tls_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                     size_t len)
{
    tls_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    /* nobody wants TLS events: nothing to do, unless FTP handed the flow over
     * and will want it back after CCC (hand_back_to_ftp) */
    if (!dec_wanted(e, &eng_decoder_ssl) && !dec_flow_handed_from(f)) return;
    sr_push(&s->d[dir].sr, off, p, len);
    run(e, f, s, dir);
}

static void tls_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    tls_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    tdir_t *d = &s->d[dir];
    if (len == 0) { /* engine.memcap cut: the record and handshake message being gathered go */
        sr_gap(&d->sr, off, 0);
        if (d->hs_len && d->st != D_DONE) {
            eng_weird(e, f, "tls_gap_lost_sync", "%s: a handshake message being gathered dropped (engine.memcap)",
                      dir ? "resp" : "orig");
            d->st = D_DONE;
        }
        dec_mem_charge(d->acct, -(int64_t)d->hs_cap);
        free(d->hs);
        d->hs = NULL;
        d->hs_cap = d->hs_len = 0;
        return;
    }
    stream_reader_t *sr = &d->sr;
    if (d->st == D_DONE) return;
    int absorbed = d->st == D_BODY && !d->parse && len <= d->rleft && sr->chunk &&
                   sr_avail(sr) == 0 && sr_offset(sr) == off;
    if (absorbed) {
        /* inside a body only counted: framing holds */
        d->rleft -= (uint32_t)len;
        sr_gap(sr, off, len);
        sr_view_t v;
        sr_some(sr, 0, &v); /* consume the SR_GAP report */
        return;
    }
    sr_gap(sr, off, len);
    if (d->st == D_BODY && d->parse && d->rtype == CT_HANDSHAKE) {
        eng_weird(e, f, "tls_gap_lost_sync", "%s: bytes lost inside a handshake record",
                  dir ? "resp" : "orig");
    } else if (d->st == D_BODY || d->st == D_HDR) {
        eng_weird(e, f, "tls_gap_lost_sync", "%s: bytes lost at a record boundary",
                  dir ? "resp" : "orig");
    }
    d->st = D_DONE;
}

static void tls_end(eng_t *e, eng_flow_t *f, void *st)
{
    tls_t *s = st;
    if (!s->inited) return;
    for (int i = 0; i < 2; i++) {
        tdir_t *d = &s->d[i];
        if (d->st != D_DONE && !d->enc && d->hs_len > 0)
            eng_weird(e, f, "tls_handshake_truncated",
                      "%s: the flow ended inside a handshake message (%u bytes kept)",
                      i ? "resp" : "orig", d->hs_len);
    }
    if (dec_wants(e, ENG_EV_TLS_END)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_TLS_END, f);
        ev_set(&ev, ENG_F_TLS_END_established, ev_bool(s->established));
        ev_set(&ev, ENG_F_TLS_END_orig_records, ev_int((int64_t)s->d[0].records));
        ev_set(&ev, ENG_F_TLS_END_resp_records, ev_int((int64_t)s->d[1].records));
        ev_set(&ev, ENG_F_TLS_END_orig_app_bytes, ev_int((int64_t)s->d[0].app_bytes));
        ev_set(&ev, ENG_F_TLS_END_resp_app_bytes, ev_int((int64_t)s->d[1].app_bytes));
        dec_fire(e, &ev);
    }
    for (int i = 0; i < 2; i++) {
        sr_free(&s->d[i].sr);
        dec_mem_charge(s->d[i].acct, -(int64_t)s->d[i].hs_cap);
        free(s->d[i].hs);
        s->d[i].hs = NULL;
        s->d[i].hs_cap = 0;
    }
    s->inited = 0;
}

static const uint16_t tls_ports[] = {443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 8443, 0};

static const char *const tls_uses[] = {"files", NULL};

const eng_decoder_t eng_decoder_ssl = {
    .name = "ssl",
    .uses = tls_uses,
    .probe = tls_probe,
    .ports = tls_ports,
    .state_size = sizeof(tls_t),
    .init = tls_init,
    .data = tls_data,
    .gap = tls_gap,
    .datagram = NULL,
    .end = tls_end,
};
