/* imap.c - IMAP4rev1/rev2 (RFC 3501, 9051; LITERAL+ 7888; SASL-IR 4959;
 * IDLE 2177), both directions, on the stream reader.
 *
 * Client: each tagged command (its line, and after a literal {n} / {n+} /
 * ~{n} the literal's bytes and the lines that continue the command) fires one
 * imap.command when complete: tag, command upper-case, args. args is the rest
 * of the command with each literal marker replaced by the literal's bytes,
 * bounded to ARGS_MAX bytes (then "..." is appended). Literal bytes are read
 * with sr_some in pieces, so a large APPEND is never held in memory. The
 * client does not wait for the "+" before a synchronising literal: its bytes
 * are taken as the literal (a server refusing it is rare; the cost is one
 * misread command).
 *
 * Server: tagged completions (tag OK/NO/BAD text) fire imap.response and
 * are paired with pending commands by tag (at most PMAX pending; beyond:
 * weird imap_too_many_pending, the oldest is forgotten). Untagged responses
 * and continuation requests fire nothing. Server literals are skipped, except
 * those of a FETCH item carrying a whole message (BODY[], BODY[]<0>,
 * RFC822, BINARY[]) or its header block (BODY[HEADER], BODY[HEADER.FIELDS
 * (...)], RFC822.HEADER): their bytes are fed, as they come, to the MIME
 * decoder (mime.h, source "imap").
 *
 * imap.auth fires at the tagged completion of LOGIN (mechanism "LOGIN",
 * arguments as atom, quoted string with \" and \\ escapes, or literal) and of
 * AUTHENTICATE (mechanism upper-case; credentials recovered by sasl.h, the
 * rules SMTP uses, with or without an initial response). Client
 * lines inside AUTHENTICATE are SASL responses, not commands: their number is
 * known for PLAIN and LOGIN; for other mechanisms a line is a response while
 * the server has sent more "+" continuations than the client answered, and the
 * client direction waits (bytes kept within max_line) until the server has
 * continued or concluded. "*" cancels.
 *
 * IDLE: the client line "DONE" ends it (any other line is read as a command).
 * STARTTLS: the client direction waits for the tagged completion; after OK
 * nothing more is decoded here: the flow is handed to the TLS decoder
 * (starttls.h; services "imap,ssl").
 *
 * Gaps: a gap inside a literal is absorbed (a message literal gets mime_gap);
 * elsewhere the command or response in progress is dropped and the direction
 * resynchronises at the next line that parses (client: tag and a known
 * command; server: "* ", "+" or a tagged OK/NO/BAD).
 * Weirds: imap_bad_command, imap_bad_response, imap_too_many_pending,
 * imap_unmatched_response, imap_truncated_literal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "mime.h"
#include "stream.h"
#include "sasl.h"
#include "starttls.h"
#include "text.h"

extern const eng_decoder_t eng_decoder_imap;

#define PMAX 32
#define TAGMAX 32
#define ARGS_MAX 1024
#define CRED_MAX 256
#define HOLD_MAX 1024

enum { K_OTHER = 0, K_LOGIN, K_AUTH, K_IDLE, K_STARTTLS };
enum { O_LINE = 0, O_LIT, O_SASL, O_IDLE, O_DONE };
enum { R_LINE = 0, R_LIT, R_DONE };

typedef struct pend {
    char tag[TAGMAX];
    uint8_t tlen;
    uint8_t kind;
} pend_t;

typedef struct imap {
    stream_reader_t sr[2];
    uint64_t line_end;      /* stream offset after the server line being handled */
    uint64_t held_end;
    uint8_t inited;
    uint8_t ost, rst;
    uint8_t orig_eof;
    uint8_t resync[2];       /* after a gap: accept only a line that parses */
    uint8_t gap_ok[2];       /* the reader's next SR_GAP was absorbed in a literal */
    /* the client command being read */
    uint8_t in_cmd, kind, tls_wait;
    char tag[TAGMAX];
    uint8_t tlen;
    char cmd[32];
    uint8_t clen;
    uint64_t cmd_off;
    uint8_t args[ARGS_MAX];
    uint16_t args_len;
    uint8_t args_trunc;
    uint64_t olit;           /* client literal bytes left */
    /* LOGIN arguments */
    uint8_t tok[2][CRED_MAX];
    uint16_t toklen[2];
    uint8_t ntok, lit_tok;   /* lit_tok: the literal is token ntok */
    /* authentication in progress (LOGIN or AUTHENTICATE) */
    uint8_t auth_on;
    char auth_tag[TAGMAX];
    uint8_t auth_tlen;
    sasl_t sasl;             /* mechanism ("LOGIN" for the LOGIN command), SASL state */
    uint8_t sasl_need, sasl_active;
    uint16_t sasl_conts, sasl_resps;
    char user[CRED_MAX], pass[CRED_MAX];
    uint16_t user_len, pass_len;
    uint8_t have_user, have_pass;
    /* pending commands */
    pend_t pend[PMAX];
    int npend;
    /* the server response being read */
    uint8_t in_resp;
    uint64_t rlit;
    mime_msg_t *msg;
    /* a tagged completion whose command has not been decoded yet */
    uint8_t holding, orig_gapped;
    uint8_t held[HOLD_MAX];
    uint16_t held_len;
    uint64_t held_off;
    uint32_t ncmds, held_cmds;
} imap_t;

/* ---- helpers ----------------------------------------------------------------- */

static void setcred(char *dst, uint16_t *dlen, const uint8_t *p, size_t n)
{
    if (n > CRED_MAX) n = CRED_MAX;
    memcpy(dst, p, n);
    *dlen = (uint16_t)n;
}

/* A literal marker "{n}", "{n+}" or "~{n}" ending the segment p[0..n):
 * returns 1 with *start (where the marker begins) and *len. */
static int literal_at_end(const uint8_t *p, size_t n, size_t *start, uint64_t *len)
{
    if (n < 3 || p[n - 1] != '}') return 0;
    size_t i = n - 1;
    if (i > 0 && p[i - 1] == '+') i--;
    size_t dend = i;
    while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9') i--;
    size_t nd = dend - i;
    if (nd == 0 || nd > 18 || i == 0 || p[i - 1] != '{') return 0;
    uint64_t v = 0;
    for (size_t k = i; k < dend; k++) v = v * 10 + (uint64_t)(p[k] - '0');
    i--;
    if (i > 0 && p[i - 1] == '~') i--;
    *start = i;
    *len = v;
    return 1;
}

static int is_atom_char(uint8_t c)
{
    return c > 32 && c < 127 && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' &&
           c != '"' && c != '\\' && c != ']';
}

/* ---- pending commands ----------------------------------------------------------- */

static void pend_add(eng_t *e, eng_flow_t *f, imap_t *s, uint8_t kind)
{
    if (s->npend >= PMAX) {
        eng_weird(e, f, "imap_too_many_pending", "more than %d commands unanswered", PMAX);
        memmove(&s->pend[0], &s->pend[1], sizeof(pend_t) * (PMAX - 1));
        s->npend--;
    }
    pend_t *p = &s->pend[s->npend++];
    memcpy(p->tag, s->tag, s->tlen);
    p->tlen = s->tlen;
    p->kind = kind;
}

static int pend_has(const imap_t *s, const uint8_t *tag, size_t tl)
{
    if (tl > TAGMAX) tl = TAGMAX;
    for (int i = 0; i < s->npend; i++)
        if (s->pend[i].tlen == tl && !memcmp(s->pend[i].tag, tag, tl)) return 1;
    return 0;
}

/* remove the pending command with this tag; its kind, or -1 */
static int pend_take(imap_t *s, const uint8_t *tag, size_t tl)
{
    if (tl > TAGMAX) tl = TAGMAX;
    for (int i = 0; i < s->npend; i++) {
        if (s->pend[i].tlen != tl || memcmp(s->pend[i].tag, tag, tl)) continue;
        int k = s->pend[i].kind;
        memmove(&s->pend[i], &s->pend[i + 1], sizeof(pend_t) * (size_t)(s->npend - i - 1));
        s->npend--;
        return k;
    }
    return -1;
}

/* ---- SASL ------------------------------------------------------------------------- */

/* one SASL response line of an AUTHENTICATE exchange */
static void auth_response(imap_t *s, const uint8_t *p, size_t n)
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

/* ---- client commands ----------------------------------------------------------------- */

static void args_put(imap_t *s, const uint8_t *p, size_t n)
{
    size_t room = ARGS_MAX - s->args_len;
    if (n > room) {
        n = room;
        s->args_trunc = 1;
    }
    memcpy(s->args + s->args_len, p, n);
    s->args_len = (uint16_t)(s->args_len + n);
}

static void tok_put(imap_t *s, int t, const uint8_t *p, size_t n)
{
    size_t room = CRED_MAX - s->toklen[t];
    if (n > room) n = room;
    memcpy(s->tok[t] + s->toklen[t], p, n);
    s->toklen[t] = (uint16_t)(s->toklen[t] + n);
}

/* LOGIN arguments in a segment (a literal marker already cut off) */
static void login_tokens(imap_t *s, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && p[i] == ' ') i++;
        if (i >= n) break;
        int t = s->ntok < 2 ? s->ntok : -1;
        if (p[i] == '"') {
            i++;
            while (i < n && p[i] != '"') {
                if (p[i] == '\\' && i + 1 < n) i++;
                if (t >= 0) tok_put(s, t, p + i, 1);
                i++;
            }
            i++;
        } else {
            size_t j = i;
            while (i < n && p[i] != ' ') i++;
            if (t >= 0) tok_put(s, t, p + j, i - j);
        }
        if (s->ntok < 255) s->ntok++;
    }
}

static void cmd_done(eng_t *e, eng_flow_t *f, imap_t *s)
{
    s->in_cmd = 0;
    if (dec_wants(e, ENG_EV_IMAP_COMMAND)) {
        if (s->args_trunc && s->args_len + 3 <= ARGS_MAX) args_put(s, (const uint8_t *)"...", 3);
        else if (s->args_trunc) memcpy(s->args + ARGS_MAX - 3, "...", 3);
        const uint8_t *a = s->args;
        size_t al = s->args_len;
        txt_trim(&a, &al);
        eng_event_t ev;
        ev_init(&ev, ENG_EV_IMAP_COMMAND, f);
        ev_set(&ev, ENG_F_IMAP_COMMAND_tag, ev_str(s->tag, s->tlen, s->cmd_off));
        ev_set(&ev, ENG_F_IMAP_COMMAND_command, ev_str(s->cmd, s->clen, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_IMAP_COMMAND_args, ev_str(a, al, ENG_NO_OFFSET));
        dec_fire(e, &ev);
    }
    uint8_t kind = s->kind;
    pend_add(e, f, s, kind);
    s->ncmds++;
    s->orig_gapped = 0;
    if (kind == K_LOGIN) {
        s->auth_on = 1;
        memcpy(s->auth_tag, s->tag, s->tlen);
        s->auth_tlen = s->tlen;
        sasl_start(&s->sasl, (const uint8_t *)"LOGIN", 5);
        s->have_user = s->ntok >= 1;
        s->have_pass = s->ntok >= 2;
        setcred(s->user, &s->user_len, s->tok[0], s->toklen[0]);
        setcred(s->pass, &s->pass_len, s->tok[1], s->toklen[1]);
        s->sasl_active = 0;
    } else if (kind == K_AUTH) {
        const uint8_t *a = s->args;
        size_t al = s->args_len;
        txt_trim(&a, &al);
        size_t i = 0;
        while (i < al && a[i] != ' ') i++;
        sasl_start(&s->sasl, a, i);
        s->auth_on = 1;
        memcpy(s->auth_tag, s->tag, s->tlen);
        s->auth_tlen = s->tlen;
        s->sasl_need = (uint8_t)sasl_expected(&s->sasl);
        s->sasl_conts = s->sasl_resps = 0;
        s->have_user = s->have_pass = 0;
        s->sasl_active = 1;
        const uint8_t *ir = a + i;
        size_t irl = al - i;
        txt_trim(&ir, &irl);
        if (irl) auth_response(s, ir, irl); /* "=" is an empty one */
        s->ost = O_SASL;
    } else if (kind == K_IDLE) {
        s->ost = O_IDLE;
    } else if (kind == K_STARTTLS) {
        s->tls_wait = 1;
    }
}

/* a segment of the current command: the first line after tag and command,
 * or a line continuing it after a literal */
static void cmd_segment(eng_t *e, eng_flow_t *f, imap_t *s, const uint8_t *p, size_t n)
{
    size_t ms;
    uint64_t ln;
    int lit = literal_at_end(p, n, &ms, &ln);
    size_t keep = lit ? ms : n;
    args_put(s, p, keep);
    if (s->kind == K_LOGIN) login_tokens(s, p, keep);
    if (!lit) {
        cmd_done(e, f, s);
        return;
    }
    s->lit_tok = s->kind == K_LOGIN && s->ntok < 2;
    s->olit = ln;
    s->ost = O_LIT;
    if (ln == 0) { /* an empty literal */
        if (s->kind == K_LOGIN && s->ntok < 255) s->ntok++;
        s->ost = O_LINE;
    }
}

static const char *const known[] = {
    "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "SELECT", "EXAMINE",
    "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "STATUS", "APPEND",
    "CHECK", "CLOSE", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "UID", "IDLE",
    "NAMESPACE", "ENABLE", "ID", "UNSELECT", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "GETACL",
    "SETACL", "MYRIGHTS", "LISTRIGHTS", "COMPRESS", "GETMETADATA", "SETMETADATA", "SORT",
    "THREAD", "ESEARCH", "NOTIFY", "XLIST", NULL};

static int known_cmd(const uint8_t *p, size_t n)
{
    for (int i = 0; known[i]; i++)
        if (txt_ieq(p, n, known[i])) return 1;
    return 0;
}

static int valid_tag(const uint8_t *p, size_t n)
{
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_atom_char(p[i]) || p[i] == '+') return 0;
    return 1;
}

/* a new client line (not inside a command) */
static void cmd_line(eng_t *e, eng_flow_t *f, imap_t *s, const sr_view_t *v)
{
    const uint8_t *p = v->p;
    size_t n = v->len;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    if (n == 0) return;
    size_t i = 0;
    while (i < n && p[i] != ' ') i++;
    size_t tl = i;
    while (i < n && p[i] == ' ') i++;
    size_t cs = i;
    while (i < n && p[i] != ' ') i++;
    size_t cl = i - cs;
    /* the literal marker may stick to the command word only in odd input */
    int ok = !v->cut && valid_tag(p, tl) && cl > 0 && cl < sizeof s->cmd;
    for (size_t k = cs; ok && k < cs + cl; k++) {
        uint8_t c = p[k];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            ok = 0;
    }
    if (ok && s->resync[ENG_ORIG] && !known_cmd(p + cs, cl)) ok = 0;
    if (!ok) {
        if (!s->resync[ENG_ORIG])
            eng_weird(e, f, "imap_bad_command", "%.*s", (int)(n > 40 ? 40 : n), (const char *)p);
        s->resync[ENG_ORIG] = 1;
        return;
    }
    s->resync[ENG_ORIG] = 0;
    s->in_cmd = 1;
    s->tlen = (uint8_t)(tl < TAGMAX ? tl : TAGMAX);
    memcpy(s->tag, p, s->tlen);
    s->clen = (uint8_t)cl;
    for (size_t k = 0; k < cl; k++) s->cmd[k] = (char)txt_up(p[cs + k]);
    s->cmd_off = v->off;
    s->args_len = 0;
    s->args_trunc = 0;
    s->ntok = 0;
    s->toklen[0] = s->toklen[1] = 0;
    const uint8_t *c = p + cs;
    s->kind = txt_ieq(c, cl, "LOGIN") ? K_LOGIN : txt_ieq(c, cl, "AUTHENTICATE") ? K_AUTH
            : txt_ieq(c, cl, "IDLE") ? K_IDLE : txt_ieq(c, cl, "STARTTLS") ? K_STARTTLS : K_OTHER;
    while (i < n && p[i] == ' ') i++;
    cmd_segment(e, f, s, p + i, n - i);
}

static void run_orig(eng_t *e, eng_flow_t *f, imap_t *s)
{
    stream_reader_t *sr = &s->sr[ENG_ORIG];
    sr_view_t v;
    if (!sr->chunk) return; /* nothing pushed yet */
    for (;;) {
        int rc;
        if (s->ost == O_DONE) {
            while (sr_some(sr, SIZE_MAX, &v) != SR_MORE) {}
            return;
        }
        if (s->ost == O_LIT) {
            rc = sr_some(sr, s->olit > SIZE_MAX ? SIZE_MAX : (size_t)s->olit, &v);
            if (rc == SR_MORE) return;
            if (rc == SR_GAP) {
                if (s->gap_ok[ENG_ORIG]) {
                    s->gap_ok[ENG_ORIG] = 0;
                    if (s->olit == 0) s->ost = O_LINE;
                    continue;
                }
                s->in_cmd = 0;
                s->ost = O_LINE;
                s->resync[ENG_ORIG] = 1;
                continue;
            }
            args_put(s, v.p, v.len);
            if (s->lit_tok) tok_put(s, s->ntok, v.p, v.len);
            s->olit -= v.len;
            if (s->olit == 0) {
                if (s->lit_tok && s->ntok < 255) s->ntok++;
                s->ost = O_LINE;
            }
            continue;
        }
        if (s->tls_wait && !s->orig_eof) {
            /* after STARTTLS the client speaks TLS once the server agrees */
            sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
            return;
        }
        if (s->ost == O_SASL) {
            int resp = s->sasl_need ? s->sasl_resps < s->sasl_need && !s->sasl.cancelled
                                    : s->sasl_resps < s->sasl_conts;
            if (!resp && s->auth_on && s->sasl_active && !s->sasl_need && !s->orig_eof) {
                sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
                return;
            }
            if (!resp) s->ost = O_LINE;
        }
        rc = sr_line(sr, &v);
        if (rc == SR_MORE) return;
        if (rc == SR_GAP) {
            if (s->ost == O_SASL || s->ost == O_IDLE) s->ost = O_LINE;
            s->in_cmd = 0;
            s->resync[ENG_ORIG] = 1;
            continue;
        }
        switch (s->ost) {
        case O_SASL: {
            const uint8_t *p = v.p;
            size_t n = v.len;
            txt_trim(&p, &n);
            auth_response(s, p, n);
            continue;
        }
        case O_IDLE: {
            const uint8_t *p = v.p;
            size_t n = v.len;
            txt_trim(&p, &n);
            s->ost = O_LINE;
            if (txt_ieq(p, n, "DONE")) continue;
            break; /* not DONE: a command */
        }
        default:
            break;
        }
        if (s->in_cmd) {
            cmd_segment(e, f, s, v.p, v.len);
            continue;
        }
        cmd_line(e, f, s, &v);
    }
}

/* ---- server responses -------------------------------------------------------------- */

static void msg_end(imap_t *s)
{
    mime_end(s->msg);
    s->msg = NULL;
}

static void stop(imap_t *s)
{
    s->ost = O_DONE;
    s->rst = R_DONE;
    s->tls_wait = 0;
    msg_end(s);
}

/* the FETCH item before a literal marker: 1 for a whole message (BODY[],
 * RFC822, BINARY[], with or without <0>), 2 for a message's header block
 * (BODY[HEADER], BODY[HEADER.FIELDS (...)], BODY[HEADER.FIELDS.NOT (...)],
 * RFC822.HEADER), 0 for anything else (a part, a partial body, text) */
static int message_item(const uint8_t *p, size_t ms)
{
    size_t e = ms;
    while (e > 0 && p[e - 1] == ' ') e--;
    /* an origin "<0>" (only a fetch from the start is a whole message) */
    int origin = 0;
    if (e > 0 && p[e - 1] == '>') {
        size_t k = e - 1;
        while (k > 0 && p[k - 1] != '<' && p[k - 1] != ' ') k--;
        if (k == 0 || p[k - 1] != '<') return 0;
        if (!(e - k == 2 && p[k] == '0')) return 0;
        origin = 1;
        e = k - 1;
    }
    size_t b = e;
    if (e > 0 && p[e - 1] == ']') { /* a section: back to its "[" (it may hold spaces) */
        while (b > 0 && p[b - 1] != '[') b--;
        if (b == 0) return 0;
        b--;
    }
    while (b > 0 && p[b - 1] != ' ' && p[b - 1] != '(') b--;
    const uint8_t *t = p + b;
    size_t n = e - b;
    if (txt_ieq(t, n, "BODY[]") || txt_ieq(t, n, "BINARY[]") ||
        (!origin && txt_ieq(t, n, "RFC822")))
        return 1;
    if (txt_ieq(t, n, "BODY[HEADER]") || (!origin && txt_ieq(t, n, "RFC822.HEADER"))) return 2;
    if (n > 19 && (txt_ieq(t, 19, "BODY[HEADER.FIELDS ") || txt_ieq(t, 19, "BODY[HEADER.FIELDS.")))
        return 2;
    return 0;
}

/* a segment of a server response: the line, or its continuation after a literal */
static void resp_segment(eng_t *e, eng_flow_t *f, imap_t *s, const uint8_t *p, size_t n)
{
    size_t ms;
    uint64_t ln;
    if (!literal_at_end(p, n, &ms, &ln)) {
        s->in_resp = 0;
        return;
    }
    s->in_resp = 1;
    s->rlit = ln;
    if (ln == 0) return;
    s->rst = R_LIT;
    if (message_item(p, ms)) s->msg = mime_begin(e, f, ENG_RESP, "imap");
}

static void tagged(eng_t *e, eng_flow_t *f, imap_t *s, const sr_view_t *v, size_t tl)
{
    const uint8_t *p = v->p;
    size_t n = v->len;
    size_t i = tl;
    while (i < n && p[i] == ' ') i++;
    size_t ss = i;
    while (i < n && p[i] != ' ') i++;
    const uint8_t *st = p + ss;
    size_t sl = i - ss;
    const char *status = txt_ieq(st, sl, "OK") ? "OK" : txt_ieq(st, sl, "NO") ? "NO"
                       : txt_ieq(st, sl, "BAD") ? "BAD" : NULL;
    if (!status) {
        eng_weird(e, f, "imap_bad_response", "%.*s", (int)(n > 40 ? 40 : n), (const char *)p);
        s->resync[ENG_RESP] = 1;
        return;
    }
    const uint8_t *t = p + i;
    size_t tx = n - i;
    txt_trim(&t, &tx);
    if (dec_wants(e, ENG_EV_IMAP_RESPONSE)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_IMAP_RESPONSE, f);
        ev_set(&ev, ENG_F_IMAP_RESPONSE_tag, ev_str(p, tl, v->off));
        ev_set(&ev, ENG_F_IMAP_RESPONSE_status, ev_cstr(status));
        ev_set(&ev, ENG_F_IMAP_RESPONSE_text, ev_str(t, tx, v->off + (uint64_t)(t - p)));
        dec_fire(e, &ev);
    }
    int ok = status[0] == 'O';
    int kind = pend_take(s, p, tl);
    if (kind < 0) {
        eng_weird(e, f, "imap_unmatched_response", "%.*s", (int)(tl > 32 ? 32 : tl),
                  (const char *)p);
        return;
    }
    size_t atl = tl < TAGMAX ? tl : TAGMAX;
    if ((kind == K_LOGIN || kind == K_AUTH) && s->auth_on && s->auth_tlen == atl &&
        !memcmp(s->auth_tag, p, atl)) {
        s->auth_on = 0;
        s->sasl_active = 0;
        if (dec_wants(e, ENG_EV_IMAP_AUTH)) {
            eng_event_t ev;
            ev_init(&ev, ENG_EV_IMAP_AUTH, f);
            ev_set(&ev, ENG_F_IMAP_AUTH_mechanism, ev_cstr(s->sasl.name));
            if (s->have_user)
                ev_set(&ev, ENG_F_IMAP_AUTH_user, ev_str(s->user, s->user_len, ENG_NO_OFFSET));
            if (s->have_pass)
                ev_set(&ev, ENG_F_IMAP_AUTH_password, ev_str(s->pass, s->pass_len, ENG_NO_OFFSET));
            ev_set(&ev, ENG_F_IMAP_AUTH_success, ev_bool(ok && !s->sasl.cancelled));
            dec_fire(e, &ev);
        }
        s->have_pass = 0;
    }
    if (kind == K_STARTTLS) {
        if (ok) {
            stop(s);
            /* the rest is TLS (starttls.h; services "imap,ssl") */
            starttls_handoff(e, f, &s->sr[ENG_ORIG], &s->sr[ENG_RESP], s->line_end);
        } else {
            s->tls_wait = 0;
        }
    }
}

static void resp_line(eng_t *e, eng_flow_t *f, imap_t *s, const sr_view_t *v)
{
    if (s->in_resp) {
        resp_segment(e, f, s, v->p, v->len);
        return;
    }
    const uint8_t *p = v->p;
    size_t n = v->len;
    if (n == 0 || v->cut) {
        if (v->cut && !s->resync[ENG_RESP]) s->resync[ENG_RESP] = 1;
        return;
    }
    if (p[0] == '*' && n >= 2 && p[1] == ' ') {
        s->resync[ENG_RESP] = 0;
        resp_segment(e, f, s, p, n);
        return;
    }
    if (p[0] == '+' && (n == 1 || p[1] == ' ')) {
        s->resync[ENG_RESP] = 0;
        if (s->auth_on && s->sasl_active) {
            s->sasl_conts++;
            if (n > 2) sasl_challenge(&s->sasl, p + 2, n - 2);
        }
        return;
    }
    size_t tl = 0;
    while (tl < n && p[tl] != ' ') tl++;
    if (!valid_tag(p, tl)) {
        if (!s->resync[ENG_RESP])
            eng_weird(e, f, "imap_bad_response", "%.*s", (int)(n > 40 ? 40 : n), (const char *)p);
        s->resync[ENG_RESP] = 1;
        return;
    }
    if (s->resync[ENG_RESP]) {
        /* only a tagged completion ends the resync */
        size_t i = tl;
        while (i < n && p[i] == ' ') i++;
        size_t j = i;
        while (j < n && p[j] != ' ') j++;
        if (!(txt_ieq(p + i, j - i, "OK") || txt_ieq(p + i, j - i, "NO") ||
              txt_ieq(p + i, j - i, "BAD")))
            return;
        s->resync[ENG_RESP] = 0;
    }
    if (!pend_has(s, p, tl) && !s->orig_eof && !s->orig_gapped) {
        /* its command may not be decoded yet (reordered packets): hold it */
        size_t k = n < HOLD_MAX ? n : HOLD_MAX;
        memcpy(s->held, p, k);
        s->held_len = (uint16_t)k;
        s->held_off = v->off;
        s->held_end = v->off + v->len + v->eol;
        s->held_cmds = s->ncmds;
        s->holding = 1;
        return;
    }
    s->line_end = v->off + v->len + v->eol;
    tagged(e, f, s, v, tl);
}

static size_t tag_len(const uint8_t *p, size_t n)
{
    size_t tl = 0;
    while (tl < n && p[tl] != ' ') tl++;
    return tl;
}

static void run_resp(eng_t *e, eng_flow_t *f, imap_t *s)
{
    stream_reader_t *sr = &s->sr[ENG_RESP];
    sr_view_t v;
    if (!sr->chunk) return; /* nothing pushed yet */
    for (;;) {
        int rc;
        if (s->rst == R_DONE) {
            while (sr_some(sr, SIZE_MAX, &v) != SR_MORE) {}
            return;
        }
        if (s->holding) {
            size_t tl = tag_len(s->held, s->held_len);
            if (!s->orig_eof && !s->orig_gapped && s->ncmds == s->held_cmds &&
                !pend_has(s, s->held, tl)) {
                sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0); /* keep, wait */
                return;
            }
            s->holding = 0;
            sr_view_t hv = {s->held, s->held_len, s->held_off, 0, 0};
            int was = s->tls_wait;
            s->line_end = s->held_end;
            tagged(e, f, s, &hv, tl);
            if (s->ost == O_SASL || s->ost == O_DONE || (was && !s->tls_wait)) run_orig(e, f, s);
            continue;
        }
        if (s->rst == R_LINE && s->auth_on && s->sasl_active && s->sasl_resps < s->sasl_conts &&
            !s->orig_eof && !s->orig_gapped && sr_avail(sr) > 0) {
            /* after a "+" challenge the server waits for the client's answer */
            sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
            return;
        }
        if (s->rst == R_LIT) {
            rc = sr_some(sr, s->rlit > SIZE_MAX ? SIZE_MAX : (size_t)s->rlit, &v);
            if (rc == SR_MORE) return;
            if (rc == SR_GAP) {
                if (s->gap_ok[ENG_RESP]) {
                    s->gap_ok[ENG_RESP] = 0;
                    if (s->rlit == 0) {
                        msg_end(s);
                        s->rst = R_LINE;
                    }
                    continue;
                }
                msg_end(s);
                s->rst = R_LINE;
                s->in_resp = 0;
                s->resync[ENG_RESP] = 1;
                continue;
            }
            if (s->msg) mime_feed(s->msg, v.p, v.len);
            s->rlit -= v.len;
            if (s->rlit == 0) {
                msg_end(s);
                s->rst = R_LINE;
            }
            continue;
        }
        rc = sr_line(sr, &v);
        if (rc == SR_MORE) return;
        if (rc == SR_GAP) {
            s->in_resp = 0;
            s->resync[ENG_RESP] = 1;
            continue;
        }
        int was_tls = s->tls_wait;
        resp_line(e, f, s, &v);
        /* the client side may be waiting for this answer */
        if (s->ost == O_SASL || s->ost == O_DONE || (was_tls && !s->tls_wait)) run_orig(e, f, s);
    }
}

/* ---- descriptor ---------------------------------------------------------------------- */

static int imap_probe(const uint8_t *p, size_t len, int dir)
{
    if (dir == ENG_RESP) {
        static const char *const g[] = {"* OK", "* PREAUTH"};
        int maybe = 0;
        for (int k = 0; k < 2; k++) {
            size_t m = strlen(g[k]);
            size_t n = len < m ? len : m;
            size_t i = 0;
            while (i < n && txt_up(p[i]) == g[k][i]) i++;
            if (i < n) continue;
            if (len <= m) {
                maybe = 1;
                continue;
            }
            if (p[m] == ' ' || p[m] == '\r' || p[m] == '\n') return 1;
        }
        return maybe ? -1 : 0;
    }
    /* a tagged command: tag SP command (SP / CRLF) */
    size_t i = 0;
    while (i < len && i < 65 && p[i] != ' ') i++;
    if (i == len) return len < 65 ? -1 : 0;
    if (!valid_tag(p, i)) return 0;
    size_t cs = ++i;
    while (i < len && i - cs < 16 && ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')))
        i++;
    if (i == len) return -1;
    if (p[i] != ' ' && p[i] != '\r' && p[i] != '\n') return 0;
    static const char *const c[] = {"CAPABILITY", "LOGIN", "AUTHENTICATE", "STARTTLS", "NOOP",
                                    "ID", "ENABLE", "SELECT", "EXAMINE", "LOGOUT", NULL};
    for (int k = 0; c[k]; k++)
        if (txt_ieq(p + cs, i - cs, c[k])) return 1;
    return 0;
}

static void imap_init(eng_t *e, eng_flow_t *f, void *st)
{
    imap_t *s = st;
    uint32_t ml = dec_max_line(e);
    sr_init(&s->sr[0], ml);
    sr_init(&s->sr[1], ml);
    sr_bind(&s->sr[0], dec_flow_mem(f));
    sr_bind(&s->sr[1], dec_flow_mem(f));
    s->inited = 1;
}


static void imap_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                      size_t len)
{
    imap_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    if (!dec_wanted(e, &eng_decoder_imap)) return;
    sr_push(&s->sr[dir], off, p, len);
    if (dir == ENG_ORIG) {
        run_orig(e, f, s);
        run_resp(e, f, s); /* it may be waiting for a command */
    } else {
        run_resp(e, f, s);
    }
}

static void imap_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    imap_t *s = st;
    if ((dir != 0 && dir != 1) || !s->inited) return;
    if (len == 0) { /* engine.memcap cut */
        sr_gap(&s->sr[dir], off, 0);
        if (dir == ENG_RESP && s->msg) mime_gap(s->msg, 0);
        return;
    }
    sr_gap(&s->sr[dir], off, len);
    s->gap_ok[dir] = 0;
    if (dir == ENG_RESP && s->rst == R_LIT && len <= s->rlit) {
        s->gap_ok[dir] = 1;
        s->rlit -= len;
        if (s->msg) mime_gap(s->msg, len);
    } else if (dir == ENG_ORIG && s->ost == O_LIT && len <= s->olit) {
        s->gap_ok[dir] = 1;
        s->olit -= len;
    }
    if (dir == ENG_ORIG) {
        s->orig_gapped = 1;
        run_orig(e, f, s);
    }
    run_resp(e, f, s);
}

static void imap_end(eng_t *e, eng_flow_t *f, void *st)
{
    imap_t *s = st;
    if (!s->inited) return;
    for (int dir = 0; dir < 2; dir++) {
        stream_reader_t *sr = &s->sr[dir];
        sr_push(sr, sr->chunk_off + sr->chunk_len, NULL, 0);
        sr_eof(sr);
    }
    s->orig_eof = 1;
    run_orig(e, f, s);
    run_resp(e, f, s);
    if (s->rst == R_LIT || s->ost == O_LIT)
        eng_weird(e, f, "imap_truncated_literal", "the flow ended inside a literal");
    msg_end(s);
    sr_free(&s->sr[0]);
    sr_free(&s->sr[1]);
    s->inited = 0;
}

static const uint16_t imap_ports[] = {143, 0};

static const char *const imap_uses[] = {"mail", "files", "ssl", NULL}; /* "ssl": STARTTLS hands over to it */

const eng_decoder_t eng_decoder_imap = {
    .name = "imap",
    .uses = imap_uses,
    .probe = imap_probe,
    .ports = imap_ports,
    .state_size = sizeof(imap_t),
    .init = imap_init,
    .data = imap_data,
    .gap = imap_gap,
    .datagram = NULL,
    .end = imap_end,
};
