/* decoder_api.c - what decoder.h promises about a flow's decoders: their
 * release, the hand-off from one decoder to another (STARTTLS), and the
 * facts about a flow a decoder may ask. Expectations are in expect.c,
 * configuration getters in config.c, event helpers in bus.c. */
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "internal.h"

static void end_one(eng_t *e, flow_t *f, const eng_decoder_t *d, void *st) {
    e->busy++;
    if (d->end) d->end(e, &f->pub, st);
    e->busy--;
    free(st);
}

static void drop_carry(flow_t *f) {
    flow_cold_t *x = f->x;
    if (!x) return;
    for (int d = 0; d < 2; d++) {
        mem_charge(&f->mem, -(int64_t)x->carry_len[d]);
        free(x->carry[d]);
        x->carry[d] = NULL;
        x->carry_len[d] = 0;
    }
}

void flow_release_decoders(eng_t *e, flow_t *f, int all) {
    flow_cold_t *x = f->x;
    if (all && x && x->prev_dec) { /* the one that handed over ends first */
        const eng_decoder_t *d = x->prev_dec;
        void *st = x->prev_state;
        x->prev_dec = NULL;
        x->prev_state = NULL;
        end_one(e, f, d, st);
    }
    if (f->dec) {
        const eng_decoder_t *d = f->dec;
        void *st = f->dec_state;
        f->dec = NULL;
        f->dec_state = NULL;
        end_one(e, f, d, st);
    }
    if (all && f->x) {
        f->x->handoff_dec = NULL;
        drop_carry(f);
    }
}

int dec_handoff_carry(eng_t *e, eng_flow_t *pf, int dir, uint64_t off, const uint8_t *p,
                      size_t len) {
    flow_t *f = FLOW(pf);
    flow_cold_t *x = f->x;
    (void)e;
    if (!x || !x->handoff_dec || (dir != ENG_ORIG && dir != ENG_RESP) || (!p && len)) return -1;
    if (len > DEC_HANDOFF_CARRY_MAX) len = DEC_HANDOFF_CARRY_MAX; /* the rest: a gap to the new decoder */
    mem_charge(&f->mem, -(int64_t)x->carry_len[dir]);
    free(x->carry[dir]);
    x->carry[dir] = NULL;
    x->carry_len[dir] = 0;
    if (!len) return 0;
    if (!(x->carry[dir] = malloc(len))) return -1;
    memcpy(x->carry[dir], p, len);
    x->carry_len[dir] = (uint32_t)len;
    mem_charge(&f->mem, (int64_t)len);
    x->carry_off[dir] = off;
    return 0;
}

int dec_handoff(eng_t *e, eng_flow_t *pf, const char *service, int dir, uint64_t off) {
    const eng_decoder_t *d = eng_decoder_find(service);
    flow_t *f = FLOW(pf);
    if (!d || pf->ended || pf->skipped || (dir != ENG_ORIG && dir != ENG_RESP)) return -1;
    flow_cold_t *x = flow_cold(f);
    if (!x) {
        eng_weird(e, pf, "out_of_memory", "hand-off to %s", d->name);
        return -1;
    }
    x->handoff_dec = d;
    x->handoff_dir = (uint8_t)dir;
    x->handoff_off = off;
    return 0;
}

void flow_apply_handoff(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len) {
    flow_cold_t *x = f->x; /* set: deliver.c calls this only when x->handoff_dec is */
    const eng_decoder_t *d = x->handoff_dec;
    int hdir = x->handoff_dir;
    uint64_t hoff = x->handoff_off;
    x->handoff_dec = NULL;
    if (!d || f->pub.ended || f->pub.skipped) {
        drop_carry(f);
        return;
    }
    if (x->prev_dec) { /* a second hand-off: the first one's decoder ends now */
        const eng_decoder_t *od = x->prev_dec;
        void *st = x->prev_state;
        x->prev_dec = NULL;
        x->prev_state = NULL;
        end_one(e, f, od, st);
    }
    /* park the current decoder: no more bytes, its end runs at the flow's end */
    x->prev_dec = f->dec;
    x->prev_state = f->dec_state;
    f->dec = NULL;
    f->dec_state = NULL;
    if (eng_flow_attach(e, &f->pub, d, "handoff") || f->dec != d) {
        drop_carry(f);
        return;
    }
    /* bytes the old decoder held (either direction) come first, in stream
     * order; the replayed chunk below may overlap them (a stream reader
     * ignores bytes already pushed) */
    for (int k = 0; k < 2; k++) {
        uint8_t *cb = x->carry[k];
        uint32_t cl = x->carry_len[k];
        x->carry[k] = NULL;
        x->carry_len[k] = 0;
        mem_charge(&f->mem, -(int64_t)cl);
        if (cb && d->data && f->dec == d && !f->pub.ended && !f->pub.skipped) {
            e->busy++;
            d->data(e, &f->pub, f->dec_state, k, x->carry_off[k], cb, cl);
            e->busy--;
        }
        free(cb);
    }
    if (f->dec != d) return;
    if (hdir == dir && d->data && hoff >= off && hoff < off + len) {
        e->busy++;
        d->data(e, &f->pub, f->dec_state, dir, hoff, p + (hoff - off), (size_t)(off + len - hoff));
        e->busy--;
    }
}

struct mem_acct *dec_flow_mem(eng_flow_t *pf) { return pf ? &FLOW(pf)->mem : NULL; }

void dec_mem_charge(struct mem_acct *a, int64_t delta) { mem_charge(a, delta); }

void dec_mem(eng_flow_t *pf, int64_t delta) {
    if (pf) mem_charge(&FLOW(pf)->mem, delta);
}

const char *dec_flow_handed_from(const eng_flow_t *pf) {
    const flow_t *f = (const flow_t *)pf;
    return f->x && f->x->prev_dec ? f->x->prev_dec->name : NULL;
}

int dec_flow_midstream(const eng_flow_t *pf) {
    const flow_t *f = (const flow_t *)pf;
    return pf->proto == 6 && !f->tcp[0].syn && !f->tcp[1].syn;
}

void *dec_flow_state(eng_flow_t *pf, const eng_decoder_t *d) {
    flow_t *f = FLOW(pf);
    return pf && !pf->ended && f->dec == d ? f->dec_state : NULL;
}
