/* fuzz_ftp.c - arbitrary bytes as one FTP control connection and up to four data
 * connections through the whole core.
 *
 * The control connection (handshake made here) goes to 10.0.0.2:21 with the ftp
 * decoder attached by script at flow.start; then records:
 *   [c] with c & 0x3f != 0: (c & 0x3f) bytes of control payload follow (or the rest);
 *       bit 7: direction (server when set); bit 6: leave a 3-byte hole first
 *   [c = 0x00 or 0x80][op][n][n bytes]: data connection op & 3 (10.0.0.1:30000+i to
 *       10.0.0.2:40000+i, i.e. "227 ... (10,0,0,2,156,64+i)" or, for active mode,
 *       10.0.0.2:20 to 10.0.0.1:50000+i when op & 16, "PORT 10,0,0,1,195,80+i"):
 *       opened on first use; op & 4: bytes from the connection's responder; op & 8:
 *       close it after the bytes
 *   [c = 0x40 or 0xc0][t]: network time moves t * 100 ms (expectations and flows expire)
 * stream.max_line is small so over-long lines and held bytes reach their bounds. Every
 * event kind has a subscriber that reads every field, so the views handed out are
 * checked by ASan. Build: make fuzz; run: build/fuzz/fuzz_ftp DIR tests/fuzz/seeds.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"


static void on_start(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)user;
    if (ev->flow->resp_port == 21) eng_flow_set_service(e, ev->flow, "ftp");
}

static uint8_t frame[2048];
static int64_t ts;

typedef struct {
    const char *ip[2];
    uint16_t port[2];
    uint32_t seq[2];
    int open;
} conn_t;

static void send_seg(eng_t *e, conn_t *c, int d, uint8_t fl, const uint8_t *p, size_t n)
{
    size_t l = pb_tcp4(frame, c->ip[d], c->port[d], c->ip[!d], c->port[!d], c->seq[d], c->seq[!d], fl,
                       p, n, 65535);
    ts += 1000;
    eng_feed(e, ts, 1, frame, (uint32_t)l, (uint32_t)l);
}

static void open_conn(eng_t *e, conn_t *c)
{
    c->seq[0]--;
    c->seq[1]--;
    send_seg(e, c, 0, PB_SYN, NULL, 0);
    c->seq[0]++;
    send_seg(e, c, 1, PB_SYN | PB_ACK, NULL, 0);
    c->seq[1]++;
    send_seg(e, c, 0, PB_ACK, NULL, 0);
    c->open = 1;
}

static void close_conn(eng_t *e, conn_t *c)
{
    send_seg(e, c, 0, PB_FIN | PB_ACK, NULL, 0);
    c->seq[0]++;
    send_seg(e, c, 1, PB_FIN | PB_ACK, NULL, 0);
    c->seq[1]++;
    send_seg(e, c, 0, PB_ACK, NULL, 0);
    c->open = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eng_t *e = eng_new();
    char err[256];
    eng_config_set(e, "stream.max_line", "256", err, sizeof err);
    for (int k = 0; k < eng_event_count(); k++) eng_on(e, k, fz_read_fields, NULL);
    eng_on(e, ENG_EV_FLOW_START, on_start, NULL);
    ts = 1700000000LL * 1000000000LL;
    conn_t ctl = {{"10.0.0.1", "10.0.0.2"}, {40000, 21}, {1000, 5000}, 0};
    conn_t dc[8];
    for (int i = 0; i < 8; i++) {
        int active = i >= 4;
        conn_t c = {{active ? "10.0.0.2" : "10.0.0.1", active ? "10.0.0.1" : "10.0.0.2"},
                    {(uint16_t)(active ? 20 : 30000 + i), (uint16_t)(active ? 50000 + (i - 4) : 40000 + i)},
                    {(uint32_t)(100000 * (i + 1)), (uint32_t)(100000 * (i + 1) + 50000)},
                    0};
        dc[i] = c;
    }
    open_conn(e, &ctl);
    size_t pos = 0;
    while (pos < size) {
        uint8_t c = data[pos++];
        if ((c & 0x3f) == 0) {
            if (c & 0x40) { /* time */
                if (pos < size) eng_advance(e, ts += (int64_t)data[pos++] * 100000000LL);
                continue;
            }
            if (pos + 2 > size) break;
            uint8_t op = data[pos++];
            size_t n = data[pos++];
            if (n > size - pos) n = size - pos;
            conn_t *d = &dc[(op & 3) + ((op & 16) ? 4 : 0)];
            if (!d->open) open_conn(e, d);
            int dir = (op & 4) ? 1 : 0;
            if (n) {
                send_seg(e, d, dir, PB_ACK | PB_PSH, data + pos, n);
                d->seq[dir] += (uint32_t)n;
            }
            pos += n;
            if (op & 8) close_conn(e, d);
            continue;
        }
        int d = c >> 7;
        size_t n = (size_t)(c & 0x3f);
        if (c & 0x40) ctl.seq[d] += 3;
        if (n > size - pos) n = size - pos;
        send_seg(e, &ctl, d, PB_ACK | PB_PSH, data + pos, n);
        ctl.seq[d] += (uint32_t)n;
        pos += n;
    }
    close_conn(e, &ctl);
    eng_finish(e);
    eng_free(e);
    return 0;
}
