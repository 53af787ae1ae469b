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

#endif
