/* fuzz_packets.c - arbitrary bytes as packets through the whole core.
 *
 * Input layout: byte 0 picks the link type (modulo the list below), the TCP
 * overlap policy (its high nibble) and, with bit 0x40, per-host policy
 * tables (tcp.overlap_by_host, ip.frag_policy_by_host); byte 0 plus the last
 * byte pick ip.frag_policy; then records of
 *   [2 bytes length, big-endian][1 byte time step][length bytes of frame]
 * Small limits (flow.max, tcp.max_ooo_bytes, fragments) make eviction, gap
 * and cap paths reachable. Every event kind has a subscriber that reads every
 * field, so the views handed out are checked by ASan.
 * Build: make fuzz; run: make fuzz-run (or build/fuzz/fuzz_packets DIR).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"

static const int links[] = {1 /* EN10MB */, 113 /* LINUX_SLL */, 276 /* LINUX_SLL2 */,
                            12 /* RAW */, 101 /* LINKTYPE_RAW */, 0 /* NULL */, 108 /* LOOP */,
                            228 /* IPV4 */, 229 /* IPV6 */, 129 /* ARCNET_LINUX */,
                            9 /* PPP */, 50 /* PPP_SERIAL */, 104 /* C_HDLC */, 239 /* NFLOG */};

static void on_event(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e; (void)user;
    for (int i = 0; i < ev->nfields; i++) fz_touch(&ev->f[i], 0);
    if (ev->flow) {
        char buf[64];
        eng_flow_addr(ev->flow, ENG_ORIG, buf, sizeof buf);
        fz_sink += (uint64_t)eng_flow_state(ev->flow)[0] + ev->flow->history[0];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    eng_t *e = eng_new();
    char err[256];
    eng_config_set(e, "flow.max", "8", err, sizeof err);
    eng_config_set(e, "tcp.max_ooo_bytes", "2048", err, sizeof err);
    eng_config_set(e, "tcp.max_total_bytes", "8192", err, sizeof err);
    eng_config_set(e, "ip.max_frag_bytes", "8192", err, sizeof err);
    /* every overlap policy (the high nibble), and per-host ones for some addresses */
    static const char *const pols[] = {"first", "last", "linux", "old-linux", "bsd", "bsd-right",
                                       "old-solaris", "solaris", "hpux10", "hpux11", "irix",
                                       "macos", "vista", "windows", "windows2k3", "first"};
    eng_config_set(e, "tcp.overlap", pols[data[0] >> 4], err, sizeof err);
    if (data[0] & 0x40)
        eng_config_set(e, "tcp.overlap_by_host", "10.0.0.0/8=linux,10.0.0.2=solaris,0.0.0.0/1=windows,::/1=bsd",
                       err, sizeof err);
    /* every fragment policy, picked by the first and last bytes together (the first alone
     * already picks the link and the TCP policy), and with bit 0x40 a per-host table too */
    static const char *const fpols[] = {"bsd", "first", "last", "bsd-right", "linux", "windows", "solaris"};
    eng_config_set(e, "ip.frag_policy", fpols[(data[0] + data[size - 1]) % 7], err, sizeof err);
    if (data[0] & 0x40)
        eng_config_set(e, "ip.frag_policy_by_host", "10.0.0.0/8=linux,10.0.0.2=first,0.0.0.0/1=windows,::/1=solaris",
                       err, sizeof err);
    for (int k = 0; k < eng_event_count(); k++) eng_on(e, k, on_event, NULL);
    int link = links[data[0] % (sizeof links / sizeof links[0])];
    size_t pos = 1;
    int64_t ts = 1700000000LL * 1000000000LL;
    while (pos + 3 <= size) {
        size_t len = ((size_t)data[pos] << 8) | data[pos + 1];
        ts += (int64_t)data[pos + 2] * 250000000LL; /* up to ~64 s per step: timeouts happen */
        pos += 3;
        if (len > size - pos) len = size - pos;
        eng_feed(e, ts, link, data + pos, (uint32_t)len, (uint32_t)len + (data[0] & 1 ? 7 : 0));
        pos += len;
    }
    eng_finish(e);
    eng_free(e);
    return 0;
}
