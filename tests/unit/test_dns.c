/* test_dns.c - the DNS decoder (decoders/dns.c) on hand-made messages over
 * UDP and TCP: events and their fields as text, record data as dig prints
 * it, EDNS, pairing and rtt, the bounds of the pending table, and bad input
 * (compression loops, pointers past the end, labels past the end, names over
 * 255 bytes, TXT lengths past the record, TCP gaps) as named weirds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decoder.h"
#include "engine.h"
#include "pktbuild.h"

extern const eng_decoder_t eng_decoder_dns;

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

/* ---- the recorder: one line per event ---------------------------------------- */

typedef struct rec {
    char *log;
    size_t len, cap;
    int weirds;
    int evicted;
} rec_t;

static void put(rec_t *r, const char *s, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2 + 256;
        r->log = realloc(r->log, r->cap);
    }
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = 0;
}
static void puts_(rec_t *r, const char *s) { put(r, s, strlen(s)); }

static void val(rec_t *r, const eng_value_t *v, int depth)
{
    char t[64];
    switch (v->type) {
    case ENG_T_NIL: puts_(r, "nil"); break;
    case ENG_T_INT: snprintf(t, sizeof t, "%lld", (long long)v->u.i); puts_(r, t); break;
    case ENG_T_BOOL: puts_(r, v->u.i ? "T" : "F"); break;
    case ENG_T_NUM: snprintf(t, sizeof t, "%.3f", v->u.n); puts_(r, t); break;
    case ENG_T_STR:
        for (uint32_t i = 0; i < v->len; i++) {
            uint8_t c = v->u.s[i];
            if (c >= 32 && c < 127) put(r, (const char *)&c, 1);
            else { snprintf(t, sizeof t, "\\x%02x", c); puts_(r, t); }
        }
        break;
    case ENG_T_LIST:
        puts_(r, "[");
        for (uint32_t i = 0; i < v->len && depth < 8; i++) {
            if (i) puts_(r, ", ");
            val(r, &v->u.list[i], depth + 1);
        }
        puts_(r, "]");
        break;
    case ENG_T_MAP:
        puts_(r, "{");
        for (uint32_t i = 0; i < v->len && depth < 8; i++) {
            if (i) puts_(r, " ");
            val(r, &v->u.list[2 * i], depth + 1);
            puts_(r, "=");
            val(r, &v->u.list[2 * i + 1], depth + 1);
        }
        puts_(r, "}");
        break;
    }
}

static void on_ev(eng_t *e, const eng_event_t *ev, void *u)
{
    (void)e;
    rec_t *r = u;
    if (ev->kind == ENG_EV_WEIRD) {
        r->weirds++;
        if (ev->f[0].len == 19 && !memcmp(ev->f[0].u.s, "dns_pending_evicted", 19)) {
            r->evicted++;
            return;
        }
    }
    puts_(r, eng_event_name(ev->kind));
    for (int i = 0; i < ev->nfields; i++) {
        if (ev->f[i].type == ENG_T_NIL) continue;
        if (ev->kind == ENG_EV_WEIRD && i != ENG_F_WEIRD_name) continue; /* detail, source */
        puts_(r, " ");
        puts_(r, eng_event_field_name(ev->kind, i));
        puts_(r, "=");
        val(r, &ev->f[i], 0);
    }
    puts_(r, "\n");
}

static eng_t *new_eng(rec_t *r)
{
    memset(r, 0, sizeof *r);
    eng_t *e = eng_new();
    eng_on(e, ENG_EV_DNS_QUERY, on_ev, r);
    eng_on(e, ENG_EV_DNS_ANSWER, on_ev, r);
    eng_on(e, ENG_EV_WEIRD, on_ev, r);
    return e;
}

static void done(eng_t *e, rec_t *r)
{
    eng_free(e);
    free(r->log);
    r->log = NULL;
}

static int has(const rec_t *r, const char *s)
{
    int ok = r->log && strstr(r->log, s) != NULL;
    if (!ok) fprintf(stderr, "  missing: %s\n  log:\n%s\n", s, r->log ? r->log : "(empty)");
    return ok;
}

/* ---- messages ------------------------------------------------------------------ */

typedef struct msg {
    uint8_t b[70000];
    size_t n;
} msg_t;

static void m_u8(msg_t *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static void m_u16(msg_t *m, unsigned v) { m_u8(m, v >> 8); m_u8(m, v & 0xff); }
static void m_u32(msg_t *m, uint32_t v) { m_u16(m, v >> 16); m_u16(m, v & 0xffff); }
static void m_raw(msg_t *m, const void *p, size_t n) { if (n) memcpy(m->b + m->n, p, n); m->n += n; }
/* "www.example.com" as labels, ending with the root */
static void m_name(msg_t *m, const char *s)
{
    while (*s) {
        const char *d = strchr(s, '.');
        size_t l = d ? (size_t)(d - s) : strlen(s);
        m_u8(m, (unsigned)l);
        m_raw(m, s, l);
        s += l + (d ? 1 : 0);
    }
    m_u8(m, 0);
}
static void m_hdr(msg_t *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
    m->n = 0;
    m_u16(m, id); m_u16(m, flags); m_u16(m, qd); m_u16(m, an); m_u16(m, ns); m_u16(m, ar);
}
/* a record: owner already written; type class ttl and rdata */
static void m_rr(msg_t *m, unsigned type, unsigned cls, uint32_t ttl, const void *rd, size_t n)
{
    m_u16(m, type); m_u16(m, cls); m_u32(m, ttl); m_u16(m, (unsigned)n); m_raw(m, rd, n);
}
static void m_query(msg_t *m, unsigned id, const char *name, unsigned type)
{
    m_hdr(m, id, 0x0100, 1, 0, 0, 0);
    m_name(m, name);
    m_u16(m, type);
    m_u16(m, 1);
}

static uint8_t frame[70100];
static int64_t now_ns = T0;

static void udp(eng_t *e, int from_server, const msg_t *m, uint16_t cport, uint16_t sport)
{
    size_t n = from_server ? pb_udp4(frame, "10.0.0.53", sport, "10.0.0.1", cport, m->b, m->n)
                           : pb_udp4(frame, "10.0.0.1", cport, "10.0.0.53", sport, m->b, m->n);
    now_ns += SEC / 1000;
    eng_feed(e, now_ns, 1, frame, (uint32_t)n, (uint32_t)n);
}

/* ---- a TCP connection to port 53 ------------------------------------------------ */

typedef struct tconn {
    eng_t *e;
    uint32_t seq[2];
} tconn_t;

static void t_seg(tconn_t *c, int d, uint8_t fl, const void *p, size_t n)
{
    size_t l = d ? pb_tcp4(frame, "10.0.0.53", 53, "10.0.0.1", 40000, c->seq[1], c->seq[0], fl, p, n, 65535)
                 : pb_tcp4(frame, "10.0.0.1", 40000, "10.0.0.53", 53, c->seq[0], c->seq[1], fl, p, n, 65535);
    now_ns += SEC / 1000;
    eng_feed(c->e, now_ns, 1, frame, (uint32_t)l, (uint32_t)l);
    c->seq[d] += (uint32_t)n + ((fl & (PB_SYN | PB_FIN)) ? 1 : 0);
}
static void t_open(tconn_t *c, eng_t *e)
{
    c->e = e;
    c->seq[0] = 1000;
    c->seq[1] = 9000;
    t_seg(c, 0, PB_SYN, NULL, 0);
    t_seg(c, 1, PB_SYN | PB_ACK, NULL, 0);
    t_seg(c, 0, PB_ACK, NULL, 0);
}
static void t_close(tconn_t *c)
{
    t_seg(c, 0, PB_FIN | PB_ACK, NULL, 0);
    t_seg(c, 1, PB_FIN | PB_ACK, NULL, 0);
    t_seg(c, 0, PB_ACK, NULL, 0);
}
/* a message with its 2-byte length, appended to buf */
static size_t framed(uint8_t *buf, const msg_t *m)
{
    buf[0] = (uint8_t)(m->n >> 8);
    buf[1] = (uint8_t)m->n;
    memcpy(buf + 2, m->b, m->n);
    return m->n + 2;
}

/* ---- tests ------------------------------------------------------------------------ */

static msg_t m, m2;

/* www.example.com A: CNAME to web.example.com (compressed), then A */
static void answer_cname(msg_t *a, unsigned id)
{
    m_hdr(a, id, 0x8180, 1, 2, 0, 0);
    m_name(a, "www.example.com");   /* at 12 */
    m_u16(a, 1); m_u16(a, 1);
    m_u16(a, 0xc00c);               /* www.example.com */
    uint8_t cn[] = {3, 'w', 'e', 'b', 0xc0, 16}; /* web + example.com */
    m_rr(a, 5, 1, 300, cn, sizeof cn);
    size_t web = a->n + 10;         /* where web.example.com starts: in that rdata */
    (void)web;
    m_u16(a, 0xc000 | (unsigned)(12 + 17 + 4 + 12));
    uint8_t ip[] = {192, 0, 2, 7};
    m_rr(a, 1, 1, 60, ip, 4);
}

TEST(udp_query_and_answer)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    m_query(&m, 0x1234, "www.example.com", 1);
    udp(e, 0, &m, 40001, 53);
    answer_cname(&m2, 0x1234);
    udp(e, 1, &m2, 40001, 53);
    eng_finish(e);
    CHECK(has(&r, "dns.query id=4660 qname=www.example.com qtype=A qclass=IN rd=T z=0\n"));
    CHECK(has(&r, "dns.answer id=4660 qname=www.example.com qtype=A rcode=NOERROR aa=F tc=F rd=T ra=T "
                  "ad=F cd=F answers=[{name=www.example.com type=CNAME class=IN ttl=300 data=web.example.com}, "
                  "{name=web.example.com type=A class=IN ttl=60 data=192.0.2.7}] authority=[] additional=[] "
                  "rtt=0.001\n"));
    CHECK_EQ_INT(r.weirds, 0);
    done(e, &r);
}

TEST(answer_before_query_and_never_answered)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    answer_cname(&m2, 7);
    udp(e, 1, &m2, 40002, 53); /* the reply first: the flow is the client's all the same */
    m_query(&m, 7, "www.example.com", 1);
    udp(e, 0, &m, 40002, 53);
    m_query(&m, 8, "lost.example.com", 28);
    udp(e, 0, &m, 40002, 53);
    eng_finish(e);
    /* no rtt: the query was not seen before */
    CHECK(has(&r, "dns.answer id=7 qname=www.example.com qtype=A rcode=NOERROR"));
    CHECK(r.log && !strstr(r.log, "rtt="));
    CHECK(has(&r, "dns.query id=8 qname=lost.example.com qtype=AAAA"));
    done(e, &r);
}

TEST(tcp_messages_together_and_split)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    tconn_t c;
    t_open(&c, e);
    uint8_t buf[1024];
    size_t n = 0;
    m_query(&m, 1, "a.example", 1);
    n += framed(buf + n, &m);
    m_query(&m, 2, "b.example", 16);
    n += framed(buf + n, &m);
    t_seg(&c, 0, PB_ACK | PB_PSH, buf, n); /* two queries in one segment */
    /* the first answer one byte a segment */
    m_hdr(&m2, 1, 0x8580, 1, 1, 0, 0);
    m_name(&m2, "a.example");
    m_u16(&m2, 1); m_u16(&m2, 1);
    m_u16(&m2, 0xc00c);
    uint8_t ip[] = {10, 1, 2, 3};
    m_rr(&m2, 1, 1, 5, ip, 4);
    n = framed(buf, &m2);
    for (size_t i = 0; i < n; i++) t_seg(&c, 1, PB_ACK | PB_PSH, buf + i, 1);
    /* the second: TXT with two strings, one with a quote and a byte 0x01 */
    m_hdr(&m2, 2, 0x8580, 1, 1, 0, 0);
    m_name(&m2, "b.example");
    m_u16(&m2, 16); m_u16(&m2, 1);
    m_u16(&m2, 0xc00c);
    uint8_t txt[] = {5, 'h', 'e', 'l', 'l', 'o', 6, 's', 'a', 'y', '"', 'x', 1};
    m_rr(&m2, 16, 1, 5, txt, sizeof txt);
    n = framed(buf, &m2);
    t_seg(&c, 1, PB_ACK | PB_PSH, buf, n);
    t_close(&c);
    eng_finish(e);
    CHECK(has(&r, "dns.query id=1 qname=a.example qtype=A qclass=IN rd=T z=0 offset=2\n"));
    CHECK(has(&r, "dns.query id=2 qname=b.example qtype=TXT qclass=IN rd=T z=0 offset=31\n"));
    CHECK(has(&r, "dns.answer id=1 qname=a.example qtype=A rcode=NOERROR aa=T tc=F rd=T ra=T ad=F cd=F "
                  "answers=[{name=a.example type=A class=IN ttl=5 data=10.1.2.3}]"));
    CHECK(has(&r, "offset=2\n"));
    CHECK(has(&r, "data=\"hello\" \"say\\\"x\\001\"}]"));
    CHECK(has(&r, "offset=47\n")); /* the second answer: 2 + 43 bytes + its own 2 */
    CHECK_EQ_INT(r.weirds, 0);
    done(e, &r);
}

TEST(compression_loops_and_bad_pointers)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    /* a pointer to itself */
    m_hdr(&m, 1, 0x0100, 1, 0, 0, 0);
    m_u16(&m, 0xc00c);
    m_u16(&m, 1); m_u16(&m, 1);
    udp(e, 0, &m, 40003, 53);
    /* two names pointing at each other: a -> b -> a */
    m_hdr(&m, 2, 0x8180, 1, 1, 0, 0);
    m_name(&m, "x.example");          /* 12..22 */
    m_u16(&m, 1); m_u16(&m, 1);       /* 23..26 */
    m_u8(&m, 1); m_u8(&m, 'a');       /* 27: "a" then pointer to 33 (forward) */
    m_u16(&m, 0xc000 | 33);           /* 29 */
    m_u16(&m, 1); m_u16(&m, 1); m_u32(&m, 0); m_u16(&m, 0); /* 31..40 */
    udp(e, 1, &m, 40003, 53);
    /* a pointer past the end */
    m_hdr(&m, 3, 0x0100, 1, 0, 0, 0);
    m_u16(&m, 0xc000 | 0x3fff);
    m_u16(&m, 1); m_u16(&m, 1);
    udp(e, 0, &m, 40003, 53);
    /* a chain of backward pointers is fine: c -> b.c -> a.b.c */
    m_hdr(&m, 4, 0x8180, 1, 1, 0, 0);
    m_name(&m, "c");                   /* 12: 1 c 0 */
    m_u16(&m, 1); m_u16(&m, 1);        /* 15 */
    m_u8(&m, 1); m_u8(&m, 'b'); m_u16(&m, 0xc00c); /* 19: b.c */
    m_u16(&m, 5); m_u16(&m, 1); m_u32(&m, 1);
    m_u16(&m, 4); m_u8(&m, 1); m_u8(&m, 'a'); m_u16(&m, 0xc000 | 19); /* CNAME a.b.c */
    udp(e, 1, &m, 40003, 53);
    eng_finish(e);
    CHECK(has(&r, "weird name=dns_name_pointer_loop\n"));
    CHECK(has(&r, "weird name=dns_name_pointer_past_end\n"));
    CHECK(has(&r, "answers=[{name=b.c type=CNAME class=IN ttl=1 data=a.b.c}]"));
    /* the looping answer still fires, with what was read before the loop */
    CHECK(has(&r, "dns.answer id=2 qname=x.example qtype=A rcode=NOERROR"));
    done(e, &r);
}

TEST(labels_past_the_end_and_long_names)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    m_hdr(&m, 1, 0x0100, 1, 0, 0, 0);
    m_u8(&m, 63);
    m_raw(&m, "abcde", 5);
    udp(e, 0, &m, 40004, 53);
    /* a reserved label type (0x40) */
    m_hdr(&m, 2, 0x0100, 1, 0, 0, 0);
    m_u8(&m, 0x41); m_u8(&m, 'x'); m_u8(&m, 0); m_u16(&m, 1); m_u16(&m, 1);
    udp(e, 0, &m, 40004, 53);
    /* 5 labels of 63: 321 bytes of wire name; the question goes on */
    m_hdr(&m, 3, 0x0100, 1, 0, 0, 0);
    for (int i = 0; i < 5; i++) {
        m_u8(&m, 63);
        for (int k = 0; k < 63; k++) m_u8(&m, 'a' + i);
    }
    m_u8(&m, 0);
    m_u16(&m, 16); m_u16(&m, 1);
    udp(e, 0, &m, 40004, 53);
    /* exactly 255: fine (3 labels of 63 and one of 61, plus lengths and root) */
    m_hdr(&m, 4, 0x0100, 1, 0, 0, 0);
    for (int i = 0; i < 4; i++) {
        int l = i < 3 ? 63 : 61;
        m_u8(&m, (unsigned)l);
        for (int k = 0; k < l; k++) m_u8(&m, 'q');
    }
    m_u8(&m, 0);
    m_u16(&m, 1); m_u16(&m, 1);
    udp(e, 0, &m, 40004, 53);
    eng_finish(e);
    CHECK(has(&r, "weird name=dns_name_truncated\n"));
    CHECK(has(&r, "weird name=dns_name_bad_label_type\n"));
    CHECK(has(&r, "weird name=dns_name_too_long\n"));
    CHECK(has(&r, "dns.query id=3 qname=<Name too long> qtype=TXT"));
    CHECK(has(&r, "dns.query id=4 qname=qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq.qqq"));
    CHECK(r.log && !strstr(r.log, "dns.query id=1 ") && !strstr(r.log, "dns.query id=2 "));
    done(e, &r);
}

TEST(txt_length_past_the_record)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    m_hdr(&m, 9, 0x8180, 1, 1, 0, 0);
    m_name(&m, "t.example");
    m_u16(&m, 16); m_u16(&m, 1);
    m_u16(&m, 0xc00c);
    uint8_t txt[] = {10, 'a', 'b', 'c', 'd'};
    m_rr(&m, 16, 1, 1, txt, sizeof txt);
    udp(e, 1, &m, 40005, 53);
    /* rdata longer than the message */
    m_hdr(&m, 10, 0x8180, 1, 1, 0, 0);
    m_name(&m, "t.example");
    m_u16(&m, 1); m_u16(&m, 1);
    m_u16(&m, 0xc00c);
    m_u16(&m, 1); m_u16(&m, 1); m_u32(&m, 1); m_u16(&m, 400); m_u32(&m, 0);
    udp(e, 1, &m, 40005, 53);
    eng_finish(e);
    CHECK(has(&r, "weird name=dns_txt_length_past_rdata\n"));
    CHECK(has(&r, "data=\\# 5 0A61626364}]")); /* the generic form instead */
    CHECK(has(&r, "weird name=dns_truncated_rr\n"));
    CHECK(has(&r, "dns.answer id=10 qname=t.example qtype=A rcode=NOERROR"));
    done(e, &r);
}

/* one answer record of type t with rdata rd into an answer for q.example */
static void one_rr(eng_t *e, unsigned id, unsigned t, const void *rd, size_t n)
{
    m_hdr(&m2, id, 0x8400, 1, 1, 0, 0);
    m_name(&m2, "q.example");
    m_u16(&m2, t); m_u16(&m2, 1);
    m_u16(&m2, 0xc00c);
    m_rr(&m2, t, 1, 3600, rd, n);
    udp(e, 1, &m2, 40006, 53);
}

TEST(record_data_as_dig_prints_it)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    uint8_t mx[] = {0, 10, 4, 'm', 'a', 'i', 'l', 0xc0, 14}; /* 10 mail.example */
    one_rr(e, 1, 15, mx, sizeof mx);
    uint8_t srv[] = {0, 1, 0, 2, 0x13, 0xc4, 0}; /* 1 2 5060 . */
    one_rr(e, 2, 33, srv, sizeof srv);
    uint8_t soa[] = {2, 'n', 's', 0xc0, 14, 4, 'r', 'o', 'o', 't', 0xc0, 14,
                     0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x02, 0x58, 0, 0x09, 0x3a, 0x80, 0, 0, 0, 60};
    one_rr(e, 3, 6, soa, sizeof soa);
    uint8_t caa[] = {128, 5, 'i', 's', 's', 'u', 'e', 'c', 'a', '.', 'n', 'e', 't'};
    one_rr(e, 4, 257, caa, sizeof caa);
    uint8_t https[] = {0, 1, 0,                 /* 1 . */
                       0, 0, 0, 2, 0, 1,        /* mandatory=alpn */
                       0, 1, 0, 3, 2, 'h', '2', /* alpn="h2" */
                       0, 2, 0, 0,              /* no-default-alpn */
                       0, 5, 0, 3, 1, 2, 3,     /* ech=AQID */
                       0, 6, 0, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                       0x01, 0x00, 0, 2, 'h', 'i'}; /* key256="hi" */
    one_rr(e, 5, 65, https, sizeof https);
    uint8_t ds[] = {0x30, 0x39, 13, 2, 0xde, 0xad};
    one_rr(e, 6, 43, ds, sizeof ds);
    uint8_t unk[] = {1, 2, 0xff};
    one_rr(e, 7, 4321, unk, sizeof unk);
    one_rr(e, 8, 4321, NULL, 0);
    uint8_t badA[] = {1, 2, 3};
    one_rr(e, 9, 1, badA, sizeof badA);
    uint8_t naptr[] = {0, 100, 0, 10, 1, 'u', 7, 'E', '2', 'U', '+', 's', 'i', 'p', 0, 0};
    one_rr(e, 10, 35, naptr, sizeof naptr);
    uint8_t nsec[] = {1, 'z', 0xc0, 14, 0, 1, 0x40, 1, 1, 0x60}; /* A; 257 (CAA) and 258 */
    one_rr(e, 11, 47, nsec, sizeof nsec);
    eng_finish(e);
    CHECK(has(&r, "data=10 mail.example}"));
    CHECK(has(&r, "data=1 2 5060 .}"));
    CHECK(has(&r, "data=ns.example root.example 1 3600 600 604800 60}"));
    CHECK(has(&r, "data=128 issue \"ca.net\"}"));
    CHECK(has(&r, "data=1 . mandatory=alpn alpn=\"h2\" no-default-alpn ech=AQID ipv6hint=2001:db8::1 key256=\"hi\"}"));
    CHECK(has(&r, "data=12345 13 2 DEAD}"));
    CHECK(has(&r, "type=TYPE4321 class=IN ttl=3600 data=\\# 3 0102FF}"));
    CHECK(has(&r, "data=\\# 0}"));
    CHECK(has(&r, "type=A class=IN ttl=3600 data=\\# 3 010203}"));
    CHECK(has(&r, "weird name=dns_bad_rdata\n"));
    CHECK(has(&r, "data=100 10 \"u\" \"E2U+sip\" \"\" .}"));
    CHECK(has(&r, "data=z.example A CAA TYPE258}"));
    CHECK(has(&r, "aa=T"));
    done(e, &r);
}

TEST(edns_options_and_extended_rcode)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    m_hdr(&m, 5, 0x8190, 1, 0, 0, 1); /* CD set */
    m_name(&m, "e.example");
    m_u16(&m, 1); m_u16(&m, 1);
    m_u8(&m, 0);                       /* OPT */
    m_u16(&m, 41); m_u16(&m, 1232);
    m_u32(&m, (1u << 24) | 0x8000);    /* ext rcode 1 (BADVERS with rcode 0), DO */
    uint8_t opt[] = {0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2,                  /* ECS */
                     0, 10, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}; /* cookie */
    m_u16(&m, sizeof opt);
    m_raw(&m, opt, sizeof opt);
    udp(e, 1, &m, 40007, 53);
    /* two OPT records */
    m_hdr(&m, 6, 0x8180, 1, 0, 0, 2);
    m_name(&m, "e.example");
    m_u16(&m, 1); m_u16(&m, 1);
    for (int i = 0; i < 2; i++) { m_u8(&m, 0); m_u16(&m, 41); m_u16(&m, 512); m_u32(&m, 0); m_u16(&m, 0); }
    udp(e, 1, &m, 40007, 53);
    eng_finish(e);
    CHECK(has(&r, "dns.answer id=5 qname=e.example qtype=A rcode=BADVERS aa=F tc=F rd=T ra=T ad=F cd=T "
                  "answers=[] authority=[] additional=[] edns={udp_size=1232 version=0 do=T ext_rcode=1 "
                  "client_subnet=192.0.2.0/24/0 cookie=0102030405060708 server_cookie=090A0B0C0D0E0F10 "
                  "options=[8, 10]}\n"));
    CHECK(has(&r, "weird name=dns_multiple_opt\n"));
    done(e, &r);
}

TEST(pending_table_is_bounded)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    eng_off(e, 1); /* no dns.query lines: 100000 of them */
    for (unsigned i = 0; i < 100000; i++) {
        m_query(&m, i & 0xffff, "flood.example", 1);
        size_t n = pb_udp4(frame, "10.0.0.1", 40008, "10.0.0.53", 53, m.b, m.n);
        eng_feed(e, now_ns + i * 1000, 1, frame, (uint32_t)n, (uint32_t)n);
    }
    now_ns += 100000 * 1000LL + SEC / 10;
    /* the last query is still waiting, the first went long ago */
    m_hdr(&m2, 99999 & 0xffff, 0x8180, 1, 0, 0, 0);
    m_name(&m2, "flood.example");
    m_u16(&m2, 1); m_u16(&m2, 1);
    udp(e, 1, &m2, 40008, 53);
    m_hdr(&m2, 5, 0x8180, 1, 0, 0, 0);
    m_name(&m2, "flood.example");
    m_u16(&m2, 1); m_u16(&m2, 1);
    udp(e, 1, &m2, 40008, 53);
    eng_finish(e);
    CHECK_EQ_INT(r.evicted, 100000 - 64);
    CHECK(has(&r, "dns.answer id=34463 qname=flood.example qtype=A rcode=NOERROR aa=F tc=F rd=T ra=T ad=F "
                  "cd=F answers=[] authority=[] additional=[] rtt=0.101\n"));
    CHECK(has(&r, "dns.answer id=5 qname=flood.example qtype=A rcode=NOERROR aa=F tc=F rd=T ra=T ad=F "
                  "cd=F answers=[] authority=[] additional=[]\n"));
    done(e, &r);
}

TEST(query_timeout_and_config)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    char err[128];
    CHECK_EQ_INT(eng_config_set(e, "dns.query_timeout", "2", err, sizeof err), 0);
    m_query(&m, 77, "slow.example", 1);
    udp(e, 0, &m, 40009, 53);
    now_ns += 3 * SEC;
    m_hdr(&m2, 77, 0x8180, 1, 0, 0, 0);
    m_name(&m2, "slow.example");
    m_u16(&m2, 1); m_u16(&m2, 1);
    udp(e, 1, &m2, 40009, 53);
    m_query(&m, 78, "fast.example", 1);
    udp(e, 0, &m, 40009, 53);
    m_hdr(&m2, 78, 0x8180, 1, 0, 0, 0);
    m_name(&m2, "FAST.example"); /* 0x20 case randomisation: still the same name */
    m_u16(&m2, 1); m_u16(&m2, 1);
    udp(e, 1, &m2, 40009, 53);
    eng_finish(e);
    CHECK(has(&r, "dns.answer id=77 qname=slow.example qtype=A rcode=NOERROR aa=F tc=F rd=T ra=T ad=F cd=F "
                  "answers=[] authority=[] additional=[]\n"));
    CHECK(has(&r, "dns.answer id=78 qname=FAST.example qtype=A rcode=NOERROR aa=F tc=F rd=T ra=T ad=F cd=F "
                  "answers=[] authority=[] additional=[] rtt=0.001\n"));
    done(e, &r);
}

TEST(mdns_cache_flush_bit)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    m_hdr(&m, 0, 0x8400, 0, 1, 0, 0);
    m_name(&m, "printer.local");
    uint8_t ip[] = {192, 168, 1, 9};
    m_rr(&m, 1, 0x8001, 120, ip, 4);
    size_t n = pb_udp4(frame, "192.168.1.9", 5353, "224.0.0.251", 5353, m.b, m.n);
    eng_feed(e, now_ns += SEC, 1, frame, (uint32_t)n, (uint32_t)n);
    eng_finish(e);
    CHECK(has(&r, "dns.answer id=0 rcode=NOERROR aa=T tc=F rd=F ra=F ad=F cd=F answers=[{name=printer.local "
                  "type=A class=IN ttl=120 data=192.168.1.9}] authority=[] additional=[]\n"));
    done(e, &r);
}

TEST(tcp_gap_resync_and_bad_framing)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    tconn_t c;
    t_open(&c, e);
    uint8_t buf[512];
    m_query(&m, 1, "one.example", 1);
    size_t n = framed(buf, &m);
    t_seg(&c, 0, PB_ACK | PB_PSH, buf, n);
    c.seq[0] += 5; /* 5 bytes lost between messages */
    m_query(&m, 2, "two.example", 1);
    n = framed(buf, &m);
    t_seg(&c, 0, PB_ACK | PB_PSH, buf, n); /* starts a message: decoded */
    c.seq[0] += 3; /* lost again, and the next segment starts inside a message */
    t_seg(&c, 0, PB_ACK | PB_PSH, buf + 9, n - 9);
    m_query(&m, 3, "three.example", 1);
    n = framed(buf, &m);
    t_seg(&c, 0, PB_ACK | PB_PSH, buf, n); /* not decoded: the direction gave up */
    /* the server: a zero length, then a message cut by the end */
    uint8_t z[] = {0, 0, 0, 40, 1, 2, 3};
    t_seg(&c, 1, PB_ACK | PB_PSH, z, sizeof z);
    t_seg(&c, 0, PB_ACK, NULL, 0);
    t_close(&c);
    eng_finish(e);
    CHECK(has(&r, "weird name=dns_tcp_gap\n"));
    CHECK(has(&r, "dns.query id=1 qname=one.example"));
    CHECK(has(&r, "dns.query id=2 qname=two.example"));
    CHECK(has(&r, "weird name=dns_tcp_resync_failed\n"));
    CHECK(r.log && !strstr(r.log, "three.example"));
    CHECK(has(&r, "weird name=dns_tcp_zero_length\n"));
    CHECK(has(&r, "weird name=dns_tcp_truncated_message\n"));
    done(e, &r);
}

TEST(short_datagram_and_trailing_bytes)
{
    rec_t r;
    eng_t *e = new_eng(&r);
    m.n = 0;
    m_raw(&m, "\x12\x34\x01", 3);
    udp(e, 0, &m, 40010, 53);
    m_query(&m, 3, "x.example", 1);
    m_u16(&m, 0xbeef);
    udp(e, 0, &m, 40010, 53);
    eng_finish(e);
    CHECK(has(&r, "weird name=dns_truncated_header\n"));
    CHECK(has(&r, "weird name=dns_trailing_bytes\n"));
    CHECK(has(&r, "dns.query id=3 qname=x.example"));
    done(e, &r);
}

TEST(probe)
{
    m_query(&m, 1, "p.example", 1);
    CHECK_EQ_INT(eng_decoder_dns.probe(m.b, m.n, 0), 1);
    uint8_t buf[256];
    size_t n = framed(buf, &m);
    CHECK_EQ_INT(eng_decoder_dns.probe(buf, n, 0), 1);
    CHECK_EQ_INT(eng_decoder_dns.probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16, 0), 0);
    CHECK_EQ_INT(eng_decoder_dns.probe(buf, 9, 0), -1);  /* part of it: the port decides */
    m_hdr(&m, 1, 0x0100, 0, 0, 0, 0);                    /* no question: cannot tell */
    CHECK_EQ_INT(eng_decoder_dns.probe(m.b, m.n, 0), -1);
}

int main(void)
{
    RUN(udp_query_and_answer);
    RUN(answer_before_query_and_never_answered);
    RUN(tcp_messages_together_and_split);
    RUN(compression_loops_and_bad_pointers);
    RUN(labels_past_the_end_and_long_names);
    RUN(txt_length_past_the_record);
    RUN(record_data_as_dig_prints_it);
    RUN(edns_options_and_extended_rcode);
    RUN(pending_table_is_bounded);
    RUN(query_timeout_and_config);
    RUN(mdns_cache_flush_bit);
    RUN(tcp_gap_resync_and_bad_framing);
    RUN(short_datagram_and_trailing_bytes);
    RUN(probe);
    return check_report("dns");
}
