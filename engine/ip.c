/* ip.c - IPv4 and IPv6 headers: addresses, transport protocol, payload bounds.
 *
 * The payload handed on is cut at the IP length (never the frame length, so
 * Ethernet padding is not payload) and at the captured bytes; a frame cut by
 * the snaplen still goes on with l4_len < l4_wire. IPv6 extension headers are
 * walked (bounded); fragments go to frag.c. Checksums are verified only with
 * ip.checksum=verify (offloading makes captured checksums unreliable); packets
 * below ip.min_ttl are dropped.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>

#include "bytes.h"
#include "ip.h"

#define IP6_MAX_EXT 16 /* extension headers walked in one chain */

static void vreport(ipctx_t *c, const char *name, const char *fmt, va_list ap) {
    eng_vweird(c->e, NULL, __FILE__, name, fmt, ap);
}

int ip_trunc_header(ipctx_t *c, const char *fmt, ...) {
    if (c->reported) return 0;
    c->reported = 1;
    c->e->stats.truncated++;
    va_list ap;
    va_start(ap, fmt);
    vreport(c, "truncated_header", fmt, ap);
    va_end(ap);
    return 0;
}

static void trunc_packet(ipctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trunc_packet(ipctx_t *c, const char *fmt, ...) {
    if (c->reported) return;
    c->reported = 1;
    c->e->stats.truncated++;
    va_list ap;
    va_start(ap, fmt);
    vreport(c, "truncated_packet", fmt, ap);
    va_end(ap);
}

int ip_bad(ipctx_t *c, const char *name, const char *fmt, ...) {
    c->e->stats.ip_errors++;
    va_list ap;
    va_start(ap, fmt);
    vreport(c, name, fmt, ap);
    va_end(ap);
    return 0;
}

/* ---- checksums (ip.checksum, tcp.checksum) ------------------------------------ */

uint32_t ip_csum_add(uint32_t acc, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) acc += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1) acc += (uint32_t)p[n - 1] << 8;
    return acc;
}

uint16_t ip_csum_fold(uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

/* ip.min_ttl: a packet that expires before the host is not what the host got */
static int ttl_low(ipctx_t *c, unsigned ttl, const char *what) {
    uint64_t min = c->e->cfg.ip_min_ttl;
    if (!min || ttl >= min) return 0;
    eng_weird(c->e, NULL, "ip_ttl_below_min", "%s %u < ip.min_ttl %llu: packet dropped", what, ttl,
              (unsigned long long)min);
    return 1;
}

/* ---- IPv4 ------------------------------------------------------------------ */

static int ip4(ipctx_t *c, const uint8_t *p, size_t avail) {
    pkt_t *o = c->out;
    if (avail < 20)
        return ip_trunc_header(c, "IPv4 header: %zu of 20 bytes captured", avail);
    bcur_t h = bcur(p, avail);
    uint8_t vihl = bc_u8(&h);
    bc_skip(&h, 1); /* type of service */
    uint32_t tot = bc_be16(&h);
    uint16_t id = bc_be16(&h);
    uint16_t fo = bc_be16(&h);
    uint8_t ttl = bc_u8(&h);
    uint8_t proto = bc_u8(&h);
    bc_skip(&h, 2); /* checksum: verified below with ip.checksum=verify */
    bc_copy(&h, o->src, 4);
    bc_copy(&h, o->dst, 4);
    if (h.bad) return ip_trunc_header(c, "IPv4 header: %zu bytes captured", avail);
    o->family = 4;
    o->proto = proto;

    if (vihl >> 4 != 4) return ip_bad(c, "bad_ip_version", "IPv4 packet with version %u", vihl >> 4);
    uint32_t hl = (uint32_t)(vihl & 15) * 4;
    if (hl < 20) return ip_bad(c, "bad_ip_header_length", "IPv4 header length %u < 20", hl);
    if (tot == 0 && !c->cut && avail >= hl) {
        /* TCP segmentation offload: the kernel hands the capture a packet
         * whose length it fills in later */
        eng_weird(c->e, NULL, "ip_total_length_zero",
                  "IPv4 total length 0, using the %zu bytes of the frame", avail);
        tot = avail > 65535 ? 65535 : (uint32_t)avail;
    }
    if (tot < hl)
        return ip_bad(c, "bad_ip_length", "IPv4 total length %u < header length %u", tot, hl);
    if (hl > avail)
        return ip_trunc_header(c, "IPv4 header with options: %u bytes, %zu captured", hl, avail);
    if (c->e->cfg.ip_checksum && ip_csum_fold(ip_csum_add(0, p, hl)) != 0xffff)
        return ip_bad(c, "bad_ip_checksum", "IPv4 header checksum wrong: packet dropped (ip.checksum=verify)");
    if (ttl_low(c, ttl, "IPv4 TTL")) return 0;

    int truncated = 0;
    size_t have = tot; /* bytes of the datagram in the capture */
    if (tot > avail) {
        if (!c->cut)
            return ip_bad(c, "bad_ip_length", "IPv4 total length %u exceeds the %zu bytes of the frame",
                          tot, avail);
        truncated = 1;
        have = avail;
    }
    bcur_t pl = bcur(p, have);
    bc_skip(&pl, hl); /* options skipped */

    uint32_t off = (uint32_t)(fo & 0x1fff) * 8;
    int mf = (fo & 0x2000) != 0;
    if (off || mf) {
        if (truncated) {
            c->e->stats.frags++;
            trunc_packet(c, "IPv4 fragment (id %u, offset %u) cut by the snaplen: %zu of %u bytes captured",
                         id, off, have, tot);
            return 0;
        }
        if (!frag_add(c->e, o, id, off, mf, pl.p, (uint32_t)pl.len)) return 0;
        o->ip_len = hl + o->l4_wire;
        return 1;
    }
    o->ip_len = tot;
    o->l4 = pl.p;
    o->l4_len = (uint32_t)pl.len;
    o->l4_wire = tot - hl;
    if (truncated)
        trunc_packet(c, "IPv4 packet cut by the snaplen: %zu of %u bytes captured", have, tot);
    return 1;
}

/* ---- IPv6 ------------------------------------------------------------------ */

/* an extension header that does not fit in the bytes at hand */
static int ext_short(ipctx_t *c, int truncated, uint8_t nh, size_t need, size_t have, uint32_t wire) {
    if (truncated && need <= wire)
        return ip_trunc_header(c, "IPv6 extension header %u: %zu bytes, %zu captured", nh, need, have);
    return ip_bad(c, "bad_ipv6_ext_header",
                  "IPv6 extension header %u (%zu bytes) runs past the payload (%u bytes left)", nh,
                  need, wire);
}

/* walk the extension headers from next header nh over cur (wire: payload
 * bytes left on the wire; truncated: cur holds fewer); reassembled: cur is a
 * reassembled datagram (no second fragment header) */
static int ip6_ext(ipctx_t *c, uint8_t nh, bcur_t cur, uint32_t wire, int truncated, int reassembled) {
    pkt_t *o = c->out;
    for (int n = 0;; n++) {
        switch (nh) {
        case 0:   /* hop-by-hop options */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 51:  /* authentication header */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */ {
            if (n >= IP6_MAX_EXT)
                return ip_bad(c, "too_many_ipv6_ext_headers", "more than %d IPv6 extension headers",
                              IP6_MAX_EXT);
            bcur_t t = cur;
            uint8_t next = bc_u8(&t);
            uint8_t len = bc_u8(&t);
            if (t.bad) return ext_short(c, truncated, nh, 2, cur.len, wire);
            size_t size = nh == 51 ? ((size_t)len + 2) * 4 : ((size_t)len + 1) * 8;
            if (size > cur.len) return ext_short(c, truncated, nh, size, cur.len, wire);
            bc_skip(&cur, size);
            wire -= (uint32_t)size;
            nh = next;
            continue;
        }
        case 44: { /* fragment */
            if (n >= IP6_MAX_EXT)
                return ip_bad(c, "too_many_ipv6_ext_headers", "more than %d IPv6 extension headers",
                              IP6_MAX_EXT);
            bcur_t t = cur;
            uint8_t next = bc_u8(&t);
            bc_skip(&t, 1);
            uint16_t v = bc_be16(&t);
            uint32_t id = bc_be32(&t);
            if (t.bad) return ext_short(c, truncated, nh, 8, cur.len, wire);
            cur = t;
            wire -= 8;
            uint32_t off = v & 0xfff8u;
            int m = v & 1;
            if (off == 0 && !m) { /* atomic fragment: a whole datagram */
                nh = next;
                continue;
            }
            if (reassembled)
                return ip_bad(c, "ipv6_nested_fragment",
                              "a fragment header inside a reassembled IPv6 datagram (id %u)", id);
            if (truncated) {
                c->e->stats.frags++;
                trunc_packet(c, "IPv6 fragment (id %u, offset %u) cut by the snaplen: %zu of %u bytes captured",
                             id, off, cur.len, wire);
                return 0;
            }
            o->proto = next;
            if (!frag_add(c->e, o, id, off, m, cur.p, (uint32_t)cur.len)) return 0;
            o->ip_len = 40 + o->l4_len; /* extension headers before the fragment header not counted */
            return ip6_ext(c, next, bcur(o->l4, o->l4_len), o->l4_len, 0, 1);
        }
        default: /* a transport, ESP (50), no next header (59) or unknown: the end */
            o->proto = nh;
            o->l4 = cur.p;
            o->l4_len = (uint32_t)cur.len;
            o->l4_wire = wire;
            if (truncated)
                trunc_packet(c, "IPv6 packet cut by the snaplen: %zu of %u payload bytes captured",
                             cur.len, wire);
            return 1;
        }
    }
}

static int ip6(ipctx_t *c, const uint8_t *p, size_t avail) {
    pkt_t *o = c->out;
    if (avail < 40)
        return ip_trunc_header(c, "IPv6 header: %zu of 40 bytes captured", avail);
    bcur_t h = bcur(p, avail);
    uint32_t vtf = bc_be32(&h);
    uint32_t plen = bc_be16(&h);
    uint8_t nh = bc_u8(&h);
    uint8_t hop = bc_u8(&h);
    bc_copy(&h, o->src, 16);
    bc_copy(&h, o->dst, 16);
    if (h.bad) return ip_trunc_header(c, "IPv6 header: %zu bytes captured", avail);
    o->family = 6;
    o->proto = nh;
    if (vtf >> 28 != 6) return ip_bad(c, "bad_ip_version", "IPv6 packet with version %u", vtf >> 28);
    if (ttl_low(c, hop, "IPv6 hop limit")) return 0;
    if (plen == 0 && nh != 59)
        return ip_bad(c, "ipv6_jumbogram", "IPv6 payload length 0 (jumbogram, next header %u)", nh);
    int truncated = 0;
    size_t have = h.len;
    if (plen > have) {
        if (!c->cut)
            return ip_bad(c, "bad_ip_length", "IPv6 payload length %u exceeds the %zu bytes of the frame",
                          plen, have);
        truncated = 1;
    } else {
        have = plen;
    }
    o->ip_len = 40 + plen;
    return ip6_ext(c, nh, bcur(h.p, have), plen, truncated, 0);
}

int ip_decode(ipctx_t *c, const uint8_t *p, size_t avail, int version) {
    if (version == 0) {
        bcur_t h = bcur(p, avail);
        uint8_t b = bc_u8(&h);
        if (h.bad) return ip_trunc_header(c, "no IP header: 0 bytes captured");
        version = b >> 4;
        if (version != 4 && version != 6)
            return ip_bad(c, "bad_ip_version", "raw IP packet with version %d", version);
    }
    return version == 6 ? ip6(c, p, avail) : ip4(c, p, avail);
}
