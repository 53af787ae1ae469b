/* fuzz_smtp.c - arbitrary bytes as the two directions of one SMTP flow.
 *
 * Input layout: byte 0 picks options: bit 0 a small stream.max_line (64),
 * bit 1 attach "smtp" by script at flow.start (otherwise content detection or
 * the port hint), bits 2-3 the segment size (512, 64, 3 or 1 bytes; segments
 * under 64 bytes only for the first FZ_SMALL_SEGS segments of the input, then
 * 512: a segment costs a trip through the whole core, and 1-byte segments of
 * a 16 KB input made the target run at 50 inputs a second), bit 4
 * subscribe to the file events too (libmagic is loaded then), bit 5 send the
 * segments of each chunk in reverse order (the reassembler puts them back:
 * replies then often arrive before the commands they answer), bit 6 end with
 * FINs. The rest is split at 0xFF bytes into chunks that go alternately to the
 * client and the server (the client first). A 0xFE byte followed by a length
 * byte skips that many sequence numbers of the current direction (a hole the
 * peer acknowledges: a tcp.gap). Every event has a subscriber that reads
 * every field, so the views handed out are checked by ASan.
 * Build: make fuzz; run: build/fuzz/fuzz_smtp -max_total_time=120 DIR
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"


static int by_script;

static void on_event(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)user;
    for (int i = 0; i < ev->nfields; i++) fz_touch(&ev->f[i], 0);
    if (ev->kind == ENG_EV_FLOW_START && by_script) eng_flow_set_service(e, ev->flow, "smtp");
}

typedef struct conn {
    eng_t *e;
    uint32_t seq[2];
    int64_t t;
    size_t mss;
    int reverse;
    int small_left; /* segments under 64 bytes still allowed */
} conn_t;

#define FZ_SMALL_SEGS 256

static uint8_t frame[2048];

static void seg(conn_t *c, int dir, uint32_t seq, uint8_t fl, const uint8_t *d, size_t n)
{
    size_t len = dir ? pb_tcp4(frame, "10.0.0.2", 25, "10.0.0.1", 40000, seq, c->seq[0], fl, d, n, 65535)
                     : pb_tcp4(frame, "10.0.0.1", 40000, "10.0.0.2", 25, seq, c->seq[1], fl, d, n, 65535);
    c->t += 1000;
    eng_feed(c->e, c->t, 1, frame, (uint32_t)len, (uint32_t)len);
}

static void send_bytes(conn_t *c, int dir, const uint8_t *p, size_t n)
{
    if (!n) return;
    size_t mss = c->mss;
    size_t nseg = (n + mss - 1) / mss;
    if (mss < 64) {
        if (nseg > (size_t)c->small_left) {
            mss = 512;
            nseg = (n + mss - 1) / mss;
        } else {
            c->small_left -= (int)nseg;
        }
    }
    for (size_t k = 0; k < nseg; k++) {
        size_t j = c->reverse ? nseg - 1 - k : k;
        size_t o = j * mss;
        size_t len = n - o < mss ? n - o : mss;
        seg(c, dir, c->seq[dir] + (uint32_t)o, PB_ACK | PB_PSH, p + o, len);
    }
    c->seq[dir] += (uint32_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t mss[4] = {512, 64, 3, 1};
    eng_t *e = eng_new();
    char err[128];
    uint8_t opt = data[0];
    if (opt & 1) eng_config_set(e, "stream.max_line", "64", err, sizeof err);
    by_script = (opt & 2) != 0;
    for (int k = 0; k < eng_event_count(); k++)
        if ((opt & 16) || (k != ENG_EV_FILE_BEGIN && k != ENG_EV_FILE_DATA && k != ENG_EV_FILE_DONE))
            eng_on(e, k, on_event, NULL);

    conn_t c = {e, {1000, 5000}, 1700000000LL * 1000000000LL, mss[(opt >> 2) & 3], (opt & 32) != 0,
              FZ_SMALL_SEGS};
    seg(&c, 0, 999, PB_SYN, NULL, 0);
    seg(&c, 1, 4999, PB_SYN | PB_ACK, NULL, 0);
    seg(&c, 0, 1000, PB_ACK, NULL, 0);

    int dir = 0;
    size_t i = 1, start = 1;
    while (i <= size) {
        if (i == size || data[i] == 0xFF || data[i] == 0xFE) {
            send_bytes(&c, dir, data + start, i - start);
            if (i < size && data[i] == 0xFE) {
                c.seq[dir] += (i + 1 < size) ? data[i + 1] + 1u : 1u;
                i += 2;
                start = i;
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
    if (opt & 64) {
        seg(&c, 1, c.seq[1], PB_FIN | PB_ACK, NULL, 0);
        seg(&c, 0, c.seq[0], PB_FIN | PB_ACK, NULL, 0);
    }
    eng_finish(e);
    eng_free(e);
    return 0;
}
