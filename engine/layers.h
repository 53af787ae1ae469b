/* layers.h - from a captured frame to a transport payload.
 *
 * link.c strips the link layer (Ethernet with 802.1Q/802.1ad/QinQ, Linux SLL
 * and SLL2, raw IP, BSD null/loopback), ip.c parses IPv4 and IPv6 (extension
 * headers), frag.c reassembles fragments. Every header read is bounds-checked
 * against the captured length; anything malformed or cut short is counted
 * and reported with eng_weird(), never read past.
 */
#ifndef ENGINE_LAYERS_H
#define ENGINE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct pkt {
    int64_t ts;
    uint16_t vlan;      /* outermost VLAN id, when has_vlan */
    uint8_t has_vlan;
    uint8_t family;     /* 4 or 6 */
    uint8_t proto;      /* transport protocol (after IPv6 extension headers) */
    uint8_t fragmented; /* l4 is a reassembled datagram */
    uint8_t src[16], dst[16];
    const uint8_t *l4;  /* transport header and payload, captured bytes only */
    uint32_t l4_len;    /* captured bytes at l4 */
    uint32_t l4_wire;   /* length the IP header gives for it (>= l4_len when cut by snaplen) */
    uint32_t ip_len;    /* IP-level length (IPv4 total length, IPv6 40 + payload length;
                           a reassembled datagram: its header + l4_wire), for conn.log's *_ip_bytes */
    /* tunnels (tunnel.c): set on a packet decapsulated from another */
    uint8_t depth;      /* encapsulation levels around it (0: the captured frame) */
    uint64_t tunnel_key; /* hash of the enclosing tunnels' endpoints, part of the flow key (0: none) */
    const char *tunnel_parents; /* uids of the enclosing flows, outermost first, comma-joined, or NULL */
} pkt_t;

/* Decode link and network layers of one frame. Returns 1 when `out` holds a
 * transport payload to process, 0 when the frame is consumed (not IP, bad or
 * truncated - reported -, or a fragment held for reassembly). `out->l4` may
 * point into reassembly memory that stays valid until the next call. */
int layers_decode(eng_t *e, int64_t ts, int linktype, const uint8_t *p, uint32_t caplen,
                  uint32_t wirelen, pkt_t *out);

/* Decode a packet carried inside a tunnel: bytes p..p+len hold, by `inner`,
 * an Ethernet frame (TUNNEL_INNER_ETHER), an IP packet whose version nibble
 * decides (TUNNEL_INNER_IP) or the payload of that EtherType (any other value).
 * cut: the outer packet was cut by the snaplen. Same result as layers_decode;
 * out->ts, depth, tunnel_key and tunnel_parents are the caller's to set. */
enum { TUNNEL_INNER_IP = 0, TUNNEL_INNER_ETHER = 0x6558 };
int layers_decode_inner(eng_t *e, int inner, const uint8_t *p, uint32_t len, int cut, pkt_t *out);

/* fragment reassembly state of an instance */
typedef struct frag_table frag_table_t;
frag_table_t *frag_new(void);
void frag_free(frag_table_t *t);
/* drop fragment sets older than ip.frag_timeout (weird frag_timeout) */
void frag_expire(eng_t *e, int64_t now);
/* end of input: drop every incomplete datagram (weird frag_incomplete_at_end) */
void frag_finish(eng_t *e);
/* offer one fragment (IPv4 or IPv6); when it completes a datagram, fills
 * out->l4/l4_len/l4_wire (pointing into the table's memory) and returns 1 */
int frag_add(eng_t *e, pkt_t *out, uint32_t id, uint32_t frag_off, int more,
             const uint8_t *data, uint32_t len);

/* overlapping IPv4 fragments: whose bytes the destination host keeps
 * (ip.frag_policy, ip.frag_policy_by_host; docs/decoders.md, IP fragments) */
enum {
    FRAG_POLICY_FIRST,
    FRAG_POLICY_LAST,
    FRAG_POLICY_BSD,
    FRAG_POLICY_BSD_RIGHT,
    FRAG_POLICY_LINUX,
    FRAG_POLICY_WINDOWS,
    FRAG_POLICY_SOLARIS,
    FRAG_POLICY_COUNT
};
/* the policy named by s[0..n) ("bsd-right", ...), or -1 */
int frag_policy_parse(const char *s, size_t n);
const char *frag_policy_name(int policy);
/* parse ip.frag_policy_by_host ("10.0.0.0/8=windows,2001:db8::/32=linux") into t */
struct hosttable;
int frag_policy_hosts(struct hosttable *t, const char *text, char *err, size_t errlen);
/* 1 when the host takes the bytes of a new fragment [n0, n1) over held bytes
 * that came from the fragment [o0, o1) */
int frag_policy_new_wins(int policy, uint32_t n0, uint32_t n1, uint32_t o0, uint32_t o1);

#endif
