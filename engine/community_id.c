/* community_id.c - the Community ID v1 of a flow (https://github.com/corelight/community-id-spec):
 * "1:" + base64(SHA-1(seed, addresses, protocol, ports)), the endpoints in a fixed order so
 * that both directions give the same id, and tools (Zeek, Suricata, Wireshark) agree on it.
 *
 * Hashed, in network byte order: seed (2 bytes), the smaller endpoint's address then the
 * other's (4 or 16 bytes each), the IP protocol (1 byte), a zero byte, then for TCP, UDP and
 * SCTP the smaller endpoint's port and the other's (2 bytes each). The smaller endpoint is the
 * one with the lower address, or at equal addresses the lower port. ICMP and ICMPv6, whose
 * "ports" are a type/code mapping, get no id here (NULL); other protocols hash no ports.
 */
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>

#include "engine.h"

const char *eng_flow_community_id(const eng_flow_t *f, unsigned seed, char *buf, size_t len) {
    if (!f || len < 30 || f->proto == 1 || f->proto == 58) return NULL;
    size_t alen = f->family == 6 ? 16 : 4;
    const uint8_t *a = f->orig_addr, *b = f->resp_addr;
    uint16_t pa = f->orig_port, pb = f->resp_port;
    int ports = f->proto == 6 || f->proto == 17 || f->proto == 132;
    int c = memcmp(a, b, alen);
    if (c > 0 || (c == 0 && ports && pa > pb)) {
        const uint8_t *t = a;
        a = b;
        b = t;
        uint16_t tp = pa;
        pa = pb;
        pb = tp;
    }
    uint8_t in[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    in[n++] = (uint8_t)(seed >> 8);
    in[n++] = (uint8_t)seed;
    memcpy(in + n, a, alen);
    n += alen;
    memcpy(in + n, b, alen);
    n += alen;
    in[n++] = f->proto;
    in[n++] = 0;
    if (ports) {
        in[n++] = (uint8_t)(pa >> 8);
        in[n++] = (uint8_t)pa;
        in[n++] = (uint8_t)(pb >> 8);
        in[n++] = (uint8_t)pb;
    }
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, n, in);
    sha1_digest(&ctx, sizeof d, d);
    memcpy(buf, "1:", 2);
    base64_encode_raw((char *)buf + 2, sizeof d, d); /* 28 characters, padded */
    buf[2 + BASE64_ENCODE_RAW_LENGTH(sizeof d)] = 0;
    return buf;
}
