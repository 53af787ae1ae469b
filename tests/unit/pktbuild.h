/* pktbuild.h - build Ethernet/IPv4|IPv6/TCP|UDP frames by hand for unit tests.
 *
 *   uint8_t buf[2048];
 *   size_t n = pb_tcp4(buf, "10.0.0.1", 1234, "10.0.0.2", 80, seq, ack, PB_SYN, "data", 4, 65535);
 *   eng_feed(e, ts, 1, buf, n, n);
 */
#ifndef PKTBUILD_H
#define PKTBUILD_H
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

enum { PB_FIN = 0x01, PB_SYN = 0x02, PB_RST = 0x04, PB_PSH = 0x08, PB_ACK = 0x10 };

static inline void pb_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void pb_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static inline uint16_t pb_ipsum(const uint8_t *p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Ethernet + IPv4 header; returns the offset of the transport header */
static inline size_t pb_eth_ip4(uint8_t *b, const char *src, const char *dst, uint8_t proto,
                                size_t l4len) {
    memset(b, 0, 34);
    b[12] = 0x08; b[13] = 0x00;
    uint8_t *ip = b + 14;
    ip[0] = 0x45;
    pb_be16(ip + 2, (uint16_t)(20 + l4len));
    ip[8] = 64;
    ip[9] = proto;
    inet_pton(AF_INET, src, ip + 12);
    inet_pton(AF_INET, dst, ip + 16);
    pb_be16(ip + 10, pb_ipsum(ip, 20));
    return 34;
}

static inline size_t pb_eth_ip6(uint8_t *b, const char *src, const char *dst, uint8_t proto,
                                size_t l4len) {
    memset(b, 0, 54);
    b[12] = 0x86; b[13] = 0xdd;
    uint8_t *ip = b + 14;
    ip[0] = 0x60;
    pb_be16(ip + 4, (uint16_t)l4len);
    ip[6] = proto;
    ip[7] = 64;
    inet_pton(AF_INET6, src, ip + 8);
    inet_pton(AF_INET6, dst, ip + 24);
    return 54;
}

static inline size_t pb_tcp_hdr(uint8_t *t, uint16_t sport, uint16_t dport, uint32_t seq,
                                uint32_t ack, uint8_t flags, uint16_t win) {
    memset(t, 0, 20);
    pb_be16(t, sport);
    pb_be16(t + 2, dport);
    pb_be32(t + 4, seq);
    pb_be32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    pb_be16(t + 14, win);
    return 20;
}

static inline size_t pb_tcp(uint8_t *b, int v6, const char *src, uint16_t sport, const char *dst,
                            uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                            const void *data, size_t len, uint16_t win) {
    size_t off = v6 ? pb_eth_ip6(b, src, dst, 6, 20 + len) : pb_eth_ip4(b, src, dst, 6, 20 + len);
    off += pb_tcp_hdr(b + off, sport, dport, seq, ack, flags, win);
    if (len) memcpy(b + off, data, len);
    return off + len;
}

static inline size_t pb_tcp4(uint8_t *b, const char *src, uint16_t sport, const char *dst,
                             uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                             const void *data, size_t len, uint16_t win) {
    return pb_tcp(b, 0, src, sport, dst, dport, seq, ack, flags, data, len, win);
}

static inline size_t pb_udp4(uint8_t *b, const char *src, uint16_t sport, const char *dst,
                             uint16_t dport, const void *data, size_t len) {
    size_t off = pb_eth_ip4(b, src, dst, 17, 8 + len);
    uint8_t *u = b + off;
    pb_be16(u, sport);
    pb_be16(u + 2, dport);
    pb_be16(u + 4, (uint16_t)(8 + len));
    u[6] = u[7] = 0;
    if (len) memcpy(u + 8, data, len);
    return off + 8 + len;
}

#endif
