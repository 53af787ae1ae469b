/* flow.c - the flow table: bidirectional flows keyed by a symmetric hash of
 * the 5-tuple plus VLAN, Zeek-style uids, inactivity timeouts in network
 * time, and the flow.max cap with eviction that spares established flows.
 *
 * Each flow sits in one of nine activity lists, least recently active first:
 * its timeout class (open TCP, closed TCP, other) and how established it is
 * (flow_t.est: not at all; a TCP handshake completed; payload sent after one,
 * or both sides of a UDP/other flow sent). Within a list every flow has the
 * same timeout, so expiry only ever looks at list heads: O(1) per packet when
 * nothing expires. At flow.max the flow ended is the least recently active of
 * those not established and the closed ones (a SYN flood's), only when there
 * is none the least recently active of those with a handshake and no payload,
 * and only then the least recently active of the rest: also O(1).
 * Ending flows at end of input walks the lists in activity order, so the
 * order of flow.end events is deterministic.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "internal.h"

static uint32_t endpoint_hash(uint64_t key, const uint8_t *a, uint16_t port) {
    uint64_t w0, w1;
    memcpy(&w0, a, 8);
    memcpy(&w1, a + 8, 8);
    return (uint32_t)hash_mix64(key ^ hash_mix64(w0 ^ hash_mix64(w1 ^ port)));
}

static uint32_t tuple_hash(const eng_t *e, const pkt_t *p, uint16_t sport, uint16_t dport) {
    uint64_t key = e->ft.key;
    /* symmetric: the sum of both endpoints' hashes does not depend on direction */
    uint32_t h = endpoint_hash(key, p->src, sport) + endpoint_hash(key, p->dst, dport);
    return (uint32_t)hash_mix64(h ^ ((uint64_t)p->proto << 32) ^ ((uint64_t)p->family << 40) ^
                           ((uint64_t)(p->has_vlan ? p->vlan + 1u : 0) << 48) ^ key ^ p->tunnel_key);
}

void flow_table_init(flow_table_t *t) {
    memset(t, 0, sizeof *t);
    t->key = hash_key();
}

static int grow(flow_table_t *t) {
    uint32_t n = t->nbuckets ? t->nbuckets * 2 : 1024;
    flow_t **b = calloc(n, sizeof *b);
    if (!b) return -1;
    for (uint32_t i = 0; i < t->nbuckets; i++) {
        flow_t *f = t->buckets[i];
        while (f) {
            flow_t *nx = f->hnext;
            f->hnext = b[f->hash & (n - 1)];
            b[f->hash & (n - 1)] = f;
            f = nx;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return 0;
}

static void list_unlink(flow_table_t *t, flow_t *f) {
    int c = f->list;
    if (f->prev) f->prev->next = f->next; else t->head[c] = f->next;
    if (f->next) f->next->prev = f->prev; else t->tail[c] = f->prev;
    f->prev = f->next = NULL;
}

static void list_append(flow_table_t *t, flow_t *f) {
    int c = f->list = (uint8_t)FL_LIST(f->tclass, f->est);
    f->next = NULL;
    f->prev = t->tail[c];
    if (t->tail[c]) t->tail[c]->next = f; else t->head[c] = f;
    t->tail[c] = f;
}

flow_cold_t *flow_cold(flow_t *f) {
    if (!f->x) f->x = calloc(1, sizeof *f->x);
    return f->x;
}

/* ---- history letters (Zeek's conn.log history) ---------------------------- */

void flow_hist_add(flow_t *f, int dir, char c) {
    char l = dir == ENG_ORIG ? (char)(c & ~0x20) : (char)(c | 0x20);
    if (c == '^') l = '^';
    char *h = f->pub.history;
    size_t n = strlen(h);
    if (n + 1 >= sizeof f->pub.history) return;
    h[n] = l;
    h[n + 1] = 0;
}

static int hist_has(const flow_t *f, int dir, char c) {
    char l = dir == ENG_ORIG ? (char)(c & ~0x20) : (char)(c | 0x20);
    return strchr(f->pub.history, l) != NULL;
}

void flow_hist_once(flow_t *f, int dir, char c) {
    if (!hist_has(f, dir, c)) flow_hist_add(f, dir, c);
}

/* how established f is, for eviction (EST_*): a TCP flow whose handshake
 * completed (both endpoints reached ESTABLISHED) is EST_HANDSHAKE, and
 * EST_DATA once either side sent payload; one picked up mid-stream (no SYN
 * either way) is EST_DATA once both sides sent payload; a UDP or other flow is
 * EST_DATA once both sides sent. Payload is what the history says (D, d), sent
 * rather than delivered (a mid-stream direction holds its first bytes back). */
static int est_level(const flow_t *f) {
    if (f->pub.proto != 6) return f->pub.pkts[0] && f->pub.pkts[1] ? EST_DATA : EST_NONE;
    const char *h = f->pub.history;
    int d0 = strchr(h, 'D') != NULL, d1 = strchr(h, 'd') != NULL;
    if (f->est >= EST_HANDSHAKE ||
        (f->tcp[0].state == EP_ESTABLISHED && f->tcp[1].state == EP_ESTABLISHED))
        return d0 || d1 ? EST_DATA : EST_HANDSHAKE;
    return !f->tcp[0].syn && !f->tcp[1].syn && d0 && d1 ? EST_DATA : EST_NONE;
}

/* after each packet's states and history are updated (flow_settle, flow_touch):
 * a flow only ever goes up, to the end of its new list */
void flow_promote(eng_t *e, flow_t *f) {
    int l = est_level(f);
    if (l <= f->est) return;
    list_unlink(&e->ft, f);
    f->est = (uint8_t)l;
    list_append(&e->ft, f);
}

void flow_touch(eng_t *e, flow_t *f) {
    if (f->est < EST_DATA && f->pub.proto != 6) flow_promote(e, f); /* tcp.c: at flow_settle */
    if (e->ft.tail[f->list] == f) return;
    list_unlink(&e->ft, f);
    list_append(&e->ft, f);
}

void flow_set_class(eng_t *e, flow_t *f, int tclass) {
    if (f->tclass == tclass) return;
    list_unlink(&e->ft, f);
    f->tclass = (uint8_t)tclass;
    list_append(&e->ft, f);
}

static int same_ep(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp) {
    return ap == bp && !memcmp(a, b, 16);
}

static flow_t *find(eng_t *e, const pkt_t *p, uint16_t sport, uint16_t dport, uint32_t h, int *dir) {
    if (!e->ft.nbuckets) return NULL;
    for (flow_t *f = e->ft.buckets[h & (e->ft.nbuckets - 1)]; f; f = f->hnext) {
        if (f->hash != h || f->pub.proto != p->proto || f->pub.family != p->family) continue;
        if (f->pub.has_vlan != p->has_vlan || (p->has_vlan && f->pub.vlan != p->vlan)) continue;
        if (f->tunnel_key != p->tunnel_key) continue;
        if (same_ep(f->pub.orig_addr, f->pub.orig_port, p->src, sport) &&
            same_ep(f->pub.resp_addr, f->pub.resp_port, p->dst, dport)) {
            *dir = ENG_ORIG;
            return f;
        }
        if (same_ep(f->pub.resp_addr, f->pub.resp_port, p->src, sport) &&
            same_ep(f->pub.orig_addr, f->pub.orig_port, p->dst, dport)) {
            *dir = ENG_RESP;
            return f;
        }
    }
    return NULL;
}

/* the less recently active of a and b (either may be NULL), ties by creation */
static flow_t *older(flow_t *a, flow_t *b) {
    if (!a || !b) return a ? a : b;
    if (b->pub.last_ns < a->pub.last_ns || (b->pub.last_ns == a->pub.last_ns && b->pub.id < a->pub.id))
        return b;
    return a;
}

static flow_t *least_recent(eng_t *e) {
    flow_t *best = NULL;
    for (int c = 0; c < FL_NLISTS; c++) best = older(best, e->ft.head[c]);
    return best;
}

/* ---- eviction at flow.max -------------------------------------------------- */

enum { EV_HALF_OPEN, EV_CLOSED, EV_ESTABLISHED };
static const char *const evict_weird[] = {"flow_evicted_half_open", "flow_evicted_closed",
                                          "flow_evicted_established"};
static const char *const evict_what[] = {"not established", "closed", "established"};

/* the flow to end: the least recently active of the closed TCP flows and of
 * the flows not established; only when there is none, of those with a
 * handshake and no payload; only then of the rest */
static flow_t *evict_choice(eng_t *e) {
    flow_t **h = e->ft.head, *f = NULL;
    for (int l = 0; l < EST_NLEVELS; l++) f = older(f, h[FL_LIST(TO_TCP_CLOSED, l)]);
    f = older(f, older(h[FL_LIST(TO_TCP, EST_NONE)], h[FL_LIST(TO_OTHER, EST_NONE)]));
    if (!f) f = older(h[FL_LIST(TO_TCP, EST_HANDSHAKE)], h[FL_LIST(TO_OTHER, EST_HANDSHAKE)]);
    return f ? f : older(h[FL_LIST(TO_TCP, EST_DATA)], h[FL_LIST(TO_OTHER, EST_DATA)]);
}

/* counted by kind; a weird on the evicted flow at the 1st, 10th, 100th, ...
 * eviction of each kind, so that a flood does not flood weird.log */
static void evict(eng_t *e, flow_t *f) {
    int kind = f->tclass == TO_TCP_CLOSED ? EV_CLOSED : f->est ? EV_ESTABLISHED : EV_HALF_OPEN;
    uint64_t *n = kind == EV_CLOSED ? &e->stats.flows_evicted_closed
                : kind == EV_ESTABLISHED ? &e->stats.flows_evicted_established
                                         : &e->stats.flows_evicted_half_open;
    e->stats.flows_evicted++;
    uint64_t k = ++*n, p = 1;
    while (p < k && p <= UINT64_MAX / 10) p *= 10;
    if (p == k)
        eng_weird(e, &f->pub, evict_weird[kind],
                  "flow.max %llu reached: %s flow ended (state %s, history %s), eviction %llu of this kind",
                  (unsigned long long)e->cfg.flow_max, evict_what[kind], eng_flow_state(&f->pub),
                  f->pub.history, (unsigned long long)k);
    flow_end(e, f, "evicted");
}

/* a packet of f through other enclosing flows than its first (an outer flow
 * that timed out and came back, another path): their uids are added, each
 * once, while they fit (Zeek's tunnel_parents is a set over the flow's life) */
static void merge_parents(flow_t *f, const char *parents) {
    char *have = f->pub.tunnel_parents;
    if (!strcmp(have, parents)) return;
    for (const char *q = parents; *q; q += strcspn(q, ","), q += *q == ',') {
        size_t n = strcspn(q, ","), hl = strlen(have);
        int listed = 0;
        for (const char *h = have; *h && !listed; h += strcspn(h, ","), h += *h == ',')
            listed = strcspn(h, ",") == n && !strncmp(h, q, n);
        if (listed || hl + (hl ? 1 : 0) + n >= sizeof f->pub.tunnel_parents) continue;
        if (hl) have[hl++] = ',';
        memcpy(have + hl, q, n);
        have[hl + n] = 0;
    }
}

flow_t *flow_lookup(eng_t *e, const pkt_t *p, uint16_t sport, uint16_t dport, int *dir,
                    int *created) {
    uint32_t h = tuple_hash(e, p, sport, dport);
    *created = 0;
    flow_t *f = find(e, p, sport, dport, h, dir);
    if (f) {
        if (p->tunnel_parents) merge_parents(f, p->tunnel_parents);
        if (e->pkt_track && !p->depth) e->pkt_flow = f, e->pkt_gone = 0; /* packet.c */
        return f;
    }

    if (e->cfg.flow_max && e->ft.count >= e->cfg.flow_max) {
        flow_t *old = evict_choice(e);
        if (old) evict(e, old);
    }
    if (e->ft.count >= e->ft.nbuckets && grow(&e->ft)) {
        eng_weird(e, NULL, "out_of_memory", "flow table");
        return NULL;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        eng_weird(e, NULL, "out_of_memory", "flow");
        return NULL;
    }
    f->hash = h;
    f->eng = e;
    mem_acct_init(&f->mem, &e->mem);
    f->pub.id = ++e->ft.next_id;
    make_id(f->pub.uid, 'C', e->cfg.seed, f->pub.id);
    f->pub.proto = p->proto;
    f->pub.family = p->family;
    f->pub.has_vlan = p->has_vlan;
    f->pub.vlan = p->has_vlan ? p->vlan : 0;
    memcpy(f->pub.orig_addr, p->src, 16);
    memcpy(f->pub.resp_addr, p->dst, 16);
    f->pub.orig_port = sport;
    f->pub.resp_port = dport;
    f->pub.start_ns = f->pub.last_ns = p->ts;
    f->tunnel_key = p->tunnel_key;
    if (p->tunnel_parents)
        snprintf(f->pub.tunnel_parents, sizeof f->pub.tunnel_parents, "%s", p->tunnel_parents);
    f->tclass = p->proto == 6 ? TO_TCP : TO_OTHER;
    reasm_dir_init(&f->rd[0], f, ENG_ORIG);
    reasm_dir_init(&f->rd[1], f, ENG_RESP);
    if (p->proto == 6 && e->tcp_hosts.n) {
        /* each direction follows the overlap policy of the host that receives it
         * (a flow that flips swaps the directions with their policies) */
        int fam = p->family == 6 ? 6 : 4;
        reasm_dir_policy(&f->rd[0], hosttable_lookup(&e->tcp_hosts, fam, f->pub.resp_addr));
        reasm_dir_policy(&f->rd[1], hosttable_lookup(&e->tcp_hosts, fam, f->pub.orig_addr));
    }
    flow_t **b = &e->ft.buckets[h & (e->ft.nbuckets - 1)];
    f->hnext = *b;
    *b = f;
    list_append(&e->ft, f);
    e->ft.count++;
    e->stats.flows++;
    e->stats.flows_active = e->ft.count;
    *dir = ENG_ORIG;
    *created = 1;
    if (e->pkt_track && !p->depth) e->pkt_flow = f, e->pkt_gone = 0; /* packet.c */
    return f;
}

void flow_flip(flow_t *f) {
    uint8_t a[16];
    memcpy(a, f->pub.orig_addr, 16);
    memcpy(f->pub.orig_addr, f->pub.resp_addr, 16);
    memcpy(f->pub.resp_addr, a, 16);
    uint16_t p = f->pub.orig_port;
    f->pub.orig_port = f->pub.resp_port;
    f->pub.resp_port = p;
    uint64_t t;
    t = f->pub.bytes[0]; f->pub.bytes[0] = f->pub.bytes[1]; f->pub.bytes[1] = t;
    t = f->pub.pkts[0]; f->pub.pkts[0] = f->pub.pkts[1]; f->pub.pkts[1] = t;
    t = f->pub.ip_bytes[0]; f->pub.ip_bytes[0] = f->pub.ip_bytes[1]; f->pub.ip_bytes[1] = t;
    tcp_half_t h = f->tcp[0];
    f->tcp[0] = f->tcp[1];
    f->tcp[1] = h;
    reasm_dir_swap(&f->eng->reasm, &f->rd[0], &f->rd[1]);
    f->flipped = !f->flipped;
}

void flow_end(eng_t *e, flow_t *f, const char *reason) {
    if (f == e->pkt_flow) packet_flow_gone(e, f); /* packet.c: the frame's flow is freed */
    if (f->pub.proto == 6) tcp_flow_end(e, f);
    flow_release_decoders(e, f, 1);
    expect_flow_end(e, f);
    if (eng_wants(e, ENG_EV_FLOW_END)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FLOW_END, &f->pub);
        ev_set(&ev, ENG_F_FLOW_END_reason, ev_cstr(reason));
        eng_fire(e, &ev);
    }
    f->pub.ended = 1;
    /* unlink */
    flow_t **pp = &e->ft.buckets[f->hash & (e->ft.nbuckets - 1)];
    while (*pp && *pp != f) pp = &(*pp)->hnext;
    if (*pp) *pp = f->hnext;
    list_unlink(&e->ft, f);
    reasm_dir_free(&e->reasm, &f->rd[0]);
    reasm_dir_free(&e->reasm, &f->rd[1]);
    free(f->tcp[0].syn_data);
    free(f->tcp[1].syn_data);
    free(f->tcp[0].held);
    free(f->tcp[1].held);
    e->ft.count--;
    e->stats.flows_active = e->ft.count;
    if (e->cur_flow == f) e->cur_flow = NULL;
    free(f->det);
    e->mem.leaked += f->mem.held; /* 0 unless some buffer was not given back */
    mem_acct_release(&f->mem);
    free(f->x);
    free(f);
}

static const char *close_reason(const flow_t *f, const char *dflt) {
    if (f->pub.proto != 6 || !f->closing) return dflt;
    return f->tcp[0].state == EP_RESET || f->tcp[1].state == EP_RESET ? "reset" : "closed";
}

static int64_t timeout_of(const eng_t *e, int c) {
    return c == TO_TCP ? e->cfg.tcp_timeout_ns
         : c == TO_TCP_CLOSED ? e->cfg.tcp_closed_timeout_ns : e->cfg.udp_timeout_ns;
}

void flow_expire(eng_t *e) {
    for (int c = 0; c < TO_NCLASS; c++) {
        int64_t to = timeout_of(e, c), lim = e->now - to;
        flow_t *f, *const *h = e->ft.head + c;
        /* nothing due in this class (every packet asks): three loads */
        if (!(h[0] && h[0]->pub.last_ns <= lim) && !(h[TO_NCLASS] && h[TO_NCLASS]->pub.last_ns <= lim) &&
            !(h[2 * TO_NCLASS] && h[2 * TO_NCLASS]->pub.last_ns <= lim))
            continue;
        /* the class's lists together, in activity order */
        while ((f = older(older(e->ft.head[FL_LIST(c, 0)], e->ft.head[FL_LIST(c, 1)]),
                          e->ft.head[FL_LIST(c, 2)])) &&
               f != e->cur_flow && f->pub.last_ns + to <= e->now) {
            if (c != TO_TCP_CLOSED) e->stats.flows_timed_out++;
            flow_end(e, f, close_reason(f, "timeout"));
        }
    }
}

void flow_end_all(eng_t *e, const char *reason) {
    flow_t *f;
    while ((f = least_recent(e))) flow_end(e, f, close_reason(f, reason));
}

void flow_table_free(eng_t *e) {
    /* flows left (eng_free without eng_finish) are released without events */
    for (int c = 0; c < FL_NLISTS; c++) {
        flow_t *f = e->ft.head[c];
        while (f) {
            flow_t *nx = f->next;
            if (f->x) {
                if (f->x->prev_dec && f->x->prev_dec->end) f->x->prev_dec->end(e, &f->pub, f->x->prev_state);
                free(f->x->prev_state);
                free(f->x->carry[0]);
                free(f->x->carry[1]);
                free(f->x);
            }
            if (f->dec && f->dec->end) f->dec->end(e, &f->pub, f->dec_state);
            free(f->dec_state);
            reasm_dir_free(&e->reasm, &f->rd[0]);
            reasm_dir_free(&e->reasm, &f->rd[1]);
            free(f->tcp[0].syn_data);
            free(f->tcp[1].syn_data);
            free(f->tcp[0].held);
            free(f->tcp[1].held);
            free(f->det);
            mem_acct_release(&f->mem);
            free(f);
            f = nx;
        }
    }
    free(e->ft.buckets);
    memset(&e->ft, 0, sizeof e->ft);
    expect_free(e);
}

/* ---- the public accessors ------------------------------------------------- */

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
