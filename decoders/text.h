/* text.h - small byte-string helpers shared by the decoders: case-insensitive
 * comparison with ASCII words, trimming, base64. Every function reads only
 * p[0..n). */
#ifndef DECODERS_TEXT_H
#define DECODERS_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline int txt_up(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
static inline int txt_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static inline int txt_is_ws(uint8_t c) { return c == ' ' || c == '\t'; }

/* p[0..n) starts with the word s, ignoring ASCII case */
static inline int txt_iprefix(const uint8_t *p, size_t n, const char *s) {
    size_t k = strlen(s);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if (txt_up(p[i]) != txt_up((uint8_t)s[i])) return 0;
    return 1;
}

/* p[0..n) is the word s, ignoring ASCII case */
static inline int txt_ieq(const uint8_t *p, size_t n, const char *s) {
    return strlen(s) == n && txt_iprefix(p, n, s);
}

/* the first place the word s stands in p[0..n), ignoring ASCII case, or NULL */
static inline const uint8_t *txt_isearch(const uint8_t *p, size_t n, const char *s) {
    size_t k = strlen(s);
    for (size_t i = 0; k && i + k <= n; i++)
        if (txt_iprefix(p + i, n - i, s)) return p + i;
    return NULL;
}

/* drop spaces and tabs at both ends */
static inline void txt_trim(const uint8_t **p, size_t *n) {
    while (*n && txt_is_ws((*p)[0])) (*p)++, (*n)--;
    while (*n && txt_is_ws((*p)[*n - 1])) (*n)--;
}

/* base64 digit values (RFC 4648 standard alphabet), -1 for other bytes */
extern const int8_t txt_b64[256];

/* Decode base64 p[0..n) into out, storing at most cap bytes. White space
 * (space, tab, CR, LF) is skipped; '=' padding may only be followed by more
 * padding or white space. Returns the decoded length (which may exceed cap:
 * the caller decides whether a cut value is of use), or -1 on a byte that is
 * not base64. */
long txt_b64_decode(const uint8_t *p, size_t n, uint8_t *out, size_t cap);

#endif
