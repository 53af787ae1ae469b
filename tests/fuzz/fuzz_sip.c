/* fuzz_sip.c - arbitrary bytes as SIP over UDP or TCP through the whole core,
 * with the media flows an SDP may announce.
 *
 * Byte 0: bit 0 set = TCP (a connection to port 5060, handshake made here,
 * sip attached by content or port), clear = UDP (10.0.0.1:5062 <-> 10.0.0.2:5060).
 * Then records [ctl][len hi][len lo][len bytes of payload, or the rest]:
 * ctl bit 7: direction (10.0.0.2 sends when set); bit 6 (TCP): leave a 3-byte
 * hole in that direction first (a gap); bit 5: instead, a UDP datagram of the
 * payload from 10.0.0.3:7000 to 10.0.0.1:<len> (bit 7 clear) or 10.0.0.2:<len>,
 * which fulfils an expectation when an SDP announced that address and port
 * (an RTP or RTCP flow; payload capped at 64 bytes). Payloads are capped at
 * 1400 bytes (TCP) or 9000 (UDP). stream.max_line is small so over-long lines
 * reach their bound. Every event kind has a subscriber that reads every field,
 * nested lists and maps included, so the views handed out are checked by ASan.
 * Build: make fuzz; run: build/fuzz/fuzz_sip DIR.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"


static uint8_t frame[10000];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int tcp = data[0] & 1;
    eng_t *e = eng_new();
    char err[256];
    eng_config_set(e, "stream.max_line", "256", err, sizeof err);
    for (int k = 0; k < eng_event_count(); k++) eng_on(e, k, fz_read_fields, NULL);
    uint32_t seq[2] = {1000, 5000};
    int64_t ts = 1700000000LL * 1000000000LL;
    const char *ip[2] = {"10.0.0.1", "10.0.0.2"};
    const uint16_t port[2] = {tcp ? 40000 : 5062, 5060};
#define FEED(l)                                                                              \
    do {                                                                                     \
        ts += 1000;                                                                          \
        eng_feed(e, ts, 1, frame, (uint32_t)(l), (uint32_t)(l));                            \
    } while (0)
#define SEND(d, s, fl, p, n)                                                                 \
    FEED(pb_tcp4(frame, ip[d], port[d], ip[!(d)], port[!(d)], (s), seq[!(d)], (fl), (p), (n), \
                 65535))
    if (tcp) {
        SEND(0, seq[0] - 1, PB_SYN, NULL, 0);
        SEND(1, seq[1] - 1, PB_SYN | PB_ACK, NULL, 0);
        SEND(0, seq[0], PB_ACK, NULL, 0);
    }
    size_t pos = 1;
    while (pos < size) {
        uint8_t c = data[pos++];
        int d = c >> 7;
        size_t n = size - pos;
        uint16_t len = 0;
        if (n >= 2) {
            len = (uint16_t)(data[pos] << 8 | data[pos + 1]);
            pos += 2;
            n = size - pos;
            if (len < n) n = len;
        }
        if (c & 0x20) {
            if (n > 64) n = 64;
            FEED(pb_udp4(frame, "10.0.0.3", 7000, ip[d], len, data + pos, n));
        } else if (tcp) {
            if (c & 0x40) seq[d] += 3;
            if (n > 1400) n = 1400;
            SEND(d, seq[d], PB_ACK | PB_PSH, data + pos, n);
            seq[d] += (uint32_t)n;
        } else {
            if (n > 9000) n = 9000;
            FEED(pb_udp4(frame, ip[d], port[d], ip[!d], port[!d], data + pos, n));
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
