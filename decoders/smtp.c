/* smtp.c - SMTP (RFC 5321) with ESMTP PIPELINING, AUTH, CHUNKING and
 * STARTTLS, both directions, on the stream reader.
 *
 * Client lines are commands (smtp.command; MAIL FROM / RCPT TO also give
 * smtp.mail_from / smtp.rcpt_to). Server lines are collected into replies
 * ("250-..." continues, "250 ..." ends; smtp.reply). Replies are matched in
 * order to a queue of the client's commands, which is how the decoder knows
 * that a 354 answers DATA, a 334 / 235 / 5xx an AUTH, a 220 a STARTTLS.
 * Message bytes (DATA after 354, dot-unstuffed up to the lone "."; BDAT
 * chunks as they are) go to the shared MIME decoder (mime.h), which fires
 * mail.*, mime.* and the file events.
 *
 * Definitions and bounds made here:
 *  - Memory per flow: two stream readers (<= stream.max_line each), the reply
 *    being collected (text joined with "\n", cut at RTEXT_CAP = min(max_line,
 *    64 KiB), weird smtp_reply_too_long), a queue of at most Q_MAX = 64
 *    commands waiting for replies (beyond: the oldest is dropped, weird
 *    smtp_too_many_pending), the fixed AUTH state of sasl.h and the MIME
 *    decoder's own bounded state.
 *  - Message content is read by dotbody.h (shared with POP3), not line by
 *    line, so a long line in a message loses nothing; only the line starts
 *    are inspected for the dot. A line is ended by LF (CRLF or bare LF);
 *    ".\r\n" and ".\n" at a line start end the message; ".." at a line start
 *    gives "."; a single dot followed by anything else is kept as it is.
 *  - Waiting for a reply. A client must wait for the reply to DATA, AUTH (and
 *    each AUTH response line) and STARTTLS before it goes on; so does the
 *    decoder: the client direction stops reading there until the reply has
 *    been decoded (the bytes are kept in its stream reader). The server
 *    direction likewise waits, at the start of a reply, while no command is
 *    queued (a reply arrived before the command it answers, e.g. reordered
 *    segments), and after a 334 until the client's AUTH response line has
 *    been read; the first reply of a flow never waits. Waiting is bounded:
 *    when a waiting direction holds more than stream.max_line bytes, or the
 *    flow ends, the wait is resolved by assuming the usual answer: DATA was
 *    accepted (354), AUTH goes on (a following line that is base64 or "*"
 *    is an AUTH response, anything else a command), STARTTLS was accepted
 *    (the client direction stops); a waiting reply is decoded unmatched.
 *  - The first reply of the flow is the greeting when its code is 220, 421
 *    or 554 and it does not answer a queued STARTTLS; it is matched to no
 *    command. Later replies with no command queued are unmatched.
 *  - AUTH: smtp.auth fires at the final reply (not 334) to the AUTH command:
 *    success when the code is 2xx. Credentials are recovered by sasl.h (PLAIN,
 *    LOGIN with the 334 challenges as hints, CRAM-MD5, XOAUTH2, OAUTHBEARER,
 *    SCRAM-*: user; others only named); "*" cancels (success false with the
 *    server's 501).
 *  - smtp.command is not fired for AUTH response lines, message content or
 *    BDAT chunk bytes.
 *  - BDAT n [LAST]: the next n bytes are message bytes. A message made of
 *    BDAT chunks ends with LAST, RSET, or the end of the flow. A bad size
 *    gives weird smtp_bad_bdat and the line is taken as a plain command.
 *  - STARTTLS answered by 220: smtp.starttls, then nothing more is decoded
 *    here: the flow is handed to the TLS decoder (starttls.h; services
 *    "smtp,ssl"), with the bytes the readers still hold.
 *  - Gaps: inside DATA content the MIME decoder is told (mime_gap) and the
 *    search for the lone dot goes on (a lost dot leaves the rest of the
 *    client stream in the message); a gap within a BDAT chunk is absorbed
 *    (mime_gap, the chunk is shortened); elsewhere (weird smtp_gap_resync)
 *    client lines are skipped until one starts with a known command verb
 *    and server lines until one starts like a reply (3 digits, then " ",
 *    "-" or the end). A reply lost in a gap shifts the matching of later
 *    replies (no resynchronisation of the queue).
 *  - Nobody subscribed to any smtp.*, mail.*, mime.* or file.* event: the
 *    decoder does nothing (a later subscription resynchronises after the
 *    gap the reader sees).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "dotbody.h"
#include "mime.h"
#include "sasl.h"
#include "starttls.h"
#include "text.h"
#include "stream.h"

extern const eng_decoder_t eng_decoder_smtp;

#define Q_MAX 64
#define RTEXT_CAP (64u * 1024u)
#define VERB_MAX 32

/* queued command kinds */
enum { K_OTHER = 0, K_HELO, K_MAIL, K_RCPT, K_DATA, K_BDAT, K_RSET, K_QUIT, K_AUTH, K_STARTTLS,
       K_DOT };
/* client modes */
enum { CM_CMD = 0, CM_DATA, CM_BDAT, CM_AUTH, CM_AUTH_GUESS, CM_STOP };
/* AUTH mechanisms understood */

#define QVERB 12 /* verb kept per queued command for smtp.reply's `command` (cut beyond) */

typedef struct qent {
    uint8_t kind;
    uint8_t last;   /* BDAT ... LAST */
    char verb[QVERB];
    uint8_t forced; /* the client stopped waiting for this reply (assumed the usual one) */
    uint8_t need_client; /* AUTH after a 334: the next reply waits for the client's line */
} qent_t;

typedef struct smtp_auth {
    uint8_t on;           /* an AUTH exchange is open */
    sasl_t sasl;          /* mechanism, responses, credentials (sasl.h) */
} smtp_auth_t;

typedef struct smtp {
    stream_reader_t sr[2];
    uint8_t inited, idle, stopped;
    /* client */
    uint8_t cmode;        /* CM_* */
    uint8_t cwait;        /* waiting for the reply to the last queued command */
    uint8_t cresync;      /* after a gap: skip lines up to a known verb */
    dotbody_t dot;        /* DATA content */
    uint8_t bdat_last, gap_ok;
    uint8_t force[2];     /* resolve waits optimistically (overflow, end of flow) */
    uint64_t bdat_left;
    mime_msg_t *msg;
    /* server */
    uint8_t rin;          /* inside a multi-line reply */
    uint8_t sresync, rcut, sforce;
    int rcode;
    uint64_t roff;
    uint64_t rend;        /* stream offset after the last reply line read */
    uint8_t *rtext;
    uint32_t rlen, rcap;
    uint64_t nreplies;
    /* the command queue, a ring */
    qent_t q[Q_MAX];
    int qh, qn;
    /* RFC 5321 mail transaction, as the server's replies confirm it */
    uint8_t topen;        /* a MAIL was accepted and the transaction has not ended */
    uint8_t tmail, trcpt; /* a MAIL / a RCPT was sent (answered) since the last end */
    uint8_t tbdat;        /* a BDAT of this message was already checked */
    smtp_auth_t auth;
} smtp_t;

#define WEIRD(e, f, name, ...) eng_weird(e, f, name, __VA_ARGS__)

/* ---- small helpers ------------------------------------------------------------ */

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }


static void skip_ws(const uint8_t **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) (*p)++, (*n)--;
}

static void rtrim(const uint8_t *p, size_t *n)
{
    while (*n && (p[*n - 1] == ' ' || p[*n - 1] == '\t' || p[*n - 1] == '\r')) (*n)--;
}

static uint64_t off_of(const uint8_t *base, uint64_t base_off, const uint8_t *p)
{
    return base_off == ENG_NO_OFFSET ? ENG_NO_OFFSET : base_off + (uint64_t)(p - base);
}

static int looks_b64(const uint8_t *p, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (txt_b64[p[i]] < 0 && p[i] != '=') return 0;
    return 1;
}

/* ---- wants ---------------------------------------------------------------------- */

static int wants_mime(const eng_t *e)
{
    return dec_wants(e, ENG_EV_MAIL_HEADER) || dec_wants(e, ENG_EV_MAIL_MESSAGE) ||
           dec_wants(e, ENG_EV_MIME_PART) || dec_wants(e, ENG_EV_MIME_DATA) ||
           dec_wants(e, ENG_EV_MIME_PART_DONE) || dec_wants(e, ENG_EV_FILE_BEGIN) ||
           dec_wants(e, ENG_EV_FILE_DATA) || dec_wants(e, ENG_EV_FILE_DONE) ||
           dec_wants(e, ENG_EV_MAIL_MESSAGE_DONE);
}


/* ---- probe ---------------------------------------------------------------------- */

static int smtp_probe(const uint8_t *p, size_t len, int dir)
{
    if (dir == 0) {
        static const char *const hello[] = {"EHLO ", "HELO "};
        size_t k = len < 5 ? len : 5;
        for (int i = 0; i < 2; i++) {
            size_t j = 0;
            while (j < k && txt_up(p[j]) == (uint8_t)hello[i][j]) j++;
            if (j == k) return k < 5 ? -1 : 1;
        }
        return 0;
    }
    if (len == 0) return -1;
    size_t k = len < 3 ? len : 3;
    if (memcmp(p, "220", k) != 0) return 0;
    if (len < 4) return -1;
    if (p[3] != ' ' && p[3] != '-') return 0;
    const uint8_t *lf = memchr(p, '\n', len);
    size_t n = lf ? (size_t)(lf - p) : len;
    if (txt_isearch(p + 4, n - 4, "SMTP")) return 1;
    if (lf && txt_isearch(p + 4, n - 4, "FTP")) return 0;
    /* a 220 greeting that does not name SMTP ("220 mx ready") could be SMTP or
     * FTP: the client's first command decides (or the port hint) */
    return len >= 512 && !lf ? 0 : -1;
}

/* ---- the command queue ---------------------------------------------------------- */

static qent_t *q_front(smtp_t *s) { return s->qn ? &s->q[s->qh] : NULL; }
static qent_t *q_back(smtp_t *s) { return s->qn ? &s->q[(s->qh + s->qn - 1) % Q_MAX] : NULL; }

static void q_pop(smtp_t *s)
{
    if (!s->qn) return;
    s->qh = (s->qh + 1) % Q_MAX;
    s->qn--;
}

static qent_t *q_push(eng_t *e, eng_flow_t *f, smtp_t *s, uint8_t kind)
{
    if (s->qn == Q_MAX) {
        WEIRD(e, f, "smtp_too_many_pending", "more than %d commands without a reply", Q_MAX);
        q_pop(s);
    }
    qent_t *q = &s->q[(s->qh + s->qn) % Q_MAX];
    q->kind = kind;
    q->forced = 0;
    q->need_client = 0;
    q->last = 0;
    q->verb[0] = 0;
    s->qn++;
    s->sforce = 0; /* a command to match: replies wait again when none is queued */
    return q;
}

/* ---- messages --------------------------------------------------------------------- */

static void msg_begin(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    if (!s->msg && wants_mime(e)) s->msg = mime_begin(e, f, ENG_ORIG, "smtp");
}

static void msg_feed(smtp_t *s, const uint8_t *p, size_t n)
{
    if (s->msg && n) mime_feed(s->msg, p, n);
}

static void msg_end(smtp_t *s)
{
    if (s->msg) mime_end(s->msg);
    s->msg = NULL;
}

/* ---- AUTH ----------------------------------------------------------------------- */

/* one client response of the exchange (initial response or a line after 334) */
static void auth_response(eng_t *e, eng_flow_t *f, smtp_t *s, const uint8_t *p, size_t n)
{
    sasl_t *a = &s->auth.sasl;
    int rc = sasl_response(a, p, n);
    if (rc == SASL_BAD_BASE64)
        WEIRD(e, f, "smtp_bad_base64", "AUTH %s response is not base64", a->name);
    else if (rc == SASL_BAD_PLAIN)
        WEIRD(e, f, "smtp_bad_auth_plain", "PLAIN response without two NUL separators");
}

static void auth_start(eng_t *e, eng_flow_t *f, smtp_t *s, const uint8_t *arg, size_t n)
{
    s->auth.on = 1;
    size_t ml = 0;
    while (ml < n && arg[ml] != ' ' && arg[ml] != '\t') ml++;
    sasl_start(&s->auth.sasl, arg, ml);
    const uint8_t *ir = arg + ml;
    size_t irn = n - ml;
    skip_ws(&ir, &irn);
    rtrim(ir, &irn);
    if (irn) auth_response(e, f, s, ir, irn);
}

/* the 334 challenge text: LOGIN's "Username:" / "Password:" */
static void auth_challenge(smtp_t *s, const uint8_t *p, size_t n)
{
    sasl_challenge(&s->auth.sasl, p, n);
}

static void auth_done(eng_t *e, eng_flow_t *f, smtp_t *s, int code)
{
    if (!s->auth.on) return;
    s->auth.on = 0;
    const sasl_t *a = &s->auth.sasl;
    if (!dec_wants(e, ENG_EV_SMTP_AUTH)) return;
    eng_event_t ev;
    ev_init(&ev, ENG_EV_SMTP_AUTH, f);
    ev_set(&ev, ENG_F_SMTP_AUTH_mechanism, ev_cstr(a->name));
    if (a->has_user) ev_set(&ev, ENG_F_SMTP_AUTH_user, ev_str(a->user, a->ulen, ENG_NO_OFFSET));
    if (a->has_pass) ev_set(&ev, ENG_F_SMTP_AUTH_password, ev_str(a->pass, a->plen, ENG_NO_OFFSET));
    ev_set(&ev, ENG_F_SMTP_AUTH_success, ev_bool(code >= 200 && code < 300));
    dec_fire(e, &ev);
}

/* ---- client commands ------------------------------------------------------------ */

static const char *const verbs[] = {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET",
                                    "QUIT", "AUTH", "STARTTLS", "NOOP", "VRFY", "EXPN",
                                    "HELP", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML",
                                    "XCLIENT", "XFORWARD", "LHLO", NULL};

static int known_verb(const uint8_t *p, size_t n)
{
    for (int i = 0; verbs[i]; i++)
        if (txt_ieq(p, n, verbs[i])) return 1;
    return 0;
}

/* "FROM:<addr> params" / "TO:<addr> params" */
static void fire_path(eng_t *e, eng_flow_t *f, int kind, const uint8_t *arg, size_t n,
                      uint64_t aoff, const char *key)
{
    if (!dec_wants(e, kind)) return;
    const uint8_t *p = arg;
    size_t k = strlen(key);
    if (!txt_iprefix(p, n, key)) {
        /* "FROM <x>" or "FROM: <x>": find the colon */
        const uint8_t *c = memchr(p, ':', n);
        if (!c) return;
        n -= (size_t)(c + 1 - p);
        p = c + 1;
    } else {
        p += k;
        n -= k;
    }
    skip_ws(&p, &n);
    const uint8_t *a, *rest;
    size_t al;
    if (n && *p == '<') {
        const uint8_t *gt = memchr(p, '>', n);
        a = p + 1;
        if (gt) {
            al = (size_t)(gt - a);
            rest = gt + 1;
        } else {
            al = 0;
            while (al < n - 1 && a[al] != ' ') al++;
            rest = a + al;
        }
    } else {
        a = p;
        al = 0;
        while (al < n && p[al] != ' ' && p[al] != '\t') al++;
        rest = p + al;
    }
    size_t rn = n - (size_t)(rest - p);
    skip_ws(&rest, &rn);
    rtrim(rest, &rn);
    eng_event_t ev;
    ev_init(&ev, kind, f);
    ev_set(&ev, 0, ev_str(a, al, off_of(arg, aoff, a)));
    ev_set(&ev, 1, ev_str(rest, rn, off_of(arg, aoff, rest)));
    dec_fire(e, &ev);
}

/* BDAT size [LAST]; 0 when the argument is bad */
static int parse_bdat(const uint8_t *p, size_t n, uint64_t *size, int *last)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && is_digit(p[i])) {
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(p[i] - '0');
        i++;
    }
    if (i == 0) return 0;
    const uint8_t *r = p + i;
    size_t rn = n - i;
    skip_ws(&r, &rn);
    rtrim(r, &rn);
    *last = 0;
    if (rn) {
        if (!txt_ieq(r, rn, "LAST")) return 0;
        *last = 1;
    }
    *size = v;
    return 1;
}

/* queue a command with its verb (for smtp.reply's `command`) */
static qent_t *cmd_push(eng_t *e, eng_flow_t *f, smtp_t *s, const char *verb, uint8_t kind)
{
    qent_t *q = q_push(e, f, s, kind);
    size_t n = strlen(verb);
    if (n >= QVERB) n = QVERB - 1;
    memcpy(q->verb, verb, n);
    q->verb[n] = 0;
    return q;
}

/* one command line; returns 1 when the client must now wait for a reply */
static int command(eng_t *e, eng_flow_t *f, smtp_t *s, const sr_view_t *v)
{
    const uint8_t *p = v->p;
    size_t n = v->len;
    rtrim(p, &n);
    size_t vl = 0;
    while (vl < n && p[vl] != ' ' && p[vl] != '\t') vl++;
    if (s->cresync) {
        if (!known_verb(p, vl)) return 0;
        s->cresync = 0;
    }
    if (vl == 0) {
        if (n == 0) return 0; /* empty line: nothing to report */
        WEIRD(e, f, "smtp_bad_command", "command line starts with white space");
    }
    char verb[VERB_MAX + 1];
    size_t keep = vl > VERB_MAX ? VERB_MAX : vl;
    for (size_t i = 0; i < keep; i++) verb[i] = (char)txt_up(p[i]);
    verb[keep] = 0;
    const uint8_t *arg = p + vl;
    size_t an = n - vl;
    skip_ws(&arg, &an);
    uint64_t aoff = off_of(p, v->off, arg);

    if (dec_wants(e, ENG_EV_SMTP_COMMAND)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_SMTP_COMMAND, f);
        ev_set(&ev, ENG_F_SMTP_COMMAND_verb, ev_str(verb, keep, v->off));
        ev_set(&ev, ENG_F_SMTP_COMMAND_arg, ev_str(arg, an, aoff));
        ev_set(&ev, ENG_F_SMTP_COMMAND_offset, ev_int((int64_t)v->off));
        dec_fire(e, &ev);
    }

    const uint8_t *vb = (const uint8_t *)verb;
    if (txt_ieq(vb, keep, "HELO") || txt_ieq(vb, keep, "EHLO") || txt_ieq(vb, keep, "LHLO")) {
        cmd_push(e, f, s, verb, K_HELO);
    } else if (txt_ieq(vb, keep, "MAIL")) {
        fire_path(e, f, ENG_EV_SMTP_MAIL_FROM, arg, an, aoff, "FROM:");
        cmd_push(e, f, s, verb, K_MAIL);
    } else if (txt_ieq(vb, keep, "RCPT")) {
        fire_path(e, f, ENG_EV_SMTP_RCPT_TO, arg, an, aoff, "TO:");
        cmd_push(e, f, s, verb, K_RCPT);
    } else if (txt_ieq(vb, keep, "DATA")) {
        cmd_push(e, f, s, verb, K_DATA);
        return 1;
    } else if (txt_ieq(vb, keep, "BDAT")) {
        uint64_t size;
        int last;
        if (!parse_bdat(arg, an, &size, &last)) {
            WEIRD(e, f, "smtp_bad_bdat", "BDAT argument is not a size [LAST]");
            cmd_push(e, f, s, verb, K_OTHER);
            return 0;
        }
        cmd_push(e, f, s, verb, K_BDAT)->last = (uint8_t)last;
        msg_begin(e, f, s);
        s->bdat_left = size;
        s->bdat_last = (uint8_t)last;
        s->cmode = CM_BDAT;
        if (size == 0 && last) {
            msg_end(s);
            s->cmode = CM_CMD;
        }
    } else if (txt_ieq(vb, keep, "RSET")) {
        msg_end(s); /* a BDAT message without LAST is abandoned */
        cmd_push(e, f, s, verb, K_RSET);
    } else if (txt_ieq(vb, keep, "QUIT")) {
        cmd_push(e, f, s, verb, K_QUIT);
    } else if (txt_ieq(vb, keep, "AUTH")) {
        auth_start(e, f, s, arg, an);
        cmd_push(e, f, s, verb, K_AUTH);
        return 1;
    } else if (txt_ieq(vb, keep, "STARTTLS")) {
        cmd_push(e, f, s, verb, K_STARTTLS);
        return 1;
    } else {
        cmd_push(e, f, s, verb, K_OTHER);
    }
    return 0;
}

/* ---- client direction ----------------------------------------------------------- */

static void data_end(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    msg_end(s);
    s->cmode = CM_CMD;
    memcpy(q_push(e, f, s, K_DOT)->verb, ".", 2);
}

static void msg_feed_cb(void *ctx, const uint8_t *p, size_t n)
{
    msg_feed(ctx, p, n);
}

/* message content after 354; returns 1 if anything was consumed */
static int run_data(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    int progress = 0;
    while (s->cmode == CM_DATA) {
        int rc = dotbody_read(&s->dot, &s->sr[0], msg_feed_cb, s, &progress);
        if (rc == DOT_MORE) break;
        if (rc == DOT_END) data_end(e, f, s);
    }
    return progress;
}

static int run_bdat(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    stream_reader_t *sr = &s->sr[0];
    sr_view_t v;
    int progress = 0;
    while (s->cmode == CM_BDAT) {
        if (s->bdat_left == 0) {
            if (s->bdat_last) msg_end(s);
            s->cmode = CM_CMD;
            progress = 1;
            break;
        }
        size_t want = s->bdat_left > SIZE_MAX ? SIZE_MAX : (size_t)s->bdat_left;
        int rc = sr_some(sr, want, &v);
        if (rc == SR_GAP) {
            progress = 1;
            if (s->gap_ok) {
                s->gap_ok = 0;
                continue;
            }
            s->cmode = CM_CMD; /* the chunk's end is lost */
            s->cresync = 1;
            break;
        }
        if (rc != SR_OK) break;
        progress = 1;
        msg_feed(s, v.p, v.len);
        s->bdat_left -= v.len;
    }
    return progress;
}

/* the client stops waiting: assume the usual reply to the command it waits on */
static void force_client(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    qent_t *b = q_back(s);
    s->cwait = 0;
    if (!b) return;
    b->forced = 1;
    switch (b->kind) {
    case K_DATA:
        s->cmode = CM_DATA;
        dotbody_start(&s->dot);
        msg_begin(e, f, s);
        break;
    case K_AUTH:
        s->cmode = CM_AUTH_GUESS;
        break;
    case K_STARTTLS:
        s->cmode = CM_STOP;
        break;
    default:
        break;
    }
}

static int run_client(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    stream_reader_t *sr = &s->sr[0];
    int progress = 0;
    if (!sr->chunk) return 0; /* nothing pushed yet in this direction */
    while (!s->stopped) {
        if (s->cwait) {
            if (s->qn == 0) s->cwait = 0; /* nothing left to wait for (queue lost it) */
            else if (s->force[0]) force_client(e, f, s);
            else break;
        }
        if (s->cmode == CM_STOP) break;
        if (s->cmode == CM_DATA) {
            if (!run_data(e, f, s)) break;
            progress = 1;
            continue;
        }
        if (s->cmode == CM_BDAT) {
            if (!run_bdat(e, f, s)) break;
            progress = 1;
            continue;
        }
        sr_view_t v;
        int rc = sr_line(sr, &v);
        if (rc == SR_MORE) break;
        progress = 1;
        if (rc == SR_GAP) {
            if (s->gap_ok) { /* absorbed by the BDAT chunk that just ended */
                s->gap_ok = 0;
                continue;
            }
            WEIRD(e, f, "smtp_gap_resync", "client: gap between commands");
            s->cresync = 1;
            if (s->cmode == CM_AUTH || s->cmode == CM_AUTH_GUESS) s->cmode = CM_CMD;
            continue;
        }
        if (v.cut) WEIRD(e, f, "smtp_line_too_long", "client line longer than stream.max_line");
        if (s->cmode == CM_AUTH || s->cmode == CM_AUTH_GUESS) {
            const uint8_t *p = v.p;
            size_t n = v.len;
            rtrim(p, &n);
            int is_resp = s->cmode == CM_AUTH || (n == 1 && p[0] == '*') || looks_b64(p, n);
            if (is_resp && s->auth.on) {
                auth_response(e, f, s, p, n);
                qent_t *b = q_back(s);
                if (b && b->kind == K_AUTH) b->need_client = 0;
                if (s->cmode == CM_AUTH) {
                    s->cmode = CM_CMD;
                    s->cwait = 1; /* the next 334 or the final reply */
                }
                continue;
            }
            s->cmode = CM_CMD;
        }
        if (command(e, f, s, &v)) s->cwait = 1;
    }
    return progress;
}

/* ---- server direction ----------------------------------------------------------- */

static void rtext_add(eng_t *e, eng_flow_t *f, smtp_t *s, const uint8_t *p, size_t n, int sep)
{
    uint32_t cap = dec_max_line(e);
    if (cap > RTEXT_CAP) cap = RTEXT_CAP;
    size_t need = (size_t)s->rlen + (size_t)sep + n;
    if (need > cap) {
        if (!s->rcut) WEIRD(e, f, "smtp_reply_too_long", "reply text cut at %u bytes", cap);
        s->rcut = 1;
        if (s->rlen + (uint32_t)sep > cap) return;
        n = cap - s->rlen - (uint32_t)sep;
        need = cap;
    }
    if (need > s->rcap) {
        uint32_t nc = s->rcap ? s->rcap : 256;
        while (nc < need) nc *= 2;
        if (nc > cap) nc = cap;
        uint8_t *nb = realloc(s->rtext, nc);
        if (!nb) return;
        dec_mem(f, (int64_t)nc - (int64_t)s->rcap);
        s->rtext = nb;
        s->rcap = nc;
    }
    if (sep) s->rtext[s->rlen++] = '\n';
    if (n) memcpy(s->rtext + s->rlen, p, n);
    s->rlen += (uint32_t)n;
}

static void stop_all(smtp_t *s)
{
    s->stopped = 1;
    s->cmode = CM_STOP;
}

/* RFC 5321 3.3: MAIL starts a mail transaction, RCPT adds a recipient, DATA (its end
 * of data) or BDAT LAST ends it with a message, RSET and HELO / EHLO end it without
 * one. Followed in the order of the server's replies. A command out of that order
 * gives a weird, as Zeek's: smtp_mail_transaction_invalid for a RCPT with no MAIL
 * sent since the last end (whatever the replies), and for a DATA / BDAT with no RCPT
 * sent since the MAIL; smtp_nested_mail_transaction for a MAIL while a MAIL the
 * server accepted is still open. Commands the server merely refused (a rejected
 * recipient, then DATA, as pipelining clients send them) are not weird. */
static void transaction(eng_t *e, eng_flow_t *f, smtp_t *s, const qent_t *q, int code)
{
    int ok = code >= 200 && code < 300;
    switch (q->kind) {
    case K_HELO:
    case K_RSET:
        if (ok) s->topen = s->tmail = s->trcpt = s->tbdat = 0;
        break;
    case K_MAIL:
        if (s->topen)
            WEIRD(e, f, "smtp_nested_mail_transaction", "MAIL inside an open mail transaction");
        s->tmail = 1;
        s->trcpt = 0;
        if (ok) s->topen = 1;
        break;
    case K_RCPT:
        if (!s->tmail) WEIRD(e, f, "smtp_mail_transaction_invalid", "RCPT without MAIL");
        s->trcpt = 1;
        break;
    case K_DATA:
        if (!s->trcpt) WEIRD(e, f, "smtp_mail_transaction_invalid", "DATA without RCPT");
        break;
    case K_BDAT:
        if (!s->trcpt && !s->tbdat)
            WEIRD(e, f, "smtp_mail_transaction_invalid", "BDAT without RCPT");
        s->tbdat = 1;
        if (q->last) s->topen = s->tmail = s->trcpt = s->tbdat = 0;
        break;
    case K_DOT:
        s->topen = s->tmail = s->trcpt = s->tbdat = 0;
        break;
    default:
        break;
    }
}

static void reply_done(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    int code = s->rcode;
    uint64_t first = s->nreplies++;
    qent_t *q = q_front(s);
    int greeting = first == 0 && (code == 220 || code == 421 || code == 554) &&
                   !(q && q->kind == K_STARTTLS);
    if (greeting) q = NULL;
    if (dec_wants(e, ENG_EV_SMTP_REPLY)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_SMTP_REPLY, f);
        ev_set(&ev, ENG_F_SMTP_REPLY_code, ev_int(code));
        ev_set(&ev, ENG_F_SMTP_REPLY_text, ev_str(s->rtext ? s->rtext : (const uint8_t *)"", s->rlen,
                                                  ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_SMTP_REPLY_offset, ev_int((int64_t)s->roff));
        if (q) {
            ev_set(&ev, ENG_F_SMTP_REPLY_command, ev_cstr(q->verb));
            int end = (q->kind == K_DOT || (q->kind == K_BDAT && q->last)) && code != 334;
            ev_set(&ev, ENG_F_SMTP_REPLY_message_end, ev_bool(end));
        }
        dec_fire(e, &ev);
    }
    if (!q) return; /* the greeting, or unmatched */
    if (code != 334) transaction(e, f, s, q, code);
    int forced = q->forced;
    switch (q->kind) {
    case K_DATA:
        q_pop(s);
        if (forced) break;
        s->cwait = 0;
        if (code == 354) {
            s->cmode = CM_DATA;
            dotbody_start(&s->dot);
            msg_begin(e, f, s);
        }
        break;
    case K_AUTH:
        if (code == 334) {
            auth_challenge(s, s->rtext, s->rlen);
            q->need_client = 1;
            if (!forced) {
                s->cwait = 0;
                s->cmode = CM_AUTH;
            }
            break;
        }
        auth_done(e, f, s, code);
        q_pop(s);
        if (!forced) s->cwait = 0;
        if (s->cmode == CM_AUTH || s->cmode == CM_AUTH_GUESS) s->cmode = CM_CMD;
        break;
    case K_STARTTLS:
        q_pop(s);
        if (code == 220) {
            if (dec_wants(e, ENG_EV_SMTP_STARTTLS)) {
                eng_event_t ev;
                ev_init(&ev, ENG_EV_SMTP_STARTTLS, f);
                dec_fire(e, &ev);
            }
            stop_all(s);
            /* the rest is TLS (starttls.h; services "smtp,ssl") */
            if (s->rend) starttls_handoff(e, f, &s->sr[0], &s->sr[1], s->rend);
            break;
        }
        if (forced) {
            if (s->cmode == CM_STOP) s->cmode = CM_CMD; /* refused after all */
        } else {
            s->cwait = 0;
        }
        break;
    default:
        q_pop(s);
        break;
    }
}

static int reply_start(const uint8_t *p, size_t n)
{
    return n >= 3 && is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]) &&
           (n == 3 || p[3] == ' ' || p[3] == '-');
}

static int run_server(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    stream_reader_t *sr = &s->sr[1];
    int progress = 0;
    if (!sr->chunk) return 0; /* nothing pushed yet in this direction */
    while (!s->stopped) {
        qent_t *fr = q_front(s);
        if (!s->rin && ((s->qn == 0 && s->nreplies > 0 && !s->sforce) || (fr && fr->need_client))) {
            if (!s->force[1]) break; /* a reply before the client line it answers: wait */
            if (fr) fr->need_client = 0;
            else s->sforce = 1;
        }
        sr_view_t v;
        int rc = sr_line(sr, &v);
        if (rc == SR_MORE) break;
        progress = 1;
        if (rc == SR_GAP) {
            WEIRD(e, f, "smtp_gap_resync", "server: gap in replies");
            s->rin = 0;
            s->rlen = 0;
            s->sresync = 1;
            continue;
        }
        const uint8_t *p = v.p;
        size_t n = v.len;
        if (!reply_start(p, n)) {
            if (!s->sresync) WEIRD(e, f, "smtp_bad_reply", "server line is not a reply");
            continue;
        }
        s->sresync = 0;
        int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        const uint8_t *t = n > 4 ? p + 4 : p + n;
        size_t tn = n > 4 ? n - 4 : 0;
        if (!s->rin) {
            s->rcode = code;
            s->roff = v.off;
            s->rlen = 0;
            s->rcut = 0;
            rtext_add(e, f, s, t, tn, 0);
        } else {
            if (code != s->rcode)
                WEIRD(e, f, "smtp_reply_code_mismatch", "continuation line %d in reply %d", code,
                      s->rcode);
            rtext_add(e, f, s, t, tn, 1);
        }
        if (n > 3 && p[3] == '-' && !v.cut) {
            s->rin = 1;
            continue;
        }
        s->rin = 0;
        s->rend = v.off + v.len + v.eol;
        reply_done(e, f, s);
    }
    return progress;
}

/* ---- driving both directions ---------------------------------------------------- */

static void pump(eng_t *e, eng_flow_t *f, smtp_t *s, int first)
{
    for (;;) {
        int p = first == 0 ? run_client(e, f, s) : run_server(e, f, s);
        p |= first == 0 ? run_server(e, f, s) : run_client(e, f, s);
        if (!p || s->stopped) break;
    }
}

/* move bytes a waiting direction has not read out of the caller's chunk
 * (kept within max_unit; beyond it the wait is resolved) */
static void park(eng_t *e, eng_flow_t *f, smtp_t *s)
{
    for (int d = 0; d < 2 && !s->stopped; d++) {
        stream_reader_t *sr = &s->sr[d];
        while (!s->stopped && sr->pos < sr->chunk_len && sr_avail(sr) > sr->max_unit) {
            uint64_t before = sr_offset(sr);
            s->force[d] = 1;
            pump(e, f, s, d);
            s->force[d] = 0;
            if (sr_offset(sr) == before) break;
        }
        if (!s->stopped && sr->pos < sr->chunk_len)
            sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
    }
}

/* ---- descriptor entry points ---------------------------------------------------- */

static void smtp_init(eng_t *e, eng_flow_t *f, void *st)
{
    smtp_t *s = st;
    uint32_t ml = dec_max_line(e);
    for (int i = 0; i < 2; i++) {
        sr_init(&s->sr[i], ml);
        sr_bind(&s->sr[i], dec_flow_mem(f));
    }
    s->cmode = CM_CMD;
    s->inited = 1;
}

static void release(eng_flow_t *f, smtp_t *s)
{
    msg_end(s);
    for (int i = 0; i < 2; i++) sr_free(&s->sr[i]);
    dec_mem(f, -(int64_t)s->rcap);
    free(s->rtext);
    s->rtext = NULL;
    s->rlen = s->rcap = 0;
}

static void smtp_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                      size_t len)
{
    smtp_t *s = st;
    if ((dir != 0 && dir != 1) || s->stopped || !s->inited) return;
    if (!dec_wanted(e, &eng_decoder_smtp)) {
        s->idle = 1;
        return;
    }
    s->idle = 0;
    if (dir == 0 && s->cmode == CM_STOP) return;
    sr_push(&s->sr[dir], off, p, len);
    pump(e, f, s, dir);
    park(e, f, s);
    if (s->stopped) release(f, s);
}

static void smtp_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    smtp_t *s = st;
    if ((dir != 0 && dir != 1) || s->stopped || !s->inited) return;
    if (len == 0) { /* engine.memcap cut */
        sr_gap(&s->sr[dir], off, 0);
        if (dir == 0 && s->msg) mime_gap(s->msg, 0);
        if (dir == 1 && !s->rin && s->rtext) { /* between replies the text is not needed */
            dec_mem(f, -(int64_t)s->rcap);
            free(s->rtext);
            s->rtext = NULL;
            s->rlen = s->rcap = 0;
        }
        return;
    }
    sr_gap(&s->sr[dir], off, len);
    if (dir != 0) return;
    if (s->cmode == CM_DATA) {
        if (s->msg) mime_gap(s->msg, len);
    } else if (s->cmode == CM_BDAT) {
        uint64_t take = len < s->bdat_left ? len : s->bdat_left;
        if (s->msg) mime_gap(s->msg, take);
        s->bdat_left -= take;
        s->gap_ok = take == len;
        if (!s->gap_ok) WEIRD(e, f, "smtp_gap_resync", "client: gap past the end of a BDAT chunk");
    }
}

static void smtp_end(eng_t *e, eng_flow_t *f, void *st)
{
    smtp_t *s = st;
    if (!s->inited) return;
    if (!s->stopped && !s->idle) {
        for (int d = 0; d < 2; d++) {
            stream_reader_t *sr = &s->sr[d];
            if (sr->pos < sr->chunk_len) sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
            sr_eof(sr);
        }
        s->force[0] = s->force[1] = 1;
        pump(e, f, s, 0);
        if (!s->stopped) {
            if (s->rin) { /* a multi-line reply cut short */
                s->rin = 0;
                reply_done(e, f, s);
            }
            if (s->cmode == CM_DATA && s->msg) {
                dotbody_flush(&s->dot, msg_feed_cb, s);
                WEIRD(e, f, "smtp_truncated_message", "the flow ended inside DATA");
            } else if (s->cmode == CM_BDAT && s->bdat_left) {
                WEIRD(e, f, "smtp_truncated_message", "the flow ended inside a BDAT chunk");
            }
        }
    }
    release(f, s);
    s->inited = 0;
}

static const uint16_t smtp_ports[] = {25, 587, 2525, 0};

static const char *const smtp_uses[] = {"mail", "files", "ssl", NULL}; /* "ssl": STARTTLS hands over to it */

const eng_decoder_t eng_decoder_smtp = {
    .name = "smtp",
    .uses = smtp_uses,
    .probe = smtp_probe,
    .ports = smtp_ports,
    .state_size = sizeof(smtp_t),
    .init = smtp_init,
    .data = smtp_data,
    .gap = smtp_gap,
    .datagram = NULL,
    .end = smtp_end,
};
