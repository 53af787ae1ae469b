/* udp.c - a UDP datagram: header checks, its flow (orientation by server
 * port when the first datagram is a reply), counters, then the payload to the
 * stream sink (deliver.c) or, for a tunnel's flow, to tunnel.c. */
#include "bytes.h"
#include "internal.h"

void udp_input(eng_t *e, pkt_t *p) {
    if (p->l4_len < 8) {
        eng_weird(e, NULL, "truncated_udp_header", "%u bytes captured", p->l4_len);
        e->stats.truncated++;
        return;
    }
    bcur_t c = bcur(p->l4, p->l4_len);
    uint16_t sport = bc_be16(&c), dport = bc_be16(&c), ulen = bc_be16(&c);
    uint32_t plen = p->l4_len - 8;
    int dir, created;
    flow_t *f = flow_lookup(e, p, sport, dport, &dir, &created);
    if (!f) return;
    e->stats.udp_datagrams++;
    if (created && port_well_known(sport) && !port_well_known(dport)) {
        /* the first datagram comes from a server port (a reply, the query
         * not captured): the receiver is the originator, as for TCP */
        flow_flip(f);
        dir = ENG_RESP;
        flow_hist_add(f, ENG_ORIG, '^');
    }
    if (created) tunnel_flow_init(e, f, tunnel_udp_kind(e, f->pub.orig_port, f->pub.resp_port));
    if (created && !flow_announce(e, f)) return;
    if (ulen < 8 || ulen > p->l4_wire) {
        eng_weird(e, &f->pub, "bad_udp_length", "length field %u, %u bytes in IP", ulen, p->l4_wire);
    } else if (ulen - 8u < plen) {
        plen = ulen - 8u; /* trailing bytes beyond the UDP length */
    }
    e->cur_flow = f;
    f->pub.last_ns = p->ts;
    f->pub.pkts[dir]++;
    f->pub.ip_bytes[dir] += p->ip_len;
    f->pub.bytes[dir] += (ulen >= 8 ? ulen - 8u : plen);
    if (plen) flow_hist_once(f, dir, 'D');
    flow_touch(e, f);
    if (!f->pub.skipped) deliver_datagram(e, f, dir, p->l4 + 8, plen);
    e->cur_flow = NULL;
    flow_settle(e, f);
    /* a tunnel: the inner packet goes through the whole path (f may end there) */
    if (f->tunnel && !f->pub.skipped && !f->pub.ended)
        tunnel_input(e, p, f, f->tunnel, p->l4 + 8, plen,
                     ulen >= 8 && ulen <= p->l4_wire ? ulen - 8u : p->l4_wire - 8u);
}
