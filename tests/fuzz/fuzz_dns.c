/* fuzz_dns.c - arbitrary bytes as DNS traffic through the whole core.
 *
 * Byte 0 picks the transport: bit 0 set, TCP (a handshake made here, port 53);
 * else UDP (client port 40000 to port 53, or 5353 when bit 1 is set: mDNS).
 * Then records of [control][n - 1][n bytes of payload]:
 *   control bit 7: from the server; bit 6 (TCP): leave a 3-byte hole in that
 *   direction first; bit 5: move network time 4 s on first (query timeouts).
 * Over UDP each record is one datagram, over TCP one segment. dns.max_pending
 * is 4 and dns.query_timeout 3 s so that eviction and expiry are reached.
 * Every event kind has a subscriber that reads every field (lists and maps
 * too), so the views handed out are checked by ASan.
 * Build: make fuzz; run: build/fuzz/fuzz_dns DIR.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"


static void on_start(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)user;
    eng_flow_set_service(e, ev->flow, "dns");
}

static uint8_t frame[2048];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    eng_t *e = eng_new();
    char err[256];
    eng_config_set(e, "dns.max_pending", "4", err, sizeof err);
    eng_config_set(e, "dns.query_timeout", "3", err, sizeof err);
    for (int k = 0; k < eng_event_count(); k++) eng_on(e, k, fz_read_fields, NULL);
    eng_on(e, ENG_EV_FLOW_START, on_start, NULL);
    int tcp = data[0] & 1;
    uint16_t sport = (data[0] & 2) ? 5353 : 53;
    uint32_t seq[2] = {1000, 5000};
    int64_t ts = 1700000000LL * 1000000000LL;
    const char *ip[2] = {"10.0.0.1", "10.0.0.2"};
    const uint16_t port[2] = {40000, tcp ? 53 : sport};
#define SEND(d, s, fl, p, n)                                                                 \
    do {                                                                                     \
        size_t l_ = pb_tcp4(frame, ip[d], port[d], ip[!(d)], port[!(d)], (s), seq[!(d)], (fl), \
                            (p), (n), 65535);                                                \
        ts += 1000;                                                                          \
        eng_feed(e, ts, 1, frame, (uint32_t)l_, (uint32_t)l_);                              \
    } while (0)
    if (tcp) {
        SEND(0, seq[0] - 1, PB_SYN, NULL, 0);
        SEND(1, seq[1] - 1, PB_SYN | PB_ACK, NULL, 0);
        SEND(0, seq[0], PB_ACK, NULL, 0);
    }
    size_t pos = 1;
    while (pos + 2 <= size) {
        uint8_t c = data[pos++];
        size_t n = (size_t)data[pos++] + 1;
        int d = c >> 7;
        if (n > size - pos) n = size - pos;
        if (c & 0x20) ts += 4000000000LL;
        if (tcp) {
            if (c & 0x40) seq[d] += 3;
            SEND(d, seq[d], PB_ACK | PB_PSH, data + pos, n);
            seq[d] += (uint32_t)n;
        } else {
            size_t l = pb_udp4(frame, ip[d], port[d], ip[!d], port[!d], data + pos, n);
            ts += 1000;
            eng_feed(e, ts, 1, frame, (uint32_t)l, (uint32_t)l);
        }
        pos += n;
    }
    if (tcp) {
        SEND(1, seq[1], PB_FIN | PB_ACK, NULL, 0);
        seq[1]++;
        SEND(0, seq[0], PB_FIN | PB_ACK, NULL, 0);
    }
    eng_finish(e);
    eng_free(e);
    return 0;
}
