/* frag.c - IPv4 and IPv6 fragment reassembly.
 *
 * A set of fragments is keyed by (family, src, dst, proto, id). Its bytes go
 * into one buffer at their offsets. Every fragment but the last starts and
 * ends on a multiple of 8, so the datagram is a row of 8-byte blocks: each
 * block records which received fragment its bytes came from (owner), and a
 * fragment's offset and end are kept (src). The set is complete when the last
 * fragment (MF=0) has given the length and every block is held (a byte count,
 * no scan): reversed or shuffled 8-byte trains with thousands of holes cost no
 * more than in-order ones.
 *
 * Overlaps. IPv4: for every held block a new fragment covers, the policy of
 * the destination host (ip.frag_policy, ip.frag_policy_by_host) decides,
 * comparing the new fragment's offset and end with those of the fragment that
 * supplied the held bytes, which bytes the host keeps (the target-based
 * policies of Novak's "Target-Based Fragmentation Reassembly", as Suricata and
 * Snort name them); an overlap is reported, with both fragments when the
 * bytes differ. IPv6 (RFC 5722): an overlap drops the whole datagram, only an
 * exact duplicate is dropped alone.
 *
 * Limits: 65535 bytes a datagram, FRAG_MAX_FRAGS fragments a set,
 * ip.max_frag_bytes for every set together, buffers and tables included (the
 * oldest go first) and ip.frag_timeout from a set's first fragment.
 */
#include <stdlib.h>
#include <string.h>

#include "ip.h"

#define FRAG_MAX_DGRAM 65535u /* bytes after the IP header(s) */
#define FRAG_MAX_FRAGS 16384  /* fragments offered to one set: a 64 KiB datagram in
                                 8-byte fragments (8192), each sent twice */
#define FRAG_DEFAULT_MAX_BYTES (64u << 20)
#define BLK 8u                /* fragment offsets are in units of 8 bytes */

typedef struct frag_src {
    uint16_t lo, hi; /* a received fragment that supplied held bytes: [lo, hi) */
} frag_src_t;

typedef struct frag_set {
    struct frag_set *hnext;      /* hash chain */
    struct frag_set *prev, *next; /* by age, oldest first */
    uint32_t hash;
    uint32_t id;
    uint8_t family, proto;
    uint8_t has_last;
    uint8_t policy; /* FRAG_POLICY_*, of the destination host */
    uint8_t src[16], dst[16];
    int64_t first_ts;
    uint8_t *buf;
    uint16_t *owner; /* per 8-byte block of buf: index + 1 in srcs, 0 = not held */
    uint32_t cap;    /* bytes allocated at buf (owner: cap / 8 rounded up) */
    frag_src_t *srcs;
    uint32_t nsrcs, scap;
    uint32_t held;   /* bytes held */
    uint32_t maxend; /* the highest end received */
    uint32_t total;  /* datagram length once has_last */
    uint32_t nfrags;
} frag_set_t;

struct frag_table {
    frag_set_t **b;
    uint32_t nb; /* power of two */
    uint32_t count;
    frag_set_t *head, *tail;
    uint64_t bytes; /* accounted: sets, their buffers and tables */
    uint8_t *done;  /* the datagram last returned */
    uint64_t key;   /* hash key, random per table */
};

static const uint8_t empty_dgram[1];

/* ---- policies ------------------------------------------------------------------ */

static const char *const policy_names[] = {
    [FRAG_POLICY_FIRST] = "first",     [FRAG_POLICY_LAST] = "last",
    [FRAG_POLICY_BSD] = "bsd",         [FRAG_POLICY_BSD_RIGHT] = "bsd-right",
    [FRAG_POLICY_LINUX] = "linux",     [FRAG_POLICY_WINDOWS] = "windows",
    [FRAG_POLICY_SOLARIS] = "solaris",
};

static const char *const policy_list[] = {"first", "last", "bsd", "bsd-right", "linux", "windows",
                                          "solaris", NULL};

int frag_policy_hosts(hosttable_t *t, const char *text, char *err, size_t errlen) {
    return hosttable_parse(t, text, policy_list, err, errlen);
}

int frag_policy_parse(const char *s, size_t n) {
    for (int i = 0; i < FRAG_POLICY_COUNT; i++)
        if (strlen(policy_names[i]) == n && !strncmp(policy_names[i], s, n)) return i;
    return -1;
}

const char *frag_policy_name(int p) {
    return p >= 0 && p < FRAG_POLICY_COUNT ? policy_names[p] : "?";
}

/* does the host take the new fragment [n0, n1)'s bytes over held bytes that
 * came from the fragment [o0, o1)? */
int frag_policy_new_wins(int policy, uint32_t n0, uint32_t n1, uint32_t o0, uint32_t o1) {
    switch (policy) {
    case FRAG_POLICY_FIRST: return 0;
    case FRAG_POLICY_LAST: return 1;
    case FRAG_POLICY_BSD: return n0 < o0;
    case FRAG_POLICY_BSD_RIGHT: return n1 > o1 || (n0 <= o0 && n1 >= o1);
    case FRAG_POLICY_LINUX: return n0 <= o0;
    case FRAG_POLICY_WINDOWS: return n0 < o0 && n1 > o1;
    case FRAG_POLICY_SOLARIS: return n0 < o0 && n1 >= o1;
    }
    return 0;
}

/* ---- the table ------------------------------------------------------------------ */

frag_table_t *frag_new(void) {
    frag_table_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->nb = 256;
    t->key = hash_key();
    t->b = calloc(t->nb, sizeof *t->b);
    if (!t->b) {
        free(t);
        return NULL;
    }
    return t;
}

void frag_release(frag_table_t *t) {
    free(t->done);
    t->done = NULL;
}

static void free_set(frag_set_t *s) {
    free(s->buf);
    free(s->owner);
    free(s->srcs);
    free(s);
}

void frag_free(frag_table_t *t) {
    if (!t) return;
    frag_set_t *s = t->head;
    while (s) {
        frag_set_t *n = s->next;
        free_set(s);
        s = n;
    }
    free(t->done);
    free(t->b);
    free(t);
}

/* keyed (the table's random key), as the flow table's hash: crafted
 * fragments cannot pile into one chain */
static uint32_t key_hash(uint64_t key, uint8_t family, uint8_t proto, const uint8_t *src,
                         const uint8_t *dst, uint32_t id) {
    uint8_t a[16] = {0}, b[16] = {0};
    size_t n = family == 6 ? 16 : 4;
    memcpy(a, src, n);
    memcpy(b, dst, n);
    uint64_t w[4];
    memcpy(w, a, 16);
    memcpy(w + 2, b, 16);
    uint64_t h = hash_mix64(key ^ id ^ ((uint64_t)family << 32) ^ ((uint64_t)proto << 40));
    for (int i = 0; i < 4; i++) h = hash_mix64(h ^ w[i]);
    return (uint32_t)h;
}

static uint32_t nblocks(uint32_t bytes) { return (bytes + BLK - 1) / BLK; }

static uint64_t set_bytes(const frag_set_t *s) {
    return sizeof *s + s->cap + (uint64_t)nblocks(s->cap) * sizeof *s->owner +
           (uint64_t)s->scap * sizeof *s->srcs;
}

static void account(eng_t *e, frag_table_t *t) { e->stats.frag_buffered = t->bytes; }

static void unlink_set(frag_table_t *t, frag_set_t *s) {
    frag_set_t **pp = &t->b[s->hash & (t->nb - 1)];
    while (*pp && *pp != s) pp = &(*pp)->hnext;
    if (*pp) *pp = s->hnext;
    if (s->prev) s->prev->next = s->next; else t->head = s->next;
    if (s->next) s->next->prev = s->prev; else t->tail = s->prev;
    t->count--;
    t->bytes -= set_bytes(s);
}

static void drop_set(eng_t *e, frag_table_t *t, frag_set_t *s) {
    unlink_set(t, s);
    account(e, t);
    free_set(s);
}

/* report a set going away: name, why */
static void report_set(eng_t *e, const frag_set_t *s, const char *name, const char *why) {
    char a[64], b[64];
    ip_addr_str(s->family, s->src, a, sizeof a);
    ip_addr_str(s->family, s->dst, b, sizeof b);
    eng_weird(e, NULL, name, "IPv%u fragments %s -> %s id %u proto %u dropped (%s): %u bytes held%s",
              s->family, a, b, s->id, s->proto, why, s->held,
              s->has_last ? "" : ", last fragment not seen");
}

static int64_t timeout_ns(const eng_t *e) { return e->cfg.frag_timeout_ns; }
static uint64_t max_bytes(const eng_t *e) {
    return e->cfg.max_frag_bytes ? e->cfg.max_frag_bytes : FRAG_DEFAULT_MAX_BYTES;
}

void frag_expire(eng_t *e, int64_t now) {
    frag_table_t *t = e->frags;
    int64_t to = timeout_ns(e);
    if (!t || to <= 0) return;
    while (t->head && now - t->head->first_ts > to) {
        frag_set_t *s = t->head;
        e->stats.frags_timed_out++;
        report_set(e, s, "frag_timeout", "timed out");
        drop_set(e, t, s);
    }
}

void frag_finish(eng_t *e) {
    frag_table_t *t = e->frags;
    while (t && t->head) {
        frag_set_t *s = t->head;
        report_set(e, s, "frag_incomplete_at_end", "the input ended");
        drop_set(e, t, s);
    }
}

/* make room for `need` more accounted bytes, dropping the oldest sets other
 * than `keep`; 1 when it fits */
static int make_room(eng_t *e, frag_table_t *t, uint64_t need, frag_set_t *keep) {
    uint64_t max = max_bytes(e);
    while (t->bytes + need > max) {
        frag_set_t *v = t->head;
        if (v == keep) v = v->next;
        if (!v) return 0;
        report_set(e, v, "frag_buffer_full", "ip.max_frag_bytes reached");
        drop_set(e, t, v);
    }
    return 1;
}

static void grow_table(frag_table_t *t) {
    if (t->count < t->nb * 2 || t->nb >= (1u << 20)) return;
    uint32_t nb = t->nb * 2;
    frag_set_t **b = calloc(nb, sizeof *b);
    if (!b) return;
    for (frag_set_t *s = t->head; s; s = s->next) {
        s->hnext = b[s->hash & (nb - 1)];
        b[s->hash & (nb - 1)] = s;
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

static frag_set_t *find_set(frag_table_t *t, const pkt_t *p, uint32_t h, uint32_t id) {
    size_t n = p->family == 6 ? 16 : 4;
    for (frag_set_t *s = t->b[h & (t->nb - 1)]; s; s = s->hnext)
        if (s->hash == h && s->id == id && s->family == p->family && s->proto == p->proto &&
            !memcmp(s->src, p->src, n) && !memcmp(s->dst, p->dst, n))
            return s;
    return NULL;
}

/* a malformed fragment: weird, ip_errors; returns 0 */
static int bad_frag(eng_t *e, const pkt_t *p, const char *name, const char *what, uint32_t id,
                    uint32_t off, uint32_t len) {
    char a[64], b[64];
    e->stats.ip_errors++;
    eng_weird(e, NULL, name, "IPv%u fragment %s -> %s id %u offset %u length %u: %s", p->family,
              ip_addr_str(p->family, p->src, a, sizeof a), ip_addr_str(p->family, p->dst, b, sizeof b),
              id, off, len, what);
    return 0;
}

/* the policy of the destination host: the longest prefix of
 * ip.frag_policy_by_host that holds it, else ip.frag_policy */
static int policy_for(const eng_t *e, const pkt_t *p) {
    int v = p->family == 4 ? hosttable_lookup(&e->frag_hosts, 4, p->dst) : -1;
    return v >= 0 ? v : e->cfg.frag_policy;
}

/* buffer, block owners and source table big enough for `end` bytes and one
 * more source; 0 when ip.max_frag_bytes cannot make room (the set is dropped) */
static int reserve(eng_t *e, frag_table_t *t, frag_set_t *s, uint32_t end) {
    uint32_t ncap = s->cap, nscap = s->scap;
    if (end > s->cap) {
        ncap = s->has_last ? s->total : s->cap * 2;
        if (ncap < end) ncap = end;
        if (ncap < 2048 && !s->has_last) ncap = 2048;
        if (ncap > FRAG_MAX_DGRAM) ncap = FRAG_MAX_DGRAM;
    }
    if (s->nsrcs == s->scap) nscap = s->scap ? s->scap * 2 : 8;
    if (ncap == s->cap && nscap == s->scap) return 1;
    uint64_t before = set_bytes(s);
    frag_set_t probe = *s;
    probe.cap = ncap;
    probe.scap = nscap;
    uint64_t need = set_bytes(&probe) - before;
    if (!make_room(e, t, need, s)) {
        report_set(e, s, "frag_buffer_full", "ip.max_frag_bytes reached");
        drop_set(e, t, s);
        return 0;
    }
    if (ncap != s->cap) {
        uint8_t *nb = realloc(s->buf, ncap);
        if (!nb) goto oom;
        s->buf = nb;
        uint32_t ob = nblocks(s->cap), nbk = nblocks(ncap);
        uint16_t *no = realloc(s->owner, nbk * sizeof *no);
        if (!no) goto oom;
        memset(no + ob, 0, (nbk - ob) * sizeof *no);
        s->owner = no;
        t->bytes -= before;
        s->cap = ncap;
        t->bytes += before = set_bytes(s);
    }
    if (nscap != s->scap) {
        frag_src_t *ns = realloc(s->srcs, nscap * sizeof *ns);
        if (!ns) goto oom;
        s->srcs = ns;
        t->bytes -= before;
        s->scap = nscap;
        t->bytes += set_bytes(s);
    }
    account(e, t);
    return 1;
oom:
    drop_set(e, t, s);
    return 0;
}

/* IPv6 (RFC 5722): does [off, end) overlap held bytes? 2 for an exact
 * duplicate (one received fragment, same bytes), 1 for any other overlap */
static int overlap6(const frag_set_t *s, uint32_t off, uint32_t end, const uint8_t *data) {
    if (off >= s->cap) return 0;
    uint32_t b0 = off / BLK, b1 = nblocks(end < s->cap ? end : s->cap);
    int any = 0, dup = 1;
    uint16_t first = 0;
    for (uint32_t b = b0; b < b1; b++) {
        uint16_t o = s->owner[b];
        if (!o) {
            dup = 0;
            continue;
        }
        any = 1;
        if (!first) first = o;
        else if (o != first) dup = 0;
    }
    if (!any) return 0;
    if (dup && end <= s->cap && s->srcs[first - 1].lo == off && s->srcs[first - 1].hi == end &&
        !memcmp(s->buf + off, data, end - off))
        return 2;
    return 1;
}

int frag_add(eng_t *e, pkt_t *out, uint32_t id, uint32_t off, int more, const uint8_t *data,
             uint32_t len) {
    e->stats.frags++;
    if (!e->frags && !(e->frags = frag_new())) return 0;
    frag_table_t *t = e->frags;
    frag_expire(e, out->ts);

    uint32_t h = key_hash(t->key, out->family, out->proto, out->src, out->dst, id);
    frag_set_t *s = find_set(t, out, h, id);
    uint64_t end = (uint64_t)off + len;
    if (end > FRAG_MAX_DGRAM) {
        if (s) drop_set(e, t, s);
        return bad_frag(e, out, "fragment_too_large", "the datagram would exceed 65535 bytes", id, off,
                        len);
    }
    if (more && (len % 8 || len == 0))
        return bad_frag(e, out, "bad_fragment_size",
                        "a fragment with more to follow must be a non-zero multiple of 8 bytes", id, off,
                        len);

    if (!s) {
        if (!make_room(e, t, sizeof *s, NULL)) {
            char a[64], b[64];
            eng_weird(e, NULL, "frag_buffer_full",
                      "IPv%u fragment %s -> %s id %u dropped: ip.max_frag_bytes (%llu) too small",
                      out->family, ip_addr_str(out->family, out->src, a, sizeof a),
                      ip_addr_str(out->family, out->dst, b, sizeof b), id,
                      (unsigned long long)max_bytes(e));
            return 0;
        }
        s = calloc(1, sizeof *s);
        if (!s) return 0;
        s->hash = h;
        s->id = id;
        s->family = out->family;
        s->proto = out->proto;
        s->policy = (uint8_t)policy_for(e, out);
        memcpy(s->src, out->src, sizeof s->src);
        memcpy(s->dst, out->dst, sizeof s->dst);
        s->first_ts = out->ts;
        s->hnext = t->b[h & (t->nb - 1)];
        t->b[h & (t->nb - 1)] = s;
        s->prev = t->tail;
        if (t->tail) t->tail->next = s; else t->head = s;
        t->tail = s;
        t->count++;
        t->bytes += set_bytes(s);
        account(e, t);
        grow_table(t);
    }
    if (++s->nfrags > FRAG_MAX_FRAGS) {
        bad_frag(e, out, "too_many_fragments", "too many fragments for one datagram", id, off, len);
        drop_set(e, t, s);
        return 0;
    }

    /* the length: given by the last fragment, and no fragment goes past it */
    if (!more) {
        if ((s->has_last && s->total != end) || s->maxend > end)
            return bad_frag(e, out, "fragment_inconsistency",
                            "the last fragment disagrees with the datagram's length", id, off, len);
        s->has_last = 1;
        s->total = (uint32_t)end;
    } else if (s->has_last && end > s->total) {
        return bad_frag(e, out, "fragment_inconsistency", "a fragment past the datagram's end", id,
                        off, len);
    }
    if (end > s->maxend) s->maxend = (uint32_t)end;
    if (!len) goto check;

    char a[64], b[64];
    if (s->family == 6) {
        int ov = overlap6(s, off, (uint32_t)end, data);
        if (ov == 2) {
            e->stats.frags_overlapping++;
            eng_weird(e, NULL, "fragment_overlap",
                      "IPv6 fragment %s -> %s id %u offset %u length %u: a duplicate of a fragment held (dropped alone)",
                      ip_addr_str(6, out->src, a, sizeof a), ip_addr_str(6, out->dst, b, sizeof b), id,
                      off, len);
            return 0;
        }
        if (ov) {
            e->stats.frags_overlapping++;
            e->stats.ip_errors++;
            eng_weird(e, NULL, "ipv6_fragment_overlap",
                      "IPv6 fragment %s -> %s id %u offset %u length %u overlaps the fragments held: the datagram is dropped (RFC 5722), %u bytes held",
                      ip_addr_str(6, out->src, a, sizeof a), ip_addr_str(6, out->dst, b, sizeof b), id,
                      off, len, s->held);
            drop_set(e, t, s);
            return 0;
        }
    }

    if (!reserve(e, t, s, (uint32_t)end)) return 0;

    /* block by block: a hole takes the new bytes, a held block keeps its
     * bytes or takes the new ones as the host's policy says */
    uint16_t me = (uint16_t)(s->nsrcs + 1);
    uint32_t overlap = 0, differ = 0, replaced = 0, taken = 0;
    uint16_t other = 0; /* the first fragment whose bytes differ */
    for (uint32_t bk = off / BLK; bk < nblocks((uint32_t)end); bk++) {
        uint32_t lo = bk * BLK, hi = lo + BLK < end ? lo + BLK : (uint32_t)end;
        const uint8_t *src = data + (lo - off);
        uint16_t o = s->owner[bk];
        if (!o) {
            memcpy(s->buf + lo, src, hi - lo);
            s->owner[bk] = me;
            s->held += hi - lo;
            taken = 1;
            continue;
        }
        overlap += hi - lo;
        int same = !memcmp(s->buf + lo, src, hi - lo);
        const frag_src_t *os = &s->srcs[o - 1];
        int win = frag_policy_new_wins(s->policy, off, (uint32_t)end, os->lo, os->hi);
        if (!same) {
            differ += hi - lo;
            if (!other) other = o;
            if (win) replaced += hi - lo;
        }
        if (win) {
            if (!same) memcpy(s->buf + lo, src, hi - lo);
            s->owner[bk] = me;
            taken = 1;
        }
    }
    if (taken) {
        s->srcs[s->nsrcs].lo = (uint16_t)off;
        s->srcs[s->nsrcs].hi = (uint16_t)end;
        s->nsrcs++;
    }
    if (overlap) {
        e->stats.frags_overlapping++;
        ip_addr_str(out->family, out->src, a, sizeof a);
        ip_addr_str(out->family, out->dst, b, sizeof b);
        if (differ) {
            const frag_src_t *os = &s->srcs[other - 1];
            eng_weird(e, NULL, "fragment_overlap_conflict",
                      "IPv%u fragment %s -> %s id %u offset %u length %u overlaps the fragment held at offset %u length %u with different bytes (%u of %u overlapping bytes differ): policy %s takes %s",
                      out->family, a, b, id, off, len, os->lo, os->hi - os->lo, differ, overlap,
                      frag_policy_name(s->policy),
                      replaced == differ ? "the new bytes" : replaced ? "some new bytes" : "the held bytes");
        } else {
            eng_weird(e, NULL, "fragment_overlap",
                      "IPv%u fragment %s -> %s id %u offset %u length %u overlaps %u bytes held, the same bytes",
                      out->family, a, b, id, off, len, overlap);
        }
    }

check:
    if (!s->has_last || s->held != s->total || !s->total) return 0;

    /* complete: hand the buffer over until the next frame */
    unlink_set(t, s);
    account(e, t);
    free(t->done);
    t->done = s->buf;
    s->buf = NULL;
    out->l4 = t->done ? t->done : empty_dgram;
    out->l4_len = out->l4_wire = s->total;
    out->fragmented = 1;
    e->stats.frags_reassembled++;
    free_set(s);
    return 1;
}
