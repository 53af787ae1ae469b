/* fuzz_tls.c - arbitrary bytes as one ssl conversation through the whole core.
 *
 * A TCP connection to port 443 with the ssl decoder attached by script at
 * flow.start, built from the input by fz_tcp_conversation (fuzz_common.h: records
 * of [control][payload], direction and holes chosen by the control byte), every
 * event subscribed and every field read, so ASan checks the views handed out.
 * tls.max_handshake is 2048 so over-long handshake messages reach their bound; the seed tests/fuzz/seeds/tls-handshake.bin is the TLS 1.2 handshake with client certificate of pcaps/tls12-client-cert.pcap in this format (tests/fuzz/tls2seed.py).
 * Build: make fuzz; run: build/fuzz/fuzz_tls DIR.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eng_t *e = eng_new();
    char err[256];
    eng_config_set(e, "tls.max_handshake", "2048", err, sizeof err);
    return fz_tcp_conversation(e, "ssl", 443, data, size);
}
