/* bus.c - the event bus: the catalogue from events.def, subscribers per event
 * kind, and dispatch. A kind without subscribers costs one array load at the
 * place that would build the event (eng_wants), nothing more. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decoder.h"
#include "internal.h"

typedef struct ev_meta {
    const char *name, *doc, *owner;
} ev_meta_t;

typedef struct field_meta {
    int ev, idx, type;
    const char *name, *doc;
} field_meta_t;

static const ev_meta_t events[ENG_EV_COUNT] = {
#define ENG_EVENT(id, name, owner, when) [ENG_EV_##id] = {name, when, owner},
#include "events.def"
};

#define T_STR ENG_T_STR
#define T_INT ENG_T_INT
#define T_NUM ENG_T_NUM
#define T_BOOL ENG_T_BOOL
#define T_LIST ENG_T_LIST
#define T_MAP ENG_T_MAP
static const field_meta_t fields[] = {
#define ENG_FIELD(ev, i, name, type, doc) {ENG_EV_##ev, i, T_##type, #name, doc},
#include "events.def"
};
#define NFIELDS ((int)(sizeof fields / sizeof fields[0]))

static const field_meta_t *field(int kind, int i) {
    for (int k = 0; k < NFIELDS; k++)
        if (fields[k].ev == kind && fields[k].idx == i) return &fields[k];
    return NULL;
}

int eng_event_count(void) { return ENG_EV_COUNT; }

int eng_event_lookup(const char *name) {
    if (!name) return -1;
    for (int k = 0; k < ENG_EV_COUNT; k++)
        if (!strcmp(events[k].name, name)) return k;
    return -1;
}

const char *eng_event_name(int kind) {
    return kind >= 0 && kind < ENG_EV_COUNT ? events[kind].name : NULL;
}

const char *eng_event_doc(int kind) {
    return kind >= 0 && kind < ENG_EV_COUNT ? events[kind].doc : NULL;
}

int eng_event_nfields(int kind) {
    int n = 0;
    for (int k = 0; k < NFIELDS; k++)
        if (fields[k].ev == kind && fields[k].idx + 1 > n) n = fields[k].idx + 1;
    return n;
}

const char *eng_event_field_name(int kind, int i) {
    const field_meta_t *f = field(kind, i);
    return f ? f->name : NULL;
}

int eng_event_field_type(int kind, int i) {
    const field_meta_t *f = field(kind, i);
    return f ? f->type : ENG_T_NIL;
}

const char *eng_event_field_doc(int kind, int i) {
    const field_meta_t *f = field(kind, i);
    return f ? f->doc : NULL;
}

int eng_on(eng_t *e, int kind, eng_callback_t cb, void *user) {
    if (kind < 0 || kind >= ENG_EV_COUNT || !cb) return -1;
    eng_subs_t *s = &e->subs[kind];
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 2;
        eng_sub_t *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    int id = ++e->next_sub_id;
    s->v[s->n++] = (eng_sub_t){id, cb, user};
    if (s->n == 1) bus_update_wanted(e);
    return id;
}

void eng_off(eng_t *e, int id) {
    for (int k = 0; k < ENG_EV_COUNT; k++) {
        eng_subs_t *s = &e->subs[k];
        for (int i = 0; i < s->n; i++) {
            if (s->v[i].id != id) continue;
            memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof s->v[0]);
            s->n--;
            if (!s->n) bus_update_wanted(e);
            return;
        }
    }
}

const char *eng_event_owner(int kind) {
    return kind >= 0 && kind < ENG_EV_COUNT ? events[kind].owner : NULL;
}

/* does decoder d own or use the owner `o` of some event? */
static int decoder_has(const eng_decoder_t *d, const char *o) {
    if (!o || !*o) return 0;
    if (!strcmp(d->name, o)) return 1;
    for (const char *const *u = d->uses; u && *u; u++)
        if (!strcmp(*u, o)) return 1;
    return 0;
}

/* the decoders (bits, registry order) that own or use each event kind's
 * owner; the registry and the catalogue are constant, so this is computed
 * once per process */
static uint64_t kind_decoders[ENG_EV_COUNT];
static pthread_once_t kind_decoders_once = PTHREAD_ONCE_INIT;

static void kind_decoders_init(void) {
    int nd = eng_decoder_count();
    for (int i = 0; i < nd && i < 64; i++) {
        const eng_decoder_t *d = eng_decoder_at(i);
        for (int k = 0; k < ENG_EV_COUNT; k++)
            if (decoder_has(d, events[k].owner)) kind_decoders[k] |= 1ULL << i;
    }
}

/* eng.wanted: bit i set when registry decoder i owns or uses an event that
 * has a subscriber; recomputed when a kind gains its first subscriber or
 * loses its last, so dec_wanted is one load (and the recomputation is one
 * pass over the kinds: every eng_on of a fresh engine comes here) */
void bus_update_wanted(eng_t *e) {
    pthread_once(&kind_decoders_once, kind_decoders_init);
    uint64_t w = 0;
    for (int k = 0; k < ENG_EV_COUNT; k++)
        if (e->subs[k].n) w |= kind_decoders[k];
    e->wanted = w;
}

int dec_wanted(const eng_t *e, const eng_decoder_t *d) {
    int i = eng_decoder_index(d);
    return i >= 0 && i < 64 && (e->wanted >> i & 1);
}

int dec_wants(const eng_t *e, int kind) { return kind >= 0 && kind < ENG_EV_COUNT && e->subs[kind].n; }
void dec_fire(eng_t *e, eng_event_t *ev) { eng_fire(e, ev); }
int64_t dec_now(const eng_t *e) { return e->now; }

int eng_subscribed(const eng_t *e, int kind) {
    return kind >= 0 && kind < ENG_EV_COUNT && e->subs[kind].n;
}

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

void eng_fire(eng_t *e, eng_event_t *ev) {
    int kind = ev->kind;
    /* a skipped flow gets no more payload events; it still ends */
    if (ev->flow && ev->flow->skipped && kind != ENG_EV_FLOW_END && kind != ENG_EV_WEIRD) return;
    eng_subs_t *s = &e->subs[kind];
    e->stats.events_fired[kind]++;
    uint64_t t0 = e->timing ? mono_ns() : 0;
    /* a subscriber may unsubscribe itself (or others) while we iterate */
    for (int i = 0; i < s->n; i++) {
        int id = s->v[i].id;
        s->v[i].cb(e, ev, s->v[i].user);
        if (i < s->n && s->v[i].id != id) i--;
    }
    if (e->timing) e->stats.handler_ns[kind] += mono_ns() - t0;
}

void eng_stats_timing(eng_t *e, int on) { e->timing = on; }

const eng_stats_t *eng_stats(const eng_t *ce) {
    /* reassembly keeps its own counters; copy them in when asked */
    eng_t *e = (eng_t *)ce;
    const reasm_ctx_t *r = &e->reasm;
    e->stats.tcp_in_order = r->in_order;
    e->stats.tcp_out_of_order = r->out_of_order;
    e->stats.tcp_retransmitted = r->retransmitted;
    e->stats.tcp_overlaps = r->overlaps;
    e->stats.tcp_overlap_conflicts = r->conflicts;
    e->stats.tcp_bytes_delivered = r->delivered;
    e->stats.tcp_buffered = r->buffered;
    e->stats.tcp_buffered_peak = r->buffered_peak;
    e->stats.mem_buffered = e->mem.used;
    e->stats.mem_buffered_peak = e->mem.peak;
    e->stats.memcap_cuts = e->mem.cuts;
    e->stats.memcap_cut_bytes = e->mem.cut_bytes;
    e->stats.mem_unreleased = e->mem.leaked;
    return &e->stats;
}
