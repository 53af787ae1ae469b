/* base.h - the ground floor of the core: keyed hashing, Zeek-style ids and
 * addresses as text. It depends on nothing else of the engine, so the flow
 * table (flow.c), the fragment table (frag.c) and the files framework
 * (files.c) all build on it without calling each other. */
#ifndef ENGINE_BASE_H
#define ENGINE_BASE_H

#include <stddef.h>
#include <stdint.h>

/* the finaliser of MurmurHash3: every hash of packet fields goes through it,
 * keyed by a per-instance random key (hash_key), so that crafted addresses
 * cannot pile into one bucket */
static inline uint64_t hash_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}
uint64_t hash_key(void); /* random (getrandom), odd */

/* a Zeek-style id: prefix ('C' flows, 'F' files) + 17 base-62 digits from
 * (seed, n): stable for the same input and seed, never from the clock */
void make_id(char out[19], char prefix, uint64_t seed, uint64_t n);

/* address as text (IPv4 dotted, IPv6 RFC 5952) into buf (>= 46 bytes);
 * family 4 or 6, IPv4 in the first 4 bytes of a */
const char *ip_addr_str(int family, const uint8_t *a, char *buf, size_t len);

#endif
