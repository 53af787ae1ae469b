/* engine.c - an instance: its life cycle and network time (ticks, timeouts,
 * wake-ups), and the head of the packet path. docs/architecture.md has the
 * whole path; each step calls only the steps after it:
 *
 *   eng_feed -> layers_decode (link.c -> ip.c -> frag.c)
 *            -> eng_transport (transport.c) -> tcp_input (tcp.c) / udp_input (udp.c)
 *                 -> flow_lookup (flow.c) -> reasm_segment (reasm.c, TCP)
 *            -> deliver_data / deliver_gap / deliver_datagram (deliver.c)
 *                 -> detect_flow (detect.c) -> the decoder (decoders/) -> eng_fire (bus.c)
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    frag_finish(e); /* incomplete datagrams are said, not dropped silently */
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
    uint64_t k = ++e->mem.cuts, p = 1;
    e->mem.cut_bytes += held;
    /* a weird at the 1st, 10th, 100th, ... cut: under a flood every new kilobyte
     * costs a cut, and weird.log must not grow with it (all are counted) */
    while (p < k && p <= UINT64_MAX / 10) p *= 10;
    if (p == k)
        eng_weird(e, &f->pub, "memcap_flow_cut",
                  "engine.memcap (%llu bytes) reached with %llu held in all: this flow held %llu (cut %llu of the run)",
                  (unsigned long long)e->mem.limit, (unsigned long long)e->mem.used,
                  (unsigned long long)held, (unsigned long long)k);
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
