/* engine.h - the public C API of the traffic analysis core (libengine).
 *
 * One eng_t is one independent instance: its own flow table, reassembly
 * buffers, counters and subscribers. Nothing is global, so a program may run
 * one instance per thread. An instance is not thread-safe itself.
 *
 * Life cycle:
 *   eng_t *e = eng_new();
 *   eng_config_set(e, "tcp.overlap", "last", err, sizeof err);   (optional)
 *   eng_on(e, ENG_EV_TCP_DATA, my_callback, my_pointer);           (any number)
 *   eng_read_file(e, "x.pcap", NULL, err, sizeof err);   or eng_feed() per packet
 *   eng_finish(e);        end every flow (events fire), then engine.done
 *   eng_free(e);
 *
 * Events carry their fields as eng_value_t views (pointer, length) that are
 * valid only during the callback; copy what you keep. Only event kinds that
 * have a subscriber cost anything.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ENG_VERSION "0.1.0"

typedef struct eng eng_t;
typedef struct eng_flow eng_flow_t;

/* ---- the event catalogue (engine/events.def) ---------------------------- */

typedef enum eng_event_kind {
#define ENG_EVENT(id, name, owner, when) ENG_EV_##id,
#include "events.def"
    ENG_EV_COUNT
} eng_event_kind_t;

/* ENG_F_<EVENT>_<field>: the slot of a field in eng_event_t.f[] */
enum eng_field_index {
#define ENG_FIELD(ev, idx, name, type, doc) ENG_F_##ev##_##name = idx,
#include "events.def"
    ENG_F__UNUSED = 0
};

typedef enum eng_type {
    ENG_T_NIL = 0, /* field absent in this event */
    ENG_T_STR,     /* u.s, len bytes (any bytes, not NUL-terminated) */
    ENG_T_INT,     /* u.i */
    ENG_T_NUM,     /* u.n */
    ENG_T_BOOL,    /* u.i: 0 or 1 */
    ENG_T_LIST,    /* u.list: len values */
    ENG_T_MAP      /* u.list: 2*len values, key and value alternating */
} eng_type_t;

#define ENG_NO_OFFSET UINT64_MAX

typedef struct eng_value {
    uint32_t type; /* eng_type_t */
    uint32_t len;
    union {
        const uint8_t *s;
        const struct eng_value *list;
        int64_t i;
        double n;
    } u;
    uint64_t offset; /* stream offset of the field's first byte, or ENG_NO_OFFSET */
} eng_value_t;

#define ENG_MAX_FIELDS 16

typedef struct eng_event {
    int32_t kind;      /* eng_event_kind_t */
    int32_t nfields;
    eng_flow_t *flow;  /* NULL for engine-level events and flow-less weirds */
    eng_value_t f[ENG_MAX_FIELDS];
} eng_event_t;

/* catalogue look-ups (also used by the Lua bridge and --list-events) */
int eng_event_count(void);
int eng_event_lookup(const char *name); /* kind, or -1 */
const char *eng_event_name(int kind);
const char *eng_event_doc(int kind);
/* who fires it: "" the core, a decoder's name, or "mail" / "files" */
const char *eng_event_owner(int kind);
int eng_event_nfields(int kind);
const char *eng_event_field_name(int kind, int i);
int eng_event_field_type(int kind, int i); /* eng_type_t */
const char *eng_event_field_doc(int kind, int i);

/* ---- instances and configuration ---------------------------------------- */

eng_t *eng_new(void);
/* set a configuration value (lua-api.md); keys the core does not know are
 * kept for scripts. Returns 0, or -1 with a message in err. */
int eng_config_set(eng_t *e, const char *key, const char *value, char *err, size_t errlen);
/* effective configuration, for engine.config: i-th key, and its value as text */
int eng_config_count(const eng_t *e);
const char *eng_config_key(const eng_t *e, int i);
const char *eng_config_value(const eng_t *e, int i); /* NULL past the end */
/* the table of known keys (core, decoders, shipped scripts): i-th entry's name,
 * type, default and meaning (0, or -1 past the end); whether a key is in it; the
 * known key nearest to a misspelt one */
int eng_config_known_count(void);
int eng_config_known_info(int i, const char **name, const char **type, const char **def,
                          const char **doc);
int eng_config_known(const char *key);
const char *eng_config_nearest(const char *key);
void eng_free(eng_t *e); /* eng_finish() if not done yet, then release everything */

/* ---- subscribers --------------------------------------------------------- */

typedef void (*eng_callback_t)(eng_t *e, const eng_event_t *ev, void *user);
/* returns a subscription id (> 0) or -1 */
int eng_on(eng_t *e, int kind, eng_callback_t cb, void *user);
void eng_off(eng_t *e, int id);
int eng_subscribed(const eng_t *e, int kind);

/* ---- input --------------------------------------------------------------- */

/* Link types are libpcap DLT_ values: EN10MB, LINUX_SLL, LINUX_SLL2, RAW,
 * IPV4, IPV6, NULL, LOOP. ts_ns is network time in nanoseconds. */
void eng_start(eng_t *e); /* fires engine.init; implied by the first eng_feed */
void eng_feed(eng_t *e, int64_t ts_ns, int linktype, const uint8_t *pkt, uint32_t caplen,
              uint32_t wirelen);
/* Move network time without a packet. Like a packet's time, it steps through
 * what is due on the way in time order (engine.tick each second, the wake-up,
 * flow and fragment timeouts), each at its due time; of a move longer than an
 * hour only the first hour is stepped, the rest is jumped (no ticks). */
void eng_advance(eng_t *e, int64_t ts_ns);
void eng_finish(eng_t *e); /* end of input: end every flow ("eof"), fire engine.done */
int64_t eng_now(const eng_t *e);

/* Read a whole capture file (pcap or pcapng, "-" for stdin) with an optional
 * BPF filter. Returns 0, 1 with a message in err (unreadable, not a capture),
 * or 2 when the file was cut off mid-record (processed up to the cut; the
 * message in err is a warning). Calls eng_start but not eng_finish. */
int eng_read_file(eng_t *e, const char *path, const char *bpf, char *err, size_t errlen);
/* The same, returning 0 early (after the current packet) once *stop is
 * non-zero, e.g. set by a SIGINT handler; stop may be NULL. */
int eng_read_file_until(eng_t *e, const char *path, const char *bpf, volatile int *stop,
                        char *err, size_t errlen);
/* Live capture until *stop becomes non-zero. Same return codes; 2 (a warning in
 * err) when the kernel dropped packets: they are counted (eng_stats
 * capture_dropped) and reported as the weird capture_dropped_packets. */
int eng_read_live(eng_t *e, const char *iface, const char *bpf, volatile int *stop, char *err,
                  size_t errlen);
/* Incremental reading of a capture file (the REPL's step/run). */
typedef struct eng_capture eng_capture_t;
enum { ENG_CAP_MORE = 0, ENG_CAP_EOF, ENG_CAP_CUT, ENG_CAP_ERROR };
/* open a capture file ("-": standard input) with an optional BPF filter;
 * NULL with a message in err */
eng_capture_t *eng_capture_open(const char *path, const char *bpf, char *err, size_t errlen);
/* Feed up to n packets (n < 0: all) into e, returning early after the
 * current packet once *stop is non-zero (stop may be NULL). Returns the
 * packets fed; *state (may be NULL) becomes ENG_CAP_MORE, ENG_CAP_EOF,
 * ENG_CAP_CUT (cut off mid-record: warning in err) or ENG_CAP_ERROR (message
 * in err). Calls eng_start, never eng_finish. */
long long eng_capture_step(eng_t *e, eng_capture_t *c, long long n, volatile int *stop,
                           int *state, char *err, size_t errlen);
uint64_t eng_capture_packets(const eng_capture_t *c); /* packets read so far */
void eng_capture_close(eng_capture_t *c);
/* Finish e if needed (eng_finish: events fire), then forget its flows,
 * fragments, counters, weirds and network time, so that the same instance,
 * with the same subscribers and configuration, reads input from the start. */
void eng_reset(eng_t *e);

/* optional progress callback for eng_read_file: bytes read, file size (0 if unknown) */
typedef void (*eng_progress_t)(void *user, uint64_t bytes, uint64_t total, uint64_t packets);
void eng_set_progress(eng_t *e, eng_progress_t fn, void *user);

/* ---- flows --------------------------------------------------------------- */

enum { ENG_ORIG = 0, ENG_RESP = 1 };

/* The readable part of a flow. Read-only for callers. */
struct eng_flow {
    uint64_t id;          /* 1, 2, 3... in order of creation */
    char uid[24];         /* Zeek-style "C..." id, NUL-terminated */
    uint8_t proto;        /* IP protocol number */
    uint8_t family;       /* 4 or 6 */
    uint16_t vlan;        /* outermost VLAN id, valid when has_vlan */
    uint8_t has_vlan;
    uint8_t ended;        /* flow.end has fired */
    uint8_t skipped;      /* eng_flow_skip() was called */
    uint8_t pad_;
    uint16_t orig_port, resp_port;
    uint8_t orig_addr[16], resp_addr[16]; /* IPv4 in the first 4 bytes */
    int64_t start_ns, last_ns;
    uint64_t bytes[2];    /* payload bytes, [ENG_ORIG], [ENG_RESP] */
    uint64_t pkts[2];
    uint64_t missed_bytes; /* bytes in gaps, both directions */
    const char *service;  /* attached decoder's name, or NULL */
    char history[32];     /* Zeek history letters, NUL-terminated */
    char services[48];    /* every decoder the flow had, in order, comma-joined ("smtp,ssl") */
    char parent_uid[24];  /* uid of the flow whose expectation this one fulfilled, or "" */
    char tunnel_parents[80]; /* uids of the tunnel flows enclosing it, outermost first,
                                comma-joined (Zeek's conn.log tunnel_parents), or "" */
    uint64_t ip_bytes[2]; /* IP-level bytes (IP length fields) from each side (orig/resp_ip_bytes) */
};

const char *eng_flow_state(const eng_flow_t *f); /* Zeek conn_state: "S0", "SF", ... */
/* address as text (IPv4 dotted, IPv6 RFC 5952) into buf (>= 46 bytes); returns buf */
char *eng_flow_addr(const eng_flow_t *f, int dir, char *buf, size_t len);
const char *eng_proto_name(int proto); /* "tcp", "udp", "icmp", ... or NULL */
/* the flow's Community ID v1 ("1:" + 28 base64 characters) into buf (>= 30 bytes), or NULL
 * for ICMP/ICMPv6 (engine/community_id.c); seed: flow.community_id_seed, 0 by default */
const char *eng_flow_community_id(const eng_flow_t *f, unsigned seed, char *buf, size_t len);
void eng_flow_skip(eng_t *e, eng_flow_t *f);
/* attach a decoder by name (overrides detection); 0, or -1 if no such decoder */
int eng_flow_set_service(eng_t *e, eng_flow_t *f, const char *name);

/* ---- counters ------------------------------------------------------------ */

typedef struct eng_stats {
    uint64_t packets, bytes;           /* input frames and their wire bytes */
    uint64_t truncated;                /* frames shorter than their headers claim */
    uint64_t capture_dropped;          /* live: packets the kernel dropped (ring full) */
    uint64_t non_ip, ip_errors;        /* frames not IP / with bad IP headers */
    uint64_t flows, flows_active, flows_evicted, flows_timed_out;
    /* flows_evicted by the evicted flow's state: TCP not established (no handshake completed
     * or no payload yet) or UDP/other that one side only sent on; TCP closed (FIN both ways or
     * RST, waiting for stragglers); established (evicted only when no other kind is left) */
    uint64_t flows_evicted_half_open, flows_evicted_closed, flows_evicted_established;
    uint64_t tcp_segments, tcp_in_order, tcp_out_of_order, tcp_retransmitted;
    uint64_t tcp_overlaps, tcp_overlap_conflicts, tcp_gaps, tcp_gap_bytes;
    uint64_t tcp_bytes_delivered, tcp_buffered, tcp_buffered_peak;
    uint64_t udp_datagrams;
    uint64_t frags, frags_reassembled, frags_timed_out, frags_overlapping, frag_buffered;
    uint64_t weirds;
    /* engine.memcap: bytes all flows' buffers hold now and at peak (reassembly and
     * decoders), flows cut and the bytes they held */
    uint64_t mem_buffered, mem_buffered_peak, memcap_cuts, memcap_cut_bytes;
    uint64_t mem_unreleased; /* bytes still charged to flows as they were freed: 0 unless a bug */
    uint64_t events_fired[ENG_EV_COUNT];
    uint64_t handler_ns[ENG_EV_COUNT]; /* time in subscribers, when eng_stats_timing(e,1) */
    uint64_t handler_errors;
} eng_stats_t;

const eng_stats_t *eng_stats(const eng_t *e);
/* Link types of the input that are not decoded: fills up to max (link type, packets)
 * pairs, returns how many kinds there were (at most 4 told apart). Each is also one
 * weird `unsupported_link_type` with its count when the run finishes. */
int eng_unsupported_links(const eng_t *e, int *linktype, uint64_t *packets, int max);
void eng_stats_timing(eng_t *e, int on);
/* weird counters by name: i-th name and count; NULL past the end */
const char *eng_weird_name(const eng_t *e, int i, uint64_t *count);
/* report a weird; flow may be NULL. `source` (weird.log source, Zeek's analyzer name) is
 * "EMBED" for a program that calls eng_weird; the engine's own files report through the
 * eng_weird macro of internal.h / decoder.h, which names the file (engine/weird.c). */
void eng_weird(eng_t *e, eng_flow_t *f, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void eng_weird_from(eng_t *e, eng_flow_t *f, const char *file, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Call fn(user) when network time reaches at_ns (used by Lua timers), with
 * eng_now() = at_ns (or the new time, past the first hour of a long jump, or
 * the current time if at_ns has passed); one pending wake-up per instance, a
 * later call replaces it. 0 cancels. */
void eng_set_wakeup(eng_t *e, int64_t at_ns, void (*fn)(eng_t *, void *), void *user);

#ifdef __cplusplus
}
#endif
#endif
