/* link.c - the link layer: from a captured frame to its IP header.
 *
 * Ethernet (802.1Q / 802.1ad / 0x9100 tags stacked up to LINK_MAX_TAGS, the
 * outermost id kept; PPPoE session; MPLS), Linux cooked captures SLL and
 * SLL2, raw IP, BSD null and OpenBSD loop, Linux ARCnet. Frames that are not IP (ARP, LLDP,
 * 802.3 length frames, ...) are counted in stats.non_ip without a weird.
 */
#include <string.h>

#include "bytes.h"
#include "ip.h"

/* libpcap DLT / LINKTYPE values (pcap/dlt.h), spelt out so the numbers of
 * every platform are accepted: raw IP is 12 on most systems, 14 on OpenBSD
 * and LINKTYPE_RAW 101 in files */
enum {
    LT_NULL = 0,
    LT_EN10MB = 1,
    LT_RAW_12 = 12,
    LT_RAW_14 = 14,
    LT_RAW_101 = 101,
    LT_PPP = 9,
    LT_PPP_SERIAL = 50,
    LT_C_HDLC = 104,
    LT_NFLOG = 239,
    LT_LOOP = 108,
    LT_LINUX_SLL = 113,
    LT_ARCNET_LINUX = 129,
    LT_IPV4 = 228,
    LT_IPV6 = 229,
    LT_LINUX_SLL2 = 276,
};

#define LINK_MAX_TAGS 8   /* VLAN tags in one frame */
#define LINK_MAX_LABELS 8 /* MPLS labels in one frame */

static int non_ip(ipctx_t *c) {
    c->e->stats.non_ip++;
    return 0;
}

static int mpls(ipctx_t *c, bcur_t *cur) {
    for (int n = 0;; n++) {
        if (n >= LINK_MAX_LABELS)
            return ip_bad(c, "too_many_mpls_labels", "more than %d MPLS labels", LINK_MAX_LABELS);
        uint32_t lse = bc_be32(cur);
        if (cur->bad) return ip_trunc_header(c, "MPLS label %d cut short", n + 1);
        if (lse & 0x100) break; /* bottom of stack */
    }
    bcur_t t = *cur;
    uint8_t b = bc_u8(&t);
    if (t.bad) return ip_trunc_header(c, "nothing after the MPLS labels");
    if (b >> 4 == 4) return ip_decode(c, cur->p, cur->len, 4);
    if (b >> 4 == 6) return ip_decode(c, cur->p, cur->len, 6);
    return non_ip(c); /* pseudowire or other payload */
}

/* PPPoE session stage (RFC 2516): version/type, code, session id, length, then
 * the PPP protocol field, which a peer may send as one byte when protocol field
 * compression was negotiated (RFC 1661 6.5): a protocol number's first byte is
 * even and its last byte odd, so an odd first byte is the whole field */
static int ppp_proto(ipctx_t *c, bcur_t *cur, const char *what) {
    uint8_t b = bc_u8(cur);
    uint16_t proto = b & 1 ? b : (uint16_t)(b << 8 | bc_u8(cur));
    if (cur->bad) return ip_trunc_header(c, "%s cut short", what);
    if (proto == 0x0021) return ip_decode(c, cur->p, cur->len, 4);
    if (proto == 0x0057) return ip_decode(c, cur->p, cur->len, 6);
    return non_ip(c); /* LCP, IPCP, ... */
}

static int pppoe(ipctx_t *c, bcur_t *cur) {
    bc_skip(cur, 6); /* version/type, code, session id, length */
    if (cur->bad) return ip_trunc_header(c, "PPPoE session header cut short");
    return ppp_proto(c, cur, "PPPoE session header");
}

/* PPP (DLT_PPP) and PPP in HDLC-like framing (DLT_PPP_SERIAL, RFC 1662): the
 * address and control bytes 0xff 0x03 unless compressed away, then the
 * protocol; DLT_PPP_SERIAL may also carry Cisco HDLC (0x0f or 0x8f, 0x00, an
 * EtherType), as DLT_C_HDLC always does */
static int ethertype(ipctx_t *c, uint16_t type, bcur_t *cur);
static int ppp_frame(ipctx_t *c, bcur_t *cur, int serial) {
    bcur_t t = *cur;
    uint8_t a = bc_u8(&t), k = bc_u8(&t);
    if (t.bad) return ip_trunc_header(c, "PPP header cut short");
    if (serial && (a == 0x0f || a == 0x8f) && k == 0x00) {
        uint16_t type = bc_be16(&t);
        if (t.bad) return ip_trunc_header(c, "Cisco HDLC header cut short");
        return ethertype(c, type, &t);
    }
    if (a == 0xff && k == 0x03) *cur = t;
    return ppp_proto(c, cur, "PPP header");
}

/* Linux NFLOG (DLT_NFLOG): family, version, resource id, then TLVs whose length
 * and type are in the capturing host's order (little-endian here), each padded
 * to 4 bytes; NFULA_PAYLOAD (9) holds the IP packet */
static int nflog(ipctx_t *c, bcur_t *cur) {
    uint8_t family = bc_u8(cur);
    bc_skip(cur, 3);
    if (cur->bad) return ip_trunc_header(c, "NFLOG header cut short");
    for (int n = 0; n < 64 && cur->len >= 4; n++) {
        const uint8_t *h = cur->p;
        uint16_t len = (uint16_t)(h[0] | h[1] << 8), type = (uint16_t)(h[2] | h[3] << 8);
        if (len < 4 || len > cur->len) return ip_trunc_header(c, "NFLOG TLV of %u bytes, %zu left", len, cur->len);
        if ((type & 0x7fff) == 9) {
            if (family == 2) return ip_decode(c, h + 4, len - 4u, 4);
            if (family == 10) return ip_decode(c, h + 4, len - 4u, 6);
            return non_ip(c);
        }
        size_t step = ((size_t)len + 3) & ~(size_t)3;
        bc_skip(cur, step > cur->len ? cur->len : step);
    }
    if (c->cut || cur->len) return ip_trunc_header(c, "NFLOG message cut before its payload TLV");
    return ip_bad(c, "nflog_without_payload", "NFLOG message without the packet (NFULA_PAYLOAD)");
}

/* Linux ARCnet (libpcap DLT_ARCNET_LINUX): source, destination, a 2-byte offset,
 * the protocol id; RFC 1201 protocols add a split flag and a 2-byte sequence
 * number (Linux hands over reassembled packets, never exception frames), the
 * RFC 1051 ones (0xf0 IP, 0xf1 ARP) and diagnostics (0x80) do not */
static int arcnet_linux(ipctx_t *c, bcur_t *cur) {
    bc_skip(cur, 4);
    uint8_t proto = bc_u8(cur);
    if (cur->bad) return ip_trunc_header(c, "ARCnet header cut short");
    if (proto != 0xf0 && proto != 0xf1 && proto != 0x80) {
        bc_skip(cur, 3);
        if (cur->bad) return ip_trunc_header(c, "ARCnet RFC 1201 header cut short");
    }
    switch (proto) {
    case 0xf0: /* ARC_P_IP_RFC1051 */
    case 0xd4: return ip_decode(c, cur->p, cur->len, 4); /* ARC_P_IP */
    case 0xc4: return ip_decode(c, cur->p, cur->len, 6); /* ARC_P_IPV6 */
    default: return non_ip(c); /* ARP, RARP, IPX, ... */
    }
}

/* dispatch on an EtherType with cur at the bytes that follow it */
static int ethertype(ipctx_t *c, uint16_t type, bcur_t *cur) {
    for (int tags = 0;; tags++) {
        switch (type) {
        case 0x8100:
        case 0x88a8:
        case 0x9100: {
            if (tags >= LINK_MAX_TAGS)
                return ip_bad(c, "too_many_vlan_tags", "more than %d VLAN tags", LINK_MAX_TAGS);
            uint16_t tci = bc_be16(cur);
            type = bc_be16(cur);
            if (cur->bad) return ip_trunc_header(c, "VLAN tag %d cut short", tags + 1);
            if (!c->out->has_vlan) {
                c->out->vlan = tci & 0x0fff;
                c->out->has_vlan = 1;
            }
            continue;
        }
        case 0x0800: return ip_decode(c, cur->p, cur->len, 4);
        case 0x86dd: return ip_decode(c, cur->p, cur->len, 6);
        case 0x8864: return pppoe(c, cur);
        case 0x8847:
        case 0x8848: return mpls(c, cur);
        default: return non_ip(c); /* ARP, LLDP, 802.3 length/LLC, ... */
        }
    }
}

/* BSD null / loop: a 4-byte address family, in the capturing host's order for
 * null (either order may come), network order for loop */
static int null_family(ipctx_t *c, bcur_t *cur) {
    uint32_t v = bc_be32(cur);
    if (cur->bad) return ip_trunc_header(c, "null/loopback header: %zu of 4 bytes captured", cur->len);
    if (v > 0xffff) v = __builtin_bswap32(v); /* written little-endian */
    switch (v) {
    case 2: return ip_decode(c, cur->p, cur->len, 4);          /* AF_INET */
    case 24: case 28: case 30: return ip_decode(c, cur->p, cur->len, 6); /* AF_INET6: BSDs, macOS */
    default: return non_ip(c);
    }
}

int layers_decode_inner(eng_t *e, int inner, const uint8_t *p, uint32_t len, int cut, pkt_t *out) {
    memset(out, 0, sizeof *out);
    ipctx_t c = {e, out, cut, 0};
    bcur_t cur = bcur(p, p ? len : 0);
    if (inner == TUNNEL_INNER_IP) return ip_decode(&c, cur.p, cur.len, 0);
    if (inner == TUNNEL_INNER_ETHER) {
        bc_skip(&cur, 12); /* destination, source */
        uint16_t type = bc_be16(&cur);
        if (cur.bad) return ip_trunc_header(&c, "inner Ethernet header: %u of 14 bytes", len);
        return ethertype(&c, type, &cur);
    }
    return ethertype(&c, (uint16_t)inner, &cur);
}

int layers_decode(eng_t *e, int64_t ts, int linktype, const uint8_t *p, uint32_t caplen,
                  uint32_t wirelen, pkt_t *out) {
    memset(out, 0, sizeof *out);
    out->ts = ts;
    if (e->frags) frag_release(e->frags);
    ipctx_t c = {e, out, wirelen > caplen, 0};
    bcur_t cur = bcur(p, p ? caplen : 0);
    switch (linktype) {
    case LT_EN10MB: {
        bc_skip(&cur, 12); /* destination, source */
        uint16_t type = bc_be16(&cur);
        if (cur.bad) return ip_trunc_header(&c, "Ethernet header: %u of 14 bytes captured", caplen);
        return ethertype(&c, type, &cur);
    }
    case LT_LINUX_SLL: {
        bc_skip(&cur, 14); /* packet type, ARPHRD type, address length, address */
        uint16_t type = bc_be16(&cur);
        if (cur.bad) return ip_trunc_header(&c, "Linux cooked (SLL) header: %u of 16 bytes captured", caplen);
        return ethertype(&c, type, &cur);
    }
    case LT_LINUX_SLL2: {
        uint16_t type = bc_be16(&cur);
        bc_skip(&cur, 18); /* reserved, interface, ARPHRD type, packet type, address */
        if (cur.bad) return ip_trunc_header(&c, "Linux cooked (SLL2) header: %u of 20 bytes captured", caplen);
        return ethertype(&c, type, &cur);
    }
    case LT_RAW_12:
    case LT_RAW_14:
    case LT_RAW_101: return ip_decode(&c, cur.p, cur.len, 0);
    case LT_IPV4: return ip_decode(&c, cur.p, cur.len, 4);
    case LT_IPV6: return ip_decode(&c, cur.p, cur.len, 6);
    case LT_NULL:
    case LT_LOOP: return null_family(&c, &cur);
    case LT_ARCNET_LINUX: return arcnet_linux(&c, &cur);
    case LT_PPP: return ppp_frame(&c, &cur, 0);
    case LT_PPP_SERIAL: return ppp_frame(&c, &cur, 1);
    case LT_C_HDLC: {
        bc_skip(&cur, 2); /* address, control */
        uint16_t type = bc_be16(&cur);
        if (cur.bad) return ip_trunc_header(&c, "Cisco HDLC header: %u of 4 bytes captured", caplen);
        return ethertype(&c, type, &cur);
    }
    case LT_NFLOG: return nflog(&c, &cur);
    default: {
        /* counted, not a weird per packet: eng_finish writes one weird a link type with
         * its count, and the command line says it once (eng_unsupported_links) */
        e->stats.non_ip++;
        int i = 0;
        while (i < e->nunsup && e->unsup[i].linktype != linktype) i++;
        if (i == e->nunsup) {
            if (e->nunsup < ENG_UNSUP_LINKS) e->unsup[e->nunsup++].linktype = linktype;
            else i = ENG_UNSUP_LINKS - 1;
        }
        e->unsup[i].packets++;
        return 0;
    }
    }
}
