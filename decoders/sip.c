/* sip.c - SIP (RFC 3261) over UDP and TCP, SDP bodies (RFC 4566), and the
 * RTP/RTCP flows a call's SDP announces.
 *
 * UDP: one message per datagram (RFC 3261 §18.1.1), read by sip_datagram;
 * a datagram of only CR, LF, blanks or NULs is a keep-alive (RFC 5626 and the
 * NAT keep-alives of some phones) and is skipped.
 * TCP: each direction is read line by line (stream reader, max_unit =
 * stream.max_line) up to the empty line that ends the header block, then
 * Content-Length body bytes (§18.3): several messages per segment and one
 * message over many segments both work. The event fires once the body is
 * complete, so `sdp` is there.
 *
 * Both paths copy the start line and the header lines, unfolded (a line that
 * starts with a blank continues the previous one, joined by a space), into a
 * per-message buffer of at most HDR_MAX bytes; parse_message() then splits
 * it into at most HMAX headers. Header names are lower-cased and the compact
 * forms (i f t v m l c k s e o r b u x a j d y n) become their full names.
 * `headers` is a MAP full name -> value, in order of first appearance; a
 * repeated name (Via, Record-Route, ...) is joined with ", " in the order
 * sent, as HTTP does. from/to/call_id/cseq/user_agent are the first such
 * header's value.
 *
 * SDP (Content-Type application/sdp, body at most BODY_MAX bytes): `sdp` is a
 * MAP {body, version, origin, session, connection, media}; media is a LIST
 * of at most MEDIA_MAX MAPs {type, port, proto, formats (LIST), connection}
 * where connection is the media's own c= or else the session's. Each medium
 * with a port and an address (not 0.0.0.0 / ::) creates two expectations
 * (UDP, peer any, RTP_TIMEOUT): the media port gets decoder "rtp", port + 1
 * "rtp" as RTCP. The same address and port announced again for the same
 * Call-ID (a retransmission, a re-INVITE) is not expected twice. The flow
 * that comes gets service "rtp", parent_uid = the SIP flow, and at its end
 * the event rtp.end with the call's Call-ID (kept by the rtp decoder from the
 * parent's table of media, MEDIA_RING entries); its payload is counted, not
 * decoded.
 *
 * Weirds: sip_bad_start_line (a message that does not start with a request
 * or status line, or UDP: whose start line is longer than stream.max_line;
 * TCP then skips lines up to the next start line),
 * sip_bad_header (a header line without a name and colon: dropped),
 * sip_header_too_long (a line longer than stream.max_line, UDP and TCP: the
 * line is dropped), sip_headers_too_large (header block over HDR_MAX: the
 * message is dropped, TCP resynchronises), sip_too_many_headers (beyond HMAX:
 * the rest are not in `headers`), sip_unterminated_headers (UDP: no empty
 * line; the message is still reported), sip_truncated_message (TCP: the flow
 * ended inside a header block or body; a message cut in its body is still
 * reported with what came), sip_truncated_body (UDP: Content-Length past the
 * end of the datagram; the bytes there are the body), sip_bad_content_length
 * (not a number, or over CL_MAX: TCP resynchronises, UDP takes the rest of
 * the datagram), sip_missing_content_length (TCP without Content-Length:
 * taken as 0), sip_body_too_large (over BODY_MAX: the body is skipped, not
 * parsed), sip_bad_sdp (an SDP m= or c= line that does not parse),
 * rtp_unexpected_payload (rtp decoder: a datagram that is not RTP/RTCP v2;
 * once per flow).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "stream.h"
#include "text.h"

extern const eng_decoder_t eng_decoder_sip;
extern const eng_decoder_t eng_decoder_rtp;

#define HDR_MAX 65536u      /* start line + header block, unfolded */
#define HMAX 64             /* headers of one message */
#define BODY_MAX 65536u     /* body bytes kept (SDP) */
#define CL_MAX (1u << 24)   /* Content-Length above this: a framing error */
#define MEDIA_MAX 16        /* m= lines of one SDP */
#define FMT_MAX 16          /* formats of one m= line */
#define MEDIA_RING 16       /* announced media remembered per SIP flow */
#define CID_MAX 128         /* Call-ID bytes kept for the rtp flows */
#define RTP_TIMEOUT (300 * (int64_t)1000000000)

/* TCP direction states */
enum { D_START = 0, D_HDRS, D_BODY, D_RESYNC };

typedef struct msgbuf {
    uint8_t *p;
    uint32_t len, cap;
    struct mem_acct *acct; /* engine.memcap: cap is charged to it */
} msgbuf_t;

typedef struct sipdir {
    stream_reader_t sr;
    uint8_t st;
    uint8_t bad_reported;  /* a weird for this resync already */
    uint8_t overflow;      /* header block over HDR_MAX */
    msgbuf_t h;            /* start line + headers, '\n' after each */
    msgbuf_t b;            /* body kept */
    uint64_t need;         /* body bytes still to read */
    uint64_t body_len;     /* declared */
    uint64_t msg_off;      /* stream offset of the start line */
} sipdir_t;

typedef struct media_ent {
    uint64_t seq;          /* 0: free */
    uint8_t family;
    uint8_t addr[16];
    uint16_t port;
    uint8_t cid_len, type_len;
    char cid[CID_MAX];
    char type[16];
} media_ent_t;

typedef struct sip {
    uint8_t inited, tcp;
    sipdir_t d[2];
    msgbuf_t u;            /* UDP: the current datagram's header block */
    uint32_t max_line;
    uint64_t media_seq;
    media_ent_t media[MEDIA_RING];
} sip_t;

/* ---- small helpers ------------------------------------------------------------ */

static int mb_reserve(msgbuf_t *m, size_t extra, size_t limit)
{
    if ((size_t)m->len + extra > limit) return -1;
    size_t want = (size_t)m->len + extra;
    if (want <= m->cap) return 0;
    size_t nc = m->cap ? m->cap : 512;
    while (nc < want) nc *= 2;
    if (nc > limit) nc = limit;
    uint8_t *np = realloc(m->p, nc);
    if (!np) return -1;
    dec_mem_charge(m->acct, (int64_t)nc - (int64_t)m->cap);
    m->p = np;
    m->cap = (uint32_t)nc;
    return 0;
}

static void mb_free(msgbuf_t *m)
{
    dec_mem_charge(m->acct, -(int64_t)m->cap);
    free(m->p);
    m->p = NULL;
    m->len = m->cap = 0;
}

static int is_tchar(uint8_t c)
{
    if (c >= '0' && c <= '9') return 1;
    if ((c | 32) >= 'a' && (c | 32) <= 'z') return 1;
    return c && strchr("-.!%*_+`'~", c) != NULL;
}

/* a request line "METHOD uri SIP/2.0" or a status line "SIP/2.0 NNN reason" */
enum { L_NONE = 0, L_REQ, L_RESP };
typedef struct startline {
    int kind;
    const uint8_t *method, *uri, *reason;
    size_t method_len, uri_len, reason_len;
    int status;
} startline_t;

static int parse_start(const uint8_t *p, size_t n, startline_t *sl)
{
    memset(sl, 0, sizeof *sl);
    if (n >= 11 && !memcmp(p, "SIP/2.0 ", 8)) { /* the reason may be empty */
        lcur_t c = lcur(p, n);
        lc_skip(&c, 8);
        uint64_t code;
        if (lc_uint(&c, &code, 999) != 3 || code < 100) return L_NONE;
        if (!lc_eof(&c) && lc_peek(&c) != ' ' && lc_peek(&c) != '\t') return L_NONE;
        lc_skip_blanks(&c);
        sl->reason_len = lc_rest(&c, &sl->reason);
        txt_trim(&sl->reason, &sl->reason_len);
        sl->status = (int)code;
        return sl->kind = L_RESP;
    }
    lcur_t c = lcur(p, n);
    sl->method_len = lc_token(&c, &sl->method);
    if (sl->method_len == 0 || sl->method_len > 32 || !lc_expect(&c, ' ')) return L_NONE;
    for (size_t i = 0; i < sl->method_len; i++)
        if (!is_tchar(sl->method[i])) return L_NONE;
    sl->uri_len = lc_token(&c, &sl->uri);
    if (sl->uri_len == 0 || !lc_expect(&c, ' ')) return L_NONE;
    const uint8_t *v;
    size_t vl = lc_rest(&c, &v);
    txt_trim(&v, &vl);
    if (!txt_ieq(v, vl, "SIP/2.0")) return L_NONE;
    /* a scheme: letters then ':' */
    size_t i = 0;
    while (i < sl->uri_len && ((sl->uri[i] | 32) >= 'a' && (sl->uri[i] | 32) <= 'z')) i++;
    if (i == 0 || i >= sl->uri_len || sl->uri[i] != ':') return L_NONE;
    return sl->kind = L_REQ;
}

/* ---- content probe ---------------------------------------------------------------- */

static int is_prefix(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n <= k && !memcmp(p, s, n);
}

static int sip_probe(const uint8_t *p, size_t len, int dir)
{
    (void)dir;
    if (!p) return -1;
    size_t i = 0;
    while (i < len && (p[i] == '\r' || p[i] == '\n')) i++; /* keep-alives first */
    p += i;
    len -= i;
    if (len == 0) return -1;
    size_t eol = 0;
    while (eol < len && p[eol] != '\n') eol++;
    size_t n = eol;
    if (n && p[n - 1] == '\r') n--;
    startline_t sl;
    if (eol < len) return parse_start(p, n, &sl) != L_NONE;
    /* the first line is not complete yet: could it still become one? */
    if (len >= 512) return 0;
    if (is_prefix(p, len, "SIP/2.0 ")) return -1;
    if (len > 8 && !memcmp(p, "SIP/2.0 ", 8)) {
        for (size_t k = 8; k < len && k < 11; k++)
            if (p[k] < '0' || p[k] > '9') return 0;
        return -1;
    }
    size_t m = 0;
    while (m < len && is_tchar(p[m])) m++;
    if (m == len) return m <= 32 ? -1 : 0;
    if (m == 0 || m > 32 || p[m] != ' ') return 0;
    /* the URI's scheme */
    size_t k = m + 1;
    while (k < len && ((p[k] | 32) >= 'a' && (p[k] | 32) <= 'z')) k++;
    if (k == len) return -1;
    if (k == m + 1 || p[k] != ':') return 0;
    return -1;
}

/* ---- header names --------------------------------------------------------------------- */

static const char *compact_name(uint8_t c)
{
    switch (c) {
    case 'i': return "call-id";
    case 'f': return "from";
    case 't': return "to";
    case 'v': return "via";
    case 'm': return "contact";
    case 'l': return "content-length";
    case 'c': return "content-type";
    case 'k': return "supported";
    case 's': return "subject";
    case 'e': return "content-encoding";
    case 'o': return "event";
    case 'r': return "refer-to";
    case 'b': return "referred-by";
    case 'u': return "allow-events";
    case 'x': return "session-expires";
    case 'a': return "accept-contact";
    case 'j': return "reject-contact";
    case 'd': return "request-disposition";
    case 'y': return "identity";
    case 'n': return "identity-info";
    default: return NULL;
    }
}

typedef struct hdr {
    const uint8_t *name;
    size_t name_len;
    const uint8_t *val;
    size_t val_len;
} hdr_t;

typedef struct msg {
    startline_t sl;
    hdr_t h[HMAX];
    int nh;
    int unterminated;      /* UDP: no empty line */
} msg_t;

static const hdr_t *find_hdr(const msg_t *m, const char *name)
{
    for (int i = 0; i < m->nh; i++)
        if (txt_ieq(m->h[i].name, m->h[i].name_len, name)) return &m->h[i];
    return NULL;
}

/* split the unfolded block (lines ending in '\n'; the first is the start
 * line) into m; names lower-cased in place, compact forms expanded */
static int parse_block(eng_t *e, eng_flow_t *f, uint8_t *b, size_t n, msg_t *m)
{
    memset(m, 0, sizeof *m);
    size_t pos = 0, eol = 0;
    while (eol < n && b[eol] != '\n') eol++;
    if (parse_start(b, eol, &m->sl) == L_NONE) return -1;
    pos = eol + 1;
    int too_many = 0;
    while (pos < n) {
        size_t s = pos;
        while (pos < n && b[pos] != '\n') pos++;
        uint8_t *line = b + s;
        size_t ll = pos - s;
        pos++;
        size_t i = 0;
        while (i < ll && is_tchar(line[i])) i++;
        size_t nl = i;
        while (i < ll && (line[i] == ' ' || line[i] == '\t')) i++;
        if (nl == 0 || i >= ll || line[i] != ':') {
            eng_weird(e, f, "sip_bad_header", "%.*s", (int)(ll > 40 ? 40 : ll), (const char *)line);
            continue;
        }
        if (m->nh >= HMAX) {
            if (!too_many)
                eng_weird(e, f, "sip_too_many_headers", "more than %d header lines", HMAX);
            too_many = 1;
            continue;
        }
        for (size_t k = 0; k < nl; k++) line[k] = (uint8_t)txt_lower(line[k]);
        hdr_t *h = &m->h[m->nh++];
        const char *full = nl == 1 ? compact_name(line[0]) : NULL;
        if (full) {
            h->name = (const uint8_t *)full;
            h->name_len = strlen(full);
        } else {
            h->name = line;
            h->name_len = nl;
        }
        h->val = line + i + 1;
        h->val_len = ll - i - 1;
        txt_trim(&h->val, &h->val_len);
    }
    return 0;
}

/* the URI and tag of a From/To value: "Name" <uri>;tag=x  or  uri;tag=x */
static void addr_parts(const uint8_t *p, size_t n, const uint8_t **uri, size_t *ul,
                       const uint8_t **tag, size_t *tl)
{
    *uri = NULL;
    *ul = 0;
    *tag = NULL;
    *tl = 0;
    if (!p) return;
    size_t i = 0, params = 0;
    int inq = 0;
    size_t lt = n;
    for (i = 0; i < n; i++) {
        if (p[i] == '"' && (i == 0 || p[i - 1] != '\\')) inq = !inq;
        else if (!inq && p[i] == '<') {
            lt = i;
            break;
        }
    }
    if (lt < n) {
        size_t gt = lt + 1;
        while (gt < n && p[gt] != '>') gt++;
        *uri = p + lt + 1;
        *ul = gt - lt - 1;
        params = gt < n ? gt + 1 : n;
    } else {
        size_t k = 0;
        while (k < n && p[k] != ';') k++;
        *uri = p;
        *ul = k;
        txt_trim(uri, ul);
        params = k;
    }
    /* ;tag= among the parameters */
    for (size_t k = params; k < n; k++) {
        if (p[k] != ';') continue;
        size_t j = k + 1;
        while (j < n && txt_is_ws(p[j])) j++;
        if (n - j >= 4 && txt_iprefix(p + j, n - j, "tag") ) {
            size_t q = j + 3;
            while (q < n && txt_is_ws(p[q])) q++;
            if (q < n && p[q] == '=') {
                q++;
                while (q < n && txt_is_ws(p[q])) q++;
                size_t r = q;
                while (r < n && p[r] != ';' && p[r] != ',' && !txt_is_ws(p[r])) r++;
                *tag = p + q;
                *tl = r - q;
                return;
            }
        }
    }
}

/* the branch parameter of the first via-parm of a Via value */
static void via_branch(const uint8_t *p, size_t n, const uint8_t **br, size_t *bl)
{
    *br = NULL;
    *bl = 0;
    if (!p) return;
    size_t end = 0;
    while (end < n && p[end] != ',') end++;
    const uint8_t *b = txt_isearch(p, end, ";branch=");
    if (!b) return;
    size_t q = (size_t)(b - p) + 8, r = q;
    while (r < end && p[r] != ';' && !txt_is_ws(p[r])) r++;
    *br = p + q;
    *bl = r - q;
}

/* ---- SDP --------------------------------------------------------------------------------- */

/* "IN IP4 addr[/ttl]": the address; 1 when parsed */
static int sdp_conn(const uint8_t *p, size_t n, const uint8_t **a, size_t *al, int *fam)
{
    lcur_t c = lcur(p, n);
    const uint8_t *t;
    size_t tl = lc_token(&c, &t);
    if (!txt_ieq(t, tl, "IN")) return 0;
    lc_skip_blanks(&c);
    tl = lc_token(&c, &t);
    if (txt_ieq(t, tl, "IP4")) *fam = 4;
    else if (txt_ieq(t, tl, "IP6")) *fam = 6;
    else return 0;
    lc_skip_blanks(&c);
    tl = lc_token(&c, &t);
    size_t k = 0;
    while (k < tl && t[k] != '/') k++;
    if (k == 0) return 0;
    *a = t;
    *al = k;
    return 1;
}

typedef struct sdp_media {
    const uint8_t *type, *proto, *conn;
    size_t type_len, proto_len, conn_len;
    int conn_fam;
    uint64_t port;
    const uint8_t *fmt[FMT_MAX];
    size_t fmt_len[FMT_MAX];
    int nfmt;
} sdp_media_t;

typedef struct sdp {
    const uint8_t *version, *origin, *session, *conn;
    size_t version_len, origin_len, session_len, conn_len;
    int conn_fam;
    sdp_media_t m[MEDIA_MAX];
    int nm;
} sdp_t;

static void parse_sdp(eng_t *e, eng_flow_t *f, const uint8_t *p, size_t n, sdp_t *s)
{
    memset(s, 0, sizeof *s);
    size_t pos = 0;
    int in_media = 0, reported = 0;
    while (pos < n) {
        size_t st = pos;
        while (pos < n && p[pos] != '\n') pos++;
        size_t ll = pos - st;
        const uint8_t *l = p + st;
        pos++;
        if (ll && l[ll - 1] == '\r') ll--;
        if (ll < 2 || l[1] != '=') continue;
        const uint8_t *v = l + 2;
        size_t vl = ll - 2;
        txt_trim(&v, &vl);
        switch (l[0]) {
        case 'v':
            if (!in_media) s->version = v, s->version_len = vl;
            break;
        case 'o':
            if (!in_media) s->origin = v, s->origin_len = vl;
            break;
        case 's':
            if (!in_media) s->session = v, s->session_len = vl;
            break;
        case 'c': {
            const uint8_t *a;
            size_t al;
            int fam;
            if (!sdp_conn(v, vl, &a, &al, &fam)) {
                if (!reported++)
                    eng_weird(e, f, "sip_bad_sdp", "c=%.*s", (int)(vl > 40 ? 40 : vl), (const char *)v);
                break;
            }
            if (in_media == 1 && s->nm > 0) {
                sdp_media_t *m = &s->m[s->nm - 1];
                m->conn = a, m->conn_len = al, m->conn_fam = fam;
            } else if (!in_media) {
                s->conn = a, s->conn_len = al, s->conn_fam = fam;
            }
            break;
        }
        case 'm': {
            in_media = 1;
            lcur_t c = lcur(v, vl);
            sdp_media_t m;
            memset(&m, 0, sizeof m);
            m.type_len = lc_token(&c, &m.type);
            lc_skip_blanks(&c);
            uint64_t port = 0;
            int ok = m.type_len > 0 && lc_uint(&c, &port, 65535) > 0;
            if (ok && lc_expect(&c, '/')) { /* port/count */
                uint64_t cnt;
                lc_uint(&c, &cnt, 65535);
            }
            lc_skip_blanks(&c);
            m.proto_len = lc_token(&c, &m.proto);
            if (!ok || m.proto_len == 0) {
                if (!reported++)
                    eng_weird(e, f, "sip_bad_sdp", "m=%.*s", (int)(vl > 40 ? 40 : vl), (const char *)v);
                in_media = 2; /* this medium's c= lines are not attached */
                break;
            }
            m.port = port;
            for (;;) {
                lc_skip_blanks(&c);
                if (lc_eof(&c)) break;
                const uint8_t *t;
                size_t tl = lc_token(&c, &t);
                if (m.nfmt < FMT_MAX) {
                    m.fmt[m.nfmt] = t;
                    m.fmt_len[m.nfmt] = tl;
                    m.nfmt++;
                }
            }
            if (s->nm < MEDIA_MAX) s->m[s->nm++] = m;
            else in_media = 2; /* beyond MEDIA_MAX: not reported */
            break;
        }
        default:
            break;
        }
    }
    for (int i = 0; i < s->nm; i++)
        if (!s->m[i].conn) {
            s->m[i].conn = s->conn;
            s->m[i].conn_len = s->conn_len;
            s->m[i].conn_fam = s->conn_fam;
        }
}

/* remember a medium and expect its RTP and RTCP flows */
static void expect_media(eng_t *e, eng_flow_t *f, sip_t *s, const sdp_media_t *m,
                         const uint8_t *cid, size_t cidl)
{
    if (!m->conn || m->port == 0 || m->port >= 65535) return;
    char as[64];
    if (m->conn_len >= sizeof as) return;
    memcpy(as, m->conn, m->conn_len);
    as[m->conn_len] = 0;
    uint8_t addr[16];
    memset(addr, 0, sizeof addr);
    if (inet_pton(m->conn_fam == 6 ? AF_INET6 : AF_INET, as, addr) != 1) return;
    static const uint8_t zero[16];
    if (!memcmp(addr, zero, m->conn_fam == 6 ? 16 : 4)) return; /* on hold */
    if (cidl > CID_MAX) cidl = CID_MAX;
    for (int i = 0; i < MEDIA_RING; i++) {
        media_ent_t *x = &s->media[i];
        if (x->seq && x->family == m->conn_fam && x->port == m->port && !memcmp(x->addr, addr, 16) &&
            x->cid_len == cidl && (!cidl || !memcmp(x->cid, cid, cidl)))
            return; /* announced already (cid is NULL when the message has no Call-ID) */
    }
    uint64_t seq = ++s->media_seq;
    media_ent_t *x = &s->media[seq % MEDIA_RING];
    memset(x, 0, sizeof *x);
    x->seq = seq;
    x->family = (uint8_t)m->conn_fam;
    memcpy(x->addr, addr, 16);
    x->port = (uint16_t)m->port;
    x->cid_len = (uint8_t)cidl;
    if (cidl) memcpy(x->cid, cid, cidl);
    size_t tl = m->type_len < sizeof x->type ? m->type_len : sizeof x->type;
    if (tl) memcpy(x->type, m->type, tl);
    x->type_len = (uint8_t)tl;
    for (int rtcp = 0; rtcp < 2; rtcp++) {
        dec_expect_t ex;
        memset(&ex, 0, sizeof ex);
        ex.proto = 17;
        ex.family = (uint8_t)m->conn_fam;
        ex.peer_any = 1;
        memcpy(ex.addr, addr, 16);
        ex.port = (uint16_t)(m->port + (uint64_t)rtcp);
        ex.timeout_ns = RTP_TIMEOUT;
        ex.service = "rtp";
        ex.tag = seq << 1 | (uint64_t)rtcp;
        dec_expect(e, f, &ex);
    }
}

/* ---- one message ------------------------------------------------------------------------------ */

static eng_value_t mapv(const eng_value_t *items, int n)
{
    eng_value_t v;
    memset(&v, 0, sizeof v);
    v.type = ENG_T_MAP;
    v.len = (uint32_t)n;
    v.u.list = items;
    v.offset = ENG_NO_OFFSET;
    return v;
}

static eng_value_t listv(const eng_value_t *items, int n)
{
    eng_value_t v = mapv(items, n);
    v.type = ENG_T_LIST;
    return v;
}

static eng_value_t sv(const uint8_t *p, size_t n) { return ev_str(p, n, ENG_NO_OFFSET); }

static int is_sdp(const hdr_t *ct)
{
    if (!ct) return 0;
    size_t k = 0;
    while (k < ct->val_len && ct->val[k] != ';') k++;
    const uint8_t *t = ct->val;
    txt_trim(&t, &k);
    return txt_ieq(t, k, "application/sdp");
}

/* a complete message: block b[0..n) (start line and unfolded headers, each
 * ending in '\n'), body; fire its event and expect its media */
static void message(eng_t *e, eng_flow_t *f, sip_t *s, int dir, uint8_t *b, size_t n,
                    const uint8_t *body, size_t blen, uint64_t off)
{
    msg_t m;
    if (!b || !n) return;
    if (parse_block(e, f, b, n, &m) < 0) {
        eng_weird(e, f, "sip_bad_start_line", "%.*s", (int)(n > 40 ? 40 : n), (const char *)b);
        return;
    }
    const hdr_t *cid = find_hdr(&m, "call-id");
    int sdp_body = body && blen && is_sdp(find_hdr(&m, "content-type"));
    sdp_t sd;
    if (sdp_body) {
        parse_sdp(e, f, body, blen, &sd);
        for (int i = 0; i < sd.nm; i++)
            expect_media(e, f, s, &sd.m[i], cid ? cid->val : NULL, cid ? cid->val_len : 0);
    }
    int req = m.sl.kind == L_REQ;
    int kind = req ? ENG_EV_SIP_REQUEST : ENG_EV_SIP_RESPONSE;
    if (!dec_wants(e, kind)) return;

    /* headers: first appearance order, repeated names joined */
    eng_value_t map[2 * HMAX];
    int np = 0;
    size_t need = 16;
    for (int i = 0; i < m.nh; i++) need += m.h[i].val_len + 2;
    uint8_t *scratch = malloc(need);
    size_t used = 0;
    uint8_t done[HMAX];
    memset(done, 0, sizeof done);
    for (int i = 0; i < m.nh; i++) {
        if (done[i]) continue;
        const hdr_t *a = &m.h[i];
        eng_value_t val = sv(a->val, a->val_len);
        int joined = 0;
        for (int j = i + 1; j < m.nh && scratch; j++) {
            const hdr_t *c = &m.h[j];
            if (done[j] || c->name_len != a->name_len || memcmp(c->name, a->name, a->name_len)) continue;
            done[j] = 1;
            if (!joined) {
                memcpy(scratch + used, a->val, a->val_len);
                val = sv(scratch + used, a->val_len);
                used += a->val_len;
                joined = 1;
            }
            memcpy(scratch + used, ", ", 2);
            memcpy(scratch + used + 2, c->val, c->val_len);
            used += 2 + c->val_len;
            val.len += (uint32_t)(2 + c->val_len);
        }
        map[2 * np] = sv(a->name, a->name_len);
        map[2 * np + 1] = val;
        np++;
    }

    /* sdp */
    eng_value_t sdpmap[12], medlist[MEDIA_MAX], medmap[MEDIA_MAX][10], fmts[MEDIA_MAX][FMT_MAX];
    int ns = 0;
    if (sdp_body) {
        sdpmap[ns++] = ev_cstr("body");
        sdpmap[ns++] = sv(body, blen);
        if (sd.version) sdpmap[ns++] = ev_cstr("version"), sdpmap[ns++] = sv(sd.version, sd.version_len);
        if (sd.origin) sdpmap[ns++] = ev_cstr("origin"), sdpmap[ns++] = sv(sd.origin, sd.origin_len);
        if (sd.session) sdpmap[ns++] = ev_cstr("session"), sdpmap[ns++] = sv(sd.session, sd.session_len);
        if (sd.conn) sdpmap[ns++] = ev_cstr("connection"), sdpmap[ns++] = sv(sd.conn, sd.conn_len);
        for (int i = 0; i < sd.nm; i++) {
            const sdp_media_t *md = &sd.m[i];
            int k = 0;
            medmap[i][k++] = ev_cstr("type");
            medmap[i][k++] = sv(md->type, md->type_len);
            medmap[i][k++] = ev_cstr("port");
            medmap[i][k++] = ev_int((int64_t)md->port);
            medmap[i][k++] = ev_cstr("proto");
            medmap[i][k++] = sv(md->proto, md->proto_len);
            for (int j = 0; j < md->nfmt; j++) fmts[i][j] = sv(md->fmt[j], md->fmt_len[j]);
            medmap[i][k++] = ev_cstr("formats");
            medmap[i][k++] = listv(fmts[i], md->nfmt);
            if (md->conn) {
                medmap[i][k++] = ev_cstr("connection");
                medmap[i][k++] = sv(md->conn, md->conn_len);
            }
            medlist[i] = mapv(medmap[i], k / 2);
        }
        sdpmap[ns++] = ev_cstr("media");
        sdpmap[ns++] = listv(medlist, sd.nm);
    }

    const hdr_t *from = find_hdr(&m, "from"), *to = find_hdr(&m, "to");
    const hdr_t *cseq = find_hdr(&m, "cseq"), *via = find_hdr(&m, "via");
    const uint8_t *fu, *ft, *tu, *tt, *br;
    size_t ful, ftl, tul, ttl, brl;
    addr_parts(from ? from->val : NULL, from ? from->val_len : 0, &fu, &ful, &ft, &ftl);
    addr_parts(to ? to->val : NULL, to ? to->val_len : 0, &tu, &tul, &tt, &ttl);
    via_branch(via ? via->val : NULL, via ? via->val_len : 0, &br, &brl);

    eng_event_t ev;
    ev_init(&ev, kind, f);
#define SETH(field, h) \
    if (h) ev_set(&ev, field, sv((h)->val, (h)->val_len))
#define SETP(field, p, n) \
    if (p) ev_set(&ev, field, sv(p, n))
    if (req) {
        ev_set(&ev, ENG_F_SIP_REQUEST_method, sv(m.sl.method, m.sl.method_len));
        ev_set(&ev, ENG_F_SIP_REQUEST_uri, sv(m.sl.uri, m.sl.uri_len));
        SETH(ENG_F_SIP_REQUEST_call_id, cid);
        SETH(ENG_F_SIP_REQUEST_from, from);
        SETH(ENG_F_SIP_REQUEST_to, to);
        SETH(ENG_F_SIP_REQUEST_cseq, cseq);
        const hdr_t *ua = find_hdr(&m, "user-agent");
        SETH(ENG_F_SIP_REQUEST_user_agent, ua);
        ev_set(&ev, ENG_F_SIP_REQUEST_headers, mapv(map, np));
        if (sdp_body) ev_set(&ev, ENG_F_SIP_REQUEST_sdp, mapv(sdpmap, ns / 2));
        if (s->tcp) ev_set(&ev, ENG_F_SIP_REQUEST_offset, ev_int((int64_t)off));
        SETP(ENG_F_SIP_REQUEST_from_uri, fu, ful);
        SETP(ENG_F_SIP_REQUEST_from_tag, ft, ftl);
        SETP(ENG_F_SIP_REQUEST_to_uri, tu, tul);
        SETP(ENG_F_SIP_REQUEST_to_tag, tt, ttl);
        SETP(ENG_F_SIP_REQUEST_branch, br, brl);
        ev_set(&ev, ENG_F_SIP_REQUEST_dir, ev_dir(dir));
    } else {
        ev_set(&ev, ENG_F_SIP_RESPONSE_status, ev_int(m.sl.status));
        ev_set(&ev, ENG_F_SIP_RESPONSE_reason, sv(m.sl.reason, m.sl.reason_len));
        SETH(ENG_F_SIP_RESPONSE_call_id, cid);
        SETH(ENG_F_SIP_RESPONSE_from, from);
        SETH(ENG_F_SIP_RESPONSE_to, to);
        SETH(ENG_F_SIP_RESPONSE_cseq, cseq);
        ev_set(&ev, ENG_F_SIP_RESPONSE_headers, mapv(map, np));
        if (sdp_body) ev_set(&ev, ENG_F_SIP_RESPONSE_sdp, mapv(sdpmap, ns / 2));
        if (s->tcp) ev_set(&ev, ENG_F_SIP_RESPONSE_offset, ev_int((int64_t)off));
        SETP(ENG_F_SIP_RESPONSE_from_uri, fu, ful);
        SETP(ENG_F_SIP_RESPONSE_from_tag, ft, ftl);
        SETP(ENG_F_SIP_RESPONSE_to_uri, tu, tul);
        SETP(ENG_F_SIP_RESPONSE_to_tag, tt, ttl);
        SETP(ENG_F_SIP_RESPONSE_branch, br, brl);
        ev_set(&ev, ENG_F_SIP_RESPONSE_dir, ev_dir(dir));
    }
#undef SETH
#undef SETP
    dec_fire(e, &ev);
    free(scratch);
}

/* append a header line to the block, unfolding continuation lines;
 * -1 when the block would pass HDR_MAX */
static int block_add(msgbuf_t *h, const uint8_t *p, size_t n)
{
    int cont = n > 0 && (p[0] == ' ' || p[0] == '\t') && h->len > 0;
    if (cont) {
        while (n && txt_is_ws(p[0])) p++, n--;
        if (mb_reserve(h, n + 1, HDR_MAX) < 0) return -1;
        h->p[h->len - 1] = ' '; /* replaces the previous '\n' */
        memcpy(h->p + h->len, p, n);
        h->len += (uint32_t)n;
        h->p[h->len++] = '\n';
        return 0;
    }
    if (mb_reserve(h, n + 1, HDR_MAX) < 0) return -1;
    if (n) memcpy(h->p + h->len, p, n);
    h->len += (uint32_t)n;
    h->p[h->len++] = '\n';
    return 0;
}

/* Content-Length of a block: 1 found (value in *cl), 0 absent, -1 bad */
static int block_content_length(const uint8_t *b, size_t n, uint64_t *cl)
{
    size_t pos = 0;
    while (pos < n && b[pos] != '\n') pos++; /* the start line */
    pos++;
    while (pos < n) {
        size_t st = pos;
        while (pos < n && b[pos] != '\n') pos++;
        const uint8_t *l = b + st;
        size_t ll = pos - st, i = 0;
        pos++;
        while (i < ll && is_tchar(l[i])) i++;
        int match = txt_ieq(l, i, "content-length") || txt_ieq(l, i, "l");
        while (i < ll && txt_is_ws(l[i])) i++;
        if (!match || i >= ll || l[i] != ':') continue;
        const uint8_t *v = l + i + 1;
        size_t vl = ll - i - 1;
        txt_trim(&v, &vl);
        lcur_t c = lcur(v, vl);
        if (lc_uint(&c, cl, CL_MAX) == 0 || !lc_eof(&c)) return -1;
        return 1;
    }
    return 0;
}

/* ---- UDP -------------------------------------------------------------------------------------- */

static void sip_datagram(eng_t *e, eng_flow_t *f, void *st, int dir, const uint8_t *p, size_t len)
{
    sip_t *s = st;
    if (!s->inited || (dir != 0 && dir != 1)) return;
    size_t pos = 0;
    while (pos < len && (p[pos] == '\r' || p[pos] == '\n' || p[pos] == ' ' || p[pos] == '\t' ||
                         p[pos] == 0))
        pos++;
    if (pos == len) return; /* a keep-alive: CRLF, blanks or NULs only */
    msgbuf_t *h = &s->u;
    h->len = 0;
    int ended = 0, first = 1;
    while (pos < len) {
        size_t stt = pos;
        while (pos < len && p[pos] != '\n') pos++;
        size_t ll = pos - stt;
        const uint8_t *l = p + stt;
        if (pos < len) pos++;
        if (ll && l[ll - 1] == '\r') ll--;
        if (first) {
            startline_t sl;
            if (ll > s->max_line || parse_start(l, ll, &sl) == L_NONE) {
                eng_weird(e, f, "sip_bad_start_line", "%.*s", (int)(ll > 40 ? 40 : ll),
                          (const char *)l);
                return;
            }
            first = 0;
        }
        if (ll == 0) {
            ended = 1;
            break;
        }
        if (ll > s->max_line) {
            eng_weird(e, f, "sip_header_too_long", "a line of %zu bytes", ll);
            continue;
        }
        if (block_add(h, l, ll) < 0) {
            eng_weird(e, f, "sip_headers_too_large", "header block over %u bytes", HDR_MAX);
            return;
        }
    }
    const uint8_t *body = p + pos;
    size_t blen = len - pos;
    if (!ended) {
        eng_weird(e, f, "sip_unterminated_headers", "no empty line after the headers");
        blen = 0;
    } else {
        uint64_t cl;
        int r = block_content_length(h->p, h->len, &cl);
        if (r < 0) {
            eng_weird(e, f, "sip_bad_content_length", "Content-Length not a number or too large");
        } else if (r > 0 && cl > blen) {
            eng_weird(e, f, "sip_truncated_body", "Content-Length %llu, %zu bytes in the datagram",
                      (unsigned long long)cl, blen);
        } else if (r > 0) {
            blen = (size_t)cl;
        }
    }
    message(e, f, s, dir, h->p, h->len, body, blen, ENG_NO_OFFSET);
}

/* ---- TCP -------------------------------------------------------------------------------------- */

static void dir_reset(sipdir_t *d)
{
    d->h.len = 0;
    d->b.len = 0;
    d->need = 0;
    d->overflow = 0;
}

static void tcp_message_done(eng_t *e, eng_flow_t *f, sip_t *s, int dir)
{
    sipdir_t *d = &s->d[dir];
    message(e, f, s, dir, d->h.p, d->h.len, d->b.p, d->body_len <= BODY_MAX ? d->b.len : 0,
            d->msg_off);
    dir_reset(d);
    d->st = D_START;
}

static void headers_done(eng_t *e, eng_flow_t *f, sip_t *s, int dir)
{
    sipdir_t *d = &s->d[dir];
    uint64_t cl = 0;
    int r = block_content_length(d->h.p, d->h.len, &cl);
    if (r < 0) {
        eng_weird(e, f, "sip_bad_content_length", "Content-Length not a number or too large");
        dir_reset(d);
        d->st = D_RESYNC;
        d->bad_reported = 1;
        return;
    }
    if (r == 0) eng_weird(e, f, "sip_missing_content_length", "a message over TCP without Content-Length");
    d->body_len = d->need = cl;
    if (cl > BODY_MAX)
        eng_weird(e, f, "sip_body_too_large", "Content-Length %llu over %u", (unsigned long long)cl,
                  BODY_MAX);
    if (cl == 0) tcp_message_done(e, f, s, dir);
    else d->st = D_BODY;
}

static void run_dir(eng_t *e, eng_flow_t *f, sip_t *s, int dir)
{
    sipdir_t *d = &s->d[dir];
    stream_reader_t *sr = &d->sr;
    sr_view_t v;
    if (!sr->chunk && !sr->buf_len && !sr->eof) return;
    for (;;) {
        if (d->st == D_BODY) {
            size_t want = d->need > SIZE_MAX ? SIZE_MAX : (size_t)d->need;
            int rc = sr_some(sr, want, &v);
            if (rc == SR_MORE) return;
            if (rc == SR_GAP) { /* the message is lost */
                dir_reset(d);
                d->st = D_RESYNC;
                d->bad_reported = 1;
                continue;
            }
            if (d->body_len <= BODY_MAX && mb_reserve(&d->b, v.len, BODY_MAX) == 0) {
                memcpy(d->b.p + d->b.len, v.p, v.len);
                d->b.len += (uint32_t)v.len;
            }
            d->need -= v.len;
            if (d->need == 0) tcp_message_done(e, f, s, dir);
            continue;
        }
        int rc = sr_line(sr, &v);
        if (rc == SR_MORE) return;
        if (rc == SR_GAP) {
            dir_reset(d);
            d->st = D_RESYNC;
            d->bad_reported = 1; /* a gap is no protocol error */
            continue;
        }
        if (d->st == D_START || d->st == D_RESYNC) {
            if (v.len == 0 && !v.cut) continue; /* CRLF keep-alives between messages */
            startline_t sl;
            if (v.cut || parse_start(v.p, v.len, &sl) == L_NONE) {
                if (!d->bad_reported)
                    eng_weird(e, f, "sip_bad_start_line", "%.*s", (int)(v.len > 40 ? 40 : v.len),
                              (const char *)v.p);
                d->bad_reported = 1;
                d->st = D_RESYNC;
                continue;
            }
            d->bad_reported = 0;
            dir_reset(d);
            d->msg_off = v.off;
            if (block_add(&d->h, v.p, v.len) < 0) { /* a line fits (max_line < HDR_MAX): no memory */
                d->st = D_RESYNC;
                d->bad_reported = 1;
                continue;
            }
            d->st = D_HDRS;
            continue;
        }
        /* D_HDRS */
        if (v.cut) {
            eng_weird(e, f, "sip_header_too_long", "a header line over %u bytes", s->max_line);
            continue;
        }
        if (v.len == 0) {
            headers_done(e, f, s, dir);
            continue;
        }
        if (block_add(&d->h, v.p, v.len) < 0) {
            eng_weird(e, f, "sip_headers_too_large", "header block over %u bytes", HDR_MAX);
            dir_reset(d);
            d->st = D_RESYNC;
            d->bad_reported = 1;
        }
    }
}

static void sip_init(eng_t *e, eng_flow_t *f, void *st)
{
    sip_t *s = st;
    s->max_line = dec_max_line(e);
    if (s->max_line >= HDR_MAX) s->max_line = HDR_MAX - 1;
    s->tcp = f->proto == 6;
    s->d[0].h.acct = s->d[0].b.acct = dec_flow_mem(f);
    s->d[1].h.acct = s->d[1].b.acct = s->u.acct = dec_flow_mem(f);
    if (s->tcp) {
        sr_init(&s->d[0].sr, s->max_line);
        sr_init(&s->d[1].sr, s->max_line);
        sr_bind(&s->d[0].sr, dec_flow_mem(f));
        sr_bind(&s->d[1].sr, dec_flow_mem(f));
    }
    s->inited = 1;
}

static void sip_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                     size_t len)
{
    sip_t *s = st;
    if (!s->inited || !s->tcp || (dir != 0 && dir != 1)) return;
    sr_push(&s->d[dir].sr, off, p, len);
    run_dir(e, f, s, dir);
}

static void sip_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    sip_t *s = st;
    if (!s->inited || !s->tcp || (dir != 0 && dir != 1)) return;
    if (len == 0) { /* engine.memcap cut */
        sr_gap(&s->d[dir].sr, off, 0);
        if (s->d[dir].st == D_START || s->d[dir].st == D_RESYNC) { /* no message being gathered */
            mb_free(&s->d[dir].h);
            mb_free(&s->d[dir].b);
        }
        return;
    }
    sr_gap(&s->d[dir].sr, off, len);
    run_dir(e, f, s, dir);
}

static void sip_end(eng_t *e, eng_flow_t *f, void *st)
{
    sip_t *s = st;
    if (!s->inited) return;
    if (s->tcp) {
        for (int dir = 0; dir < 2; dir++) {
            sipdir_t *d = &s->d[dir];
            stream_reader_t *sr = &d->sr;
            sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
            sr_eof(sr);
            run_dir(e, f, s, dir);
            if (d->st == D_HDRS || d->st == D_BODY) {
                eng_weird(e, f, "sip_truncated_message", "the flow ended inside a %s",
                          d->st == D_HDRS ? "header block" : "body");
                if (d->st == D_BODY) tcp_message_done(e, f, s, dir);
            }
            sr_free(sr);
            mb_free(&d->h);
            mb_free(&d->b);
        }
    }
    mb_free(&s->u);
    s->inited = 0;
}

static const uint16_t sip_ports[] = {5060, 0};

const eng_decoder_t eng_decoder_sip = {
    .name = "sip",
    .probe = sip_probe,
    .ports = sip_ports,
    .uses = NULL,
    .state_size = sizeof(sip_t),
    .init = sip_init,
    .data = sip_data,
    .gap = sip_gap,
    .datagram = sip_datagram,
    .end = sip_end,
};

/* ---- rtp: the media flows of a call, counted ------------------------------------------------ */

typedef struct rtp {
    uint8_t rtcp, warned, cid_len, type_len, known;
    char cid[CID_MAX];
    char type[16];
    uint64_t packets, bytes, bad;
} rtp_t;

static void rtp_init(eng_t *e, eng_flow_t *f, void *st)
{
    rtp_t *r = st;
    uint64_t tag = dec_flow_expect_tag(f);
    r->rtcp = (uint8_t)(tag & 1);
    eng_flow_t *pf = dec_flow_parent(e, f);
    sip_t *ps = pf ? dec_flow_state(pf, &eng_decoder_sip) : NULL;
    uint64_t seq = tag >> 1;
    if (ps && seq) {
        const media_ent_t *x = &ps->media[seq % MEDIA_RING];
        if (x->seq == seq) {
            memcpy(r->cid, x->cid, x->cid_len);
            r->cid_len = x->cid_len;
            memcpy(r->type, x->type, x->type_len);
            r->type_len = x->type_len;
            r->known = 1;
        }
    }
}

static void rtp_datagram(eng_t *e, eng_flow_t *f, void *st, int dir, const uint8_t *p, size_t len)
{
    rtp_t *r = st;
    (void)dir;
    r->packets++;
    r->bytes += len;
    int ok;
    if (r->rtcp) /* version 2, packet type 192..223 (RFC 5761 §4) */
        ok = len >= 8 && (p[0] >> 6) == 2 && p[1] >= 192 && p[1] <= 223;
    else
        ok = len >= 12 && (p[0] >> 6) == 2;
    if (!ok) {
        r->bad++;
        if (!r->warned)
            eng_weird(e, f, "rtp_unexpected_payload", "%zu bytes that are not %s version 2", len,
                      r->rtcp ? "RTCP" : "RTP");
        r->warned = 1;
    }
}

static void rtp_end(eng_t *e, eng_flow_t *f, void *st)
{
    rtp_t *r = st;
    if (!dec_wants(e, ENG_EV_RTP_END)) return;
    eng_event_t ev;
    ev_init(&ev, ENG_EV_RTP_END, f);
    if (r->known) {
        ev_set(&ev, ENG_F_RTP_END_call_id, sv((const uint8_t *)r->cid, r->cid_len));
        ev_set(&ev, ENG_F_RTP_END_media, sv((const uint8_t *)r->type, r->type_len));
    }
    ev_set(&ev, ENG_F_RTP_END_rtcp, ev_bool(r->rtcp));
    ev_set(&ev, ENG_F_RTP_END_packets, ev_int((int64_t)r->packets));
    ev_set(&ev, ENG_F_RTP_END_bytes, ev_int((int64_t)r->bytes));
    ev_set(&ev, ENG_F_RTP_END_bad, ev_int((int64_t)r->bad));
    dec_fire(e, &ev);
}

const eng_decoder_t eng_decoder_rtp = {
    .name = "rtp",
    .probe = NULL, /* only by expectation (or a script's set_service) */
    .ports = NULL,
    .uses = NULL,
    .state_size = sizeof(rtp_t),
    .init = rtp_init,
    .data = NULL,
    .gap = NULL,
    .datagram = rtp_datagram,
    .end = rtp_end,
};
