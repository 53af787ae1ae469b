/* tcp.c - TCP per flow: orientation, endpoint states, Zeek's history letters
 * and conn_state, and feeding each direction's reassembler.
 *
 * Endpoint states follow Zeek's analyzer (INACTIVE, SYN_SENT, SYN_ACK_SENT,
 * PARTIAL, ESTABLISHED, CLOSED, RESET); conn_state is derived from the pair
 * the way Zeek's conn.log defines it. History: upper case for the
 * originator, lower case for the responder, each letter once per direction,
 * except t/w/g which are repeated at the 1st, 10th, 100th... occurrence.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "decoder.h"
#include "internal.h"
#include "ip.h"

/* packets of a flow to wait before acknowledged-but-unseen bytes become a gap */
#define ACK_PATIENCE 16
/* ... and, past those packets, until ACK_PATIENCE_BYTES are buffered past the
 * hole or ACK_PATIENCE_NS have gone by: counted in packets alone, a capture
 * of small segments (or one re-segmented) gives up on a retransmission that
 * comes a few KB later */
#define ACK_PATIENCE_BYTES (16u * 1024u)
#define ACK_PATIENCE_NS 1000000000ll

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10, TH_URG = 0x20 };

/* bytes sent past the receiver's window kept per direction, in case the
 * receiver acknowledges them after all (the capture missed or reordered the
 * window update the sender had seen) */
#define HELD_MAX (64u * 1024u)
/* a sender farther past the receiver's window than the window itself (and than
 * this) is answering acknowledgements the capture does not show (lost, or the rest
 * of the flow is one-sided): from then on its direction's window is not judged */
#define WINDOW_BLIND (16u * 1024u)

/* weirds reported once per direction of a flow (tcp_half_t.weirded) */
enum { TW_WINDOW = 1, TW_MARGIN = 2, TW_ZWP = 4, TW_URG = 8, TW_RECISION = 16 };

/* repeated letters: recorded at occurrence 1, 10, 100, 1000... */
static void hist_count(flow_t *f, int dir, char c, uint32_t *n) {
    uint32_t k = ++*n;
    while (k >= 10 && k % 10 == 0) k /= 10;
    if (k == 1) flow_hist_add(f, dir, c);
}

/* ---- reassembly sink: from reasm.c to the stream sink (deliver.c) -------- */

/* Urgent bytes taken out of the stream (tcp.urgent oob or gap) are cut out
 * here, at delivery, where each byte passes once and in order: the
 * reassembler stays in sequence space. With oob the stream offsets after an
 * urgent byte are one lower (urg_removed), so the stream has no hole. */
static void sink_data(void *ctx, int dir, uint64_t off, const uint8_t *p, size_t len) {
    flow_t *f = ctx;
    tcp_half_t *h = &f->tcp[dir];
    uint32_t s0 = f->rd[dir].base_seq + (uint32_t)off;
    while (h->n_urg && len) {
        int32_t d = (int32_t)(h->urg_seq[0] - s0);
        if (d >= 0 && (uint64_t)d >= len) break; /* after this delivery */
        if (d >= 0) {
            size_t k = (size_t)d;
            if (k) deliver_data(f->eng, f, dir, off - h->urg_removed, p, k);
            if (f->eng->cfg.tcp_urgent == TCP_URG_GAP) deliver_gap(f->eng, f, dir, off + k - h->urg_removed, 1);
            else h->urg_removed++;
            p += k + 1;
            off += k + 1;
            len -= k + 1;
            s0 += (uint32_t)k + 1;
        }
        /* this urgent byte is passed (delivered now, or in an earlier gap) */
        h->n_urg--;
        memmove(h->urg_seq, h->urg_seq + 1, h->n_urg * sizeof h->urg_seq[0]);
    }
    if (len) deliver_data(f->eng, f, dir, off - h->urg_removed, p, len);
}

static void sink_gap(void *ctx, int dir, uint64_t off, uint64_t len) {
    flow_t *f = ctx;
    tcp_half_t *h = &f->tcp[dir];
    hist_count(f, dir, 'G', &h->n_gap);
    /* urgent bytes inside the gap are passed; with oob the host removed them */
    uint32_t s0 = f->rd[dir].base_seq + (uint32_t)off;
    uint64_t removed = 0;
    while (h->n_urg) {
        int32_t d = (int32_t)(h->urg_seq[0] - s0);
        if (d >= 0 && (uint64_t)d >= len) break; /* after the gap */
        if (d >= 0 && f->eng->cfg.tcp_urgent == TCP_URG_OOB) removed++;
        h->n_urg--;
        memmove(h->urg_seq, h->urg_seq + 1, h->n_urg * sizeof h->urg_seq[0]);
    }
    if (len > removed) deliver_gap(f->eng, f, dir, off - h->urg_removed, len - removed);
    h->urg_removed += removed;
}

static void sink_overlap(void *ctx, int dir, uint64_t off, uint64_t len, int conflict, int kept_new,
                         int delivered) {
    flow_t *f = ctx;
    eng_t *e = f->eng;
    const char *pol = reasm_policy_names[reasm_policy_of(&e->reasm, &f->rd[dir])];
    if (conflict)
        eng_weird(e, &f->pub, "tcp_overlap_conflict",
                  "%s bytes %llu-%llu (%llu) differ from the bytes %s; kept %s (policy %s)",
                  dir ? "resp" : "orig", (unsigned long long)off, (unsigned long long)(off + len - 1),
                  (unsigned long long)len, delivered ? "already delivered" : "buffered",
                  kept_new ? "new" : "old", pol);
    if (!eng_wants(e, ENG_EV_TCP_OVERLAP)) return;
    off -= f->tcp[dir].urg_removed < off ? f->tcp[dir].urg_removed : off;
    eng_event_t ev;
    ev_init(&ev, ENG_EV_TCP_OVERLAP, &f->pub);
    ev_set(&ev, ENG_F_TCP_OVERLAP_dir, ev_dir(dir));
    ev_set(&ev, ENG_F_TCP_OVERLAP_offset, ev_int((int64_t)off));
    ev_set(&ev, ENG_F_TCP_OVERLAP_len, ev_int((int64_t)len));
    ev_set(&ev, ENG_F_TCP_OVERLAP_conflict, ev_bool(conflict));
    ev_set(&ev, ENG_F_TCP_OVERLAP_kept, ev_cstr(kept_new ? "new" : "old"));
    ev_set(&ev, ENG_F_TCP_OVERLAP_policy, ev_cstr(pol));
    ev_set(&ev, ENG_F_TCP_OVERLAP_delivered, ev_bool(delivered));
    eng_fire(e, &ev);
}

static void sink_mem(void *ctx, int64_t delta) {
    flow_t *f = ctx;
    mem_charge(&f->mem, delta);
}

const reasm_sink_t tcp_reasm_sink = {sink_data, sink_gap, sink_overlap, sink_mem};

/* ---- endpoint states ----------------------------------------------------- */

static void set_state(tcp_half_t *h, uint8_t s) {
    if (h->state == s) return;
    h->prev_state = h->state;
    h->state = s;
}

static void update_states(flow_t *f, int dir, int flags, uint32_t plen) {
    tcp_half_t *me = &f->tcp[dir], *peer = &f->tcp[!dir];
    if (flags & TH_RST) {
        /* as Zeek: after a FIN exchange (both sides closed) a RST changes nothing */
        if (me->state == EP_CLOSED && peer->state == EP_CLOSED) return;
        set_state(me, EP_RESET);
        return;
    }
    if (me->state == EP_RESET) return;
    if (flags & TH_SYN) {
        if (flags & TH_ACK) {
            if (me->state == EP_INACTIVE || me->state == EP_SYN_SENT || me->state == EP_PARTIAL)
                set_state(me, EP_SYN_ACK_SENT);
        } else if (me->state == EP_INACTIVE || me->state == EP_PARTIAL) {
            set_state(me, EP_SYN_SENT);
        }
    } else if (flags & TH_ACK) {
        /* the handshake completes when a side that sent SYN or SYN-ACK acknowledges */
        if ((me->state == EP_SYN_SENT || me->state == EP_SYN_ACK_SENT) &&
            (peer->state == EP_SYN_SENT || peer->state == EP_SYN_ACK_SENT ||
             peer->state == EP_ESTABLISHED)) {
            set_state(me, EP_ESTABLISHED);
            if (peer->state == EP_SYN_SENT || peer->state == EP_SYN_ACK_SENT) set_state(peer, EP_ESTABLISHED);
        } else if (me->state == EP_INACTIVE) {
            set_state(me, EP_PARTIAL);
        }
    } else if (me->state == EP_INACTIVE && plen) {
        set_state(me, EP_PARTIAL);
    }
    if (flags & TH_FIN) {
        set_state(me, EP_CLOSED);
        /* as Zeek: the peer sent a FIN and then a RST: with this FIN it was a normal
         * termination after all (SF, not RSTO/RSTR) */
        if (peer->state == EP_RESET && peer->prev_state == EP_CLOSED) set_state(peer, EP_CLOSED);
    }
}

/* Zeek's conn_state from the two endpoint states */
const char *eng_flow_state(const eng_flow_t *pf) {
    const flow_t *f = (const flow_t *)pf;
    if (pf->proto == 17) {
        int o = pf->pkts[0] > 0, r = pf->pkts[1] > 0;
        return o ? (r ? "SF" : "S0") : (r ? "SHR" : "OTH");
    }
    if (pf->proto != 6) return "OTH";
    int os = f->tcp[0].state, rs = f->tcp[1].state;
    int o_inactive = os == EP_INACTIVE || os == EP_PARTIAL;
    int r_inactive = rs == EP_INACTIVE || rs == EP_PARTIAL;
    if (rs == EP_RESET) {
        if (os == EP_SYN_SENT || os == EP_SYN_ACK_SENT ||
            (os == EP_RESET && pf->bytes[0] == 0 && pf->bytes[1] == 0))
            return "REJ";
        return o_inactive ? "RSTRH" : "RSTR";
    }
    if (os == EP_RESET) {
        if (r_inactive) {
            /* history ^?S[^HAFGIQ]*R.*: a SYN, then a reset, nothing in between */
            const char *h = pf->history;
            if (*h == '^') h++;
            if (*h == 'S') {
                for (h++; *h && !strchr("HAFGIQ", *h); h++)
                    if (*h == 'R') return "RSTOS0";
            }
            return "OTH";
        }
        return "RSTO";
    }
    if (rs == EP_CLOSED && os == EP_CLOSED) return "SF";
    if (os == EP_CLOSED) return r_inactive ? "SH" : "S2";
    if (rs == EP_CLOSED) return o_inactive ? "SHR" : "S3";
    if (os == EP_SYN_SENT && rs == EP_INACTIVE) return "S0";
    if (os == EP_ESTABLISHED && rs == EP_ESTABLISHED) return "S1";
    return "OTH";
}

/* ---- packets ------------------------------------------------------------- */

/* the window scale option (kind 3) of a SYN's options, or -1 */
static int syn_wscale(const uint8_t *o, uint32_t n) {
    uint32_t i = 0;
    while (i < n) {
        uint8_t kind = o[i];
        if (kind == 0) break;
        if (kind == 1) { i++; continue; }
        if (i + 1 >= n) break;
        uint8_t len = o[i + 1];
        if (len < 2 || i + len > n) break;
        if (kind == 3 && len == 3) return o[i + 2] > 14 ? 14 : o[i + 2];
        i += len;
    }
    return -1;
}

/* A RST from dir is what its receiver accepts (RFC 793 and RFC 5961 both
 * drop one whose sequence number is outside the receive window): within the
 * window the receiver last advertised, from the sequence number it last
 * acknowledged. Unknown (the receiver never acknowledged): accepted. */
static int rst_in_window(const flow_t *f, int dir, uint32_t seq) {
    const tcp_half_t *rx = &f->tcp[!dir];
    if (!rx->ack_seen) return 1;
    uint64_t wnd = rx->last_win;
    if (rx->has_wscale && f->tcp[dir].has_wscale) wnd <<= rx->wscale;
    else if (!rx->syn || !f->tcp[dir].syn) wnd <<= 14; /* no handshake seen: the scale is unknown */
    if (wnd < 1) wnd = 1;
    int64_t d = (int32_t)(seq - rx->last_ack);
    return d >= -1 && (uint64_t)d <= wnd; /* -1: a RST at the FIN's sequence number */
}

/* ---- what the receiver accepts: window, zero-window probes, urgent data --- */

static int once(tcp_half_t *h, uint8_t bit) {
    if (h->weirded & bit) return 0;
    h->weirded |= bit;
    return 1;
}

/* the window scale of side rx's advertisements, or -1 while unknown (both
 * SYNs are needed: a side scales only when both offered the option) */
static int adv_scale(const flow_t *f, int rx) {
    if (!f->tcp[0].syn || !f->tcp[1].syn) return -1;
    return f->tcp[rx].has_wscale && f->tcp[!rx].has_wscale ? f->tcp[rx].wscale : 0;
}

/* side rx sent an ACK with window win: its right edge, kept at the highest
 * seen (a receiver must not shrink its window, RFC 9293 3.8.6; a sender may
 * fill what was once offered) */
static void note_edge(flow_t *f, int rx, uint32_t seq, uint32_t ack, uint16_t win, int syn) {
    int sc = adv_scale(f, rx);
    if (sc < 0) return;
    tcp_half_t *h = &f->tcp[rx];
    uint32_t edge = ack + (syn ? (uint32_t)win : (uint32_t)win << sc); /* a SYN's window is never scaled */
    /* as Zeek: only a packet not older than the one that set the window (by sequence
     * and ack number) can take it back; a reordered older one cannot */
    int newer = !h->has_edge || ((int32_t)(seq - h->win_seq) >= 0 && (int32_t)(ack - h->win_ack) >= 0);
    if (!newer) {
        if ((int32_t)(edge - h->win_edge) > 0) h->win_edge = edge;
        return;
    }
    h->win_seq = seq;
    h->win_ack = ack;
    if (h->has_edge && (int32_t)(h->win_edge - edge) >= (int32_t)(1u << sc) && once(h, TW_RECISION))
        eng_weird(f->eng, &f->pub, "window_recision",
                  "%s window edge moved back %u bytes (ack %u, window %u): the edge offered before is kept",
                  rx ? "resp" : "orig", (uint32_t)(h->win_edge - edge), ack, win);
    if (!h->has_edge || (int32_t)(edge - h->win_edge) > 0) h->win_edge = edge;
    h->has_edge = 1;
}

/* keep bytes [seq, seq+n) the receiver did not take (past its window) */
static void hold_bytes(tcp_half_t *h, uint32_t seq, const uint8_t *p, uint32_t n) {
    if (n > HELD_MAX) n = HELD_MAX;
    if (h->held && (int32_t)(seq - h->held_seq) >= 0 &&
        (int32_t)(seq + n - (h->held_seq + h->held_len)) <= 0)
        return; /* held already (sent again) */
    if (h->held && seq == h->held_seq + h->held_len) {
        if (h->held_len + n > HELD_MAX) return; /* full: the rest is a gap if acknowledged */
        uint8_t *b = realloc(h->held, h->held_len + n);
        if (!b) return;
        memcpy(b + h->held_len, p, n);
        h->held = b;
        h->held_len += n;
        return;
    }
    free(h->held);
    h->held = malloc(n);
    h->held_len = h->held ? n : 0;
    h->held_seq = seq;
    if (h->held) memcpy(h->held, p, n);
}

/* The receiver of tx's bytes acknowledged up to ack: a zero-window probe or
 * bytes past the window it covers were taken after all (the window had opened
 * at the host); what is still missing of them goes to the reassembler now.
 * Bytes the stream already has are not fed again. */
static void take_acked(reasm_ctx_t *rc, flow_t *f, int tx_dir, uint32_t ack) {
    tcp_half_t *tx = &f->tcp[tx_dir];
    reasm_dir_t *rd = &f->rd[tx_dir];
    uint32_t next = rd->base_seq + (uint32_t)rd->next;
    if (tx->has_zwp && (int32_t)(ack - tx->zwp_seq) > 0) {
        tx->has_zwp = 0;
        if (rd->started && !rd->closed && (int32_t)(tx->zwp_seq - next) >= 0)
            reasm_segment(rc, rd, tx->zwp_seq, &tx->zwp_byte, 1, 0);
        next = rd->base_seq + (uint32_t)rd->next;
    }
    if (tx->held && (int32_t)(ack - tx->held_seq) > 0) {
        uint32_t n = (uint32_t)(ack - tx->held_seq);
        if (n > tx->held_len) n = tx->held_len;
        uint32_t skip = (int32_t)(next - tx->held_seq) > 0 ? (uint32_t)(next - tx->held_seq) : 0;
        if (rd->started && !rd->closed && skip < n)
            reasm_segment(rc, rd, tx->held_seq + skip, tx->held + skip, n - skip, 0);
        tx->held_len -= n;
        tx->held_seq += n;
        if (tx->held_len) {
            memmove(tx->held, tx->held + n, tx->held_len);
        } else {
            free(tx->held);
            tx->held = NULL;
        }
    }
}

/* A segment's urgent pointer (URG flag): with tcp.urgent oob or gap, the byte
 * before the pointer (RFC 6093 3.1: the pointer is the byte after the urgent
 * data, as hosts implement it) is noted, to be cut out at delivery. It may lie
 * in a later segment. At most 4 pending per direction; more stay inline. */
static void note_urgent(eng_t *e, flow_t *f, int dir, uint32_t seq, uint32_t dlen, uint16_t urp) {
    tcp_half_t *h = &f->tcp[dir];
    reasm_dir_t *rd = &f->rd[dir];
    int pol = e->cfg.tcp_urgent;
    if (once(h, TW_URG))
        eng_weird(e, &f->pub, "tcp_urgent_data", "%s segment of %u bytes with the URG flag, urgent pointer %u (tcp.urgent=%s)",
                  dir ? "resp" : "orig", dlen, urp,
                  pol == TCP_URG_DROP ? "drop: segment ignored" : pol == TCP_URG_OOB ? "oob: the urgent byte removed"
                  : pol == TCP_URG_GAP ? "gap: the urgent byte is a gap" : "inline: kept in the stream");
    if ((pol != TCP_URG_OOB && pol != TCP_URG_GAP) || urp == 0) return;
    uint32_t u = seq + urp - 1;
    if (rd->started && (int32_t)(u - (rd->base_seq + (uint32_t)rd->next)) < 0) return; /* passed */
    int i = 0;
    while (i < h->n_urg && (int32_t)(u - h->urg_seq[i]) > 0) i++;
    if (i < h->n_urg && h->urg_seq[i] == u) return; /* sent again */
    if (h->n_urg == 4) return;
    memmove(h->urg_seq + i + 1, h->urg_seq + i, (size_t)(h->n_urg - i) * sizeof u);
    h->urg_seq[i] = u;
    h->n_urg++;
}

/* every byte before this direction's FIN delivered (or no FIN offset known) */
static int fin_complete(const reasm_dir_t *rd) {
    return !rd->has_fin || rd->closed || rd->next >= rd->fin_off;
}

/* the TCP checksum over the pseudo-header and the whole segment */
static int tcp_checksum_ok(const pkt_t *p) {
    uint32_t acc = 0;
    uint8_t ph[8] = {0};
    if (p->family == 4) {
        acc = ip_csum_add(acc, p->src, 4);
        acc = ip_csum_add(acc, p->dst, 4);
        ph[1] = 6;
        ph[2] = (uint8_t)(p->l4_len >> 8);
        ph[3] = (uint8_t)p->l4_len;
        acc = ip_csum_add(acc, ph, 4);
    } else {
        acc = ip_csum_add(acc, p->src, 16);
        acc = ip_csum_add(acc, p->dst, 16);
        ph[0] = (uint8_t)(p->l4_len >> 24);
        ph[1] = (uint8_t)(p->l4_len >> 16);
        ph[2] = (uint8_t)(p->l4_len >> 8);
        ph[3] = (uint8_t)p->l4_len;
        ph[7] = 6;
        acc = ip_csum_add(acc, ph, 8);
    }
    return ip_csum_fold(ip_csum_add(acc, p->l4, p->l4_len)) == 0xffff;
}

void tcp_input(eng_t *e, pkt_t *p) {
    if (p->l4_len < 20) {
        eng_weird(e, NULL, "truncated_tcp_header", "%u bytes captured", p->l4_len);
        e->stats.truncated++;
        return;
    }
    bcur_t c = bcur(p->l4, p->l4_len);
    uint16_t sport = bc_be16(&c), dport = bc_be16(&c);
    uint32_t seq = bc_be32(&c), ack = bc_be32(&c);
    uint8_t off = bc_u8(&c), flags = bc_u8(&c);
    uint16_t win = bc_be16(&c);
    uint32_t hlen = (uint32_t)(off >> 4) * 4;
    if (hlen < 20 || hlen > p->l4_len) {
        eng_weird(e, NULL, hlen < 20 ? "bad_tcp_header_len" : "truncated_tcp_header",
                  "data offset %u, %u bytes captured", hlen, p->l4_len);
        return;
    }
    const uint8_t *payload = p->l4 + hlen;
    uint32_t plen = p->l4_len - hlen;
    if (e->cfg.tcp_checksum && p->l4_len == p->l4_wire && !tcp_checksum_ok(p)) {
        /* the host drops it (off by default: offloading leaves partial checksums) */
        eng_weird(e, NULL, "bad_tcp_checksum", "%u bytes, seq %u: segment dropped (tcp.checksum=verify)",
                  plen, seq);
        return;
    }
    e->stats.tcp_segments++;

    int dir, created;
    flow_t *f = flow_lookup(e, p, sport, dport, &dir, &created);
    if (!f) return;
    /* port reuse: a new SYN on a closed connection starts a new flow */
    if (!created && (flags & (TH_SYN | TH_ACK)) == TH_SYN && f->closing &&
        !(dir == ENG_ORIG && f->tcp[0].syn && seq == f->tcp[0].isn)) {
        flow_end(e, f, f->tcp[0].state == EP_RESET || f->tcp[1].state == EP_RESET ? "reset" : "closed");
        f = flow_lookup(e, p, sport, dport, &dir, &created);
        if (!f) return;
    }
    if (created) {
        /* the SYN sender is the originator; a SYN-ACK seen first flips; without a
         * handshake, a packet from a well-known port to a high one is the server's */
        int flip = (flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) ||
                   (!(flags & TH_SYN) && port_well_known(sport) && !port_well_known(dport));
        if (flip) {
            flow_flip(f);
            dir = ENG_RESP;
            flow_hist_add(f, ENG_ORIG, '^');
        }
        if (!flow_announce(e, f)) return; /* a handler ended it */
    }
    e->cur_flow = f;
    f->pub.last_ns = p->ts;
    f->pub.pkts[dir]++;
    f->pub.ip_bytes[dir] += p->ip_len;
    flow_touch(e, f);

    tcp_half_t *me = &f->tcp[dir];
    if ((flags & TH_RST) && !rst_in_window(f, dir, seq)) {
        /* the host drops it: so does the flow (an evasion: a RST the target ignores would
         * end our flow and hide what follows) */
        eng_weird(e, &f->pub, "tcp_rst_out_of_window", "%s RST seq %u, receiver acknowledged %u, window %u",
                  dir ? "resp" : "orig", seq, f->tcp[!dir].last_ack, f->tcp[!dir].last_win);
        e->cur_flow = NULL;
        flow_settle(e, f);
        return;
    }
    if ((flags & TH_SYN) && !me->has_wscale) {
        int ws = syn_wscale(p->l4 + 20, hlen - 20);
        if (ws >= 0) {
            me->wscale = (uint8_t)ws;
            me->has_wscale = 1;
        }
    }
    if (flags & TH_ACK) me->last_win = win;
    /* history */
    if ((flags & TH_SYN) && (flags & (TH_FIN | TH_RST))) flow_hist_once(f, dir, 'Q');
    else if ((flags & TH_FIN) && (flags & TH_RST)) flow_hist_once(f, dir, 'I');
    if (flags & TH_SYN) flow_hist_once(f, dir, (flags & TH_ACK) ? 'H' : 'S');
    if ((flags & TH_ACK) && !(flags & (TH_SYN | TH_FIN | TH_RST)) && !plen) flow_hist_once(f, dir, 'A');
    if (plen) flow_hist_once(f, dir, 'D');
    if (flags & TH_FIN) flow_hist_once(f, dir, 'F');
    if (flags & TH_RST) flow_hist_once(f, dir, 'R');
    if (!win && !(flags & TH_RST)) hist_count(f, dir, 'W', &me->n_zero);

    if (flags & TH_SYN) {
        if (!me->syn) {
            me->isn = seq;
            me->syn = 1;
        }
        if (flags & TH_ACK) me->synack = 1;
    }
    if ((flags & TH_ACK) && !(flags & TH_RST)) note_edge(f, dir, seq, ack, win, flags & TH_SYN);
    update_states(f, dir, flags, plen);

    if (!f->pub.skipped) {
        reasm_ctx_t *rc = &e->reasm;
        /* conflicts with delivered bytes: tcp.overlap events and tcp_overlap_conflict
         * weirds; a direction's ring is started only once its peer has sent a packet,
         * so that a flood of one-way flows (SYN and data, never answered) costs none */
        rc->keep_hist = e->cfg.tcp_delivered_overlaps &&
                        (eng_wants(e, ENG_EV_TCP_OVERLAP) || eng_wants(e, ENG_EV_WEIRD)) &&
                        f->pub.pkts[!dir] != 0;
        e->busy++;
        uint64_t rexmit = rc->retransmitted;
        if (flags & TH_SYN) reasm_syn(rc, &f->rd[dir], seq);
        uint32_t dlen = plen; /* payload bytes to reassemble */
        if ((flags & (TH_SYN | TH_ACK)) == TH_SYN && plen) {
            /* data on a SYN: the host takes it only with TCP Fast Open, which its
             * SYN-ACK tells by acknowledging it; until then it waits here */
            if (!me->syn_data && !f->tcp[!dir].synack) {
                me->syn_len = plen > 65535 ? 65535 : (uint16_t)plen;
                me->syn_data = malloc(me->syn_len);
                if (me->syn_data) memcpy(me->syn_data, payload, me->syn_len);
                eng_weird(e, &f->pub, "tcp_syn_with_data",
                          "%u bytes on the SYN: delivered only if the SYN-ACK acknowledges them", plen);
            }
            dlen = 0;
        }
        if ((flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) && f->tcp[!dir].syn_data) {
            tcp_half_t *peer = &f->tcp[!dir];
            if (ack == peer->isn + 1 + peer->syn_len)
                reasm_segment(rc, &f->rd[!dir], peer->isn + 1, peer->syn_data, peer->syn_len, 0);
            else
                eng_weird(e, &f->pub, "tcp_syn_data_not_acked",
                          "the SYN-ACK acknowledges none of the SYN's %u bytes: not delivered (the "
                          "client sends them again)", peer->syn_len);
            free(peer->syn_data);
            peer->syn_data = NULL;
        }
        int rflags = ((flags & TH_SYN) ? REASM_SYN : 0) | ((flags & TH_FIN) ? REASM_FIN : 0) |
                     ((flags & TH_RST) ? REASM_RST : 0);
        int feed = 1;
        if (dlen && !(flags & (TH_SYN | TH_RST))) {
            /* what the receiver takes of this segment */
            tcp_half_t *rx = &f->tcp[!dir];
            if ((flags & TH_URG) && p->l4_len >= 20) {
                note_urgent(e, f, dir, seq, dlen, (uint16_t)(p->l4[18] << 8 | p->l4[19]));
                if (e->cfg.tcp_urgent == TCP_URG_DROP) feed = 0;
            }
            int sc = adv_scale(f, !dir);
            if (!feed) {
            } else if (rx->win0 && rx->ack_seen && dlen == 1 && !(flags & TH_FIN) &&
                       (int32_t)(seq - rx->last_ack) >= 0) {
                /* a zero-window probe: the host drops it (no room); kept until
                 * acknowledged (the window had opened after all) */
                me->has_zwp = 1;
                me->zwp_seq = seq;
                me->zwp_byte = payload[0];
                rc->probes++;
                dlen = 0;
                if (once(me, TW_ZWP))
                    eng_weird(e, &f->pub, "tcp_zero_window_probe",
                              "%s 1-byte segment seq %u into a zero window: not stream data unless acknowledged",
                              dir ? "resp" : "orig", seq);
            } else if (sc >= 0 && rx->has_edge && !me->no_window && (int32_t)(seq + dlen - rx->win_edge) > 0) {
                /* past the window the receiver offered: within 2^scale bytes (the
                 * advertised window's granularity) delivered; beyond, not stream
                 * data unless the receiver acknowledges it */
                uint32_t past = (uint32_t)(seq + dlen - rx->win_edge);
                uint32_t offered = (int32_t)(rx->win_edge - rx->last_ack) > 0 ? rx->win_edge - rx->last_ack : 0;
                if (past > WINDOW_BLIND && past > offered) {
                    me->no_window = 1;
                    if (me->held) take_acked(rc, f, dir, me->held_seq + me->held_len);
                    eng_weird(e, &f->pub, "tcp_packet_out_of_window",
                              "%s seq %u, %u bytes past the window the receiver offered: the capture misses "
                              "its acknowledgements, the window of this direction is no longer judged",
                              dir ? "resp" : "orig", seq, past);
                } else if (past <= (1u << sc)) {
                    if (once(me, TW_MARGIN))
                        eng_weird(e, &f->pub, "tcp_data_within_window_margin",
                                  "%s %u bytes past the window (margin %u bytes): delivered",
                                  dir ? "resp" : "orig", past, 1u << sc);
                } else {
                    uint32_t keep = (int32_t)(rx->win_edge - seq) > 0 ? (uint32_t)(rx->win_edge - seq) : 0;
                    if (keep > dlen) keep = dlen;
                    hold_bytes(me, seq + keep, payload + keep, dlen - keep);
                    if (once(me, TW_WINDOW))
                        eng_weird(e, &f->pub, "tcp_packet_out_of_window",
                                  "%s seq %u, %u bytes, %u past the window the receiver offered (acknowledged %u, window %u): "
                                  "those bytes are not stream data unless acknowledged",
                                  dir ? "resp" : "orig", seq, dlen, dlen - keep < past ? dlen - keep : past,
                                  rx->last_ack, rx->last_win);
                    dlen = keep;
                    rflags &= ~REASM_FIN; /* past the window too */
                }
            }
        }
        /* the peer's mid-stream hold ends when this side speaks: keeps the order */
        if (plen || (flags & (TH_FIN | TH_RST))) reasm_settle(rc, &f->rd[!dir]);
        if (feed && (plen || (flags & (TH_SYN | TH_FIN))))
            reasm_segment(rc, &f->rd[dir], seq, payload, dlen, rflags);
        if ((flags & TH_ACK) && !(flags & TH_RST) && (f->tcp[!dir].has_zwp || f->tcp[!dir].held))
            take_acked(rc, f, !dir, ack);
        if (rc->retransmitted != rexmit) hist_count(f, dir, 'T', &me->n_rexmit);
        if ((flags & TH_ACK) && f->rd[!dir].started && !(flags & TH_RST) &&
            reasm_ack(rc, &f->rd[!dir], ack) && !f->tcp[!dir].ack_wait) {
            f->tcp[!dir].ack_wait = 1;
            f->tcp[!dir].ack_wait_at = f->rd[!dir].next;
            f->tcp[!dir].ack_wait_ns = p->ts;
        }
        /* Bytes the peer acknowledged but we have not seen: the capture may
         * deliver them a little later (taps merge directions out of order), so
         * they become a gap only once their sender has sent ACK_PATIENCE more
         * packets without them and ACK_PATIENCE_BYTES past them (or a second
         * has gone by) - or when the flow is flushed. */
        tcp_half_t *h = &f->tcp[dir];
        reasm_dir_t *rd = &f->rd[dir];
        if (h->ack_wait) {
            if (rd->acked <= rd->next) {
                h->ack_wait = 0;
            } else if (rd->next != h->ack_wait_at) {
                h->ack_wait = 1; /* progress: a new hole, wait afresh */
                h->ack_wait_at = rd->next;
                h->ack_wait_ns = p->ts;
            } else if (rd->segs && (h->ack_wait < UINT16_MAX ? ++h->ack_wait : h->ack_wait) > ACK_PATIENCE &&
                       (rd->ooo_bytes >= ACK_PATIENCE_BYTES ||
                        (p->ts > h->ack_wait_ns && p->ts - h->ack_wait_ns >= ACK_PATIENCE_NS))) {
                /* counted only while the sender is past the hole (bytes buffered) */
                reasm_ack_gaps(rc, rd);
                h->ack_wait = 0;
            }
        }
        if (flags & TH_RST) {
            /* A direction holding bytes past a hole keeps them: a tap that
             * merges directions out of order may show the segment filling it
             * after the RST (the host got it before). The short closed
             * timeout, or the flow's end, flushes it (tcp_flow_end). */
            for (int k = 0; k < 2; k++)
                if (!f->rd[k].segs) reasm_flush(rc, &f->rd[k]);
        }
        e->busy--;
    } else {
        f->pub.bytes[dir] += plen;
    }
    me->win0 = !win && !(flags & TH_RST);
    if (flags & TH_ACK) {
        me->last_ack = ack;
        me->ack_seen = 1;
    }
    if (flags & TH_FIN) me->fin = 1;
    if (flags & TH_RST) me->rst = 1;

    if (!f->closing && (me->state == EP_RESET ||
                        (f->tcp[0].state == EP_CLOSED && f->tcp[1].state == EP_CLOSED)))
        f->closing = 1;
    /* Closed: the short flow.tcp_closed_timeout - but after FINs only once the
     * bytes before both FINs are all here; until then the FIN was reordered
     * ahead of data (or the data is lost) and the flow waits, like any open
     * one, for the stragglers (flow.tcp_timeout; the end flushes the holes) */
    if (f->closing && f->tclass != TO_TCP_CLOSED &&
        (f->tcp[0].state == EP_RESET || f->tcp[1].state == EP_RESET ||
         (fin_complete(&f->rd[0]) && fin_complete(&f->rd[1]))))
        flow_set_class(e, f, TO_TCP_CLOSED);
    e->cur_flow = NULL;
    flow_settle(e, f);
}

void tcp_flow_end(eng_t *e, flow_t *f) {
    if (f->pub.skipped) return;
    e->busy++;
    reasm_flush(&e->reasm, &f->rd[0]);
    reasm_flush(&e->reasm, &f->rd[1]);
    e->busy--;
}
