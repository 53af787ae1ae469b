/* mkpcap - write small hand-made pcap files for tests.
 *
 *   mkpcap [-n] [-b] [-l DLT] [-t SEC] [-x N] OUT PACKET...
 *
 *   -n      nanosecond timestamps (magic a1b23c4d); default microseconds
 *   -b      big-endian file; default little-endian
 *   -l DLT  link type (default 1, Ethernet)
 *   -t SEC  time of the first packet (default 1700000000); packet i is at SEC + i/10 s
 *   -x N    cut the last N bytes off the file (a capture cut mid-record)
 *   OUT     output file, "-" for standard output
 *
 * PACKET is either hex bytes ("0011aabb...", ':' and ' ' ignored) or
 *   udp:SRC:SPORT:DST:DPORT:PAYLOAD   an Ethernet/IPv4/UDP frame (payload as text)
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXPKT 65536

static int big;

static void put16(FILE *f, uint16_t v) {
    uint8_t b[2];
    if (big) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
    else { b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); }
    fwrite(b, 1, 2, f);
}

static void put32(FILE *f, uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[big ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    fwrite(b, 1, 4, f);
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_hex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        if (*s == ':' || *s == ' ') continue;
        int v = hexval((unsigned char)*s);
        if (v < 0) return -1;
        if (hi < 0) { hi = v; continue; }
        if (n >= cap) return -1;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi >= 0 ? -1 : (int)n;
}

static uint16_t ip_sum(const uint8_t *p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* udp:SRC:SPORT:DST:DPORT:PAYLOAD */
static int build_udp(const char *spec, uint8_t *out, size_t cap) {
    char src[64], dst[64];
    unsigned sp, dp;
    int off = 0;
    if (sscanf(spec, "udp:%63[^:]:%u:%63[^:]:%u:%n", src, &sp, dst, &dp, &off) != 4 || !off)
        return -1;
    const char *pay = spec + off;
    size_t plen = strlen(pay);
    size_t n = 14 + 20 + 8 + plen;
    if (n > cap || sp > 65535 || dp > 65535) return -1;
    struct in_addr a, b;
    if (inet_pton(AF_INET, src, &a) != 1 || inet_pton(AF_INET, dst, &b) != 1) return -1;
    memset(out, 0, 42);
    static const uint8_t eth[14] = {0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10, 8, 0};
    memcpy(out, eth, 14);
    uint8_t *ip = out + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + 8 + plen) >> 8);
    ip[3] = (uint8_t)(20 + 8 + plen);
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, &a, 4);
    memcpy(ip + 16, &b, 4);
    uint16_t s = ip_sum(ip, 20);
    ip[10] = (uint8_t)(s >> 8);
    ip[11] = (uint8_t)s;
    uint8_t *u = ip + 20;
    u[0] = (uint8_t)(sp >> 8); u[1] = (uint8_t)sp;
    u[2] = (uint8_t)(dp >> 8); u[3] = (uint8_t)dp;
    u[4] = (uint8_t)((8 + plen) >> 8); u[5] = (uint8_t)(8 + plen);
    memcpy(u + 8, pay, plen); /* checksum 0: none */
    return (int)n;
}

static int usage(void) {
    fprintf(stderr, "usage: mkpcap [-n] [-b] [-l DLT] [-t SEC] [-x N] OUT PACKET...\n");
    return 2;
}

int main(int argc, char **argv) {
    int nano = 0, c;
    unsigned long dlt = 1, cut = 0;
    unsigned long t0 = 1700000000UL;
    while ((c = getopt(argc, argv, "nbl:t:x:")) != -1) {
        switch (c) {
        case 'n': nano = 1; break;
        case 'b': big = 1; break;
        case 'l': dlt = strtoul(optarg, NULL, 0); break;
        case 't': t0 = strtoul(optarg, NULL, 0); break;
        case 'x': cut = strtoul(optarg, NULL, 0); break;
        default: return usage();
        }
    }
    if (optind >= argc) return usage();
    const char *out = argv[optind++];
    static uint8_t buf[1 << 20];
    FILE *m = fmemopen(buf, sizeof buf, "w");
    if (!m) { perror("fmemopen"); return 1; }
    put32(m, nano ? 0xa1b23c4d : 0xa1b2c3d4);
    put16(m, 2);
    put16(m, 4);
    put32(m, 0);
    put32(m, 0);
    put32(m, 262144);
    put32(m, (uint32_t)dlt);
    static uint8_t pkt[MAXPKT];
    for (int i = 0; optind < argc; i++, optind++) {
        const char *spec = argv[optind];
        int n = strncmp(spec, "udp:", 4) == 0 ? build_udp(spec, pkt, sizeof pkt)
                                               : parse_hex(spec, pkt, sizeof pkt);
        if (n < 0) {
            fprintf(stderr, "mkpcap: bad packet '%s'\n", spec);
            return 2;
        }
        put32(m, (uint32_t)(t0 + (unsigned long)i / 10));
        put32(m, (uint32_t)(i % 10) * (nano ? 100000000u : 100000u));
        put32(m, (uint32_t)n);
        put32(m, (uint32_t)n);
        if (fwrite(pkt, 1, (size_t)n, m) != (size_t)n) {
            fprintf(stderr, "mkpcap: output too large\n");
            return 1;
        }
    }
    long len = ftell(m);
    fclose(m);
    if (len < 0 || (unsigned long)len < cut) {
        fprintf(stderr, "mkpcap: cannot cut %lu bytes\n", cut);
        return 2;
    }
    len -= (long)cut;
    FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "wb");
    if (!f) { perror(out); return 1; }
    if (fwrite(buf, 1, (size_t)len, f) != (size_t)len || (f != stdout ? fclose(f) : fflush(f))) {
        perror(out);
        return 1;
    }
    return 0;
}
