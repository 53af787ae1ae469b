/* stream.h - the stream reader: how a decoder reads one direction of a
 * reassembled TCP stream (the seed design, 002_7ca887f94465ba8b).
 *
 * The reassembler pushes in-order chunks (views into packet data). The
 * decoder pulls units from them: "the next line", "the next N bytes", or
 * "whatever body bytes are there". A unit that lies inside the current chunk
 * is handed out as a view into it, without copying; only a unit that straddles
 * chunks is copied, into a per-direction buffer that never grows past
 * max_unit (an over-long line is cut there and flagged, never buffered
 * without limit). Memory per direction is therefore bounded by the largest
 * incomplete unit, not by the stream.
 *
 * Use, inside a decoder's data entry point:
 *
 *   sr_push(sr, off, data, len);            // done by the engine
 *   sr_view_t v;
 *   while (sr_line(sr, &v) == SR_OK) { ...v.p, v.len, v.off... }
 *   // SR_MORE: the partial line has been kept; return and wait for more
 *
 * Views returned are valid until the next call on the same reader.
 */
#ifndef ENGINE_STREAM_H
#define ENGINE_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct mem_acct;

typedef struct sr_view {
    const uint8_t *p;
    size_t len;   /* for lines: without the line ending */
    uint64_t off; /* stream offset of p[0] */
    uint8_t eol;  /* for lines: length of the ending removed (0, 1 LF, 2 CRLF) */
    uint8_t cut;  /* for lines: the line was longer than max_unit and was cut */
} sr_view_t;

enum {
    SR_OK = 0,  /* a unit is in the view */
    SR_MORE = 1, /* not enough bytes yet: what there is has been kept */
    SR_GAP = 2   /* a gap lies inside the unit asked for: the partial unit is
                    dropped, the reader is positioned after the gap; returned
                    once per gap, so the decoder can resynchronise */
};

typedef struct stream_reader {
    /* current chunk (a view into packet data, owned by the caller) */
    const uint8_t *chunk;
    size_t chunk_len;
    size_t pos;          /* bytes of chunk consumed */
    uint64_t chunk_off;  /* stream offset of chunk[0] */
    /* the incomplete unit carried between chunks (copied) */
    uint8_t *buf;
    uint32_t buf_len, buf_cap;
    uint64_t buf_off;    /* stream offset of buf[0] */
    uint32_t max_unit;   /* bound on buf: longest line or fixed unit */
    uint8_t gap;         /* a gap is pending report */
    uint8_t skipping;    /* discarding the rest of an over-long line */
    uint8_t eof;         /* sr_eof() was called */
    uint64_t peak;       /* largest buf_len seen (tests, stats) */
    struct mem_acct *acct; /* engine.memcap: the flow buf's capacity is charged to (sr_bind) */
} stream_reader_t;

void sr_init(stream_reader_t *sr, uint32_t max_unit);
void sr_free(stream_reader_t *sr);
/* charge buf's capacity to a flow's engine.memcap account (dec_flow_mem): growth
 * and release are counted; a reader never bound is not (call after sr_init) */
void sr_bind(stream_reader_t *sr, struct mem_acct *acct);

/* Make [off, off+len) the current chunk. The previous chunk must have been
 * read up to SR_MORE (its tail is then already kept in buf) or fully. */
void sr_push(stream_reader_t *sr, uint64_t off, const uint8_t *data, size_t len);
/* Bytes [off, off+len) of the stream are lost (tcp.gap): any partial unit
 * is dropped and the next read returns SR_GAP once. len 0 is a cut
 * (engine.memcap: nothing of the stream is missing, but what the reader
 * holds must go): a kept partial unit is dropped and
 * reported as SR_GAP once, and buf is released in any case. */
void sr_gap(stream_reader_t *sr, uint64_t off, uint64_t len);
/* End of the stream: a partial line still buffered is returned by
 * sr_line as a final line without ending (eol = 0). */
void sr_eof(stream_reader_t *sr);

/* Next line ending in LF (CRLF or bare LF; the ending is removed). A line
 * longer than max_unit is returned cut at max_unit bytes with v.cut = 1,
 * and the rest of it up to its LF is skipped. */
int sr_line(stream_reader_t *sr, sr_view_t *v);
/* Exactly n bytes (n <= max_unit) */
int sr_bytes(stream_reader_t *sr, size_t n, sr_view_t *v);
/* Up to max bytes that are available now, never copied (a kept partial unit
 * is returned first); for bodies and opaque payload. SR_MORE when none. */
int sr_some(stream_reader_t *sr, size_t max, sr_view_t *v);
/* bytes available now without waiting (kept + rest of chunk) */
size_t sr_avail(const stream_reader_t *sr);
/* stream offset of the next byte the reader will hand out */
uint64_t sr_offset(const stream_reader_t *sr);

#endif
