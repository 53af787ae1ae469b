/* dotbody.h - the dot-terminated body of SMTP DATA (RFC 5321 4.5.2) and of
 * POP3 multi-line responses (RFC 1939 3): read up to the line holding only
 * ".", dot-unstuffed, handed on as views into the stream without copying and
 * without cutting long lines (only the last partial line is kept, by the
 * stream reader).
 *
 * A line is ended by LF (CRLF or bare LF). At a line start ".\r\n" or ".\n"
 * ends the body; ".." gives "."; "." followed by anything else is passed on
 * as it is. After a gap the next bytes are a line fragment, not a line start.
 *
 *   dotbody_t d; dotbody_start(&d);
 *   switch (dotbody_read(&d, sr, feed, ctx, &progress)) { ... }
 */
#ifndef DECODERS_DOTBODY_H
#define DECODERS_DOTBODY_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

typedef struct dotbody {
    uint8_t bol;    /* at a line start */
    uint8_t dstate; /* 1 after a line-start ".", 2 after ".\r" */
} dotbody_t;

enum {
    DOT_MORE = 0, /* the reader is empty: wait for more bytes */
    DOT_END,      /* the terminating line was consumed */
    DOT_GAP       /* a gap was passed (the caller tells its consumer); read on */
};

typedef void (*dotbody_feed_fn)(void *ctx, const uint8_t *p, size_t n);

/* a body starts at a line start */
void dotbody_start(dotbody_t *d);
/* Consume body bytes from sr, handing content to feed(ctx, p, n); *progress
 * is set to 1 when any byte (or a gap) was consumed. */
int dotbody_read(dotbody_t *d, stream_reader_t *sr, dotbody_feed_fn feed, void *ctx,
                 int *progress);
/* The stream ended inside the body: hand on a pending "." or ".\r". */
void dotbody_flush(dotbody_t *d, dotbody_feed_fn feed, void *ctx);

#endif
