/* pcapmut - read a capture, write a mutated copy, for end-to-end reassembly tests.
 *
 *   pcapmut [options] IN OUT
 *     --split N        re-segment every TCP payload into segments of at most N bytes
 *     --reorder SEED   shuffle each TCP flow direction's packets in windows of 8
 *                      (SYN and RST segments keep their place)
 *     --dup RATE,SEED  re-send a copy of a fraction RATE (0..1) of TCP data segments a
 *                      few packets later
 *     --frag N         fragment every IP packet whose IP payload exceeds N bytes into
 *                      N-byte fragments (N rounded down to a multiple of 8, at least 8);
 *                      IPv6 gets a fragment extension header
 *     --vlan ID[,ID2]  Ethernet output with an 802.1Q tag, or 802.1ad outer ID + 802.1Q ID2
 *     --link L         output link type: ether (default), sll, sll2, raw, null
 *
 * Input link types: Ethernet (with VLAN tags, PPPoE sessions), Linux SLL and SLL2, raw IP,
 * BSD null/loop, IPv4/IPv6, Linux ARCnet (129; only its IP packets are kept).  A PPPoE
 * session's PPP header is dropped: its IP packets come out as plain IP on the output link.  Mutations run in the order split, dup, reorder, frag.  Timestamps stay
 * non-decreasing: packets move, the timestamps stay with the positions.  Segments made by
 * --split get correct sequence numbers, lengths and IPv4 header and TCP checksums.
 * Packets that cannot be parsed (truncated, non-IP, already fragmented) pass through
 * unchanged (non-IP packets are dropped for raw/null output, counted on stderr).
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_L3 (256 * 1024)

typedef struct {
    uint32_t ts_sec, ts_usec;
    uint8_t dst[6], src[6];
    int ntags;
    uint16_t tpid[2], tci[2];
    uint16_t ethertype; /* of data */
    uint8_t *data;      /* L3 bytes, owned */
    size_t len;
    uint32_t extra;     /* original wire length minus captured length */
} pkt_t;

typedef struct {
    pkt_t *v;
    size_t n, cap;
} plist_t;

static void die(const char *msg) {
    fprintf(stderr, "pcapmut: %s\n", msg);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static void pl_push(plist_t *l, const pkt_t *p) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 1024;
        pkt_t *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) die("out of memory");
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = *p;
}

static void pl_free(plist_t *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].data);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* a copy of p's metadata with new data bytes */
static pkt_t pkt_with(const pkt_t *p, const uint8_t *data, size_t len) {
    pkt_t q = *p;
    q.data = xmalloc(len);
    memcpy(q.data, data, len);
    q.len = len;
    return q;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---- deterministic random numbers (splitmix64) ---- */
static uint64_t rng_state;
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }

/* ---- checksums ---- */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i + 1 < n; i += 2) sum += (uint32_t)((p[i] << 8) | p[i + 1]);
    if (i < n) sum += (uint32_t)(p[i] << 8);
    return sum;
}
static uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* ---- IP parsing ---- */
typedef struct {
    int ver;          /* 4 or 6; 0 = not parseable */
    size_t iplen;     /* datagram length (<= buffer length) */
    size_t hdrlen;    /* IPv4 header length, or IPv6 header + extension headers before L4 */
    int proto;        /* transport protocol, -1 for a fragment */
    size_t unfrag;    /* IPv6: end of the unfragmentable part */
    size_t nh_pos;    /* IPv6: offset of the next-header byte naming the first fragmentable header */
} ipinfo_t;

static int parse_ip(const uint8_t *p, size_t len, uint16_t ethertype, ipinfo_t *ii) {
    memset(ii, 0, sizeof *ii);
    ii->proto = -1;
    if (ethertype == 0x0800) {
        if (len < 20 || (p[0] >> 4) != 4) return -1;
        size_t ihl = (size_t)(p[0] & 15) * 4, tot = rd16(p + 2);
        if (ihl < 20 || tot < ihl || tot > len) return -1;
        ii->ver = 4;
        ii->iplen = tot;
        ii->hdrlen = ihl;
        uint16_t fo = rd16(p + 6);
        ii->proto = (fo & 0x3fff) ? -1 : p[9];
        return 0;
    }
    if (ethertype == 0x86dd) {
        if (len < 40 || (p[0] >> 4) != 6) return -1;
        size_t plen = rd16(p + 4);
        if (plen == 0 || 40 + plen > len) return -1;
        ii->ver = 6;
        ii->iplen = 40 + plen;
        uint8_t nh = p[6];
        size_t off = 40, nh_pos = 6;
        int frag_part = 0; /* seen a header that belongs to the fragmentable part */
        ii->unfrag = 40;
        ii->nh_pos = 6;
        for (int guard = 0; guard < 16; guard++) {
            if (nh == 0 || nh == 43 || nh == 60 || nh == 51) {
                if (off + 8 > ii->iplen) return -1;
                size_t hl = nh == 51 ? ((size_t)p[off + 1] + 2) * 4 : ((size_t)p[off + 1] + 1) * 8;
                if (off + hl > ii->iplen) return -1;
                if (!frag_part && (nh == 0 || nh == 43)) {
                    ii->unfrag = off + hl;
                    ii->nh_pos = off;
                } else {
                    frag_part = 1;
                }
                nh_pos = off;
                nh = p[off];
                off += hl;
                continue;
            }
            if (nh == 44) { /* already a fragment */
                ii->hdrlen = off;
                ii->proto = -1;
                return 0;
            }
            break;
        }
        (void)nh_pos;
        ii->hdrlen = off;
        ii->proto = nh;
        return 0;
    }
    return -1;
}

/* v4/v6 helper: set the datagram length fields after a change */
static void ip_set_len(uint8_t *p, const ipinfo_t *ii, size_t iplen) {
    if (ii->ver == 4) {
        wr16(p + 2, (uint16_t)iplen);
        wr16(p + 10, 0);
        wr16(p + 10, csum_fold(csum_add(0, p, ii->hdrlen)));
    } else {
        wr16(p + 4, (uint16_t)(iplen - 40));
    }
}

static void l4_checksum(uint8_t *p, const ipinfo_t *ii, size_t iplen, int proto, size_t csum_off) {
    size_t l4 = ii->hdrlen, l4len = iplen - l4;
    if (l4 + csum_off + 2 > iplen) return;
    uint32_t s = 0;
    wr16(p + l4 + csum_off, 0);
    if (ii->ver == 4) {
        s = csum_add(s, p + 12, 8);
        s += (uint32_t)proto;
        s += (uint32_t)l4len;
    } else {
        s = csum_add(s, p + 8, 32);
        s += (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
        s += (uint32_t)proto;
    }
    s = csum_add(s, p + l4, l4len);
    uint16_t c = csum_fold(s);
    if (proto == 17 && c == 0) c = 0xffff;
    wr16(p + l4 + csum_off, c);
}

/* TCP segment view: returns 0 with header length and payload bounds */
typedef struct {
    size_t thl;     /* TCP header length */
    size_t pay;     /* payload offset in the packet */
    size_t paylen;
    uint8_t flags;
} tcpinfo_t;

static int parse_tcp(const pkt_t *pk, ipinfo_t *ii, tcpinfo_t *ti) {
    if (parse_ip(pk->data, pk->len, pk->ethertype, ii) != 0 || ii->proto != 6) return -1;
    if (ii->hdrlen + 20 > ii->iplen) return -1;
    const uint8_t *t = pk->data + ii->hdrlen;
    size_t thl = (size_t)(t[12] >> 4) * 4;
    if (thl < 20 || ii->hdrlen + thl > ii->iplen) return -1;
    ti->thl = thl;
    ti->pay = ii->hdrlen + thl;
    ti->paylen = ii->iplen - ti->pay;
    ti->flags = t[13];
    return 0;
}

/* ---- --split N ---- */
static void do_split(plist_t *l, size_t n) {
    plist_t out = {0};
    uint8_t *buf = xmalloc(MAX_L3);
    for (size_t i = 0; i < l->n; i++) {
        pkt_t *pk = &l->v[i];
        ipinfo_t ii;
        tcpinfo_t ti;
        if (pk->extra || parse_tcp(pk, &ii, &ti) != 0 || ti.paylen <= n) {
            pl_push(&out, pk);
            continue;
        }
        uint32_t seq = rd32(pk->data + ii.hdrlen + 4);
        uint8_t fl = ti.flags;
        if (fl & 0x02) seq++; /* SYN with data: data starts after the SYN */
        for (size_t off = 0; off < ti.paylen; off += n) {
            size_t cl = ti.paylen - off < n ? ti.paylen - off : n;
            size_t iplen = ti.pay + cl;
            if (iplen > MAX_L3) die("packet too large");
            memcpy(buf, pk->data, ti.pay);
            memcpy(buf + ti.pay, pk->data + ti.pay + off, cl);
            uint8_t *t = buf + ii.hdrlen;
            uint8_t f = fl;
            if (off > 0) f &= (uint8_t)~0x02;           /* SYN on the first only */
            if (off + cl < ti.paylen) f &= (uint8_t)~0x09; /* FIN, PSH on the last only */
            t[13] = f;
            uint32_t s = seq + (uint32_t)off;
            if (off == 0 && (fl & 0x02)) s = seq - 1;
            wr32(t + 4, s);
            ip_set_len(buf, &ii, iplen);
            l4_checksum(buf, &ii, iplen, 6, 16);
            pkt_t q = pkt_with(pk, buf, iplen);
            pl_push(&out, &q);
        }
        free(pk->data);
    }
    free(buf);
    free(l->v);
    *l = out;
}

/* ---- --dup RATE,SEED ---- */
static void do_dup(plist_t *l, double rate, uint64_t seed) {
    rng_state = seed;
    plist_t out = {0};
    /* pending duplicates: inserted after `due` more input packets */
    typedef struct { pkt_t p; size_t due; } pend_t;
    pend_t pend[64];
    size_t npend = 0;
    for (size_t i = 0; i < l->n; i++) {
        pkt_t *pk = &l->v[i];
        pl_push(&out, pk);
        ipinfo_t ii;
        tcpinfo_t ti;
        if (parse_tcp(pk, &ii, &ti) == 0 && ti.paylen > 0 && npend < 64 && rng_unit() < rate) {
            pend_t pe;
            pe.p = pkt_with(pk, pk->data, pk->len);
            pe.due = i + 1 + (size_t)(rng_next() % 4); /* after 0 to 3 more packets */
            pend[npend++] = pe;
        }
        for (size_t k = 0; k < npend;) {
            if (pend[k].due <= i + 1 && i + 1 < l->n) {
                pkt_t d = pend[k].p;
                d.ts_sec = pk->ts_sec;
                d.ts_usec = pk->ts_usec;
                pl_push(&out, &d);
                pend[k] = pend[--npend];
            } else {
                k++;
            }
        }
    }
    for (size_t k = 0; k < npend; k++) {
        pkt_t d = pend[k].p;
        if (out.n) {
            d.ts_sec = out.v[out.n - 1].ts_sec;
            d.ts_usec = out.v[out.n - 1].ts_usec;
        }
        pl_push(&out, &d);
    }
    free(l->v);
    *l = out;
}

/* ---- --reorder SEED ---- */
typedef struct {
    uint8_t key[37]; /* version, src, dst (16 each), ports */
    uint8_t data;    /* the segment carries payload */
    size_t idx;
} fkey_t;

static int fkey_cmp(const void *a, const void *b) {
    const fkey_t *x = a, *y = b;
    int c = memcmp(x->key, y->key, sizeof x->key);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int fkey_cmp_key(const void *a, const void *b) {
    return memcmp(((const fkey_t *)a)->key, ((const fkey_t *)b)->key, sizeof ((const fkey_t *)a)->key);
}

/* A direction that starts without a SYN (the capture began mid-connection)
 * keeps its first packet first: a receiver picking the stream up there
 * cannot place bytes sent before the first it sees, so moving an earlier
 * segment after it would test nothing but that ambiguity. The same for the
 * pure ACKs before that first segment with payload. */
static void do_reorder(plist_t *l, uint64_t seed) {
    enum { K = 8 };
    rng_state = seed;
    fkey_t *keys = xmalloc(l->n * sizeof *keys), *syns = xmalloc(l->n * sizeof *syns);
    size_t nk = 0, ns = 0;
    for (size_t i = 0; i < l->n; i++) {
        pkt_t *pk = &l->v[i];
        ipinfo_t ii;
        tcpinfo_t ti;
        if (parse_tcp(pk, &ii, &ti) != 0) continue;
        int syn = (ti.flags & 0x02) != 0;
        if (!syn && (ti.flags & 0x04)) continue; /* RSTs stay where they are */
        fkey_t *k = syn ? &syns[ns++] : &keys[nk++]; /* SYNs stay too, and are noted */
        memset(k, 0, sizeof *k);
        k->idx = i;
        k->data = ti.paylen > 0;
        k->key[0] = (uint8_t)ii.ver;
        if (ii.ver == 4) {
            memcpy(k->key + 1, pk->data + 12, 4);
            memcpy(k->key + 17, pk->data + 16, 4);
        } else {
            memcpy(k->key + 1, pk->data + 8, 32);
        }
        memcpy(k->key + 33, pk->data + ii.hdrlen, 4);
    }
    qsort(keys, nk, sizeof *keys, fkey_cmp);
    qsort(syns, ns, sizeof *syns, fkey_cmp);
    /* windows of K consecutive packets of one flow direction: permute the packets among
     * their positions (the positions keep their timestamps) */
    size_t pos[K];
    pkt_t tmp[K];
    for (size_t s = 0; s < nk;) {
        int newdir = s == 0 || memcmp(keys[s - 1].key, keys[s].key, sizeof keys[s].key);
        int silence = !newdir && l->v[keys[s].idx].ts_sec > l->v[keys[s - 1].idx].ts_sec + 60;
        if ((newdir && !bsearch(&keys[s], syns, ns, sizeof *syns, fkey_cmp_key)) || silence) {
            /* a direction without a SYN: its packets up to the first with payload stay */
            size_t f = s;
            while (f + 1 < nk && !keys[f].data && !memcmp(keys[f + 1].key, keys[s].key, sizeof keys[s].key)) f++;
            s = f + 1;
            continue;
        }
        size_t e = s;
        /* a window ends at a silence of over a minute: the flow may have timed out there */
        while (e < nk && e - s < K && memcmp(keys[e].key, keys[s].key, sizeof keys[s].key) == 0 &&
               (e == s || l->v[keys[e].idx].ts_sec <= l->v[keys[e - 1].idx].ts_sec + 60))
            e++;
        size_t w = e - s;
        for (size_t j = 0; j < w; j++) {
            pos[j] = keys[s + j].idx;
            tmp[j] = l->v[pos[j]];
        }
        for (size_t j = w; j > 1; j--) { /* Fisher-Yates */
            size_t r = (size_t)(rng_next() % j);
            pkt_t t = tmp[j - 1];
            tmp[j - 1] = tmp[r];
            tmp[r] = t;
        }
        for (size_t j = 0; j < w; j++) {
            uint32_t sec = l->v[pos[j]].ts_sec, usec = l->v[pos[j]].ts_usec;
            l->v[pos[j]] = tmp[j];
            l->v[pos[j]].ts_sec = sec;
            l->v[pos[j]].ts_usec = usec;
        }
        s = e;
    }
    free(keys);
    free(syns);
}

/* ---- --frag N ---- */
static void do_frag(plist_t *l, size_t n) {
    plist_t out = {0};
    uint8_t *buf = xmalloc(MAX_L3);
    uint16_t id4 = 0x4000;
    uint32_t id6 = 0x10000;
    for (size_t i = 0; i < l->n; i++) {
        pkt_t *pk = &l->v[i];
        ipinfo_t ii;
        if (pk->extra || parse_ip(pk->data, pk->len, pk->ethertype, &ii) != 0 || ii.proto < 0) {
            pl_push(&out, pk);
            continue;
        }
        if (ii.ver == 4) {
            size_t hl = ii.hdrlen, pay = ii.iplen - hl;
            if (pay <= n) { pl_push(&out, pk); continue; }
            uint16_t id = id4++;
            for (size_t off = 0; off < pay; off += n) {
                size_t cl = pay - off < n ? pay - off : n;
                memcpy(buf, pk->data, hl);
                memcpy(buf + hl, pk->data + hl + off, cl);
                wr16(buf + 4, id);
                wr16(buf + 6, (uint16_t)(((off + cl < pay) ? 0x2000 : 0) | (off / 8)));
                ip_set_len(buf, &ii, hl + cl);
                pkt_t q = pkt_with(pk, buf, hl + cl);
                pl_push(&out, &q);
            }
        } else {
            size_t uf = ii.unfrag, pay = ii.iplen - uf;
            if (pay <= n) { pl_push(&out, pk); continue; }
            uint32_t id = id6++;
            uint8_t nh = pk->data[ii.nh_pos];
            for (size_t off = 0; off < pay; off += n) {
                size_t cl = pay - off < n ? pay - off : n;
                memcpy(buf, pk->data, uf);
                buf[ii.nh_pos] = 44;
                uint8_t *fh = buf + uf;
                fh[0] = nh;
                fh[1] = 0;
                wr16(fh + 2, (uint16_t)((off & ~(size_t)7) | ((off + cl < pay) ? 1 : 0)));
                wr32(fh + 4, id);
                memcpy(buf + uf + 8, pk->data + uf + off, cl);
                wr16(buf + 4, (uint16_t)(uf + 8 + cl - 40));
                pkt_t q = pkt_with(pk, buf, uf + 8 + cl);
                pl_push(&out, &q);
            }
        }
        free(pk->data);
    }
    free(buf);
    free(l->v);
    *l = out;
}

/* ---- input ---- */
static int read_input(const char *path, plist_t *l, int *dlt_out) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, err);
    if (!pc) {
        fprintf(stderr, "pcapmut: %s\n", err);
        return -1;
    }
    int dlt = pcap_datalink(pc);
    *dlt_out = dlt;
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc;
    size_t skipped = 0;
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        pkt_t pk;
        memset(&pk, 0, sizeof pk);
        pk.ts_sec = (uint32_t)h->ts.tv_sec;
        pk.ts_usec = (uint32_t)h->ts.tv_usec;
        size_t cap = h->caplen, off = 0;
        pk.extra = h->len > h->caplen ? h->len - h->caplen : 0;
        uint16_t et = 0;
        switch (dlt) {
        case DLT_EN10MB:
            if (cap < 14) goto skip;
            memcpy(pk.dst, d, 6);
            memcpy(pk.src, d + 6, 6);
            et = rd16(d + 12);
            off = 14;
            break;
        case DLT_LINUX_SLL:
            if (cap < 16) goto skip;
            if (rd16(d + 4) == 6) memcpy(pk.src, d + 6, 6);
            et = rd16(d + 14);
            off = 16;
            break;
#ifdef DLT_LINUX_SLL2
        case DLT_LINUX_SLL2:
            if (cap < 20) goto skip;
            if (d[11] == 6) memcpy(pk.src, d + 12, 6);
            et = rd16(d);
            off = 20;
            break;
#endif
        case DLT_NULL:
        case DLT_LOOP: {
            if (cap < 4) goto skip;
            uint32_t fam;
            if (dlt == DLT_LOOP) fam = rd32(d);
            else memcpy(&fam, d, 4);
            if (fam > 0xffff) fam = __builtin_bswap32(fam);
            et = fam == 2 ? 0x0800 : (fam == 24 || fam == 28 || fam == 30 || fam == 10) ? 0x86dd : 0;
            off = 4;
            if (!et) goto skip;
            break;
        }
        case DLT_RAW:
        case 101: /* LINKTYPE_RAW, where DLT_RAW differs */
#ifdef DLT_IPV4
        case DLT_IPV4:
        case DLT_IPV6:
#endif
            if (cap < 1) goto skip;
            et = (d[0] >> 4) == 4 ? 0x0800 : (d[0] >> 4) == 6 ? 0x86dd : 0;
            if (!et) goto skip;
            break;
        case 129: /* DLT_ARCNET_LINUX: src, dst, offset[2], protocol (+ RFC 1201 split flag, seq) */
            if (cap < 5) goto skip;
            et = d[4] == 0xf0 || d[4] == 0xd4 ? 0x0800 : d[4] == 0xc4 ? 0x86dd : 0;
            off = d[4] == 0xf0 ? 5 : 8;
            if (!et) goto skip;
            break;
        default:
            fprintf(stderr, "pcapmut: %s: unsupported link type %d\n", path, dlt);
            pcap_close(pc);
            return -1;
        }
        /* VLAN tags (also inside SLL) */
        while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) && pk.ntags < 2) {
            if (cap < off + 4) goto skip;
            pk.tpid[pk.ntags] = et;
            pk.tci[pk.ntags] = rd16(d + off);
            pk.ntags++;
            et = rd16(d + off + 2);
            off += 4;
        }
        /* PPPoE session: 6-byte header, PPP protocol in 1 byte (compressed) or 2 */
        if (et == 0x8864 && cap >= off + 8) {
            size_t pl = d[off + 6] & 1 ? 1 : 2;
            uint16_t pp = pl == 1 ? d[off + 6] : rd16(d + off + 6);
            if (pp == 0x0021 || pp == 0x0057) {
                et = pp == 0x0021 ? 0x0800 : 0x86dd;
                off += 6 + pl;
            }
        }
        if (off > cap || cap - off > MAX_L3) goto skip;
        pk.ethertype = et;
        pk.len = cap - off;
        pk.data = xmalloc(pk.len);
        memcpy(pk.data, d + off, pk.len);
        /* drop Ethernet padding after an IP datagram */
        if (!pk.extra) {
            ipinfo_t ii;
            if (parse_ip(pk.data, pk.len, et, &ii) == 0 && ii.iplen < pk.len) pk.len = ii.iplen;
        }
        pl_push(l, &pk);
        continue;
    skip:
        skipped++;
    }
    if (rc == -1) fprintf(stderr, "pcapmut: %s: %s (kept what was read)\n", path, pcap_geterr(pc));
    if (skipped) fprintf(stderr, "pcapmut: %s: %zu unparseable frames dropped\n", path, skipped);
    pcap_close(pc);
    return 0;
}

/* ---- output ---- */
enum { L_ETHER, L_SLL, L_SLL2, L_RAW, L_NULL };

static int write_output(const char *path, plist_t *l, int link, int nvlan, const uint16_t *vlan) {
    int dlt = link == L_ETHER ? DLT_EN10MB : link == L_SLL ? DLT_LINUX_SLL
            : link == L_SLL2 ? 276 : link == L_RAW ? DLT_RAW : DLT_NULL;
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(dlt, 262144, PCAP_TSTAMP_PRECISION_MICRO);
    if (!dead) die("pcap_open_dead failed");
    pcap_dumper_t *dp = pcap_dump_open(dead, path);
    if (!dp) {
        fprintf(stderr, "pcapmut: %s: %s\n", path, pcap_geterr(dead));
        pcap_close(dead);
        return -1;
    }
    uint8_t *buf = xmalloc(MAX_L3 + 64);
    size_t dropped = 0;
    uint32_t last_sec = 0, last_usec = 0;
    for (size_t i = 0; i < l->n; i++) {
        pkt_t *pk = &l->v[i];
        size_t o = 0;
        int is_ip = pk->ethertype == 0x0800 || pk->ethertype == 0x86dd;
        switch (link) {
        case L_ETHER: {
            memcpy(buf, pk->dst, 6);
            memcpy(buf + 6, pk->src, 6);
            o = 12;
            int nt = nvlan ? nvlan : pk->ntags;
            for (int t = 0; t < nt; t++) {
                uint16_t tpid = nvlan ? (nvlan == 2 && t == 0 ? 0x88a8 : 0x8100) : pk->tpid[t];
                uint16_t tci = nvlan ? vlan[t] : pk->tci[t];
                wr16(buf + o, tpid);
                wr16(buf + o + 2, tci);
                o += 4;
            }
            wr16(buf + o, pk->ethertype);
            o += 2;
            break;
        }
        case L_SLL:
            wr16(buf, 0);      /* packet sent to us */
            wr16(buf + 2, 1);  /* ARPHRD_ETHER */
            wr16(buf + 4, 6);
            memcpy(buf + 6, pk->src, 6);
            wr16(buf + 12, 0);
            wr16(buf + 14, pk->ethertype);
            o = 16;
            break;
        case L_SLL2:
            wr16(buf, pk->ethertype);
            wr16(buf + 2, 0);
            wr32(buf + 4, 1);  /* ifindex */
            wr16(buf + 8, 1);  /* ARPHRD_ETHER */
            buf[10] = 0;
            buf[11] = 6;
            memcpy(buf + 12, pk->src, 6);
            wr16(buf + 18, 0);
            o = 20;
            break;
        case L_RAW:
            if (!is_ip) { dropped++; continue; }
            break;
        case L_NULL: {
            if (!is_ip) { dropped++; continue; }
            uint32_t fam = pk->ethertype == 0x0800 ? 2 : 24; /* AF_INET, BSD AF_INET6 */
            memcpy(buf, &fam, 4);                            /* host byte order */
            o = 4;
            break;
        }
        }
        if (pk->len > MAX_L3) die("packet too large");
        memcpy(buf + o, pk->data, pk->len);
        /* keep time non-decreasing (duplicates and fragments inherit neighbours' times) */
        uint32_t sec = pk->ts_sec, usec = pk->ts_usec;
        if (sec < last_sec || (sec == last_sec && usec < last_usec)) { sec = last_sec; usec = last_usec; }
        last_sec = sec;
        last_usec = usec;
        struct pcap_pkthdr h;
        h.ts.tv_sec = sec;
        h.ts.tv_usec = usec;
        h.caplen = (bpf_u_int32)(o + pk->len);
        h.len = h.caplen + pk->extra;
        pcap_dump((u_char *)dp, &h, buf);
    }
    free(buf);
    if (dropped) fprintf(stderr, "pcapmut: %zu non-IP packets dropped for this link type\n", dropped);
    int bad = pcap_dump_flush(dp) != 0;
    pcap_dump_close(dp);
    pcap_close(dead);
    if (bad) {
        fprintf(stderr, "pcapmut: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: pcapmut [--split N] [--reorder SEED] [--dup RATE,SEED] [--frag N]\n"
            "               [--vlan ID[,ID2]] [--link ether|sll|sll2|raw|null] IN OUT\n");
    exit(2);
}

static unsigned long parse_num(const char *s, unsigned long max) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end || v > max) usage();
    return v;
}

int main(int argc, char **argv) {
    size_t split = 0, frag = 0;
    int reorder = 0, dup = 0, link = L_ETHER, nvlan = 0;
    uint64_t reorder_seed = 0, dup_seed = 0;
    double dup_rate = 0;
    uint16_t vlan[2] = {0, 0};
    const char *in = NULL, *outp = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-' && i + 1 >= argc) usage();
        if (!strcmp(a, "--split")) {
            split = parse_num(argv[++i], 65535);
            if (!split) usage();
        } else if (!strcmp(a, "--reorder")) {
            reorder = 1;
            reorder_seed = parse_num(argv[++i], ~0UL);
        } else if (!strcmp(a, "--dup")) {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%s", argv[++i]);
            char *comma = strchr(tmp, ',');
            if (!comma) usage();
            *comma = 0;
            char *end;
            dup_rate = strtod(tmp, &end);
            if (*end || dup_rate < 0 || dup_rate > 1) usage();
            dup_seed = parse_num(comma + 1, ~0UL);
            dup = 1;
        } else if (!strcmp(a, "--frag")) {
            frag = parse_num(argv[++i], 65535) & ~(size_t)7;
            if (frag < 8) usage();
        } else if (!strcmp(a, "--vlan")) {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%s", argv[++i]);
            char *comma = strchr(tmp, ',');
            if (comma) *comma = 0;
            vlan[0] = (uint16_t)parse_num(tmp, 4095);
            nvlan = 1;
            if (comma) {
                vlan[1] = (uint16_t)parse_num(comma + 1, 4095);
                nvlan = 2;
            }
        } else if (!strcmp(a, "--link")) {
            const char *v = argv[++i];
            if (!strcmp(v, "ether")) link = L_ETHER;
            else if (!strcmp(v, "sll")) link = L_SLL;
            else if (!strcmp(v, "sll2")) link = L_SLL2;
            else if (!strcmp(v, "raw")) link = L_RAW;
            else if (!strcmp(v, "null")) link = L_NULL;
            else usage();
        } else if (a[0] == '-' && a[1]) {
            usage();
        } else if (!in) {
            in = a;
        } else if (!outp) {
            outp = a;
        } else {
            usage();
        }
    }
    if (!in || !outp) usage();
    if (nvlan && link != L_ETHER) {
        fprintf(stderr, "pcapmut: --vlan needs Ethernet output\n");
        return 2;
    }
    plist_t l = {0};
    int dlt;
    if (read_input(in, &l, &dlt) != 0) return 1;
    if (split) do_split(&l, split);
    if (dup) do_dup(&l, dup_rate, dup_seed);
    if (reorder) do_reorder(&l, reorder_seed);
    if (frag) do_frag(&l, frag);
    int rc = write_output(outp, &l, link, nvlan, vlan);
    pl_free(&l);
    return rc ? 1 : 0;
}
