/* fuzz_http.c - arbitrary bytes as the two directions of one HTTP flow.
 *
 * Input layout: byte 0 picks options (small stream.max_line, http.max_body,
 * attach by script or by content detection, FINs, file subscribers); the rest is split at 0xFF
 * bytes into chunks that go alternately to the originator and the responder
 * as TCP segments (at most 512 bytes each). A 0xFE byte followed by a length
 * byte skips that many sequence numbers of the current direction (a hole the
 * peer then acknowledges: a tcp.gap). Every event has a subscriber that reads
 * every field, so the views handed out are checked by ASan.
 * Build: make fuzz; run: build/fuzz/fuzz_http -max_total_time=120 DIR
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"


static int attach_by_script;

static void on_event(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)user;
    for (int i = 0; i < ev->nfields; i++) fz_touch(&ev->f[i], 0);
    if (ev->kind == ENG_EV_FLOW_START && attach_by_script) eng_flow_set_service(e, ev->flow, "http");
}

typedef struct conn {
    eng_t *e;
    uint32_t seq[2];
    int64_t t;
} conn_t;

static uint8_t frame[2048];

static void seg(conn_t *c, int dir, uint32_t seq, uint8_t fl, const uint8_t *d, size_t n)
{
    size_t len = dir ? pb_tcp4(frame, "10.0.0.2", 80, "10.0.0.1", 40000, seq, c->seq[0], fl, d, n, 65535)
                     : pb_tcp4(frame, "10.0.0.1", 40000, "10.0.0.2", 80, seq, c->seq[1], fl, d, n, 65535);
    c->t += 1000;
    eng_feed(c->e, c->t, 1, frame, (uint32_t)len, (uint32_t)len);
}

static void send_bytes(conn_t *c, int dir, const uint8_t *p, size_t n)
{
    while (n) {
        size_t k = n < 512 ? n : 512;
        seg(c, dir, c->seq[dir], PB_ACK | PB_PSH, p, k);
        c->seq[dir] += (uint32_t)k;
        p += k;
        n -= k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    eng_t *e = eng_new();
    char err[128];
    uint8_t opt = data[0];
    if (opt & 1) eng_config_set(e, "stream.max_line", "128", err, sizeof err);
    if (opt & 2) eng_config_set(e, "http.max_body", "100", err, sizeof err);
    attach_by_script = (opt & 4) != 0;
    /* file events cost a libmagic load per instance: only in some runs */
    for (int k = 0; k < eng_event_count(); k++)
        if ((opt & 16) || (k != ENG_EV_FILE_BEGIN && k != ENG_EV_FILE_DATA && k != ENG_EV_FILE_DONE))
            eng_on(e, k, on_event, NULL);

    conn_t c = {e, {1000, 5000}, 1700000000LL * 1000000000LL};
    seg(&c, 0, 999, PB_SYN, NULL, 0);
    seg(&c, 1, 4999, PB_SYN | PB_ACK, NULL, 0);
    seg(&c, 0, 1000, PB_ACK, NULL, 0);

    int dir = 0;
    size_t i = 1, start = 1;
    while (i <= size) {
        if (i == size || data[i] == 0xFF || data[i] == 0xFE) {
            send_bytes(&c, dir, data + start, i - start);
            if (i < size && data[i] == 0xFE) {
                uint32_t n = (i + 1 < size) ? data[i + 1] + 1u : 1u;
                c.seq[dir] += n;
                i += 2;
                start = i;
                /* something after the hole, then the peer acknowledges it */
                continue;
            }
            if (i < size) {
                seg(&c, !dir, c.seq[!dir], PB_ACK, NULL, 0); /* holes become gaps */
                dir = !dir;
            }
            start = i + 1;
        }
        i++;
    }
    seg(&c, 1, c.seq[1], PB_ACK, NULL, 0);
    seg(&c, 0, c.seq[0], PB_ACK, NULL, 0);
    if (opt & 8) {
        seg(&c, 1, c.seq[1], PB_FIN | PB_ACK, NULL, 0);
        seg(&c, 0, c.seq[0], PB_FIN | PB_ACK, NULL, 0);
    }
    eng_finish(e);
    eng_free(e);
    return 0;
}
