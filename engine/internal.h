/* internal.h - the instance structure and what the core's modules share.
 * Not part of the public API (engine.h is). */
#ifndef ENGINE_INTERNAL_H
#define ENGINE_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "base.h"
#include "engine.h"
#include "event.h"
#include "hosttable.h"
#include "layers.h"
#include "memcap.h"
#include "reasm.h"

#define NS_PER_SEC 1000000000LL

/* ---- configuration (config.c) ------------------------------------------- */
typedef struct eng_cfg {
    int tcp_overlap;                 /* REASM_*: tcp.overlap, the policy of hosts not in tcp.overlap_by_host */
    int tcp_delivered_overlaps;      /* tcp.check_delivered_overlaps: keep the REASM_HIST rings */
    int tcp_checksum, ip_checksum;   /* tcp.checksum / ip.checksum: 1 = verify, drop bad ones */
    int tcp_urgent;                  /* tcp.urgent: TCP_URG_INLINE, _DROP, _OOB, _GAP */
    uint64_t ip_min_ttl;             /* ip.min_ttl: drop packets with a lower TTL / hop limit (0: off) */
    uint64_t tcp_max_ooo_bytes;
    uint64_t tcp_max_total_bytes;
    uint64_t memcap;                 /* engine.memcap: bytes all flows' buffers may hold (0: no cap) */
    uint64_t flow_max;
    int64_t tcp_timeout_ns, tcp_closed_timeout_ns, udp_timeout_ns;
    int64_t frag_timeout_ns;
    uint64_t max_frag_bytes;
    int frag_policy;                 /* ip.frag_policy: FRAG_POLICY_* */
    uint64_t max_line;               /* stream.max_line: longest line a decoder buffers */
    uint64_t http_max_body;          /* 0 = unlimited */
    uint64_t mime_max_depth;
    int lua_strict;
    uint64_t lua_handler_timeout_ms;
    int lua_unsafe;                  /* lua.unsafe: no sandbox (lua/engine/sandbox.lua) */
    uint64_t lua_max_memory;         /* lua.max_memory: bytes the Lua state may hold, 0 = no cap */
    int lua_jit_scripts;             /* lua.jit_scripts: compile user scripts (no watchdog stop in loops) */
    uint64_t lua_max_timeouts;       /* lua.max_timeouts: timeouts before a handler is switched off */
    uint64_t seed;
    int tunnel_decapsulate;          /* tunnel.*: tunnel.c */
    uint64_t tunnel_max_depth;
    uint64_t tunnel_vxlan_port, tunnel_geneve_port, tunnel_gtpu_port;
    int detect;                      /* engine.detect: false = no decoder attached by detection (make bench's reassembly mode) */
} eng_cfg_t;

typedef struct cfg_extra cfg_extra_t; /* keys kept for scripts */

void cfg_defaults(eng_cfg_t *c);
void cfg_free_extra(eng_t *e);

/* ---- subscribers (bus.c) ------------------------------------------------ */
typedef struct eng_sub {
    int id;
    eng_callback_t cb;
    void *user;
} eng_sub_t;

typedef struct eng_subs {
    eng_sub_t *v;
    int n, cap;
} eng_subs_t;

/* ---- flows (flow.c, tcp.c) ---------------------------------------------- */
/* Zeek's endpoint states, from which conn_state is derived */
enum { EP_INACTIVE = 0, EP_SYN_SENT, EP_SYN_ACK_SENT, EP_PARTIAL, EP_ESTABLISHED, EP_CLOSED, EP_RESET };

typedef struct tcp_half {
    uint8_t state;       /* EP_* */
    uint8_t prev_state;  /* the state before the last change (Zeek's prev_state) */
    uint32_t isn;
    uint32_t last_ack;
    uint8_t syn, fin, rst, ack_seen, data; /* flags seen from this side */
    uint8_t synack;      /* a SYN with ACK came from this side */
    uint8_t win0;        /* last advertised window was zero */
    uint8_t wscale;      /* window scale shift from this side's SYN (RFC 7323), when has_wscale */
    uint8_t has_wscale;
    uint16_t last_win;   /* the window field of this side's last packet with ACK (unscaled) */
    uint32_t n_rexmit, n_zero, n_gap; /* for Zeek's repeated letters at 1, 10, 100... */
    uint16_t ack_wait;   /* packets seen since the peer acknowledged bytes missing here */
    uint64_t ack_wait_at; /* stream offset of the hole being waited for */
    int64_t ack_wait_ns;  /* when the wait for it began (network time) */
    uint8_t *syn_data;    /* payload of this side's SYN, until the SYN-ACK says whether the */
    uint16_t syn_len;     /* host took it (TCP Fast Open) or not (tcp.c) */
    /* as a receiver: the right edge of the window this side advertised (the
     * highest ack + scaled window seen), once the handshake told the scale */
    uint32_t win_edge;
    uint32_t win_seq, win_ack; /* sequence and ack numbers of the newest packet that set a window */
    uint8_t has_edge;
    /* as a sender: what the receiver did not take (tcp.c "Window") */
    uint8_t has_zwp, zwp_byte; /* the last zero-window probe, until acknowledged or passed */
    uint32_t zwp_seq;
    uint32_t held_seq, held_len; /* bytes sent past the window, kept until the receiver */
    uint8_t *held;               /* acknowledges them (taken after all) or they are passed */
    uint8_t no_window;           /* the receiver's acknowledgements are missing: not judged */
    /* urgent bytes (tcp.urgent oob/gap) of this direction not yet delivered: their
     * sequence numbers, ascending; stream bytes removed before (oob) */
    uint32_t urg_seq[4];
    uint8_t n_urg;
    uint64_t urg_removed;
    uint8_t weirded;      /* TW_* weirds already reported for this direction */
} tcp_half_t;

enum { TCP_URG_INLINE = 0, TCP_URG_DROP, TCP_URG_OOB, TCP_URG_GAP };

struct eng_decoder;

enum { TO_TCP = 0, TO_TCP_CLOSED = 1, TO_OTHER = 2, TO_NCLASS = 3 };
/* how established a flow is (flow_t.est, flow.c): flow.max evicts the lower first */
enum { EST_NONE = 0, EST_HANDSHAKE = 1, EST_DATA = 2, EST_NLEVELS = 3 };
/* activity lists: one per timeout class and establishment level */
#define FL_NLISTS (TO_NCLASS * EST_NLEVELS)
#define FL_LIST(tclass, est) ((tclass) + TO_NCLASS * (est))

/* The parts of a flow that most flows never use, allocated at their first use
 * (flow_cold): a hand-off (dec_handoff), its carried bytes, the parked decoder,
 * expectations and the parent/child links. A flow without them keeps a NULL. */
typedef struct flow_cold {
    /* hand-off (dec_handoff): asked during a data call, applied when it returns */
    const struct eng_decoder *handoff_dec;
    uint64_t handoff_off;
    uint8_t handoff_dir;
    uint32_t carry_len[2];
    uint8_t *carry[2];              /* dec_handoff_carry: held bytes the new decoder gets first */
    uint64_t carry_off[2];
    const struct eng_decoder *prev_dec; /* the decoder that handed over: gets no bytes, ends last */
    void *prev_state;
    /* expectations (expect.c) */
    struct flow *parent;            /* whose expectation this flow fulfilled, while it lives */
    struct flow *children, *sibling; /* flows that fulfilled this flow's expectations */
    struct xentry *expects;         /* this flow's expectations waiting, newest first */
    uint32_t n_expects;
    uint64_t expect_tag;
} flow_cold_t;

typedef struct flow {
    eng_flow_t pub;                 /* must be first */
    eng_t *eng;                     /* the instance (reassembly callbacks reach it) */
    struct flow *hnext;             /* hash chain */
    struct flow *prev, *next;       /* activity list of its timeout class */
    uint32_t hash;
    uint8_t tclass;                 /* TO_* */
    uint8_t list;                   /* its activity list: FL_LIST(tclass, est) */
    uint8_t est;                    /* EST_*: TCP handshake done (EST_HANDSHAKE) and payload sent
                                       (EST_DATA; mid-stream: both sides sent payload); UDP and
                                       other: both sides sent (EST_DATA) */
    uint8_t flipped;                /* orientation was flipped after creation */
    uint8_t closing;                /* both FINs or a RST seen */
    uint8_t end_reason_hint;
    tcp_half_t tcp[2];
    reasm_dir_t rd[2];
    const struct eng_decoder *dec;  /* attached decoder, or NULL */
    void *dec_state;
    struct detect_buf *det;         /* first bytes kept while detection is undecided */
    const struct eng_decoder *pending_dec; /* set_service while busy: attach at the next safe point */
    flow_cold_t *x;                 /* rarely used parts, or NULL (flow_cold) */
    uint64_t tunnel_key;            /* pkt_t.tunnel_key of its packets (flow key) */
    uint8_t detect_done;            /* content detection decided (or gave up) */
    uint8_t teardown;               /* skipped while busy: release buffers at the next safe point */
    uint8_t tunnel;                 /* a UDP or GRE tunnel whose payload is decapsulated: TUN_* */
    mem_acct_t mem;                 /* engine.memcap: bytes its buffers hold (memcap.h) */
} flow_t;

/* f's cold part, allocated (zeroed) on first use; NULL when out of memory */
flow_cold_t *flow_cold(flow_t *f);

typedef struct flow_table {
    flow_t **buckets;
    uint32_t nbuckets;              /* power of two */
    uint64_t count;
    flow_t *head[FL_NLISTS], *tail[FL_NLISTS]; /* least recently active first */
    uint64_t next_id;
    uint64_t key;                   /* hash key, random per instance */
} flow_table_t;

static inline flow_t *FLOW(eng_flow_t *f) { return (flow_t *)f; }

/* ---- the instance -------------------------------------------------------- */
struct weird_count {
    char *name;
    uint64_t n;
};

#define ENG_UNSUP_LINKS 4
struct eng {
    eng_cfg_t cfg;
    /* link types met that are not decoded, with their packet counts (the first
     * ENG_UNSUP_LINKS kinds; later ones are counted in the last slot) */
    struct { int linktype; uint64_t packets; } unsup[ENG_UNSUP_LINKS];
    int nunsup;
    cfg_extra_t *extra;
    char **cfg_text;                /* effective values as text, for eng_config_value */
    hosttable_t tcp_hosts;          /* tcp.overlap_by_host: address ranges -> REASM_* policy */
    eng_stats_t stats;
    int timing;
    eng_subs_t subs[ENG_EV_COUNT];
    int next_sub_id;
    flow_table_t ft;
    reasm_ctx_t reasm;
    memcap_t mem;                   /* engine.memcap: every flow's buffers (memcap.h) */
    frag_table_t *frags;
    hosttable_t frag_hosts;         /* ip.frag_policy_by_host (config.c parses, frag.c looks up) */
    int started, finished;
    int64_t now;                    /* network time, ns */
    int64_t next_tick;              /* next engine.tick, ns (0 = not yet set) */
    int64_t next_expire;            /* earliest time a flow or fragment could expire */
    int64_t next_due;               /* min(next_tick, wakeup_at if set): set_time steps
                                       only when the clock reaches it */
    int64_t wakeup_at;
    void (*wakeup_fn)(eng_t *, void *);
    void *wakeup_user;
    eng_progress_t progress;
    void *progress_user;
    struct weird_count *weirds;
    int nweirds, capweirds;
    flow_t *cur_flow;               /* flow whose packet is being processed */
    int busy;                       /* inside reassembly delivery or a decoder: flow
                                       changes from handlers wait for flow_settle() */
    uint64_t next_file_id;          /* files.c: counter behind the fuids */
    void *magic;
    void *magic_text;               /* files.c: libmagic without soft magic, for text */
    struct sniff_memo *sniff_memo;  /* files.c: recent full-libmagic verdicts, bounded */
    uint64_t extract_total;         /* files.c: bytes extracted this run (files.extract) */
    int extract_sub;                /* files.c: id of its own file.done subscriber, or 0 */
    uint8_t extract_dead;           /* files.c: an extraction failed: no more this run */
    uint64_t wanted;                /* bit i: registry decoder i is wanted (dec_wanted) */
    struct expect_table *expect;    /* expect.c: connections decoders announced */
    /* workers.c (-j N): when set, eng_feed hands the frame to it instead of
     * decoding it (the reader thread's instance routes frames to the workers) */
    void (*feed_hook)(void *user, int64_t ts, int linktype, const uint8_t *pkt, uint32_t caplen,
                      uint32_t wirelen);
    void *feed_hook_user;
    /* with feed_hook, live capture: called after each read of the interface (a
     * burst or the 100 ms timeout) with the real time and whether the link was
     * quiet, so the reader can hand partial batches on and move clocks */
    void (*live_tick_hook)(void *user, int64_t now, int quiet);
    /* packet.c: the frame being fed while a `packet` handler exists */
    int pkt_track;                  /* flow_lookup records the outermost flow */
    int pkt_gone;                   /* that flow ended during the frame: pkt_uid/pkt_service */
    flow_t *pkt_flow;
    int64_t pkt_ts;                 /* the frame's own time (network time never goes back) */
    char pkt_uid[24];
    char pkt_service[48];
};

/* ---- event helpers (bus.c) ---------------------------------------------- */
static inline int eng_wants(const eng_t *e, int kind) { return e->subs[kind].n != 0; }
void eng_fire(eng_t *e, eng_event_t *ev); /* counts and calls subscribers */

/* network time in seconds, as engine.now() gives it (whole seconds plus the
 * nanoseconds, so that a time prints the same in every log) */
static inline double ns_to_secs(int64_t ns) {
    return (double)(ns / 1000000000LL) + (double)(ns % 1000000000LL) / 1e9;
}

/* ---- module entry points ------------------------------------------------ */
/* engine.c: cut flows (the one holding the most first) until the budget holds */
void memcap_enforce(eng_t *e);
/* flow.c */
void flow_table_init(flow_table_t *t);
void flow_table_free(eng_t *e);
/* find or create the flow of a packet; *dir is set to the packet's direction */
flow_t *flow_lookup(eng_t *e, const pkt_t *p, uint16_t sport, uint16_t dport, int *dir,
                    int *created);
void flow_touch(eng_t *e, flow_t *f);          /* activity: move to the end of its list */
void flow_promote(eng_t *e, flow_t *f);        /* after a packet: raise f->est if it is more established */
/* history letter c (upper case for dir ORIG, lower for RESP; '^' as is) */
void flow_hist_add(flow_t *f, int dir, char c);
void flow_hist_once(flow_t *f, int dir, char c); /* unless already there */
void flow_set_class(eng_t *e, flow_t *f, int tclass);
void flow_end(eng_t *e, flow_t *f, const char *reason); /* fires flow.end, frees */
void flow_expire(eng_t *e);                   /* end flows idle past their timeout */
void flow_end_all(eng_t *e, const char *reason);
void flow_flip(flow_t *f);                    /* swap originator and responder */
/* apply what handlers asked while the flow was busy (skip, set_service) */
void flow_settle(eng_t *e, flow_t *f);

/* transport.c: a decoded packet into the transport layer (tcp/udp/other, GRE) */
void eng_transport(eng_t *e, pkt_t *p);
/* udp.c */
void udp_input(eng_t *e, pkt_t *p);

/* packet.c: the `packet` event (eng_feed), and a flow of the frame that ends */
void packet_fire(eng_t *e, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                 const pkt_t *p, int decoded);
void packet_flow_gone(eng_t *e, flow_t *f);

/* tunnel.c */
enum { TUN_NONE = 0, TUN_GRE, TUN_VXLAN, TUN_GENEVE, TUN_GTPU };
#define TUNNEL_MAX_DEPTH 16 /* tunnel.max_depth is capped here (stack use) */
/* the tunnel a new UDP flow is, by its ports (TUN_NONE when not, or decapsulation off) */
int tunnel_udp_kind(const eng_t *e, uint16_t orig_port, uint16_t resp_port);
const char *tunnel_name(int kind); /* "gre", "vxlan", "geneve", "gtpv1" */
/* a new flow is the tunnel kind (TUN_NONE: not): its service is the tunnel's
 * name and its payload is decapsulated instead of given to a decoder */
void tunnel_flow_init(eng_t *e, flow_t *f, int kind);
/* decapsulate the payload (p, len: captured bytes; wire: bytes on the wire) of
 * packet outer of flow f, tunnel kind, and hand the inner packet to eng_transport */
void tunnel_input(eng_t *e, const pkt_t *outer, flow_t *f, int kind, const uint8_t *p,
                  uint32_t len, uint32_t wire);

/* tcp.c */
void tcp_input(eng_t *e, pkt_t *p);
void tcp_flow_end(eng_t *e, flow_t *f);      /* flush reassembly before flow.end */
extern const reasm_sink_t tcp_reasm_sink;

/* deliver.c, the packet path's one sink: a direction's in-order stream bytes
 * and gaps (tcp.c, from reasm.c), a datagram's payload (udp.c); each fires its
 * event, runs detection while the flow has no decoder, and feeds the decoder */
void deliver_data(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len);
void deliver_gap(eng_t *e, flow_t *f, int dir, uint64_t off, uint64_t len);
void deliver_datagram(eng_t *e, flow_t *f, int dir, const uint8_t *p, size_t len);

/* detect.c */
/* content detection of a flow without a decoder (udp: one datagram, else the
 * direction's stream bytes at off); attaches the decoder that claims it */
void detect_flow(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len, int udp);
/* a likely server port, for orientation without a handshake: below 1024 or one
 * a decoder lists in its ports (like Zeek's likely_server_ports) */
int port_well_known(uint16_t p);

/* decoder_api.c: the decoders of a flow */
/* end and free the attached decoder (and, with all, the one that handed over) */
void flow_release_decoders(eng_t *e, flow_t *f, int all);
/* after a decoder's data call: apply a hand-off it asked for, giving the new
 * decoder the rest of the chunk [off, off+len) */
void flow_apply_handoff(eng_t *e, flow_t *f, int dir, uint64_t off, const uint8_t *p, size_t len);
/* bus.c: recompute eng.wanted from the subscriptions */
void bus_update_wanted(eng_t *e);

/* expect.c */
/* a new flow: fire flow.start, then link it to an expectation it fulfils
 * (attaching the expected decoder); 0 when a handler ended the flow */
int flow_announce(eng_t *e, flow_t *f);
void expect_flow_end(eng_t *e, flow_t *f); /* drop its expectations, unlink parent/children */
void expect_free(eng_t *e);

/* config.c */
const char *cfg_lookup(const eng_t *e, const char *key); /* value as text, or NULL */
int cfg_parse_u64(const char *s, int sizes, uint64_t *out);

/* weird.c */
void eng_vweird(eng_t *e, eng_flow_t *f, const char *file, const char *name, const char *fmt, va_list ap);
/* the engine's weirds say which file raised them (weird.log source) */
#ifndef eng_weird
#define eng_weird(e, f, ...) eng_weird_from((e), (f), __FILE__, __VA_ARGS__)
#endif

#endif
