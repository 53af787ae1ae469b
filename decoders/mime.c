/* mime.c - the streaming Internet message decoder (mime.h): RFC 5322 headers
 * (unfolded, RFC 2047 encoded words converted to UTF-8 with iconv), MIME
 * multipart nesting (RFC 2046), base64 and quoted-printable bodies decoded
 * line by line, filenames from Content-Disposition / Content-Type (RFC 2231
 * too), every leaf part handed to the files framework.
 *
 * Memory: the message is read through one stream_reader_t (max_unit =
 * stream.max_line) plus fixed buffers in the state (one header, its decoded
 * value, one part's parameters, an output batch) and a boundary stack that
 * grows only with real nesting, capped by mime.max_depth. Nothing grows with
 * the size of the message.
 *
 * Definitions made here (the header leaves them open):
 *  - flow may be NULL (tests, tools): events then carry no flow.
 *  - mail.header fires for each header of the top-level header block only;
 *    mail.message fires when that block ends (or at mime_end if it never
 *    did). Its fields are the first From/To/Cc/Subject/Date/Message-ID,
 *    decoded like mail.header's value and cut at MSGF_MAX bytes; absent ones
 *    are nil. Header values longer than HDR_MAX are cut (weird
 *    mime_header_too_long).
 *  - mime.part fires when a part's header block is complete (the top-level
 *    body at depth 0, parts of a multipart at depth+1). content_type defaults
 *    to "text/plain" when absent; charset, encoding and filename are nil when
 *    absent. Multipart parts fire mime.part too, and mime.part_done when
 *    their closing delimiter (or an outer boundary, or the end) is seen, with
 *    size = the decoded bytes of all leaves inside.
 *  - Leaf parts (everything not multipart; message/rfc822 included, whose
 *    body is kept as it is, not parsed) are files. The file is begun at the
 *    first decoded byte (or lost byte), so an empty part yields no file.
 *    mime.data carries the same decoded bytes, batched up to OBUF bytes
 *    (batching depends on the content only, not on how the bytes arrived).
 *  - Line endings of 7bit/8bit/binary/unknown and quoted-printable bodies are
 *    kept as seen (LF or CRLF), except the one just before a boundary line,
 *    which belongs to the boundary. At the end of the message (no boundary)
 *    the last line ending is part of the body.
 *  - base64: decoded across lines (up to 3 chars carried), whitespace
 *    ignored, '=' ends a quantum (a partial quantum is flushed, decoding goes
 *    on after it), other invalid chars skipped (weird mime_bad_base64 once
 *    per part). quoted-printable: trailing whitespace stripped, "=" at the end
 *    of a line is a soft break, "=XX" (either case) a byte, a bad escape
 *    passed through literally (weird mime_bad_qp once per part).
 *  - A boundary line is "--" boundary ["--"] followed only by spaces/tabs;
 *    the boundaries of all open levels are checked, innermost first, in any
 *    state; an outer one closes the inner parts. A multipart nested deeper
 *    than mime.max_depth is a leaf (weird mime_too_deep): its raw body,
 *    inner delimiters included, is its data.
 *  - Lines longer than stream.max_line are cut by the reader (weird
 *    mime_line_too_long once per part); in a leaf the skipped rest counts as
 *    missing bytes of the file.
 *  - Gaps (mime_gap): a header being collected is processed as it is; in a
 *    leaf the file gets eng_file_gap (n, or n*3/4 for base64: an estimate of
 *    the decoded bytes lost), the decoders restart, and the first line after
 *    the gap (a fragment) is dropped unless it is a boundary line, also
 *    counted as missing. Decoding resumes at the next line, and boundaries
 *    resynchronise the structure.
 *  - Nothing is done that nobody listens to: with no subscriber to any mail
 *    or MIME or file event mime_feed returns at once; with only mail.header /
 *    mail.message the body is not read; bodies are decoded only for
 *    mime.data, file events or mime.part_done.
 */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decoder.h"
#include "mime.h"
#include "stream.h"
#include "text.h"

#define HDR_MAX 8192        /* one unfolded header, name included */
#define DEC_MAX 16384       /* its decoded value (UTF-8 may be longer than the raw bytes) */
#define MSGF_MAX 2048       /* each mail.message field */
#define FN_MAX 1024         /* a filename parameter, raw */
#define FNOUT_MAX MIME_FILENAME_MAX /* the filename, decoded */
#define BOUNDARY_MAX 200    /* RFC 2046 says 70 */
#define CT_MAX 128
#define CS_MAX 64
#define ENC_MAX 32
#define OBUF 4096           /* batch of decoded bytes */
#define SRC_MAX 16
#define CD_CACHE 4          /* iconv descriptors kept */
#define MSG_FUIDS 64        /* fuids mail.message_done lists */

enum { ST_HDR, ST_BODY, ST_SKIP, ST_IGNORE };
enum { ENC_RAW, ENC_B64, ENC_QP };
enum { MF_FROM, MF_TO, MF_CC, MF_SUBJECT, MF_DATE, MF_MSGID, MF_N };

typedef struct level {        /* an open multipart */
    uint8_t b[BOUNDARY_MAX];
    uint16_t blen;
    uint64_t size;            /* decoded bytes of the leaves inside */
} level_t;

/* iconv descriptors by charset, a few kept (opening one costs) */
typedef struct conv_cache {
    struct {
        iconv_t cd;           /* (iconv_t)-1: the charset is unknown to iconv */
        char name[CS_MAX];
    } c[CD_CACHE];
    uint8_t next;
} conv_cache_t;

typedef struct fname {        /* filename= / name= and their RFC 2231 forms */
    uint8_t plain[FN_MAX];
    uint16_t plain_len;
    uint8_t has_plain, has_ext;
    uint8_t plain_cut, ext_cut; /* the value may have been cut at FN_MAX */
    uint8_t ext[FN_MAX];      /* percent-decoded bytes */
    uint16_t ext_len;
    char ext_cs[CS_MAX];
} fname_t;

typedef struct part {         /* the headers of the part being read */
    char ctype[CT_MAX];
    char charset[CS_MAX];
    char enc[ENC_MAX];
    uint8_t has_ctype, has_charset, has_enc, has_boundary;
    uint8_t boundary[BOUNDARY_MAX];
    uint16_t blen;
    uint8_t boundary_long;
    fname_t cd, ct;           /* Content-Disposition filename, Content-Type name */
} part_t;

typedef struct msgf {         /* mail.message fields, only while the top headers are read */
    uint8_t v[MF_N][MSGF_MAX];
    uint16_t len[MF_N];
    uint8_t has[MF_N];
} msgf_t;

struct mime_msg {
    eng_t *e;
    eng_flow_t *f;
    char source[SRC_MAX];
    uint8_t dir;              /* the flow direction carrying the message */
    stream_reader_t sr;
    uint64_t off;             /* stream offset of the next byte fed */
    uint64_t gap_len;         /* size of the gap being reported */

    uint8_t w_hdr, w_msg, w_part, w_pdone, w_data, w_files, w_decode, w_struct, w_mdone;
    uint32_t entities;        /* header blocks begun: MIME entities, top level = 1 */
    uint32_t leaf_entity;     /* the entity number of the leaf being read */
    uint32_t nfiles;          /* files begun */
    uint64_t missing;         /* message bytes lost in gaps */
    char (*fuids)[20];        /* MSG_FUIDS fuids for mail.message_done, lazily */
    uint8_t st;
    uint8_t top;              /* reading the top-level header block */
    uint8_t drop_next;        /* the next line is a fragment after a gap */
    int depth;                /* depth of the current part */

    /* header being collected */
    uint8_t hdr[HDR_MAX];
    size_t hdr_len, name_len;
    uint8_t have_hdr;         /* 1 collecting, 2 ignoring (a header nobody needs) */
    uint8_t hdr_cut;
    uint8_t bad_hdr_warned;

    /* scratch */
    uint8_t dec[DEC_MAX];
    uint8_t ew[HDR_MAX];      /* raw bytes of encoded words waiting for conversion */
    uint8_t pbuf[FN_MAX];     /* an unquoted parameter value (cut) */
    char fn[FNOUT_MAX];
    size_t fn_len;
    int has_fn;

    msgf_t *mf;
    part_t part;

    /* open multiparts */
    level_t *lv;
    int nlv, caplv;

    /* the leaf being read */
    uint8_t enc;
    uint8_t pend_eol;         /* line ending held back (0, 1, 2) */
    uint8_t file_started;
    uint8_t warned_b64, warned_qp, warned_cut;
    uint8_t q[4];             /* base64 quantum in progress */
    uint8_t nq;
    uint64_t cut_end;         /* offset after a cut line's kept bytes, or UINT64_MAX */
    uint64_t size;
    eng_file_t *fl;
    uint8_t obuf[OBUF];
    size_t olen;

    conv_cache_t cv;
};

/* ---- small helpers ------------------------------------------------------ */


static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int b64val(uint8_t c) { return txt_b64[c]; }

static void trim(const uint8_t **p, size_t *n) {
    while (*n && (txt_is_ws((*p)[0]) || (*p)[0] == '\r' || (*p)[0] == '\n')) { (*p)++; (*n)--; }
    while (*n && (txt_is_ws((*p)[*n - 1]) || (*p)[*n - 1] == '\r' || (*p)[*n - 1] == '\n')) (*n)--;
}

/* copy at most cap-1 bytes, lower-cased if asked, NUL-terminated */
static size_t copy_cstr(char *out, size_t cap, const uint8_t *p, size_t n, int lower) {
    if (n > cap - 1) n = cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = (char)(lower ? txt_lower(p[i]) : p[i]);
    out[n] = 0;
    return n;
}

/* ---- charsets ----------------------------------------------------------- */

/* Append the bytes of charset cs converted to UTF-8 at out[*olen..cap).
 * UTF-8/ASCII and charsets iconv does not know are copied as they are;
 * invalid sequences become U+FFFD. Output is cut at cap. */
static void cv_init(conv_cache_t *cv) {
    memset(cv, 0, sizeof *cv);
    for (int k = 0; k < CD_CACHE; k++) cv->c[k].cd = (iconv_t)-1;
}

static void cv_free(conv_cache_t *cv) {
    for (int k = 0; k < CD_CACHE; k++)
        if (cv->c[k].cd != (iconv_t)-1) {
            iconv_close(cv->c[k].cd);
            cv->c[k].cd = (iconv_t)-1;
        }
}

static void conv_append(conv_cache_t *cv, const char *cs, const uint8_t *in, size_t n, uint8_t *out,
                        size_t *olen, size_t cap) {
    if (n == 0 || *olen >= cap) return;
    char name[CS_MAX];
    size_t k = 0;
    for (; cs[k] && k < sizeof name - 1; k++) {
        char c = (char)txt_lower((uint8_t)cs[k]);
        if (c == '*') break; /* RFC 2231 language suffix */
        /* only names made of these reach iconv_open */
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':' || c == '+')) {
            k = 0;
            break;
        }
        name[k] = c;
    }
    name[k] = 0;
    const char *use = name;
    if (!k || !strcmp(name, "utf-8") || !strcmp(name, "utf8") || !strcmp(name, "us-ascii") ||
        !strcmp(name, "ascii"))
        use = NULL;
    else if (!strcmp(name, "gb2312") || !strcmp(name, "gbk") || !strcmp(name, "x-gbk"))
        use = "GB18030"; /* a superset; mailers label GBK text gb2312 */
    else if (!strcmp(name, "ks_c_5601-1987"))
        use = "CP949";
    else if (!strcmp(name, "iso-8859-8-i"))
        use = "ISO-8859-8";
    iconv_t cd = (iconv_t)-1;
    if (use) {
        int k2 = 0;
        while (k2 < CD_CACHE && strcmp(cv->c[k2].name, use) != 0) k2++;
        if (k2 == CD_CACHE) { /* not cached: replace the oldest */
            k2 = cv->next;
            cv->next = (uint8_t)((cv->next + 1) % CD_CACHE);
            if (cv->c[k2].cd != (iconv_t)-1) iconv_close(cv->c[k2].cd);
            cv->c[k2].cd = iconv_open("UTF-8", use);
            snprintf(cv->c[k2].name, sizeof cv->c[k2].name, "%s", use);
        }
        cd = cv->c[k2].cd;
    }
    if (cd == (iconv_t)-1) { /* as they are */
        size_t c = cap - *olen < n ? cap - *olen : n;
        memcpy(out + *olen, in, c);
        *olen += c;
        return;
    }
    iconv(cd, NULL, NULL, NULL, NULL);
    char *ip = (char *)in;
    size_t il = n;
    char *op = (char *)out + *olen;
    size_t ol = cap - *olen;
    while (il > 0 && ol > 0) {
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        if (r != (size_t)-1) break;
        if (errno == E2BIG) break;
        /* EILSEQ / EINVAL: a replacement character, skip one byte */
        if (ol < 3) break;
        memcpy(op, "\xef\xbf\xbd", 3);
        op += 3;
        ol -= 3;
        ip++;
        il--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    iconv(cd, NULL, NULL, &op, &ol); /* stateful charsets: back to the initial state */
    *olen = (size_t)((uint8_t *)op - out);
}

/* ---- RFC 2047 encoded words ----------------------------------------------- */

/* Try an encoded word at s[i..n): =?charset?B|Q?text?=. On success the
 * decoded bytes are appended to ew[*elen..ewcap), the charset is copied to cs
 * and the index after the word is returned; 0 otherwise. */
static size_t enc_word(uint8_t *ew, size_t ewcap, const uint8_t *s, size_t n, size_t i, char *cs,
                       size_t *elen) {
    if (i + 2 > n || s[i] != '=' || s[i + 1] != '?') return 0;
    size_t j = i + 2, c0 = j;
    while (j < n && s[j] != '?' && !txt_is_ws(s[j]) && j - c0 < CS_MAX - 1) j++;
    if (j >= n || s[j] != '?' || j == c0) return 0;
    size_t c1 = j;
    if (j + 2 >= n || s[j + 2] != '?') return 0;
    uint8_t kind = txt_lower(s[j + 1]);
    if (kind != 'b' && kind != 'q') return 0;
    size_t t0 = j + 3, t = t0;
    while (t + 1 < n && !(s[t] == '?' && s[t + 1] == '=') && !txt_is_ws(s[t])) t++;
    if (t + 1 >= n || s[t] != '?' || s[t + 1] != '=') return 0;
    /* valid: decode text [t0, t) */
    copy_cstr(cs, CS_MAX, s + c0, c1 - c0, 0);
    size_t o = *elen;
    if (kind == 'q') {
        for (size_t k = t0; k < t && o < ewcap; k++) {
            uint8_t c = s[k];
            if (c == '_') {
                c = ' ';
            } else if (c == '=' && k + 2 < t) {
                int h = hexval(s[k + 1]), l = hexval(s[k + 2]);
                if (h >= 0 && l >= 0) {
                    c = (uint8_t)(h * 16 + l);
                    k += 2;
                }
            }
            ew[o++] = c;
        }
    } else {
        uint32_t acc = 0;
        int bits = 0;
        for (size_t k = t0; k < t && o < ewcap; k++) {
            int v = b64val(s[k]);
            if (v < 0) {
                if (s[k] == '=') break;
                continue;
            }
            acc = (acc << 6) | (uint32_t)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                ew[o++] = (uint8_t)(acc >> bits);
            }
        }
    }
    *elen = o;
    return t + 2;
}

/* Decode a header value: encoded words converted to UTF-8, whitespace
 * between adjacent encoded words dropped, consecutive words of one charset
 * converted together (a character may be split between them). Other bytes
 * are kept. Returns the output length (<= cap). ew[0..ewcap) is scratch for
 * the decoded bytes of encoded words (ewcap >= n is never short). */
static size_t decode_2047(conv_cache_t *cv, uint8_t *ew, size_t ewcap, const uint8_t *s, size_t n,
                          uint8_t *out, size_t cap) {
    size_t o = 0, i = 0, lit = 0; /* lit: start of literal text not yet copied */
    size_t elen = 0;
    char pcs[CS_MAX] = "", cs[CS_MAX];
    int prev_ew = 0;
    if (n > HDR_MAX) n = HDR_MAX;
    while (i < n) {
        const uint8_t *q = memchr(s + i, '=', n - i);
        if (!q) break;
        i = (size_t)(q - s);
        size_t save = elen;
        size_t nx = enc_word(ew, ewcap, s, n, i, cs, &elen);
        if (!nx) {
            i++;
            continue;
        }
        /* literal text before the word: dropped if it is only whitespace
         * between two encoded words */
        int only_ws = 1;
        for (size_t k = lit; k < i; k++)
            if (!txt_is_ws(s[k])) {
                only_ws = 0;
                break;
            }
        int adjacent = prev_ew && only_ws;
        if (save && (!adjacent || strcasecmp(cs, pcs) != 0)) {
            /* convert the words pending in the previous charset; the new
             * word's bytes at ew[save..elen) move to the front */
            conv_append(cv, pcs, ew, save, out, &o, cap);
            memmove(ew, ew + save, elen - save);
            elen -= save;
        }
        if (!adjacent) {
            size_t c = i - lit;
            if (c > cap - o) c = cap - o;
            memcpy(out + o, s + lit, c);
            o += c;
        }
        memcpy(pcs, cs, sizeof pcs);
        prev_ew = 1;
        i = lit = nx;
    }
    if (elen) conv_append(cv, pcs, ew, elen, out, &o, cap);
    size_t c = n - lit;
    if (c > cap - o) c = cap - o;
    memcpy(out + o, s + lit, c);
    o += c;
    return o;
}

/* ---- events ------------------------------------------------------------- */

static void weird(mime_msg_t *m, const char *name) { eng_weird(m->e, m->f, name, NULL); }

static void fire_header(mime_msg_t *m, const uint8_t *name, size_t nl, const uint8_t *val,
                        size_t vl, const uint8_t *raw, size_t rl) {
    eng_event_t ev;
    ev_init(&ev, ENG_EV_MAIL_HEADER, m->f);
    ev_set(&ev, ENG_F_MAIL_HEADER_name, ev_str(name, nl, ENG_NO_OFFSET));
    ev_set(&ev, ENG_F_MAIL_HEADER_value, ev_str(val, vl, ENG_NO_OFFSET));
    ev_set(&ev, ENG_F_MAIL_HEADER_raw, ev_str(raw, rl, ENG_NO_OFFSET));
    dec_fire(m->e, &ev);
}

static void fire_message(mime_msg_t *m) {
    if (!m->mf) return;
    if (m->w_msg) {
        static const int idx[MF_N] = {ENG_F_MAIL_MESSAGE_from, ENG_F_MAIL_MESSAGE_to,
                                      ENG_F_MAIL_MESSAGE_cc, ENG_F_MAIL_MESSAGE_subject,
                                      ENG_F_MAIL_MESSAGE_date, ENG_F_MAIL_MESSAGE_message_id};
        eng_event_t ev;
        ev_init(&ev, ENG_EV_MAIL_MESSAGE, m->f);
        for (int k = 0; k < MF_N; k++)
            if (m->mf->has[k]) ev_set(&ev, idx[k], ev_str(m->mf->v[k], m->mf->len[k], ENG_NO_OFFSET));
        dec_fire(m->e, &ev);
    }
    free(m->mf);
    m->mf = NULL;
}

/* ---- parameters (RFC 2045 + RFC 2231) ------------------------------------- */

static void fn_add(fname_t *fn, const uint8_t *pname, size_t pl, size_t base,
                   const uint8_t *v, size_t vl) {
    /* pname[0..base) is "filename" / "name"; what follows decides the form */
    const uint8_t *r = pname + base;
    size_t rl = pl - base;
    if (rl == 0) { /* plain */
        if (!fn->has_plain) {
            fn->has_plain = 1;
            fn->plain_len = (uint16_t)(vl < FN_MAX ? vl : FN_MAX);
            fn->plain_cut = vl >= FN_MAX; /* parse_params cuts values there */
            memcpy(fn->plain, v, fn->plain_len);
        }
        return;
    }
    if (r[0] != '*') return;
    r++;
    rl--;
    int encoded = 0, first = 0;
    if (rl == 0) { /* name*= charset'lang'text */
        encoded = first = 1;
        if (fn->has_ext) return; /* the first one wins */
        fn->ext_len = 0;
    } else {
        size_t k = 0;
        unsigned idx = 0;
        while (k < rl && r[k] >= '0' && r[k] <= '9' && k < 6) idx = idx * 10 + (r[k++] - '0');
        if (k == 0) return;
        if (k < rl) {
            if (r[k] != '*' || k + 1 != rl) return;
            encoded = 1;
        }
        first = idx == 0;
        if (first) fn->ext_len = 0;
    }
    fn->has_ext = 1;
    if (vl >= FN_MAX) fn->ext_cut = 1; /* parse_params cuts values there */
    size_t i = 0;
    if (encoded && first) { /* charset'language' prefix */
        const uint8_t *a = memchr(v, '\'', vl);
        const uint8_t *b = a ? memchr(a + 1, '\'', vl - (size_t)(a + 1 - v)) : NULL;
        if (a && b) {
            copy_cstr(fn->ext_cs, CS_MAX, v, (size_t)(a - v), 0);
            i = (size_t)(b + 1 - v);
        }
    }
    for (; i < vl; i++) {
        if (fn->ext_len >= FN_MAX) {
            fn->ext_cut = 1;
            break;
        }
        uint8_t c = v[i];
        if (encoded && c == '%' && i + 2 >= vl && vl >= FN_MAX) break; /* an escape cut short */
        if (encoded && c == '%' && i + 2 < vl) {
            int h = hexval(v[i + 1]), l = hexval(v[i + 2]);
            if (h >= 0 && l >= 0) {
                c = (uint8_t)(h * 16 + l);
                i += 2;
            }
        }
        fn->ext[fn->ext_len++] = c;
    }
}

/* Parse "value; a=b; c="d;e"..." from s: returns the length of the main
 * value; calls cb(ctx, ...) for each parameter (value unquoted into pbuf,
 * FN_MAX bytes, cut there). */
typedef void (*param_fn)(void *ctx, const uint8_t *name, size_t nl, const uint8_t *v, size_t vl);

static size_t parse_params(uint8_t *pbuf, const uint8_t *s, size_t n, param_fn cb, void *ctx) {
    size_t i = 0;
    while (i < n && s[i] != ';') i++;
    size_t main_len = i;
    while (i < n) {
        i++; /* ';' */
        while (i < n && (txt_is_ws(s[i]) || s[i] == ';')) {
            if (s[i] == ';') { i++; continue; }
            i++;
        }
        size_t n0 = i;
        while (i < n && s[i] != '=' && s[i] != ';') i++;
        size_t n1 = i;
        while (n1 > n0 && txt_is_ws(s[n1 - 1])) n1--;
        if (i >= n || s[i] != '=') continue; /* a name without value: skipped */
        i++;
        while (i < n && txt_is_ws(s[i])) i++;
        size_t vl = 0;
        if (i < n && s[i] == '"') {
            i++;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < n) i++;
                if (vl < FN_MAX) pbuf[vl++] = s[i];
                i++;
            }
            if (i < n) i++; /* closing quote */
            while (i < n && s[i] != ';') i++; /* junk after the quotes */
        } else {
            size_t v0 = i;
            while (i < n && s[i] != ';') i++;
            size_t v1 = i;
            while (v1 > v0 && txt_is_ws(s[v1 - 1])) v1--;
            vl = v1 - v0;
            if (vl > FN_MAX) vl = FN_MAX;
            memcpy(pbuf, s + v0, vl);
        }
        if (n1 > n0) cb(ctx, s + n0, n1 - n0, pbuf, vl);
    }
    return main_len;
}

static int prefix_ci(const uint8_t *p, size_t n, const char *s) {
    size_t k = strlen(s);
    return n >= k && txt_ieq(p, k, s);
}

static void ct_param(void *ctx, const uint8_t *name, size_t nl, const uint8_t *v, size_t vl) {
    part_t *pt = ctx;
    if (txt_ieq(name, nl, "charset")) {
        if (!pt->has_charset) {
            const uint8_t *t = v;
            size_t tl = vl;
            trim(&t, &tl);
            copy_cstr(pt->charset, CS_MAX, t, tl, 0);
            pt->has_charset = 1;
        }
    } else if (txt_ieq(name, nl, "boundary")) {
        if (!pt->has_boundary) {
            pt->has_boundary = 1;
            if (vl > BOUNDARY_MAX) {
                pt->boundary_long = 1;
                vl = BOUNDARY_MAX;
            }
            memcpy(pt->boundary, v, vl);
            pt->blen = (uint16_t)vl;
        }
    } else if (prefix_ci(name, nl, "name") && (nl == 4 || name[4] == '*')) {
        fn_add(&pt->ct, name, nl, 4, v, vl);
    }
}

/* ctx: the fname_t of a Content-Disposition */
static void cd_param(void *ctx, const uint8_t *name, size_t nl, const uint8_t *v, size_t vl) {
    if (prefix_ci(name, nl, "filename") && (nl == 8 || name[8] == '*'))
        fn_add(ctx, name, nl, 8, v, vl);
}

/* the length of p[0..n) without a UTF-8 sequence cut short at its end */
static size_t utf8_whole(const uint8_t *p, size_t n) {
    size_t i = n, k = 0; /* k continuation bytes at the end */
    while (i > 0 && k < 3 && (p[i - 1] & 0xc0) == 0x80) {
        i--;
        k++;
    }
    if (i == 0) return n;
    uint8_t c = p[i - 1];
    size_t need = c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xc0 && c < 0xe0 ? 2 : 1;
    return need > 1 && k + 1 < need ? i - 1 : n;
}

/* fn decoded to UTF-8 into out[0..cap): the RFC 2231 form if there is one
 * (its charset converted), else the plain one (RFC 2047 encoded words
 * decoded; ew is FN_MAX bytes of scratch). A name cut (at FN_MAX raw or at
 * cap) loses a character left incomplete at its end. Returns 0 when fn holds
 * neither. */
static int fname_decode(conv_cache_t *cv, uint8_t *ew, const fname_t *fn, uint8_t *out, size_t cap,
                        size_t *olen) {
    *olen = 0;
    int cut;
    if (fn->has_ext) {
        conv_append(cv, fn->ext_cs, fn->ext, fn->ext_len, out, olen, cap);
        cut = fn->ext_cut;
    } else if (fn->has_plain) {
        *olen = decode_2047(cv, ew, FN_MAX, fn->plain, fn->plain_len, out, cap);
        cut = fn->plain_cut;
    } else {
        return 0;
    }
    if (cut || *olen >= cap) *olen = utf8_whole(out, *olen);
    return 1;
}

/* the part's filename, decoded, into m->fn */
static void make_filename(mime_msg_t *m) {
    m->has_fn = 0;
    m->fn_len = 0;
    const fname_t *srcs[2] = {&m->part.cd, &m->part.ct};
    for (int k = 0; k < 2 && !m->has_fn; k++)
        m->has_fn = fname_decode(&m->cv, m->ew, srcs[k], (uint8_t *)m->fn, FNOUT_MAX, &m->fn_len);
}

int mime_cd_filename(const uint8_t *v, size_t n, char *out, size_t cap) {
    if (!out || cap == 0) return -1;
    out[0] = 0;
    if (!v) return -1;
    struct {
        fname_t fn;
        uint8_t pbuf[FN_MAX];
        uint8_t ew[FN_MAX];
        conv_cache_t cv;
    } s;
    memset(&s.fn, 0, sizeof s.fn);
    parse_params(s.pbuf, v, n, cd_param, &s.fn);
    size_t len = 0;
    int rc = -1;
    if (s.fn.has_ext || s.fn.has_plain) {
        size_t c = cap - 1 < FNOUT_MAX ? cap - 1 : FNOUT_MAX;
        cv_init(&s.cv);
        fname_decode(&s.cv, s.ew, &s.fn, (uint8_t *)out, c, &len);
        cv_free(&s.cv);
        out[len] = 0;
        rc = (int)len;
    }
    return rc;
}

/* ---- headers ------------------------------------------------------------ */

static void part_header(mime_msg_t *m, const uint8_t *name, size_t nl, const uint8_t *v,
                        size_t vl) {
    part_t *pt = &m->part;
    if (txt_ieq(name, nl, "content-type")) {
        if (pt->has_ctype) return;
        size_t ml = parse_params(m->pbuf, v, vl, ct_param, pt);
        const uint8_t *t = v;
        trim(&t, &ml);
        /* a comment after the type: cut there */
        for (size_t k = 0; k < ml; k++)
            if (t[k] == '(' || txt_is_ws(t[k])) {
                ml = k;
                break;
            }
        if (ml && memchr(t, '/', ml)) {
            copy_cstr(pt->ctype, CT_MAX, t, ml, 1);
            pt->has_ctype = 1;
        }
    } else if (txt_ieq(name, nl, "content-transfer-encoding")) {
        if (pt->has_enc) return;
        const uint8_t *t = v;
        size_t tl = vl;
        trim(&t, &tl);
        for (size_t k = 0; k < tl; k++)
            if (t[k] == '(' || txt_is_ws(t[k]) || t[k] == ';') {
                tl = k;
                break;
            }
        copy_cstr(pt->enc, ENC_MAX, t, tl, 1);
        pt->has_enc = 1;
    } else if (txt_ieq(name, nl, "content-disposition")) {
        parse_params(m->pbuf, v, vl, cd_param, &pt->cd);
    }
}

static void msg_field(mime_msg_t *m, int k, const uint8_t *v, size_t vl) {
    if (!m->mf || m->mf->has[k]) return;
    if (vl > MSGF_MAX) vl = MSGF_MAX;
    memcpy(m->mf->v[k], v, vl);
    m->mf->len[k] = (uint16_t)vl;
    m->mf->has[k] = 1;
}

/* a complete (unfolded) header in m->hdr */
static void process_header(mime_msg_t *m) {
    if (m->have_hdr != 1) {
        m->have_hdr = 0;
        return;
    }
    m->have_hdr = 0;
    const uint8_t *name = m->hdr;
    size_t nl = m->name_len;
    while (nl && txt_is_ws(name[nl - 1])) nl--;
    const uint8_t *v = m->hdr + m->name_len + 1;
    size_t vl = m->hdr_len - m->name_len - 1;
    trim(&v, &vl);
    if (m->top) {
        int k = -1;
        if (m->mf) {
            if (txt_ieq(name, nl, "from")) k = MF_FROM;
            else if (txt_ieq(name, nl, "to")) k = MF_TO;
            else if (txt_ieq(name, nl, "cc")) k = MF_CC;
            else if (txt_ieq(name, nl, "subject")) k = MF_SUBJECT;
            else if (txt_ieq(name, nl, "date")) k = MF_DATE;
            else if (txt_ieq(name, nl, "message-id")) k = MF_MSGID;
            if (k >= 0 && m->mf->has[k]) k = -1;
        }
        if (m->w_hdr || k >= 0) {
            size_t dl = decode_2047(&m->cv, m->ew, HDR_MAX, v, vl, m->dec, DEC_MAX);
            if (m->w_hdr) fire_header(m, name, nl, m->dec, dl, v, vl);
            if (k >= 0) msg_field(m, k, m->dec, dl);
        }
    }
    if (m->w_struct) part_header(m, name, nl, v, vl);
}

static void start_headers(mime_msg_t *m, int depth) {
    m->st = ST_HDR;
    m->depth = depth;
    m->entities++;
    m->have_hdr = 0;
    m->hdr_len = 0;
    m->bad_hdr_warned = 0;
    memset(&m->part, 0, sizeof m->part);
}

static void leaf_begin(mime_msg_t *m);
static void multipart_begin(mime_msg_t *m);

/* the header block of the current part is complete */
static void headers_done(mime_msg_t *m) {
    process_header(m);
    if (m->top) {
        m->top = 0;
        fire_message(m);
        if (!m->w_struct) {
            m->st = ST_IGNORE;
            return;
        }
    }
    part_t *pt = &m->part;
    if (!pt->has_ctype) strcpy(pt->ctype, "text/plain");
    int multi = !strncmp(pt->ctype, "multipart/", 10);
    if (multi && (!pt->has_boundary || pt->blen == 0)) {
        weird(m, "mime_no_boundary");
        multi = 0;
    } else if (multi && pt->boundary_long) {
        weird(m, "mime_boundary_too_long");
        multi = 0;
    } else if (multi && (uint64_t)m->nlv >= dec_mime_max_depth(m->e)) {
        weird(m, "mime_too_deep");
        multi = 0;
    }
    if (m->w_part || (!multi && m->w_files)) make_filename(m);
    if (m->w_part) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_MIME_PART, m->f);
        ev_set(&ev, ENG_F_MIME_PART_content_type, ev_cstr(pt->ctype));
        if (pt->has_charset) ev_set(&ev, ENG_F_MIME_PART_charset, ev_cstr(pt->charset));
        if (pt->has_enc) ev_set(&ev, ENG_F_MIME_PART_encoding, ev_cstr(pt->enc));
        if (m->has_fn) ev_set(&ev, ENG_F_MIME_PART_filename, ev_str(m->fn, m->fn_len, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_MIME_PART_depth, ev_int(m->depth));
        dec_fire(m->e, &ev);
    }
    if (multi) multipart_begin(m);
    else leaf_begin(m);
}

static void header_line(mime_msg_t *m, const sr_view_t *v) {
    const uint8_t *p = v->p;
    size_t n = v->len;
    if (n == 0 && !v->cut) {
        headers_done(m);
        return;
    }
    if (txt_is_ws(p[0])) { /* continuation (folded) */
        if (m->have_hdr != 1) return;
        size_t room = HDR_MAX - m->hdr_len;
        if (n > room) {
            n = room;
            if (!m->hdr_cut) weird(m, "mime_header_too_long");
            m->hdr_cut = 1;
        }
        memcpy(m->hdr + m->hdr_len, p, n);
        m->hdr_len += n;
        return;
    }
    process_header(m);
    const uint8_t *colon = memchr(p, ':', n);
    if (!colon || colon == p) {
        if (!m->bad_hdr_warned) weird(m, "mime_bad_header");
        m->bad_hdr_warned = 1;
        return;
    }
    size_t nl = (size_t)(colon - p);
    if (nl >= HDR_MAX - 1) { /* a name that does not fit: not a header we can keep */
        if (!m->bad_hdr_warned) weird(m, "mime_bad_header");
        m->bad_hdr_warned = 1;
        return;
    }
    size_t tl = nl;
    while (tl && txt_is_ws(p[tl - 1])) tl--;
    for (size_t k = 0; k < tl; k++)
        if (p[k] <= 32 || p[k] >= 127) { /* not a field name (e.g. an mbox "From " line) */
            if (!m->bad_hdr_warned) weird(m, "mime_bad_header");
            m->bad_hdr_warned = 1;
            return;
        }
    /* below the top, only Content-* headers matter */
    if (!m->top && !(m->w_struct && prefix_ci(p, nl, "content-"))) {
        m->have_hdr = 2;
        return;
    }
    m->hdr_cut = 0;
    if (n > HDR_MAX) {
        n = HDR_MAX;
        weird(m, "mime_header_too_long");
        m->hdr_cut = 1;
    } else if (v->cut) {
        weird(m, "mime_header_too_long");
        m->hdr_cut = 1;
    }
    memcpy(m->hdr, p, n);
    m->hdr_len = n;
    m->name_len = nl;
    m->have_hdr = 1;
}

/* ---- leaf bodies -------------------------------------------------------- */

static void ensure_file(mime_msg_t *m) {
    if (m->file_started) return;
    m->file_started = 1;
    if (m->w_files)
        m->fl = eng_file_begin(m->e, m->f, m->dir, m->source, m->has_fn ? m->fn : NULL, m->fn_len);
    if (!m->fl) return;
    eng_file_set_depth(m->fl, m->leaf_entity);
    if (m->w_mdone) {
        if (!m->fuids) m->fuids = calloc(MSG_FUIDS, sizeof *m->fuids);
        const char *id = eng_file_fuid(m->fl);
        if (m->fuids && id && m->nfiles < MSG_FUIDS)
            snprintf(m->fuids[m->nfiles], sizeof m->fuids[0], "%s", id);
    }
    m->nfiles++;
}

static void deliver(mime_msg_t *m, const uint8_t *p, size_t n) {
    if (n == 0) return;
    ensure_file(m);
    if (m->fl) eng_file_data(m->e, m->fl, p, n);
    if (m->w_data) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_MIME_DATA, m->f);
        ev_set(&ev, ENG_F_MIME_DATA_data, ev_str(p, n, ENG_NO_OFFSET));
        dec_fire(m->e, &ev);
    }
}

static void flush_out(mime_msg_t *m) {
    size_t n = m->olen;
    m->olen = 0;
    deliver(m, m->obuf, n);
}

/* decoded bytes of the leaf */
static void emit(mime_msg_t *m, const uint8_t *p, size_t n) {
    if (n == 0) return;
    m->size += n;
    if (!m->w_data && !m->w_files) return; /* only the size is wanted */
    if (m->olen + n > OBUF) flush_out(m);
    if (n >= OBUF) {
        deliver(m, p, n);
        return;
    }
    memcpy(m->obuf + m->olen, p, n);
    m->olen += n;
}

static void add_missing(mime_msg_t *m, uint64_t n) {
    if (n == 0) return;
    if (!m->w_data && !m->w_files) return;
    flush_out(m);
    ensure_file(m);
    if (m->fl) eng_file_gap(m->e, m->fl, n);
}

/* lost raw bytes of the body, expressed as decoded bytes */
static uint64_t scale_lost(const mime_msg_t *m, uint64_t n) {
    if (m->enc == ENC_B64) {
        uint64_t d = n / 4 * 3;
        return d ? d : (n ? 1 : 0);
    }
    return n;
}

static void emit_pending_eol(mime_msg_t *m) {
    if (m->pend_eol == 2) emit(m, (const uint8_t *)"\r\n", 2);
    else if (m->pend_eol == 1) emit(m, (const uint8_t *)"\n", 1);
    m->pend_eol = 0;
}

static void b64_flush_partial(mime_msg_t *m) {
    uint8_t o[2];
    if (m->nq == 2) {
        o[0] = (uint8_t)(m->q[0] << 2 | m->q[1] >> 4);
        emit(m, o, 1);
    } else if (m->nq == 3) {
        o[0] = (uint8_t)(m->q[0] << 2 | m->q[1] >> 4);
        o[1] = (uint8_t)(m->q[1] << 4 | m->q[2] >> 2);
        emit(m, o, 2);
    }
    m->nq = 0;
}

static void b64_line(mime_msg_t *m, const uint8_t *p, size_t n) {
    uint8_t out[3072];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        /* the common case: whole quanta of four digits, straight through */
        if (m->nq == 0) {
            while (i + 4 <= n) {
                int a = txt_b64[p[i]], b = txt_b64[p[i + 1]];
                int c = txt_b64[p[i + 2]], d = txt_b64[p[i + 3]];
                if ((a | b | c | d) < 0) break;
                uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
                out[o++] = (uint8_t)(v >> 16);
                out[o++] = (uint8_t)(v >> 8);
                out[o++] = (uint8_t)v;
                i += 4;
                if (o + 3 > sizeof out) {
                    emit(m, out, o);
                    o = 0;
                }
            }
            if (i >= n) break;
        }
        uint8_t c = p[i];
        int v = b64val(c);
        if (v < 0) {
            if (c == '=') {
                if (m->nq) {
                    emit(m, out, o);
                    o = 0;
                    b64_flush_partial(m);
                }
            } else if (!txt_is_ws(c) && c != '\r' && c != '\n') {
                if (!m->warned_b64) weird(m, "mime_bad_base64");
                m->warned_b64 = 1;
            }
            continue;
        }
        m->q[m->nq++] = (uint8_t)v;
        if (m->nq == 4) {
            out[o++] = (uint8_t)(m->q[0] << 2 | m->q[1] >> 4);
            out[o++] = (uint8_t)(m->q[1] << 4 | m->q[2] >> 2);
            out[o++] = (uint8_t)(m->q[2] << 6 | m->q[3]);
            m->nq = 0;
            if (o + 3 > sizeof out) {
                emit(m, out, o);
                o = 0;
            }
        }
    }
    if (o) emit(m, out, o);
}

static void qp_line(mime_msg_t *m, const uint8_t *p, size_t n, int eol) {
    while (n && txt_is_ws(p[n - 1])) n--;
    int soft = n && p[n - 1] == '=';
    if (soft) n--;
    uint8_t out[4096];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '=') {
            int h = i + 1 < n ? hexval(p[i + 1]) : -1;
            int l = i + 2 < n ? hexval(p[i + 2]) : -1;
            if (h >= 0 && l >= 0) {
                c = (uint8_t)(h * 16 + l);
                i += 2;
            } else {
                if (!m->warned_qp) weird(m, "mime_bad_qp");
                m->warned_qp = 1;
            }
        }
        out[o++] = c;
        if (o == sizeof out) {
            emit(m, out, o);
            o = 0;
        }
    }
    if (o) emit(m, out, o);
    m->pend_eol = soft ? 0 : (uint8_t)eol;
}

static void body_line(mime_msg_t *m, const sr_view_t *v) {
    if (!m->w_decode) return;
    if (v->cut && !m->warned_cut) {
        weird(m, "mime_line_too_long");
        m->warned_cut = 1;
    }
    switch (m->enc) {
    case ENC_B64:
        b64_line(m, v->p, v->len);
        if (v->cut) m->nq = 0; /* the rest is skipped: alignment lost */
        break;
    case ENC_QP:
        emit_pending_eol(m);
        qp_line(m, v->p, v->len, v->eol);
        break;
    default:
        emit_pending_eol(m);
        emit(m, v->p, v->len);
        m->pend_eol = v->eol;
    }
}

static void leaf_begin(mime_msg_t *m) {
    const char *en = m->part.enc;
    m->enc = !strcmp(en, "base64") ? ENC_B64 : !strcmp(en, "quoted-printable") ? ENC_QP : ENC_RAW;
    m->pend_eol = 0;
    m->file_started = 0;
    m->warned_b64 = m->warned_qp = m->warned_cut = 0;
    m->nq = 0;
    m->size = 0;
    m->fl = NULL;
    m->leaf_entity = m->entities;
    m->olen = 0;
    /* nothing to decode and no boundary to watch for: the rest is ignored */
    m->st = (!m->w_decode && m->nlv == 0) ? ST_IGNORE : ST_BODY;
}

/* end of the leaf; keep_eol: no boundary took the last line ending */
static void leaf_end(mime_msg_t *m, int keep_eol) {
    if (m->w_decode) {
        if (m->enc == ENC_B64) b64_flush_partial(m);
        if (keep_eol) emit_pending_eol(m);
        m->pend_eol = 0;
        flush_out(m);
        if (m->fl) eng_file_end(m->e, m->fl);
        m->fl = NULL;
        for (int i = 0; i < m->nlv; i++) m->lv[i].size += m->size;
        if (m->w_pdone) {
            eng_event_t ev;
            ev_init(&ev, ENG_EV_MIME_PART_DONE, m->f);
            ev_set(&ev, ENG_F_MIME_PART_DONE_size, ev_int((int64_t)m->size));
            dec_fire(m->e, &ev);
        }
    }
    m->st = m->nlv ? ST_SKIP : ST_IGNORE;
}

/* ---- multiparts --------------------------------------------------------- */

static void multipart_begin(mime_msg_t *m) {
    if (m->nlv == m->caplv) {
        int cap = m->caplv ? m->caplv * 2 : 2;
        level_t *nv = realloc(m->lv, (size_t)cap * sizeof *nv);
        if (!nv) { /* no memory: the multipart is read as an opaque leaf */
            leaf_begin(m);
            return;
        }
        dec_mem(m->f, (int64_t)((size_t)(cap - m->caplv) * sizeof *nv));
        m->lv = nv;
        m->caplv = cap;
    }
    level_t *l = &m->lv[m->nlv++];
    memcpy(l->b, m->part.boundary, m->part.blen);
    l->blen = m->part.blen;
    l->size = 0;
    m->st = ST_SKIP; /* the preamble */
}

static void pop_level(mime_msg_t *m) {
    level_t *l = &m->lv[--m->nlv];
    if (m->w_pdone) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_MIME_PART_DONE, m->f);
        ev_set(&ev, ENG_F_MIME_PART_DONE_size, ev_int((int64_t)l->size));
        dec_fire(m->e, &ev);
    }
}

/* index of the open level whose delimiter line this is, or -1 */
static int match_boundary(const mime_msg_t *m, const uint8_t *p, size_t n, int *close) {
    if (n < 3 || p[0] != '-' || p[1] != '-') return -1;
    for (int i = m->nlv - 1; i >= 0; i--) {
        const level_t *l = &m->lv[i];
        if (n < 2u + l->blen || memcmp(p + 2, l->b, l->blen) != 0) continue;
        size_t k = 2u + l->blen;
        int c = 0;
        if (k + 2 <= n && p[k] == '-' && p[k + 1] == '-') {
            c = 1;
            k += 2;
        }
        while (k < n && txt_is_ws(p[k])) k++;
        if (k != n) continue;
        *close = c;
        return i;
    }
    return -1;
}

static void on_boundary(mime_msg_t *m, int lvl, int close) {
    if (m->st == ST_HDR) headers_done(m); /* a part without body */
    if (m->st == ST_BODY) leaf_end(m, 0);
    while (m->nlv > lvl + 1) pop_level(m);
    if (close) {
        pop_level(m);
        m->st = m->nlv ? ST_SKIP : ST_IGNORE; /* the epilogue */
    } else {
        start_headers(m, lvl + 1);
    }
}

/* ---- the line loop ------------------------------------------------------ */

static void on_gap(mime_msg_t *m) {
    uint64_t n = m->gap_len ? m->gap_len : 1;
    m->gap_len = 0;
    m->cut_end = UINT64_MAX;
    if (m->st == ST_HDR) {
        process_header(m);
    } else if (m->st == ST_BODY && m->w_decode) {
        if (m->enc == ENC_B64) b64_flush_partial(m);
        m->nq = 0;
        m->pend_eol = 0;
        add_missing(m, scale_lost(m, n));
    }
    m->drop_next = 1;
}

static void on_line(mime_msg_t *m, const sr_view_t *v) {
    if (m->cut_end != UINT64_MAX) { /* the rest of a cut line was skipped */
        if (m->st == ST_BODY && m->w_decode && v->off > m->cut_end)
            add_missing(m, scale_lost(m, v->off - m->cut_end));
        m->cut_end = UINT64_MAX;
    }
    if (v->cut) m->cut_end = v->off + v->len;
    if (m->nlv) {
        int close = 0;
        int lvl = match_boundary(m, v->p, v->len, &close);
        if (lvl >= 0) {
            m->drop_next = 0;
            on_boundary(m, lvl, close);
            return;
        }
    }
    if (m->drop_next) { /* a fragment after a gap */
        m->drop_next = 0;
        if (m->st == ST_BODY && m->w_decode) add_missing(m, scale_lost(m, v->len + v->eol));
        return;
    }
    switch (m->st) {
    case ST_HDR: header_line(m, v); break;
    case ST_BODY: body_line(m, v); break;
    default: break;
    }
}

static void run(mime_msg_t *m) {
    sr_view_t v;
    while (m->st != ST_IGNORE) {
        int rc = sr_line(&m->sr, &v);
        if (rc == SR_MORE) break;
        if (rc == SR_GAP) {
            on_gap(m);
            continue;
        }
        on_line(m, &v);
    }
}

/* mail.message_done: the message's fuids (the first MSG_FUIDS), counts */
static void fire_message_done(mime_msg_t *m) {
    eng_value_t ids[MSG_FUIDS];
    uint32_t n = 0;
    for (; m->fuids && n < m->nfiles && n < MSG_FUIDS; n++) ids[n] = ev_cstr(m->fuids[n]);
    eng_event_t ev;
    ev_init(&ev, ENG_EV_MAIL_MESSAGE_DONE, m->f);
    eng_value_t l = {.type = ENG_T_LIST, .len = n, .offset = ENG_NO_OFFSET};
    l.u.list = ids;
    ev_set(&ev, ENG_F_MAIL_MESSAGE_DONE_fuids, l);
    ev_set(&ev, ENG_F_MAIL_MESSAGE_DONE_files, ev_int(m->nfiles));
    ev_set(&ev, ENG_F_MAIL_MESSAGE_DONE_parts, ev_int(m->entities));
    ev_set(&ev, ENG_F_MAIL_MESSAGE_DONE_size, ev_int((int64_t)m->off));
    ev_set(&ev, ENG_F_MAIL_MESSAGE_DONE_missing_bytes, ev_int((int64_t)m->missing));
    ev_set(&ev, ENG_F_MAIL_MESSAGE_DONE_dir, ev_dir(m->dir));
    dec_fire(m->e, &ev);
}

/* ---- API ---------------------------------------------------------------- */

mime_msg_t *mime_begin(eng_t *e, eng_flow_t *f, int dir, const char *source) {
    if (!e) return NULL;
    mime_msg_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->e = e;
    m->f = f;
    m->dir = (uint8_t)dir;
    if (source) snprintf(m->source, sizeof m->source, "%s", source);
    sr_init(&m->sr, dec_max_line(e));
    sr_bind(&m->sr, dec_flow_mem(f));
    cv_init(&m->cv);
    m->cut_end = UINT64_MAX;
    m->w_hdr = dec_wants(e, ENG_EV_MAIL_HEADER);
    m->w_msg = dec_wants(e, ENG_EV_MAIL_MESSAGE);
    m->w_part = dec_wants(e, ENG_EV_MIME_PART);
    m->w_pdone = dec_wants(e, ENG_EV_MIME_PART_DONE);
    m->w_data = dec_wants(e, ENG_EV_MIME_DATA);
    m->w_files = dec_wants(e, ENG_EV_FILE_BEGIN) || dec_wants(e, ENG_EV_FILE_DATA) ||
                 dec_wants(e, ENG_EV_FILE_DONE);
    m->w_mdone = dec_wants(e, ENG_EV_MAIL_MESSAGE_DONE);
    /* mail.message_done lists fuids: the files are decoded only when some
     * file event is subscribed (then w_files is set anyway) */
    m->w_decode = m->w_data || m->w_files || m->w_pdone;
    m->w_struct = m->w_decode || m->w_part;
    if (m->w_msg) m->mf = calloc(1, sizeof *m->mf); /* NULL: the fields stay nil */
    m->top = 1;
    start_headers(m, 0);
    if (!m->w_hdr && !m->w_msg && !m->w_struct) m->st = ST_IGNORE;
    /* (mail.message_done alone needs no parsing: sizes are counted as fed) */
    return m;
}

void mime_feed(mime_msg_t *m, const uint8_t *p, size_t n) {
    if (!m || !p || n == 0) return;
    if (m->st == ST_IGNORE) {
        m->off += n;
        return;
    }
    sr_push(&m->sr, m->off, p, n);
    m->off += n;
    run(m);
}

void mime_gap(mime_msg_t *m, uint64_t n) {
    if (!m) return;
    if (n == 0) { /* engine.memcap cut: the partial line goes (SR_GAP at the next read) */
        sr_gap(&m->sr, m->off, 0);
        return;
    }
    if (m->st == ST_IGNORE) {
        m->off += n;
        m->missing += n;
        return;
    }
    sr_gap(&m->sr, m->off, n);
    m->off += n;
    m->missing += n;
    m->gap_len += n;
    run(m);
}

void mime_end(mime_msg_t *m) {
    if (!m) return;
    if (m->st != ST_IGNORE && m->off > 0) { /* (a reader never fed has nothing) */
        sr_eof(&m->sr);
        run(m);
    }
    if (m->st == ST_HDR) {
        process_header(m);
        if (m->top) {
            m->top = 0;
            fire_message(m);
        }
    } else if (m->st == ST_BODY) {
        leaf_end(m, 1);
    }
    while (m->nlv > 0) pop_level(m);
    if (m->w_mdone) fire_message_done(m); /* every part and file is done by now */
    /* engine.memcap counts what grows (the reader, the levels), not the fixed state */
    dec_mem(m->f, -(int64_t)((size_t)m->caplv * sizeof *m->lv));
    free(m->fuids);
    free(m->mf);
    free(m->lv);
    sr_free(&m->sr);
    cv_free(&m->cv);
    free(m);
}

/* tests: the stream reader's peak buffer, and bytes held by the state */
uint64_t mime_debug_peak(const mime_msg_t *m);
uint64_t mime_debug_peak(const mime_msg_t *m) { return m ? m->sr.peak : 0; }
size_t mime_debug_state_size(const mime_msg_t *m);
size_t mime_debug_state_size(const mime_msg_t *m) {
    if (!m) return 0;
    return sizeof *m + m->sr.buf_cap + (size_t)m->caplv * sizeof(level_t) + (m->mf ? sizeof *m->mf : 0) +
           (m->fuids ? MSG_FUIDS * sizeof *m->fuids : 0);
}
