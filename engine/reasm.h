/* reasm.h - TCP reassembly of one direction of a connection.
 *
 * The reassembler turns TCP segments (sequence number, payload, flags) into an
 * in-order byte stream whose offsets count from the first stream byte (the
 * byte after the SYN, or the first byte seen when the connection was picked
 * up mid-stream). It knows nothing of flows or events: it reports through a
 * reasm_sink_t of three callbacks.
 *
 *  - In-order data is delivered straight from the segment, without copying.
 *  - Out-of-order segments are copied into a sorted list of buffered ranges,
 *    bounded per direction (max_ooo) and across all directions of a
 *    reasm_ctx_t (max_total). Past a bound, the hole before the first
 *    buffered range is declared a gap and the stream skips ahead.
 *  - Bytes that overlap bytes already delivered or buffered are reported
 *    (overlap callback); `conflict` is set when they differ from bytes still
 *    buffered, or from the last REASM_HIST delivered bytes of the direction
 *    when ctx->keep_hist is on (a copy kept only then; older delivered bytes
 *    cannot be compared and report conflict = 0). Which copy of buffered
 *    bytes is kept follows the direction's overlap policy (REASM_POL_*, the
 *    receiving host's: see "Overlap policies" below); delivered bytes are
 *    never taken back, so for them the old copy is always kept.
 *  - A hole is declared a gap when the peer acknowledges past it
 *    (reasm_ack), at FIN/RST (reasm_flush), at timeout and at end of input.
 *  - A direction picked up mid-stream (its first segment is not a SYN) holds
 *    its bytes back for its first REASM_HOLD_SEGS data segments: a segment
 *    that arrives later with a lower sequence number (within REASM_HOLD_BACK)
 *    moves offset 0 down to it, so a capture that starts with reordered
 *    segments does not lose its first bytes. The hold ends early when the
 *    peer sends data, FIN or RST (reasm_settle, so the two directions keep
 *    their order), at a buffer limit, at an ack gap and at flush.
 *  - Sequence numbers are unwrapped to 64-bit offsets, so streams cross 2^32.
 *  - Keep-alives (1 or 0 bytes at next-1) are ignored. Zero-window probes
 *    never get here: tcp.c, which sees the windows, drops them (counted in
 *    the ctx's probes).
 */
#ifndef ENGINE_REASM_H
#define ENGINE_REASM_H

#include <stddef.h>
#include <stdint.h>

typedef struct reasm_seg reasm_seg_t; /* a buffered out-of-order range */

/* delivered bytes kept per direction for conflict checks, when keep_hist */
#define REASM_HIST 4096

/* Overlap policies: how the receiving host resolves a new segment that
 * overlaps bytes it holds out of order (Suricata's names and rules). For
 * each old segment the new one overlaps, the new bytes win when:
 *   first                never
 *   last                 always
 *   linux                the new one starts before the old one, or at the
 *                        same byte and ends after it
 *   old-linux            starts before, or at the same byte and ends at or after
 *   bsd, bsd-right, hpux10, irix, macos, windows, windows2k3
 *                        starts before
 *   solaris, old-solaris, hpux11
 *                        starts before and ends at or after, starts at the
 *                        same byte and ends at or after, or starts after and
 *                        ends after
 *   vista                never (as first)
 * otherwise the old bytes stay. "Old segment" is the segment whose bytes
 * were buffered there first (reasm.c). bsd-right and old-solaris differ
 * from bsd and solaris for IP fragments only. */
enum {
    REASM_FIRST = 0,
    REASM_LAST,
    REASM_LINUX,
    REASM_OLD_LINUX,
    REASM_BSD,
    REASM_BSD_RIGHT,
    REASM_OLD_SOLARIS,
    REASM_SOLARIS,
    REASM_HPUX10,
    REASM_HPUX11,
    REASM_IRIX,
    REASM_MACOS,
    REASM_VISTA,
    REASM_WINDOWS,
    REASM_WINDOWS2K3,
    REASM_NPOLICIES
};
/* the policies' names, indexed by REASM_*, NULL-terminated (a hosttable's names) */
extern const char *const reasm_policy_names[REASM_NPOLICIES + 1];
/* REASM_* for a name, or -1 */
int reasm_policy_by_name(const char *name);
/* does `policy` take the new segment [ns, ne) over an old one [os, oe) it overlaps? */
int reasm_takes_new(int policy, uint64_t ns, uint64_t ne, uint64_t os, uint64_t oe);

/* mid-stream pickup: data segments held back, and how far below the lowest
 * sequence number seen a later segment may still move offset 0 */
#define REASM_HOLD_SEGS 16
#define REASM_HOLD_BACK 65536u

typedef struct reasm_sink {
    /* bytes [off, off+len) of direction `dir`, in order, each exactly once */
    void (*data)(void *ctx, int dir, uint64_t off, const uint8_t *p, size_t len);
    /* bytes [off, off+len) will never be delivered; the stream continues after */
    void (*gap)(void *ctx, int dir, uint64_t off, uint64_t len);
    /* a segment overlapped [off, off+len) already delivered (`delivered`) or
     * buffered; `conflict`: the bytes differ (as far as known); `kept_new`:
     * the new copy replaced the old one (never for delivered bytes) */
    void (*overlap)(void *ctx, int dir, uint64_t off, uint64_t len, int conflict, int kept_new,
                    int delivered);
    /* optional: the direction's buffers grew (delta > 0) or shrank by delta
     * bytes (buffered ranges, the history ring): engine.memcap's accounting */
    void (*mem)(void *ctx, int64_t delta);
} reasm_sink_t;

struct reasm_dir;

/* Shared by all directions of one engine instance: limits and counters. */
typedef struct reasm_ctx {
    const reasm_sink_t *sink;
    uint64_t max_ooo;   /* tcp.max_ooo_bytes, per direction */
    uint64_t max_total; /* tcp.max_total_bytes, all directions */
    int overlap_policy; /* REASM_*: of the directions that have none of their own */
    int keep_hist;      /* keep REASM_HIST delivered bytes per direction (someone
                           wants overlap conflicts); histories are bounded by
                           max_total too, separately from buffered ranges */
    uint64_t hist_bytes; /* bytes allocated for histories, all directions */
    uint64_t buffered;  /* bytes buffered now, all directions */
    uint64_t buffered_peak;
    /* directions holding buffered bytes, oldest first (for max_total) */
    struct reasm_dir *oldest, *newest;
    /* counters */
    uint64_t segments, in_order, out_of_order, retransmitted, overlaps, conflicts;
    uint64_t gaps, gap_bytes, delivered, keepalives, probes;
    uint64_t after_fin; /* segments with bytes past the FIN or after a RST (ignored) */
} reasm_ctx_t;

/* One direction. Zero-initialised memory is a valid fresh direction. */
typedef struct reasm_dir {
    void *sink_ctx;       /* passed to the sink callbacks (the flow) */
    uint64_t next;        /* offset of the next byte to deliver */
    uint64_t fin_off;     /* offset of the FIN, when has_fin */
    uint64_t acked;       /* highest offset the peer acknowledged (0: none) */
    uint32_t base_seq;    /* sequence number of offset 0 */
    uint32_t ooo_bytes;   /* bytes buffered in this direction */
    uint8_t dir;          /* 0 orig, 1 resp: passed to the sink */
    uint8_t started;      /* base_seq is set */
    uint8_t has_fin;
    uint8_t closed;       /* flushed after FIN/RST: later data is ignored */
    uint8_t hold;         /* mid-stream pickup: bytes held, offset 0 may move down */
    uint8_t held;         /* data segments seen while holding */
    uint8_t policy;       /* overlap policy + 1 (reasm_dir_policy); 0: the ctx's */
    uint16_t nsegs;       /* buffered ranges (bounded, see reasm.c) */
    uint32_t hist_len;    /* valid bytes in hist: [next - hist_len, next) */
    uint8_t *hist;        /* REASM_HIST bytes, a ring indexed by offset, or NULL */
    reasm_seg_t *segs;    /* buffered ranges, sorted, disjoint */
    struct reasm_dir *older, *newer; /* in ctx's list while ooo_bytes > 0 */
} reasm_dir_t;

enum {
    REASM_SYN = 1,
    REASM_FIN = 2,
    REASM_RST = 4
};

void reasm_ctx_init(reasm_ctx_t *c, const reasm_sink_t *sink);
/* a direction with sink context and direction number */
void reasm_dir_init(reasm_dir_t *d, void *sink_ctx, int dir);
/* this direction's overlap policy (REASM_*; -1: the ctx's overlap_policy) */
void reasm_dir_policy(reasm_dir_t *d, int policy);
/* the overlap policy in force for d */
static inline int reasm_policy_of(const reasm_ctx_t *c, const reasm_dir_t *d) {
    return d->policy ? d->policy - 1 : c->overlap_policy;
}
/* The SYN (or SYN-ACK) of this direction: offset 0 is isn+1. Ignored once started. */
void reasm_syn(reasm_ctx_t *c, reasm_dir_t *d, uint32_t isn);
/* A segment of this direction. flags: REASM_*. A segment whose data begins
 * before offset 0 is trimmed. A SYN flag means the payload starts at seq+1. */
void reasm_segment(reasm_ctx_t *c, reasm_dir_t *d, uint32_t seq, const uint8_t *p, size_t len,
                   int flags);
/* The peer acknowledged everything before `ack` in this direction. Holes
 * below it hold bytes the receiver got and we did not see - or bytes the
 * capture reordered after the ACK. So the ACK is only noted; returns 1 while
 * acknowledged bytes are missing. The caller waits a little (more packets of
 * the flow) and then calls reasm_ack_gaps, which declares those holes gaps. */
int reasm_ack(reasm_ctx_t *c, reasm_dir_t *d, uint32_t ack);
void reasm_ack_gaps(reasm_ctx_t *c, reasm_dir_t *d);
/* End a mid-stream direction's hold (see above): deliver what is contiguous
 * from offset 0. The caller does it when the peer sends data, FIN or RST. */
void reasm_settle(reasm_ctx_t *c, reasm_dir_t *d);
/* Declare every hole a gap and deliver everything buffered (FIN/RST with a
 * hole, timeout, end of input). */
void reasm_flush(reasm_ctx_t *c, reasm_dir_t *d);
/* engine.memcap cut: buffered ranges are dropped, not delivered: the stream
 * skips to the end of the last one (one gap), and the history ring is freed.
 * Returns the bytes released. */
uint64_t reasm_cut(reasm_ctx_t *c, reasm_dir_t *d);
/* release buffered bytes without delivering them (flow destroyed) */
void reasm_dir_free(reasm_ctx_t *c, reasm_dir_t *d);
/* swap two directions (e.g. both of a flow whose orientation flips), keeping
 * the ctx's list of buffering directions consistent: never swap by value */
void reasm_dir_swap(reasm_ctx_t *c, reasm_dir_t *a, reasm_dir_t *b);
/* offset of the next byte expected (for conn log missed-bytes and tests) */
static inline uint64_t reasm_next(const reasm_dir_t *d) { return d->next; }

#endif
