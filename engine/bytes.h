/* bytes.h - bounds-checked reads of untrusted bytes.
 *
 * Every read of packet data goes through a cursor that knows where the
 * captured bytes end. A read past the end does not happen: it sets the
 * cursor's `bad` flag and yields 0, so a parser reads a whole header and
 * checks once (`if (c.bad) -> truncated`). Nothing here dereferences a
 * pointer beyond p + len.
 */
#ifndef ENGINE_BYTES_H
#define ENGINE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct bcur {
    const uint8_t *p;
    size_t len; /* bytes left from p */
    int bad;    /* a read went past the end */
} bcur_t;

static inline bcur_t bcur(const uint8_t *p, size_t len) {
    bcur_t c = {p, len, 0};
    return c;
}
static inline int bc_has(const bcur_t *c, size_t n) { return !c->bad && c->len >= n; }
static inline void bc_skip(bcur_t *c, size_t n) {
    if (c->bad || c->len < n) { c->bad = 1; c->len = 0; return; }
    c->p += n; c->len -= n;
}
static inline uint8_t bc_u8(bcur_t *c) {
    if (c->bad || c->len < 1) { c->bad = 1; c->len = 0; return 0; }
    uint8_t v = c->p[0];
    c->p += 1; c->len -= 1;
    return v;
}
static inline uint16_t bc_be16(bcur_t *c) {
    if (c->bad || c->len < 2) { c->bad = 1; c->len = 0; return 0; }
    uint16_t v = (uint16_t)((c->p[0] << 8) | c->p[1]);
    c->p += 2; c->len -= 2;
    return v;
}
static inline uint16_t bc_le16(bcur_t *c) {
    if (c->bad || c->len < 2) { c->bad = 1; c->len = 0; return 0; }
    uint16_t v = (uint16_t)((c->p[1] << 8) | c->p[0]);
    c->p += 2; c->len -= 2;
    return v;
}
static inline uint32_t bc_be32(bcur_t *c) {
    if (c->bad || c->len < 4) { c->bad = 1; c->len = 0; return 0; }
    uint32_t v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
                 ((uint32_t)c->p[2] << 8) | c->p[3];
    c->p += 4; c->len -= 4;
    return v;
}
static inline uint32_t bc_le32(bcur_t *c) {
    if (c->bad || c->len < 4) { c->bad = 1; c->len = 0; return 0; }
    uint32_t v = ((uint32_t)c->p[3] << 24) | ((uint32_t)c->p[2] << 16) |
                 ((uint32_t)c->p[1] << 8) | c->p[0];
    c->p += 4; c->len -= 4;
    return v;
}
/* copy n bytes out (zero-filled on a short read) */
static inline void bc_copy(bcur_t *c, void *out, size_t n) {
    if (c->bad || c->len < n) { c->bad = 1; c->len = 0; memset(out, 0, n); return; }
    memcpy(out, c->p, n);
    c->p += n; c->len -= n;
}
/* a sub-cursor of the next n bytes (clamped; bad if fewer remain) */
static inline bcur_t bc_sub(bcur_t *c, size_t n) {
    bcur_t s = {c->p, 0, 0};
    if (c->bad || c->len < n) { s.len = c->bad ? 0 : c->len; s.bad = 1; c->bad = 1; c->len = 0; return s; }
    s.len = n;
    c->p += n; c->len -= n;
    return s;
}

/* fixed-offset reads into a buffer of known length (return 0 past the end) */
static inline uint16_t rd_be16(const uint8_t *p, size_t len, size_t at) {
    return at + 2 <= len ? (uint16_t)((p[at] << 8) | p[at + 1]) : 0;
}
static inline uint32_t rd_be32(const uint8_t *p, size_t len, size_t at) {
    return at + 4 <= len ? ((uint32_t)p[at] << 24) | ((uint32_t)p[at + 1] << 16) |
                               ((uint32_t)p[at + 2] << 8) | p[at + 3]
                         : 0;
}

/* ---- the line cursor: walking one line of text (a command, a header, a
 * status line) without reading past its end. Every call is bounds-checked;
 * none fails by reading out of range: at the end, peek gives -1, a token is
 * empty, expect and number fail.
 *
 *   lcur_t c = lcur(v.p, v.len);
 *   const uint8_t *verb; size_t vn = lc_token(&c, &verb);   // up to a blank
 *   lc_skip_blanks(&c);
 *   uint64_t code; if (!lc_uint(&c, &code, 999)) -> not a number
 */
typedef struct lcur {
    const uint8_t *p;
    size_t len; /* length of the line */
    size_t pos; /* next byte to read */
} lcur_t;

static inline lcur_t lcur(const uint8_t *p, size_t len) {
    lcur_t c = {p, len, 0};
    return c;
}
static inline int lc_eof(const lcur_t *c) { return c->pos >= c->len; }
static inline size_t lc_left(const lcur_t *c) { return c->pos < c->len ? c->len - c->pos : 0; }
/* the next byte, or -1 at the end */
static inline int lc_peek(const lcur_t *c) { return c->pos < c->len ? c->p[c->pos] : -1; }
/* the next byte consumed, or -1 at the end */
static inline int lc_get(lcur_t *c) { return c->pos < c->len ? c->p[c->pos++] : -1; }
static inline void lc_skip(lcur_t *c, size_t n) { c->pos = n < lc_left(c) ? c->pos + n : c->len; }
/* skip spaces and tabs; returns how many */
static inline size_t lc_skip_blanks(lcur_t *c) {
    size_t s = c->pos;
    while (c->pos < c->len && (c->p[c->pos] == ' ' || c->p[c->pos] == '\t')) c->pos++;
    return c->pos - s;
}
/* the next byte is ch: consume it and return 1; else 0 */
static inline int lc_expect(lcur_t *c, int ch) {
    if (c->pos < c->len && c->p[c->pos] == (uint8_t)ch) { c->pos++; return 1; }
    return 0;
}
/* bytes up to (not including) the next blank or the end; *t points at them */
static inline size_t lc_token(lcur_t *c, const uint8_t **t) {
    size_t s = c->pos;
    while (c->pos < c->len && c->p[c->pos] != ' ' && c->p[c->pos] != '\t') c->pos++;
    *t = c->p + s;
    return c->pos - s;
}
/* bytes up to (not including) the next ch, or to the end when there is none;
 * ch itself is not consumed */
static inline size_t lc_until(lcur_t *c, int ch, const uint8_t **t) {
    size_t s = c->pos;
    while (c->pos < c->len && c->p[c->pos] != (uint8_t)ch) c->pos++;
    *t = c->p + s;
    return c->pos - s;
}
/* the rest of the line */
static inline size_t lc_rest(lcur_t *c, const uint8_t **t) {
    *t = c->p + (c->pos < c->len ? c->pos : c->len);
    size_t n = lc_left(c);
    c->pos = c->len;
    return n;
}
/* decimal digits as a number no larger than max: the number of digits read,
 * or 0 (nothing consumed) when there is no digit or the value exceeds max */
static inline size_t lc_uint(lcur_t *c, uint64_t *v, uint64_t max) {
    size_t s = c->pos;
    uint64_t x = 0;
    while (c->pos < c->len && c->p[c->pos] >= '0' && c->p[c->pos] <= '9') {
        uint64_t d = (uint64_t)(c->p[c->pos] - '0');
        if (d > max || x > (max - d) / 10) { c->pos = s; return 0; }
        x = x * 10 + d;
        c->pos++;
    }
    if (c->pos == s) return 0;
    *v = x;
    return c->pos - s;
}

#endif
