/* dns.c - DNS (RFC 1035 and successors) over UDP and TCP, also mDNS (5353)
 * and LLMNR (5355), which share the message format.
 *
 * UDP: one message per datagram (the descriptor's datagram entry). TCP: each
 * direction is a sequence of messages each preceded by its 2-byte length
 * (RFC 1035 4.2.2, RFC 7766), read through a stream reader whose max_unit
 * (65535) admits the largest message; several messages in one segment and
 * one message over many segments come out the same.
 *
 * A query (QR=0) fires dns.query once per question. A response (QR=1) fires
 * dns.answer once, with its first question, flags, rcode name (extended by
 * EDNS), the answer, authority and additional sections as lists of
 * {name, type, class, ttl, data} maps (data as dig prints it, see fmt_rdata),
 * the OPT record as the edns map (not in the additional list), and rtt when
 * the query was seen. Every value points into a per-message arena (a chain of
 * chunks, bounded by ARENA_MAX) or into the message; both live until the
 * event returns.
 *
 * Pairing: queries wait in a per-flow table (at most dns.max_pending, default
 * 64; beyond, the oldest goes with a weird dns_pending_evicted), matched by id
 * (and, when the response repeats the question, the name's case-insensitive
 * hash and qtype). An entry older than dns.query_timeout seconds (default 10)
 * is dropped unanswered when the table is next looked at; the answer that
 * comes later then has no rtt, as one whose query was never seen.
 *
 * Names: compression pointers must point strictly before every earlier
 * pointer of the same name, so each jump moves backwards and a name is read
 * in at most len steps; a name longer than 255 bytes of wire form, a label
 * past the end, a reserved label type are weirds. Names are written without
 * the trailing dot; the root is "<Root>" as a field (qname, record name) and
 * "." inside data. Label bytes outside 0x21-0x7e are \DDD, "." and "\" inside
 * a label are escaped with "\", as dig does.
 *
 * Weirds: dns_truncated_header, dns_truncated_question, dns_truncated_rr,
 * dns_name_truncated, dns_name_too_long, dns_name_pointer_past_end,
 * dns_name_pointer_loop, dns_name_bad_label_type, dns_bad_rdata,
 * dns_txt_length_past_rdata, dns_trailing_bytes, dns_too_many_questions,
 * dns_too_many_records, dns_arena_full, dns_text_cut, dns_multiple_opt, dns_pending_evicted,
 * dns_tcp_zero_length, dns_tcp_gap, dns_tcp_resync_failed, dns_tcp_truncated_message.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decoder.h"
#include "stream.h"

extern const eng_decoder_t eng_decoder_dns;

#define DNS_TCP_MAX 65535
#define MAX_QUESTIONS 64      /* dns.query events per message */
#define MAX_RR 1024           /* records listed per message, all sections */
#define ARENA_MAX (4u << 20)  /* bytes of text and values per message */
#define CHUNK_MIN 16384
#define PENDING_DEFAULT 64
#define PENDING_HARD_MAX 4096
#define NAME_TEXT_MAX 1100    /* 255 wire bytes as \DDD text, and "<Root>" */

/* ---- per-flow state ----------------------------------------------------- */

typedef struct pend {
    int64_t ts;
    uint32_t qhash;
    uint16_t id, qtype;
    uint8_t has_q;
} pend_t;

typedef struct tdir {
    stream_reader_t sr;
    uint16_t need;      /* length of the message being read */
    uint8_t have_len;   /* the 2-byte length was read */
    uint8_t resync;     /* after a gap: the next message must parse whole */
    uint8_t dead;       /* resynchronisation failed: no more messages this direction */
} tdir_t;

typedef struct dns {
    uint8_t inited, mdns, tcp_inited;
    tdir_t t[2];
    pend_t *pend;
    uint32_t npend, cap;
    uint32_t max_pend;
    int64_t timeout_ns;
} dns_t;

/* ---- the per-message arena ---------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    uint8_t data[];
} chunk_t;

typedef struct arena {
    chunk_t *head;
    size_t total;
    int full;
} arena_t;

static void *ar_alloc(arena_t *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        if (a->full || a->total + n > ARENA_MAX) {
            a->full = 1;
            return NULL;
        }
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = malloc(sizeof *c + cap);
        if (!c) {
            a->full = 1;
            return NULL;
        }
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->total += cap;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* give back the unused tail of the last allocation p (n bytes were asked, used kept) */
static void ar_trim(arena_t *a, void *p, size_t n, size_t used)
{
    chunk_t *c = a->head;
    n = (n + 7) & ~(size_t)7;
    used = (used + 7) & ~(size_t)7;
    if (c && (uint8_t *)p + n == c->data + c->used && used <= n) c->used -= n - used;
}

static void ar_free(arena_t *a)
{
    while (a->head) {
        chunk_t *c = a->head;
        a->head = c->next;
        free(c);
    }
    a->total = 0;
}

/* ---- a bounded text builder --------------------------------------------- */

typedef struct sb {
    char *p;
    size_t n, cap;
    int over; /* something did not fit */
} sb_t;

static void sb_putc(sb_t *b, int ch)
{
    if (b->n < b->cap) b->p[b->n++] = (char)ch;
    else b->over = 1;
}
static void sb_put(sb_t *b, const char *s, size_t n)
{
    if (n > b->cap - b->n) {
        n = b->cap - b->n;
        b->over = 1;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void sb_puts(sb_t *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    sb_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}
static void sb_hex(sb_t *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        sb_putc(b, hx[p[i] >> 4]);
        sb_putc(b, hx[p[i] & 15]);
    }
}
static void sb_b64(sb_t *b, const uint8_t *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
        sb_putc(b, t[v >> 18]);
        sb_putc(b, t[(v >> 12) & 63]);
        sb_putc(b, t[(v >> 6) & 63]);
        sb_putc(b, t[v & 63]);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        sb_putc(b, t[v >> 18]);
        sb_putc(b, t[(v >> 12) & 63]);
        sb_puts(b, "==");
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
        sb_putc(b, t[v >> 18]);
        sb_putc(b, t[(v >> 12) & 63]);
        sb_putc(b, t[(v >> 6) & 63]);
        sb_putc(b, '=');
    }
}
/* a byte of a label or character-string as dig writes it; `quoted`: inside "" */
static void sb_esc(sb_t *b, uint8_t ch, int quoted)
{
    if (ch < 0x20 || ch > 0x7e || (!quoted && ch == ' ')) {
        sb_printf(b, "\\%03u", ch);
    } else if (ch == '\\' || ch == '"' || (!quoted && (ch == '.' || ch == ';' || ch == '(' || ch == ')' || ch == '@' || ch == '$'))) {
        sb_putc(b, '\\');
        sb_putc(b, ch);
    } else {
        sb_putc(b, ch);
    }
}

/* ---- names -------------------------------------------------------------- */

static const char W_TOOLONG[] = "dns_name_too_long";
#define TOOLONG_TEXT "<Name too long>"

/* Read the name at *pos of message m[0..len) into b (text, no trailing dot;
 * the root writes `root`). *pos moves past the name's bytes where it is
 * (not where pointers lead). *hash (may be NULL) gets a case-insensitive hash.
 * NULL, or the name of the weird. W_TOOLONG (over 255 bytes, but well formed)
 * still moves *pos past the name, and b holds TOOLONG_TEXT: the caller may go
 * on. */
static const char *read_name(const uint8_t *m, size_t len, size_t *pos, sb_t *b,
                             const char *root, uint32_t *hash)
{
    size_t p = *pos, after = 0, limit = len;
    int jumped = 0, labels = 0, toolong = 0;
    size_t wire = 1, start = b->n;
    uint32_t h = 2166136261u;
    for (;;) {
        if (p >= len) return "dns_name_truncated";
        uint8_t l = m[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 1 >= len) return "dns_name_truncated";
            size_t t = ((size_t)(l & 0x3f) << 8) | m[p + 1];
            if (!jumped) {
                after = p + 2;
                jumped = 1;
                limit = p;
            }
            if (t >= len) return "dns_name_pointer_past_end";
            if (t >= limit) return "dns_name_pointer_loop";
            limit = t;
            p = t;
            continue;
        }
        if (l & 0xc0) return "dns_name_bad_label_type";
        if (l == 0) {
            p++;
            break;
        }
        if (p + 1 + l > len) return "dns_name_truncated";
        wire += (size_t)l + 1;
        if (wire > 255) toolong = 1;
        if (toolong) {
            p += 1 + (size_t)l;
            continue;
        }
        if (labels++) sb_putc(b, '.');
        for (size_t i = 0; i < l; i++) {
            uint8_t ch = m[p + 1 + i];
            sb_esc(b, ch, 0);
            uint8_t lc = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
            h = (h ^ lc) * 16777619u;
        }
        h = (h ^ '.') * 16777619u;
        p += 1 + (size_t)l;
    }
    *pos = jumped ? after : p;
    if (hash) *hash = h;
    if (toolong) {
        b->n = start;
        b->over = 0;
        sb_puts(b, TOOLONG_TEXT);
        return W_TOOLONG;
    }
    if (!labels) sb_puts(b, root);
    return NULL;
}

/* ---- names of numbers ---------------------------------------------------- */

static const char *type_name(uint16_t t)
{
    switch (t) {
    case 1: return "A";
    case 2: return "NS";
    case 3: return "MD";
    case 4: return "MF";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 7: return "MB";
    case 8: return "MG";
    case 9: return "MR";
    case 10: return "NULL";
    case 11: return "WKS";
    case 12: return "PTR";
    case 13: return "HINFO";
    case 14: return "MINFO";
    case 15: return "MX";
    case 16: return "TXT";
    case 17: return "RP";
    case 18: return "AFSDB";
    case 19: return "X25";
    case 20: return "ISDN";
    case 21: return "RT";
    case 22: return "NSAP";
    case 23: return "NSAP-PTR";
    case 24: return "SIG";
    case 25: return "KEY";
    case 26: return "PX";
    case 27: return "GPOS";
    case 28: return "AAAA";
    case 29: return "LOC";
    case 30: return "NXT";
    case 33: return "SRV";
    case 35: return "NAPTR";
    case 36: return "KX";
    case 37: return "CERT";
    case 38: return "A6";
    case 39: return "DNAME";
    case 41: return "OPT";
    case 42: return "APL";
    case 43: return "DS";
    case 44: return "SSHFP";
    case 45: return "IPSECKEY";
    case 46: return "RRSIG";
    case 47: return "NSEC";
    case 48: return "DNSKEY";
    case 49: return "DHCID";
    case 50: return "NSEC3";
    case 51: return "NSEC3PARAM";
    case 52: return "TLSA";
    case 53: return "SMIMEA";
    case 55: return "HIP";
    case 59: return "CDS";
    case 60: return "CDNSKEY";
    case 61: return "OPENPGPKEY";
    case 62: return "CSYNC";
    case 63: return "ZONEMD";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 99: return "SPF";
    case 108: return "EUI48";
    case 109: return "EUI64";
    case 249: return "TKEY";
    case 250: return "TSIG";
    case 251: return "IXFR";
    case 252: return "AXFR";
    case 253: return "MAILB";
    case 254: return "MAILA";
    case 255: return "ANY";
    case 256: return "URI";
    case 257: return "CAA";
    default: return NULL;
    }
}

static const char *class_name(uint16_t c)
{
    switch (c) {
    case 1: return "IN";
    case 2: return "CS";
    case 3: return "CH";
    case 4: return "HS";
    case 254: return "NONE";
    case 255: return "ANY";
    default: return NULL;
    }
}

static const char *rcode_name(unsigned r)
{
    static const char *const n[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
                                    "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
                                    "NOTZONE", "DSOTYPENI"};
    if (r < sizeof n / sizeof n[0]) return n[r];
    switch (r) {
    case 16: return "BADVERS";
    case 17: return "BADKEY";
    case 18: return "BADTIME";
    case 19: return "BADMODE";
    case 20: return "BADNAME";
    case 21: return "BADALG";
    case 22: return "BADTRUNC";
    case 23: return "BADCOOKIE";
    default: return NULL;
    }
}

/* a name from a table, or PREFIX<number>, as text in the arena */
static eng_value_t num_name(arena_t *a, const char *known, const char *prefix, unsigned v)
{
    if (known) return ev_cstr(known);
    char *s = ar_alloc(a, 24);
    if (!s) return ev_cstr(prefix);
    int k = snprintf(s, 24, "%s%u", prefix, v);
    return ev_str(s, k > 0 ? (size_t)k : 0, ENG_NO_OFFSET);
}

/* ---- record data as dig prints it ---------------------------------------- */

typedef struct rd {
    const uint8_t *m; /* the message */
    size_t len;       /* message length */
    size_t p, end;    /* the rdata: [p, end) of m */
    sb_t *b;
    const char *weird; /* the first problem found */
    int toolong;       /* a name in the data was too long (written as TOOLONG_TEXT) */
} rd_t;

static int rd_need(rd_t *r, size_t n)
{
    if (r->end - r->p < n) {
        if (!r->weird) r->weird = "dns_bad_rdata";
        return 0;
    }
    return 1;
}
static unsigned rd_u8(rd_t *r) { return rd_need(r, 1) ? r->m[r->p++] : 0; }
static unsigned rd_u16(rd_t *r)
{
    if (!rd_need(r, 2)) return 0;
    unsigned v = rd_be16(r->m, r->len, r->p);
    r->p += 2;
    return v;
}
static uint32_t rd_u32(rd_t *r)
{
    if (!rd_need(r, 4)) return 0;
    uint32_t v = rd_be32(r->m, r->len, r->p);
    r->p += 4;
    return v;
}
/* a (possibly compressed) name inside the rdata */
static int rd_name(rd_t *r)
{
    size_t p = r->p;
    const char *w = read_name(r->m, r->end, &p, r->b, ".", NULL);
    if (w == W_TOOLONG) {
        if (!r->toolong) r->toolong = 1;
    } else if (w) {
        if (!r->weird) r->weird = w;
        return 0;
    }
    r->p = p;
    return 1;
}
/* a <character-string> in quotes */
static int rd_cstr(rd_t *r)
{
    if (!rd_need(r, 1)) return 0;
    size_t n = r->m[r->p];
    if (r->end - r->p - 1 < n) {
        if (!r->weird) r->weird = "dns_txt_length_past_rdata";
        return 0;
    }
    sb_putc(r->b, '"');
    for (size_t i = 0; i < n; i++) sb_esc(r->b, r->m[r->p + 1 + i], 1);
    sb_putc(r->b, '"');
    r->p += 1 + n;
    return 1;
}
static void rd_ipv4(rd_t *r)
{
    if (rd_need(r, 4)) {
        const uint8_t *q = r->m + r->p;
        sb_printf(r->b, "%u.%u.%u.%u", q[0], q[1], q[2], q[3]);
        r->p += 4;
    }
}
static void rd_ipv6(rd_t *r)
{
    if (rd_need(r, 16)) {
        char t[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, r->m + r->p, t, sizeof t);
        sb_puts(r->b, t);
        r->p += 16;
    }
}
static void rd_time(rd_t *r)
{
    time_t t = (time_t)rd_u32(r);
    struct tm tm;
    gmtime_r(&t, &tm);
    sb_printf(r->b, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
              tm.tm_hour, tm.tm_min, tm.tm_sec);
}
static void rd_type_bitmap(rd_t *r)
{
    while (r->p < r->end && !r->weird) {
        unsigned win = rd_u8(r), n = rd_u8(r);
        if (n < 1 || n > 32 || !rd_need(r, n)) {
            if (!r->weird) r->weird = "dns_bad_rdata";
            return;
        }
        for (unsigned i = 0; i < n * 8; i++)
            if (r->m[r->p + i / 8] & (0x80 >> (i % 8))) {
                unsigned t = win * 256 + i;
                const char *tn = type_name((uint16_t)t);
                sb_putc(r->b, ' ');
                if (tn) sb_puts(r->b, tn);
                else sb_printf(r->b, "TYPE%u", t);
            }
        r->p += n;
    }
}

static const char *svc_key_name(unsigned k)
{
    static const char *const n[] = {"mandatory", "alpn", "no-default-alpn", "port",
                                    "ipv4hint", "ech", "ipv6hint", "dohpath"};
    return k < sizeof n / sizeof n[0] ? n[k] : NULL;
}

static void svc_params(rd_t *r)
{
    while (r->p < r->end && !r->weird) {
        unsigned key = rd_u16(r), vl = rd_u16(r);
        if (r->weird || !rd_need(r, vl)) return;
        size_t vend = r->p + vl;
        const char *kn = svc_key_name(key);
        sb_putc(r->b, ' ');
        if (kn) sb_puts(r->b, kn);
        else sb_printf(r->b, "key%u", key);
        const uint8_t *v = r->m + r->p;
        switch (key) {
        case 0: /* mandatory: keys */
            sb_putc(r->b, '=');
            for (unsigned i = 0; i + 2 <= vl; i += 2) {
                unsigned k2 = ((unsigned)v[i] << 8) | v[i + 1];
                if (i) sb_putc(r->b, ',');
                if (svc_key_name(k2)) sb_puts(r->b, svc_key_name(k2));
                else sb_printf(r->b, "key%u", k2);
            }
            if (vl % 2 && !r->weird) r->weird = "dns_bad_rdata";
            break;
        case 1: { /* alpn: length-prefixed ids */
            sb_puts(r->b, "=\"");
            size_t i = 0;
            int first = 1;
            while (i < vl) {
                size_t n = v[i];
                if (n + 1 > vl - i) {
                    if (!r->weird) r->weird = "dns_bad_rdata";
                    break;
                }
                if (!first) sb_putc(r->b, ',');
                first = 0;
                for (size_t j = 0; j < n; j++) {
                    uint8_t ch = v[i + 1 + j];
                    if (ch == ',') sb_puts(r->b, "\\\\,");
                    else sb_esc(r->b, ch, 1);
                }
                i += 1 + n;
            }
            sb_putc(r->b, '"');
            break;
        }
        case 2: /* no-default-alpn: no value */
            if (vl && !r->weird) r->weird = "dns_bad_rdata";
            break;
        case 3:
            if (vl == 2) sb_printf(r->b, "=%u", ((unsigned)v[0] << 8) | v[1]);
            else if (!r->weird) r->weird = "dns_bad_rdata";
            break;
        case 4:
            sb_putc(r->b, '=');
            for (unsigned i = 0; i + 4 <= vl; i += 4)
                sb_printf(r->b, "%s%u.%u.%u.%u", i ? "," : "", v[i], v[i + 1], v[i + 2], v[i + 3]);
            if (vl % 4 && !r->weird) r->weird = "dns_bad_rdata";
            break;
        case 5:
            sb_putc(r->b, '=');
            sb_b64(r->b, v, vl);
            break;
        case 6:
            sb_putc(r->b, '=');
            for (unsigned i = 0; i + 16 <= vl; i += 16) {
                char t[INET6_ADDRSTRLEN];
                inet_ntop(AF_INET6, v + i, t, sizeof t);
                if (i) sb_putc(r->b, ',');
                sb_puts(r->b, t);
            }
            if (vl % 16 && !r->weird) r->weird = "dns_bad_rdata";
            break;
        default: /* dohpath and unknown keys: the value quoted */
            if (vl) {
                sb_puts(r->b, "=\"");
                for (unsigned i = 0; i < vl; i++) sb_esc(r->b, v[i], 1);
                sb_putc(r->b, '"');
            }
        }
        r->p = vend;
    }
}

/* the generic form of RFC 3597 */
static void rd_generic(sb_t *b, const uint8_t *p, size_t n)
{
    sb_printf(b, "\\# %zu", n);
    if (n) {
        sb_putc(b, ' ');
        sb_hex(b, p, n);
    }
}

/* rdata of type t at m[p..p+n) as text in b; NULL or a weird name (then b
 * holds the generic form) */
static const char *fmt_rdata(const uint8_t *m, size_t len, size_t p, size_t n, uint16_t t, sb_t *b)
{
    rd_t r = {m, len, p, p + n, b, NULL, 0};
    size_t start = b->n;
    switch (t) {
    case 1:
        if (n != 4) r.weird = "dns_bad_rdata";
        else rd_ipv4(&r);
        break;
    case 28:
        if (n != 16) r.weird = "dns_bad_rdata";
        else rd_ipv6(&r);
        break;
    case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: case 39:
        rd_name(&r);
        break;
    case 15: case 18: case 21: case 36: /* MX, AFSDB, RT, KX: preference and name */
        sb_printf(b, "%u ", rd_u16(&r));
        rd_name(&r);
        break;
    case 6: /* SOA */
        rd_name(&r);
        sb_putc(b, ' ');
        rd_name(&r);
        for (int i = 0; i < 5 && !r.weird; i++) sb_printf(b, " %u", rd_u32(&r));
        break;
    case 16: case 99: { /* TXT, SPF: every string */
        int k = 0;
        while (r.p < r.end && !r.weird) {
            if (k++) sb_putc(b, ' ');
            rd_cstr(&r);
        }
        if (!k) r.weird = "dns_bad_rdata";
        break;
    }
    case 13: /* HINFO */
        rd_cstr(&r);
        sb_putc(b, ' ');
        rd_cstr(&r);
        break;
    case 33: { /* SRV */
        unsigned pr = rd_u16(&r), w = rd_u16(&r), port = rd_u16(&r);
        sb_printf(b, "%u %u %u ", pr, w, port);
        rd_name(&r);
        break;
    }
    case 35: { /* NAPTR */
        unsigned o = rd_u16(&r), pr = rd_u16(&r);
        sb_printf(b, "%u %u ", o, pr);
        rd_cstr(&r);
        sb_putc(b, ' ');
        rd_cstr(&r);
        sb_putc(b, ' ');
        rd_cstr(&r);
        sb_putc(b, ' ');
        rd_name(&r);
        break;
    }
    case 257: { /* CAA */
        unsigned fl = rd_u8(&r), tl = rd_u8(&r);
        if (!rd_need(&r, tl)) break;
        sb_printf(b, "%u ", fl);
        for (unsigned i = 0; i < tl; i++) sb_esc(b, m[r.p + i], 0);
        r.p += tl;
        sb_puts(b, " \"");
        while (r.p < r.end) sb_esc(b, m[r.p++], 1);
        sb_putc(b, '"');
        break;
    }
    case 43: case 59: { /* DS, CDS */
        unsigned tag = rd_u16(&r), alg = rd_u8(&r), dt = rd_u8(&r);
        if (r.weird) break;
        sb_printf(b, "%u %u %u ", tag, alg, dt);
        sb_hex(b, m + r.p, r.end - r.p);
        r.p = r.end;
        break;
    }
    case 48: case 60: { /* DNSKEY, CDNSKEY */
        unsigned fl = rd_u16(&r), pr = rd_u8(&r), alg = rd_u8(&r);
        if (r.weird) break;
        sb_printf(b, "%u %u %u ", fl, pr, alg);
        sb_b64(b, m + r.p, r.end - r.p);
        r.p = r.end;
        break;
    }
    case 46: { /* RRSIG */
        unsigned tc = rd_u16(&r), alg = rd_u8(&r), lab = rd_u8(&r);
        uint32_t ottl = rd_u32(&r);
        if (r.weird) break;
        const char *tn = type_name((uint16_t)tc);
        if (tn) sb_puts(b, tn);
        else sb_printf(b, "TYPE%u", tc);
        sb_printf(b, " %u %u %u ", alg, lab, ottl);
        rd_time(&r);
        sb_putc(b, ' ');
        rd_time(&r);
        sb_printf(b, " %u ", rd_u16(&r));
        if (!rd_name(&r)) break;
        sb_putc(b, ' ');
        sb_b64(b, m + r.p, r.end - r.p);
        r.p = r.end;
        break;
    }
    case 47: /* NSEC */
        rd_name(&r);
        rd_type_bitmap(&r);
        break;
    case 64: case 65: /* SVCB, HTTPS */
        sb_printf(b, "%u ", rd_u16(&r));
        rd_name(&r);
        svc_params(&r);
        break;
    default:
        rd_generic(b, m + p, n);
        return NULL;
    }
    if (!r.weird && r.p != r.end) r.weird = "dns_bad_rdata";
    if (r.weird) {
        b->n = start;
        b->over = 0;
        rd_generic(b, m + p, n);
    }
    return r.weird ? r.weird : r.toolong ? W_TOOLONG : NULL;
}

static int whole_message(const uint8_t *m, size_t len);

/* ---- message decoding ------------------------------------------------------ */

typedef struct msgctx {
    eng_t *e;
    eng_flow_t *f;
    dns_t *s;
    const uint8_t *m;
    size_t len;
    uint64_t off; /* stream offset of m[0] (TCP), else ENG_NO_OFFSET */
    arena_t ar;
    int nrr;      /* records listed so far */
    int rr_weird; /* dns_too_many_records reported */
} msgctx_t;

static void weird(msgctx_t *c, const char *name, const char *detail)
{
    eng_weird(c->e, c->f, name, "%s", detail);
}

/* text of a name as a value in the arena; NULL with the weird reported */
static int name_value(msgctx_t *c, size_t *pos, eng_value_t *out, uint32_t *hash, const char *what)
{
    char *buf = ar_alloc(&c->ar, NAME_TEXT_MAX);
    if (!buf) {
        weird(c, "dns_arena_full", "the message's text is over the bound");
        return -1;
    }
    sb_t b = {buf, 0, NAME_TEXT_MAX, 0};
    const char *w = read_name(c->m, c->len, pos, &b, "<Root>", hash);
    if (w == W_TOOLONG) {
        weird(c, w, what);
    } else if (w) {
        ar_trim(&c->ar, buf, NAME_TEXT_MAX, 0);
        weird(c, w, what);
        return -1;
    }
    ar_trim(&c->ar, buf, NAME_TEXT_MAX, b.n);
    *out = ev_str(buf, b.n, ENG_NO_OFFSET);
    return 0;
}

static uint16_t cls_mask(const msgctx_t *c, uint16_t cls)
{
    return c->s->mdns ? (uint16_t)(cls & 0x7fff) : cls; /* mDNS: QU / cache-flush bit */
}

/* ---- pending queries ------------------------------------------------------- */

static void pend_drop(dns_t *s, uint32_t i)
{
    memmove(&s->pend[i], &s->pend[i + 1], (s->npend - i - 1) * sizeof s->pend[0]);
    s->npend--;
}

static void pend_expire(eng_t *e, dns_t *s)
{
    int64_t now = dec_now(e);
    uint32_t k = 0;
    while (k < s->npend && s->timeout_ns > 0 && now - s->pend[k].ts > s->timeout_ns) k++;
    if (k) {
        memmove(&s->pend[0], &s->pend[k], (s->npend - k) * sizeof s->pend[0]);
        s->npend -= k;
    }
}

static void pend_add(eng_t *e, eng_flow_t *f, dns_t *s, const pend_t *p)
{
    pend_expire(e, s);
    if (s->npend >= s->max_pend) {
        eng_weird(e, f, "dns_pending_evicted", "more than %u queries unanswered; id %u dropped",
                  s->max_pend, s->pend[0].id);
        pend_drop(s, 0);
    }
    if (s->npend == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        if (cap > s->max_pend) cap = s->max_pend;
        pend_t *n = realloc(s->pend, cap * sizeof *n);
        if (!n) return;
        dec_mem(f, (int64_t)((cap - s->cap) * sizeof *n));
        s->pend = n;
        s->cap = cap;
    }
    s->pend[s->npend++] = *p;
}

/* the pending query a response answers, removed from the table; 0 if none */
static int pend_take(eng_t *e, dns_t *s, uint16_t id, int has_q, uint32_t qhash, uint16_t qtype,
                     pend_t *out)
{
    pend_expire(e, s);
    int best = -1;
    for (uint32_t i = 0; i < s->npend; i++) {
        if (s->pend[i].id != id) continue;
        if (!has_q || !s->pend[i].has_q || (s->pend[i].qhash == qhash && s->pend[i].qtype == qtype)) {
            best = (int)i;
            break;
        }
        if (best < 0) best = (int)i; /* same id, other question: only if nothing better */
    }
    if (best < 0) return 0;
    *out = s->pend[best];
    pend_drop(s, (uint32_t)best);
    return 1;
}

/* ---- records ----------------------------------------------------------------- */

static const char K_NAME[] = "name", K_TYPE[] = "type", K_CLASS[] = "class", K_TTL[] = "ttl",
                  K_DATA[] = "data";

typedef struct edns {
    int seen;
    unsigned udp_size, ext_rcode, version, dob;
    eng_value_t kv[16];
    int nkv;
    eng_value_t opts[16];
    int nopts;
} edns_t;

static void edns_kv(edns_t *x, const char *k, eng_value_t v)
{
    if (x->nkv + 2 > 16) return;
    x->kv[x->nkv++] = ev_cstr(k);
    x->kv[x->nkv++] = v;
}

static void parse_opt(msgctx_t *c, edns_t *x, uint16_t cls, uint32_t ttl, size_t p, size_t n)
{
    x->seen = 1;
    x->udp_size = cls;
    x->ext_rcode = ttl >> 24;
    x->version = (ttl >> 16) & 0xff;
    x->dob = (ttl >> 15) & 1;
    edns_kv(x, "udp_size", ev_int(x->udp_size));
    edns_kv(x, "version", ev_int(x->version));
    edns_kv(x, "do", ev_bool((int)x->dob));
    edns_kv(x, "ext_rcode", ev_int(x->ext_rcode));
    size_t end = p + n;
    while (p < end) {
        if (end - p < 4) {
            weird(c, "dns_bad_rdata", "OPT option header cut");
            break;
        }
        unsigned code = rd_be16(c->m, c->len, p), ol = rd_be16(c->m, c->len, p + 2);
        p += 4;
        if (ol > end - p) {
            weird(c, "dns_bad_rdata", "OPT option longer than the record");
            break;
        }
        const uint8_t *v = c->m + p;
        if (x->nopts < 16) x->opts[x->nopts++] = ev_int(code);
        if (code == 8 && ol >= 4) { /* client subnet, RFC 7871 */
            unsigned fam = ((unsigned)v[0] << 8) | v[1], src = v[2], scope = v[3];
            uint8_t a[16] = {0};
            size_t al = ol - 4 > 16 ? 16 : ol - 4;
            memcpy(a, v + 4, al);
            char t[INET6_ADDRSTRLEN];
            char *s = ar_alloc(&c->ar, 80);
            if (s) {
                if (fam == 1) inet_ntop(AF_INET, a, t, sizeof t);
                else if (fam == 2) inet_ntop(AF_INET6, a, t, sizeof t);
                else snprintf(t, sizeof t, "family%u", fam);
                int k = snprintf(s, 80, "%s/%u/%u", t, src, scope);
                edns_kv(x, "client_subnet", ev_str(s, k > 0 ? (size_t)k : 0, ENG_NO_OFFSET));
            }
        } else if (code == 10 && ol >= 8) { /* cookie, RFC 7873 */
            char *s = ar_alloc(&c->ar, (size_t)ol * 2 + 2);
            if (s) {
                sb_t b = {s, 0, (size_t)ol * 2 + 2, 0};
                sb_hex(&b, v, 8);
                edns_kv(x, "cookie", ev_str(s, b.n, ENG_NO_OFFSET));
                if (ol > 8) {
                    size_t st = b.n;
                    sb_hex(&b, v + 8, ol - 8);
                    edns_kv(x, "server_cookie", ev_str(s + st, b.n - st, ENG_NO_OFFSET));
                }
            }
        }
        p += ol;
    }
}

/* read count records of one section from *pos; the listed ones into list
 * (allocated here). 0, or -1 when the message cannot be read further. */
static int section(msgctx_t *c, size_t *pos, unsigned count, eng_value_t *list_out, edns_t *x,
                   const char *what)
{
    unsigned room = (unsigned)(MAX_RR - c->nrr);
    unsigned want = count < room ? count : room;
    eng_value_t *list = want ? ar_alloc(&c->ar, want * sizeof *list) : NULL;
    unsigned n = 0;
    int rc = 0;
    for (unsigned i = 0; i < count; i++) {
        eng_value_t nm;
        size_t p = *pos;
        int listing = list && n < want;
        if (listing) {
            if (name_value(c, &p, &nm, NULL, what) < 0) {
                rc = -1;
                break;
            }
        } else {
            char tmp[NAME_TEXT_MAX];
            sb_t tb = {tmp, 0, sizeof tmp, 0};
            const char *w = read_name(c->m, c->len, &p, &tb, "", NULL);
            if (w) weird(c, w, what);
            if (w && w != W_TOOLONG) {
                rc = -1;
                break;
            }
        }
        if (c->len - p < 10) {
            weird(c, "dns_truncated_rr", what);
            rc = -1;
            break;
        }
        uint16_t type = rd_be16(c->m, c->len, p), cls = rd_be16(c->m, c->len, p + 2);
        uint32_t ttl = rd_be32(c->m, c->len, p + 4);
        uint16_t rdl = rd_be16(c->m, c->len, p + 8);
        p += 10;
        if (c->len - p < rdl) {
            weird(c, "dns_truncated_rr", "record data past the end of the message");
            rc = -1;
            break;
        }
        *pos = p + rdl;
        if (type == 41 && x) {
            if (x->seen) weird(c, "dns_multiple_opt", "more than one OPT record");
            else parse_opt(c, x, cls, ttl, p, rdl);
            continue;
        }
        if (!listing) {
            if (!c->rr_weird) {
                c->rr_weird = 1;
                weird(c, c->ar.full ? "dns_arena_full" : "dns_too_many_records",
                      "records beyond the bound are counted, not listed");
            }
            continue;
        }
        /* text of the data: at most 4 bytes a byte, but a type bitmap (NSEC) or
         * SVCB key list can write a mnemonic for each bit */
        size_t per = (type == 47 || type == 64 || type == 65) ? 90 : 4;
        size_t cap = (size_t)rdl * per + 2 * NAME_TEXT_MAX + 96;
        eng_value_t *kv = ar_alloc(&c->ar, 10 * sizeof *kv);
        char *buf = kv ? ar_alloc(&c->ar, cap) : NULL;
        if (!buf || !kv) {
            if (!c->rr_weird) {
                c->rr_weird = 1;
                weird(c, "dns_arena_full", "records beyond the bound are counted, not listed");
            }
            continue;
        }
        sb_t b = {buf, 0, cap, 0};
        const char *w = fmt_rdata(c->m, c->len, p, rdl, type, &b);
        ar_trim(&c->ar, buf, cap, b.n);
        if (b.over) weird(c, "dns_text_cut", "the text of a record's data was cut at its bound");
        if (w) {
            char d[48];
            snprintf(d, sizeof d, "%s record %s", type_name(type) ? type_name(type) : "a", what);
            weird(c, w, d);
        }
        uint16_t kc = cls_mask(c, cls);
        kv[0] = ev_cstr(K_NAME);
        kv[1] = nm;
        kv[2] = ev_cstr(K_TYPE);
        kv[3] = num_name(&c->ar, type_name(type), "TYPE", type);
        kv[4] = ev_cstr(K_CLASS);
        kv[5] = num_name(&c->ar, class_name(kc), "CLASS", kc);
        kv[6] = ev_cstr(K_TTL);
        kv[7] = ev_int(ttl);
        kv[8] = ev_cstr(K_DATA);
        kv[9] = ev_str(buf, b.n, ENG_NO_OFFSET);
        eng_value_t v;
        v.type = ENG_T_MAP;
        v.len = 5;
        v.u.list = kv;
        v.offset = ENG_NO_OFFSET;
        list[n++] = v;
        c->nrr++;
    }
    list_out->type = ENG_T_LIST;
    list_out->len = n;
    list_out->u.list = list;
    list_out->offset = ENG_NO_OFFSET;
    return rc;
}

static void message(eng_t *e, eng_flow_t *f, dns_t *s, const uint8_t *m, size_t len, uint64_t off)
{
    msgctx_t c = {e, f, s, m, len, off, {NULL, 0, 0}, 0, 0};
    if (len < 12) {
        eng_weird(e, f, "dns_truncated_header", "%zu bytes", len);
        return;
    }
    uint16_t id = rd_be16(m, len, 0), fl = rd_be16(m, len, 2);
    unsigned qd = rd_be16(m, len, 4), an = rd_be16(m, len, 6), ns = rd_be16(m, len, 8),
             ar = rd_be16(m, len, 10);
    int qr = fl >> 15;
    size_t pos = 12;
    eng_value_t qname = {ENG_T_NIL, 0, {NULL}, ENG_NO_OFFSET};
    uint16_t qtype = 0, qcls = 0;
    uint32_t qhash = 0;
    int have_q = 0, bad = 0;
    int64_t now = dec_now(e);
    if (qd > MAX_QUESTIONS) weird(&c, "dns_too_many_questions", "only the first ones fire dns.query");
    for (unsigned i = 0; i < qd; i++) {
        eng_value_t nm;
        uint32_t h;
        if (name_value(&c, &pos, &nm, &h, "in the question") < 0) {
            bad = 1;
            break;
        }
        if (len - pos < 4) {
            weird(&c, "dns_truncated_question", "the question's type and class are cut");
            bad = 1;
            break;
        }
        uint16_t t = rd_be16(m, len, pos), cl = cls_mask(&c, rd_be16(m, len, pos + 2));
        pos += 4;
        if (!have_q) {
            qname = nm;
            qtype = t;
            qcls = cl;
            qhash = h;
            have_q = 1;
        }
        if (!qr && i < MAX_QUESTIONS && dec_wants(e, ENG_EV_DNS_QUERY)) {
            eng_event_t ev;
            ev_init(&ev, ENG_EV_DNS_QUERY, f);
            ev_set(&ev, ENG_F_DNS_QUERY_id, ev_int(id));
            ev_set(&ev, ENG_F_DNS_QUERY_qname, nm);
            ev_set(&ev, ENG_F_DNS_QUERY_qtype, num_name(&c.ar, type_name(t), "TYPE", t));
            ev_set(&ev, ENG_F_DNS_QUERY_qclass, num_name(&c.ar, class_name(cl), "CLASS", cl));
            ev_set(&ev, ENG_F_DNS_QUERY_rd, ev_bool(fl & 0x0100));
            ev_set(&ev, ENG_F_DNS_QUERY_z, ev_int((fl >> 6) & 1));
            if (off != ENG_NO_OFFSET) ev_set(&ev, ENG_F_DNS_QUERY_offset, ev_int((int64_t)off));
            dec_fire(e, &ev);
        }
    }
    if (!qr) {
        if (have_q || !bad) {
            pend_t p = {now, qhash, id, qtype, (uint8_t)have_q};
            pend_add(e, f, s, &p);
        }
        if (!bad && (an || ns || ar)) {
            /* queries may carry records (EDNS OPT, updates): checked, not listed */
            edns_t x;
            memset(&x, 0, sizeof x);
            eng_value_t l;
            c.nrr = MAX_RR; /* list nothing */
            c.rr_weird = 1;
            if (section(&c, &pos, an, &l, NULL, "in the query") == 0 &&
                section(&c, &pos, ns, &l, NULL, "in the query") == 0 &&
                section(&c, &pos, ar, &l, &x, "in the query") == 0 && pos < len)
                weird(&c, "dns_trailing_bytes", "bytes after the last record");
        } else if (!bad && pos < len) {
            weird(&c, "dns_trailing_bytes", "bytes after the last record");
        }
        ar_free(&c.ar);
        return;
    }
    /* a response */
    pend_t q = {0, 0, 0, 0, 0};
    int matched = pend_take(e, s, id, have_q, qhash, qtype, &q);
    if (!dec_wants(e, ENG_EV_DNS_ANSWER)) {
        ar_free(&c.ar);
        return;
    }
    eng_value_t lists[3];
    static const char *const what[3] = {"in the answer section", "in the authority section",
                                        "in the additional section"};
    unsigned counts[3] = {an, ns, ar};
    edns_t x;
    memset(&x, 0, sizeof x);
    int stop = bad;
    for (int k = 0; k < 3; k++) {
        lists[k].type = ENG_T_LIST;
        lists[k].len = 0;
        lists[k].u.list = NULL;
        lists[k].offset = ENG_NO_OFFSET;
        if (!stop && section(&c, &pos, counts[k], &lists[k], k == 2 ? &x : NULL, what[k]) < 0) stop = 1;
    }
    if (!stop && pos < len) weird(&c, "dns_trailing_bytes", "bytes after the last record");
    unsigned rc = (fl & 0xf) | (x.seen ? x.ext_rcode << 4 : 0);
    eng_event_t ev;
    ev_init(&ev, ENG_EV_DNS_ANSWER, f);
    ev_set(&ev, ENG_F_DNS_ANSWER_id, ev_int(id));
    if (have_q) {
        ev_set(&ev, ENG_F_DNS_ANSWER_qname, qname);
        ev_set(&ev, ENG_F_DNS_ANSWER_qtype, num_name(&c.ar, type_name(qtype), "TYPE", qtype));
    } else if (matched && q.has_q) {
        ev_set(&ev, ENG_F_DNS_ANSWER_qtype, num_name(&c.ar, type_name(q.qtype), "TYPE", q.qtype));
    }
    (void)qcls;
    ev_set(&ev, ENG_F_DNS_ANSWER_rcode, num_name(&c.ar, rcode_name(rc), "RCODE", rc));
    ev_set(&ev, ENG_F_DNS_ANSWER_aa, ev_bool(fl & 0x0400));
    ev_set(&ev, ENG_F_DNS_ANSWER_tc, ev_bool(fl & 0x0200));
    ev_set(&ev, ENG_F_DNS_ANSWER_rd, ev_bool(fl & 0x0100));
    ev_set(&ev, ENG_F_DNS_ANSWER_ra, ev_bool(fl & 0x0080));
    ev_set(&ev, ENG_F_DNS_ANSWER_ad, ev_bool(fl & 0x0020));
    ev_set(&ev, ENG_F_DNS_ANSWER_cd, ev_bool(fl & 0x0010));
    ev_set(&ev, ENG_F_DNS_ANSWER_answers, lists[0]);
    ev_set(&ev, ENG_F_DNS_ANSWER_authority, lists[1]);
    ev_set(&ev, ENG_F_DNS_ANSWER_additional, lists[2]);
    if (x.seen) {
        if (x.nopts) {
            eng_value_t *ol = ar_alloc(&c.ar, (size_t)x.nopts * sizeof *ol);
            if (ol) {
                memcpy(ol, x.opts, (size_t)x.nopts * sizeof *ol);
                eng_value_t lv = {ENG_T_LIST, (uint32_t)x.nopts, {NULL}, ENG_NO_OFFSET};
                lv.u.list = ol;
                edns_kv(&x, "options", lv);
            }
        }
        eng_value_t mv = {ENG_T_MAP, (uint32_t)(x.nkv / 2), {NULL}, ENG_NO_OFFSET};
        mv.u.list = x.kv;
        ev_set(&ev, ENG_F_DNS_ANSWER_edns, mv);
    }
    if (matched) ev_set(&ev, ENG_F_DNS_ANSWER_rtt, ev_num((double)(now - q.ts) / 1e9));
    if (off != ENG_NO_OFFSET) ev_set(&ev, ENG_F_DNS_ANSWER_offset, ev_int((int64_t)off));
    dec_fire(e, &ev);
    ar_free(&c.ar);
}

/* ---- the content probe ------------------------------------------------------ */

/* m[0..len) is one whole DNS message with at least one question that parses
 * to its last byte */
static int whole_message(const uint8_t *m, size_t len)
{
    if (len < 12 || len > DNS_TCP_MAX) return 0;
    unsigned fl = rd_be16(m, len, 2), qd = rd_be16(m, len, 4);
    unsigned op = (fl >> 11) & 0xf;
    if (qd < 1 || qd > 8 || (op != 0 && op != 2 && op != 4 && op != 5)) return 0;
    unsigned n[3] = {rd_be16(m, len, 6), rd_be16(m, len, 8), rd_be16(m, len, 10)};
    size_t pos = 12;
    char tmp[NAME_TEXT_MAX];
    for (unsigned i = 0; i < qd; i++) {
        sb_t b = {tmp, 0, sizeof tmp, 0};
        if (read_name(m, len, &pos, &b, "", NULL) || len - pos < 4) return 0;
        unsigned cls = rd_be16(m, len, pos + 2) & 0x7fff;
        if (cls != 1 && cls != 3 && cls != 4 && cls != 254 && cls != 255) return 0;
        pos += 4;
    }
    for (int k = 0; k < 3; k++)
        for (unsigned i = 0; i < n[k]; i++) {
            sb_t b = {tmp, 0, sizeof tmp, 0};
            if (read_name(m, len, &pos, &b, "", NULL) || len - pos < 10) return 0;
            size_t rdl = rd_be16(m, len, pos + 8);
            pos += 10;
            if (len - pos < rdl) return 0;
            pos += rdl;
        }
    return pos == len;
}

/* 1: a whole message (UDP) or a length and a whole message (TCP) that parse
 * to their last byte; 0: text (four printable bytes first, as the line
 * protocols start); else -1, so that the port hint decides (junk sent to
 * port 53 is still DNS's to report) */
static int dns_probe(const uint8_t *p, size_t len, int dir)
{
    (void)dir;
    if (whole_message(p, len)) return 1;
    if (len >= 2) {
        size_t ml = rd_be16(p, len, 0);
        if (ml >= 12 && len - 2 >= ml && whole_message(p + 2, ml)) return 1;
    }
    if (len >= 4) {
        int text = 1;
        for (int i = 0; i < 4; i++)
            if (p[i] < 0x20 || p[i] > 0x7e) text = 0;
        if (text) return 0;
    }
    return -1;
}

/* ---- entry points -------------------------------------------------------------- */

static void dns_init(eng_t *e, eng_flow_t *f, void *st)
{
    dns_t *s = st;
    s->mdns = f->resp_port == 5353 || f->orig_port == 5353;
    uint64_t mp = dec_config_u64(e, "dns.max_pending", PENDING_DEFAULT);
    if (mp < 1) mp = 1;
    if (mp > PENDING_HARD_MAX) mp = PENDING_HARD_MAX;
    s->max_pend = (uint32_t)mp;
    uint64_t to = dec_config_u64(e, "dns.query_timeout", 10);
    s->timeout_ns = to > 86400 ? 86400LL * 1000000000LL : (int64_t)to * 1000000000LL;
    s->inited = 1;
}

static void dns_datagram(eng_t *e, eng_flow_t *f, void *st, int dir, const uint8_t *p, size_t len)
{
    dns_t *s = st;
    if (!s->inited || !dec_wanted(e, &eng_decoder_dns)) return;
    (void)dir;
    message(e, f, s, p, len, ENG_NO_OFFSET);
}

static void tcp_init(eng_flow_t *f, dns_t *s)
{
    if (s->tcp_inited) return;
    sr_init(&s->t[0].sr, DNS_TCP_MAX);
    sr_init(&s->t[1].sr, DNS_TCP_MAX);
    sr_bind(&s->t[0].sr, dec_flow_mem(f));
    sr_bind(&s->t[1].sr, dec_flow_mem(f));
    s->tcp_inited = 1;
}

static void run_tcp(eng_t *e, eng_flow_t *f, dns_t *s, int dir)
{
    tdir_t *t = &s->t[dir];
    for (;;) {
        sr_view_t v;
        if (t->dead) {
            while (sr_some(&t->sr, 65536, &v) == SR_OK) {}
            return;
        }
        int r = sr_bytes(&t->sr, t->have_len ? t->need : 2, &v);
        if (r == SR_MORE) return;
        if (r == SR_GAP) {
            /* the bytes after a gap usually start a segment, and a segment
             * usually starts a message: try that */
            eng_weird(e, f, "dns_tcp_gap", "bytes lost in the %s direction", dir ? "resp" : "orig");
            t->have_len = 0;
            t->resync = 1;
            continue;
        }
        if (!t->have_len) {
            t->need = rd_be16(v.p, v.len, 0);
            t->have_len = 1;
            if (t->need == 0) {
                eng_weird(e, f, "dns_tcp_zero_length", "a message of length 0");
                t->have_len = 0;
            }
            continue;
        }
        t->have_len = 0;
        if (t->resync) {
            t->resync = 0;
            if (!whole_message(v.p, v.len)) {
                eng_weird(e, f, "dns_tcp_resync_failed",
                          "after a gap the %s direction does not restart at a message: not decoded further",
                          dir ? "resp" : "orig");
                t->dead = 1;
                continue;
            }
        }
        message(e, f, s, v.p, v.len, v.off);
    }
}

static void dns_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                     size_t len)
{
    dns_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    tcp_init(f, s);
    sr_push(&s->t[dir].sr, off, p, len);
    if (!dec_wanted(e, &eng_decoder_dns)) {
        sr_view_t v;
        while (sr_some(&s->t[dir].sr, 65536, &v) == SR_OK) {}
        return;
    }
    run_tcp(e, f, s, dir);
}

static void dns_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    dns_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    tcp_init(f, s);
    sr_gap(&s->t[dir].sr, off, len);
    run_tcp(e, f, s, dir);
}

static void dns_end(eng_t *e, eng_flow_t *f, void *st)
{
    dns_t *s = st;
    if (!s->inited) return;
    if (s->tcp_inited) {
        for (int d = 0; d < 2; d++) {
            tdir_t *t = &s->t[d];
            if (!t->dead && (t->have_len || sr_avail(&t->sr)))
                eng_weird(e, f, "dns_tcp_truncated_message", "the %s direction ended inside a message",
                          d ? "resp" : "orig");
            sr_free(&t->sr);
        }
    }
    dec_mem(f, -(int64_t)(s->cap * sizeof *s->pend));
    free(s->pend);
    s->pend = NULL;
    s->npend = s->cap = 0;
    s->inited = 0;
}

static const uint16_t dns_ports[] = {53, 5353, 5355, 0};

const eng_decoder_t eng_decoder_dns = {
    .name = "dns",
    .probe = dns_probe,
    .ports = dns_ports,
    .state_size = sizeof(dns_t),
    .init = dns_init,
    .data = dns_data,
    .gap = dns_gap,
    .datagram = dns_datagram,
    .end = dns_end,
};
