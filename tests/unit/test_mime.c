/* test_mime.c - the streaming MIME decoder (decoders/mime.c): headers and
 * RFC 2047 words, multipart nesting, base64 / quoted-printable bodies, RFC
 * 2231 filenames, files and their digests, chunking independence, gaps,
 * limits and the memory bound. mime_begin is given a NULL flow (allowed).
 * Expected values were computed outside the engine: iconv for the GB2312
 * word, base64 -d / python quopri + sha256sum for the seed message's parts;
 * attachments' digests are checked against nettle's sha256 of the original
 * bytes (and one against a sha256sum-computed constant). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "check.h"
#include "files.h"
#include "internal.h"
#include "mime.h"

uint64_t mime_debug_peak(const mime_msg_t *m);       /* mime.c, for tests */
size_t mime_debug_state_size(const mime_msg_t *m);

/* ---- recorder ----------------------------------------------------------- */
#define MAXP 32
#define MAXH 64

typedef struct part_rec {
    char ct[64], cs[32], enc[32], fn[256];
    int has_cs, has_enc, has_fn, depth;
    uint8_t *data;
    size_t dlen, dcap;
    int64_t size;
    int done;
} part_rec_t;

typedef struct file_rec {
    char fuid[24], fn[256], sha256[80];
    int has_fn;
    int64_t size, missing;
    int done;
} file_rec_t;

typedef struct rec {
    char *log;
    size_t len, cap;
    part_rec_t part[MAXP];
    int nparts;
    int stack[MAXP], sp;
    file_rec_t file[MAXP];
    int nfiles;
    struct {
        char name[64], value[512], raw[512];
    } h[MAXH];
    int nh;
    char mf[6][512];
    int mf_has[6];
    int nmsg;
} rec_t;

static void logf_(rec_t *r, const char *s, size_t n) {
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        r->log = realloc(r->log, cap);
        r->cap = cap;
    }
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = 0;
}

static void log_value(rec_t *r, const eng_value_t *v) {
    char b[64];
    if (v->type == ENG_T_STR) {
        for (uint32_t i = 0; i < v->len; i++) {
            uint8_t c = v->u.s[i];
            if (c >= 32 && c < 127 && c != '\\' && c != '|') {
                logf_(r, (const char *)&c, 1);
            } else {
                snprintf(b, sizeof b, "\\x%02x", c);
                logf_(r, b, 4);
            }
        }
    } else if (v->type == ENG_T_INT) {
        int n = snprintf(b, sizeof b, "%lld", (long long)v->u.i);
        logf_(r, b, (size_t)n);
    } else {
        logf_(r, "nil", 3);
    }
}

static void cp(char *out, size_t cap, const eng_value_t *v, int *has) {
    out[0] = 0;
    if (has) *has = 0;
    if (v->type != ENG_T_STR) return;
    size_t n = v->len < cap - 1 ? v->len : cap - 1;
    memcpy(out, v->u.s, n);
    out[n] = 0;
    if (has) *has = 1;
}

static void append(uint8_t **d, size_t *len, size_t *cap, const uint8_t *p, size_t n) {
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n) c *= 2;
        *d = realloc(*d, c);
        *cap = c;
    }
    memcpy(*d + *len, p, n);
    *len += n;
}

static void on_ev(eng_t *e, const eng_event_t *ev, void *user) {
    rec_t *r = user;
    const char *name = eng_event_name(ev->kind);
    logf_(r, name, strlen(name));
    for (int i = 0; i < ev->nfields; i++) {
        logf_(r, "|", 1);
        log_value(r, &ev->f[i]);
    }
    logf_(r, "\n", 1);
    switch (ev->kind) {
    case ENG_EV_MAIL_HEADER:
        if (r->nh < MAXH) {
            cp(r->h[r->nh].name, 64, &ev->f[0], NULL);
            cp(r->h[r->nh].value, 512, &ev->f[1], NULL);
            cp(r->h[r->nh].raw, 512, &ev->f[2], NULL);
            r->nh++;
        }
        break;
    case ENG_EV_MAIL_MESSAGE:
        r->nmsg++;
        for (int i = 0; i < 6; i++)
            if (i < ev->nfields) cp(r->mf[i], 512, &ev->f[i], &r->mf_has[i]);
        break;
    case ENG_EV_MIME_PART:
        if (r->nparts < MAXP) {
            part_rec_t *p = &r->part[r->nparts];
            cp(p->ct, sizeof p->ct, &ev->f[0], NULL);
            if (ev->nfields > 1) cp(p->cs, sizeof p->cs, &ev->f[1], &p->has_cs);
            if (ev->nfields > 2) cp(p->enc, sizeof p->enc, &ev->f[2], &p->has_enc);
            if (ev->nfields > 3) cp(p->fn, sizeof p->fn, &ev->f[3], &p->has_fn);
            p->depth = (int)ev->f[ENG_F_MIME_PART_depth].u.i;
            if (r->sp < MAXP) r->stack[r->sp++] = r->nparts;
            r->nparts++;
        }
        break;
    case ENG_EV_MIME_DATA:
        if (r->sp > 0) {
            part_rec_t *p = &r->part[r->stack[r->sp - 1]];
            append(&p->data, &p->dlen, &p->dcap, ev->f[0].u.s, ev->f[0].len);
        }
        break;
    case ENG_EV_MIME_PART_DONE:
        if (r->sp > 0) {
            part_rec_t *p = &r->part[r->stack[--r->sp]];
            p->size = ev->f[0].u.i;
            p->done = 1;
        }
        break;
    case ENG_EV_FILE_BEGIN:
        if (r->nfiles < MAXP) {
            file_rec_t *f = &r->file[r->nfiles++];
            cp(f->fuid, sizeof f->fuid, &ev->f[0], NULL);
            if (ev->nfields > 2) cp(f->fn, sizeof f->fn, &ev->f[2], &f->has_fn);
        }
        break;
    case ENG_EV_FILE_DONE:
        for (int i = 0; i < r->nfiles; i++) {
            char fuid[24];
            cp(fuid, sizeof fuid, &ev->f[0], NULL);
            if (!strcmp(fuid, r->file[i].fuid)) {
                file_rec_t *f = &r->file[i];
                f->size = ev->f[ENG_F_FILE_DONE_size].u.i;
                f->missing = ev->f[ENG_F_FILE_DONE_missing_bytes].u.i;
                cp(f->sha256, sizeof f->sha256, &ev->f[ENG_F_FILE_DONE_sha256], NULL);
                f->done = 1;
            }
        }
        break;
    default:
        break;
    }
}

static void rec_free(rec_t *r) {
    free(r->log);
    for (int i = 0; i < r->nparts; i++) free(r->part[i].data);
    memset(r, 0, sizeof *r);
}

static const int all_kinds[] = {ENG_EV_MAIL_HEADER, ENG_EV_MAIL_MESSAGE, ENG_EV_MIME_PART,
                                ENG_EV_MIME_DATA,   ENG_EV_MIME_PART_DONE, ENG_EV_FILE_BEGIN,
                                ENG_EV_FILE_DATA,   ENG_EV_FILE_DONE,   ENG_EV_WEIRD};

static eng_t *new_eng(rec_t *r, const char *max_line, const char *max_depth) {
    eng_t *e = eng_new();
    char err[128];
    eng_config_set(e, "seed", "1", err, sizeof err);
    if (max_line) eng_config_set(e, "stream.max_line", max_line, err, sizeof err);
    if (max_depth) eng_config_set(e, "mime.max_depth", max_depth, err, sizeof err);
    for (size_t i = 0; i < sizeof all_kinds / sizeof all_kinds[0]; i++)
        eng_on(e, all_kinds[i], on_ev, r);
    return e;
}

static uint64_t weird_count(eng_t *e, const char *name) {
    uint64_t n;
    const char *w;
    for (int i = 0; (w = eng_weird_name(e, i, &n)); i++)
        if (!strcmp(w, name)) return n;
    return 0;
}

/* chunking: 0 whole, 1 single bytes, else random chunks with that seed */
static void feed(mime_msg_t *m, const char *msg, size_t len, unsigned mode) {
    if (mode == 0) {
        mime_feed(m, (const uint8_t *)msg, len);
        return;
    }
    uint32_t x = mode * 2654435761u + 1;
    size_t i = 0;
    while (i < len) {
        size_t n = 1;
        if (mode != 1) {
            x = x * 1103515245u + 12345u;
            n = 1 + (x >> 16) % 97;
        }
        if (n > len - i) n = len - i;
        /* a private copy, freed at once: any read past the chunk is caught by ASan */
        uint8_t *c = malloc(n);
        memcpy(c, msg + i, n);
        mime_feed(m, c, n);
        free(c);
        i += n;
    }
}

static void run_msg(rec_t *r, const char *msg, unsigned mode, const char *max_line,
                    const char *max_depth, eng_t **keep) {
    eng_t *e = new_eng(r, max_line, max_depth);
    mime_msg_t *m = mime_begin(e, NULL, ENG_ORIG, "smtp");
    feed(m, msg, strlen(msg), mode);
    mime_end(m);
    if (keep) *keep = e;
    else eng_free(e);
}

static void sha256_hex(const uint8_t *p, size_t n, char *out) {
    struct sha256_ctx c;
    uint8_t d[32];
    sha256_init(&c);
    sha256_update(&c, n, p);
    sha256_digest(&c, 32, d);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

/* base64 with 76-char CRLF lines, into a malloc'd string */
static char *b64enc(const uint8_t *p, size_t n) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc(n * 2 + 16);
    size_t k = 0, col = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        o[k++] = t[v >> 18 & 63];
        o[k++] = t[v >> 12 & 63];
        o[k++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        o[k++] = i + 2 < n ? t[v & 63] : '=';
        col += 4;
        if (col == 76) {
            o[k++] = '\r';
            o[k++] = '\n';
            col = 0;
        }
    }
    if (col) {
        o[k++] = '\r';
        o[k++] = '\n';
    }
    o[k] = 0;
    return o;
}

static void gen_bytes(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}

/* ---- the seed message (SMTP DATA of /work/shared/seeds/002_...) ---------- */
static const char seed_msg[] =
    "Date: Mon, 27 Jun 2022 17:01:55 +0800\r\n"
    "From: \"user12345@example123.com\" <user12345@example123.com>\r\n"
    "To: =?GB2312?B?wO60urvU?= <user12345@example123.com>\r\n"
    "Subject: biaoti\r\n"
    "X-Priority: 3\r\n"
    "X-Has-Attach: no\r\n"
    "X-Mailer: Foxmail 7.2.19.158[cn]\r\n"
    "Mime-Version: 1.0\r\n"
    "Message-ID: <202206271701548584972@example123.com>\r\n"
    "Content-Type: multipart/alternative;\r\n"
    "\tboundary=\"----=_001_NextPart572182624333_=----\"\r\n"
    "\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "\r\n"
    "------=_001_NextPart572182624333_=----\r\n"
    "Content-Type: text/plain;\r\n"
    "\tcharset=\"GB2312\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "aGVsbG8gZGRkZGRkZGRkZGRkZGRkZGRkaGVsbG8gZGRkZGRkZGRkZGRkZGRkZGRkaGVsbG8gZGRk\r\n"
    "ZGRkZGRkZGRkZGRkZGRkaGVsbG8gZGRkZGRkZGRkZGRkZGRkZGRkaGVsbG8gZGRkZGRkZGRkZGRk\r\n"
    "ZGRkZGRkZGRkZGRkaGVsbG8gZGRkZGRkZGRkZGRkZGRkZGRkaGVsbG8gZGRkZGRkZGRkZGRkZGRk\r\n"
    "ZGRkaGVsbG8gZGRkZGRkZGRkZGRkZGRkZGRkaGVsbG8gZGRkZGRkZGRkZGRkZGRkZGRkDQoNCg0K\r\n"
    "DQo=\r\n"
    "\r\n"
    "------=_001_NextPart572182624333_=----\r\n"
    "Content-Type: text/html;\r\n"
    "\tcharset=\"GB2312\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<html><head><meta http-equiv=3D\"content-type\" content=3D\"text/html; charse=\r\n"
    "t=3DGB2312\"><style>body { line-height: 1.5; }body { font-size: 14px; font-=\r\n"
    "yle></head><body>=0A<div><span></span>hello dddddddddddddddddd<span style=\r\n"
    "=3D\"#b5c4df\" size=3D\"1\" align=3D\"left\">=0A<div><span></span></div>=0A</bod=\r\n"
    "y></html>\r\n"
    "------=_001_NextPart572182624333_=------\r\n"
    "\r\n";

TEST(seed_message) {
    rec_t r = {0};
    eng_t *e;
    run_msg(&r, seed_msg, 0, NULL, NULL, &e);
    CHECK_EQ_INT(r.nh, 10);
    CHECK_STR(r.h[2].name, "To");
    /* iconv -f GB2312 -t UTF-8 of base64 -d "wO60urvU": e6 9d 8e e6 98 a5 e8 be 89 */
    CHECK_STR(r.h[2].value, "\xe6\x9d\x8e\xe6\x98\xa5\xe8\xbe\x89 <user12345@example123.com>");
    CHECK_STR(r.h[2].raw, "=?GB2312?B?wO60urvU?= <user12345@example123.com>");
    CHECK_STR(r.h[9].name, "Content-Type");
    CHECK_STR(r.h[9].value, "multipart/alternative;\tboundary=\"----=_001_NextPart572182624333_=----\"");
    CHECK_EQ_INT(r.nmsg, 1);
    CHECK_STR(r.mf[0], "\"user12345@example123.com\" <user12345@example123.com>");
    CHECK_STR(r.mf[1], "\xe6\x9d\x8e\xe6\x98\xa5\xe8\xbe\x89 <user12345@example123.com>");
    CHECK(!r.mf_has[2]);
    CHECK_STR(r.mf[3], "biaoti");
    CHECK_STR(r.mf[4], "Mon, 27 Jun 2022 17:01:55 +0800");
    CHECK_STR(r.mf[5], "<202206271701548584972@example123.com>");
    CHECK_EQ_INT(r.nparts, 3);
    CHECK_STR(r.part[0].ct, "multipart/alternative");
    CHECK_EQ_INT(r.part[0].depth, 0);
    CHECK_STR(r.part[1].ct, "text/plain");
    CHECK_STR(r.part[1].cs, "GB2312");
    CHECK_STR(r.part[1].enc, "base64");
    CHECK_EQ_INT(r.part[1].depth, 1);
    CHECK(!r.part[1].has_fn);
    CHECK_STR(r.part[2].ct, "text/html");
    CHECK_STR(r.part[2].enc, "quoted-printable");
    CHECK_EQ_INT(r.part[2].depth, 1);
    /* base64 -d | wc -c: 230 bytes ending in CRLF CRLF CRLF CRLF */
    CHECK_EQ_INT(r.part[1].dlen, 230);
    CHECK_EQ_INT(r.part[1].size, 230);
    CHECK(r.part[1].dlen == 230 && !memcmp(r.part[1].data, "hello dddddd", 12) &&
          !memcmp(r.part[1].data + 222, "\r\n\r\n\r\n\r\n", 8));
    static const char html[] =
        "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=GB2312\">"
        "<style>body { line-height: 1.5; }body { font-size: 14px; font-yle></head><body>\n"
        "<div><span></span>hello dddddddddddddddddd<span style=\"#b5c4df\" size=\"1\" "
        "align=\"left\">\n<div><span></span></div>\n</body></html>";
    CHECK_MEM(r.part[2].data, r.part[2].dlen, html, strlen(html));
    CHECK_EQ_INT(r.part[0].size, 230 + 286);
    CHECK(r.part[0].done && r.part[1].done && r.part[2].done);
    CHECK_EQ_INT(r.nfiles, 2);
    /* sha256sum of base64 -d / of python quopri.decodestring */
    CHECK_STR(r.file[0].sha256, "a3d525e1585020b371223b1ba79cd130c888c68190e2216a57c2e4e5a8cfc41d");
    CHECK_STR(r.file[1].sha256, "c5421bf8dd59d2f1aa05c0aa4bdc9e6e5f40560b6be26236efbf39ae68489272");
    CHECK_EQ_INT(r.file[1].size, 286);
    CHECK_EQ_INT(r.file[1].missing, 0);
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
    rec_free(&r);
}

TEST(chunking_identical) {
    rec_t a = {0};
    run_msg(&a, seed_msg, 0, NULL, NULL, NULL);
    for (unsigned mode = 1; mode < 12; mode++) {
        rec_t b = {0};
        run_msg(&b, seed_msg, mode, NULL, NULL, NULL);
        CHECK(b.len == a.len && !strcmp(a.log, b.log));
        rec_free(&b);
    }
    /* a boundary line split across chunks, at every position of it */
    const char *bl = strstr(seed_msg, "------=_001_NextPart572182624333_=----\r\nContent-Type: text/html");
    size_t at = (size_t)(bl - seed_msg);
    for (size_t k = 1; k < 40; k++) {
        rec_t b = {0};
        eng_t *e = new_eng(&b, NULL, NULL);
        mime_msg_t *m = mime_begin(e, NULL, ENG_ORIG, "smtp");
        mime_feed(m, (const uint8_t *)seed_msg, at + k);
        mime_feed(m, (const uint8_t *)seed_msg + at + k, strlen(seed_msg) - at - k);
        mime_end(m);
        eng_free(e);
        CHECK(!strcmp(a.log, b.log));
        rec_free(&b);
    }
    rec_free(&a);
}

/* ---- attachments -------------------------------------------------------- */
TEST(attachments_b64_qp) {
    uint8_t bin[1000];
    gen_bytes(bin, sizeof bin, 7);
    char *b64 = b64enc(bin, sizeof bin);
    static const char qp_plain[] =
        "a=b, caf\xc3\xa9 and a long line that goes on and on past seventy-six characters "
        "for sure, yes\r\nsecond line\twith tab\r\n";
    static const char qp_enc[] =
        "a=3Db, caf=C3=A9 and a long line that goes on and on past seventy-six chara=\r\n"
        "cters for sure, yes\r\n"
        "second line=09with tab   \r\n"
        "\r\n";
    char *msg = malloc(strlen(b64) + 4096);
    sprintf(msg,
            "From: a@example.com\r\nTo: b@example.com\r\nSubject: files\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=XyZ\r\n\r\n"
            "--XyZ\r\nContent-Type: text/plain\r\n\r\nbody text\r\n"
            "--XyZ\r\nContent-Type: application/octet-stream; name=\"ignored.bin\"\r\n"
            "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
            "Content-Transfer-Encoding: BASE64\r\n\r\n%s"
            "--XyZ\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Disposition: attachment;\r\n filename=notes.txt\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s"
            "--XyZ--\r\nepilogue\r\n",
            b64, qp_enc);
    rec_t r = {0};
    eng_t *e;
    run_msg(&r, msg, 0, NULL, NULL, &e);
    CHECK_EQ_INT(r.nparts, 4);
    CHECK_EQ_INT(r.nfiles, 3);
    CHECK_MEM(r.part[1].data, r.part[1].dlen, "body text", 9);
    CHECK_STR(r.part[2].fn, "data.bin");
    CHECK_STR(r.part[2].enc, "base64");
    CHECK_MEM(r.part[2].data, r.part[2].dlen, bin, sizeof bin);
    char want[80];
    sha256_hex(bin, sizeof bin, want);
    CHECK_STR(r.file[1].sha256, want);
    CHECK_STR(r.file[1].fn, "data.bin");
    CHECK_EQ_INT(r.file[1].size, 1000);
    CHECK_STR(r.part[3].fn, "notes.txt");
    CHECK_MEM(r.part[3].data, r.part[3].dlen, qp_plain, strlen(qp_plain));
    sha256_hex((const uint8_t *)qp_plain, strlen(qp_plain), want);
    CHECK_STR(r.file[2].sha256, want);
    CHECK_EQ_INT(r.part[0].size, 9 + 1000 + strlen(qp_plain));
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
    /* same in random chunks */
    for (unsigned mode = 1; mode < 6; mode++) {
        rec_t b = {0};
        run_msg(&b, msg, mode, NULL, NULL, NULL);
        CHECK(!strcmp(r.log, b.log));
        rec_free(&b);
    }
    rec_free(&r);
    free(msg);
    free(b64);
}

TEST(known_digest) {
    /* printf 'hello world\n' | sha256sum */
    static const char msg[] = "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n"
                              "\r\naGVsbG8g\r\nd29y bGQK\r\n";
    rec_t r = {0};
    run_msg(&r, msg, 0, NULL, NULL, NULL);
    CHECK_EQ_INT(r.nfiles, 1);
    CHECK_STR(r.file[0].sha256, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447");
    CHECK_EQ_INT(r.part[0].depth, 0);
    rec_free(&r);
}

TEST(nested) {
    static const char msg[] =
        "Subject: nested\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
        "preamble\r\n"
        "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
        "inner preamble\r\n"
        "--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\ntext\r\n"
        "--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
        "--inner--\r\ninner epilogue\r\n"
        "--outer\r\nContent-Type: image/png; name=\"a.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "iVBORw0KGgo=\r\n"
        "--outer\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n"
        "--rel\r\nContent-Type: text/plain\r\n\r\nunclosed\r\n"
        "--outer--\r\n";
    rec_t r = {0};
    eng_t *e;
    run_msg(&r, msg, 0, NULL, NULL, &e);
    CHECK_EQ_INT(r.nparts, 7);
    static const char *ct[] = {"multipart/mixed", "multipart/alternative", "text/plain", "text/html",
                               "image/png", "multipart/related", "text/plain"};
    static const int depth[] = {0, 1, 2, 2, 1, 1, 2};
    for (int i = 0; i < 7; i++) {
        CHECK_STR(r.part[i].ct, ct[i]);
        CHECK_EQ_INT(r.part[i].depth, depth[i]);
        CHECK(r.part[i].done);
    }
    CHECK_MEM(r.part[2].data, r.part[2].dlen, "plain\r\ntext", 11);
    CHECK_MEM(r.part[3].data, r.part[3].dlen, "<p>html</p>", 11);
    CHECK_MEM(r.part[4].data, r.part[4].dlen, "\x89PNG\r\n\x1a\n", 8);
    CHECK_STR(r.part[4].fn, "a.png");
    CHECK_MEM(r.part[6].data, r.part[6].dlen, "unclosed", 8);
    CHECK_EQ_INT(r.part[1].size, 22);
    CHECK_EQ_INT(r.part[0].size, 22 + 8 + 8);
    CHECK_EQ_INT(r.nfiles, 4);
    eng_free(e);
    rec_free(&r);
}

/* ---- filenames and headers ---------------------------------------------- */
TEST(filenames) {
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Disposition: attachment; filename*=utf-8''%e2%82%ac.txt\r\n\r\nx\r\n"
        "--b\r\nContent-Disposition: attachment;\r\n filename*0*=UTF-8''%E2%82%AC;\r\n"
        " filename*1=\"-report\"; filename*2*=%20v2.txt\r\n\r\nx\r\n"
        "--b\r\nContent-Type: text/plain; name=\"=?UTF-8?B?w6lsw6l2ZS50eHQ=?=\"\r\n\r\nx\r\n"
        "--b\r\nContent-Disposition: attachment; filename=\"a\\\"b;c.txt\"; size=3\r\n\r\nx\r\n"
        "--b\r\nContent-Disposition: attachment; filename*=iso-8859-1'en'caf%E9.txt;"
        " filename=\"plain.txt\"\r\n\r\nx\r\n"
        "--b\r\nContent-Type: application/pdf; name=fallback.pdf\r\n"
        "Content-Disposition: inline\r\n\r\nx\r\n"
        "--b--\r\n";
    rec_t r = {0};
    run_msg(&r, msg, 0, NULL, NULL, NULL);
    CHECK_EQ_INT(r.nparts, 7);
    CHECK_STR(r.part[1].fn, "\xe2\x82\xac.txt");
    CHECK_STR(r.part[2].fn, "\xe2\x82\xac-report v2.txt");
    CHECK_STR(r.part[3].fn, "\xc3\xa9l\xc3\xa9ve.txt");
    CHECK_STR(r.part[4].fn, "a\"b;c.txt");
    CHECK_STR(r.part[5].fn, "caf\xc3\xa9.txt");
    CHECK_STR(r.part[6].fn, "fallback.pdf");
    CHECK_STR(r.part[6].ct, "application/pdf");
    CHECK_STR(r.file[0].fn, "\xe2\x82\xac.txt");
    rec_free(&r);
}

/* mime_cd_filename: the same parameter rules, for other decoders (HTTP) */
static int cdf(const char *v, char *out, size_t cap) {
    return mime_cd_filename((const uint8_t *)v, strlen(v), out, cap);
}

TEST(cd_filename_api) {
    char out[MIME_FILENAME_MAX + 1];
    CHECK_EQ_INT(cdf("attachment; filename=\"report.zip\"", out, sizeof out), 10);
    CHECK_STR(out, "report.zip");
    CHECK_EQ_INT(cdf("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", out, sizeof out), 12);
    CHECK_STR(out, "r\xc3\xa9sum\xc3\xa9.pdf");
    /* the RFC 2231 form wins, before or after the plain one */
    CHECK(cdf("attachment; filename=\"a.pdf\"; filename*=UTF-8''%E2%82%AC.pdf", out, sizeof out) > 0);
    CHECK_STR(out, "\xe2\x82\xac.pdf");
    CHECK(cdf("attachment; filename*=UTF-8''%E2%82%AC.pdf; filename=\"a.pdf\"", out, sizeof out) > 0);
    CHECK_STR(out, "\xe2\x82\xac.pdf");
    CHECK(cdf("attachment; filename*=iso-8859-1'fr'caf%E9.txt", out, sizeof out) > 0);
    CHECK_STR(out, "caf\xc3\xa9.txt");
    CHECK(cdf("attachment; filename*0=\"long\"; filename*1*=%20name.txt", out, sizeof out) > 0);
    CHECK_STR(out, "long name.txt");
    CHECK(cdf("attachment; filename=\"=?UTF-8?B?w6lsw6l2ZS50eHQ=?=\"", out, sizeof out) > 0);
    CHECK_STR(out, "\xc3\xa9l\xc3\xa9ve.txt");
    CHECK_EQ_INT(cdf("attachment; filename=\"\"", out, sizeof out), 0);
    CHECK_STR(out, "");
    /* none */
    CHECK_EQ_INT(cdf("inline", out, sizeof out), -1);
    CHECK_STR(out, "");
    CHECK_EQ_INT(cdf("attachment; name=\"x.bin\"; filenames=y", out, sizeof out), -1);
    CHECK_EQ_INT(cdf("", out, sizeof out), -1);
    CHECK_EQ_INT(mime_cd_filename(NULL, 5, out, sizeof out), -1);
    CHECK_EQ_INT(mime_cd_filename((const uint8_t *)"x", 1, NULL, 10), -1);
    CHECK_EQ_INT(mime_cd_filename((const uint8_t *)"x", 1, out, 0), -1);
    /* only v[0..n) is read */
    CHECK_EQ_INT(mime_cd_filename((const uint8_t *)"a; filename=abcdef", 15, out, sizeof out), 3);
    CHECK_STR(out, "abc");
    /* cut: at cap - 1, and the raw parameter at 1024 bytes */
    CHECK_EQ_INT(cdf("attachment; filename=\"report.zip\"", out, 5), 4);
    CHECK_STR(out, "repo");
    CHECK_EQ_INT(cdf("attachment; filename=\"report.zip\"", out, 1), 0);
    static char big[8192];
    int k = snprintf(big, sizeof big, "attachment; filename=\"");
    memset(big + k, 'a', 5000);
    big[k + 5000] = 0; /* no closing quote either */
    CHECK_EQ_INT(cdf(big, out, sizeof out), 1024);
    CHECK(out[1023] == 'a' && out[1024] == 0);
    /* a cut inside a UTF-8 character drops it: "a" + 511.5 x U+00E9 */
    k = snprintf(big, sizeof big, "attachment; filename=\"a");
    for (int i = 0; i < 600; i++) k += snprintf(big + k, sizeof big - (size_t)k, "\xc3\xa9");
    snprintf(big + k, sizeof big - (size_t)k, "\"");
    CHECK_EQ_INT(cdf(big, out, sizeof out), 1023);
    CHECK(!memcmp(out + 1021, "\xc3\xa9", 3));
    /* and an escape cut short: "UTF-8'e'" + 338 escapes + "%4" (not kept literally) */
    k = snprintf(big, sizeof big, "attachment; filename*=UTF-8'e'");
    for (int i = 0; i < 400; i++) k += snprintf(big + k, sizeof big - (size_t)k, "%%41");
    CHECK_EQ_INT(cdf(big, out, sizeof out), 338);
    CHECK(out[337] == 'A');
    /* at cap inside a character */
    CHECK_EQ_INT(cdf("attachment; filename*=UTF-8''%C3%A9%C3%A9", out, 4), 2);
    CHECK_STR(out, "\xc3\xa9");
}

TEST(encoded_words) {
    static const char msg[] =
        "Subject: =?UTF-8?Q?Caf=C3=A9_au?=\r\n"
        "  =?ISO-8859-1?B?bGFpdCDp?= and more =?utf-8?q?=E2=82?= =?utf-8?q?=AC?=\r\n"
        "From: =?x-unknown-cs?Q?Bj=F6rn?= <b@x>\r\n"
        "To: =?utf-8?B?!!!?= plain, =?bad\r\n"
        "Cc: =?iso-2022-jp?B?GyRCJEgbKEI=?=\r\n"
        "\r\nbody\r\n";
    rec_t r = {0};
    eng_t *e;
    run_msg(&r, msg, 0, NULL, NULL, &e);
    CHECK_STR(r.h[0].value, "Caf\xc3\xa9 aulait \xc3\xa9 and more \xe2\x82\xac");
    CHECK_STR(r.h[0].raw, "=?UTF-8?Q?Caf=C3=A9_au?=  =?ISO-8859-1?B?bGFpdCDp?= and more "
                          "=?utf-8?q?=E2=82?= =?utf-8?q?=AC?=");
    CHECK_STR(r.mf[3], r.h[0].value);
    CHECK_STR(r.h[1].value, "Bj\xf6rn <b@x>"); /* unknown charset: raw bytes */
    CHECK_STR(r.h[2].value, " plain, =?bad");
    CHECK_STR(r.h[3].value, "\xe3\x81\xa8"); /* ISO-2022-JP "to" (hiragana) */
    CHECK_EQ_INT(r.nparts, 1);
    CHECK_STR(r.part[0].ct, "text/plain");
    CHECK(!r.part[0].has_enc);
    /* a body at the end of the message keeps its last line ending */
    CHECK_MEM(r.part[0].data, r.part[0].dlen, "body\r\n", 6);
    eng_free(e);
    rec_free(&r);
}

TEST(many_charsets) {
    /* more charsets than the iconv cache holds, alternating, and repeated */
    static const char msg[] =
        "Subject: =?iso-8859-1?Q?=E9?= =?iso-8859-2?Q?=B1?= =?koi8-r?Q?=C1?= =?windows-1252?Q?=80?="
        " x =?iso-8859-15?Q?=A4?= =?iso-8859-1?Q?=E9?= =?utf-8?Q?=C3=A9?= =?no-such?Q?=E9?=\r\n"
        "\r\n";
    rec_t r = {0};
    run_msg(&r, msg, 0, NULL, NULL, NULL);
    /* é ą а € x € é é, then the unknown charset's raw byte */
    CHECK_STR(r.mf[3], "\xc3\xa9\xc4\x85\xd0\xb0\xe2\x82\xac x \xe2\x82\xac\xc3\xa9\xc3\xa9\xe9");
    rec_free(&r);
}

/* ---- errors, gaps, limits ----------------------------------------------- */
TEST(bad_encodings) {
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=q\r\n\r\n"
        "--q\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs*bG8=\r\n!!\r\n"
        "--q\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=ZZy=4\r\nLF only\n"
        "--q--\r\n";
    rec_t r = {0};
    eng_t *e;
    run_msg(&r, msg, 0, NULL, NULL, &e);
    CHECK_MEM(r.part[1].data, r.part[1].dlen, "hello", 5);
    CHECK_MEM(r.part[2].data, r.part[2].dlen, "x=ZZy=4\r\nLF only", 16);
    CHECK_EQ_INT(weird_count(e, "mime_bad_base64"), 1);
    CHECK_EQ_INT(weird_count(e, "mime_bad_qp"), 1);
    eng_free(e);
    rec_free(&r);
}

TEST(gap_in_part) {
    uint8_t bin[3000];
    gen_bytes(bin, sizeof bin, 99);
    char *b64 = b64enc(bin, sizeof bin);
    char *msg = malloc(strlen(b64) * 2 + 2048);
    sprintf(msg,
            "Content-Type: multipart/mixed; boundary=\"g g\"\r\n\r\n"
            "--g g\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n%s"
            "--g g\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=second.bin\r\n\r\n%s"
            "--g g--\r\n",
            b64, b64);
    size_t len = strlen(msg);
    size_t cut = (size_t)(strstr(msg, b64) - msg) + 1000; /* inside the first attachment */
    for (int mode = 0; mode < 3; mode++) {
        rec_t r = {0};
        eng_t *e = new_eng(&r, NULL, NULL);
        mime_msg_t *m = mime_begin(e, NULL, ENG_RESP, "pop3");
        feed(m, msg, cut, (unsigned)mode);
        mime_gap(m, 500);
        feed(m, msg + cut + 500, len - cut - 500, (unsigned)mode);
        mime_end(m);
        CHECK_EQ_INT(r.nfiles, 2);
        CHECK(r.file[0].done && r.file[0].missing > 0);
        CHECK(r.file[0].size < 3000 && r.file[0].size > 1500);
        CHECK_EQ_INT(r.file[1].missing, 0);
        char want[80];
        sha256_hex(bin, sizeof bin, want);
        CHECK_STR(r.file[1].sha256, want);
        CHECK_STR(r.file[1].fn, "second.bin");
        CHECK_MEM(r.part[2].data, r.part[2].dlen, bin, sizeof bin);
        /* the data after the gap resumes at a line start: it is the tail of the file */
        size_t tail = r.part[1].dlen - 1000;
        CHECK(r.part[1].dlen > 1000 && !memcmp(r.part[1].data + tail, bin + 2000, 1000));
        eng_free(e);
        rec_free(&r);
    }
    /* a gap inside the headers, and one that swallows a boundary */
    rec_t r = {0};
    eng_t *e = new_eng(&r, NULL, NULL);
    mime_msg_t *m = mime_begin(e, NULL, ENG_RESP, "imap");
    const char *second = strstr(msg + cut, "--g g\r\n");
    size_t at = (size_t)(second - msg);
    mime_feed(m, (const uint8_t *)msg, at - 10);
    mime_gap(m, 20);
    mime_feed(m, (const uint8_t *)msg + at + 10, len - at - 10);
    mime_end(m);
    CHECK_EQ_INT(r.nfiles, 1);
    CHECK(r.file[0].missing > 0);
    eng_free(e);
    rec_free(&r);
    free(msg);
    free(b64);
}

TEST(depth_limit) {
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=L0\r\n\r\n"
        "--L0\r\nContent-Type: multipart/mixed; boundary=L1\r\n\r\n"
        "--L1\r\nContent-Type: multipart/mixed; boundary=L2\r\n\r\n"
        "--L2\r\nContent-Type: text/plain\r\n\r\ndeep\r\n"
        "--L2--\r\n"
        "--L1--\r\n"
        "--L0\r\nContent-Type: text/plain\r\n\r\nafter\r\n"
        "--L0--\r\n";
    rec_t r = {0};
    eng_t *e;
    run_msg(&r, msg, 0, NULL, "2", &e);
    CHECK_EQ_INT(weird_count(e, "mime_too_deep"), 1);
    CHECK_EQ_INT(r.nparts, 4);
    CHECK_STR(r.part[2].ct, "multipart/mixed");
    CHECK_EQ_INT(r.part[2].depth, 2);
    static const char opaque[] = "--L2\r\nContent-Type: text/plain\r\n\r\ndeep\r\n--L2--";
    CHECK_MEM(r.part[2].data, r.part[2].dlen, opaque, strlen(opaque));
    CHECK_STR(r.part[3].ct, "text/plain");
    CHECK_EQ_INT(r.part[3].depth, 1);
    CHECK_MEM(r.part[3].data, r.part[3].dlen, "after", 5);
    eng_free(e);
    rec_free(&r);
    /* max_depth 0: even the top-level multipart is opaque */
    rec_t z = {0};
    run_msg(&z, msg, 0, NULL, "0", &e);
    CHECK_EQ_INT(z.nparts, 1);
    CHECK_EQ_INT(z.nfiles, 1);
    CHECK_EQ_INT(weird_count(e, "mime_too_deep"), 1);
    eng_free(e);
    rec_free(&z);
}

TEST(long_lines) {
    char line[300];
    memset(line, 'A', sizeof line - 1);
    line[sizeof line - 1] = 0;
    char msg[2048];
    snprintf(msg, sizeof msg,
             "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
             "--b\r\nContent-Type: text/plain\r\n\r\nshort\r\n%s\r\nend\r\n--b--\r\n",
             line);
    for (unsigned mode = 0; mode < 3; mode++) {
        rec_t r = {0};
        eng_t *e;
        run_msg(&r, msg, mode, "64", NULL, &e);
        CHECK_EQ_INT(weird_count(e, "mime_line_too_long"), 1);
        CHECK_EQ_INT(r.nfiles, 1);
        /* "short\r\n" + 64 kept bytes + "end"; the rest of the long line (235 + CRLF) missing */
        CHECK_EQ_INT(r.file[0].size, 7 + 64 + 3);
        CHECK_EQ_INT(r.file[0].missing, 299 - 64 + 2);
        CHECK(r.part[1].dlen == 74 && !memcmp(r.part[1].data + 71, "end", 3));
        eng_free(e);
        rec_free(&r);
    }
    /* a header longer than 8 KiB: cut, reported, the next header intact */
    size_t big = 10000;
    char *m2 = malloc(big + 256);
    strcpy(m2, "Subject: ");
    size_t k = strlen(m2);
    for (size_t i = 0; i < big; i++) {
        m2[k++] = (i % 70 == 69) ? '\n' : 'x';
        if (i % 70 == 69) m2[k++] = ' ';
    }
    strcpy(m2 + k, "\r\nFrom: me\r\n\r\nb\r\n");
    rec_t r = {0};
    eng_t *e;
    run_msg(&r, m2, 0, NULL, NULL, &e);
    CHECK_EQ_INT(weird_count(e, "mime_header_too_long"), 1);
    CHECK_EQ_INT(r.nh, 2);
    CHECK(strlen(r.mf[3]) > 500);
    CHECK_STR(r.mf[0], "me");
    eng_free(e);
    rec_free(&r);
    /* a field name longer than the header buffer */
    memset(m2, 'N', 9000);
    strcpy(m2 + 9000, ": v\r\nSubject: ok\r\n\r\n");
    rec_t q = {0};
    run_msg(&q, m2, 0, NULL, NULL, &e);
    CHECK_EQ_INT(q.nh, 1);
    CHECK_STR(q.mf[3], "ok");
    CHECK_EQ_INT(weird_count(e, "mime_bad_header"), 1);
    eng_free(e);
    rec_free(&q);
    free(m2);
}

TEST(nobody_listens) {
    /* no subscriber: nothing happens, nothing is buffered */
    eng_t *e = eng_new();
    mime_msg_t *m = mime_begin(e, NULL, ENG_ORIG, "smtp");
    mime_feed(m, (const uint8_t *)seed_msg, 100);
    CHECK_EQ_INT(mime_debug_peak(m), 0);
    mime_feed(m, (const uint8_t *)seed_msg + 100, strlen(seed_msg) - 100);
    mime_end(m);
    mime_end(NULL);
    eng_free(e);
    /* only mail.message: headers read, the body skipped */
    rec_t r = {0};
    e = eng_new();
    eng_on(e, ENG_EV_MAIL_MESSAGE, on_ev, &r);
    m = mime_begin(e, NULL, ENG_ORIG, "smtp");
    feed(m, seed_msg, strlen(seed_msg), 1);
    mime_end(m);
    CHECK_EQ_INT(r.nmsg, 1);
    CHECK_STR(r.mf[3], "biaoti");
    CHECK_EQ_INT(eng_stats(e)->events_fired[ENG_EV_MIME_PART], 0);
    eng_free(e);
    rec_free(&r);
}

TEST(headers_only) {
    /* a header block that never ends (e.g. IMAP BODY[HEADER] cut short) */
    rec_t r = {0};
    run_msg(&r, "From: x\r\nSubject: s\r\n", 1, NULL, NULL, NULL);
    CHECK_EQ_INT(r.nmsg, 1);
    CHECK_STR(r.mf[3], "s");
    CHECK_EQ_INT(r.nparts, 0);
    CHECK_EQ_INT(r.nfiles, 0);
    rec_free(&r);
    /* an mbox "From " line is not a header; LF-only endings */
    rec_t q = {0};
    eng_t *e;
    run_msg(&q, "From a@b Mon Jan  1 00:00:00 2024\nSubject: t\n\nhi\n", 0, NULL, NULL, &e);
    CHECK_EQ_INT(q.nh, 1);
    CHECK_STR(q.mf[3], "t");
    CHECK_MEM(q.part[0].data, q.part[0].dlen, "hi\n", 3);
    CHECK_EQ_INT(weird_count(e, "mime_bad_header"), 1);
    eng_free(e);
    rec_free(&q);
    /* an empty message: mail.message with every field nil, no part */
    rec_t z = {0};
    run_msg(&z, "", 0, NULL, NULL, NULL);
    CHECK_EQ_INT(z.nmsg, 1);
    CHECK(!z.mf_has[0] && !z.mf_has[3]);
    CHECK_EQ_INT(z.nparts, 0);
    rec_free(&z);
}

/* ---- memory bound ------------------------------------------------------- */
typedef struct big_rec {
    uint64_t bytes, files;
    char sha256[80];
    struct sha256_ctx ctx;
} big_rec_t;

static void on_big(eng_t *e, const eng_event_t *ev, void *user) {
    big_rec_t *b = user;
    if (ev->kind == ENG_EV_MIME_DATA) {
        b->bytes += ev->f[0].len;
        sha256_update(&b->ctx, ev->f[0].len, ev->f[0].u.s);
    } else if (ev->kind == ENG_EV_FILE_DONE) {
        b->files++;
        cp(b->sha256, sizeof b->sha256, &ev->f[ENG_F_FILE_DONE_sha256], NULL);
    }
}

TEST(memory_bound_20mb) {
    big_rec_t b;
    memset(&b, 0, sizeof b);
    sha256_init(&b.ctx);
    eng_t *e = eng_new();
    eng_on(e, ENG_EV_MIME_DATA, on_big, &b);
    eng_on(e, ENG_EV_FILE_DONE, on_big, &b);
    mime_msg_t *m = mime_begin(e, NULL, ENG_ORIG, "smtp");
    static const char head[] = "Subject: big\r\nContent-Type: multipart/mixed; boundary=BIG\r\n\r\n"
                               "--BIG\r\nContent-Type: application/octet-stream\r\n"
                               "Content-Transfer-Encoding: base64\r\n\r\n";
    static const char tail[] = "--BIG--\r\n";
    /* the encoded stream is produced and fed 1 KiB at a time, never held whole */
    const size_t total = 20u << 20;
    struct sha256_ctx orig;
    sha256_init(&orig);
    char enc[1024 + 128];
    size_t elen = 0;
    uint8_t raw[57 * 16];
    uint32_t seed = 12345;
    mime_feed(m, (const uint8_t *)head, strlen(head));
    size_t maxstate = 0;
    for (size_t done = 0; done < total;) {
        size_t n = total - done < sizeof raw ? total - done : sizeof raw;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            raw[i] = (uint8_t)(seed >> 24);
        }
        sha256_update(&orig, n, raw);
        done += n;
        for (size_t o = 0; o < n; o += 57) {
            size_t ln = n - o < 57 ? n - o : 57;
            char *s = b64enc(raw + o, ln);
            size_t sl = strlen(s);
            memcpy(enc + elen, s, sl);
            elen += sl;
            free(s);
            if (elen >= 1024) {
                mime_feed(m, (const uint8_t *)enc, 1024);
                memmove(enc, enc + 1024, elen - 1024);
                elen -= 1024;
                size_t st = mime_debug_state_size(m);
                if (st > maxstate) maxstate = st;
            }
        }
    }
    mime_feed(m, (const uint8_t *)enc, elen);
    mime_feed(m, (const uint8_t *)tail, strlen(tail));
    CHECK(mime_debug_peak(m) <= e->cfg.max_line);
    CHECK(mime_debug_peak(m) <= 1024); /* a line here is 78 bytes */
    CHECK(maxstate < 128 * 1024);
    mime_end(m);
    CHECK_EQ_INT(b.bytes, total);
    CHECK_EQ_INT(b.files, 1);
    uint8_t d[32];
    char want[80], got[80];
    sha256_digest(&orig, 32, d);
    for (int i = 0; i < 32; i++) sprintf(want + 2 * i, "%02x", d[i]);
    sha256_digest(&b.ctx, 32, d);
    for (int i = 0; i < 32; i++) sprintf(got + 2 * i, "%02x", d[i]);
    CHECK_STR(b.sha256, want);
    CHECK_STR(got, want);
    eng_free(e);
}

int main(void) {
    RUN(seed_message);
    RUN(chunking_identical);
    RUN(attachments_b64_qp);
    RUN(known_digest);
    RUN(nested);
    RUN(filenames);
    RUN(cd_filename_api);
    RUN(encoded_words);
    RUN(many_charsets);
    RUN(bad_encodings);
    RUN(gap_in_part);
    RUN(depth_limit);
    RUN(long_lines);
    RUN(nobody_listens);
    RUN(headers_only);
    RUN(memory_bound_20mb);
    return check_report("mime");
}
