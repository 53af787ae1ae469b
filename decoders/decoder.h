/* decoder.h - the one descriptor every protocol decoder implements.
 *
 * A decoder is attached to a flow (by content detection, port hint, or a
 * script's flow:set_service) and from then on receives that flow's
 * reassembled stream per direction (TCP) or its datagrams (UDP). Decoders read
 * TCP streams through a stream_reader_t (stream.h) each, kept in their state,
 * and report fields as events through eng_fire().
 *
 * The registry (registry.c) lists the decoders the engine knows.
 */
#ifndef DECODERS_DECODER_H
#define DECODERS_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct eng_decoder {
    const char *name;        /* service name, e.g. "http" */
    /* content probe on the first bytes of a direction: 1 this protocol,
     * 0 not, -1 cannot tell yet (NULL: never detected by content) */
    int (*probe)(const uint8_t *p, size_t len, int dir);
    const uint16_t *ports;   /* port hints, 0-terminated (may be NULL) */
    size_t state_size;       /* bytes of per-flow state, zeroed before init */
    void (*init)(eng_t *e, eng_flow_t *f, void *st);
    /* in-order stream bytes of direction dir, starting at stream offset off */
    void (*data)(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                 size_t len);
    /* bytes [off, off+len) of direction dir are lost */
    void (*gap)(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len);
    /* one UDP datagram */
    void (*datagram)(eng_t *e, eng_flow_t *f, void *st, int dir, const uint8_t *p, size_t len);
    /* the flow ends: report what is pending, then release owned memory */
    void (*end)(eng_t *e, eng_flow_t *f, void *st);
} eng_decoder_t;

/* the registry */
const eng_decoder_t *eng_decoder_find(const char *name);
int eng_decoder_count(void);
const eng_decoder_t *eng_decoder_at(int i);

/* attach a decoder to a flow (replacing any), `by`: "detect", "port", "script" */
int eng_flow_attach(eng_t *e, eng_flow_t *f, const eng_decoder_t *d, const char *by);

#endif
