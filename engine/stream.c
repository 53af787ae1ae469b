/* stream.c - the stream reader (stream.h): lines, fixed units and body bytes
 * pulled from in-order chunks, copying only a unit that straddles chunks.
 *
 * Invariant: while buf_len > 0, the kept bytes [buf_off, buf_off+buf_len)
 * are immediately followed in the stream by the unread chunk bytes, i.e.
 * buf_off + buf_len == chunk_off + pos. buf only ever receives bytes taken
 * from chunk[pos..] (and pos advances past them), so buf_len <= max_unit and
 * buf_cap <= max_unit always hold.
 *
 * Definitions made here (the header leaves them open):
 *  - max_unit 0 (sr_init(sr, 0), or a zeroed reader that was never
 *    initialised) means SR_DEFAULT_MAX_UNIT.
 *  - Lines: a line is "over-long" when the bytes before its LF (a CR of a
 *    CRLF included) exceed max_unit; this rule gives the same result whatever
 *    the chunking. An over-long line is returned once, cut to its first
 *    max_unit bytes, with cut = 1 and eol = 0; the rest up to and including
 *    its LF is skipped without buffering (sr->skipping), across any number of
 *    chunks; a gap ends the skip. Any read (not only sr_line) first finishes a
 *    pending skip, since the cut line logically consumed the whole line.
 *  - A partial line (no LF yet) that already exceeds max_unit is returned cut
 *    at once rather than kept.
 *  - sr_bytes: n > max_unit is clamped to max_unit; n == 0 gives an empty
 *    view (SR_OK). At eof, too few bytes give SR_MORE.
 *  - sr_some: max == 0 returns SR_MORE (nothing asked for), so that
 *    `while (sr_some(...) == SR_OK)` cannot spin.
 *  - A kept unit may be longer than what the next read asks for (a decoder
 *    that switches from lines to bytes after SR_MORE): the front is handed out
 *    and the rest stays kept (rotated in place, no extra memory).
 *  - sr_push while the previous chunk still has unread bytes (the decoder
 *    stopped before SR_MORE): a pending skip is run first; then the unread
 *    rest is moved into buf if buf_len + rest <= max_unit, so nothing is lost
 *    within the bound. If it does not fit, the kept bytes and the rest are
 *    dropped and reported as a gap (SR_GAP once): never silently.
 *  - sr_push at an offset past the end of the previous chunk is an implicit
 *    gap (the first push of a fresh reader just sets the position). Bytes of
 *    a push that lie before the end of the previous chunk are ignored.
 *  - sr_gap with len 0 is a cut (stream.h): the partial unit is dropped as
 *    for a gap (SR_GAP once, only if there was one), the position does not
 *    move, and buf is freed; the reader never moves backwards.
 *  - If growing buf fails (malloc), the partial unit and the rest of the
 *    chunk are dropped and reported as SR_GAP.
 *  - On SR_MORE / SR_GAP the view is empty with off = sr_offset().
 */
#include "stream.h"

#include "memcap.h"

#include <stdlib.h>
#include <string.h>

#define SR_DEFAULT_MAX_UNIT 8192u
#define SR_MIN_CAP 64u

static const uint8_t sr_empty[1];

void sr_init(stream_reader_t *sr, uint32_t max_unit)
{
    memset(sr, 0, sizeof *sr);
    sr->max_unit = max_unit ? max_unit : SR_DEFAULT_MAX_UNIT;
}

void sr_bind(stream_reader_t *sr, struct mem_acct *acct)
{
    if (sr->acct == acct) return;
    if (sr->buf_cap) { /* move what it holds to the new account */
        mem_charge(sr->acct, -(int64_t)sr->buf_cap);
        mem_charge(acct, (int64_t)sr->buf_cap);
    }
    sr->acct = acct;
}

void sr_free(stream_reader_t *sr)
{
    mem_charge(sr->acct, -(int64_t)sr->buf_cap);
    free(sr->buf);
    sr->buf = NULL;
    sr->buf_len = sr->buf_cap = 0;
}

static inline uint32_t sr_max(stream_reader_t *sr)
{
    if (sr->max_unit == 0) sr->max_unit = SR_DEFAULT_MAX_UNIT;
    return sr->max_unit;
}

static inline void sr_none(const stream_reader_t *sr, sr_view_t *v)
{
    v->p = NULL;
    v->len = 0;
    v->off = sr_offset(sr);
    v->eol = 0;
    v->cut = 0;
}

/* drop the partial unit and the rest of the chunk, report a gap */
static void sr_drop_as_gap(stream_reader_t *sr)
{
    sr->buf_len = 0;
    sr->pos = sr->chunk_len;
    sr->skipping = 0;
    sr->gap = 1;
}

/* Append n bytes (buf_len + n <= max_unit, checked by callers) to buf. */
static int sr_append(stream_reader_t *sr, const uint8_t *p, size_t n)
{
    if (n == 0) return 0;
    size_t need = (size_t)sr->buf_len + n;
    if (need > sr->buf_cap) {
        size_t cap = sr->buf_cap ? sr->buf_cap : SR_MIN_CAP;
        while (cap < need) cap *= 2;
        if (cap > sr->max_unit) cap = sr->max_unit;
        if (cap < need) return -1; /* caller broke the bound: refuse */
        uint8_t *nb = realloc(sr->buf, cap);
        if (!nb) return -1;
        mem_charge(sr->acct, (int64_t)cap - (int64_t)sr->buf_cap);
        sr->buf = nb;
        sr->buf_cap = (uint32_t)cap;
    }
    if (sr->buf_len == 0) sr->buf_off = sr->chunk_off + sr->pos;
    memcpy(sr->buf + sr->buf_len, p, n);
    sr->buf_len = (uint32_t)need;
    if (sr->buf_len > sr->peak) sr->peak = sr->buf_len;
    return 0;
}

/* take n chunk bytes at pos into buf; on failure drop and flag a gap */
static int sr_keep(stream_reader_t *sr, size_t n)
{
    if (sr_append(sr, sr->chunk + sr->pos, n) != 0) {
        sr_drop_as_gap(sr);
        return -1;
    }
    sr->pos += n;
    return 0;
}

static void sr_reverse(uint8_t *a, size_t n)
{
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        uint8_t t = a[i];
        a[i] = a[j - 1];
        a[j - 1] = t;
    }
}

/* Hand out the first n (<= buf_len) kept bytes. The rest stays kept: the
 * buffer is rotated to [rest | unit] so the view survives until the next
 * call, which may overwrite it. */
static void sr_take_front(stream_reader_t *sr, size_t n, sr_view_t *v)
{
    size_t len = sr->buf_len;
    v->off = sr->buf_off;
    v->eol = 0;
    v->cut = 0;
    v->len = n;
    if (n == len) {
        v->p = sr->buf;
        sr->buf_len = 0;
        return;
    }
    sr_reverse(sr->buf, n);
    sr_reverse(sr->buf + n, len - n);
    sr_reverse(sr->buf, len);
    v->p = sr->buf + (len - n);
    sr->buf_len = (uint32_t)(len - n);
    sr->buf_off += n;
}

/* Finish skipping an over-long line; 1 while still skipping (chunk used up). */
static int sr_skip(stream_reader_t *sr)
{
    if (!sr->skipping) return 0;
    size_t rest = sr->chunk_len - sr->pos;
    const uint8_t *q = rest ? memchr(sr->chunk + sr->pos, '\n', rest) : NULL;
    if (!q) {
        sr->pos = sr->chunk_len;
        return 1;
    }
    sr->pos = (size_t)(q - sr->chunk) + 1;
    sr->skipping = 0;
    return 0;
}

/* common start of every read: pending gap, pending skip */
static inline int sr_begin(stream_reader_t *sr, sr_view_t *v)
{
    if (sr->gap) {
        sr->gap = 0;
        sr_none(sr, v);
        return SR_GAP;
    }
    if (sr->skipping && sr_skip(sr)) {
        sr_none(sr, v);
        return SR_MORE;
    }
    return -1;
}

void sr_push(stream_reader_t *sr, uint64_t off, const uint8_t *data, size_t len)
{
    sr_max(sr);
    if (!data) len = 0;
    uint64_t end = sr->chunk_off + sr->chunk_len;
    int fresh = sr->chunk == NULL && sr->chunk_off == 0 && sr->buf_len == 0 && !sr->gap;

    if (sr->pos < sr->chunk_len) { /* the decoder stopped early */
        if (!sr_skip(sr)) {
            size_t rest = sr->chunk_len - sr->pos;
            if (rest && (size_t)sr->buf_len + rest <= sr->max_unit)
                sr_keep(sr, rest);
            else if (rest)
                sr_drop_as_gap(sr);
        }
    }
    if (fresh) {
        end = off;
    } else if (off < end) { /* overlaps what was already pushed: drop that part */
        uint64_t dup = end - off;
        if (dup >= len) {
            len = 0;
        } else {
            data += dup;
            len -= (size_t)dup;
        }
        off = end;
    } else if (off > end) { /* bytes missing between chunks: implicit gap */
        sr->buf_len = 0;
        sr->skipping = 0;
        sr->gap = 1;
    }
    sr->chunk = len ? data : sr_empty;
    sr->chunk_len = len;
    sr->pos = 0;
    sr->chunk_off = off;
}

void sr_gap(stream_reader_t *sr, uint64_t off, uint64_t len)
{
    if (len == 0) { /* a cut */
        if (sr->buf_len) { /* a pending skip holds nothing: it goes on */
            sr->buf_len = 0;
            sr->gap = 1;
        }
        sr_free(sr);
        return;
    }
    uint64_t end = sr->chunk_off + sr->chunk_len;
    uint64_t after = off + len;
    if (after < end) after = end;
    sr->buf_len = 0;
    sr->skipping = 0;
    sr->gap = 1;
    sr->chunk = sr_empty;
    sr->chunk_len = 0;
    sr->pos = 0;
    sr->chunk_off = after;
}

void sr_eof(stream_reader_t *sr) { sr->eof = 1; }

/* a line of raw length n (without LF) at p, LF present */
static inline void sr_set_line(sr_view_t *v, const uint8_t *p, size_t n, uint64_t off)
{
    v->p = p;
    v->off = off;
    v->cut = 0;
    if (n && p[n - 1] == '\r') {
        v->len = n - 1;
        v->eol = 2;
    } else {
        v->len = n;
        v->eol = 1;
    }
}

static inline void sr_set_cut(stream_reader_t *sr, sr_view_t *v, const uint8_t *p,
                              uint64_t off)
{
    v->p = p;
    v->len = sr->max_unit;
    v->off = off;
    v->eol = 0;
    v->cut = 1;
}

int sr_line(stream_reader_t *sr, sr_view_t *v)
{
    int rc = sr_begin(sr, v);
    if (rc >= 0) return rc;
    uint32_t max = sr_max(sr);
    size_t rest = sr->chunk_len - sr->pos;

    if (sr->buf_len == 0) {
        /* fast path: the whole line inside the chunk, no copy */
        const uint8_t *p = rest ? sr->chunk + sr->pos : sr->chunk; /* never NULL + 0 */
        const uint8_t *q = rest ? memchr(p, '\n', rest) : NULL;
        uint64_t off = sr->chunk_off + sr->pos;
        if (q) {
            size_t n = (size_t)(q - p);
            sr->pos += n + 1;
            if (n <= max)
                sr_set_line(v, p, n, off);
            else
                sr_set_cut(sr, v, p, off); /* LF already passed: no skip */
            return SR_OK;
        }
        if (rest > max) { /* over-long partial line: cut now, skip the rest */
            sr_set_cut(sr, v, p, off);
            sr->pos += max;
            sr->skipping = 1;
            return SR_OK;
        }
        if (rest == 0) {
            sr_none(sr, v);
            return SR_MORE;
        }
        if (sr->eof) { /* final line without ending */
            v->p = p;
            v->len = rest;
            v->off = off;
            v->eol = 0;
            v->cut = 0;
            sr->pos = sr->chunk_len;
            return SR_OK;
        }
        if (sr_keep(sr, rest) != 0) {
            sr->gap = 0;
            sr_none(sr, v);
            return SR_GAP;
        }
        sr_none(sr, v);
        return SR_MORE;
    }

    /* a kept partial unit: it may itself hold a LF (kept by sr_bytes) */
    const uint8_t *lf = memchr(sr->buf, '\n', sr->buf_len);
    if (lf) {
        size_t n = (size_t)(lf - sr->buf);
        sr_take_front(sr, n + 1, v);
        sr_set_line(v, v->p, n, v->off);
        return SR_OK;
    }
    const uint8_t *p = sr->chunk + sr->pos;
    const uint8_t *q = rest ? memchr(p, '\n', rest) : NULL;
    size_t n = q ? (size_t)(q - p) : rest;
    if ((size_t)sr->buf_len + n > max) { /* over-long: fill to max, cut, skip */
        if (sr_keep(sr, max - sr->buf_len) != 0) {
            sr->gap = 0;
            sr_none(sr, v);
            return SR_GAP;
        }
        sr_set_cut(sr, v, sr->buf, sr->buf_off);
        sr->buf_len = 0;
        sr->skipping = 1;
        return SR_OK;
    }
    if (sr_keep(sr, n) != 0) {
        sr->gap = 0;
        sr_none(sr, v);
        return SR_GAP;
    }
    if (q) {
        sr->pos++; /* the LF */
        sr_set_line(v, sr->buf, sr->buf_len, sr->buf_off);
        sr->buf_len = 0;
        return SR_OK;
    }
    if (sr->eof) {
        v->p = sr->buf;
        v->len = sr->buf_len;
        v->off = sr->buf_off;
        v->eol = 0;
        v->cut = 0;
        sr->buf_len = 0;
        return SR_OK;
    }
    sr_none(sr, v);
    return SR_MORE;
}

int sr_bytes(stream_reader_t *sr, size_t n, sr_view_t *v)
{
    int rc = sr_begin(sr, v);
    if (rc >= 0) return rc;
    uint32_t max = sr_max(sr);
    if (n > max) n = max;
    size_t rest = sr->chunk_len - sr->pos;

    if (sr->buf_len == 0) {
        if (rest >= n) {
            v->p = sr->chunk + sr->pos;
            v->len = n;
            v->off = sr->chunk_off + sr->pos;
            v->eol = 0;
            v->cut = 0;
            sr->pos += n;
            return SR_OK;
        }
    }
    if (sr->buf_len < n) {
        size_t take = n - sr->buf_len;
        if (take > rest) take = rest;
        if (sr_keep(sr, take) != 0) {
            sr->gap = 0;
            sr_none(sr, v);
            return SR_GAP;
        }
        if (sr->buf_len < n) {
            sr_none(sr, v);
            return SR_MORE;
        }
    }
    sr_take_front(sr, n, v);
    return SR_OK;
}

int sr_some(stream_reader_t *sr, size_t max, sr_view_t *v)
{
    int rc = sr_begin(sr, v);
    if (rc >= 0) return rc;
    sr_max(sr);
    if (max == 0) {
        sr_none(sr, v);
        return SR_MORE;
    }
    if (sr->buf_len) {
        sr_take_front(sr, sr->buf_len < max ? sr->buf_len : max, v);
        return SR_OK;
    }
    size_t rest = sr->chunk_len - sr->pos;
    if (rest == 0) {
        sr_none(sr, v);
        return SR_MORE;
    }
    if (rest > max) rest = max;
    v->p = sr->chunk + sr->pos;
    v->len = rest;
    v->off = sr->chunk_off + sr->pos;
    v->eol = 0;
    v->cut = 0;
    sr->pos += rest;
    return SR_OK;
}

size_t sr_avail(const stream_reader_t *sr)
{
    return (size_t)sr->buf_len + (sr->chunk_len - sr->pos);
}

uint64_t sr_offset(const stream_reader_t *sr)
{
    return sr->buf_len ? sr->buf_off : sr->chunk_off + sr->pos;
}
