/* dotbody.c - dot-terminated bodies (SMTP DATA, POP3 multi-line); see dotbody.h */
#include <string.h>

#include "dotbody.h"

/* bytes up to and including the next LF (or all that are there) */
static size_t peek_line(const stream_reader_t *sr)
{
    size_t n = 0;
    if (sr->buf_len) {
        const uint8_t *q = memchr(sr->buf, '\n', sr->buf_len);
        if (q) return (size_t)(q - sr->buf) + 1;
        n = sr->buf_len;
    }
    size_t rest = sr->chunk_len - sr->pos;
    if (rest) {
        const uint8_t *c = sr->chunk + sr->pos;
        const uint8_t *q = memchr(c, '\n', rest);
        n += q ? (size_t)(q - c) + 1 : rest;
    }
    return n;
}

static int peek_byte(const stream_reader_t *sr)
{
    if (sr->buf_len) return sr->buf[0];
    if (sr->pos < sr->chunk_len) return sr->chunk[sr->pos];
    return -1;
}

void dotbody_start(dotbody_t *d)
{
    d->bol = 1;
    d->dstate = 0;
}

int dotbody_read(dotbody_t *d, stream_reader_t *sr, dotbody_feed_fn feed, void *ctx,
                 int *progress)
{
    sr_view_t v;
    for (;;) {
        if (sr_some(sr, 0, &v) == SR_GAP) { /* reported, finishes a pending skip */
            d->bol = 0;
            d->dstate = 0;
            *progress = 1;
            return DOT_GAP;
        }
        if (d->dstate) {
            if (sr_some(sr, 1, &v) != SR_OK) return DOT_MORE;
            *progress = 1;
            uint8_t c = v.p[0];
            if (c == '\n') { /* ".\n" or ".\r\n" */
                d->dstate = 0;
                return DOT_END;
            }
            if (d->dstate == 1 && c == '\r') {
                d->dstate = 2;
                continue;
            }
            if (d->dstate == 2) feed(ctx, (const uint8_t *)".\r", 2);
            else if (c != '.') feed(ctx, (const uint8_t *)".", 1);
            feed(ctx, &c, 1); /* ".." gives "." */
            d->dstate = 0;
            d->bol = 0;
            continue;
        }
        if (d->bol) {
            int c = peek_byte(sr);
            if (c < 0) return DOT_MORE;
            if (c == '.') {
                sr_some(sr, 1, &v);
                *progress = 1;
                d->dstate = 1;
                continue;
            }
            d->bol = 0;
        }
        size_t want = peek_line(sr);
        if (want == 0 || sr_some(sr, want, &v) != SR_OK) return DOT_MORE;
        *progress = 1;
        feed(ctx, v.p, v.len);
        if (v.len && v.p[v.len - 1] == '\n') d->bol = 1;
    }
}

void dotbody_flush(dotbody_t *d, dotbody_feed_fn feed, void *ctx)
{
    if (d->dstate == 1) feed(ctx, (const uint8_t *)".", 1);
    if (d->dstate == 2) feed(ctx, (const uint8_t *)".\r", 2);
    d->dstate = 0;
}
