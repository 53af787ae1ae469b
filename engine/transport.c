/* transport.c - a decoded IP packet (link.c, ip.c, frag.c) to its transport:
 * TCP to tcp.c, UDP to udp.c, any other protocol here (a flow and its
 * counters; GRE is a tunnel, tunnel.c). tunnel.c hands each inner packet back
 * to eng_transport, one level deeper. */
#include "internal.h"

static void other_input(eng_t *e, pkt_t *p) {
    int dir, created;
    flow_t *f = flow_lookup(e, p, 0, 0, &dir, &created);
    if (!f) return;
    if (created) tunnel_flow_init(e, f, p->proto == 47 && e->cfg.tunnel_decapsulate ? TUN_GRE : TUN_NONE);
    if (created && !flow_announce(e, f)) return;
    f->pub.last_ns = p->ts;
    f->pub.pkts[dir]++;
    f->pub.ip_bytes[dir] += p->ip_len;
    f->pub.bytes[dir] += p->l4_wire;
    flow_touch(e, f);
    if (f->tunnel && !f->pub.skipped && !f->pub.ended)
        tunnel_input(e, p, f, f->tunnel, p->l4, p->l4_len, p->l4_wire);
}

void eng_transport(eng_t *e, pkt_t *p) {
    switch (p->proto) {
    case 6: tcp_input(e, p); break;
    case 17: udp_input(e, p); break;
    default: other_input(e, p); break;
    }
}
