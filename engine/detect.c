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
#define DETECT_STEP 16 /* a direction's first capacity, rounded up; doubles up to DETECT_MAX */

/* The bytes kept while undecided, sized to what arrived: direction 0's cap[0]
 * bytes, then direction 1's cap[1] (a half-open flow that sent one small
 * segment keeps a few dozen bytes, not 2 x DETECT_MAX). A flow whose first
 * chunk decides keeps nothing. */
struct detect_buf {
    uint64_t off[2];
    uint16_t len[2];
    uint16_t cap[2];
    uint8_t b[];
};

static uint8_t *det_bytes(struct detect_buf *db, int dir) { return db->b + (dir ? db->cap[0] : 0); }

static void detect_done(flow_t *f) {
    f->detect_done = 1;
    free(f->det);
    f->det = NULL;
}

/* append n bytes (len[dir] + n <= DETECT_MAX) to direction dir, whose bytes
 * start at stream offset off when it holds none yet; at most a few
 * reallocations a direction (the capacity doubles); -1 when out of memory */
static int det_keep(flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t n) {
    struct detect_buf *db = f->det;
    size_t have = db ? db->len[dir] : 0, cap = db ? db->cap[dir] : 0;
    if (have + n > cap) {
        size_t nc = cap ? cap * 2 : DETECT_STEP;
        while (nc < have + n) nc *= 2;
        if (nc > DETECT_MAX) nc = DETECT_MAX;
        size_t c0 = dir ? (db ? db->cap[0] : 0) : nc, c1 = dir ? nc : (db ? db->cap[1] : 0);
        struct detect_buf *nb = realloc(db, sizeof *nb + c0 + c1);
        if (!nb) return -1;
        if (!db) memset(nb, 0, sizeof *nb);
        if (!dir && nb->len[1]) memmove(nb->b + c0, nb->b + nb->cap[0], nb->len[1]);
        nb->cap[0] = (uint16_t)c0;
        nb->cap[1] = (uint16_t)c1;
        f->det = db = nb;
    }
    if (!db->len[dir]) db->off[dir] = off;
    memcpy(det_bytes(db, dir) + db->len[dir], p, n);
    db->len[dir] = (uint16_t)(db->len[dir] + n);
    return 0;
}

/* attach d and hand it the bytes kept before the current chunk (prior bytes of
 * dir, which starts at off when it kept none, and the other direction's) */
static void detect_attach(eng_t *e, flow_t *f, const eng_decoder_t *d, const char *by, int dir,
                          uint64_t off, size_t prior) {
    struct detect_buf *db = f->det;
    f->det = NULL;
    f->detect_done = 1;
    if (eng_flow_attach(e, &f->pub, d, by) == 0 && f->dec == d && d->data) {
        e->busy++;
        for (int k = 0; k < 2 && f->dec == d && !f->pub.skipped; k++) {
            size_t n = k == dir ? prior : db ? db->len[k] : 0;
            uint64_t koff = k == dir && !prior ? off : db ? db->off[k] : 0;
            /* the direction's first bytes did not reach detection (lost, or
             * kept before a gap made it start over): the decoder hears of a
             * gap from the stream's start, as it would have, attached then */
            if ((n || k == dir) && koff > 0 && d->gap) d->gap(e, &f->pub, f->dec_state, k, 0, koff);
            if (n) d->data(e, &f->pub, f->dec_state, k, koff, det_bytes(db, k), n);
        }
        e->busy--;
    }
    free(db);
}

void detect_flow(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len, int udp) {
    size_t prior = 0;
    const uint8_t *v[2] = {NULL, NULL}; /* each direction's bytes so far, for probe_pair */
    size_t vl[2] = {0, 0};
    if (!e->cfg.detect) { /* --set engine.detect=false: flows and reassembly only */
        f->detect_done = 1;
        return;
    }
    if (!udp) {
        struct detect_buf *db = f->det;
        if (db && (prior = db->len[dir]) && db->off[dir] + prior != off) { /* a gap: start over */
            prior = 0;
            db->len[dir] = 0;
        }
        if (prior) { /* probed together with what came before */
            size_t take = len < DETECT_MAX - prior ? len : DETECT_MAX - prior;
            if (det_keep(f, dir, off, p, take)) {
                detect_done(f);
                return;
            }
            db = f->det;
            p = det_bytes(db, dir);
            len = prior + take;
        } else if (len > DETECT_MAX) {
            len = DETECT_MAX; /* probes see at most DETECT_MAX bytes a direction */
        }
        v[dir] = p;
        vl[dir] = len;
        if (db) {
            v[!dir] = det_bytes(db, !dir);
            vl[!dir] = db->len[!dir];
        }
    }
    const eng_decoder_t *port_match = NULL;
    int undecided = 0;
    for (int i = 0; i < eng_decoder_count(); i++) {
        const eng_decoder_t *d = eng_decoder_at(i);
        if (udp ? !d->datagram : !d->data) continue;
        if (!d->probe) continue; /* never detected by content (decoder.h), e.g. ftp-data */
        int r = !udp && d->probe_pair && vl[0] && vl[1] ? d->probe_pair(v[0], vl[0], v[1], vl[1])
                                                        : d->probe(p, len, dir);
        if (r == 1) {
            detect_attach(e, f, d, "detect", dir, off, prior);
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
    int both = !udp && vl[0] && vl[1];
    if (!undecided || udp || len >= DETECT_MAX || (both && port_match)) {
        if (port_match) detect_attach(e, f, port_match, "port", dir, off, prior);
        else detect_done(f);
        return;
    }
    /* undecided: a first chunk is kept now (a later one was appended above) */
    if (!prior && det_keep(f, dir, off, p, len)) detect_done(f);
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
