/* starttls.h - STARTTLS accepted (SMTP 220, POP3 +OK to STLS, IMAP OK to
 * STARTTLS, FTP 234 to AUTH TLS): hand the rest of the flow to the TLS
 * decoder ("ssl"). The server direction switches at resp_off (the first byte
 * after the accepting line), the client direction at its next byte; bytes
 * the mail decoder's stream readers still hold undecoded (a ClientHello that
 * arrived before the acceptance was parsed, server bytes kept while the
 * server side waited) are carried over (dec_handoff_carry) so the TLS decoder
 * sees them first. Call it once the view of the accepting line is no longer
 * needed; afterwards the readers hold nothing (drain them as usual). 0, or -1
 * (no hand-off: the caller goes on decoding). */
#ifndef DECODERS_STARTTLS_H
#define DECODERS_STARTTLS_H

#include "decoder.h"
#include "stream.h"

static inline int starttls_handoff(eng_t *e, eng_flow_t *f, stream_reader_t *orig,
                                   stream_reader_t *resp, uint64_t resp_off)
{
    if (dec_handoff(e, f, "ssl", ENG_RESP, resp_off) != 0) return -1;
    stream_reader_t *sr[2] = {orig, resp};
    for (int d = 0; d < 2; d++) {
        stream_reader_t *r = sr[d];
        if (!r || !r->chunk) continue;
        sr_push(r, r->chunk_off + r->chunk_len, NULL, 0); /* the unread rest moves into buf */
        if (!r->buf_len) continue;
        uint64_t o = r->buf_off;
        const uint8_t *p = r->buf;
        size_t n = r->buf_len;
        if (d == ENG_RESP && o < resp_off) { /* not expected: the accepting line was read */
            uint64_t k = resp_off - o;
            if (k >= n) continue;
            p += k;
            n -= (size_t)k;
            o = resp_off;
        }
        dec_handoff_carry(e, f, d, o, p, n);
    }
    return 0;
}

#endif
