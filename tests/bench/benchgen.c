/* benchgen - make the large inputs of `make bench` (docs/performance.md) from small real
 * captures: every TCP/UDP flow of the inputs becomes a template, and templates are replayed
 * under fresh 5-tuples (addresses and client port rewritten, sequence numbers shifted,
 * timestamps advanced) with K instances open at once, interleaved packet by packet.
 *
 *   benchgen [-s SEED] [-m MB] [-k OPEN] [-M META] -o OUT.pcap CAPTURE...
 *   benchgen -R SIZE [-r] -o OUT.pcap        the 25-byte-line micro-benchmark input
 *
 *   -s SEED  seed of the pseudo-random choices (default 1): same seed, same bytes
 *   -m MB    stop starting new flows once the output reaches MB MiB (default 200);
 *            the flows still open are then finished, so every replayed flow is whole
 *   -k OPEN  flows open at once (default 4000)
 *   -M META  write "key value" lines: packets, payload_bytes (TCP/UDP payload), flows,
 *            templates, max_open
 *   -R SIZE  readline input: 3 SMTP set-up packets (220, DATA, 354) then 97 client packets
 *            of SIZE bytes (a multiple of 25) of 25-byte lines ("x" * 23 CRLF): 100 packets in
 *            all; the first 25 bytes are "Subject: bench", a blank line and a short line, the
 *            last 25 end with the lone "." that ends the message
 *   -r       with -R: packets 4..99 in reverse order (100 stays last)
 *
 * Output: Ethernet, IPv4 (IPv6 templates are written as IPv4), microsecond pcap, correct IP
 * and TCP/UDP checksums. Each instance i gets client 10.a.b.c (from i) and a client port in
 * 20000..59999 (no decoder's port hint), and a server 192.168.x.y; the server keeps its port.
 * Packets of one flow keep their order and direction; each output packet is 1 us after the
 * previous one. Templates are picked uniformly per input capture group, then per flow, so a
 * mix of many captures is balanced by capture rather than by flow count. FTP data
 * connections and RTP streams are replayed as flows of their own, but the addresses and
 * ports written inside their control flows' payload are not rewritten, so they are not
 * linked to them (no ftp-data / rtp decoder attached by expectation).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *m) {
    fprintf(stderr, "benchgen: %s\n", m);
    exit(1);
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

/* ---- deterministic PRNG (xorshift64*) ------------------------------------ */
static uint64_t rng_state = 1;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 2685821657736338717ULL;
}
static uint32_t rnd_below(uint32_t n) { return (uint32_t)((rnd() >> 32) % n); }

/* ---- templates ----------------------------------------------------------- */
typedef struct {
    uint8_t dir;   /* 0: from the template's client */
    uint8_t *l4;   /* L4 header + payload, owned */
    uint32_t len;  /* bytes in l4 */
} tpkt_t;

typedef struct {
    uint8_t proto; /* 6 or 17 */
    uint16_t sport, dport; /* client, server port as in the capture */
    tpkt_t *p;
    size_t n, cap;
} tmpl_t;

typedef struct {
    tmpl_t *t;
    size_t n, cap;
} group_t;

/* a flow key while reading one capture */
typedef struct {
    uint8_t fam, proto;
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    size_t tmpl; /* index in the group */
} key_t_;

static int be16(const uint8_t *p) { return p[0] << 8 | p[1]; }

/* the L3 start of a frame, or NULL */
static const uint8_t *to_l3(int dlt, const uint8_t *p, uint32_t len, uint32_t *l3len, int *fam) {
    uint32_t off = 0;
    int et = -1;
    switch (dlt) {
    case DLT_EN10MB:
        if (len < 14) return NULL;
        et = be16(p + 12);
        off = 14;
        while ((et == 0x8100 || et == 0x88a8) && len >= off + 4) {
            et = be16(p + off + 2);
            off += 4;
        }
        break;
    case DLT_LINUX_SLL:
        if (len < 16) return NULL;
        et = be16(p + 14);
        off = 16;
        break;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
        if (len < 20) return NULL;
        et = be16(p);
        off = 20;
        break;
#endif
    case DLT_NULL:
    case DLT_LOOP: {
        if (len < 4) return NULL;
        uint32_t af = dlt == DLT_LOOP ? (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]
                                      : (uint32_t)p[3] << 24 | p[2] << 16 | p[1] << 8 | p[0];
        if (af > 0xffff) af = (af >> 24) | ((af >> 8) & 0xff00); /* other byte order */
        et = af == 2 ? 0x0800 : (af == 24 || af == 28 || af == 30) ? 0x86dd : -1;
        off = 4;
        break;
    }
    case DLT_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
        if (len < 1) return NULL;
        et = (p[0] >> 4) == 4 ? 0x0800 : 0x86dd;
        break;
    default: return NULL;
    }
    if (et == 0x0800) *fam = 4;
    else if (et == 0x86dd) *fam = 6;
    else return NULL;
    *l3len = len - off;
    return p + off;
}

static void load_capture(group_t *g, const char *path) {
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, eb);
    if (!pc) {
        fprintf(stderr, "benchgen: %s: %s\n", path, eb);
        exit(1);
    }
    int dlt = pcap_datalink(pc);
    key_t_ *keys = NULL;
    size_t nk = 0, ck = 0;
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        uint32_t l3len;
        int fam;
        const uint8_t *l3 = to_l3(dlt, d, h->caplen, &l3len, &fam);
        if (!l3) continue;
        const uint8_t *src, *dst, *l4;
        uint32_t l4len;
        uint8_t proto;
        if (fam == 4) {
            if (l3len < 20 || (l3[0] >> 4) != 4) continue;
            uint32_t ihl = (l3[0] & 15) * 4u, tot = (uint32_t)be16(l3 + 2);
            if (ihl < 20 || tot < ihl || tot > l3len) continue;
            if (be16(l3 + 6) & 0x3fff) continue; /* fragments are not replayed */
            proto = l3[9];
            src = l3 + 12;
            dst = l3 + 16;
            l4 = l3 + ihl;
            l4len = tot - ihl;
        } else {
            if (l3len < 40 || (l3[0] >> 4) != 6) continue;
            uint32_t pl = (uint32_t)be16(l3 + 4);
            if (40 + pl > l3len) continue;
            proto = l3[6]; /* extension headers: not replayed */
            src = l3 + 8;
            dst = l3 + 24;
            l4 = l3 + 40;
            l4len = pl;
        }
        if (proto == 6) {
            if (l4len < 20 || (l4[12] >> 4) * 4u < 20 || (l4[12] >> 4) * 4u > l4len) continue;
        } else if (proto == 17) {
            if (l4len < 8) continue;
            uint32_t ul = (uint32_t)be16(l4 + 4);
            if (ul >= 8 && ul < l4len) l4len = ul;
        } else
            continue;
        int alen = fam == 4 ? 4 : 16;
        uint16_t sp = (uint16_t)be16(l4), dp = (uint16_t)be16(l4 + 2);
        size_t i;
        int dir = 0;
        for (i = 0; i < nk; i++) {
            key_t_ *k = &keys[i];
            if (k->fam != fam || k->proto != proto) continue;
            if (!memcmp(k->a, src, alen) && !memcmp(k->b, dst, alen) && k->pa == sp && k->pb == dp) {
                dir = 0;
                break;
            }
            if (!memcmp(k->a, dst, alen) && !memcmp(k->b, src, alen) && k->pa == dp && k->pb == sp) {
                dir = 1;
                break;
            }
        }
        if (i == nk) { /* a new flow: the sender of its first packet is the client, except a
                          SYN-ACK first (then the receiver is) */
            if (nk == ck) keys = xrealloc(keys, (ck = ck ? ck * 2 : 64) * sizeof *keys);
            key_t_ *k = &keys[nk++];
            memset(k, 0, sizeof *k);
            k->fam = (uint8_t)fam;
            k->proto = proto;
            int flip = proto == 6 && (l4[13] & 0x12) == 0x12;
            memcpy(k->a, flip ? dst : src, alen);
            memcpy(k->b, flip ? src : dst, alen);
            k->pa = flip ? dp : sp;
            k->pb = flip ? sp : dp;
            dir = flip;
            if (g->n == g->cap) g->t = xrealloc(g->t, (g->cap = g->cap ? g->cap * 2 : 16) * sizeof *g->t);
            tmpl_t *t = &g->t[g->n];
            memset(t, 0, sizeof *t);
            t->proto = proto;
            t->sport = k->pa;
            t->dport = k->pb;
            k->tmpl = g->n++;
        }
        tmpl_t *t = &g->t[keys[i].tmpl];
        if (t->n == t->cap) t->p = xrealloc(t->p, (t->cap = t->cap ? t->cap * 2 : 16) * sizeof *t->p);
        tpkt_t *tp = &t->p[t->n++];
        tp->dir = (uint8_t)dir;
        tp->len = l4len;
        tp->l4 = xrealloc(NULL, l4len);
        memcpy(tp->l4, l4, l4len);
    }
    pcap_close(pc);
    free(keys);
}

/* ---- output -------------------------------------------------------------- */
static FILE *out;
static uint64_t n_packets, n_payload, n_bytes;
static uint64_t now_us = 1700000000ULL * 1000000ULL;

static void put_le32(uint8_t *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static void write_header(void) {
    uint8_t h[24] = {0};
    put_le32(h, 0xa1b2c3d4);
    h[4] = 2; h[6] = 4;
    put_le32(h + 16, 65535);
    put_le32(h + 20, 1); /* Ethernet */
    fwrite(h, 1, 24, out);
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) s += (uint32_t)p[n - 1] << 8;
    return s;
}
static uint16_t csum_fold(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* one Ethernet/IPv4 frame carrying l4 (len bytes, already rewritten but for the checksum) */
static void emit(uint8_t proto, uint32_t saddr, uint32_t daddr, uint8_t *l4, uint32_t len) {
    static uint8_t f[14 + 20 + 65536];
    static uint16_t ipid;
    if (len > 65535 - 20) len = 65535 - 20;
    uint8_t *e = f, *ip = f + 14;
    memset(e, 0, 12);
    e[0] = 0x02; e[5] = 0x02; e[6] = 0x02; e[11] = 0x01;
    e[12] = 0x08; e[13] = 0x00;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    ip[2] = (uint8_t)((len + 20) >> 8); ip[3] = (uint8_t)(len + 20);
    ipid++;
    ip[4] = (uint8_t)(ipid >> 8); ip[5] = (uint8_t)ipid;
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = proto;
    uint32_t s = htonl(saddr), d = htonl(daddr);
    memcpy(ip + 12, &s, 4);
    memcpy(ip + 16, &d, 4);
    uint16_t c = csum_fold(csum_add(0, ip, 20));
    ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
    int co = proto == 6 ? 16 : 6;
    l4[co] = l4[co + 1] = 0;
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0; ph[9] = proto; ph[10] = (uint8_t)(len >> 8); ph[11] = (uint8_t)len;
    c = csum_fold(csum_add(csum_add(0, ph, 12), l4, len));
    if (proto == 17 && c == 0) c = 0xffff;
    l4[co] = (uint8_t)(c >> 8); l4[co + 1] = (uint8_t)c;
    if (proto == 17) { l4[4] = (uint8_t)(len >> 8); l4[5] = (uint8_t)len; }
    memcpy(f + 34, l4, len);
    uint8_t rh[16];
    uint32_t caplen = 34 + len;
    put_le32(rh, (uint32_t)(now_us / 1000000));
    put_le32(rh + 4, (uint32_t)(now_us % 1000000));
    put_le32(rh + 8, caplen);
    put_le32(rh + 12, caplen);
    fwrite(rh, 1, 16, out);
    fwrite(f, 1, caplen, out);
    now_us++;
    n_packets++;
    n_bytes += 16 + caplen;
    n_payload += proto == 6 ? len - (l4[12] >> 4) * 4u : len - 8;
}

/* ---- replay -------------------------------------------------------------- */
typedef struct {
    const tmpl_t *t;
    size_t next;
    uint32_t cli, srv;
    uint16_t cport;
    uint32_t shift[2];
} inst_t;

static uint64_t n_inst;
static uint64_t pending; /* output bytes still to come from the open instances */

static uint64_t tmpl_bytes(const tmpl_t *t) {
    uint64_t b = 0;
    for (size_t i = 0; i < t->n; i++) b += 16 + 34 + t->p[i].len;
    return b;
}

static void inst_start(inst_t *s, const group_t *groups, int ngroups) {
    const group_t *g;
    do g = &groups[rnd_below((uint32_t)ngroups)];
    while (!g->n);
    s->t = &g->t[rnd_below((uint32_t)g->n)];
    s->next = 0;
    pending += tmpl_bytes(s->t);
    uint64_t i = n_inst++;
    s->cli = 0x0a000000u | (uint32_t)((i / 40000) + 1);
    s->cport = (uint16_t)(20000 + i % 40000);
    s->srv = 0xc0a80000u | (rnd_below(65534) + 1);
    s->shift[0] = (uint32_t)rnd();
    s->shift[1] = (uint32_t)rnd();
}

static void inst_step(inst_t *s) {
    static uint8_t buf[65536];
    const tpkt_t *p = &s->t->p[s->next++];
    pending -= 16 + 34 + p->len;
    uint32_t len = p->len > sizeof buf ? sizeof buf : p->len;
    memcpy(buf, p->l4, len);
    uint16_t cp = s->cport, sp = s->t->dport;
    uint16_t src = p->dir ? sp : cp, dst = p->dir ? cp : sp;
    buf[0] = (uint8_t)(src >> 8); buf[1] = (uint8_t)src;
    buf[2] = (uint8_t)(dst >> 8); buf[3] = (uint8_t)dst;
    if (s->t->proto == 6) {
        uint32_t seq = (uint32_t)buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7];
        uint32_t ack = (uint32_t)buf[8] << 24 | buf[9] << 16 | buf[10] << 8 | buf[11];
        seq += s->shift[p->dir];
        if (buf[13] & 0x10) ack += s->shift[!p->dir];
        for (int i = 0; i < 4; i++) {
            buf[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
            buf[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
        }
    }
    emit(s->t->proto, p->dir ? s->srv : s->cli, p->dir ? s->cli : s->srv, buf, len);
}

/* ---- the readline input -------------------------------------------------- */
static void readline_input(uint32_t size, int reverse) {
    static uint8_t buf[20 + 2000];
    uint32_t seq[2] = {1000, 5000};
    const uint32_t cli = 0x0a000001, srv = 0xc0a80001;
    const char *setup[3] = {"220 bench ESMTP\r\n", "DATA\r\n", "354 go ahead\r\n"};
    const int sdir[3] = {1, 0, 1};
    if (size > 2000) size = 2000;
    uint8_t line[25];
    memset(line, 'x', 23);
    line[23] = '\r'; line[24] = '\n';
    int order[100];
    for (int i = 0; i < 100; i++) order[i] = i;
    if (reverse) /* packets 4..99 (1-based) reversed */
        for (int i = 3, j = 98; i < j; i++, j--) { int t = order[i]; order[i] = order[j]; order[j] = t; }
    /* sequence numbers of each data packet, as if sent in order */
    uint32_t dseq[100];
    uint32_t s0 = seq[0] + 6; /* after "DATA\r\n" */
    for (int i = 3; i < 100; i++) dseq[i] = s0 + (uint32_t)(i - 3) * size;
    for (int k = 0; k < 100; k++) {
        int i = order[k];
        memset(buf, 0, 20);
        int dir = i < 3 ? sdir[i] : 0;
        uint16_t sp = dir ? 25 : 40000, dp = dir ? 40000 : 25;
        buf[0] = (uint8_t)(sp >> 8); buf[1] = (uint8_t)sp; buf[2] = (uint8_t)(dp >> 8); buf[3] = (uint8_t)dp;
        uint32_t sq, ak, len;
        if (i < 3) {
            len = (uint32_t)strlen(setup[i]);
            memcpy(buf + 20, setup[i], len);
            sq = seq[dir];
            seq[dir] += len;
        } else {
            len = size;
            for (uint32_t o = 0; o < size; o += 25) memcpy(buf + 20 + o, line, size - o < 25 ? size - o : 25);
            /* the first 25 bytes end the message's header ("Subject", blank line), the last
               25 end the message (a lone "."): the rest is body lines */
            if (i == 3) memcpy(buf + 20, "Subject: bench\r\n\r\nxxxxx\r\n", 25);
            if (i == 99 && size >= 25) memcpy(buf + 20 + size - 25, "xxxxxxxxxxxxxxxxxxxx\r\n.\r\n", 25);
            sq = dseq[i];
        }
        ak = seq[!dir];
        for (int b = 0; b < 4; b++) {
            buf[4 + b] = (uint8_t)(sq >> (24 - 8 * b));
            buf[8 + b] = (uint8_t)(ak >> (24 - 8 * b));
        }
        buf[12] = 0x50;
        buf[13] = 0x18; /* PSH ACK */
        buf[14] = 0xff; buf[15] = 0xff;
        emit(6, dir ? srv : cli, dir ? cli : srv, buf, 20 + len);
    }
}

int main(int argc, char **argv) {
    const char *outp = NULL, *metap = NULL;
    uint64_t seed = 1, mb = 200;
    uint32_t open_max = 4000, rl_size = 0;
    int rl_rev = 0, c;
    while ((c = getopt(argc, argv, "s:m:k:M:o:R:r")) != -1) {
        switch (c) {
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'm': mb = strtoull(optarg, NULL, 10); break;
        case 'k': open_max = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'M': metap = optarg; break;
        case 'o': outp = optarg; break;
        case 'R': rl_size = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'r': rl_rev = 1; break;
        default: return 2;
        }
    }
    if (!outp || (!rl_size && optind >= argc) || !open_max) {
        fprintf(stderr, "usage: benchgen [-s SEED] [-m MB] [-k OPEN] [-M META] -o OUT CAPTURE...\n"
                        "       benchgen -R SIZE [-r] -o OUT\n");
        return 2;
    }
    rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
    if (!rng_state) rng_state = 1;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", outp);
    if (!(out = fopen(tmp, "wb"))) die(strerror(errno));
    static char obuf[1 << 20];
    setvbuf(out, obuf, _IOFBF, sizeof obuf);
    write_header();
    uint64_t templates = 0;
    if (rl_size) {
        readline_input(rl_size, rl_rev);
    } else {
        int ng = argc - optind;
        group_t *groups = calloc((size_t)ng, sizeof *groups);
        if (!groups) die("out of memory");
        for (int i = 0; i < ng; i++) {
            load_capture(&groups[i], argv[optind + i]);
            /* a flow without a packet cannot be (there is always one); drop none */
            templates += groups[i].n;
        }
        if (!templates) die("no TCP or UDP flow in the inputs");
        inst_t *act = calloc(open_max, sizeof *act);
        if (!act) die("out of memory");
        /* stop starting flows once what is written plus what the open flows still
           have to write reaches the limit: the output ends close to MB MiB */
        uint64_t limit = mb << 20;
        uint32_t nact = 0;
        while (nact < open_max && (nact == 0 || pending < limit)) inst_start(&act[nact++], groups, ng);
        open_max = nact; /* reported: flows open at once (fewer than -k for a small -m) */
        while (nact) {
            uint32_t k = rnd_below(nact);
            inst_t *s = &act[k];
            inst_step(s);
            if (s->next == s->t->n) {
                if (n_bytes + pending < limit) inst_start(s, groups, ng);
                else act[k] = act[--nact];
            }
        }
        free(act);
        for (int i = 0; i < ng; i++) {
            for (size_t t = 0; t < groups[i].n; t++) {
                for (size_t k = 0; k < groups[i].t[t].n; k++) free(groups[i].t[t].p[k].l4);
                free(groups[i].t[t].p);
            }
            free(groups[i].t);
        }
        free(groups);
    }
    if (fclose(out)) die(strerror(errno));
    if (rename(tmp, outp)) die(strerror(errno));
    if (metap) {
        FILE *m = fopen(metap, "w");
        if (!m) die(strerror(errno));
        fprintf(m, "packets %llu\npayload_bytes %llu\nfile_bytes %llu\nflows %llu\ntemplates %llu\nmax_open %u\nseed %llu\n",
                (unsigned long long)n_packets, (unsigned long long)n_payload,
                (unsigned long long)(n_bytes + 24), (unsigned long long)(rl_size ? 1 : n_inst),
                (unsigned long long)templates, rl_size ? 1 : open_max, (unsigned long long)seed);
        fclose(m);
    }
    return 0;
}
