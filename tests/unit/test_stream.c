/* test_stream.c - the stream reader (engine/stream.c): lines, units, body
 * bytes, cuts, gaps, eof, offsets and the memory bound, whatever the chunking.
 * A tiny line-echo decoder ("<off>:<line>\n") is driven with the same text in
 * different chunkings and must print the same thing. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stream.h"

#ifndef NO_REASM
#include "reasm.h"
#endif

/* ---- helpers --------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return (uint32_t)(x >> 11);
}

typedef struct {
    char *p;
    size_t len, cap;
} obuf_t;

static void ob_add(obuf_t *o, const void *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1) cap *= 2;
        o->p = realloc(o->p, cap);
        o->cap = cap;
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
    o->p[o->len] = 0;
}

static void ob_printf(obuf_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ob_printf(obuf_t *o, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ob_add(o, tmp, (size_t)n);
}

/* ---- the line-echo decoder ------------------------------------------- */

typedef struct {
    stream_reader_t sr;
    obuf_t out;
    int gaps;
} echo_t;

static void echo_init(echo_t *e, uint32_t max_unit)
{
    memset(e, 0, sizeof *e);
    sr_init(&e->sr, max_unit);
}

static void echo_drain(echo_t *e)
{
    sr_view_t v;
    int rc;
    while ((rc = sr_line(&e->sr, &v)) != SR_MORE) {
        if (rc == SR_GAP) {
            ob_printf(&e->out, "GAP@%" PRIu64 "\n", v.off);
            e->gaps++;
            continue;
        }
        ob_printf(&e->out, "%" PRIu64 ":", v.off);
        ob_add(&e->out, v.p, v.len);
        ob_add(&e->out, v.cut ? "[cut]\n" : "\n", v.cut ? 6 : 1);
    }
}

static void echo_data(echo_t *e, uint64_t off, const uint8_t *p, size_t len)
{
    sr_push(&e->sr, off, p, len);
    echo_drain(e);
}

static void echo_gap(echo_t *e, uint64_t off, uint64_t len)
{
    sr_gap(&e->sr, off, len);
    echo_drain(e);
}

static void echo_end(echo_t *e)
{
    sr_eof(&e->sr);
    echo_drain(e);
}

static void echo_free(echo_t *e)
{
    sr_free(&e->sr);
    free(e->out.p);
}

/* chunking: 0 one chunk, 1 one byte each, else random sizes 1..chunking */
static void echo_run(echo_t *e, const char *text, size_t len, int chunking, uint64_t seed)
{
    rng_state = seed;
    size_t off = 0;
    while (off < len) {
        size_t n = chunking == 0 ? len - off : chunking == 1 ? 1 : 1 + rng() % (unsigned)chunking;
        if (n > len - off) n = len - off;
        echo_data(e, off, (const uint8_t *)text + off, n);
        off += n;
    }
    echo_end(e);
}

/* The expected echo, computed from the whole text by the documented rules. */
static void reference(obuf_t *o, const char *text, size_t len, size_t max_unit)
{
    size_t i = 0;
    while (i < len) {
        const char *lf = memchr(text + i, '\n', len - i);
        size_t raw = lf ? (size_t)(lf - (text + i)) : len - i;
        ob_printf(o, "%zu:", i);
        if (raw > max_unit) {
            ob_add(o, text + i, max_unit);
            ob_add(o, "[cut]\n", 6);
        } else {
            size_t n = raw;
            if (lf && n && text[i + n - 1] == '\r') n--;
            ob_add(o, text + i, n);
            ob_add(o, "\n", 1);
        }
        i += raw + (lf ? 1 : 0);
    }
}

/* The expected echo when [hole, hole+hole_len) is lost: the lines before
 * it, the partial line at the hole dropped, "GAP@<end>", then the text after
 * the hole read as lines from there. */
static void reference_gap(obuf_t *o, const char *text, size_t len, size_t hole,
                          size_t hole_len, size_t max_unit)
{
    size_t start = 0; /* start of the line holding the hole */
    for (size_t i = 0; i < hole; i++)
        if (text[i] == '\n') start = i + 1;
    reference(o, text, start, max_unit);
    size_t after = hole + hole_len;
    ob_printf(o, "GAP@%zu\n", after);
    obuf_t tail = {0};
    reference(&tail, text + after, len - after, max_unit);
    for (char *s = tail.p; s && *s;) { /* shift the tail's offsets */
        char *colon = strchr(s, ':'), *nl = strchr(s, '\n');
        ob_printf(o, "%zu", (size_t)strtoul(s, NULL, 10) + after);
        ob_add(o, colon, (size_t)(nl - colon) + 1);
        s = nl + 1;
    }
    free(tail.p);
}

static const char sample[] =
    "220 smtp.example.com ESMTP\r\n"
    "EHLO a\r\n"
    "\r\n"
    "bare lf line\n"
    "\n"
    "MAIL FROM:<user@example.com> SIZE=300\r\n"
    "a line with a lone \r in the middle\r\n"
    "x\r\r\n"
    "last line without ending";

/* ---- tests ----------------------------------------------------------- */

TEST(one_chunk_zero_copy)
{
    static const char text[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\n";
    stream_reader_t sr;
    sr_init(&sr, 64);
    sr_push(&sr, 0, (const uint8_t *)text, sizeof text - 1);
    const uint8_t *lo = (const uint8_t *)text, *hi = lo + sizeof text - 1;
    sr_view_t v;
    static const struct { const char *s; uint64_t off; int eol; } want[] = {
        {"GET / HTTP/1.1", 0, 2}, {"Host: a", 16, 2}, {"", 25, 2}, {"body", 27, 1}};
    for (size_t i = 0; i < 4; i++) {
        CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
        CHECK_MEM(v.p, v.len, want[i].s, strlen(want[i].s));
        CHECK_EQ_INT(v.off, want[i].off);
        CHECK_EQ_INT(v.eol, want[i].eol);
        CHECK_EQ_INT(v.cut, 0);
        CHECK(v.p >= lo && v.p + v.len <= hi); /* a view into the chunk */
    }
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    CHECK_EQ_INT(sr.peak, 0);
    CHECK(sr.buf == NULL); /* never copied, never allocated */
    CHECK_EQ_INT(sr_offset(&sr), sizeof text - 1);
    sr_free(&sr);
}

TEST(byte_chunks_exact)
{
    static const char text[] = "ab\r\ncd\nefg\r\n";
    stream_reader_t sr;
    sr_init(&sr, 16);
    sr_view_t v;
    int got = 0;
    const char *want[] = {"ab", "cd", "efg"};
    uint64_t offs[] = {0, 4, 7};
    int eols[] = {2, 1, 2};
    for (size_t i = 0; i < sizeof text - 1; i++) {
        sr_push(&sr, i, (const uint8_t *)text + i, 1);
        int rc;
        while ((rc = sr_line(&sr, &v)) == SR_OK) {
            CHECK(got < 3);
            if (got >= 3) break;
            CHECK_MEM(v.p, v.len, want[got], strlen(want[got]));
            CHECK_EQ_INT(v.off, offs[got]);
            CHECK_EQ_INT(v.eol, eols[got]);
            got++;
        }
        CHECK_EQ_INT(rc, SR_MORE);
    }
    CHECK_EQ_INT(got, 3);
    CHECK(sr.peak <= 4);
    sr_free(&sr);
}

TEST(echo_same_output_any_chunking)
{
    size_t len = sizeof sample - 1;
    obuf_t ref = {0};
    reference(&ref, sample, len, 64);
    echo_t e;
    echo_init(&e, 64);
    echo_run(&e, sample, len, 0, 0);
    CHECK_STR(e.out.p, ref.p);
    echo_free(&e);

    echo_init(&e, 64);
    echo_run(&e, sample, len, 1, 0);
    CHECK_STR(e.out.p, ref.p);
    CHECK(e.sr.peak <= 64);
    echo_free(&e);

    for (uint64_t seed = 1; seed <= 50; seed++) {
        echo_init(&e, 64);
        echo_run(&e, sample, len, 2 + (int)(seed % 17), seed * 0x9e3779b97f4a7c15ull);
        CHECK_STR(e.out.p, ref.p);
        echo_free(&e);
    }
    free(ref.p);
}

TEST(echo_gap_any_chunking)
{
    size_t len = sizeof sample - 1;
    const char *bl = strstr(sample, "bare lf line");
    size_t hole = (size_t)(bl - sample) + 2, hole_len = 4, after = hole + hole_len;
    obuf_t want = {0};
    reference_gap(&want, sample, len, hole, hole_len, 64);
    for (int ch = 0; ch < 20; ch++) {
        echo_t e;
        echo_init(&e, 64);
        rng_state = 1000 + ch;
        for (size_t off = 0; off < len;) {
            if (off == hole) {
                echo_gap(&e, hole, hole_len);
                off = after;
                continue;
            }
            size_t lim = off < hole ? hole : len;
            size_t n = ch == 0 ? lim - off : ch == 1 ? 1 : 1 + rng() % (unsigned)ch;
            if (n > lim - off) n = lim - off;
            echo_data(&e, off, (const uint8_t *)sample + off, n);
            off += n;
        }
        echo_end(&e);
        CHECK_STR(e.out.p, want.p);
        CHECK_EQ_INT(e.gaps, 1);
        echo_free(&e);
    }
    free(want.p);
}

TEST(crlf_split)
{
    static const char a[] = "hello\r", b[] = "\nworld\r", c[] = "\n";
    stream_reader_t sr;
    sr_init(&sr, 32);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)a, 6);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    CHECK_EQ_INT(sr.buf_len, 6);
    CHECK_EQ_INT(sr_offset(&sr), 0);
    CHECK_EQ_INT(sr_avail(&sr), 6);
    sr_push(&sr, 6, (const uint8_t *)b, 7);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "hello", 5);
    CHECK_EQ_INT(v.eol, 2);
    CHECK_EQ_INT(v.off, 0);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_push(&sr, 13, (const uint8_t *)c, 1);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "world", 5);
    CHECK_EQ_INT(v.eol, 2);
    CHECK_EQ_INT(v.off, 7);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    CHECK_EQ_INT(sr_offset(&sr), 14);
    CHECK_EQ_INT(sr.peak, 6); /* "hello\r", "world\r" */
    sr_free(&sr);
}

TEST(bare_lf)
{
    static const char text[] = "a\n\nb\r\n";
    stream_reader_t sr;
    sr_init(&sr, 8);
    sr_view_t v;
    sr_push(&sr, 100, (const uint8_t *)text, 6); /* first push may start anywhere */
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "a", 1);
    CHECK_EQ_INT(v.eol, 1);
    CHECK_EQ_INT(v.off, 100);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_EQ_INT(v.len, 0);
    CHECK_EQ_INT(v.eol, 1);
    CHECK_EQ_INT(v.off, 102);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "b", 1);
    CHECK_EQ_INT(v.eol, 2);
    CHECK_EQ_INT(v.off, 103);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_free(&sr);
}

/* 10-byte max: a 40-byte line, then a normal one */
static const char longtext[] = "short\r\n0123456789abcdefghijklmnopqrstuvwxyzABCD\r\nnext ok\r\n";

static void check_long_output(const char *out)
{
    CHECK_STR(out, "0:short\n7:0123456789[cut]\n49:next ok\n");
}

TEST(overlong_one_chunk)
{
    echo_t e;
    echo_init(&e, 10);
    echo_run(&e, longtext, sizeof longtext - 1, 0, 0);
    check_long_output(e.out.p);
    CHECK(e.sr.peak <= 10);
    echo_free(&e);
}

TEST(overlong_byte_chunks)
{
    echo_t e;
    echo_init(&e, 10);
    echo_run(&e, longtext, sizeof longtext - 1, 1, 0);
    check_long_output(e.out.p);
    CHECK(e.sr.peak <= 10);
    CHECK(e.sr.buf_cap <= 10);
    echo_free(&e);
    for (uint64_t seed = 1; seed <= 30; seed++) {
        echo_init(&e, 10);
        echo_run(&e, longtext, sizeof longtext - 1, 2 + (int)seed, seed);
        check_long_output(e.out.p);
        CHECK(e.sr.peak <= 10);
        echo_free(&e);
    }
}

TEST(overlong_many_chunks_skip)
{
    /* a 1 MB line in 1000-byte chunks, never buffered beyond max_unit */
    stream_reader_t sr;
    sr_init(&sr, 100);
    static uint8_t chunk[1000];
    memset(chunk, 'x', sizeof chunk);
    sr_view_t v;
    int cuts = 0;
    uint64_t off = 0;
    sr_push(&sr, off, (const uint8_t *)"ab", 2); /* a partial line first */
    off += 2;
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    for (int i = 0; i < 1000; i++, off += sizeof chunk) {
        sr_push(&sr, off, chunk, sizeof chunk);
        int rc;
        while ((rc = sr_line(&sr, &v)) == SR_OK) {
            cuts++;
            CHECK_EQ_INT(v.cut, 1);
            CHECK_EQ_INT(v.len, 100);
            CHECK_EQ_INT(v.off, 0);
            CHECK_MEM(v.p, 2, "ab", 2);
        }
        CHECK_EQ_INT(rc, SR_MORE);
        CHECK_EQ_INT(sr.skipping, 1);
    }
    sr_push(&sr, off, (const uint8_t *)"xx\r\nfine\n", 9);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "fine", 4);
    CHECK_EQ_INT(v.off, off + 4);
    CHECK_EQ_INT(v.cut, 0);
    CHECK_EQ_INT(cuts, 1);
    CHECK(sr.peak <= 100);
    CHECK_EQ_INT(sr.skipping, 0);
    sr_free(&sr);
}

TEST(exact_max_unit_line)
{
    /* raw bytes before LF == max_unit: not cut; one more: cut */
    static const char text[] = "12345678\n1234567\r\n12345678\r\nok\n";
    obuf_t ref = {0};
    reference(&ref, text, sizeof text - 1, 8);
    CHECK_STR(ref.p, "0:12345678\n9:1234567\n18:12345678[cut]\n28:ok\n");
    for (int ch = 0; ch < 12; ch++) {
        echo_t e;
        echo_init(&e, 8);
        echo_run(&e, text, sizeof text - 1, ch, 7 + ch);
        CHECK_STR(e.out.p, ref.p);
        CHECK(e.sr.peak <= 8);
        echo_free(&e);
    }
    free(ref.p);
}

TEST(partial_line_over_max_cut_at_once)
{
    stream_reader_t sr;
    sr_init(&sr, 8);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)"12345678", 8); /* == max: kept */
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    CHECK_EQ_INT(sr.buf_len, 8);
    sr_free(&sr);
    sr_init(&sr, 8);
    sr_push(&sr, 0, (const uint8_t *)"123456789", 9); /* > max, no LF: cut now */
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_EQ_INT(v.cut, 1);
    CHECK_EQ_INT(v.eol, 0);
    CHECK_MEM(v.p, v.len, "12345678", 8);
    CHECK_EQ_INT(sr.buf_len, 0);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    CHECK_EQ_INT(sr.skipping, 1);
    CHECK_EQ_INT(sr.peak, 0);
    sr_push(&sr, 9, (const uint8_t *)"\nA\n", 3);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "A", 1);
    CHECK_EQ_INT(v.off, 10);
    sr_free(&sr);
}

TEST(bytes_across_chunks)
{
    static const uint8_t a[] = {1, 2, 3}, b[] = {4, 5, 6, 7, 8, 9, 10};
    stream_reader_t sr;
    sr_init(&sr, 8);
    sr_view_t v;
    sr_push(&sr, 0, a, 3);
    CHECK_EQ_INT(sr_bytes(&sr, 2, &v), SR_OK);
    CHECK(v.p == a); /* inside the chunk: a view */
    CHECK_EQ_INT(v.off, 0);
    CHECK_EQ_INT(sr_bytes(&sr, 4, &v), SR_MORE);
    CHECK_EQ_INT(sr.buf_len, 1);
    sr_push(&sr, 3, b, 7);
    CHECK_EQ_INT(sr_bytes(&sr, 4, &v), SR_OK);
    static const uint8_t w1[] = {3, 4, 5, 6};
    CHECK_MEM(v.p, v.len, w1, 4);
    CHECK_EQ_INT(v.off, 2);
    CHECK(v.p == sr.buf); /* straddling: copied */
    CHECK_EQ_INT(sr_bytes(&sr, 100, &v), SR_MORE); /* clamped to 8, 4 left */
    CHECK_EQ_INT(sr_avail(&sr), 4);
    CHECK_EQ_INT(sr_bytes(&sr, 0, &v), SR_OK);
    CHECK_EQ_INT(v.len, 0);
    CHECK_EQ_INT(sr_bytes(&sr, 3, &v), SR_OK); /* from the kept 4: rest stays */
    static const uint8_t w2[] = {7, 8, 9};
    CHECK_MEM(v.p, v.len, w2, 3);
    CHECK_EQ_INT(v.off, 6);
    CHECK_EQ_INT(sr_offset(&sr), 9);
    CHECK_EQ_INT(sr_bytes(&sr, 1, &v), SR_OK);
    CHECK_EQ_INT(v.p[0], 10);
    CHECK_EQ_INT(v.off, 9);
    CHECK_EQ_INT(sr_bytes(&sr, 1, &v), SR_MORE);
    CHECK(sr.peak <= 8);
    sr_free(&sr);
}

TEST(bytes_byte_chunks_random)
{
    /* 4-byte big-endian counters read with sr_bytes(4), random chunking */
    uint8_t data[4000];
    for (uint32_t i = 0; i < 1000; i++) {
        data[4 * i] = (uint8_t)(i >> 24);
        data[4 * i + 1] = (uint8_t)(i >> 16);
        data[4 * i + 2] = (uint8_t)(i >> 8);
        data[4 * i + 3] = (uint8_t)i;
    }
    for (int ch = 1; ch < 10; ch++) {
        stream_reader_t sr;
        sr_init(&sr, 4);
        rng_state = 99 + ch;
        uint32_t next = 0;
        size_t off = 0;
        while (off < sizeof data) {
            size_t n = ch == 1 ? 1 : 1 + rng() % (unsigned)(ch * 3);
            if (n > sizeof data - off) n = sizeof data - off;
            sr_push(&sr, off, data + off, n);
            off += n;
            sr_view_t v;
            while (sr_bytes(&sr, 4, &v) == SR_OK) {
                uint32_t x = (uint32_t)v.p[0] << 24 | (uint32_t)v.p[1] << 16 |
                             (uint32_t)v.p[2] << 8 | v.p[3];
                CHECK_EQ_INT(x, next);
                CHECK_EQ_INT(v.off, 4 * (uint64_t)next);
                next++;
            }
        }
        CHECK_EQ_INT(next, 1000);
        CHECK(sr.peak <= 4);
        sr_free(&sr);
    }
}

TEST(some_bytes)
{
    static const char a[] = "HEAD", b[] = "ER\r\nbodybodybody";
    stream_reader_t sr;
    sr_init(&sr, 64);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)a, 4);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE); /* "HEAD" kept */
    CHECK_EQ_INT(sr_some(&sr, 0, &v), SR_MORE);
    CHECK_EQ_INT(sr_some(&sr, 3, &v), SR_OK);  /* kept unit first */
    CHECK_MEM(v.p, v.len, "HEA", 3);
    CHECK_EQ_INT(v.off, 0);
    CHECK_EQ_INT(sr_some(&sr, 100, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "D", 1);
    CHECK_EQ_INT(v.off, 3);
    CHECK_EQ_INT(sr_some(&sr, 100, &v), SR_MORE);
    sr_push(&sr, 4, (const uint8_t *)b, 16);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "ER", 2);
    CHECK_EQ_INT(v.off, 4);
    CHECK_EQ_INT(sr_some(&sr, 5, &v), SR_OK);
    CHECK(v.p == (const uint8_t *)b + 4); /* never copied */
    CHECK_MEM(v.p, v.len, "bodyb", 5);
    CHECK_EQ_INT(v.off, 8);
    CHECK_EQ_INT(sr_avail(&sr), 7);
    CHECK_EQ_INT(sr_some(&sr, 100, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "odybody", 7);
    CHECK_EQ_INT(v.off, 13);
    CHECK_EQ_INT(sr_some(&sr, 100, &v), SR_MORE);
    CHECK_EQ_INT(sr_avail(&sr), 0);
    sr_free(&sr);
}

TEST(gap_mid_line)
{
    stream_reader_t sr;
    sr_init(&sr, 64);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)"one\r\ntw", 7);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "one", 3);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    CHECK_EQ_INT(sr.buf_len, 2);
    sr_gap(&sr, 7, 10); /* bytes 7..16 lost */
    CHECK_EQ_INT(sr.buf_len, 0);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_GAP);
    CHECK_EQ_INT(v.off, 17);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE); /* once */
    sr_push(&sr, 17, (const uint8_t *)"rest of two\r\nthree\r\n", 20);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "rest of two", 11); /* the decoder resynchronises */
    CHECK_EQ_INT(v.off, 17);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "three", 5);
    CHECK_EQ_INT(v.off, 30);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_free(&sr);
}

TEST(gap_ends_skip)
{
    stream_reader_t sr;
    sr_init(&sr, 4);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)"toolongline", 11);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_EQ_INT(v.cut, 1);
    CHECK_MEM(v.p, v.len, "tool", 4);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    CHECK_EQ_INT(sr.skipping, 1);
    sr_gap(&sr, 11, 5);
    CHECK_EQ_INT(sr.skipping, 0);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_GAP);
    sr_push(&sr, 16, (const uint8_t *)"ab\n", 3);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK); /* not skipped */
    CHECK_MEM(v.p, v.len, "ab", 2);
    CHECK_EQ_INT(v.off, 16);
    sr_free(&sr);
}

TEST(implicit_gap_on_push)
{
    stream_reader_t sr;
    sr_init(&sr, 64);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)"abc", 3);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_push(&sr, 10, (const uint8_t *)"x\n", 2); /* 3..9 never pushed */
    CHECK_EQ_INT(sr_line(&sr, &v), SR_GAP);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "x", 1);
    CHECK_EQ_INT(v.off, 10);
    /* overlapping push: the part already pushed is ignored */
    sr_push(&sr, 11, (const uint8_t *)"\nyz\n", 4);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "yz", 2);
    CHECK_EQ_INT(v.off, 12);
    sr_free(&sr);
}

TEST(eof_partial_line)
{
    stream_reader_t sr;
    sr_init(&sr, 64);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)"a\npar", 5);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_push(&sr, 5, (const uint8_t *)"tial\r", 5);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_eof(&sr);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "partial\r", 8); /* no ending was seen: kept as is */
    CHECK_EQ_INT(v.eol, 0);
    CHECK_EQ_INT(v.off, 2);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);

    /* eof with the partial still in the chunk (not read before) */
    stream_reader_t s2;
    sr_init(&s2, 64);
    sr_push(&s2, 0, (const uint8_t *)"x\ny", 3);
    sr_eof(&s2);
    CHECK_EQ_INT(sr_line(&s2, &v), SR_OK);
    CHECK_EQ_INT(sr_line(&s2, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "y", 1);
    CHECK_EQ_INT(v.eol, 0);
    CHECK_EQ_INT(v.off, 2);
    CHECK_EQ_INT(sr_line(&s2, &v), SR_MORE);
    sr_free(&sr);
    sr_free(&s2);
}

TEST(push_with_unread_rest)
{
    stream_reader_t sr;
    sr_init(&sr, 8);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)"a\nbc\nd", 6);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK); /* decoder stops after one line */
    sr_push(&sr, 6, (const uint8_t *)"e\n", 2); /* "bc\nd" (4 bytes) fits: kept */
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "bc", 2);
    CHECK_EQ_INT(v.off, 2);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "de", 2);
    CHECK_EQ_INT(v.off, 5);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);

    /* an unread rest beyond max_unit: dropped and reported as a gap */
    sr_push(&sr, 8, (const uint8_t *)"0123456789\nz", 12);
    sr_push(&sr, 20, (const uint8_t *)"\n", 1);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_GAP);
    CHECK_EQ_INT(v.off, 20);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_EQ_INT(v.len, 0);
    CHECK_EQ_INT(v.off, 20);
    CHECK(sr.peak <= 8);
    sr_free(&sr);
}

TEST(bytes_then_line_in_buf)
{
    /* a kept unit holding a LF (kept by sr_bytes), then read as lines */
    stream_reader_t sr;
    sr_init(&sr, 16);
    sr_view_t v;
    sr_push(&sr, 0, (const uint8_t *)"ab\ncd\nef", 8);
    CHECK_EQ_INT(sr_bytes(&sr, 12, &v), SR_MORE);
    CHECK_EQ_INT(sr.buf_len, 8);
    sr_push(&sr, 8, (const uint8_t *)"\n", 1);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "ab", 2);
    CHECK_EQ_INT(v.off, 0);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "cd", 2);
    CHECK_EQ_INT(v.off, 3);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "ef", 2);
    CHECK_EQ_INT(v.off, 6);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_free(&sr);
}

TEST(zeroed_reader_usable)
{
    stream_reader_t sr;
    memset(&sr, 0, sizeof sr); /* decoder state is zeroed before init */
    sr_view_t v;
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_push(&sr, 0, (const uint8_t *)"hi\n", 3);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_OK);
    CHECK_MEM(v.p, v.len, "hi", 2);
    sr_push(&sr, 3, NULL, 0);
    CHECK_EQ_INT(sr_line(&sr, &v), SR_MORE);
    sr_free(&sr);
}

TEST(memory_bound_10mb)
{
    /* 10 MB of 25-byte lines (23 chars + CRLF) pushed one byte at a time */
    enum { LINE = 25, N = 10 * 1000 * 1000 / LINE };
    uint8_t *text = malloc((size_t)N * LINE);
    CHECK(text != NULL);
    if (!text) return;
    for (size_t i = 0; i < N; i++) {
        uint8_t *p = text + i * LINE;
        for (int j = 0; j < LINE - 2; j++) p[j] = (uint8_t)('a' + (i + j) % 26);
        p[LINE - 2] = '\r';
        p[LINE - 1] = '\n';
    }
    stream_reader_t sr;
    sr_init(&sr, 4096);
    size_t lines = 0, bad = 0;
    for (size_t off = 0; off < (size_t)N * LINE; off++) {
        sr_push(&sr, off, text + off, 1);
        sr_view_t v;
        while (sr_line(&sr, &v) == SR_OK) {
            if (v.len != LINE - 2 || v.off != lines * LINE || v.eol != 2 ||
                memcmp(v.p, text + lines * LINE, LINE - 2) != 0)
                bad++;
            lines++;
        }
    }
    CHECK_EQ_INT(lines, N);
    CHECK_EQ_INT(bad, 0);
    CHECK(sr.peak <= 26);
    CHECK_EQ_INT(sr.peak, LINE - 1); /* the line and its CR, never the LF */
    CHECK(sr.buf_cap <= 64);
    sr_free(&sr);
    free(text);
}

#ifndef NO_REASM
/* ---- through the reassembler ----------------------------------------- */

static void rs_data(void *ctx, int dir, uint64_t off, const uint8_t *p, size_t len)
{
    echo_data(ctx, off, p, len);
}
static void rs_gap(void *ctx, int dir, uint64_t off, uint64_t len) { echo_gap(ctx, off, len); }
static void rs_overlap(void *ctx, int dir, uint64_t off, uint64_t len, int conflict, int kept_new,
                       int delivered) {}
static const reasm_sink_t rs_sink = {rs_data, rs_gap, rs_overlap};

/* segments of the text given by (start, len) pairs, sent in the given order */
static void reasm_drive(echo_t *e, const char *text, const size_t (*segs)[2], size_t nseg,
                        int flush)
{
    reasm_ctx_t c;
    reasm_dir_t d;
    reasm_ctx_init(&c, &rs_sink);
    c.max_ooo = 1 << 20;
    c.max_total = 1 << 22;
    reasm_dir_init(&d, e, 0);
    uint32_t isn = 0xfffffff0u; /* crosses 2^32 on the way */
    reasm_syn(&c, &d, isn);
    for (size_t i = 0; i < nseg; i++)
        reasm_segment(&c, &d, isn + 1 + (uint32_t)segs[i][0],
                      (const uint8_t *)text + segs[i][0], segs[i][1], 0);
    if (flush) reasm_flush(&c, &d);
    reasm_dir_free(&c, &d);
    echo_end(e);
}

TEST(echo_through_reasm)
{
    size_t len = sizeof sample - 1;
    obuf_t ref = {0};
    reference(&ref, sample, len, 64);
    size_t (*segs)[2] = malloc(len * sizeof *segs);
    size_t n;

    /* 1-byte segments, in order */
    for (n = 0; n < len; n++) segs[n][0] = n, segs[n][1] = 1;
    echo_t e;
    echo_init(&e, 64);
    reasm_drive(&e, sample, (const size_t(*)[2])segs, n, 0);
    CHECK_STR(e.out.p, ref.p);
    echo_free(&e);

    /* 1-byte segments reversed (all but the first held out of order) */
    for (n = 0; n < len; n++) segs[n][0] = len - 1 - n, segs[n][1] = 1;
    echo_init(&e, 64);
    reasm_drive(&e, sample, (const size_t(*)[2])segs, n, 0);
    CHECK_STR(e.out.p, ref.p);
    echo_free(&e);

    /* random segments, pairwise swapped */
    for (uint64_t seed = 1; seed <= 20; seed++) {
        rng_state = seed * 7919;
        n = 0;
        for (size_t off = 0; off < len;) {
            size_t k = 1 + rng() % 13;
            if (k > len - off) k = len - off;
            segs[n][0] = off, segs[n][1] = k;
            n++;
            off += k;
        }
        for (size_t i = 0; i + 1 < n; i += 2) {
            size_t t0 = segs[i][0], t1 = segs[i][1];
            segs[i][0] = segs[i + 1][0], segs[i][1] = segs[i + 1][1];
            segs[i + 1][0] = t0, segs[i + 1][1] = t1;
        }
        echo_init(&e, 64);
        reasm_drive(&e, sample, (const size_t(*)[2])segs, n, 0);
        CHECK_STR(e.out.p, ref.p);
        echo_free(&e);
    }

    /* a missing segment in the middle of "bare lf line", declared a gap by
     * reasm_flush; the rest arrives in 1-byte segments */
    const char *bl = strstr(sample, "bare lf line");
    size_t hole = (size_t)(bl - sample) + 2, hole_len = 4;
    n = 0;
    for (size_t off = 0; off < len; off++)
        if (off < hole || off >= hole + hole_len) segs[n][0] = off, segs[n][1] = 1, n++;
    echo_init(&e, 64);
    reasm_drive(&e, sample, (const size_t(*)[2])segs, n, 1);
    /* expected: lines before the hole, the gap, then the remainder of the
     * broken line from after the hole, then the rest */
    obuf_t want = {0};
    reference_gap(&want, sample, len, hole, hole_len, 64);
    CHECK_STR(e.out.p, want.p);
    CHECK_EQ_INT(e.gaps, 1);
    echo_free(&e);
    free(want.p);
    free(ref.p);
    free(segs);
}
#endif

int main(void)
{
    RUN(one_chunk_zero_copy);
    RUN(byte_chunks_exact);
    RUN(echo_same_output_any_chunking);
    RUN(echo_gap_any_chunking);
    RUN(crlf_split);
    RUN(bare_lf);
    RUN(overlong_one_chunk);
    RUN(overlong_byte_chunks);
    RUN(overlong_many_chunks_skip);
    RUN(exact_max_unit_line);
    RUN(partial_line_over_max_cut_at_once);
    RUN(bytes_across_chunks);
    RUN(bytes_byte_chunks_random);
    RUN(some_bytes);
    RUN(gap_mid_line);
    RUN(gap_ends_skip);
    RUN(implicit_gap_on_push);
    RUN(eof_partial_line);
    RUN(push_with_unread_rest);
    RUN(bytes_then_line_in_buf);
    RUN(zeroed_reader_usable);
    RUN(memory_bound_10mb);
#ifndef NO_REASM
    RUN(echo_through_reasm);
#endif
    return check_report("stream");
}
