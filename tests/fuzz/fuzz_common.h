/* fuzz_common.h - what the fuzz targets share: reading every field of an event
 * (so ASan checks every view the core hands out), and one TCP conversation
 * built from the fuzzer's bytes for the line-protocol targets.
 *
 * The conversation (fz_tcp_conversation): a handshake made here, then records
 *   [1 byte control][control & 0x3f (+1) ... bytes of payload]
 * control bit 7: direction (server when set); bit 6: leave a 3-byte hole in
 * that direction before the payload (a gap once the peer acknowledges it).
 * The payload length is (control & 0x3f) + 1, or the rest of the input; then
 * FIN both ways and eng_finish. */
#ifndef TESTS_FUZZ_COMMON_H
#define TESTS_FUZZ_COMMON_H

#include <stdint.h>
#include <string.h>

#include "engine.h"
#include "../unit/pktbuild.h"

static volatile uint64_t fz_sink;

static inline void fz_touch(const eng_value_t *v, int depth)
{
    switch (v->type) {
    case ENG_T_STR:
        for (uint32_t i = 0; i < v->len; i++) fz_sink += v->u.s[i];
        break;
    case ENG_T_LIST:
    case ENG_T_MAP:
        if (depth < 8)
            for (uint32_t i = 0; i < v->len * (v->type == ENG_T_MAP ? 2u : 1u); i++)
                fz_touch(&v->u.list[i], depth + 1);
        break;
    default:
        fz_sink += (uint64_t)v->u.i;
    }
}

/* a subscriber for every event kind: reads every field */
static inline void fz_read_fields(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)e;
    (void)user;
    for (int i = 0; i < ev->nfields; i++) fz_touch(&ev->f[i], 0);
}

static const char *fz_service; /* attached by "script" at flow.start */

static inline void fz_attach(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)user;
    eng_flow_set_service(e, ev->flow, fz_service);
}

/* one conversation to server port `port` with decoder `service`, every event
 * subscribed; e is configured by the caller and freed here */
static inline int fz_tcp_conversation(eng_t *e, const char *service, uint16_t sport_srv,
                               const uint8_t *data, size_t size)
{
    static uint8_t frame[2048];
    fz_service = service;
    for (int k = 0; k < eng_event_count(); k++) eng_on(e, k, fz_read_fields, NULL);
    eng_on(e, ENG_EV_FLOW_START, fz_attach, NULL);
    uint32_t seq[2] = {1000, 5000};
    int64_t ts = 1700000000LL * 1000000000LL;
    const char *ip[2] = {"10.0.0.1", "10.0.0.2"};
    const uint16_t port[2] = {40000, sport_srv};
#define FZ_SEND(d, s, fl, p, n)                                                              \
    do {                                                                                     \
        size_t l_ = pb_tcp4(frame, ip[d], port[d], ip[!(d)], port[!(d)], (s), seq[!(d)], (fl), \
                            (p), (n), 65535);                                                \
        ts += 1000;                                                                          \
        eng_feed(e, ts, 1, frame, (uint32_t)l_, (uint32_t)l_);                              \
    } while (0)
    FZ_SEND(0, seq[0] - 1, PB_SYN, NULL, 0);
    FZ_SEND(1, seq[1] - 1, PB_SYN | PB_ACK, NULL, 0);
    FZ_SEND(0, seq[0], PB_ACK, NULL, 0);
    size_t pos = 0;
    while (pos < size) {
        uint8_t c = data[pos++];
        int d = c >> 7;
        size_t n = (size_t)(c & 0x3f) + 1;
        if (c & 0x40) seq[d] += 3;
        if (n > size - pos) n = size - pos;
        if (n > 1400) n = 1400;
        FZ_SEND(d, seq[d], PB_ACK | PB_PSH, data + pos, n);
        seq[d] += (uint32_t)n;
        pos += n;
    }
    FZ_SEND(1, seq[1], PB_FIN | PB_ACK, NULL, 0);
    seq[1]++;
    FZ_SEND(0, seq[0], PB_FIN | PB_ACK, NULL, 0);
#undef FZ_SEND
    eng_finish(e);
    eng_free(e);
    return 0;
}

#endif
