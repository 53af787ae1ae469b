/* detect.c - which decoder a flow gets: protocol detection, and the ports
 * that look like a server's.
 *
 * By content first: each decoder's probe looks at the first bytes of each
 * direction (1 = mine, 0 = not mine, -1 = cannot tell yet). A stream's first
 * bytes may come in tiny segments, so while undecided they are kept (up to
 * DETECT_MAX per direction) and probed together; the decoder that claims the
 * flow gets them replayed first. Ports are only a hint, used when no probe
 * said yes and a probe whose port matches could not tell. Once decided, a
 * flow costs nothing more and its buffer is freed. */
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "internal.h"

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

void detect_flow(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len, int udp) {
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

/* a likely server port: below 1024, or one a decoder lists (like Zeek's
 * likely_server_ports) */
int port_well_known(uint16_t p) {
    if (p > 0 && p < 1024) return 1;
    if (!p) return 0;
    for (int i = 0; i < eng_decoder_count(); i++)
        for (const uint16_t *pp = eng_decoder_at(i)->ports; pp && *pp; pp++)
            if (*pp == p) return 1;
    return 0;
}
