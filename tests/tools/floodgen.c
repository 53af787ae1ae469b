/* floodgen - write a SYN flood capture quickly: N half-open TCP flows from
 * distinct sources, each a SYN and one data segment and nothing else,
 * interleaved with one long-lived HTTP session that keeps sending requests
 * through the flood (tests/e2e/test_flood.sh, docs/architecture.md).
 *
 *   floodgen [-n FLOWS] [-e EVERY] [-d HEX] OUT
 *
 *   -n FLOWS  flood flows (default 200000); flow i comes from 10.0.0.0 + i + 1
 *             (ports 1024 + i % 60000) to 192.168.0.1:443
 *   -e EVERY  the session sends a request after every EVERY flood flows (default
 *             10000); it is answered at once (200, 2-byte body)
 *   -d HEX    the flood's data segment (default 160301 0200: the first bytes of a
 *             TLS record header, which leave content detection undecided)
 *   OUT       output file, "-" for standard output
 *
 * The session is 172.16.0.1:40000 -> 192.168.0.2:80: a handshake before the
 * flood, request k (k = 1, 2, ...) "GET /req/k" after flood flow k*EVERY, and
 * a FIN exchange after the last flood flow. It has floor(FLOWS / EVERY)
 * requests, at least one. Packets are 1 us apart from 1700000000 s on;
 * Ethernet, IPv4, correct checksums, microsecond pcap. On standard error: the
 * number of flood flows and of requests.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *out;
static uint64_t now_us = 1700000000ull * 1000000ull;

static void put32le(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); b[2] = (uint8_t)(v >> 16); b[3] = (uint8_t)(v >> 24);
}
static void put16be(uint8_t *b, uint16_t v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static void put32be(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t)(v >> 24); b[1] = (uint8_t)(v >> 16); b[2] = (uint8_t)(v >> 8); b[3] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) s += (uint32_t)p[n - 1] << 8;
    return s;
}
static uint16_t fold(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

enum { F_FIN = 1, F_SYN = 2, F_PSH = 8, F_ACK = 16 };

/* one Ethernet/IPv4/TCP frame */
static void tcp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq,
                uint32_t ack, uint8_t flags, const uint8_t *data, size_t len) {
    uint8_t f[16 + 14 + 20 + 20 + 1500];
    if (len > 1500) len = 1500;
    size_t n = 14 + 20 + 20 + len;
    uint8_t *eth = f + 16, *ip = eth + 14, *th = ip + 20;
    memset(f, 0, 16 + 14 + 40);
    put32le(f, (uint32_t)(now_us / 1000000));
    put32le(f + 4, (uint32_t)(now_us % 1000000));
    put32le(f + 8, (uint32_t)n);
    put32le(f + 12, (uint32_t)n);
    now_us++;
    memcpy(eth, "\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00", 14);
    ip[0] = 0x45;
    put16be(ip + 2, (uint16_t)(20 + 20 + len));
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 6;
    put32be(ip + 12, src);
    put32be(ip + 16, dst);
    put16be(ip + 10, fold(sum16(ip, 20, 0)));
    put16be(th, sport);
    put16be(th + 2, dport);
    put32be(th + 4, seq);
    put32be(th + 8, ack);
    th[12] = 5 << 4;
    th[13] = flags;
    put16be(th + 14, 65535);
    if (len) memcpy(th + 20, data, len);
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    put16be(ph + 10, (uint16_t)(20 + len));
    put16be(th + 16, fold(sum16(th, 20 + len, sum16(ph, 12, 0))));
    fwrite(f, 1, 16 + n, out);
}

static int parse_hex(const char *s, uint8_t *o, size_t cap) {
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
              : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -2;
        if (v == -2) {
            if (*s == ' ' || *s == ':') continue;
            return -1;
        }
        if (hi < 0) { hi = v; continue; }
        if (n >= cap) return -1;
        o[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi >= 0 ? -1 : (int)n;
}

#define CLI 0xac100001u /* 172.16.0.1 */
#define SRV 0xc0a80002u /* 192.168.0.2 */

int main(int argc, char **argv) {
    unsigned long nflows = 200000, every = 10000;
    uint8_t data[1500];
    int dlen = parse_hex("1603010200", data, sizeof data);
    int i;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) nflows = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-e") && i + 1 < argc) every = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc) {
            if ((dlen = parse_hex(argv[++i], data, sizeof data)) < 0) {
                fprintf(stderr, "floodgen: bad hex for -d\n");
                return 2;
            }
        } else break;
    }
    if (i + 1 != argc || !every || nflows > 0xfffffffdul) {
        fprintf(stderr, "usage: floodgen [-n FLOWS] [-e EVERY] [-d HEX] OUT\n");
        return 2;
    }
    out = strcmp(argv[i], "-") ? fopen(argv[i], "wb") : stdout;
    if (!out) {
        perror(argv[i]);
        return 1;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    uint8_t gh[24];
    put32le(gh, 0xa1b2c3d4);
    gh[4] = 2; gh[5] = 0; gh[6] = 4; gh[7] = 0;
    memset(gh + 8, 0, 8);
    put32le(gh + 16, 65535);
    put32le(gh + 20, 1);
    fwrite(gh, 1, sizeof gh, out);

    /* the session's handshake */
    uint32_t cs = 1000, ss = 5000;
    tcp(CLI, 40000, SRV, 80, cs, 0, F_SYN, NULL, 0);
    tcp(SRV, 80, CLI, 40000, ss, cs + 1, F_SYN | F_ACK, NULL, 0);
    cs++, ss++;
    tcp(CLI, 40000, SRV, 80, cs, ss, F_ACK, NULL, 0);
    unsigned long req = 0;
    for (unsigned long k = 1; k <= nflows || !req; k++) {
        if (k <= nflows) {
            uint32_t src = 0x0a000000u + (uint32_t)k, isn = (uint32_t)k * 2654435761u;
            uint16_t sport = (uint16_t)(1024 + k % 60000);
            tcp(src, sport, 0xc0a80001u, 443, isn, 0, F_SYN, NULL, 0);
            tcp(src, sport, 0xc0a80001u, 443, isn + 1, 0, F_PSH | F_ACK, data, (size_t)dlen);
        }
        if (k % every == 0 || (k >= nflows && !req)) {
            char rq[128], rs[128];
            int rql = snprintf(rq, sizeof rq, "GET /req/%lu HTTP/1.1\r\nHost: flood.test\r\n\r\n", ++req);
            int rsl = snprintf(rs, sizeof rs, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            tcp(CLI, 40000, SRV, 80, cs, ss, F_PSH | F_ACK, (const uint8_t *)rq, (size_t)rql);
            cs += (uint32_t)rql;
            tcp(SRV, 80, CLI, 40000, ss, cs, F_PSH | F_ACK, (const uint8_t *)rs, (size_t)rsl);
            ss += (uint32_t)rsl;
            tcp(CLI, 40000, SRV, 80, cs, ss, F_ACK, NULL, 0);
        }
    }
    tcp(CLI, 40000, SRV, 80, cs, ss, F_FIN | F_ACK, NULL, 0);
    tcp(SRV, 80, CLI, 40000, ss, cs + 1, F_FIN | F_ACK, NULL, 0);
    tcp(CLI, 40000, SRV, 80, cs + 1, ss + 1, F_ACK, NULL, 0);
    if (fflush(out) || (out != stdout && fclose(out))) {
        perror(argv[i]);
        return 1;
    }
    fprintf(stderr, "floodgen: %lu flood flows, %lu requests\n", nflows, req);
    return 0;
}
