/* base.c - keyed hashing, Zeek-style ids, addresses as text (base.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/random.h>

#include "base.h"

/* keyed per instance (random), so that crafted tuples cannot pile into one
 * bucket; no output depends on bucket order */
uint64_t hash_key(void) {
    uint64_t k = 0;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) k = (uint64_t)(uintptr_t)&k;
    return k | 1;
}

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* 96 bits derived from (seed, counter); each prefix its own series */
void make_id(char out[19], char prefix, uint64_t seed, uint64_t n) {
    if (prefix != 'C') seed ^= 0x46494c4553ULL * (uint8_t)prefix;
    uint64_t a = hash_mix64(seed * 0x9e3779b97f4a7c15ULL + n);
    uint64_t b = hash_mix64(a ^ (n << 1) ^ 0x5bd1e995);
    out[0] = prefix;
    for (int i = 1; i <= 17; i++) {
        uint64_t *w = i <= 10 ? &a : &b;
        out[i] = b62[*w % 62];
        *w /= 62;
    }
    out[18] = 0;
}

const char *ip_addr_str(int family, const uint8_t *a, char *buf, size_t len) {
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)len)) snprintf(buf, len, "?");
    return buf;
}
