/* tunnel.c - decapsulation: GRE (with ERSPAN types I, II and III, WCCP's
 * redirect header, and PPTP's enhanced GRE), VXLAN, Geneve and GTP-U.
 *
 * The outer packet is a flow of its own (the GRE "other" flow, the UDP flow
 * of VXLAN, Geneve or GTP-U, with service "gre", "vxlan", "geneve", "gtpv1");
 * after it has been counted, its payload's tunnel header is checked and
 * skipped, and the inner packet goes through the whole path again (link layer,
 * IP, fragments, flows, reassembly, decoders) by eng_transport, one level
 * deeper. Every read is bounds-checked by the byte cursor; a malformed header
 * is a named weird (gre_bad_header, erspan_bad_header, vxlan_bad_header,
 * geneve_bad_header, gtp_bad_header), one cut by the snaplen truncated_header,
 * and a packet nested deeper than tunnel.max_depth is tunnel_too_deep.
 *
 * Inner flows are keyed by their own 5-tuple plus pkt_t.tunnel_key: a keyed
 * hash of each enclosing level's kind, outer VLAN and outer address pair
 * taken in either order, so the same inner 5-tuple in two tunnels stays two
 * flows, while both directions of a tunnel give the same key: ports, VNIs
 * and TEIDs are left out (VXLAN and Geneve pick the source port per inner
 * flow, Open vSwitch uses one Geneve VNI a direction, GTP-U's TEIDs differ
 * per direction). The uids of the
 * enclosing flows become the inner flow's tunnel_parents.
 */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "internal.h"

#define GTP_MAX_EXT 16 /* GTP-U extension headers walked in one packet */

const char *tunnel_name(int kind) {
    switch (kind) {
    case TUN_GRE: return "gre";
    case TUN_VXLAN: return "vxlan";
    case TUN_GENEVE: return "geneve";
    case TUN_GTPU: return "gtpv1";
    default: return "";
    }
}

int tunnel_udp_kind(const eng_t *e, uint16_t orig_port, uint16_t resp_port) {
    if (!e->cfg.tunnel_decapsulate) return TUN_NONE;
    const uint64_t ports[3] = {e->cfg.tunnel_vxlan_port, e->cfg.tunnel_geneve_port,
                               e->cfg.tunnel_gtpu_port};
    const int kinds[3] = {TUN_VXLAN, TUN_GENEVE, TUN_GTPU};
    /* the responder's port first (the usual destination), then the originator's */
    for (int side = 0; side < 2; side++) {
        uint16_t p = side ? orig_port : resp_port;
        for (int i = 0; i < 3; i++)
            if (p && ports[i] == p) return kinds[i];
    }
    return TUN_NONE;
}

void tunnel_flow_init(eng_t *e, flow_t *f, int kind) {
    (void)e;
    if (kind == TUN_NONE) return;
    f->tunnel = (uint8_t)kind;
    f->detect_done = 1; /* no decoder: its payload is the inner packets */
    f->pub.service = tunnel_name(kind);
    snprintf(f->pub.services, sizeof f->pub.services, "%s", tunnel_name(kind));
}

/* the result of parsing a tunnel header */
typedef struct tun_hdr {
    int inner;      /* TUNNEL_INNER_IP, TUNNEL_INNER_ETHER or an EtherType; -1: nothing to decode */
    uint32_t off;   /* where the inner packet starts */
    uint32_t end;   /* where it ends (<= captured length) */
} tun_hdr_t;

typedef struct tun_ctx {
    eng_t *e;
    flow_t *f;
    int cut; /* the outer packet was cut by the snaplen */
} tun_ctx_t;

/* a header that does not fit: cut by the snaplen, or malformed */
static int short_hdr(tun_ctx_t *t, const char *bad, const char *what, size_t need, size_t have) {
    if (t->cut) {
        t->e->stats.truncated++;
        eng_weird(t->e, &t->f->pub, "truncated_header", "%s: %zu bytes, %zu captured", what, need, have);
    } else {
        eng_weird(t->e, &t->f->pub, bad, "%s: %zu bytes, %zu in the packet", what, need, have);
    }
    return -1;
}

/* PPP inside PPTP's enhanced GRE: optional address and control (ff 03), then
 * a protocol field of 1 byte (odd first byte: RFC 1661 protocol compression) or 2 */
static int gre_ppp(tun_ctx_t *t, bcur_t *c, tun_hdr_t *h, const uint8_t *p0) {
    bcur_t s = *c;
    if (bc_u8(&s) == 0xff && bc_u8(&s) == 0x03 && !s.bad) *c = s;
    uint8_t b = bc_u8(c);
    uint16_t proto = b & 1 ? b : (uint16_t)(b << 8 | bc_u8(c));
    if (c->bad) return short_hdr(t, "gre_bad_header", "PPP header in enhanced GRE", 2, c->len);
    h->off = (uint32_t)(c->p - p0);
    if (proto == 0x0021) h->inner = 0x0800;
    else if (proto == 0x0057) h->inner = 0x86dd;
    else {
        t->e->stats.non_ip++; /* LCP, CCP, compressed data, ...: not IP, as on a link */
        h->inner = -1;
    }
    return 0;
}

/* GRE (RFC 2784, RFC 2890 key and sequence number; version 1: RFC 2637), then
 * ERSPAN (type I without a header when the sequence bit is clear, II: 8 bytes,
 * III: 12, plus 8 with the platform-specific subheader) */
static int gre(tun_ctx_t *t, const uint8_t *p, uint32_t len, tun_hdr_t *h) {
    bcur_t c = bcur(p, len);
    uint16_t flags = bc_be16(&c);
    uint16_t proto = bc_be16(&c);
    if (c.bad) return short_hdr(t, "gre_bad_header", "GRE header", 4, len);
    int ver = flags & 7;
    int ck = (flags & 0x8000) != 0, key = (flags & 0x2000) != 0, seq = (flags & 0x1000) != 0;
    if (ver > 1) {
        eng_weird(t->e, &t->f->pub, "gre_bad_header", "GRE version %d", ver);
        return -1;
    }
    if (flags & 0x4800) { /* R and s: RFC 1701 source routing, deprecated by RFC 2784 */
        eng_weird(t->e, &t->f->pub, "gre_bad_header", "GRE with source routing (flags 0x%04x)", flags);
        return -1;
    }
    if (ver == 1 && (ck || !key || proto != 0x880b)) {
        eng_weird(t->e, &t->f->pub, "gre_bad_header",
                  "enhanced GRE (version 1) with flags 0x%04x, protocol 0x%04x", flags, proto);
        return -1;
    }
    size_t opt = (ck ? 4u : 0u) + (key ? 4u : 0u) + (seq ? 4u : 0u) +
                 (ver == 1 && (flags & 0x0080) ? 4u : 0u); /* acknowledgment number */
    if (opt > c.len) return short_hdr(t, "gre_bad_header", "GRE optional fields", 4 + opt, len);
    bc_skip(&c, opt);
    if (ver == 1) {
        if (!c.len) { /* an acknowledgment alone */
            h->inner = -1;
            return 0;
        }
        return gre_ppp(t, &c, h, p);
    }
    h->inner = proto;
    if (proto == 0x88be && seq) { /* ERSPAN type II */
        bcur_t s = c;
        uint8_t v = bc_u8(&s);
        bc_skip(&s, 7);
        if (s.bad) return short_hdr(t, "erspan_bad_header", "ERSPAN type II header", 8, c.len);
        if (v >> 4 != 1) {
            eng_weird(t->e, &t->f->pub, "erspan_bad_header", "ERSPAN type II with version %u", v >> 4);
            return -1;
        }
        c = s;
        h->inner = TUNNEL_INNER_ETHER;
    } else if (proto == 0x88be) { /* ERSPAN type I: the mirrored frame at once */
        h->inner = TUNNEL_INNER_ETHER;
    } else if (proto == 0x883e) { /* WCCP: a 4-byte redirect header, absent in WCCPv1 */
        bcur_t s = c;
        uint8_t v = bc_u8(&s);
        if (s.bad) return short_hdr(t, "gre_bad_header", "WCCP redirect header", 1, 0);
        if (v >> 4 != 4) {
            bc_skip(&c, 4);
            if (c.bad) return short_hdr(t, "gre_bad_header", "WCCP redirect header", 4, s.len + 1);
        }
        h->inner = TUNNEL_INNER_IP;
    } else if (proto == 0x22eb) { /* ERSPAN type III */
        bcur_t s = c;
        uint8_t v = bc_u8(&s);
        bc_skip(&s, 9); /* vlan, cos, bso, t, session id, timestamp, sgt */
        uint16_t w = bc_be16(&s);
        if (s.bad) return short_hdr(t, "erspan_bad_header", "ERSPAN type III header", 12, c.len);
        if (v >> 4 != 2) {
            eng_weird(t->e, &t->f->pub, "erspan_bad_header", "ERSPAN type III with version %u", v >> 4);
            return -1;
        }
        if (w & 1) { /* O: the platform-specific subheader follows */
            bc_skip(&s, 8);
            if (s.bad) return short_hdr(t, "erspan_bad_header", "ERSPAN type III subheader", 20, c.len);
        }
        int ft = (w >> 10) & 0x1f;
        if (ft != 0 && ft != 2) {
            eng_weird(t->e, &t->f->pub, "erspan_bad_header", "ERSPAN type III frame type %d", ft);
            return -1;
        }
        c = s;
        h->inner = ft == 0 ? TUNNEL_INNER_ETHER : TUNNEL_INNER_IP;
    }
    h->off = (uint32_t)(c.p - p);
    return 0;
}

/* VXLAN (RFC 7348): flags with I set, 24 reserved bits, the VNI, 8 reserved bits */
static int vxlan(tun_ctx_t *t, const uint8_t *p, uint32_t len, tun_hdr_t *h) {
    bcur_t c = bcur(p, len);
    uint8_t flags = bc_u8(&c);
    bc_skip(&c, 3);
    uint32_t vni = bc_be32(&c) >> 8;
    if (c.bad) return short_hdr(t, "vxlan_bad_header", "VXLAN header", 8, len);
    if (!(flags & 0x08)) {
        eng_weird(t->e, &t->f->pub, "vxlan_bad_header", "VXLAN flags 0x%02x without the VNI flag", flags);
        return -1;
    }
    (void)vni; /* not part of the key: Open vSwitch uses one VNI a direction */
    h->inner = TUNNEL_INNER_ETHER;
    h->off = 8;
    return 0;
}

/* Geneve (RFC 8926): version 0, options skipped by their total length */
static int geneve(tun_ctx_t *t, const uint8_t *p, uint32_t len, tun_hdr_t *h) {
    bcur_t c = bcur(p, len);
    uint8_t b0 = bc_u8(&c);
    bc_skip(&c, 1); /* O, C, reserved */
    uint16_t proto = bc_be16(&c);
    bc_skip(&c, 4); /* VNI (not part of the key, see vxlan), reserved */
    if (c.bad) return short_hdr(t, "geneve_bad_header", "Geneve header", 8, len);
    if (b0 >> 6 != 0) {
        eng_weird(t->e, &t->f->pub, "geneve_bad_header", "Geneve version %u", b0 >> 6);
        return -1;
    }
    size_t opt = (size_t)(b0 & 0x3f) * 4;
    if (opt > c.len) return short_hdr(t, "geneve_bad_header", "Geneve options", 8 + opt, len);
    h->inner = proto;
    h->off = 8 + (uint32_t)opt;
    return 0;
}

/* GTP-U (3GPP TS 29.281): version 1, protocol type 1, the optional sequence
 * number / N-PDU number / next extension type when E, S or PN is set, then the
 * extension headers (length in 4-byte units, next type in their last byte);
 * only a G-PDU (type 255) carries a packet */
static int gtpu(tun_ctx_t *t, const uint8_t *p, uint32_t len, tun_hdr_t *h) {
    bcur_t c = bcur(p, len);
    uint8_t b0 = bc_u8(&c);
    uint8_t type = bc_u8(&c);
    uint32_t mlen = bc_be16(&c);
    bc_skip(&c, 4); /* TEID */
    if (c.bad) return short_hdr(t, "gtp_bad_header", "GTP-U header", 8, len);
    if (b0 >> 5 != 1 || !(b0 & 0x10)) {
        eng_weird(t->e, &t->f->pub, "gtp_bad_header", "GTP version %u, protocol type %u on the GTP-U port",
                  b0 >> 5, (b0 >> 4) & 1);
        return -1;
    }
    if (mlen > c.len) {
        if (!t->cut) {
            eng_weird(t->e, &t->f->pub, "gtp_bad_header", "GTP-U length %u, %zu bytes follow the header",
                      mlen, c.len);
            return -1;
        }
    } else {
        c.len = mlen; /* bytes after the message are not part of it */
    }
    if (b0 & 0x07) {
        bc_skip(&c, 3); /* sequence number, N-PDU number */
        uint8_t next = bc_u8(&c);
        if (c.bad) return short_hdr(t, "gtp_bad_header", "GTP-U optional fields", 12, len);
        for (int n = 0; next; n++) {
            if (n >= GTP_MAX_EXT) {
                eng_weird(t->e, &t->f->pub, "gtp_bad_header", "more than %d GTP-U extension headers",
                          GTP_MAX_EXT);
                return -1;
            }
            bcur_t s = c;
            size_t elen = (size_t)bc_u8(&s) * 4;
            if (s.bad || elen > c.len)
                return short_hdr(t, "gtp_bad_header", "GTP-U extension header", elen ? elen : 1, c.len);
            if (!elen) {
                eng_weird(t->e, &t->f->pub, "gtp_bad_header", "GTP-U extension header of length 0");
                return -1;
            }
            bc_skip(&c, elen - 1);
            next = bc_u8(&c);
        }
    }
    h->inner = type == 255 ? TUNNEL_INNER_IP : -1; /* echo, error indication, end marker: no packet */
    h->off = (uint32_t)(c.p - p); /* c ends at the message's end, maybe before len */
    h->end = h->off + (uint32_t)c.len;
    return 0;
}

/* one enclosing level's share of the inner flows' key */
static uint64_t level_key(const eng_t *e, const pkt_t *o, int kind) {
    const uint8_t *a = o->src, *b = o->dst;
    if (memcmp(a, b, 16) > 0) {
        const uint8_t *x = a;
        a = b;
        b = x;
    }
    uint64_t w[4];
    memcpy(w, a, 16);
    memcpy(w + 2, b, 16);
    uint64_t h = hash_mix64(e->ft.key ^ o->tunnel_key ^ ((uint64_t)kind << 56) ^
                            ((uint64_t)(o->has_vlan ? o->vlan + 1u : 0) << 8) ^ o->family);
    for (int i = 0; i < 4; i++) h = hash_mix64(h ^ w[i]);
    return h ? h : 1;
}

void tunnel_input(eng_t *e, const pkt_t *outer, flow_t *f, int kind, const uint8_t *p,
                  uint32_t len, uint32_t wire) {
    tun_ctx_t t = {e, f, len < wire};
    uint64_t max = e->cfg.tunnel_max_depth < TUNNEL_MAX_DEPTH ? e->cfg.tunnel_max_depth : TUNNEL_MAX_DEPTH;
    if (outer->depth >= max) {
        eng_weird(e, &f->pub, "tunnel_too_deep", "%s inside %u tunnels (tunnel.max_depth %llu)",
                  tunnel_name(kind), outer->depth, (unsigned long long)max);
        return;
    }
    tun_hdr_t h = {-1, 0, len};
    int r = -1;
    switch (kind) {
    case TUN_GRE: r = gre(&t, p, len, &h); break;
    case TUN_VXLAN: r = vxlan(&t, p, len, &h); break;
    case TUN_GENEVE: r = geneve(&t, p, len, &h); break;
    case TUN_GTPU: r = gtpu(&t, p, len, &h); break;
    }
    if (r < 0 || h.inner < 0 || h.off > h.end || h.end > len) return;
    /* what the inner flows need of the outer flow, taken now: f may be evicted below */
    char parents[sizeof f->pub.tunnel_parents];
    const char *prev = outer->tunnel_parents ? outer->tunnel_parents : "";
    size_t pl = strlen(prev), ul = strlen(f->pub.uid);
    if (pl >= sizeof parents) pl = 0; /* cannot be: the outer's list came from such a buffer */
    memcpy(parents, prev, pl);
    if (pl + (pl ? 1 : 0) + ul < sizeof parents) { /* full: the outermost are kept */
        if (pl) parents[pl++] = ',';
        memcpy(parents + pl, f->pub.uid, ul);
        pl += ul;
    }
    parents[pl] = 0;
    uint64_t key = level_key(e, outer, kind);
    pkt_t q;
    if (!layers_decode_inner(e, h.inner, p + h.off, h.end - h.off, t.cut, &q)) return;
    q.ts = outer->ts;
    q.depth = (uint8_t)(outer->depth + 1);
    q.tunnel_key = key;
    q.tunnel_parents = parents;
    eng_transport(e, &q);
}
