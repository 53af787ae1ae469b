/* decoder.h - the whole interface a protocol decoder sees.
 *
 * A decoder is one descriptor (eng_decoder_t) listed in registry.c. The
 * engine attaches it to a flow (by content detection, a port hint, a script's
 * flow:set_service, an expectation another decoder set, or a hand-off from
 * another decoder) and from then on gives it that flow's reassembled stream
 * per direction (TCP) or its datagrams (UDP). A decoder includes this header
 * and nothing of the core's internals; what it may use is here:
 *
 *   - the descriptor and the registry;
 *   - configuration getters (dec_max_line, ...);
 *   - building and firing events (event.h, dec_wants, dec_fire, eng_weird),
 *     and whether the decoder is wanted at all (dec_wanted: some subscriber
 *     wants an event it owns or uses, from the owner column of events.def);
 *   - bounds-checked reads: the byte cursor (bcur_t) and the line cursor
 *     (lcur_t) of bytes.h, and the stream reader of stream.h;
 *   - the files framework (files.h);
 *   - facts about the flow (engine.h's eng_flow_t, dec_flow_midstream);
 *   - expectations: "a connection to this address and port, soon, belongs to
 *     this flow" (FTP data channels, SIP media), and the parent link of the
 *     flow that fulfils one;
 *   - hand-off: "from this stream offset on, the flow is another decoder's"
 *     (STARTTLS to TLS).
 */
#ifndef DECODERS_DECODER_H
#define DECODERS_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "engine.h"
#include "event.h"
#include "files.h"
#include "stream.h"

#ifndef eng_weird
/* weirds say which file raised them (weird.log source; engine/weird.c) */
#define eng_weird(e, f, ...) eng_weird_from((e), (f), __FILE__, __VA_ARGS__)
#endif

typedef struct eng_decoder {
    const char *name;        /* service name, e.g. "http"; owner name in events.def */
    /* content probe on the first bytes of a direction: 1 this protocol,
     * 0 not, -1 cannot tell yet (NULL: never detected by content) */
    int (*probe)(const uint8_t *p, size_t len, int dir);
    /* optional, TCP: once both directions have sent bytes, the first bytes of
     * each (client's, server's) decide instead of probe, as 1 / 0 / -1: for
     * protocols one direction cannot tell (a "+OK" greeting is POP3 only if
     * the client answers with a POP3 command; Redis says "+OK" too) */
    int (*probe_pair)(const uint8_t *orig, size_t olen, const uint8_t *resp, size_t rlen);
    const uint16_t *ports;   /* port hints, 0-terminated (may be NULL) */
    /* owners of events.def besides `name` whose events this decoder fires
     * ("mail", "files"), or that need this decoder to run (a mail decoder
     * lists "ssl": its STARTTLS hands the flow over), NULL-terminated (may be NULL) */
    const char *const *uses;
    size_t state_size;       /* bytes of per-flow state, zeroed before init */
    void (*init)(eng_t *e, eng_flow_t *f, void *st);
    /* in-order stream bytes of direction dir, starting at stream offset off */
    void (*data)(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                 size_t len);
    /* bytes [off, off+len) of direction dir are lost */
    void (*gap)(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len);
    /* one UDP datagram */
    void (*datagram)(eng_t *e, eng_flow_t *f, void *st, int dir, const uint8_t *p, size_t len);
    /* the flow ends: report what is pending, then release owned memory */
    void (*end)(eng_t *e, eng_flow_t *f, void *st);
} eng_decoder_t;

/* ---- the registry (registry.c) ------------------------------------------- */
const eng_decoder_t *eng_decoder_find(const char *name);
int eng_decoder_count(void);
const eng_decoder_t *eng_decoder_at(int i);
int eng_decoder_index(const eng_decoder_t *d); /* position in the registry, or -1 */

/* attach a decoder to a flow (replacing any); `by`: "detect", "port",
 * "script", "expect" or "handoff". 0, or -1 (flow ended or skipped, no memory) */
int eng_flow_attach(eng_t *e, eng_flow_t *f, const eng_decoder_t *d, const char *by);

/* ---- configuration ------------------------------------------------------- */
uint32_t dec_max_line(const eng_t *e);       /* stream.max_line: longest line buffered */
uint64_t dec_http_max_body(const eng_t *e);  /* http.max_body, 0 = unlimited */
uint64_t dec_mime_max_depth(const eng_t *e); /* mime.max_depth */
/* a key as its text: the effective value of a key of the table in engine/config.c
 * (add a row there for a new key: --set rejects keys it does not know), the text of
 * another key set through eng_config_set, NULL otherwise */
const char *dec_config(const eng_t *e, const char *key);
/* the same as a number (K/M/G suffixes as --set reads them), dflt when unset or bad */
uint64_t dec_config_u64(const eng_t *e, const char *key, uint64_t dflt);

/* ---- events ---------------------------------------------------------------- */
int dec_wants(const eng_t *e, int kind);     /* some subscriber for this event kind */
void dec_fire(eng_t *e, eng_event_t *ev);    /* count it and call its subscribers */
/* some subscriber for an event d owns or uses: when 0, d need do no work */
int dec_wanted(const eng_t *e, const eng_decoder_t *d);
/* network time in nanoseconds (the packet being processed) */
int64_t dec_now(const eng_t *e);

/* ---- the flow ----------------------------------------------------------------- */
/* no SYN was seen from either side: the capture started mid-connection */
int dec_flow_midstream(const eng_flow_t *f);
/* the decoder state of flow f when d is its decoder, else NULL */
void *dec_flow_state(eng_flow_t *f, const eng_decoder_t *d);

/* ---- memory (engine.memcap) --------------------------------------------------
 * Every buffer a decoder keeps for a flow counts against one budget with the
 * reassembly's: bind each stream reader (sr_bind(&sr, dec_flow_mem(f)) after
 * sr_init) and report other buffers' growth and release with dec_mem (the
 * change of capacity, +/-; what is still charged when the flow ends is
 * released with it). Past the budget the engine cuts the flow holding the
 * most: its decoder's `gap` is called with len 0, meaning "nothing is missing
 * from the stream, but drop what you hold": call sr_gap(&sr, off, 0) (drops
 * a partial unit, reported as SR_GAP once, and frees the reader's buffer) and
 * free what can go; a decoder that frees nothing is ended and detached. */
struct mem_acct *dec_flow_mem(eng_flow_t *f);
void dec_mem(eng_flow_t *f, int64_t delta);
/* the same through the account (for helpers that keep it instead of the flow) */
void dec_mem_charge(struct mem_acct *a, int64_t delta);

/* ---- expectations ---------------------------------------------------------
 * A decoder announces a connection it expects (FTP after 227/229/PORT/EPRT,
 * SIP for the media of an SDP body). The first new flow of `proto` that
 * reaches addr:port (either of its endpoints; the other endpoint must be
 * `peer`, unless peer_any, and peer_port unless 0) before `timeout_ns` has
 * passed consumes the expectation: it gets decoder `service` attached (by
 * "expect"), its parent is the flow that set it (eng_flow_t.parent_uid,
 * dec_flow_parent) and the decoder's init can read `tag`
 * (dec_flow_expect_tag). Bounded: at most DEC_EXPECT_PER_FLOW per parent
 * (the oldest is replaced) and DEC_EXPECT_MAX in all (the oldest goes);
 * each replaced one is a weird `expectation_dropped`. A parent's
 * expectations go when it ends. A flow that began before the expectation
 * was set (at most 2 s before, still without a decoder, among the 64 most
 * recently active flows of its protocol: captures can put a data
 * connection's first packets before the reply that announced it) is
 * matched by dec_expect itself, its decoder attached at once. */
#define DEC_EXPECT_PER_FLOW 32
#define DEC_EXPECT_MAX 65536

typedef struct dec_expect {
    uint8_t proto;       /* 6 TCP, 17 UDP */
    uint8_t family;      /* 4 or 6 */
    uint8_t peer_any;    /* any address may connect */
    uint8_t addr[16];    /* the endpoint that will be reached (IPv4 in 4 bytes) */
    uint16_t port;
    uint8_t peer[16];    /* the other endpoint, unless peer_any */
    uint16_t peer_port;  /* 0: any */
    int64_t timeout_ns;  /* from now */
    const char *service; /* decoder attached to the flow that comes */
    uint64_t tag;        /* the parent decoder's own number for it */
} dec_expect_t;

/* 0, or -1 (no such decoder, bad arguments, parent ended) */
int dec_expect(eng_t *e, eng_flow_t *parent, const dec_expect_t *x);
/* drop parent's expectations with this tag (e.g. a PASV answered again) */
void dec_expect_cancel(eng_t *e, eng_flow_t *parent, uint64_t tag);
/* the parent of a flow that fulfilled an expectation, NULL when it had none
 * or the parent has ended */
eng_flow_t *dec_flow_parent(eng_t *e, eng_flow_t *f);
/* the tag of the expectation the flow fulfilled (0 when none) */
uint64_t dec_flow_expect_tag(const eng_flow_t *f);
/* expectations waiting (tests, stats) */
uint64_t dec_expect_pending(const eng_t *e);

/* ---- hand-off --------------------------------------------------------------
 * From stream offset `off` of direction `dir` on (and from the next byte of
 * the other direction), the flow belongs to decoder `service` (by
 * "handoff"): the rest of the chunk being delivered, and everything after,
 * goes to it. The current decoder receives no more bytes; its `end` still
 * runs when the flow ends, before the new decoder's. The flow's services
 * become e.g. "smtp,ssl". Takes effect when the current data call returns.
 * 0, or -1 (no such decoder). */
int dec_handoff(eng_t *e, eng_flow_t *f, const char *service, int dir, uint64_t off);
/* After dec_handoff, in the same data call: bytes of direction dir from stream
 * offset off that the current decoder holds undecoded (e.g. a ClientHello
 * that arrived, reordered, before the server's acceptance of STARTTLS was
 * parsed; or server bytes after the accepting line held while waiting). They
 * are copied (at most DEC_HANDOFF_CARRY_MAX bytes; beyond, the new decoder
 * sees a jump, i.e. a gap) and given to the new decoder first when the
 * hand-off takes effect. One carry per direction (a second call replaces it).
 * 0, or -1 (no hand-off pending, bad arguments, no memory). */
#define DEC_HANDOFF_CARRY_MAX (256u * 1024u)
/* The name of the decoder that handed this flow to the current one (parked
 * by dec_handoff), or NULL: lets the new decoder hand the flow back, e.g. TLS
 * to FTP when the control channel is clear again (AUTH TLS, then CCC). A hand
 * back attaches a fresh instance of that decoder. */
const char *dec_flow_handed_from(const eng_flow_t *f);
int dec_handoff_carry(eng_t *e, eng_flow_t *f, int dir, uint64_t off, const uint8_t *p,
                      size_t len);

#endif
