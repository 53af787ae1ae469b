/* stream.c - the structure-aware stream target: the input is one TCP
 * conversation of chunks, each chunk a run of client or server bytes, fed to
 * the decoder FZ_DECODER (a build-time name: the Makefile builds
 * build/fuzz/fuzz_stream_<decoder> for http, smtp, pop3, imap, ftp, sip and
 * ssl from this one file).
 *
 * Input layout:
 *   byte 0, options: bit 0 attach the decoder by script at flow.start
 *     (otherwise by content detection or the port hint); bit 1 a small
 *     stream.max_line (128) and http.max_body (100); bit 2 subscribe to the
 *     file events too (libmagic is loaded then); bit 3 end with FIN both ways;
 *     bit 4 end with a RST from the server (after the FINs when both are set);
 *     bit 5 segments of at most 7 bytes (otherwise 1400).
 *   then chunks: [ctl][len hi][len lo][len bytes, or the rest of the input]
 *     ctl bit 0: direction (1 = server to client);
 *     ctl bit 1: a hole of (ctl >> 2) + 1 bytes in that direction before the
 *       chunk, which the peer then acknowledges: a tcp.gap.
 * The handshake is made here. Every event has a subscriber that reads every
 * field, so ASan checks the views the core and the decoder hand out.
 * tests/fuzz/stream2seed.py turns a capture of one connection into an input.
 * Build: make fuzz; run: build/fuzz/fuzz_stream_smtp DIR.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"

#ifndef FZ_DECODER
#define FZ_DECODER "http"
#endif

static const struct {
    const char *name;
    uint16_t port;
} ports[] = {{"http", 80},  {"smtp", 25},  {"pop3", 110}, {"imap", 143},
             {"ftp", 21},   {"sip", 5060}, {"ssl", 443}};

static int by_script;

static void on_event(eng_t *e, const eng_event_t *ev, void *user)
{
    (void)user;
    for (int i = 0; i < ev->nfields; i++) fz_touch(&ev->f[i], 0);
    if (ev->kind == ENG_EV_FLOW_START && by_script) eng_flow_set_service(e, ev->flow, FZ_DECODER);
}

typedef struct conn {
    eng_t *e;
    uint32_t seq[2];
    int64_t t;
    uint16_t port;
    size_t mss;
} conn_t;

static uint8_t frame[2048];

static void seg(conn_t *c, int dir, uint8_t fl, const uint8_t *d, size_t n)
{
    size_t len = dir ? pb_tcp4(frame, "10.0.0.2", c->port, "10.0.0.1", 40000, c->seq[1], c->seq[0],
                               fl, d, n, 65535)
                     : pb_tcp4(frame, "10.0.0.1", 40000, "10.0.0.2", c->port, c->seq[0], c->seq[1],
                               fl, d, n, 65535);
    c->t += 1000000; /* 1 ms */
    eng_feed(c->e, c->t, 1, frame, (uint32_t)len, (uint32_t)len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t opt = data[0];
    eng_t *e = eng_new();
    char err[128];
    if (opt & 2) {
        eng_config_set(e, "stream.max_line", "128", err, sizeof err);
        eng_config_set(e, "http.max_body", "100", err, sizeof err);
    }
    by_script = opt & 1;
    for (int k = 0; k < eng_event_count(); k++)
        if ((opt & 4) || (k != ENG_EV_FILE_BEGIN && k != ENG_EV_FILE_DATA && k != ENG_EV_FILE_DONE))
            eng_on(e, k, on_event, NULL);
    conn_t c = {e, {999, 4999}, 1700000000LL * 1000000000LL, 0, (opt & 32) ? 7 : 1400};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (!strcmp(ports[i].name, FZ_DECODER)) c.port = ports[i].port;

    seg(&c, 0, PB_SYN, NULL, 0);
    c.seq[0]++;
    seg(&c, 1, PB_SYN | PB_ACK, NULL, 0);
    c.seq[1]++;
    seg(&c, 0, PB_ACK, NULL, 0);

    size_t pos = 1;
    while (pos < size) {
        uint8_t ctl = data[pos++];
        int dir = ctl & 1;
        size_t n = size - pos;
        if (n >= 2) {
            size_t len = (size_t)data[pos] << 8 | data[pos + 1];
            pos += 2;
            n = size - pos;
            if (len < n) n = len;
        }
        if (ctl & 2) c.seq[dir] += (uint32_t)(ctl >> 2) + 1;
        for (size_t o = 0; o < n; o += c.mss) {
            size_t k = n - o < c.mss ? n - o : c.mss;
            seg(&c, dir, PB_ACK | PB_PSH, data + pos + o, k);
            c.seq[dir] += (uint32_t)k;
        }
        if (ctl & 2) seg(&c, !dir, PB_ACK, NULL, 0); /* the peer acknowledges past the hole */
        pos += n;
    }
    if (opt & 8) {
        seg(&c, 0, PB_FIN | PB_ACK, NULL, 0);
        c.seq[0]++;
        seg(&c, 1, PB_FIN | PB_ACK, NULL, 0);
        c.seq[1]++;
        seg(&c, 0, PB_ACK, NULL, 0);
    }
    if (opt & 16) seg(&c, 1, PB_RST | PB_ACK, NULL, 0);
    eng_finish(e);
    eng_free(e);
    return 0;
}
