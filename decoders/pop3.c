/* pop3.c - POP3 (RFC 1939, 2449 CAPA, 5034 AUTH, 2595 STLS), both directions.
 *
 * Each direction is read line by line through a stream_reader_t (max_unit =
 * stream.max_line). Client command lines fire pop3.command and are queued
 * (at most QMAX; beyond: weird pop3_too_many_pending, the command is not
 * paired); each server status line (+OK / -ERR) fires pop3.reply and is paired
 * with the oldest queued command, in order (pipelining, RFC 2449).
 *
 * Multi-line responses (after +OK to RETR, TOP, LIST and UIDL without
 * argument, CAPA, AUTH without argument) are read up to the lone "." with
 * dot-unstuffing; the bodies of RETR and TOP are messages, read by dotbody.h
 * (as SMTP DATA: views into the stream, long lines never cut) and handed to
 * the MIME decoder (mime.h, source "pop3").
 *
 * pop3.auth fires when the server answers PASS (mechanism "USER", with the
 * user of the latest USER command), APOP (password nil) or the end of an AUTH
 * exchange (mechanism upper-case; credentials recovered by sasl.h, the rules
 * SMTP uses). Client lines inside an AUTH exchange are SASL
 * responses, not commands: for PLAIN and LOGIN their number is known; for
 * other mechanisms a line is a response while the server has sent more "+ "
 * continuations than the client has answered, and the client direction waits
 * (its bytes kept, within max_line) until the server has decided.
 *
 * Ordering between directions: a server status line with no queued command
 * (the command's bytes not decoded yet, e.g. reordered packets) makes the
 * server direction wait, its bytes kept within max_line, until the client
 * direction has parsed a command, had a gap, or ended. When the command is
 * unknown (lost in a gap, capture started mid-session), the response is
 * guessed: after +OK, a line that is not a status line starts a multi-line
 * body, which is a message when its first line looks like a header field.
 *
 * STLS answered +OK: both directions stop being decoded here and the flow is
 * handed to the TLS decoder (starttls.h; services "pop3,ssl").
 * Gaps: a gap inside a message body is passed to the MIME decoder and the
 * body goes on; elsewhere the direction resynchronises at the next line that
 * parses (a command keyword on the client side, +OK/-ERR on the server side).
 * Weirds: pop3_bad_command, pop3_bad_reply, pop3_too_many_pending,
 * pop3_unmatched_reply, pop3_truncated_multiline.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "dotbody.h"
#include "mime.h"
#include "stream.h"
#include "sasl.h"
#include "starttls.h"
#include "text.h"

extern const eng_decoder_t eng_decoder_pop3;

#define QMAX 32
#define CRED_MAX 256

enum {
    C_OTHER = 0, C_USER, C_PASS, C_APOP, C_AUTH, C_AUTHLIST, C_RETR, C_TOP, C_MLIST, C_CAPA,
    C_STLS, C_GUESS /* command unknown: response shape guessed */
};

/* client direction */
enum { O_CMD = 0, O_SASL, O_DONE };
/* server direction */
enum { R_STATUS = 0, R_MULTI, R_MSG, R_MAYBE, R_RESYNC, R_DONE };

typedef struct pop3 {
    stream_reader_t sr[2];
    uint8_t inited;
    uint8_t ost, rst;
    uint8_t greeted;        /* a status line was seen */
    uint8_t orig_lost;      /* client bytes lost: unmatched replies are guessed */
    uint8_t orig_eof;
    uint8_t ocmd_resync;    /* client: after a gap, skip to a line that parses */
    uint8_t q[QMAX];
    int qh, qn;
    /* the multi-line response being read */
    mime_msg_t *msg;
    dotbody_t dot;          /* R_MSG: the message body */
    uint8_t multi_first;    /* R_MAYBE / first line of a guessed body */
    /* credentials */
    char user[CRED_MAX], pass[CRED_MAX];
    uint16_t user_len, pass_len;
    uint8_t have_user, have_pass, auth_open;
    sasl_t sasl;            /* the AUTH exchange: mechanism and credentials (sasl.h) */
    uint8_t sasl_need;      /* responses the client will send (PLAIN/LOGIN), 0 unknown */
    uint16_t sasl_conts, sasl_resps;
    uint8_t stls_wait;      /* STLS sent: the client waits for the answer */
    uint8_t started;        /* bytes were seen */
    uint8_t midsession;     /* no SYN seen: the first status line may not be the greeting */
} pop3_t;

/* ---- helpers --------------------------------------------------------------- */

static void setcred(char *dst, uint16_t *dlen, const uint8_t *p, size_t n)
{
    if (n > CRED_MAX) n = CRED_MAX;
    memcpy(dst, p, n);
    *dlen = (uint16_t)n;
}

static int looks_status(const uint8_t *p, size_t n)
{
    if (n >= 3 && txt_iprefix(p, n, "+OK") && (n == 3 || p[3] == ' ')) return 1;
    if (n >= 4 && txt_iprefix(p, n, "-ERR") && (n == 4 || p[4] == ' ')) return 1;
    return 0;
}

static const char *const known_cmds[] = {
    "USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT",
    "TOP", "UIDL", "CAPA", "STLS", "UTF8", "LANG", "XTND", NULL};

static int known_cmd(const uint8_t *p, size_t n)
{
    for (int i = 0; known_cmds[i]; i++)
        if (txt_ieq(p, n, known_cmds[i])) return 1;
    return 0;
}

/* split "CMD arg": cmd length, argument (trimmed) */
static void split_cmd(const uint8_t *p, size_t n, size_t *cl, const uint8_t **a, size_t *al)
{
    size_t i = 0;
    while (i < n && p[i] != ' ' && p[i] != '\t') i++;
    *cl = i;
    *a = p + i;
    *al = n - i;
    txt_trim(a, al);
}

/* ---- the command queue ------------------------------------------------------ */

static void q_push(eng_t *e, eng_flow_t *f, pop3_t *s, uint8_t c)
{
    if (s->qn >= QMAX) {
        eng_weird(e, f, "pop3_too_many_pending", "more than %d commands unanswered", QMAX);
        return;
    }
    s->q[(s->qh + s->qn) % QMAX] = c;
    s->qn++;
}

static uint8_t q_pop(pop3_t *s)
{
    uint8_t c = s->q[s->qh];
    s->qh = (s->qh + 1) % QMAX;
    s->qn--;
    return c;
}

/* ---- events ------------------------------------------------------------------ */

static void fire_auth(eng_t *e, eng_flow_t *f, pop3_t *s, const char *mech, int ok)
{
    if (dec_wants(e, ENG_EV_POP3_AUTH)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_POP3_AUTH, f);
        ev_set(&ev, ENG_F_POP3_AUTH_mechanism, ev_cstr(mech));
        if (s->have_user) ev_set(&ev, ENG_F_POP3_AUTH_user, ev_str(s->user, s->user_len, ENG_NO_OFFSET));
        if (s->have_pass)
            ev_set(&ev, ENG_F_POP3_AUTH_password, ev_str(s->pass, s->pass_len, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_POP3_AUTH_success, ev_bool(ok));
        dec_fire(e, &ev);
    }
    s->have_pass = 0;
}

/* one SASL response line of an AUTH exchange */
static void auth_response(pop3_t *s, const uint8_t *p, size_t n)
{
    s->sasl_resps++;
    sasl_response(&s->sasl, p, n);
    if (s->sasl.has_user) {
        setcred(s->user, &s->user_len, s->sasl.user, s->sasl.ulen);
        s->have_user = 1;
    }
    if (s->sasl.has_pass) {
        setcred(s->pass, &s->pass_len, s->sasl.pass, s->sasl.plen);
        s->have_pass = 1;
    }
}

/* a complete client command line */
static void command(eng_t *e, eng_flow_t *f, pop3_t *s, const sr_view_t *v)
{
    const uint8_t *p = v->p, *a;
    size_t n = v->len, cl, al;
    txt_trim(&p, &n);
    split_cmd(p, n, &cl, &a, &al);
    if (dec_wants(e, ENG_EV_POP3_COMMAND)) {
        char cmd[32];
        size_t k = cl < sizeof cmd ? cl : sizeof cmd;
        for (size_t i = 0; i < k; i++) cmd[i] = (char)txt_up(p[i]);
        eng_event_t ev;
        ev_init(&ev, ENG_EV_POP3_COMMAND, f);
        ev_set(&ev, ENG_F_POP3_COMMAND_command, ev_str(cmd, k, v->off));
        ev_set(&ev, ENG_F_POP3_COMMAND_arg, ev_str(a, al, v->off + (uint64_t)(a - v->p)));
        dec_fire(e, &ev);
    }
    uint8_t c = C_OTHER;
    if (txt_ieq(p, cl, "USER")) {
        c = C_USER;
        setcred(s->user, &s->user_len, a, al);
        s->have_user = 1;
        s->have_pass = 0;
    } else if (txt_ieq(p, cl, "PASS")) {
        c = C_PASS;
        setcred(s->pass, &s->pass_len, a, al);
        s->have_pass = 1;
    } else if (txt_ieq(p, cl, "APOP")) {
        c = C_APOP;
        size_t i = 0;
        while (i < al && a[i] != ' ') i++;
        setcred(s->user, &s->user_len, a, i);
        s->have_user = 1;
        s->have_pass = 0;
    } else if (txt_ieq(p, cl, "AUTH")) {
        if (al == 0) {
            c = C_AUTHLIST;
        } else {
            c = C_AUTH;
            size_t i = 0;
            while (i < al && a[i] != ' ') i++;
            sasl_start(&s->sasl, a, i);
            s->sasl_need = (uint8_t)sasl_expected(&s->sasl);
            s->sasl_conts = s->sasl_resps = 0;
            s->have_user = s->have_pass = 0;
            s->auth_open = 1;
            const uint8_t *ir = a + i;
            size_t irl = al - i;
            txt_trim(&ir, &irl);
            if (irl) auth_response(s, ir, irl); /* "=" is an empty one */
            s->ost = O_SASL;
        }
    } else if (txt_ieq(p, cl, "RETR")) {
        c = C_RETR;
    } else if (txt_ieq(p, cl, "TOP")) {
        c = C_TOP;
    } else if (txt_ieq(p, cl, "LIST") || txt_ieq(p, cl, "UIDL")) {
        c = al ? C_OTHER : C_MLIST;
    } else if (txt_ieq(p, cl, "CAPA")) {
        c = C_CAPA;
    } else if (txt_ieq(p, cl, "STLS")) {
        c = C_STLS;
        s->stls_wait = 1;
    }
    q_push(e, f, s, c);
    s->orig_lost = 0;
}

static void fire_reply(eng_t *e, eng_flow_t *f, int ok, const sr_view_t *v)
{
    if (!dec_wants(e, ENG_EV_POP3_REPLY)) return;
    size_t k = ok ? 3 : 4;
    const uint8_t *t = v->p + k;
    size_t tl = v->len - k;
    txt_trim(&t, &tl);
    eng_event_t ev;
    ev_init(&ev, ENG_EV_POP3_REPLY, f);
    ev_set(&ev, ENG_F_POP3_REPLY_ok, ev_bool(ok));
    ev_set(&ev, ENG_F_POP3_REPLY_text, ev_str(t, tl, v->off + (uint64_t)(t - v->p)));
    dec_fire(e, &ev);
}

static void msg_end(pop3_t *s)
{
    mime_end(s->msg);
    s->msg = NULL;
}

static void msg_feed_cb(void *ctx, const uint8_t *p, size_t n)
{
    pop3_t *s = ctx;
    if (s->msg && n) mime_feed(s->msg, p, n);
}

/* a message starts: its body is read by dotbody (whole lines, never cut) */
static void msg_begin(eng_t *e, eng_flow_t *f, pop3_t *s)
{
    s->rst = R_MSG;
    s->msg = mime_begin(e, f, ENG_RESP, "pop3");
    dotbody_start(&s->dot);
}

static int looks_header(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] > 32 && p[i] < 127 && p[i] != ':') i++;
    return i > 0 && i < n && p[i] == ':';
}

static void stop(pop3_t *s)
{
    s->ost = O_DONE;
    s->rst = R_DONE;
    msg_end(s);
}

/* a server status line for command c */
static void status(eng_t *e, eng_flow_t *f, pop3_t *s, const sr_view_t *v, uint8_t c)
{
    int ok = v->p[0] == '+';
    fire_reply(e, f, ok, v);
    s->greeted = 1;
    switch (c) {
    case C_PASS:
        fire_auth(e, f, s, "USER", ok);
        break;
    case C_APOP:
        s->have_pass = 0;
        fire_auth(e, f, s, "APOP", ok);
        break;
    case C_STLS:
        s->stls_wait = 0;
        break;
    case C_AUTH:
        s->auth_open = 0;
        fire_auth(e, f, s, s->sasl.name, ok && !s->sasl.cancelled);
        break;
    default:
        break;
    }
    if (!ok) return;
    switch (c) {
    case C_RETR:
    case C_TOP:
        msg_begin(e, f, s);
        break;
    case C_MLIST:
    case C_CAPA:
    case C_AUTHLIST:
        s->rst = R_MULTI;
        break;
    case C_GUESS:
        s->rst = R_MAYBE;
        break;
    case C_STLS:
        stop(s);
        /* the rest is TLS: hand it to the ssl decoder */
        starttls_handoff(e, f, &s->sr[ENG_ORIG], &s->sr[ENG_RESP], v->off + v->len + v->eol);
        break;
    default:
        break;
    }
}

/* ---- the two directions -------------------------------------------------------- */

static void run_resp(eng_t *e, eng_flow_t *f, pop3_t *s);

static void run_orig(eng_t *e, eng_flow_t *f, pop3_t *s)
{
    stream_reader_t *sr = &s->sr[ENG_ORIG];
    sr_view_t v;
    if (!sr->chunk) return; /* nothing pushed yet */
    for (;;) {
        if (s->ost == O_DONE) {
            while (sr_some(sr, SIZE_MAX, &v) != SR_MORE) {}
            return;
        }
        if (s->stls_wait && !s->orig_eof) {
            /* what follows STLS is TLS once the server agrees: wait for it */
            sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
            return;
        }
        if (s->ost == O_SASL) {
            int resp = s->sasl_need ? s->sasl_resps < s->sasl_need && !s->sasl.cancelled
                                    : s->sasl_resps < s->sasl_conts;
            if (!resp && s->auth_open && !s->sasl_need && !s->orig_eof) {
                /* wait for the server to continue or conclude (bytes kept) */
                sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
                return;
            }
            if (!resp) s->ost = O_CMD;
        }
        int rc = sr_line(sr, &v);
        if (rc == SR_MORE) return;
        if (rc == SR_GAP) {
            s->ocmd_resync = 1;
            s->orig_lost = 1;
            if (s->ost == O_SASL) s->ost = O_CMD;
            continue;
        }
        if (s->ost == O_SASL) {
            const uint8_t *p = v.p;
            size_t n = v.len;
            txt_trim(&p, &n);
            auth_response(s, p, n);
            continue;
        }
        const uint8_t *p = v.p, *a;
        size_t n = v.len, cl, al;
        txt_trim(&p, &n);
        if (n == 0) continue;
        split_cmd(p, n, &cl, &a, &al);
        if (v.cut || !known_cmd(p, cl)) {
            if (!s->ocmd_resync) {
                /* an unknown command still gets an answer (-ERR usually) */
                int tok = cl > 0 && cl <= 16 && !v.cut;
                for (size_t i = 0; tok && i < cl; i++)
                    if (p[i] < 33 || p[i] > 126) tok = 0;
                if (tok) {
                    command(e, f, s, &v);
                    continue;
                }
                eng_weird(e, f, "pop3_bad_command", "%.*s", (int)(n > 40 ? 40 : n),
                          (const char *)p);
                s->orig_lost = 1;
            }
            continue;
        }
        s->ocmd_resync = 0;
        command(e, f, s, &v);
    }
}

static void run_resp(eng_t *e, eng_flow_t *f, pop3_t *s)
{
    stream_reader_t *sr = &s->sr[ENG_RESP];
    sr_view_t v;
    if (!sr->chunk) return; /* nothing pushed yet */
    for (;;) {
        if (s->rst == R_DONE) {
            while (sr_some(sr, SIZE_MAX, &v) != SR_MORE) {}
            return;
        }
        if (s->rst == R_STATUS && s->greeted && !s->orig_lost && !s->orig_eof &&
            sr_avail(sr) > 0 &&
            (s->qn == 0 || (s->q[s->qh] == C_AUTH && s->sasl_resps < s->sasl_conts))) {
            /* a reply whose command (or SASL response) has not been decoded
             * yet: wait for it */
            sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
            return;
        }
        if (s->rst == R_MSG) {
            int progress = 0;
            int rc = dotbody_read(&s->dot, sr, msg_feed_cb, s, &progress);
            if (rc == DOT_MORE) return;
            if (rc == DOT_END) {
                msg_end(s);
                s->rst = R_STATUS;
            }
            continue; /* after a gap (told to MIME by pop3_gap) the body goes on */
        }
        int rc = sr_line(sr, &v);
        if (rc == SR_MORE) return;
        if (rc == SR_GAP) {
            if (s->rst == R_MULTI) continue; /* body goes on */
            s->rst = R_RESYNC;
            continue;
        }
        switch (s->rst) {
        case R_MULTI:
            if (v.len == 1 && v.p[0] == '.' && !v.cut) s->rst = R_STATUS;
            continue;
        case R_MAYBE:
            if (!v.cut && looks_status(v.p, v.len)) {
                s->rst = R_STATUS;
                break; /* a status line: handled below */
            }
            if (v.len == 1 && v.p[0] == '.') {
                s->rst = R_STATUS;
                continue;
            }
            if (looks_header(v.p, v.len)) {
                msg_begin(e, f, s);
                msg_feed_cb(s, v.p, v.len);
                msg_feed_cb(s, (const uint8_t *)"\r\n", 2);
            } else {
                s->rst = R_MULTI;
            }
            continue;
        case R_RESYNC:
            if (v.cut || !looks_status(v.p, v.len)) continue;
            s->rst = R_STATUS;
            break;
        default:
            break;
        }
        /* R_STATUS */
        if (v.len >= 1 && v.p[0] == '+' && (v.len == 1 || v.p[1] == ' ') && s->qn &&
            s->q[s->qh] == C_AUTH) {
            s->sasl_conts++; /* "+ challenge" */
            if (v.len > 2) sasl_challenge(&s->sasl, v.p + 2, v.len - 2);
            continue;
        }
        if (v.cut || !looks_status(v.p, v.len)) {
            eng_weird(e, f, "pop3_bad_reply", "%.*s", (int)(v.len > 40 ? 40 : v.len),
                      (const char *)v.p);
            s->rst = R_RESYNC;
            continue;
        }
        uint8_t c = C_OTHER;
        if (!s->greeted && !s->midsession) {
            /* the greeting, even when a command was decoded before it */
        } else if (s->qn) {
            c = q_pop(s);
        } else if (s->greeted) {
            c = C_GUESS;
            if (!s->orig_lost && !s->orig_eof)
                eng_weird(e, f, "pop3_unmatched_reply", "a reply without a command");
            s->orig_lost = 0; /* one guess per loss: later replies wait again */
        }
        status(e, f, s, &v, c);
        if (s->rst == R_DONE) {
            if (s->ost != O_DONE) s->ost = O_DONE;
        }
        /* the client side may be waiting for this answer */
        if (s->ost == O_SASL || s->ost == O_DONE || c == C_STLS) run_orig(e, f, s);
    }
}

/* ---- descriptor ------------------------------------------------------------------ */

/* the server's greeting: "+OK" then a blank or the line end (1), or not yet (-1) */
static int pop3_greeting(const uint8_t *p, size_t len)
{
    static const char ok[] = "+OK";
    size_t n = len < 3 ? len : 3;
    for (size_t i = 0; i < n; i++)
        if (txt_up(p[i]) != ok[i]) return 0;
    if (len < 4) return -1;
    return p[3] == ' ' || p[3] == '\r' || p[3] == '\n';
}

/* "+OK" alone cannot tell POP3 from Redis and other line protocols (Zeek's
 * POP3 signature requires the reverse direction too): undecided until the
 * client speaks (pop3_probe_pair), or the port hint decides */
static int pop3_probe(const uint8_t *p, size_t len, int dir)
{
    if (dir != ENG_RESP) return 0;
    return pop3_greeting(p, len) ? -1 : 0;
}

/* the greeting, and a POP3 command (RFC 1939, 2449, 2595, 5034, 6856) as
 * the client's first line */
static int pop3_probe_pair(const uint8_t *o, size_t olen, const uint8_t *r, size_t rlen)
{
    int g = pop3_greeting(r, rlen);
    if (g <= 0) return g;
    static const char *const verbs[] = {"USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "STAT",
                                        "LIST", "RETR", "UIDL", "TOP",  "QUIT", "NOOP", "UTF8",
                                        "LANG", "DELE", "RSET", NULL};
    size_t k = 0;
    while (k < olen && k < 5 && o[k] != ' ' && o[k] != '\r' && o[k] != '\n') k++;
    if (k == olen) return olen < 5 ? -1 : 0; /* the verb is not complete yet */
    for (int i = 0; verbs[i]; i++) {
        size_t n = strlen(verbs[i]);
        if (n != k) continue;
        size_t j = 0;
        while (j < n && txt_up(o[j]) == (uint8_t)verbs[i][j]) j++;
        if (j == n) return 1;
    }
    return 0;
}

static void pop3_init(eng_t *e, eng_flow_t *f, void *st)
{
    pop3_t *s = st;
    uint32_t ml = dec_max_line(e);
    sr_init(&s->sr[0], ml);
    sr_init(&s->sr[1], ml);
    sr_bind(&s->sr[0], dec_flow_mem(f));
    sr_bind(&s->sr[1], dec_flow_mem(f));
    s->inited = 1;
}

/* at the first bytes: picked up mid-session, the first reply has no command */
static void first_bytes(eng_flow_t *f, pop3_t *s)
{
    if (s->started) return;
    s->started = 1;
    if (dec_flow_midstream(f)) s->orig_lost = s->midsession = 1;
}


static void pop3_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                      size_t len)
{
    pop3_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    if (!dec_wanted(e, &eng_decoder_pop3)) return; /* later: an offset jump, i.e. a gap, then resync */
    first_bytes(f, s);
    sr_push(&s->sr[dir], off, p, len);
    if (dir == ENG_ORIG) {
        run_orig(e, f, s);
        run_resp(e, f, s); /* it may be waiting for a command */
    } else {
        run_resp(e, f, s);
    }
}

static void pop3_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    pop3_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    if (len == 0) { /* engine.memcap cut */
        sr_gap(&s->sr[dir], off, 0);
        if (dir == ENG_RESP && s->msg) mime_gap(s->msg, 0);
        return;
    }
    first_bytes(f, s);
    sr_gap(&s->sr[dir], off, len);
    if (dir == ENG_RESP) {
        if (s->rst == R_MSG && s->msg) mime_gap(s->msg, len);
        run_resp(e, f, s);
    } else {
        s->orig_lost = 1;
        run_orig(e, f, s);
        run_resp(e, f, s);
    }
}

static void pop3_end(eng_t *e, eng_flow_t *f, void *st)
{
    pop3_t *s = st;
    if (!s->inited) return;
    for (int dir = 0; dir < 2; dir++) {
        stream_reader_t *sr = &s->sr[dir];
        sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
        sr_eof(sr);
    }
    s->orig_eof = 1;
    run_orig(e, f, s);
    run_resp(e, f, s);
    if (s->rst == R_MSG || s->rst == R_MULTI)
        eng_weird(e, f, "pop3_truncated_multiline", "the flow ended inside a multi-line response");
    if (s->rst == R_MSG) dotbody_flush(&s->dot, msg_feed_cb, s);
    msg_end(s);
    sr_free(&s->sr[0]);
    sr_free(&s->sr[1]);
    s->inited = 0;
}

static const uint16_t pop3_ports[] = {110, 0};

static const char *const pop3_uses[] = {"mail", "files", "ssl", NULL}; /* "ssl": STARTTLS hands over to it */

const eng_decoder_t eng_decoder_pop3 = {
    .name = "pop3",
    .uses = pop3_uses,
    .probe = pop3_probe,
    .probe_pair = pop3_probe_pair,
    .ports = pop3_ports,
    .state_size = sizeof(pop3_t),
    .init = pop3_init,
    .data = pop3_data,
    .gap = pop3_gap,
    .datagram = NULL,
    .end = pop3_end,
};
