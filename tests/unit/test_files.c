/* test_files.c - the files framework: fuids, MIME sniffing, digests, offsets,
 * gaps, and that nothing happens when nobody listens. Expected digests were
 * computed with md5sum / sha1sum / sha256sum over the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "files.h"
#include "internal.h"

/* ---- a recorder of file events ------------------------------------------ */
#define MAXEV 8192
typedef struct rec_ev {
    int kind;
    char fuid[24];
    char source[32], filename[64], mime[96], dir[8];
    double ts;
    int has_filename, has_mime;
    uint64_t offset, len, data_pos; /* file.data: offset, length, where in rec.data */
    int64_t size, missing;
    char md5[64], sha1[64], sha256[80];
    int has_digests;
} rec_ev_t;

typedef struct rec {
    rec_ev_t ev[MAXEV];
    int n;
    uint8_t data[65536];
    size_t datalen;
} rec_t;

static void copy_str(char *out, size_t cap, const eng_value_t *v, int *has) {
    if (v->type != ENG_T_STR) {
        out[0] = 0;
        if (has) *has = 0;
        return;
    }
    size_t n = v->len < cap - 1 ? v->len : cap - 1;
    memcpy(out, v->u.s, n);
    out[n] = 0;
    if (has) *has = 1;
}

static void on_event(eng_t *e, const eng_event_t *ev, void *user) {
    rec_t *r = user;
    if (r->n >= MAXEV) return;
    rec_ev_t *x = &r->ev[r->n++];
    memset(x, 0, sizeof *x);
    x->kind = ev->kind;
    copy_str(x->fuid, sizeof x->fuid, &ev->f[0], NULL);
    if (ev->kind == ENG_EV_FILE_BEGIN) {
        copy_str(x->source, sizeof x->source, &ev->f[ENG_F_FILE_BEGIN_source], NULL);
        copy_str(x->dir, sizeof x->dir, &ev->f[ENG_F_FILE_BEGIN_dir], NULL);
        x->ts = ev->f[ENG_F_FILE_BEGIN_ts].u.n;
        if (ev->nfields > ENG_F_FILE_BEGIN_filename)
            copy_str(x->filename, sizeof x->filename, &ev->f[ENG_F_FILE_BEGIN_filename],
                     &x->has_filename);
        if (ev->nfields > ENG_F_FILE_BEGIN_mime_type)
            copy_str(x->mime, sizeof x->mime, &ev->f[ENG_F_FILE_BEGIN_mime_type], &x->has_mime);
    } else if (ev->kind == ENG_EV_FILE_DATA) {
        const eng_value_t *d = &ev->f[ENG_F_FILE_DATA_data];
        x->offset = (uint64_t)ev->f[ENG_F_FILE_DATA_offset].u.i;
        x->len = d->len;
        x->data_pos = r->datalen;
        if (r->datalen + d->len <= sizeof r->data) {
            memcpy(r->data + r->datalen, d->u.s, d->len);
            r->datalen += d->len;
        }
    } else if (ev->kind == ENG_EV_FILE_DONE) {
        x->size = ev->f[ENG_F_FILE_DONE_size].u.i;
        x->missing = ev->f[ENG_F_FILE_DONE_missing_bytes].u.i;
        int h1 = 0, h2 = 0, h3 = 0;
        copy_str(x->md5, sizeof x->md5, &ev->f[ENG_F_FILE_DONE_md5], &h1);
        copy_str(x->sha1, sizeof x->sha1, &ev->f[ENG_F_FILE_DONE_sha1], &h2);
        copy_str(x->sha256, sizeof x->sha256, &ev->f[ENG_F_FILE_DONE_sha256], &h3);
        x->has_digests = h1 && h2 && h3;
    }
}

/* an engine subscribed to the kinds in `mask` (1 begin, 2 data, 4 done) */
static eng_t *new_eng(rec_t *r, int mask, const char *seed) {
    eng_t *e = eng_new();
    if (!e) return NULL;
    if (seed) {
        char err[128];
        eng_config_set(e, "engine.seed", seed, err, sizeof err);
    }
    memset(r, 0, sizeof *r);
    if (mask & 1) eng_on(e, ENG_EV_FILE_BEGIN, on_event, r);
    if (mask & 2) eng_on(e, ENG_EV_FILE_DATA, on_event, r);
    if (mask & 4) eng_on(e, ENG_EV_FILE_DONE, on_event, r);
    return e;
}

/* files_free is idempotent: eng_free calls it too (once wired in engine.c) */
static void free_eng(eng_t *e) {
    files_free(e);
    eng_free(e);
}

/* ---- content ------------------------------------------------------------- */
static size_t make_png(uint8_t *b) {
    static const uint8_t head[] = "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x10"
                                  "\x08\x02\x00\x00\x00\x90\x91\x68\x36";
    size_t n = sizeof head - 1;
    memcpy(b, head, n);
    for (; n < 10000; n++) b[n] = (uint8_t)((n * 7 + 3) & 0xff);
    return n;
}
#define PNG_MD5 "f5768e506f197d0e240e89cf31124d64"
#define PNG_SHA1 "984f15fa2a811ee83c81bb0ceb87e188c7f8d3e5"
#define PNG_SHA256 "9b334a710635a765f18a3ad9bb4bf5a18175ad6d7074a0d84bd7af4c7e7a4073"

static size_t make_text(uint8_t *b) {
    static const char s[] = "The quick brown fox jumps over the lazy dog.\n";
    for (size_t i = 0; i < 5000; i++) b[i] = (uint8_t)s[i % (sizeof s - 1)];
    return 5000;
}
#define TEXT_MD5 "8ea8045dbc0b92b91cb03d0440754cc6"
#define TEXT_SHA1 "c8e5defcf0ce33ce2977f54f98d18a0f5c8f8a1e"
#define TEXT_SHA256 "4bafdb160acd4142c07293e6955a4ce4b449d27c9a35fa56481bed84f9f2493e"

static const char PDF[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\n"
                          "endobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
#define PDF_MD5 "c65c20cd23ee5be17a94baf197a95d6c"
#define PDF_SHA1 "2cd471f73f8f5b1d1b7c47cef23c92566c754c55"
#define PDF_SHA256 "2ae28040e4e65031c0539758fe7314aba92f4616e01013f9ff41eaa6f8d19e37"

#define EMPTY_MD5 "d41d8cd98f00b204e9800998ecf8427e"
#define EMPTY_SHA1 "da39a3ee5e6b4b0d3255bfef95601890afd80709"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* 100 bytes, a gap of 50, 100 bytes: digests over the 200 bytes seen */
#define GAP_MD5 "f5b49f0a61f5cd8e16c6166105a89b67"
#define GAP_SHA1 "8cd85fa1c8e2de101f7296cb283b0db39c4ad113"
#define GAP_SHA256 "b6b6d75f3ae79bc98526f67640c7ebfe7006a83a57411f7061a8430dbeae6671"

/* ---- helpers ------------------------------------------------------------- */
static int is_fuid(const char *s) {
    if (strlen(s) != 18 || s[0] != 'F') return 0;
    for (int i = 1; i < 18; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
            return 0;
    return 1;
}

static int count_kind(const rec_t *r, int kind) {
    int n = 0;
    for (int i = 0; i < r->n; i++) n += r->ev[i].kind == kind;
    return n;
}

/* the events of one file: begin first, data contiguous from 0, done last,
 * all with the same fuid; returns the total data length or -1 */
static long check_sequence(const rec_t *r, const char *fuid) {
    if (r->n < 2 || r->ev[0].kind != ENG_EV_FILE_BEGIN || r->ev[r->n - 1].kind != ENG_EV_FILE_DONE)
        return -1;
    uint64_t next = 0;
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->ev[i].fuid, fuid)) return -1;
        if (i > 0 && i < r->n - 1) {
            if (r->ev[i].kind != ENG_EV_FILE_DATA || r->ev[i].offset != next || r->ev[i].len == 0)
                return -1;
            next += r->ev[i].len;
        }
    }
    return (long)next;
}

/* ---- tests --------------------------------------------------------------- */
static rec_t R, R2;

TEST(nobody_listens) {
    eng_t *e = new_eng(&R, 0, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", "a.txt", 5);
    CHECK(fl == NULL);
    eng_file_data(e, fl, (const uint8_t *)"hello", 5);
    eng_file_gap(e, fl, 10);
    eng_file_end(e, fl);
    eng_file_end(e, NULL);
    CHECK(eng_file_fuid(fl) == NULL);
    CHECK(eng_file_mime(fl) == NULL);
    CHECK_EQ_INT(R.n, 0);
    /* other events subscribed do not count */
    eng_on(e, ENG_EV_TCP_DATA, on_event, &R);
    CHECK(eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0) == NULL);
    CHECK_EQ_INT(e->next_file_id, 0);
    free_eng(e);
}

TEST(fuid_format_and_determinism) {
    char a[3][24], b[3][24], c[24];
    eng_t *e = new_eng(&R, 4, "7");
    for (int i = 0; i < 3; i++) {
        eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
        CHECK(fl != NULL);
        snprintf(a[i], sizeof a[i], "%s", eng_file_fuid(fl));
        CHECK(is_fuid(a[i]));
        eng_file_end(e, fl);
        CHECK_STR(R.ev[i].fuid, a[i]);
    }
    CHECK(strcmp(a[0], a[1]) && strcmp(a[1], a[2]) && strcmp(a[0], a[2]));
    free_eng(e);
    e = new_eng(&R, 4, "7");
    for (int i = 0; i < 3; i++) {
        eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
        snprintf(b[i], sizeof b[i], "%s", eng_file_fuid(fl));
        eng_file_end(e, fl);
        CHECK_STR(a[i], b[i]);
    }
    free_eng(e);
    e = new_eng(&R, 4, "8");
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    snprintf(c, sizeof c, "%s", eng_file_fuid(fl));
    CHECK(is_fuid(c));
    CHECK(strcmp(c, a[0]) != 0);
    eng_file_end(e, fl);
    free_eng(e);
}

TEST(png_in_chunks) {
    static uint8_t buf[10000];
    size_t n = make_png(buf);
    eng_t *e = new_eng(&R, 7, NULL);
    eng_advance(e, 1700000000LL * 1000000000LL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", "pic.png", 7);
    CHECK(fl != NULL);
    CHECK(eng_file_mime(fl) == NULL);
    for (size_t i = 0; i < n; i += 1000) {
        eng_advance(e, (1700000001LL + (long long)i / 1000) * 1000000000LL); /* 1 s apart */
        eng_file_data(e, fl, buf + i, 1000);
        if (i + 1000 < 4096) CHECK_EQ_INT(R.n, 0); /* buffered until sniffed */
    }
    CHECK(eng_file_mime(fl) && !strcmp(eng_file_mime(fl), "image/png"));
    char fuid[24];
    snprintf(fuid, sizeof fuid, "%s", eng_file_fuid(fl));
    eng_file_end(e, fl);
    CHECK_EQ_INT(check_sequence(&R, fuid), 10000);
    CHECK_MEM(R.data, R.datalen, buf, n);
    CHECK_STR(R.ev[0].source, "http");
    CHECK(R.ev[0].has_filename);
    CHECK_STR(R.ev[0].filename, "pic.png");
    CHECK(R.ev[0].has_mime);
    CHECK_STR(R.ev[0].mime, "image/png");
    /* file.begin fires after 4 KiB (5th chunk) but names the first byte's time */
    CHECK_STR(R.ev[0].dir, "resp");
    CHECK(R.ev[0].ts == 1700000001.0);
    /* the buffered first 4096 bytes come as one event, then the rest streams */
    CHECK_EQ_INT(R.ev[1].len, 4096);
    rec_ev_t *d = &R.ev[R.n - 1];
    CHECK_EQ_INT(d->size, 10000);
    CHECK_EQ_INT(d->missing, 0);
    CHECK(d->has_digests);
    CHECK_STR(d->md5, PNG_MD5);
    CHECK_STR(d->sha1, PNG_SHA1);
    CHECK_STR(d->sha256, PNG_SHA256);
    free_eng(e);
}

TEST(png_one_big_chunk) {
    static uint8_t buf[10000];
    size_t n = make_png(buf);
    eng_t *e = new_eng(&R, 7, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, buf, n);
    CHECK_EQ_INT(R.n, 2); /* begin, then the whole chunk */
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 3);
    CHECK_EQ_INT(check_sequence(&R, R.ev[0].fuid), 10000);
    CHECK(!R.ev[0].has_filename);
    CHECK_STR(R.ev[0].mime, "image/png");
    CHECK_STR(R.ev[2].sha256, PNG_SHA256);
    free_eng(e);
}

TEST(pdf_small) {
    eng_t *e = new_eng(&R, 7, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_ORIG, "smtp", "doc.pdf", 7);
    eng_file_data(e, fl, (const uint8_t *)PDF, sizeof PDF - 1);
    CHECK_EQ_INT(R.n, 0); /* fewer than 4096 bytes: begin waits for the end */
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 3);
    CHECK_EQ_INT(check_sequence(&R, R.ev[0].fuid), (long)(sizeof PDF - 1));
    CHECK_STR(R.ev[0].source, "smtp");
    CHECK_STR(R.ev[0].dir, "orig");
    CHECK_STR(R.ev[0].mime, "application/pdf");
    CHECK_EQ_INT(R.ev[2].size, sizeof PDF - 1);
    CHECK_STR(R.ev[2].md5, PDF_MD5);
    CHECK_STR(R.ev[2].sha1, PDF_SHA1);
    CHECK_STR(R.ev[2].sha256, PDF_SHA256);
    free_eng(e);
}

TEST(text_one_byte_pieces) {
    static uint8_t buf[5000];
    size_t n = make_text(buf);
    eng_t *e = new_eng(&R, 7, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "ftp", NULL, 0);
    for (size_t i = 0; i < n; i++) eng_file_data(e, fl, buf + i, 1);
    eng_file_end(e, fl);
    CHECK_EQ_INT(check_sequence(&R, R.ev[0].fuid), 5000);
    CHECK_MEM(R.data, R.datalen, buf, n);
    CHECK_STR(R.ev[0].mime, "text/plain");
    CHECK_EQ_INT(R.ev[1].len, 4096);
    CHECK_EQ_INT(count_kind(&R, ENG_EV_FILE_DATA), 1 + (5000 - 4096));
    rec_ev_t *d = &R.ev[R.n - 1];
    CHECK_EQ_INT(d->size, 5000);
    CHECK_STR(d->md5, TEXT_MD5);
    CHECK_STR(d->sha1, TEXT_SHA1);
    CHECK_STR(d->sha256, TEXT_SHA256);
    free_eng(e);
}

TEST(empty_file) {
    eng_t *e = new_eng(&R, 7, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, (const uint8_t *)"", 0);
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 2);
    CHECK_EQ_INT(R.ev[0].kind, ENG_EV_FILE_BEGIN);
    CHECK(!R.ev[0].has_mime);
    CHECK_EQ_INT(R.ev[1].kind, ENG_EV_FILE_DONE);
    CHECK_EQ_INT(R.ev[1].size, 0);
    CHECK_EQ_INT(R.ev[1].missing, 0);
    CHECK_STR(R.ev[1].md5, EMPTY_MD5);
    CHECK_STR(R.ev[1].sha1, EMPTY_SHA1);
    CHECK_STR(R.ev[1].sha256, EMPTY_SHA256);
    free_eng(e);
}

TEST(gap_counts_missing_bytes) {
    uint8_t a[100], b[100];
    for (int i = 0; i < 100; i++) {
        a[i] = (uint8_t)((i * 13 + 1) & 0xff);
        b[i] = (uint8_t)(((i + 150) * 13 + 1) & 0xff);
    }
    eng_t *e = new_eng(&R, 7, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, a, 100);
    CHECK_EQ_INT(R.n, 0);
    eng_file_gap(e, fl, 50); /* ends the sniffing: begin and the buffer fire */
    CHECK_EQ_INT(R.n, 2);
    eng_file_data(e, fl, b, 100);
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 4);
    CHECK_EQ_INT(R.ev[1].offset, 0);
    CHECK_EQ_INT(R.ev[1].len, 100);
    CHECK_EQ_INT(R.ev[2].offset, 150);
    CHECK_EQ_INT(R.ev[2].len, 100);
    CHECK_EQ_INT(R.ev[3].size, 200);
    CHECK_EQ_INT(R.ev[3].missing, 50);
    CHECK(R.ev[3].has_digests);
    CHECK_STR(R.ev[3].md5, GAP_MD5);
    CHECK_STR(R.ev[3].sha1, GAP_SHA1);
    CHECK_STR(R.ev[3].sha256, GAP_SHA256);
    free_eng(e);
}

TEST(gap_first) {
    eng_t *e = new_eng(&R, 7, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_gap(e, fl, 10);
    eng_file_data(e, fl, (const uint8_t *)"%PDF-1.4\n", 9);
    eng_file_gap(e, fl, 5);
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 3);
    CHECK(!R.ev[0].has_mime); /* nothing contiguous from the start to sniff */
    CHECK_EQ_INT(R.ev[1].offset, 10);
    CHECK_EQ_INT(R.ev[2].size, 9);
    CHECK_EQ_INT(R.ev[2].missing, 15);
    free_eng(e);
}

TEST(only_data_subscribed) {
    eng_t *e = new_eng(&R, 2, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    CHECK(fl != NULL);
    eng_file_data(e, fl, (const uint8_t *)PDF, 10);
    CHECK_EQ_INT(R.n, 1); /* no begin wanted: no buffering, no sniffing */
    eng_file_data(e, fl, (const uint8_t *)PDF + 10, 5);
    CHECK(eng_file_mime(fl) == NULL);
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 2);
    CHECK_EQ_INT(count_kind(&R, ENG_EV_FILE_DATA), 2);
    CHECK_EQ_INT(R.ev[1].offset, 10);
    CHECK(is_fuid(R.ev[0].fuid));
    free_eng(e);
}

TEST(begin_only_and_done_only) {
    eng_t *e = new_eng(&R, 1, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, (const uint8_t *)PDF, sizeof PDF - 1);
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 1);
    CHECK_EQ_INT(R.ev[0].kind, ENG_EV_FILE_BEGIN);
    CHECK_STR(R.ev[0].mime, "application/pdf");
    free_eng(e);

    e = new_eng(&R2, 4, NULL);
    fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, (const uint8_t *)PDF, 20);
    eng_file_data(e, fl, (const uint8_t *)PDF + 20, sizeof PDF - 1 - 20);
    CHECK(eng_file_mime(fl) == NULL); /* begin not wanted: no sniffing */
    eng_file_end(e, fl);
    CHECK_EQ_INT(R2.n, 1);
    CHECK_EQ_INT(R2.ev[0].kind, ENG_EV_FILE_DONE);
    CHECK(R2.ev[0].has_digests);
    CHECK_STR(R2.ev[0].sha256, PDF_SHA256);
    free_eng(e);
}

TEST(done_subscribed_late_has_no_digests) {
    eng_t *e = new_eng(&R, 2, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, (const uint8_t *)"abc", 3);
    eng_on(e, ENG_EV_FILE_DONE, on_event, &R);
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 2);
    CHECK_EQ_INT(R.ev[1].kind, ENG_EV_FILE_DONE);
    CHECK_EQ_INT(R.ev[1].size, 3);
    CHECK(!R.ev[1].has_digests);
    free_eng(e);
}

TEST(many_files_interleaved) {
    /* two files open at once keep their own state */
    static uint8_t png[10000], txt[5000];
    make_png(png);
    make_text(txt);
    eng_t *e = new_eng(&R, 4, NULL);
    eng_file_t *a = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_t *b = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    for (int i = 0; i < 10; i++) {
        eng_file_data(e, a, png + i * 1000, 1000);
        if (i < 5) eng_file_data(e, b, txt + i * 1000, 1000);
    }
    eng_file_end(e, b);
    eng_file_end(e, a);
    CHECK_EQ_INT(R.n, 2);
    CHECK_STR(R.ev[0].sha256, TEXT_SHA256);
    CHECK_STR(R.ev[1].sha256, PNG_SHA256);
    free_eng(e);
}

TEST(long_filename_is_cut) {
    static char name[10000];
    memset(name, 'x', sizeof name);
    eng_t *e = new_eng(&R, 1, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "a-very-long-source-name", name, sizeof name);
    eng_file_end(e, fl);
    CHECK_EQ_INT(R.n, 1);
    CHECK(R.ev[0].has_filename);
    CHECK(strlen(R.ev[0].source) < 16);
    free_eng(e);
}


/* files.digests picks the digests file.done carries; unset: all three */
static void one_text_file(eng_t *e) {
    static uint8_t b[5000];
    size_t n = make_text(b);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, b, n); /* one chunk over two DIGEST_BLOCKs */
    eng_file_end(e, fl);
}

TEST(digests_selected_by_config) {
    static const struct {
        const char *set;
        int md5, sha1, sha256;
    } cases[] = {
        {NULL, 1, 1, 1}, {"md5", 1, 0, 0}, {"sha256, SHA1", 0, 1, 1}, {"", 0, 0, 0}, {"crc32,md5", 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eng_t *e = new_eng(&R, 4, NULL);
        char err[128];
        if (cases[i].set) CHECK_EQ_INT(eng_config_set(e, "files.digests", cases[i].set, err, sizeof err), 0);
        one_text_file(e);
        CHECK_EQ_INT(R.n, 1);
        CHECK_EQ_INT(R.ev[0].size, 5000);
        CHECK_STR(R.ev[0].md5, cases[i].md5 ? TEXT_MD5 : "");
        CHECK_STR(R.ev[0].sha1, cases[i].sha1 ? TEXT_SHA1 : "");
        CHECK_STR(R.ev[0].sha256, cases[i].sha256 ? TEXT_SHA256 : "");
        free_eng(e);
    }
}

/* the memo of full-libmagic verdicts gives, for every file, what libmagic
 * gives without it, also when files alternate and differ in one byte */
static void sniff_one(eng_t *e, const uint8_t *b, size_t n, char *mime) {
    R.n = 0;
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_ORIG, "smtp", NULL, 0);
    eng_file_data(e, fl, b, n);
    eng_file_end(e, fl);
    CHECK(R.n >= 1 && R.ev[0].kind == ENG_EV_FILE_BEGIN);
    strcpy(mime, R.n >= 1 ? R.ev[0].mime : "?");
}

TEST(sniff_memo_is_exact) {
    static uint8_t bins[4][3000];
    uint32_t x = 12345;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < sizeof bins[k]; i++) {
            x = x * 1103515245u + 12345u;
            bins[k][i] = (uint8_t)(x >> 16);
        }
    bins[0][0] = 0x80; /* no built-in signature, not text */
    memcpy(bins[1], "\x7f" "ELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00", 20);
    memcpy(bins[2], "PK\x03\x04", 4);
    memcpy(bins[3], bins[0], sizeof bins[0]);
    bins[3][2999] ^= 1; /* same prefix but the last byte */
    static const int order[] = {0, 1, 0, 2, 3, 0, 1, 3, 2, 2};
    char off[4][96], on[96];
    eng_t *plain = new_eng(&R, 1, NULL);
    char err[128];
    CHECK_EQ_INT(eng_config_set(plain, "files.sniff_memo", "false", err, sizeof err), 0);
    for (int k = 0; k < 4; k++) sniff_one(plain, bins[k], sizeof bins[k], off[k]);
    free_eng(plain);
    CHECK(off[1][0] && strcmp(off[0], off[1])); /* libmagic tells ELF from noise */
    eng_t *e = new_eng(&R, 1, NULL);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        sniff_one(e, bins[order[i]], sizeof bins[0], on);
        CHECK_STR(on, off[order[i]]);
    }
    free_eng(e);
    /* text goes through the handle without soft magic, memoized the same way */
    static const char *const texts[] = {"{\"a\": [1, 2, {\"b\": null}]}\n", "just words, and more words\n",
                                        "{\"a\": [1, 2, {\"b\": nul}]}\n"};
    char toff[3][96];
    plain = new_eng(&R, 1, NULL);
    eng_config_set(plain, "files.sniff_memo", "off", err, sizeof err);
    for (int k = 0; k < 3; k++) sniff_one(plain, (const uint8_t *)texts[k], strlen(texts[k]), toff[k]);
    free_eng(plain);
    CHECK_STR(toff[0], "application/json");
    CHECK_STR(toff[1], "text/plain");
    e = new_eng(&R, 1, NULL);
    for (int i = 0; i < 9; i++) {
        int k = (i * 2) % 3;
        sniff_one(e, (const uint8_t *)texts[k], strlen(texts[k]), on);
        CHECK_STR(on, toff[k]);
    }
    free_eng(e);
}

int main(void) {
    RUN(nobody_listens);
    RUN(fuid_format_and_determinism);
    RUN(png_in_chunks);
    RUN(png_one_big_chunk);
    RUN(pdf_small);
    RUN(text_one_byte_pieces);
    RUN(empty_file);
    RUN(gap_counts_missing_bytes);
    RUN(gap_first);
    RUN(only_data_subscribed);
    RUN(begin_only_and_done_only);
    RUN(done_subscribed_late_has_no_digests);
    RUN(many_files_interleaved);
    RUN(long_filename_is_cut);
    RUN(digests_selected_by_config);
    RUN(sniff_memo_is_exact);
    return check_report("files");
}
