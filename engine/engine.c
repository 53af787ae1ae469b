/* engine.c - an instance: its life cycle, network time (ticks, timeouts,
 * wake-ups), the path of one packet from the wire to the transport layer, and
 * the delivery of reassembled stream bytes to events and decoders.
 *
 *   eng_feed -> layers_decode (link.c, ip.c, frag.c)
 *            -> tcp_input (tcp.c) -> flow_lookup (flow.c) -> reasm_segment (reasm.c)
 *                 -> eng_stream_data -> tcp.data event, decoder->data
 *            -> udp_input -> udp.data event, decoder->datagram
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "decoder.h"
#include "files.h"
#include "internal.h"

eng_t *eng_new(void) {
    eng_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    cfg_defaults(&e->cfg);
    flow_table_init(&e->ft);
    reasm_ctx_init(&e->reasm, &tcp_reasm_sink);
    e->reasm.max_ooo = e->cfg.tcp_max_ooo_bytes;
    e->reasm.max_total = e->cfg.tcp_max_total_bytes;
    e->mem.limit = e->cfg.memcap;
    e->reasm.overlap_policy = e->cfg.tcp_overlap;
    e->frags = frag_new();
    if (!e->frags) {
        free(e);
        return NULL;
    }
    return e;
}

void eng_start(eng_t *e) {
    if (e->started) return;
    e->started = 1;
    if (eng_wants(e, ENG_EV_ENGINE_INIT)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_ENGINE_INIT, NULL);
        eng_fire(e, &ev);
    }
}

/* the earliest time something is due (a tick or the wake-up): moving the
 * clock to a time before it is one compare */
static void update_due(eng_t *e) {
    e->next_due = e->wakeup_at && e->wakeup_at < e->next_tick ? e->wakeup_at : e->next_tick;
}

static void fire_wakeup(eng_t *e) {
    while (e->wakeup_at && e->now >= e->wakeup_at) {
        void (*fn)(eng_t *, void *) = e->wakeup_fn;
        e->wakeup_at = 0;
        update_due(e);
        if (fn) fn(e, e->wakeup_user); /* may set the next wake-up */
    }
}

static void fire_tick(eng_t *e) {
    if (eng_wants(e, ENG_EV_ENGINE_TICK)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_ENGINE_TICK, NULL);
        ev_set(&ev, ENG_F_ENGINE_TICK_ts, ev_num((double)(e->next_tick / NS_PER_SEC)));
        eng_fire(e, &ev);
    }
    e->next_tick += NS_PER_SEC;
    update_due(e);
}

/* Of a silence longer than this, only the start is stepped through. */
#define STEP_WINDOW_NS (3600 * NS_PER_SEC)

/* Everything due before ts, in time order: each engine.tick (one per second)
 * and each wake-up (the Lua timers), with `now` at its due time; flows and
 * fragments whose timeout has passed by then end first. A tick and a wake-up
 * due at the same time: the tick first. Only the first STEP_WINDOW_NS of a
 * longer silence is stepped: the ticks of the rest are not fired, and the
 * wake-ups due in the rest run at ts (set_time), like the timers of Zeek when
 * network time jumps. The work of one move is so bounded by what an hour of
 * traffic costs, whatever the gap. */
static void step_to(eng_t *e, int64_t ts) {
    int64_t limit = ts - e->now > STEP_WINDOW_NS ? e->now + STEP_WINDOW_NS : ts;
    while (e->next_due <= limit) {
        int64_t t = e->next_due;
        if (t > e->now) e->now = t; /* a wake-up set for the past runs now */
        flow_expire(e);
        frag_expire(e, e->now);
        if (t == e->next_tick) fire_tick(e);
        else fire_wakeup(e);
    }
    if (ts > limit && e->next_tick <= ts) { /* the rest of a long silence: no ticks */
        e->next_tick = (ts / NS_PER_SEC + 1) * NS_PER_SEC;
        update_due(e);
    }
}

/* move network time forward: ticks, flow and fragment timeouts, wake-ups */
static void set_time(eng_t *e, int64_t ts) {
    if (ts <= e->now) return;
    if (!e->now) { /* the first packet: ticks start at the next second */
        e->now = ts;
        e->next_tick = (ts / NS_PER_SEC + 1) * NS_PER_SEC;
        update_due(e);
    }
    if (ts >= e->next_due) step_to(e, ts);
    e->now = ts;
    flow_expire(e);
    frag_expire(e, e->now);
    fire_wakeup(e);
}

void eng_advance(eng_t *e, int64_t ts) {
    if (!e->started) eng_start(e);
    if (e->finished) return;
    set_time(e, ts);
}

int64_t eng_now(const eng_t *e) { return e->now; }

void eng_set_wakeup(eng_t *e, int64_t at, void (*fn)(eng_t *, void *), void *user) {
    e->wakeup_at = at;
    e->wakeup_fn = fn;
    e->wakeup_user = user;
    update_due(e);
}

/* ---- transport ----------------------------------------------------------- */

static void detect(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len,
                   int udp);

int port_well_known(uint16_t p) {
    if (p > 0 && p < 1024) return 1;
    if (!p) return 0;
    for (int i = 0; i < eng_decoder_count(); i++)
        for (const uint16_t *pp = eng_decoder_at(i)->ports; pp && *pp; pp++)
            if (*pp == p) return 1;
    return 0;
}

static void udp_input(eng_t *e, pkt_t *p) {
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
    if (!f->pub.skipped) {
        const uint8_t *data = p->l4 + 8;
        if (eng_wants(e, ENG_EV_UDP_DATA)) {
            eng_event_t ev;
            ev_init(&ev, ENG_EV_UDP_DATA, &f->pub);
            ev_set(&ev, ENG_F_UDP_DATA_dir, ev_dir(dir));
            ev_set(&ev, ENG_F_UDP_DATA_data, ev_str(data, plen, ENG_NO_OFFSET));
            eng_fire(e, &ev);
        }
        if (!f->dec && !f->detect_done && !f->pub.ended) detect(e, f, dir, 0, data, plen, 1);
        if (f->dec && f->dec->datagram && !f->pub.ended) {
            e->busy++;
            f->dec->datagram(e, &f->pub, f->dec_state, dir, data, plen);
            e->busy--;
        }
    }
    e->cur_flow = NULL;
    flow_settle(e, f);
    /* a tunnel: the inner packet goes through the whole path (f may end there) */
    if (f->tunnel && !f->pub.skipped && !f->pub.ended)
        tunnel_input(e, p, f, f->tunnel, p->l4 + 8, plen,
                     ulen >= 8 && ulen <= p->l4_wire ? ulen - 8u : p->l4_wire - 8u);
}

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

void eng_feed(eng_t *e, int64_t ts, int linktype, const uint8_t *pkt, uint32_t caplen,
              uint32_t wirelen) {
    if (e->feed_hook) {
        e->feed_hook(e->feed_hook_user, ts, linktype, pkt, caplen, wirelen);
        return;
    }
    if (!e->started) eng_start(e);
    if (e->finished) return;
    e->stats.packets++;
    e->stats.bytes += wirelen;
    set_time(e, ts);
    pkt_t p;
    if (eng_wants(e, ENG_EV_PACKET)) { /* packet.c; otherwise the path is unchanged */
        e->pkt_track = 1;
        e->pkt_flow = NULL;
        e->pkt_gone = 0;
        e->pkt_ts = ts;
        int decoded = layers_decode(e, e->now, linktype, pkt, caplen, wirelen, &p);
        if (decoded) eng_transport(e, &p);
        if (!e->finished) packet_fire(e, linktype, pkt, caplen, wirelen, &p, decoded);
        e->pkt_track = 0;
        if (memcap_over(&e->mem)) memcap_enforce(e);
        return;
    }
    if (!layers_decode(e, e->now, linktype, pkt, caplen, wirelen, &p)) return;
    eng_transport(e, &p);
    if (memcap_over(&e->mem)) memcap_enforce(e);
}

void eng_finish(eng_t *e) {
    if (!e->started) eng_start(e);
    if (e->finished) return;
    flow_end_all(e, "eof");
    for (int i = 0; i < e->nunsup; i++) {
        const char *nm = pcap_datalink_val_to_name(e->unsup[i].linktype);
        eng_weird_from(e, NULL, "link.c", "unsupported_link_type", "link type %d (%s) is not decoded: %llu packets",
                  e->unsup[i].linktype, nm ? nm : "unknown", (unsigned long long)e->unsup[i].packets);
    }
    fire_wakeup(e);
    if (eng_wants(e, ENG_EV_ENGINE_DONE)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_ENGINE_DONE, NULL);
        eng_fire(e, &ev);
    }
    e->finished = 1;
}

int eng_unsupported_links(const eng_t *e, int *linktype, uint64_t *packets, int max) {
    int n = 0;
    for (int i = 0; i < e->nunsup && n < max; i++, n++) {
        if (linktype) linktype[n] = e->unsup[i].linktype;
        if (packets) packets[n] = e->unsup[i].packets;
    }
    return e->nunsup;
}

void eng_free(eng_t *e) {
    if (!e) return;
    if (e->started && !e->finished) eng_finish(e);
    flow_table_free(e);
    memcap_free(&e->mem);
    frag_free(e->frags);
    files_free(e);
    for (int k = 0; k < ENG_EV_COUNT; k++) free(e->subs[k].v);
    for (int i = 0; i < e->nweirds; i++) free(e->weirds[i].name);
    free(e->weirds);
    cfg_free_extra(e);
    free(e);
}

/* ---- protocol detection --------------------------------------------------
 *
 * By content first: each decoder's probe looks at the first bytes of each
 * direction (1 = mine, 0 = not mine, -1 = cannot tell yet). A stream's first
 * bytes may come in tiny segments, so while undecided they are kept (up to
 * DETECT_MAX per direction) and probed together; the decoder that claims the
 * flow gets them replayed first. Ports are only a hint, used when no probe
 * said yes and a probe whose port matches could not tell. Once decided, a
 * flow costs nothing more and its buffer is freed. */
#define DETECT_MAX 256

struct detect_buf {
    uint64_t off[2];
    uint16_t len[2];
    uint8_t b[2][DETECT_MAX];
};

static void detect_done(flow_t *f) {
    f->detect_done = 1;
    free(f->det);
    f->det = NULL;
}

/* attach d and hand it the bytes kept before the current chunk */
static void detect_attach(eng_t *e, flow_t *f, const eng_decoder_t *d, const char *by, int dir,
                          size_t prior) {
    struct detect_buf *db = f->det;
    f->det = NULL;
    f->detect_done = 1;
    if (eng_flow_attach(e, &f->pub, d, by) == 0 && db && f->dec == d && d->data) {
        e->busy++;
        for (int k = 0; k < 2 && f->dec == d && !f->pub.skipped; k++) {
            size_t n = k == dir ? prior : db->len[k];
            /* the direction's first bytes did not reach detection (lost, or
             * kept before a gap made it start over): the decoder hears of a
             * gap from the stream's start, as it would have, attached then */
            if ((n || k == dir) && db->off[k] > 0 && d->gap)
                d->gap(e, &f->pub, f->dec_state, k, 0, db->off[k]);
            if (n) d->data(e, &f->pub, f->dec_state, k, db->off[k], db->b[k], n);
        }
        e->busy--;
    }
    free(db);
}

static void detect(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len,
                   int udp) {
    size_t prior = 0;
    if (!e->cfg.detect) { /* --set engine.detect=false: flows and reassembly only */
        f->detect_done = 1;
        return;
    }
    if (!udp) {
        struct detect_buf *db = f->det;
        if (!db) {
            if (!(db = f->det = calloc(1, sizeof *db))) {
                f->detect_done = 1;
                return;
            }
        }
        prior = db->len[dir];
        if (prior && db->off[dir] + prior != off) { /* a gap: start over from here */
            prior = 0;
            db->len[dir] = 0;
        }
        if (!prior) db->off[dir] = off;
        size_t take = len < DETECT_MAX - prior ? len : DETECT_MAX - prior;
        memcpy(db->b[dir] + prior, p, take);
        db->len[dir] = (uint16_t)(prior + take);
        p = db->b[dir];
        len = prior + take;
    }
    const eng_decoder_t *port_match = NULL;
    int undecided = 0;
    for (int i = 0; i < eng_decoder_count(); i++) {
        const eng_decoder_t *d = eng_decoder_at(i);
        if (udp ? !d->datagram : !d->data) continue;
        if (!d->probe) continue; /* never detected by content (decoder.h), e.g. ftp-data */
        int r = !udp && d->probe_pair && f->det->len[0] && f->det->len[1]
                    ? d->probe_pair(f->det->b[0], f->det->len[0], f->det->b[1], f->det->len[1])
                    : d->probe(p, len, dir);
        if (r == 1) {
            detect_attach(e, f, d, "detect", dir, prior);
            return;
        }
        if (r < 0) {
            undecided = 1;
            for (const uint16_t *pp = d->ports; pp && *pp && !port_match; pp++)
                if (*pp == f->pub.resp_port) port_match = d;
        }
    }
    /* give up, or fall back to the port hint, when no probe can still say yes,
     * after DETECT_MAX bytes, or once both directions spoke and none said yes */
    int both = !udp && f->det && f->det->len[0] && f->det->len[1];
    if (!undecided || udp || len >= DETECT_MAX || (both && port_match)) {
        if (port_match) detect_attach(e, f, port_match, "port", dir, prior);
        else detect_done(f);
    }
}

/* ---- reassembled streams ------------------------------------------------- */

void eng_stream_data(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len) {
    f->pub.bytes[dir] += len;
    if (f->pub.skipped) return;
    if (eng_wants(e, ENG_EV_TCP_DATA)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_TCP_DATA, &f->pub);
        ev_set(&ev, ENG_F_TCP_DATA_dir, ev_dir(dir));
        ev_set(&ev, ENG_F_TCP_DATA_offset, ev_int((int64_t)off));
        ev_set(&ev, ENG_F_TCP_DATA_data, ev_str(p, len, off));
        eng_fire(e, &ev);
    }
    if (!f->dec && !f->detect_done && !f->pub.skipped && !f->pub.ended) detect(e, f, dir, off, p, len, 0);
    if (f->dec && !f->pub.skipped && f->dec->data) {
        e->busy++;
        f->dec->data(e, &f->pub, f->dec_state, dir, off, p, len);
        e->busy--;
        if (f->handoff_dec) flow_apply_handoff(e, f, dir, off, p, len);
    }
}

void eng_stream_gap(eng_t *e, flow_t *f, int dir, uint64_t off, uint64_t len) {
    f->pub.bytes[dir] += len;
    f->pub.missed_bytes += len;
    e->stats.tcp_gaps++;
    e->stats.tcp_gap_bytes += len;
    if (f->pub.skipped) return;
    if (eng_wants(e, ENG_EV_TCP_GAP)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_TCP_GAP, &f->pub);
        ev_set(&ev, ENG_F_TCP_GAP_dir, ev_dir(dir));
        ev_set(&ev, ENG_F_TCP_GAP_offset, ev_int((int64_t)off));
        ev_set(&ev, ENG_F_TCP_GAP_len, ev_int((int64_t)len));
        eng_fire(e, &ev);
    }
    if (f->dec && f->dec->gap) {
        e->busy++;
        f->dec->gap(e, &f->pub, f->dec_state, dir, off, len);
        e->busy--;
    }
}

/* ---- engine.memcap --------------------------------------------------------
 *
 * Called after a packet when the budget is exceeded (one compare per packet:
 * memcap_over). The flow holding the most (the top of memcap.c's heap) is
 * cut: each direction's buffered out-of-order ranges are dropped (a gap to
 * the end of the last one, as a reassembly gap: tcp.gap, missed_bytes, the
 * decoder's gap) and its decoder gets a gap of length 0 (decoder.h): it
 * drops its partial units and releases its readers' buffers. A decoder that
 * still holds as much as before (buffers it cannot give up mid-unit) is
 * ended and detached, which frees everything it had: the flow goes on
 * without it. Repeated until the budget holds. */
static void memcap_cut(eng_t *e, flow_t *f) {
    uint64_t held = f->mem.held;
    e->mem.cuts++;
    e->mem.cut_bytes += held;
    eng_weird(e, &f->pub, "memcap_flow_cut",
              "engine.memcap (%llu bytes) reached with %llu held in all: this flow held %llu",
              (unsigned long long)e->mem.limit, (unsigned long long)e->mem.used,
              (unsigned long long)held);
    if (f->pub.ended) return;
    if (f->pub.proto != 6) { /* datagram decoders hold no stream: their state goes */
        flow_release_decoders(e, f, 1);
        return;
    }
    for (int dir = 0; dir < 2; dir++) reasm_cut(&e->reasm, &f->rd[dir]);
    if (f->dec && f->dec->gap && !f->pub.skipped) {
        for (int dir = 0; dir < 2; dir++) {
            e->busy++;
            f->dec->gap(e, &f->pub, f->dec_state, dir, reasm_next(&f->rd[dir]), 0);
            e->busy--;
        }
    }
    flow_settle(e, f);
    if (f->mem.held && f->mem.held >= held) flow_release_decoders(e, f, 1);
}

void memcap_enforce(eng_t *e) {
    mem_acct_t *a;
    /* each cut frees at least part of what the top flow held, or removes it
     * from the heap: the loop ends */
    while (memcap_over(&e->mem) && (a = memcap_top(&e->mem))) {
        flow_t *f = (flow_t *)((char *)a - offsetof(flow_t, mem));
        uint64_t before = a->held;
        memcap_cut(e, f);
        if (a->hidx && a->held >= before) mem_acct_release(a); /* cannot happen: never loop */
    }
}

/* ---- flows: the public accessors ----------------------------------------- */

char *eng_flow_addr(const eng_flow_t *f, int dir, char *buf, size_t len) {
    const uint8_t *a = dir == ENG_ORIG ? f->orig_addr : f->resp_addr;
    if (!inet_ntop(f->family == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)len) && len) buf[0] = 0;
    return buf;
}

const char *eng_proto_name(int proto) {
    switch (proto) {
    case 1: return "icmp";
    case 2: return "igmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 41: return "ipv6";
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 58: return "icmp6";
    case 89: return "ospf";
    case 132: return "sctp";
    default: return NULL;
    }
}

/* Called by handlers, possibly while a decoder or the reassembler is on the
 * stack for this flow: then only the flag is set (eng_fire drops the flow's
 * payload events from now on) and buffers are released at flow_settle(). */
void eng_flow_skip(eng_t *e, eng_flow_t *pf) {
    flow_t *f = FLOW(pf);
    if (pf->skipped) return;
    pf->skipped = 1;
    f->pending_dec = NULL;
    if (e->busy) {
        f->teardown = 1;
        return;
    }
    flow_release_decoders(e, f, 1);
    reasm_dir_free(&e->reasm, &f->rd[0]);
    reasm_dir_free(&e->reasm, &f->rd[1]);
}

void flow_settle(eng_t *e, flow_t *f) {
    if (e->busy || f->pub.ended) return;
    if (f->teardown) {
        f->teardown = 0;
        flow_release_decoders(e, f, 1);
        reasm_dir_free(&e->reasm, &f->rd[0]);
        reasm_dir_free(&e->reasm, &f->rd[1]);
    }
    if (f->pending_dec) {
        const eng_decoder_t *d = f->pending_dec;
        f->pending_dec = NULL;
        eng_flow_attach(e, &f->pub, d, "script");
    }
}

int eng_flow_attach(eng_t *e, eng_flow_t *pf, const eng_decoder_t *d, const char *by) {
    flow_t *f = FLOW(pf);
    if (pf->ended || pf->skipped) return -1;
    void *st = d->state_size ? calloc(1, d->state_size) : NULL;
    if (d->state_size && !st) return -1;
    flow_release_decoders(e, f, 0);
    f->dec = d;
    f->dec_state = st;
    f->detect_done = 1;
    pf->service = d->name;
    /* services: a hand-off adds to the list ("smtp,ssl"), any other attach
     * replaces the decoder and so the list */
    size_t have = strcmp(by, "handoff") ? 0 : strlen(pf->services);
    size_t nl = strlen(d->name);
    int listed = 0; /* a hand back ("ftp,ssl" then ftp again) lists each name once */
    for (const char *q = pf->services; have && *q; q += strcspn(q, ","), q += *q == ',')
        if (strncmp(q, d->name, nl) == 0 && (q[nl] == ',' || q[nl] == 0)) listed = 1;
    if (!listed && have + (have ? 1 : 0) + nl < sizeof pf->services) {
        if (have) pf->services[have++] = ',';
        memcpy(pf->services + have, d->name, nl + 1);
    }
    if (d->init) d->init(e, pf, st);
    if (eng_wants(e, ENG_EV_FLOW_SERVICE)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FLOW_SERVICE, pf);
        ev_set(&ev, ENG_F_FLOW_SERVICE_service, ev_cstr(d->name));
        ev_set(&ev, ENG_F_FLOW_SERVICE_by, ev_cstr(by));
        eng_fire(e, &ev);
    }
    return 0;
}

int eng_flow_set_service(eng_t *e, eng_flow_t *pf, const char *name) {
    const eng_decoder_t *d = eng_decoder_find(name);
    if (!d || pf->ended || pf->skipped) return -1;
    if (e->busy) { /* a decoder or the reassembler is running for some flow */
        FLOW(pf)->pending_dec = d;
        return 0;
    }
    return eng_flow_attach(e, pf, d, "script");
}
