/* fuzz_tls.c - arbitrary bytes as one TLS connection through the whole core.
 *
 * A TCP connection (handshake made here) to port 443 with the ssl decoder
 * attached by script at flow.start, then records of
 *   [1 byte control][control & 0x3f (+1) ... bytes of payload]
 * control bit 7: direction (server when set); bit 6: leave a 3-byte hole in
 * that direction before the payload (a gap once the peer acknowledges it).
 * The payload length is (control & 0x3f) + 1, or the rest of the input.
 * Every event kind has a subscriber that reads every field, so the
 * views handed out are checked by ASan.
 * tls.max_handshake is 2048 so over-long handshake messages reach their bound; the
 * seed tests/fuzz/seeds/tls-handshake.bin is the TLS 1.2 handshake with client
 * certificate of pcaps/tls12-client-cert.pcap in this format (tests/fuzz/tls2seed.py).
 * Build: make fuzz; run: build/fuzz/fuzz_tls DIR.
 */
#include <stdint.h>
#include <string.h>

#include "engine.h"
#include "../unit/pktbuild.h"

static volatile uint64_t sink;

static void touch(const eng_value_t *v, int depth)
{
    switch (v->type) {
    case ENG_T_STR:
        for (uint32_t i = 0; i < v->len; i++) sink += v->u.s[i];
        break;
    case ENG_T_LIST:
    case ENG_T_MAP:
        if (depth < 8)
            for (uint32_t i = 0; i < v->len * (v->type == ENG_T_MAP ? 2u : 1u); i++)
                touch(&v->u.list[i], depth + 1);
        break;
    default:
        sink += (uint64_t)v->u.i;
    }
}

static void on_event(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)e;
    (void)user;
    for (int i = 0; i < ev->nfields; i++) touch(&ev->f[i], 0);
}

static void on_start(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)user;
    eng_flow_set_service(e, ev->flow, "ssl");
}

static uint8_t frame[2048];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eng_t *e = eng_new();
    char err[256];
    eng_config_set(e, "tls.max_handshake", "2048", err, sizeof err);
    for (int k = 0; k < eng_event_count(); k++) eng_on(e, k, on_event, NULL);
    eng_on(e, ENG_EV_FLOW_START, on_start, NULL);
    uint32_t seq[2] = {1000, 5000};
    int64_t ts = 1700000000LL * 1000000000LL;
    const char *ip[2] = {"10.0.0.1", "10.0.0.2"};
    const uint16_t port[2] = {40000, 443};
#define SEND(d, s, fl, p, n)                                                                 \
    do {                                                                                     \
        size_t l_ = pb_tcp4(frame, ip[d], port[d], ip[!(d)], port[!(d)], (s), seq[!(d)], (fl), \
                            (p), (n), 65535);                                                \
        ts += 1000;                                                                          \
        eng_feed(e, ts, 1, frame, (uint32_t)l_, (uint32_t)l_);                              \
    } while (0)
    SEND(0, seq[0] - 1, PB_SYN, NULL, 0);
    SEND(1, seq[1] - 1, PB_SYN | PB_ACK, NULL, 0);
    SEND(0, seq[0], PB_ACK, NULL, 0);
    size_t pos = 0;
    while (pos < size) {
        uint8_t c = data[pos++];
        int d = c >> 7;
        size_t n = (size_t)(c & 0x3f) + 1;
        if (c & 0x40) seq[d] += 3;
        if (n > size - pos) n = size - pos;
        if (n > 1400) n = 1400;
        SEND(d, seq[d], PB_ACK | PB_PSH, data + pos, n);
        seq[d] += (uint32_t)n;
        pos += n;
    }
    SEND(1, seq[1], PB_FIN | PB_ACK, NULL, 0);
    seq[1]++;
    SEND(0, seq[0], PB_FIN | PB_ACK, NULL, 0);
    eng_finish(e);
    eng_free(e);
    return 0;
}
