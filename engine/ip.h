/* ip.h - what link.c, ip.c and frag.c share (internal to the packet layers). */
#ifndef ENGINE_IP_H
#define ENGINE_IP_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* the decoding of one frame */
typedef struct ipctx {
    eng_t *e;
    pkt_t *out;
    int cut;      /* the frame was cut by the snaplen (caplen < wirelen) */
    int reported; /* a truncation weird was already reported for this frame */
} ipctx_t;

/* parse an IP header at p (avail captured bytes). version 4 or 6 says what the
 * link layer announced, 0 means "look at the version nibble". Returns 1 when
 * ctx->out holds a transport payload. */
int ip_decode(ipctx_t *c, const uint8_t *p, size_t avail, int version);
/* the Internet checksum: add bytes to a running sum, then fold (0xffff: correct) */
uint32_t ip_csum_add(uint32_t acc, const uint8_t *p, size_t n);
uint16_t ip_csum_fold(uint32_t acc);

/* a header cut short: weird truncated_header (once a frame), stats.truncated; returns 0 */
int ip_trunc_header(ipctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* a malformed frame: the named weird, stats.ip_errors; returns 0 */
int ip_bad(ipctx_t *c, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* free the datagram returned by the previous frag_add (start of each frame) */
void frag_release(frag_table_t *t);

#endif
