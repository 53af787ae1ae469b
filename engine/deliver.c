/* deliver.c - the packet path's one sink: what the transports hand on goes to
 * events and to the flow's decoder from here, and nowhere else.
 *
 *   tcp.c (reasm.c's in-order bytes and gaps) -> deliver_data / deliver_gap
 *   udp.c (a datagram's payload)              -> deliver_datagram
 *     -> tcp.data / tcp.gap / udp.data events (bus.c)
 *     -> detection while the flow has no decoder (detect.c)
 *     -> the attached decoder's data / gap / datagram (decoders/, decoder.h)
 *
 * Also here: attaching a decoder (detection, a script, an expectation, a
 * hand-off), skipping a flow, and what handlers asked for while a decoder was
 * on the stack (flow_settle). */
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "internal.h"

void deliver_data(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len) {
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
    if (!f->dec && !f->detect_done && !f->pub.skipped && !f->pub.ended) detect_flow(e, f, dir, off, p, len, 0);
    if (f->dec && !f->pub.skipped && f->dec->data) {
        e->busy++;
        f->dec->data(e, &f->pub, f->dec_state, dir, off, p, len);
        e->busy--;
        if (f->handoff_dec) flow_apply_handoff(e, f, dir, off, p, len);
    }
}

void deliver_gap(eng_t *e, flow_t *f, int dir, uint64_t off, uint64_t len) {
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

void deliver_datagram(eng_t *e, flow_t *f, int dir, const uint8_t *p, size_t len) {
    if (eng_wants(e, ENG_EV_UDP_DATA)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_UDP_DATA, &f->pub);
        ev_set(&ev, ENG_F_UDP_DATA_dir, ev_dir(dir));
        ev_set(&ev, ENG_F_UDP_DATA_data, ev_str(p, len, ENG_NO_OFFSET));
        eng_fire(e, &ev);
    }
    if (!f->dec && !f->detect_done && !f->pub.ended) detect_flow(e, f, dir, 0, p, len, 1);
    if (f->dec && f->dec->datagram && !f->pub.ended) {
        e->busy++;
        f->dec->datagram(e, &f->pub, f->dec_state, dir, p, len);
        e->busy--;
    }
}

/* ---- attaching decoders, skipping flows ------------------------------------ */

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
