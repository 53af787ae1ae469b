/* fuzz_imap.c - arbitrary bytes as one imap conversation through the whole core.
 *
 * A TCP connection to port 143 with the imap decoder attached by script at
 * flow.start, built from the input by fz_tcp_conversation (fuzz_common.h: records
 * of [control][payload], direction and holes chosen by the control byte), every
 * event subscribed and every field read, so ASan checks the views handed out.
 * stream.max_line is small so over-long lines and held bytes reach their bounds.
 * Build: make fuzz; run: build/fuzz/fuzz_imap DIR.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eng_t *e = eng_new();
    char err[256];
    eng_config_set(e, "stream.max_line", "256", err, sizeof err);
    return fz_tcp_conversation(e, "imap", 143, data, size);
}
