/* ftp.c - FTP (RFC 959, 2428 EPSV/EPRT, 4217 AUTH TLS): the control channel
 * and the data channels it announces.
 *
 * Two descriptors:
 *   "ftp"      the control channel. Each direction is read line by line
 *              through a stream_reader_t (max_unit = stream.max_line).
 *              Client lines are commands (Telnet IAC sequences removed, the
 *              verb upper-cased) and are queued (at most QMAX); server lines
 *              are replies, multi-line ones ("123-" ... "123 ", RFC 959 4.2)
 *              joined with "\n" (text kept up to TEXT_MAX bytes, at most
 *              MULTI_MAX lines); a final reply (2xx-5xx) answers the oldest
 *              queued command, a 1xx reply does not.
 *   "ftp-data" a data connection: attached by an expectation the control
 *              channel set after 227 (PASV), 229 (EPSV) or a 2xx answer to
 *              PORT / EPRT. The expectation's tag names the control flow's
 *              channel slot; the transfer command (RETR, STOR, STOU, APPE,
 *              LIST, NLST, MLSD) that follows the PASV/PORT claims the slot.
 *              The data flow copies the command when it learns it (it holds
 *              up to HOLD_MAX bytes until then), so it does not need the
 *              control flow to live on.
 *
 * Weirds: ftp_bad_command, ftp_bad_reply, ftp_line_too_long,
 * ftp_too_many_pending, ftp_unmatched_reply, ftp_multiline_too_long,
 * ftp_unterminated_multiline, ftp_bad_port, ftp_bad_eprt, ftp_bad_pasv_reply,
 * ftp_bad_epsv_reply, ftp_data_address_mismatch, ftp_too_many_data_channels,
 * ftp_data_without_command. Flood-type weirds (too_many_pending,
 * too_many_data_channels, bad_command, bad_reply) fire once per flow.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "stream.h"
#include "starttls.h"
#include "text.h"

extern const eng_decoder_t eng_decoder_ftp;
extern const eng_decoder_t eng_decoder_ftp_data;

#define QMAX 16          /* commands waiting for their final reply */
#define ARG_MAX 512      /* command argument kept (longer ones are cut) */
#define TEXT_MAX 4096    /* text of one reply kept */
#define MULTI_MAX 1000   /* lines of one multi-line reply */
#define CHAN_MAX 8       /* data channels announced and not yet finished */
#define HOLD_MAX 65536   /* data bytes held before the transfer command is known */
#define CRED_MAX 256
#define EXPECT_TIMEOUT_NS (120LL * 1000000000LL)

enum { K_OTHER = 0, K_USER, K_PASS, K_AUTH_TLS, K_PASV, K_EPSV, K_PORT, K_EPRT, K_XFER };

/* once-per-flow weirds */
enum { W_PENDING = 1, W_CHANNELS = 2, W_BADCMD = 4, W_BADREPLY = 8 };

typedef struct qent {
    uint8_t kind;
    uint8_t vlen;
    char verb[16];
    uint16_t alen;
    char arg[ARG_MAX];
    /* PORT / EPRT: the channel announced; transfers: the channel claimed (its
     * tag), 0 when none */
    uint64_t tag;
} qent_t;

typedef struct chan {
    uint8_t used;
    uint8_t has_cmd;
    uint8_t connected;
    uint8_t passive;      /* PASV / EPSV: the expected endpoint is the server's */
    uint8_t family;
    uint8_t addr[16];     /* the expected endpoint */
    uint16_t port;
    uint64_t tag;
    uint8_t vlen;
    char verb[16];
    uint16_t alen;
    char arg[ARG_MAX];
} chan_t;

typedef struct ftp {
    stream_reader_t sr[2];
    uint8_t inited;
    uint8_t done;          /* AUTH TLS accepted: nothing more is decoded */
    uint8_t greeted;
    uint8_t orig_lost, orig_eof;
    uint8_t resync[2];     /* after a gap or a bad line: skip to a line that parses */
    uint8_t weirded;       /* W_* fired */
    uint8_t tls_wait;      /* AUTH TLS sent: client bytes wait for the answer */
    qent_t q[QMAX];
    int qh, qn;
    /* the reply being read */
    uint8_t in_multi;
    uint16_t code;
    uint32_t mlines;
    uint64_t roff;
    uint32_t tlen;
    char text[TEXT_MAX];
    /* credentials */
    char user[CRED_MAX], pass[CRED_MAX];
    uint16_t ulen, plen;
    uint8_t have_user, have_pass;
    /* data channels */
    chan_t ch[CHAN_MAX];
    uint64_t next_tag;
    uint32_t unused_run;   /* channels replaced before any transfer used them, in a row */
    uint8_t *scratch;      /* a command line with its IAC sequences removed */
    uint8_t *scratch2;     /* a line with the byte the TLS walk read put back */
    uint64_t skipped[2];   /* bytes not decoded after AUTH TLS */
    /* after AUTH TLS (no "ssl" decoder): TLS records are walked until clear
     * text comes back (CCC, RFC 4217 section 6) */
    uint8_t enc[2];        /* 0 clear, 1 walking TLS records, 2 not TLS: ignored */
    uint8_t hstate[2];     /* 1: a record's type byte was read */
    uint32_t need[2];      /* bytes left of the current record */
    uint8_t pre[2], has_pre[2]; /* the first clear-text byte, read by the walk */
} ftp_t;

/* ---- helpers ------------------------------------------------------------------ */

static void weird_once(eng_t *e, eng_flow_t *f, ftp_t *s, int bit, const char *name,
                       const char *detail)
{
    if (s->weirded & bit) return;
    s->weirded |= (uint8_t)bit;
    eng_weird(e, f, name, "%s", detail);
}

static void copy_cut(char *dst, uint16_t *dlen, size_t cap, const uint8_t *p, size_t n)
{
    if (n > cap) n = cap;
    memcpy(dst, p, n);
    *dlen = (uint16_t)n;
}

/* "h1,h2,h3,h4,p1,p2": 1 ok, 0 not that shape, -1 numbers out of range */
static int parse_hostport(const uint8_t *p, size_t n, uint8_t addr[4], uint16_t *port)
{
    lcur_t c = lcur(p, n);
    uint64_t v[6];
    int range = 1;
    for (int i = 0; i < 6; i++) {
        lc_skip_blanks(&c);
        if (!lc_uint(&c, &v[i], 100000)) return 0;
        if (v[i] > 255) range = 0;
        lc_skip_blanks(&c);
        if (i < 5 && !lc_expect(&c, ',')) return 0;
    }
    if (!range) return -1;
    for (int i = 0; i < 4; i++) addr[i] = (uint8_t)v[i];
    *port = (uint16_t)(v[4] << 8 | v[5]);
    return *port ? 1 : -1;
}

/* EPRT argument "|1|1.2.3.4|port|" / "|2|::1|port|": 1 ok, 0 bad */
static int parse_eprt(const uint8_t *p, size_t n, uint8_t *family, uint8_t addr[16],
                      uint16_t *port)
{
    lcur_t c = lcur(p, n);
    int d = lc_get(&c);
    if (d < 33 || d > 126) return 0;
    uint64_t af, pt;
    if (!lc_uint(&c, &af, 9) || !lc_expect(&c, d)) return 0;
    const uint8_t *a;
    size_t al = lc_until(&c, d, &a);
    if (!lc_expect(&c, d) || al == 0 || al >= 64) return 0;
    if (!lc_uint(&c, &pt, 65535) || !lc_expect(&c, d) || pt == 0) return 0;
    char buf[64];
    memcpy(buf, a, al);
    buf[al] = 0;
    memset(addr, 0, 16);
    if (af == 1) {
        if (inet_pton(AF_INET, buf, addr) != 1) return 0;
        *family = 4;
    } else if (af == 2) {
        if (inet_pton(AF_INET6, buf, addr) != 1) return 0;
        *family = 6;
    } else {
        return 0;
    }
    *port = (uint16_t)pt;
    return 1;
}

/* 229 text "... (|||port|)": 1 ok, 0 bad */
static int parse_epsv(const uint8_t *p, size_t n, uint16_t *port)
{
    const uint8_t *o = memchr(p, '(', n);
    if (!o) return 0;
    lcur_t c = lcur(o + 1, n - (size_t)(o + 1 - p));
    int d = lc_get(&c);
    uint64_t pt;
    if (d < 33 || d > 126 || !lc_expect(&c, d) || !lc_expect(&c, d)) return 0;
    if (!lc_uint(&c, &pt, 65535) || !lc_expect(&c, d) || pt == 0) return 0;
    *port = (uint16_t)pt;
    return 1;
}

static int is_xfer(const uint8_t *v, size_t n)
{
    static const char *const x[] = {"RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD", NULL};
    for (int i = 0; x[i]; i++)
        if (txt_ieq(v, n, x[i])) return 1;
    return 0;
}

static int is_upload(const char *v, size_t n)
{
    return txt_ieq((const uint8_t *)v, n, "STOR") || txt_ieq((const uint8_t *)v, n, "STOU") ||
           txt_ieq((const uint8_t *)v, n, "APPE");
}

static int is_file_cmd(const char *v, size_t n)
{
    return is_upload(v, n) || txt_ieq((const uint8_t *)v, n, "RETR");
}

static void addr_text(int family, const uint8_t *a, char *out, size_t cap)
{
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)cap)) out[0] = 0;
}

/* ---- data channels (control side) ------------------------------------------------- */

static chan_t *chan_by_tag(ftp_t *s, uint64_t tag)
{
    for (int i = 0; i < CHAN_MAX; i++)
        if (s->ch[i].used && s->ch[i].tag == tag) return &s->ch[i];
    return NULL;
}

static void chan_free(eng_t *e, eng_flow_t *f, chan_t *c)
{
    if (!c->used) return;
    if (!c->connected) dec_expect_cancel(e, f, c->tag);
    c->used = 0;
}

/* a new channel slot. A channel no transfer command claimed and nobody
 * connected to is abandoned by a new one (PASV answered again, EPSV then
 * PASV); the oldest goes when all slots are taken. */
static chan_t *chan_new(eng_t *e, eng_flow_t *f, ftp_t *s)
{
    chan_t *c = NULL, *old = NULL;
    for (int i = 0; i < CHAN_MAX; i++) {
        if (s->ch[i].used && !s->ch[i].has_cmd && !s->ch[i].connected) {
            chan_free(e, f, &s->ch[i]);
            if (++s->unused_run > CHAN_MAX)
                weird_once(e, f, s, W_CHANNELS, "ftp_too_many_data_channels",
                           "more than 8 data channels announced in a row and never used");
        }
    }
    for (int i = 0; i < CHAN_MAX; i++) {
        if (!s->ch[i].used) {
            c = &s->ch[i];
            break;
        }
        if (!old || s->ch[i].tag < old->tag) old = &s->ch[i];
    }
    if (!c) {
        weird_once(e, f, s, W_CHANNELS, "ftp_too_many_data_channels",
                   "more than 8 data channels announced and not finished");
        chan_free(e, f, old);
        c = old;
    }
    memset(c, 0, sizeof *c);
    c->used = 1;
    c->tag = ++s->next_tag;
    return c;
}

/* announce a data connection to (family, addr, port); passive: that endpoint
 * is the server's. A second expectation (same tag) covers the control
 * channel's own address when the announced one differs (NAT). */
static chan_t *announce(eng_t *e, eng_flow_t *f, ftp_t *s, int passive, int family,
                        const uint8_t *addr, uint16_t port)
{
    const uint8_t *ctl = passive ? f->resp_addr : f->orig_addr;   /* the announcing side */
    const uint8_t *peer = passive ? f->orig_addr : f->resp_addr;  /* the other side */
    size_t alen = f->family == 4 ? 4 : 16;
    int same = family == f->family && !memcmp(addr, ctl, alen);
    int zero = 1;
    for (size_t i = 0; i < (family == 4 ? 4u : 16u); i++)
        if (addr[i]) zero = 0;
    if (family != f->family || zero) {
        addr = ctl; /* 0.0.0.0, or an address of the other family: the control peer's */
        family = f->family;
        same = 1;
    }
    chan_t *c = chan_new(e, f, s);
    c->passive = (uint8_t)passive;
    c->family = (uint8_t)family;
    memcpy(c->addr, addr, family == 4 ? 4 : 16);
    c->port = port;
    dec_expect_t x;
    memset(&x, 0, sizeof x);
    x.proto = 6;
    x.family = (uint8_t)family;
    memcpy(x.addr, addr, family == 4 ? 4 : 16);
    x.port = port;
    memcpy(x.peer, peer, alen);
    x.peer_any = 0;
    x.peer_port = 0;
    x.timeout_ns = EXPECT_TIMEOUT_NS;
    x.service = "ftp-data";
    x.tag = c->tag;
    dec_expect(e, f, &x);
    if (!same) {
        char a[64];
        addr_text(family, addr, a, sizeof a);
        eng_weird(e, f, "ftp_data_address_mismatch", "data channel announced at %s", a);
        memcpy(x.addr, ctl, alen);
        dec_expect(e, f, &x);
    }
    return c;
}

/* a transfer command claims the newest channel without one */
static void claim(ftp_t *s, qent_t *q)
{
    chan_t *best = NULL;
    for (int i = 0; i < CHAN_MAX; i++)
        if (s->ch[i].used && !s->ch[i].has_cmd && (!best || s->ch[i].tag > best->tag))
            best = &s->ch[i];
    if (!best) return;
    s->unused_run = 0;
    q->tag = best->tag;
    best->has_cmd = 1;
    memcpy(best->verb, q->verb, q->vlen);
    best->vlen = q->vlen;
    memcpy(best->arg, q->arg, q->alen);
    best->alen = q->alen;
}

/* ---- events ---------------------------------------------------------------------- */

static void fire_auth(eng_t *e, eng_flow_t *f, ftp_t *s, int ok, uint64_t off)
{
    if (dec_wants(e, ENG_EV_FTP_AUTH)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FTP_AUTH, f);
        if (s->have_user) ev_set(&ev, ENG_F_FTP_AUTH_user, ev_str(s->user, s->ulen, ENG_NO_OFFSET));
        if (s->have_pass)
            ev_set(&ev, ENG_F_FTP_AUTH_password, ev_str(s->pass, s->plen, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_FTP_AUTH_success, ev_bool(ok));
        ev_set(&ev, ENG_F_FTP_AUTH_offset, ev_int((int64_t)off));
        dec_fire(e, &ev);
    }
    s->have_pass = 0;
}

/* ---- commands ------------------------------------------------------------------- */

static void q_push(eng_t *e, eng_flow_t *f, ftp_t *s, const qent_t *q)
{
    if (s->qn >= QMAX) {
        weird_once(e, f, s, W_PENDING, "ftp_too_many_pending",
                   "more than 16 commands without a reply");
        return;
    }
    s->q[(s->qh + s->qn) % QMAX] = *q;
    s->qn++;
}

/* Telnet IAC sequences out of a command line (RFC 959 4.1: the control
 * connection is a Telnet NVT): IAC IAC is a 0xff byte, IAC WILL/WONT/DO/DONT x
 * and IAC x go. Returns the new length. */
static size_t strip_iac(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0xff) {
            out[o++] = p[i];
            continue;
        }
        if (i + 1 >= n) break;
        uint8_t c = p[++i];
        if (c == 0xff) out[o++] = 0xff;
        else if (c >= 251 && c <= 254 && i + 1 < n) i++; /* WILL WONT DO DONT option */
    }
    return o;
}

static void command(eng_t *e, eng_flow_t *f, ftp_t *s, const sr_view_t *v)
{
    const uint8_t *p = v->p;
    size_t n = v->len;
    int exact = 1; /* offsets of the fields are stream offsets */
    if (memchr(p, 0xff, n) && s->scratch) {
        n = strip_iac(p, n, s->scratch);
        p = s->scratch;
        exact = 0;
    }
    const uint8_t *start = p;
    txt_trim(&p, &n);
    if (n == 0) return;
    lcur_t c = lcur(p, n);
    const uint8_t *verb, *arg;
    size_t vl = lc_token(&c, &verb);
    int ok = vl >= 1 && vl <= 16;
    for (size_t i = 0; ok && i < vl; i++)
        if (!((verb[i] >= 'a' && verb[i] <= 'z') || (verb[i] >= 'A' && verb[i] <= 'Z'))) ok = 0;
    if (!ok) {
        if (!s->resync[ENG_ORIG])
            weird_once(e, f, s, W_BADCMD, "ftp_bad_command", "a client line that is not a command");
        s->orig_lost = 1;
        return;
    }
    s->resync[ENG_ORIG] = 0;
    if (lc_peek(&c) == ' ' || lc_peek(&c) == '\t') lc_get(&c); /* one blank; the rest is the argument */
    size_t al = lc_rest(&c, &arg);
    while (al && txt_is_ws(arg[al - 1])) al--;
    qent_t q;
    memset(&q, 0, sizeof q);
    for (size_t i = 0; i < vl; i++) q.verb[i] = (char)txt_up(verb[i]);
    q.vlen = (uint8_t)vl;
    copy_cut(q.arg, &q.alen, ARG_MAX, arg, al);
    uint64_t line_off = v->off + (exact ? (uint64_t)(p - start) : 0);
    if (dec_wants(e, ENG_EV_FTP_COMMAND)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FTP_COMMAND, f);
        ev_set(&ev, ENG_F_FTP_COMMAND_command, ev_str(q.verb, vl, exact ? line_off : ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_FTP_COMMAND_arg,
               ev_str(arg, al, exact ? v->off + (uint64_t)(arg - start) : ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_FTP_COMMAND_offset, ev_int((int64_t)v->off));
        dec_fire(e, &ev);
    }
    if (txt_ieq(verb, vl, "USER")) {
        q.kind = K_USER;
        copy_cut(s->user, &s->ulen, CRED_MAX, arg, al);
        s->have_user = 1;
        s->have_pass = 0;
    } else if (txt_ieq(verb, vl, "PASS")) {
        q.kind = K_PASS;
        copy_cut(s->pass, &s->plen, CRED_MAX, arg, al);
        s->have_pass = 1;
    } else if (txt_ieq(verb, vl, "AUTH")) {
        if (txt_ieq(arg, al, "TLS") || txt_ieq(arg, al, "SSL") || txt_ieq(arg, al, "TLS-C") ||
            txt_ieq(arg, al, "TLS-P")) {
            q.kind = K_AUTH_TLS;
            s->tls_wait = 1;
        }
    } else if (txt_ieq(verb, vl, "PASV")) {
        q.kind = K_PASV;
    } else if (txt_ieq(verb, vl, "EPSV")) {
        q.kind = K_EPSV;
    } else if (txt_ieq(verb, vl, "PORT") || txt_ieq(verb, vl, "EPRT")) {
        /* the expectation is set at the command: servers may connect before
         * they answer ("200 Active data connection established") */
        int eprt = txt_ieq(verb, vl, "EPRT");
        uint8_t addr[16], fam = 4;
        uint16_t port = 0;
        memset(addr, 0, sizeof addr);
        q.kind = eprt ? K_EPRT : K_PORT;
        int r = eprt ? parse_eprt(arg, al, &fam, addr, &port) : parse_hostport(arg, al, addr, &port);
        if (r == 1) {
            chan_t *ch = announce(e, f, s, 0, fam, addr, port);
            q.tag = ch->tag;
        } else {
            eng_weird(e, f, eprt ? "ftp_bad_eprt" : "ftp_bad_port", "%.*s", (int)(al > 60 ? 60 : al),
                      (const char *)arg);
        }
    } else if (is_xfer(verb, vl)) {
        q.kind = K_XFER;
        claim(s, &q);
    }
    q_push(e, f, s, &q);
    s->orig_lost = 0;
}

/* ---- replies ---------------------------------------------------------------------- */

static void text_add(ftp_t *s, const uint8_t *p, size_t n, int sep)
{
    if (sep && s->tlen < TEXT_MAX) s->text[s->tlen++] = '\n';
    size_t k = TEXT_MAX - s->tlen;
    if (n > k) n = k;
    memcpy(s->text + s->tlen, p, n);
    s->tlen += (uint32_t)n;
}

/* AUTH TLS accepted */
static void stop(eng_t *e, eng_flow_t *f, ftp_t *s, uint64_t off_end)
{
    if (starttls_handoff(e, f, &s->sr[ENG_ORIG], &s->sr[ENG_RESP], off_end) == 0) {
        s->done = 1; /* the TLS decoder has the flow; it hands it back after CCC */
        return;
    }
    s->enc[0] = s->enc[1] = 1;
}

/* Walk TLS records (5-byte header: type 20-24, version 3.x, length) in
 * direction dir, counting their bytes. 1 when clear text comes back (its
 * first byte kept in pre[dir]: a letter from the client, a reply digit from
 * the server), 0 when more bytes are needed or the bytes are not TLS (then
 * they are only counted from now on). */
static int tls_walk(ftp_t *s, int dir)
{
    stream_reader_t *sr = &s->sr[dir];
    sr_view_t v;
    for (;;) {
        int rc;
        if (s->enc[dir] == 2) {
            while (sr_some(sr, SIZE_MAX, &v) == SR_OK) s->skipped[dir] += v.len;
            return 0;
        }
        if (s->need[dir]) {
            rc = sr_some(sr, s->need[dir], &v);
            if (rc == SR_MORE) return 0;
            if (rc == SR_GAP) {
                s->enc[dir] = 2;
                continue;
            }
            s->need[dir] -= (uint32_t)v.len;
            s->skipped[dir] += v.len;
            continue;
        }
        rc = sr_bytes(sr, s->hstate[dir] ? 4 : 1, &v);
        if (rc == SR_MORE) return 0;
        if (rc == SR_GAP) {
            s->enc[dir] = 2;
            continue;
        }
        s->skipped[dir] += v.len;
        if (s->hstate[dir]) {
            s->hstate[dir] = 0;
            if (v.p[0] != 3) s->enc[dir] = 2;
            else s->need[dir] = (uint32_t)(v.p[2] << 8 | v.p[3]);
            continue;
        }
        uint8_t b = v.p[0];
        if (b >= 20 && b <= 24) {
            s->hstate[dir] = 1;
            continue;
        }
        int clear = dir == ENG_ORIG ? ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'))
                                    : (b >= '1' && b <= '5');
        if (!clear) {
            s->enc[dir] = 2;
            continue;
        }
        s->skipped[dir]--;
        s->enc[dir] = 0;
        s->pre[dir] = b;
        s->has_pre[dir] = 1;
        return 1;
    }
}

/* the next line of direction dir, with the byte tls_walk read put back */
static int next_line(ftp_t *s, int dir, sr_view_t *v)
{
    int rc = sr_line(&s->sr[dir], v);
    if (!s->has_pre[dir] || rc == SR_MORE) return rc;
    s->has_pre[dir] = 0;
    if (rc == SR_GAP || !s->scratch2) return rc;
    s->scratch2[0] = s->pre[dir];
    memcpy(s->scratch2 + 1, v->p, v->len);
    v->p = s->scratch2;
    v->len++;
    v->off--;
    return rc;
}

/* a complete reply: s->code, s->text, s->roff; off_end: stream offset after it */
static void reply(eng_t *e, eng_flow_t *f, ftp_t *s, uint64_t off_end)
{
    int code = s->code;
    int final = code >= 200;
    qent_t *q = NULL;
    if (!s->greeted) {
        /* the greeting (also when a command was decoded before it); 120 then 220 */
        if (code >= 200) s->greeted = 1;
    } else if (s->qn) {
        q = &s->q[s->qh];
    } else if (!s->orig_lost && !s->orig_eof && s->greeted && final) {
        eng_weird(e, f, "ftp_unmatched_reply", "reply %d without a command", code);
    }
    /* the data channel a reply opens */
    int chan = 0, passive = 0, family = 0;
    uint8_t addr[16];
    uint16_t port = 0;
    memset(addr, 0, sizeof addr);
    if (code == 227) {
        int r = parse_hostport((const uint8_t *)s->text, s->tlen, addr, &port);
        /* the numbers may follow any text: the first digit run that parses (at most
         * 32 tried, so a long reply costs a bounded number of passes) */
        for (uint32_t i = 0, tries = 0; r == 0 && i < s->tlen && tries < 32; i++)
            if (s->text[i] >= '0' && s->text[i] <= '9' && (i == 0 || s->text[i - 1] < '0' || s->text[i - 1] > '9')) {
                tries++;
                r = parse_hostport((const uint8_t *)s->text + i, s->tlen - i, addr, &port);
            }
        if (r == 1) {
            chan = passive = 1;
            family = 4;
        } else {
            eng_weird(e, f, "ftp_bad_pasv_reply", "%.*s", (int)(s->tlen > 60 ? 60 : s->tlen), s->text);
        }
    } else if (code == 229) {
        if (parse_epsv((const uint8_t *)s->text, s->tlen, &port)) {
            chan = passive = 1;
            family = f->family;
            memcpy(addr, f->resp_addr, 16);
        } else {
            eng_weird(e, f, "ftp_bad_epsv_reply", "%.*s", (int)(s->tlen > 60 ? 60 : s->tlen), s->text);
        }
    }
    chan_t *c = chan ? announce(e, f, s, passive, family, addr, port) : NULL;
    if (q && (q->kind == K_PORT || q->kind == K_EPRT) && q->tag && final) {
        chan_t *pc = chan_by_tag(s, q->tag);
        if (pc && code >= 300 && !pc->connected) chan_free(e, f, pc); /* refused */
        else if (pc && code < 300) c = pc;
    }
    if (dec_wants(e, ENG_EV_FTP_REPLY)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FTP_REPLY, f);
        ev_set(&ev, ENG_F_FTP_REPLY_code, ev_int(code));
        ev_set(&ev, ENG_F_FTP_REPLY_text, ev_str(s->text, s->tlen, ENG_NO_OFFSET));
        if (q) {
            ev_set(&ev, ENG_F_FTP_REPLY_command, ev_str(q->verb, q->vlen, ENG_NO_OFFSET));
            ev_set(&ev, ENG_F_FTP_REPLY_arg, ev_str(q->arg, q->alen, ENG_NO_OFFSET));
        }
        ev_set(&ev, ENG_F_FTP_REPLY_offset, ev_int((int64_t)s->roff));
        char ha[64], hb[64];
        if (c) {
            /* Zeek's data_channel: orig_h the side that connects, resp_h:resp_p the announced one */
            passive = c->passive;
            port = c->port;
            addr_text(f->family, passive ? f->orig_addr : f->resp_addr, ha, sizeof ha);
            addr_text(c->family, c->addr, hb, sizeof hb);
            ev_set(&ev, ENG_F_FTP_REPLY_data_passive, ev_bool(passive));
            ev_set(&ev, ENG_F_FTP_REPLY_data_orig_h, ev_cstr(ha));
            ev_set(&ev, ENG_F_FTP_REPLY_data_resp_h, ev_cstr(hb));
            ev_set(&ev, ENG_F_FTP_REPLY_data_resp_p, ev_int(port));
        }
        dec_fire(e, &ev);
    }
    if (!q || !final) return;
    uint8_t kind = q->kind;
    qent_t qc = *q;
    q = &qc;
    s->qh = (s->qh + 1) % QMAX;
    s->qn--;
    int ok = code < 400;
    switch (kind) {
    case K_USER:
        if (code == 230 || code >= 400) fire_auth(e, f, s, code == 230, s->roff);
        break;
    case K_PASS:
        fire_auth(e, f, s, code >= 200 && code < 300, s->roff);
        break;
    case K_AUTH_TLS:
        s->tls_wait = 0;
        if (code == 234) stop(e, f, s, off_end);
        break;
    case K_XFER:
        if (!ok && q->tag) { /* refused: no connection will come for it */
            chan_t *xc = chan_by_tag(s, q->tag);
            if (xc && !xc->connected) chan_free(e, f, xc);
        }
        break;
    default:
        break;
    }
}

/* ---- the two directions ---------------------------------------------------------- */

static void drain(stream_reader_t *sr, ftp_t *s, int dir)
{
    sr_view_t v;
    while (sr_some(sr, SIZE_MAX, &v) == SR_OK) s->skipped[dir] += v.len;
}

static void run_resp(eng_t *e, eng_flow_t *f, ftp_t *s);

static void run_orig(eng_t *e, eng_flow_t *f, ftp_t *s)
{
    stream_reader_t *sr = &s->sr[ENG_ORIG];
    sr_view_t v;
    if (!sr->chunk) return;
    for (;;) {
        if (s->done) {
            drain(sr, s, ENG_ORIG);
            return;
        }
        if (s->enc[ENG_ORIG] && !tls_walk(s, ENG_ORIG)) return;
        if (s->tls_wait && !s->orig_eof) {
            /* after AUTH TLS the client's bytes are TLS once the server agrees */
            sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
            return;
        }
        int rc = next_line(s, ENG_ORIG, &v);
        if (rc == SR_MORE) return;
        if (rc == SR_GAP) {
            s->resync[ENG_ORIG] = 1;
            s->orig_lost = 1;
            continue;
        }
        if (v.cut) eng_weird(e, f, "ftp_line_too_long", "command line longer than %zu bytes", v.len);
        command(e, f, s, &v);
    }
}

/* a reply line: "ddd text", "ddd-text" or "ddd"; 1 with the code, else 0 */
static int reply_code(const uint8_t *p, size_t n, int *code, int *cont)
{
    if (n < 3) return 0;
    for (int i = 0; i < 3; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    if (p[0] < '1' || p[0] > '5') return 0;
    if (n > 3 && p[3] != ' ' && p[3] != '-') return 0;
    *code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    *cont = n > 3 && p[3] == '-';
    return 1;
}

static void run_resp(eng_t *e, eng_flow_t *f, ftp_t *s)
{
    stream_reader_t *sr = &s->sr[ENG_RESP];
    sr_view_t v;
    if (!sr->chunk) return;
    for (;;) {
        if (s->done) {
            drain(sr, s, ENG_RESP);
            return;
        }
        if (s->enc[ENG_RESP] && !tls_walk(s, ENG_RESP)) return;
        if (!s->in_multi && s->greeted && s->qn == 0 && !s->orig_lost && !s->orig_eof &&
            sr_avail(sr) > 0) {
            /* a reply whose command has not been decoded yet: wait for it */
            sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
            return;
        }
        int rc = next_line(s, ENG_RESP, &v);
        if (rc == SR_MORE) return;
        if (rc == SR_GAP) {
            s->in_multi = 0;
            s->resync[ENG_RESP] = 1;
            continue;
        }
        if (v.cut) eng_weird(e, f, "ftp_line_too_long", "reply line longer than %zu bytes", v.len);
        int code, cont;
        int isr = reply_code(v.p, v.len, &code, &cont);
        if (s->in_multi) {
            if (isr && code == s->code && !cont) {
                const uint8_t *t = v.p + 3;
                size_t tl = v.len - 3;
                if (tl) t++, tl--;
                text_add(s, t, tl, 1);
                s->in_multi = 0;
                reply(e, f, s, v.off + v.len + v.eol);
                continue;
            }
            if (++s->mlines > MULTI_MAX) {
                eng_weird(e, f, "ftp_multiline_too_long",
                          "reply %d: more than %d lines without its last line", s->code, MULTI_MAX);
                s->in_multi = 0;
                reply(e, f, s, v.off);
                s->resync[ENG_RESP] = 1;
                continue;
            }
            const uint8_t *t = v.p;
            size_t tl = v.len;
            if (isr && code == s->code && cont) t += 4, tl -= 4; /* "ddd-" on an inner line */
            text_add(s, t, tl, 1);
            continue;
        }
        if (!isr) {
            if (!s->resync[ENG_RESP])
                weird_once(e, f, s, W_BADREPLY, "ftp_bad_reply", "a server line that is not a reply");
            s->resync[ENG_RESP] = 1;
            continue;
        }
        s->resync[ENG_RESP] = 0;
        s->code = (uint16_t)code;
        s->roff = v.off;
        s->tlen = 0;
        s->mlines = 0;
        const uint8_t *t = v.p + 3;
        size_t tl = v.len - 3;
        if (tl) t++, tl--;
        text_add(s, t, tl, 0);
        if (cont) {
            s->in_multi = 1;
            continue;
        }
        reply(e, f, s, v.off + v.len + v.eol);
        /* the client side may be waiting for this answer (AUTH TLS) */
        if (!s->tls_wait) run_orig(e, f, s);
    }
}

/* ---- the control descriptor ------------------------------------------------------ */

static int ftp_probe(const uint8_t *p, size_t len, int dir)
{
    if (dir == ENG_RESP) {
        static const char g[] = "220";
        for (size_t i = 0; i < len && i < 3; i++)
            if (p[i] != (uint8_t)g[i]) return 0;
        if (len < 4) return -1;
        if (p[3] != ' ' && p[3] != '-') return 0;
        const uint8_t *lf = memchr(p, '\n', len);
        size_t n = lf ? (size_t)(lf - p) : len;
        if (txt_isearch(p + 4, n - 4, "FTP")) return 1;
        if (txt_isearch(p + 4, n - 4, "SMTP")) return 0;
        return len >= 512 && !lf ? 0 : -1; /* the client's first command decides */
    }
    /* the client's first command: ones SMTP, POP3 and IMAP clients do not open with */
    static const char *const first[] = {"USER ", "AUTH TLS", "AUTH SSL", "FEAT\r", "FEAT\n",
                                        "SYST\r", "SYST\n", "OPTS ", NULL};
    int maybe = 0;
    for (int i = 0; first[i]; i++) {
        size_t k = strlen(first[i]), j = 0;
        while (j < k && j < len && txt_up(p[j]) == (uint8_t)first[i][j]) j++;
        if (j == k) return 1;
        if (j == len) maybe = 1;
    }
    return maybe ? -1 : 0;
}

/* both directions spoke: the server's bytes must be an FTP reply (three
 * digits; "+OK", "* OK" are POP3 and IMAP greetings, whose clients also
 * open with USER or AUTH); a 220 greeting that names FTP or SMTP decides,
 * otherwise the client's first command does */
static int ftp_probe_pair(const uint8_t *o, size_t olen, const uint8_t *r, size_t rlen)
{
    for (size_t i = 0; i < rlen && i < 3; i++)
        if (r[i] < '0' || r[i] > '9') return 0;
    if (rlen >= 3 && r[0] == '2' && r[1] == '2' && r[2] == '0') {
        int g = ftp_probe(r, rlen, ENG_RESP);
        if (g >= 0) return g;
    }
    return ftp_probe(o, olen, ENG_ORIG);
}

static void ftp_init(eng_t *e, eng_flow_t *f, void *st)
{
    ftp_t *s = st;
    uint32_t ml = dec_max_line(e);
    sr_init(&s->sr[0], ml);
    sr_init(&s->sr[1], ml);
    sr_bind(&s->sr[0], dec_flow_mem(f));
    sr_bind(&s->sr[1], dec_flow_mem(f));
    s->scratch = malloc(ml + 1);
    s->scratch2 = malloc(ml + 2); /* fixed for the flow's life: not in engine.memcap */
    s->inited = 1;
    if (dec_flow_midstream(f)) s->orig_lost = s->greeted = 1;
    /* handed back by TLS after AUTH TLS and CCC: the session is under way (its
     * login was seen by the first FTP instance, whose records are written) */
    if (dec_flow_handed_from(f)) {
        s->greeted = 1;
        /* TLS handed back the direction where clear text came first; the other one
         * starts at its next byte, which may still be TLS records (its close_notify
         * after the CCC reply, when the server's bytes were decoded first): walk them
         * until clear text, as after a failed hand-off */
        s->enc[ENG_ORIG] = s->enc[ENG_RESP] = 1;
    }
}

static void ftp_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                     size_t len)
{
    ftp_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    sr_push(&s->sr[dir], off, p, len);
    if (dir == ENG_ORIG) {
        run_orig(e, f, s);
        run_resp(e, f, s); /* it may be waiting for a command */
    } else {
        run_resp(e, f, s);
    }
}

static void ftp_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    ftp_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    if (len == 0) { /* engine.memcap cut */
        sr_gap(&s->sr[dir], off, 0);
        return;
    }
    sr_gap(&s->sr[dir], off, len);
    if (dir == ENG_ORIG) {
        s->orig_lost = 1;
        run_orig(e, f, s);
    }
    run_resp(e, f, s);
}

static void ftp_end(eng_t *e, eng_flow_t *f, void *st)
{
    ftp_t *s = st;
    if (!s->inited) return;
    for (int dir = 0; dir < 2; dir++) {
        stream_reader_t *sr = &s->sr[dir];
        sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
        sr_eof(sr);
    }
    s->orig_eof = 1;
    s->tls_wait = 0;
    run_orig(e, f, s);
    run_resp(e, f, s);
    if (s->in_multi && !s->done && !s->enc[ENG_RESP]) {
        eng_weird(e, f, "ftp_unterminated_multiline", "the flow ended inside reply %d", s->code);
        s->in_multi = 0;
        reply(e, f, s, sr_offset(&s->sr[ENG_RESP]));
    }
    for (int i = 0; i < CHAN_MAX; i++) chan_free(e, f, &s->ch[i]);
    sr_free(&s->sr[0]);
    sr_free(&s->sr[1]);
    free(s->scratch);
    free(s->scratch2);
    s->scratch = s->scratch2 = NULL;
    s->inited = 0;
}

static const uint16_t ftp_ports[] = {21, 0};
static const char *const ftp_uses[] = {"files", "ssl", NULL}; /* AUTH TLS hands over */

const eng_decoder_t eng_decoder_ftp = {
    .name = "ftp",
    .probe = ftp_probe,
    .probe_pair = ftp_probe_pair,
    .ports = ftp_ports,
    .uses = ftp_uses,
    .state_size = sizeof(ftp_t),
    .init = ftp_init,
    .data = ftp_data,
    .gap = ftp_gap,
    .datagram = NULL,
    .end = ftp_end,
};

/* ---- the data connection ------------------------------------------------------------ */

typedef struct ftpd {
    uint8_t inited;
    uint8_t known;        /* the transfer command is known (or given up on) */
    uint8_t has_cmd;
    int8_t server_dir;    /* direction the server sends in, -1 unknown */
    int8_t sender;        /* direction of the transfer's bytes, -1 unknown */
    uint64_t tag;
    uint8_t vlen;
    char verb[16];
    uint16_t alen;
    char arg[ARG_MAX];
    uint64_t bytes[2];
    uint8_t *hold[2];
    size_t holdn[2], holdcap[2];
    uint64_t held_gap[2];
    eng_file_t *file;
    char fuid[24];
} ftpd_t;

static chan_t *parent_chan(eng_t *e, eng_flow_t *f, ftpd_t *d, eng_flow_t **pp)
{
    eng_flow_t *p = dec_flow_parent(e, f);
    if (pp) *pp = p;
    ftp_t *ps = p ? dec_flow_state(p, &eng_decoder_ftp) : NULL;
    return ps ? chan_by_tag(ps, d->tag) : NULL;
}

/* the transfer is known: pick the sending direction, start the file, give it
 * what was held */
static void commit(eng_t *e, eng_flow_t *f, ftpd_t *d)
{
    d->known = 1;
    if (d->has_cmd && d->server_dir >= 0)
        d->sender = (int8_t)(is_upload(d->verb, d->vlen) ? !d->server_dir : d->server_dir);
    else
        d->sender = (int8_t)(d->holdn[ENG_RESP] > d->holdn[ENG_ORIG] || d->bytes[ENG_RESP] > d->bytes[ENG_ORIG]
                                 ? ENG_RESP : ENG_ORIG);
    if (d->has_cmd && is_file_cmd(d->verb, d->vlen)) {
        const char *name = d->alen ? d->arg : NULL;
        d->file = eng_file_begin(e, f, d->sender, "ftp", name, d->alen);
        const char *fu = eng_file_fuid(d->file);
        if (fu) snprintf(d->fuid, sizeof d->fuid, "%s", fu);
        int k = d->sender;
        if (d->holdn[k]) eng_file_data(e, d->file, d->hold[k], d->holdn[k]);
        if (d->held_gap[k]) eng_file_gap(e, d->file, d->held_gap[k]);
    }
    for (int k = 0; k < 2; k++) {
        dec_mem(f, -(int64_t)d->holdcap[k]);
        free(d->hold[k]);
        d->hold[k] = NULL;
        d->holdn[k] = d->holdcap[k] = 0;
    }
}

static void resolve(eng_t *e, eng_flow_t *f, ftpd_t *d)
{
    if (d->known) return;
    chan_t *c = parent_chan(e, f, d, NULL);
    if (!c || !c->has_cmd) return;
    d->has_cmd = 1;
    memcpy(d->verb, c->verb, c->vlen);
    d->vlen = c->vlen;
    memcpy(d->arg, c->arg, c->alen);
    d->alen = c->alen;
    commit(e, f, d);
}

static void ftpd_init(eng_t *e, eng_flow_t *f, void *st)
{
    ftpd_t *d = st;
    d->inited = 1;
    d->server_dir = d->sender = -1;
    d->tag = dec_flow_expect_tag(f);
    eng_flow_t *p;
    chan_t *c = parent_chan(e, f, d, &p);
    if (p) dec_expect_cancel(e, p, d->tag); /* a second expectation of the same channel */
    if (!c) return;
    c->connected = 1;
    size_t alen = c->family == 4 ? 4 : 16;
    int resp_is = f->resp_port == c->port && !memcmp(f->resp_addr, c->addr, alen);
    int orig_is = f->orig_port == c->port && !memcmp(f->orig_addr, c->addr, alen);
    if (!resp_is && !orig_is) resp_is = f->resp_port == c->port, orig_is = f->orig_port == c->port;
    if (resp_is != orig_is) {
        int exp_dir = resp_is ? ENG_RESP : ENG_ORIG; /* the side at the announced endpoint */
        d->server_dir = (int8_t)(c->passive ? exp_dir : !exp_dir);
    }
    resolve(e, f, d);
}

static void ftpd_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                      size_t len)
{
    ftpd_t *d = st;
    if ((dir != 0 && dir != 1) || !d->inited) return;
    d->bytes[dir] += len;
    if (!d->known) resolve(e, f, d);
    if (d->known) {
        if (dir == d->sender && d->file) eng_file_data(e, d->file, p, len);
        return;
    }
    if (d->holdn[0] + d->holdn[1] + len > HOLD_MAX) {
        eng_weird(e, f, "ftp_data_without_command",
                  "%d bytes on a data connection before its transfer command", HOLD_MAX);
        commit(e, f, d);
        if (dir == d->sender && d->file) eng_file_data(e, d->file, p, len);
        return;
    }
    size_t need = d->holdn[dir] + len;
    if (need > d->holdcap[dir]) { /* grows by doubling, never past HOLD_MAX */
        size_t cap = d->holdcap[dir] ? d->holdcap[dir] : 4096;
        while (cap < need) cap *= 2;
        if (cap > HOLD_MAX) cap = HOLD_MAX;
        uint8_t *nb = realloc(d->hold[dir], cap);
        if (!nb) return; /* no memory: those bytes are not held */
        dec_mem(f, (int64_t)cap - (int64_t)d->holdcap[dir]);
        d->hold[dir] = nb;
        d->holdcap[dir] = cap;
    }
    memcpy(d->hold[dir] + d->holdn[dir], p, len);
    d->holdn[dir] += len;
}

static void ftpd_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    ftpd_t *d = st;
    if ((dir != 0 && dir != 1) || !d->inited) return;
    d->bytes[dir] += len;
    if (!d->known) resolve(e, f, d);
    if (d->known) {
        if (dir == d->sender && d->file) eng_file_gap(e, d->file, len);
        return;
    }
    d->held_gap[dir] += len; /* bytes after it are lost to the held prefix: commit now */
    commit(e, f, d);
}

static void ftpd_end(eng_t *e, eng_flow_t *f, void *st)
{
    ftpd_t *d = st;
    if (!d->inited) return;
    if (!d->known) resolve(e, f, d);
    if (!d->known) commit(e, f, d);
    const char *mime = eng_file_mime(d->file);
    char mbuf[96];
    mbuf[0] = 0;
    if (mime) snprintf(mbuf, sizeof mbuf, "%s", mime);
    eng_file_end(e, d->file);
    d->file = NULL;
    eng_flow_t *p;
    chan_t *c = parent_chan(e, f, d, &p);
    if (c) {
        c->used = 0; /* the channel is finished */
    }
    if (dec_wants(e, ENG_EV_FTP_TRANSFER)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FTP_TRANSFER, p ? p : f);
        if (d->has_cmd) {
            ev_set(&ev, ENG_F_FTP_TRANSFER_command, ev_str(d->verb, d->vlen, ENG_NO_OFFSET));
            ev_set(&ev, ENG_F_FTP_TRANSFER_arg, ev_str(d->arg, d->alen, ENG_NO_OFFSET));
        }
        ev_set(&ev, ENG_F_FTP_TRANSFER_data_uid, ev_cstr(f->uid));
        uint64_t n = d->sender >= 0 ? d->bytes[d->sender] : d->bytes[0] + d->bytes[1];
        ev_set(&ev, ENG_F_FTP_TRANSFER_bytes, ev_int((int64_t)n));
        if (d->has_cmd)
            ev_set(&ev, ENG_F_FTP_TRANSFER_dir, ev_cstr(is_upload(d->verb, d->vlen) ? "upload" : "download"));
        if (d->fuid[0]) ev_set(&ev, ENG_F_FTP_TRANSFER_fuid, ev_cstr(d->fuid));
        if (mbuf[0]) ev_set(&ev, ENG_F_FTP_TRANSFER_mime_type, ev_cstr(mbuf));
        ev_set(&ev, ENG_F_FTP_TRANSFER_parent_uid, ev_cstr(f->parent_uid));
        dec_fire(e, &ev);
    }
    for (int k = 0; k < 2; k++) {
        dec_mem(f, -(int64_t)d->holdcap[k]);
        free(d->hold[k]);
    }
    d->inited = 0;
}

static const char *const ftpd_uses[] = {"files", NULL};

const eng_decoder_t eng_decoder_ftp_data = {
    .name = "ftp-data",
    .probe = NULL, /* attached by expectations only */
    .ports = NULL,
    .uses = ftpd_uses,
    .state_size = sizeof(ftpd_t),
    .init = ftpd_init,
    .data = ftpd_data,
    .gap = ftpd_gap,
    .datagram = NULL,
    .end = ftpd_end,
};
