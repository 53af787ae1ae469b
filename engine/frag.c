/* frag.c - IPv4 and IPv6 fragment reassembly.
 *
 * A set of fragments is keyed by (family, src, dst, proto, id). Its bytes go
 * into one buffer at their offsets; the ranges received are kept merged and
 * sorted, so the set is complete when the last fragment (MF=0) has given the
 * length and one range covers it. Overlaps: the first bytes win; they are
 * counted and reported (conflict when the bytes differ). Limits: 65535 bytes a
 * datagram, FRAG_MAX_FRAGS fragments and FRAG_MAX_RANGES holes a set,
 * ip.max_frag_bytes for every set together (the oldest go first) and
 * ip.frag_timeout from a set's first fragment.
 */
#include <stdlib.h>
#include <string.h>

#include "ip.h"

#define FRAG_MAX_DGRAM 65535u /* bytes after the IP header(s) */
#define FRAG_MAX_FRAGS 16384  /* fragments offered to one set: a 64 KiB datagram in
                                 8-byte fragments (8192), each sent twice */
#define FRAG_MAX_RANGES 64    /* disjoint ranges received (holes + 1) */
#define FRAG_DEFAULT_MAX_BYTES (64u << 20)

typedef struct frag_range {
    uint32_t lo, hi;
} frag_range_t;

typedef struct frag_set {
    struct frag_set *hnext;      /* hash chain */
    struct frag_set *prev, *next; /* by age, oldest first */
    uint32_t hash;
    uint32_t id;
    uint8_t family, proto;
    uint8_t has_last;
    uint8_t src[16], dst[16];
    int64_t first_ts;
    uint8_t *buf;
    uint32_t cap;   /* bytes allocated at buf */
    uint32_t total; /* datagram length once has_last */
    uint32_t nfrags;
    uint32_t nr;
    frag_range_t r[FRAG_MAX_RANGES];
} frag_set_t;

struct frag_table {
    frag_set_t **b;
    uint32_t nb; /* power of two */
    uint32_t count;
    frag_set_t *head, *tail;
    uint64_t bytes; /* accounted: sets and their buffers */
    uint8_t *done;  /* the datagram last returned */
    uint64_t key;   /* hash key, random per table */
};

static const uint8_t empty_dgram[1];

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

void frag_free(frag_table_t *t) {
    if (!t) return;
    frag_set_t *s = t->head;
    while (s) {
        frag_set_t *n = s->next;
        free(s->buf);
        free(s);
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

static uint64_t set_bytes(const frag_set_t *s) { return sizeof *s + s->cap; }

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
    free(s->buf);
    free(s);
}

static uint32_t have_bytes(const frag_set_t *s) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nr; i++) n += s->r[i].hi - s->r[i].lo;
    return n;
}

/* report a set going away: name, why */
static void report_set(eng_t *e, const frag_set_t *s, const char *name, const char *why) {
    char a[64], b[64];
    ip_addr_str(s->family, s->src, a, sizeof a);
    ip_addr_str(s->family, s->dst, b, sizeof b);
    eng_weird(e, NULL, name, "IPv%u fragments %s -> %s id %u proto %u dropped (%s): %u bytes held%s",
              s->family, a, b, s->id, s->proto, why, have_bytes(s),
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
        uint32_t seen = s->nr ? s->r[s->nr - 1].hi : 0;
        if ((s->has_last && s->total != end) || seen > end)
            return bad_frag(e, out, "fragment_inconsistency",
                            "the last fragment disagrees with the datagram's length", id, off, len);
        s->has_last = 1;
        s->total = (uint32_t)end;
    } else if (s->has_last && end > s->total) {
        return bad_frag(e, out, "fragment_inconsistency", "a fragment past the datagram's end", id,
                        off, len);
    }

    /* overlaps with what is held: the first bytes win */
    int overlap = 0, conflict = 0;
    for (uint32_t i = 0; i < s->nr; i++) {
        uint32_t lo = s->r[i].lo > off ? s->r[i].lo : off;
        uint32_t hi = s->r[i].hi < end ? s->r[i].hi : (uint32_t)end;
        if (lo >= hi) continue;
        overlap = 1;
        if (memcmp(s->buf + lo, data + (lo - off), hi - lo)) conflict = 1;
    }
    if (overlap) {
        char a[64], b[64];
        e->stats.frags_overlapping++;
        eng_weird(e, NULL, conflict ? "fragment_overlap_conflict" : "fragment_overlap",
                  "IPv%u fragment %s -> %s id %u offset %u length %u overlaps bytes held%s (first kept)",
                  out->family, ip_addr_str(out->family, out->src, a, sizeof a),
                  ip_addr_str(out->family, out->dst, b, sizeof b), id, off, len,
                  conflict ? " with different content" : "");
    }

    /* room for the bytes */
    if (end > s->cap) {
        uint32_t ncap = s->has_last ? s->total : s->cap * 2;
        if (ncap < end) ncap = (uint32_t)end;
        if (ncap < 2048 && !s->has_last) ncap = 2048;
        if (ncap > FRAG_MAX_DGRAM) ncap = FRAG_MAX_DGRAM;
        if (!make_room(e, t, ncap - s->cap, s)) {
            report_set(e, s, "frag_buffer_full", "ip.max_frag_bytes reached");
            drop_set(e, t, s);
            return 0;
        }
        uint8_t *nb = realloc(s->buf, ncap);
        if (!nb) {
            drop_set(e, t, s);
            return 0;
        }
        t->bytes += ncap - s->cap;
        account(e, t);
        s->buf = nb;
        s->cap = ncap;
    }

    /* copy what is not held yet, then merge the range in */
    uint32_t pos = off;
    for (uint32_t i = 0; i <= s->nr && pos < end; i++) {
        uint32_t gap_end = i < s->nr ? s->r[i].lo : (uint32_t)end;
        if (gap_end > end) gap_end = (uint32_t)end;
        if (gap_end > pos) memcpy(s->buf + pos, data + (pos - off), gap_end - pos);
        if (i < s->nr && s->r[i].hi > pos) pos = s->r[i].hi;
    }
    if (len) {
        frag_range_t nr[FRAG_MAX_RANGES + 1];
        uint32_t n = 0, i = 0;
        frag_range_t cur = {off, (uint32_t)end};
        while (i < s->nr && s->r[i].hi < cur.lo) nr[n++] = s->r[i++];
        while (i < s->nr && s->r[i].lo <= cur.hi) {
            if (s->r[i].lo < cur.lo) cur.lo = s->r[i].lo;
            if (s->r[i].hi > cur.hi) cur.hi = s->r[i].hi;
            i++;
        }
        nr[n++] = cur;
        while (i < s->nr) nr[n++] = s->r[i++];
        if (n > FRAG_MAX_RANGES) {
            bad_frag(e, out, "too_many_fragments", "too many holes in one datagram", id, off, len);
            drop_set(e, t, s);
            return 0;
        }
        memcpy(s->r, nr, n * sizeof *nr);
        s->nr = n;
    }

    if (!s->has_last) return 0;
    if (!(s->total == 0 || (s->nr == 1 && s->r[0].lo == 0 && s->r[0].hi == s->total))) return 0;

    /* complete: hand the buffer over until the next frame */
    unlink_set(t, s);
    account(e, t);
    free(t->done);
    t->done = s->buf;
    out->l4 = s->buf ? s->buf : empty_dgram;
    out->l4_len = out->l4_wire = s->total;
    out->fragmented = 1;
    e->stats.frags_reassembled++;
    free(s);
    return 1;
}
