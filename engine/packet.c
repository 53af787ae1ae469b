/* packet.c - the per-packet event `packet` (events.def, docs/lua.md): one
 * event for every frame fed to the instance, after the frame went through the
 * whole path (so its flow's events came first and its service is known).
 *
 * Free when nobody handles it: eng_feed() asks eng_wants() once per frame
 * and, when nobody subscribed, runs exactly the path it ran before. While a
 * frame is tracked (e->pkt_track), flow_lookup() records the flow of the
 * outermost packet and flow_end() takes a copy of its uid and services before
 * the flow is freed, so the event can name a flow the same packet ended (a
 * RST, a port reuse, an eviction). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "internal.h"

/* short names of the link types link.c decodes (pcap linktype numbers) */
static const char *link_name(int linktype) {
    switch (linktype) {
    case 0: return "null";
    case 1: return "eth";
    case 9: return "ppp";
    case 12: case 14: case 101: return "raw";
    case 50: return "ppp";
    case 104: return "chdlc";
    case 108: return "loop";
    case 113: return "sll";
    case 129: return "arcnet";
    case 228: return "ipv4";
    case 229: return "ipv6";
    case 239: return "nflog";
    case 276: return "sll2";
    default: return "link";
    }
}

void packet_flow_gone(eng_t *e, flow_t *f) {
    snprintf(e->pkt_uid, sizeof e->pkt_uid, "%s", f->pub.uid);
    const char *s = f->pub.services[0] ? f->pub.services : f->pub.service ? f->pub.service : "";
    snprintf(e->pkt_service, sizeof e->pkt_service, "%s", s);
    e->pkt_flow = NULL;
    e->pkt_gone = 1;
}

void packet_fire(eng_t *e, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                 const pkt_t *p, int decoded) {
    eng_event_t ev;
    char layers[64], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], flags[12], num[8];
    flow_t *f = e->pkt_flow;
    e->pkt_track = 0;
    e->pkt_flow = NULL;
    ev_init(&ev, ENG_EV_PACKET, f && !f->pub.skipped && !f->pub.ended ? &f->pub : NULL);
    ev_set(&ev, ENG_F_PACKET_number, ev_int((int64_t)e->stats.packets));
    ev_set(&ev, ENG_F_PACKET_ts, ev_num(ns_to_secs(e->pkt_ts)));
    ev_set(&ev, ENG_F_PACKET_caplen, ev_int(caplen));
    ev_set(&ev, ENG_F_PACKET_len, ev_int(wirelen));
    size_t n = (size_t)snprintf(layers, sizeof layers, "%s%s", link_name(linktype),
                                p->has_vlan ? ":vlan" : "");
    if (p->family == 4 || p->family == 6) {
        n += (size_t)snprintf(layers + n, sizeof layers - n, ":%s", p->family == 4 ? "ip" : "ip6");
        int af = p->family == 4 ? AF_INET : AF_INET6;
        if (inet_ntop(af, p->src, src, sizeof src) && inet_ntop(af, p->dst, dst, sizeof dst)) {
            ev_set(&ev, ENG_F_PACKET_src, ev_cstr(src));
            ev_set(&ev, ENG_F_PACKET_dst, ev_cstr(dst));
        }
        if (p->vlan || p->has_vlan) ev_set(&ev, ENG_F_PACKET_vlan, ev_int(p->vlan));
    }
    if (decoded) {
        const char *pn = eng_proto_name(p->proto);
        if (!pn) {
            snprintf(num, sizeof num, "%u", p->proto);
            pn = num;
        }
        if (n < sizeof layers)
            n += (size_t)snprintf(layers + n, sizeof layers - n, "%s:%s", p->fragmented ? "(frag)" : "", pn);
        ev_set(&ev, ENG_F_PACKET_proto, ev_cstr(pn));
        bcur_t c = bcur(p->l4, p->l4_len);
        if (p->proto == 6 && p->l4_len >= 20) {
            uint16_t sport = bc_be16(&c), dport = bc_be16(&c);
            bc_skip(&c, 8);
            uint8_t off = bc_u8(&c), fl = bc_u8(&c);
            uint32_t hlen = (uint32_t)(off >> 4) * 4;
            ev_set(&ev, ENG_F_PACKET_sport, ev_int(sport));
            ev_set(&ev, ENG_F_PACKET_dport, ev_int(dport));
            /* tcpdump's order: S F R P, then A U E C */
            static const struct { uint8_t bit; char c; } L[] = {
                {0x02, 'S'}, {0x01, 'F'}, {0x04, 'R'}, {0x08, 'P'},
                {0x10, 'A'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'C'}};
            size_t k = 0;
            for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
                if (fl & L[i].bit) flags[k++] = L[i].c;
            flags[k] = 0;
            ev_set(&ev, ENG_F_PACKET_flags, ev_str(flags, k, ENG_NO_OFFSET));
            if (hlen >= 20 && hlen <= p->l4_wire)
                ev_set(&ev, ENG_F_PACKET_payload, ev_int(p->l4_wire - hlen));
        } else if (p->proto == 17 && p->l4_len >= 8) {
            uint16_t sport = bc_be16(&c), dport = bc_be16(&c), ulen = bc_be16(&c);
            ev_set(&ev, ENG_F_PACKET_sport, ev_int(sport));
            ev_set(&ev, ENG_F_PACKET_dport, ev_int(dport));
            ev_set(&ev, ENG_F_PACKET_payload,
                   ev_int(ulen >= 8 && ulen <= p->l4_wire ? ulen - 8u : p->l4_wire - 8u));
        } else if (p->proto != 6 && p->proto != 17) {
            ev_set(&ev, ENG_F_PACKET_payload, ev_int(p->l4_wire));
        }
    }
    ev_set(&ev, ENG_F_PACKET_layers, ev_str(layers, n < sizeof layers ? n : sizeof layers - 1, ENG_NO_OFFSET));
    ev_set(&ev, ENG_F_PACKET_data, ev_str(frame, frame ? caplen : 0, ENG_NO_OFFSET));
    if (f) {
        const char *s = f->pub.services[0] ? f->pub.services : f->pub.service;
        ev_set(&ev, ENG_F_PACKET_uid, ev_cstr(f->pub.uid));
        if (s && *s) ev_set(&ev, ENG_F_PACKET_service, ev_cstr(s));
    } else if (e->pkt_gone) {
        ev_set(&ev, ENG_F_PACKET_uid, ev_cstr(e->pkt_uid));
        if (e->pkt_service[0]) ev_set(&ev, ENG_F_PACKET_service, ev_cstr(e->pkt_service));
    }
    e->pkt_gone = 0;
    eng_fire(e, &ev);
}
