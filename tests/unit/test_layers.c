/* test_layers.c - link layers, IPv4/IPv6 parsing and fragment reassembly,
 * on hand-built frames. Every frame is also decoded at every captured length
 * (under ASan in `make test`). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

#define NS NS_PER_SEC

/* ---- an instance with just what the layers use ------------------------------ */

static char last_weird[64], last_detail[512];
static int verbose;

static void on_weird(eng_t *e, const eng_event_t *ev, void *user) {
    size_t n = ev->f[0].len < sizeof last_weird - 1 ? ev->f[0].len : sizeof last_weird - 1;
    memcpy(last_weird, ev->f[0].u.s, n);
    last_weird[n] = 0;
    last_detail[0] = 0;
    if (ev->nfields > 1 && ev->f[1].type == ENG_T_STR) {
        n = ev->f[1].len < sizeof last_detail - 1 ? ev->f[1].len : sizeof last_detail - 1;
        memcpy(last_detail, ev->f[1].u.s, n);
        last_detail[n] = 0;
    }
    if (verbose) fprintf(stderr, "  weird %s: %s\n", last_weird, last_detail);
}

static eng_t *mk_eng(void) {
    eng_t *e = calloc(1, sizeof *e);
    e->cfg.frag_timeout_ns = 30 * NS;
    e->cfg.max_frag_bytes = 64u << 20;
    e->frags = frag_new();
    eng_on(e, ENG_EV_WEIRD, on_weird, NULL);
    last_weird[0] = 0;
    return e;
}

static void free_eng(eng_t *e) {
    frag_free(e->frags);
    for (int i = 0; i < e->nweirds; i++) free(e->weirds[i].name);
    free(e->weirds);
    for (int k = 0; k < ENG_EV_COUNT; k++) free(e->subs[k].v);
    free(e);
}

static uint64_t weird_n(const eng_t *e, const char *name) {
    uint64_t n;
    const char *w;
    for (int i = 0; (w = eng_weird_name(e, i, &n)); i++)
        if (!strcmp(w, name)) return n;
    return 0;
}

/* ---- frame builders ------------------------------------------------------------ */

static const uint8_t A4[4] = {10, 0, 0, 1}, B4[4] = {192, 168, 1, 2};
static const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

/* a TCP-ish transport payload: 20-byte header then text */
static const uint8_t L4[] = "\x04\xd2\x00\x50\x00\x00\x00\x01\x00\x00\x00\x00\x50\x18\xff\xff"
                            "\x00\x00\x00\x00GET / HTTP/1.1\r\n\r\n";
#define L4_LEN (sizeof L4 - 1)

static void be16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static size_t ip4(uint8_t *b, uint8_t proto, uint16_t id, uint16_t fo, const uint8_t *pl, size_t n) {
    memset(b, 0, 20);
    b[0] = 0x45;
    be16(b + 2, (unsigned)(20 + n));
    be16(b + 4, id);
    be16(b + 6, fo);
    b[8] = 64;
    b[9] = proto;
    memcpy(b + 12, A4, 4);
    memcpy(b + 16, B4, 4);
    memcpy(b + 20, pl, n);
    return 20 + n;
}

static size_t ip6(uint8_t *b, uint8_t nh, const uint8_t *pl, size_t n) {
    memset(b, 0, 40);
    b[0] = 0x60;
    be16(b + 4, (unsigned)n);
    b[6] = nh;
    b[7] = 64;
    memcpy(b + 8, A6, 16);
    memcpy(b + 24, B6, 16);
    memcpy(b + 40, pl, n);
    return 40 + n;
}

static size_t eth(uint8_t *b, unsigned type, const uint8_t *in, size_t n) {
    for (int i = 0; i < 12; i++) b[i] = (uint8_t)(0x10 + i);
    be16(b + 12, type);
    memcpy(b + 14, in, n);
    return 14 + n;
}

/* decode and check a TCP packet between A and B with L4 as payload */
static void check_tcp(eng_t *e, int lt, const uint8_t *f, size_t n, int family) {
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, lt, f, (uint32_t)n, (uint32_t)n, &o), 1);
    CHECK_EQ_INT(o.family, family);
    CHECK_EQ_INT(o.proto, 6);
    CHECK_EQ_INT(o.fragmented, 0);
    if (family == 4) {
        CHECK_MEM(o.src, 4, A4, 4);
        CHECK_MEM(o.dst, 4, B4, 4);
    } else {
        CHECK_MEM(o.src, 16, A6, 16);
        CHECK_MEM(o.dst, 16, B6, 16);
    }
    CHECK_MEM(o.l4, o.l4_len, L4, L4_LEN);
    CHECK_EQ_INT(o.l4_wire, L4_LEN);
}

/* every captured length below n: no crash, and either a truncated packet is
 * returned or the frame is reported; with the frame really that short (no
 * snaplen), a weird too */
static void cut_everywhere(int lt, const uint8_t *f, size_t n) {
    for (size_t cap = 0; cap <= n; cap++) {
        eng_t *e = mk_eng();
        uint8_t *copy = malloc(cap ? cap : 1); /* exact size: ASan sees any over-read */
        memcpy(copy, f, cap);
        pkt_t o;
        int r = layers_decode(e, 1, lt, copy, (uint32_t)cap, (uint32_t)n, &o);
        if (cap == n) {
            CHECK_EQ_INT(r, 1);
            CHECK_EQ_INT(e->stats.weirds, 0);
        } else if (r) {
            CHECK(o.l4_len < o.l4_wire);
            CHECK(o.l4 >= copy && o.l4 + o.l4_len <= copy + cap);
            CHECK_EQ_INT(weird_n(e, "truncated_packet"), 1);
            CHECK_EQ_INT(e->stats.truncated, 1);
        } else {
            CHECK_EQ_INT(e->stats.weirds, 1);
            CHECK_EQ_INT(e->stats.truncated, 1);
        }
        /* the same bytes as a whole frame: malformed, never returned short */
        eng_t *e2 = mk_eng();
        r = layers_decode(e2, 1, lt, copy, (uint32_t)cap, (uint32_t)cap, &o);
        if (cap < n) {
            CHECK(r == 0 || o.l4_len == o.l4_wire);
            if (!r) CHECK(e2->stats.weirds >= 1);
        }
        free_eng(e2);
        free(copy);
        free_eng(e);
    }
}

/* ---- link layers --------------------------------------------------------------- */

TEST(ethernet_ipv4) {
    eng_t *e = mk_eng();
    uint8_t ip[200], f[300];
    size_t n = ip4(ip, 6, 1, 0x4000, L4, L4_LEN);
    size_t fn = eth(f, 0x0800, ip, n);
    check_tcp(e, 1, f, fn, 4);
    pkt_t o;
    layers_decode(e, 1, 1, f, (uint32_t)fn, (uint32_t)fn, &o);
    CHECK_EQ_INT(o.has_vlan, 0);
    CHECK_EQ_INT(e->stats.weirds, 0);
    cut_everywhere(1, f, fn);
    free_eng(e);
}

TEST(ethernet_padding) {
    eng_t *e = mk_eng();
    uint8_t ip[100], f[100];
    size_t n = ip4(ip, 6, 1, 0, L4, 20); /* 40-byte datagram in a 60-byte frame */
    memset(f, 0xee, sizeof f);
    eth(f, 0x0800, ip, n);
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 1, f, 60, 60, &o), 1);
    CHECK_EQ_INT(o.l4_len, 20);
    CHECK_EQ_INT(o.l4_wire, 20);
    CHECK_MEM(o.l4, 20, L4, 20);
    CHECK_EQ_INT(e->stats.weirds, 0);
    free_eng(e);
}

TEST(vlan_single) {
    eng_t *e = mk_eng();
    uint8_t ip[200], in[220], f[300];
    size_t n = ip4(ip, 6, 1, 0, L4, L4_LEN);
    be16(in, 0x2000 | 100); /* priority 1, id 100 */
    be16(in + 2, 0x0800);
    memcpy(in + 4, ip, n);
    size_t fn = eth(f, 0x8100, in, n + 4);
    check_tcp(e, 1, f, fn, 4);
    pkt_t o;
    layers_decode(e, 1, 1, f, (uint32_t)fn, (uint32_t)fn, &o);
    CHECK_EQ_INT(o.has_vlan, 1);
    CHECK_EQ_INT(o.vlan, 100);
    cut_everywhere(1, f, fn);
    free_eng(e);
}

TEST(vlan_qinq) {
    eng_t *e = mk_eng();
    uint8_t ip[200], in[220], f[300];
    size_t n = ip6(ip, 6, L4, L4_LEN);
    be16(in, 0xe000 | 3000); /* outer: 802.1ad id 3000 */
    be16(in + 2, 0x8100);
    be16(in + 4, 42); /* inner: 802.1Q id 42 */
    be16(in + 6, 0x86dd);
    memcpy(in + 8, ip, n);
    size_t fn = eth(f, 0x88a8, in, n + 8);
    check_tcp(e, 1, f, fn, 6);
    pkt_t o;
    layers_decode(e, 1, 1, f, (uint32_t)fn, (uint32_t)fn, &o);
    CHECK_EQ_INT(o.has_vlan, 1);
    CHECK_EQ_INT(o.vlan, 3000);
    cut_everywhere(1, f, fn);
    free_eng(e);
}

TEST(vlan_too_deep) {
    eng_t *e = mk_eng();
    uint8_t f[200];
    size_t fn = eth(f, 0x9100, (const uint8_t *)"", 0);
    for (int i = 0; i < 12; i++) { /* 12 tags */
        be16(f + fn, 7);
        be16(f + fn + 2, 0x8100);
        fn += 4;
    }
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 1, f, (uint32_t)fn, (uint32_t)fn, &o), 0);
    CHECK_EQ_INT(weird_n(e, "too_many_vlan_tags"), 1);
    CHECK_EQ_INT(e->stats.ip_errors, 1);
    free_eng(e);
}

TEST(non_ip_silent) {
    eng_t *e = mk_eng();
    uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1}, f[100];
    size_t fn = eth(f, 0x0806, arp, sizeof arp);
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 1, f, (uint32_t)fn, (uint32_t)fn, &o), 0);
    fn = eth(f, 0x88cc, arp, sizeof arp); /* LLDP */
    CHECK_EQ_INT(layers_decode(e, 1, 1, f, (uint32_t)fn, (uint32_t)fn, &o), 0);
    uint8_t llc[46] = {0x42, 0x42, 0x03};  /* 802.3 length frame (STP) */
    fn = eth(f, sizeof llc, llc, sizeof llc);
    CHECK_EQ_INT(layers_decode(e, 1, 1, f, (uint32_t)fn, (uint32_t)fn, &o), 0);
    CHECK_EQ_INT(e->stats.non_ip, 3);
    CHECK_EQ_INT(e->stats.weirds, 0);
    CHECK_EQ_INT(e->stats.ip_errors, 0);
    free_eng(e);
}

TEST(sll_and_sll2) {
    eng_t *e = mk_eng();
    uint8_t ip[200], f[300];
    size_t n = ip4(ip, 6, 1, 0, L4, L4_LEN);
    memset(f, 0, 16);
    f[1] = 4;           /* sent by us */
    be16(f + 2, 1);     /* ARPHRD_ETHER */
    be16(f + 4, 6);
    be16(f + 14, 0x0800);
    memcpy(f + 16, ip, n);
    check_tcp(e, 113, f, 16 + n, 4);
    cut_everywhere(113, f, 16 + n);

    n = ip6(ip, 6, L4, L4_LEN);
    memset(f, 0, 20);
    be16(f, 0x86dd);
    f[7] = 2;           /* interface index */
    be16(f + 8, 1);
    f[11] = 6;
    memcpy(f + 20, ip, n);
    check_tcp(e, 276, f, 20 + n, 6);
    cut_everywhere(276, f, 20 + n);
    free_eng(e);
}

TEST(raw_ip) {
    eng_t *e = mk_eng();
    uint8_t ip4f[200], ip6f[200];
    size_t n4 = ip4(ip4f, 6, 1, 0, L4, L4_LEN), n6 = ip6(ip6f, 6, L4, L4_LEN);
    int raws[] = {12, 14, 101};
    for (int i = 0; i < 3; i++) {
        check_tcp(e, raws[i], ip4f, n4, 4);
        check_tcp(e, raws[i], ip6f, n6, 6);
    }
    check_tcp(e, 228, ip4f, n4, 4);
    check_tcp(e, 229, ip6f, n6, 6);
    CHECK_EQ_INT(e->stats.weirds, 0);
    /* the DLT says IPv4, the packet IPv6 */
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 228, ip6f, (uint32_t)n6, (uint32_t)n6, &o), 0);
    CHECK_EQ_INT(weird_n(e, "bad_ip_version"), 1);
    uint8_t junk[40] = {0x50};
    CHECK_EQ_INT(layers_decode(e, 1, 101, junk, 40, 40, &o), 0);
    CHECK_EQ_INT(weird_n(e, "bad_ip_version"), 2);
    CHECK_EQ_INT(e->stats.ip_errors, 2);
    cut_everywhere(101, ip4f, n4);
    cut_everywhere(101, ip6f, n6);
    free_eng(e);
}

TEST(null_and_loop) {
    eng_t *e = mk_eng();
    uint8_t f[300];
    size_t n4 = ip4(f + 4, 6, 1, 0, L4, L4_LEN);
    memcpy(f, "\x02\x00\x00\x00", 4); /* AF_INET, little-endian host */
    check_tcp(e, 0, f, 4 + n4, 4);
    memcpy(f, "\x00\x00\x00\x02", 4); /* AF_INET, big-endian host */
    check_tcp(e, 0, f, 4 + n4, 4);
    cut_everywhere(0, f, 4 + n4);
    check_tcp(e, 108, f, 4 + n4, 4); /* loop: network order */

    size_t n6 = ip6(f + 4, 6, L4, L4_LEN);
    const char *fams[] = {"\x18\x00\x00\x00", "\x1c\x00\x00\x00", "\x1e\x00\x00\x00"};
    for (int i = 0; i < 3; i++) {
        memcpy(f, fams[i], 4);
        check_tcp(e, 0, f, 4 + n6, 6);
    }
    memcpy(f, "\x00\x00\x00\x18", 4);
    check_tcp(e, 108, f, 4 + n6, 6);
    cut_everywhere(108, f, 4 + n6);
    memcpy(f, "\x07\x00\x00\x00", 4); /* some other family */
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 0, f, (uint32_t)(4 + n6), (uint32_t)(4 + n6), &o), 0);
    CHECK_EQ_INT(e->stats.non_ip, 1);
    CHECK_EQ_INT(e->stats.weirds, 0);
    free_eng(e);
}

TEST(pppoe_mpls) {
    eng_t *e = mk_eng();
    uint8_t ip[200], in[220], f[300];
    size_t n = ip4(ip, 6, 1, 0, L4, L4_LEN);
    in[0] = 0x11; in[1] = 0;
    be16(in + 2, 0x1234);
    be16(in + 4, (unsigned)(n + 2));
    be16(in + 6, 0x0021);
    memcpy(in + 8, ip, n);
    size_t fn = eth(f, 0x8864, in, n + 8);
    check_tcp(e, 1, f, fn, 4);
    cut_everywhere(1, f, fn);

    n = ip6(ip, 6, L4, L4_LEN);
    memcpy(in, "\x00\x01\x00\x40\x00\x02\x01\x40", 8); /* two labels, the second bottom */
    memcpy(in + 8, ip, n);
    fn = eth(f, 0x8847, in, n + 8);
    check_tcp(e, 1, f, fn, 6);
    cut_everywhere(1, f, fn);
    free_eng(e);
}

/* PPPoE with protocol field compression (RFC 1661 6.5): a one-byte 0x21 is IPv4,
 * 0x57 IPv6 (suricata-verify's pppoe-session-http.pcap sends them so); an LCP
 * frame (0xc021) is not IP and fires no weird */
TEST(pppoe_compressed_protocol) {
    eng_t *e = mk_eng();
    uint8_t ip[200], in[220], f[300];
    size_t n = ip4(ip, 6, 1, 0, L4, L4_LEN);
    in[0] = 0x11; in[1] = 0;
    be16(in + 2, 0x002d);
    be16(in + 4, (unsigned)(n + 1));
    in[6] = 0x21;
    memcpy(in + 7, ip, n);
    size_t fn = eth(f, 0x8864, in, n + 7);
    check_tcp(e, 1, f, fn, 4);
    cut_everywhere(1, f, fn);

    n = ip6(ip, 6, L4, L4_LEN);
    in[6] = 0x57;
    be16(in + 4, (unsigned)(n + 1));
    memcpy(in + 7, ip, n);
    fn = eth(f, 0x8864, in, n + 7);
    check_tcp(e, 1, f, fn, 6);
    cut_everywhere(1, f, fn);

    be16(in + 6, 0xc021);
    fn = eth(f, 0x8864, in, 20);
    pkt_t o;
    uint64_t non_ip = e->stats.non_ip;
    CHECK_EQ_INT(layers_decode(e, 1, 1, f, (uint32_t)fn, (uint32_t)fn, &o), 0);
    CHECK_EQ_INT(e->stats.non_ip, non_ip + 1);
    CHECK_EQ_INT(e->stats.weirds, 0);
    free_eng(e);
}

/* Linux ARCnet (link type 129): RFC 1051 IP (0xf0) has a 5-byte header, RFC 1201
 * IP (0xd4) and IPv6 (0xc4) an 8-byte one; ARP (0xf1) is not IP */
TEST(arcnet_linux) {
    eng_t *e = mk_eng();
    uint8_t ip[200], f[300];
    size_t n = ip4(ip, 6, 1, 0, L4, L4_LEN);
    memcpy(f, "\xbe\x50\xab\x08\xf0", 5);
    memcpy(f + 5, ip, n);
    check_tcp(e, 129, f, n + 5, 4);
    cut_everywhere(129, f, n + 5);

    memcpy(f, "\xbe\x50\x00\x00\xd4\x00\x00\x07", 8);
    memcpy(f + 8, ip, n);
    check_tcp(e, 129, f, n + 8, 4);
    cut_everywhere(129, f, n + 8);

    n = ip6(ip, 6, L4, L4_LEN);
    f[4] = 0xc4;
    memcpy(f + 8, ip, n);
    check_tcp(e, 129, f, n + 8, 6);
    cut_everywhere(129, f, n + 8);

    memcpy(f, "\xbe\x00\xed\x08\xf1\x00\x07\x08\x00\x01\x04\x00\x01\xbe", 14);
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 129, f, 14, 14, &o), 0);
    CHECK_EQ_INT(e->stats.non_ip, 1);
    CHECK_EQ_INT(e->stats.weirds, 0);
    free_eng(e);
}

/* PPP (9) with and without address/control bytes and with a compressed
 * protocol; PPP in HDLC framing (50), also carrying Cisco HDLC; Cisco HDLC
 * (104); Linux NFLOG (239): the IP packet in the NFULA_PAYLOAD TLV */
TEST(ppp_hdlc_nflog) {
    eng_t *e = mk_eng();
    uint8_t ip[200], f[300];
    size_t n = ip4(ip, 6, 1, 0, L4, L4_LEN);
    memcpy(f, "\xff\x03\x00\x21", 4);
    memcpy(f + 4, ip, n);
    check_tcp(e, 9, f, n + 4, 4);
    cut_everywhere(9, f, n + 4);
    check_tcp(e, 50, f, n + 4, 4);
    f[2] = 0x21; /* no address/control, one-byte protocol */
    memcpy(f + 3, ip, n);
    check_tcp(e, 9, f + 2, n + 1, 4);
    memcpy(f, "\x0f\x00\x08\x00", 4);
    memcpy(f + 4, ip, n);
    check_tcp(e, 50, f, n + 4, 4);
    check_tcp(e, 104, f, n + 4, 4);
    cut_everywhere(104, f, n + 4);
    n = ip6(ip, 6, L4, L4_LEN);
    memcpy(f, "\xff\x03\x00\x57", 4);
    memcpy(f + 4, ip, n);
    check_tcp(e, 9, f, n + 4, 6);

    /* NFLOG: AF_INET, version 0, resource 0; a prefix TLV (type 10, 6 bytes, padded to 8),
     * then the payload TLV (type 9) */
    n = ip4(ip, 6, 1, 0, L4, L4_LEN);
    memcpy(f, "\x02\x00\x00\x00" "\x06\x00\x0a\x00" "ab\0\0", 12);
    f[12] = (uint8_t)(n + 4); f[13] = (uint8_t)((n + 4) >> 8); f[14] = 9; f[15] = 0;
    memcpy(f + 16, ip, n);
    check_tcp(e, 239, f, n + 16, 4);
    cut_everywhere(239, f, n + 16);
    pkt_t o;
    f[12] = 0xff; f[13] = 0x7f; /* a TLV longer than the frame */
    CHECK_EQ_INT(layers_decode(e, 1, 239, f, (uint32_t)(n + 16), (uint32_t)(n + 16), &o), 0);
    CHECK_EQ_INT(weird_n(e, "truncated_header"), 1);
    free_eng(e);
}

TEST(unknown_link) {
    eng_t *e = mk_eng();
    uint8_t f[40] = {0};
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 9999, f, 40, 40, &o), 0);
    CHECK_EQ_INT(layers_decode(e, 1, 9999, f, 40, 40, &o), 0);
    /* counted, not a weird a packet: one weird with the count when the run ends */
    CHECK_EQ_INT(weird_n(e, "unsupported_link_type"), 0);
    int lt[4];
    uint64_t np[4];
    CHECK_EQ_INT(eng_unsupported_links(e, lt, np, 4), 1);
    CHECK_EQ_INT(lt[0], 9999);
    CHECK_EQ_INT(np[0], 2);
    eng_finish(e);
    CHECK_EQ_INT(weird_n(e, "unsupported_link_type"), 1);
    CHECK_EQ_INT(layers_decode(e, 1, 1, NULL, 0, 0, &o), 0);
    CHECK_EQ_INT(weird_n(e, "truncated_header"), 1);
    free_eng(e);
}

/* ---- IPv4 ------------------------------------------------------------------------ */

TEST(ipv4_options_and_errors) {
    eng_t *e = mk_eng();
    uint8_t b[200];
    /* 8 bytes of options */
    memset(b, 0, 28);
    b[0] = 0x47;
    be16(b + 2, (unsigned)(28 + L4_LEN));
    b[9] = 17;
    memcpy(b + 12, A4, 4);
    memcpy(b + 16, B4, 4);
    memset(b + 20, 1, 8); /* NOPs */
    memcpy(b + 28, L4, L4_LEN);
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 12, b, (uint32_t)(28 + L4_LEN), (uint32_t)(28 + L4_LEN), &o), 1);
    CHECK_EQ_INT(o.proto, 17);
    CHECK_MEM(o.l4, o.l4_len, L4, L4_LEN);
    cut_everywhere(12, b, 28 + L4_LEN);

    size_t n = ip4(b, 6, 1, 0, L4, L4_LEN);
    b[0] = 0x44; /* IHL 4 */
    CHECK_EQ_INT(layers_decode(e, 1, 12, b, (uint32_t)n, (uint32_t)n, &o), 0);
    CHECK_EQ_INT(weird_n(e, "bad_ip_header_length"), 1);
    b[0] = 0x45;
    be16(b + 2, 10); /* total length < header */
    CHECK_EQ_INT(layers_decode(e, 1, 12, b, (uint32_t)n, (uint32_t)n, &o), 0);
    CHECK_EQ_INT(weird_n(e, "bad_ip_length"), 1);
    be16(b + 2, (unsigned)n + 10); /* longer than a frame that was not cut */
    CHECK_EQ_INT(layers_decode(e, 1, 12, b, (uint32_t)n, (uint32_t)n, &o), 0);
    CHECK_EQ_INT(weird_n(e, "bad_ip_length"), 2);
    CHECK_EQ_INT(e->stats.ip_errors, 3);
    /* the same, cut by the snaplen: goes on, truncated */
    CHECK_EQ_INT(layers_decode(e, 1, 12, b, (uint32_t)n, (uint32_t)n + 10, &o), 1);
    CHECK_EQ_INT(o.l4_len, L4_LEN);
    CHECK_EQ_INT(o.l4_wire, L4_LEN + 10);
    CHECK_EQ_INT(weird_n(e, "truncated_packet"), 1);
    CHECK_EQ_INT(e->stats.truncated, 1);
    /* total length 0 (segmentation offload) */
    be16(b + 2, 0);
    CHECK_EQ_INT(layers_decode(e, 1, 12, b, (uint32_t)n, (uint32_t)n, &o), 1);
    CHECK_MEM(o.l4, o.l4_len, L4, L4_LEN);
    CHECK_EQ_INT(weird_n(e, "ip_total_length_zero"), 1);
    free_eng(e);
}

/* ---- IPv6 ------------------------------------------------------------------------ */

TEST(ipv6_ext_headers) {
    eng_t *e = mk_eng();
    uint8_t pl[200], b[300];
    /* hop-by-hop (8 bytes) -> destination options (16 bytes) -> TCP */
    memset(pl, 0, 24);
    pl[0] = 60; pl[1] = 0; pl[2] = 1; pl[3] = 4; /* PadN */
    pl[8] = 6; pl[9] = 1; pl[10] = 1; pl[11] = 12;
    memcpy(pl + 24, L4, L4_LEN);
    size_t n = ip6(b, 0, pl, 24 + L4_LEN);
    pkt_t o;
    CHECK_EQ_INT(layers_decode(e, 1, 229, b, (uint32_t)n, (uint32_t)n, &o), 1);
    CHECK_EQ_INT(o.proto, 6);
    CHECK_MEM(o.l4, o.l4_len, L4, L4_LEN);
    CHECK_EQ_INT(o.l4_wire, L4_LEN);
    CHECK_EQ_INT(e->stats.weirds, 0);
    cut_everywhere(229, b, n);

    /* routing + AH (len 4 -> 24 bytes) -> UDP */
    memset(pl, 0, 32);
    pl[0] = 51; pl[1] = 0; pl[2] = 0; pl[3] = 0;
    pl[8] = 17; pl[9] = 4;
    memcpy(pl + 32, L4, L4_LEN);
    n = ip6(b, 43, pl, 32 + L4_LEN);
    CHECK_EQ_INT(layers_decode(e, 1, 229, b, (uint32_t)n, (uint32_t)n, &o), 1);
    CHECK_EQ_INT(o.proto, 17);
    CHECK_MEM(o.l4, o.l4_len, L4, L4_LEN);

    /* ESP ends the walk */
    pl[0] = 50;
    n = ip6(b, 43, pl, 32 + L4_LEN);
    CHECK_EQ_INT(layers_decode(e, 1, 229, b, (uint32_t)n, (uint32_t)n, &o), 1);
    CHECK_EQ_INT(o.proto, 50);
    CHECK_EQ_INT(o.l4_len, 32 + L4_LEN - 8);
    /* no next header with an empty payload */
    n = ip6(b, 59, pl, 0);
    CHECK_EQ_INT(layers_decode(e, 1, 229, b, (uint32_t)n, (uint32_t)n, &o), 1);
    CHECK_EQ_INT(o.proto, 59);
    CHECK_EQ_INT(o.l4_len, 0);
    CHECK_EQ_INT(e->stats.weirds, 0);

    /* jumbogram */
    n = ip6(b, 0, pl, 0);
    CHECK_EQ_INT(layers_decode(e, 1, 229, b, 60, 60, &o), 0);
    CHECK_EQ_INT(weird_n(e, "ipv6_jumbogram"), 1);
    /* an extension header longer than the payload */
    memset(pl, 0, 16);
    pl[0] = 6; pl[1] = 5;
    n = ip6(b, 60, pl, 16);
    CHECK_EQ_INT(layers_decode(e, 1, 229, b, (uint32_t)n, (uint32_t)n, &o), 0);
    CHECK_EQ_INT(weird_n(e, "bad_ipv6_ext_header"), 1);
    /* a long chain */
    memset(pl, 0, 160);
    for (int i = 0; i < 20; i++) pl[i * 8] = 60;
    n = ip6(b, 60, pl, 160);
    CHECK_EQ_INT(layers_decode(e, 1, 229, b, (uint32_t)n, (uint32_t)n, &o), 0);
    CHECK_EQ_INT(weird_n(e, "too_many_ipv6_ext_headers"), 1);
    CHECK_EQ_INT(e->stats.ip_errors, 3);
    free_eng(e);
}

/* ---- fragments ------------------------------------------------------------------- */

static uint8_t DG[3000]; /* a datagram's transport bytes */

static void fill_dg(void) {
    for (size_t i = 0; i < sizeof DG; i++) DG[i] = (uint8_t)(i * 7 + i / 251);
}

/* offer an IPv4 fragment of DG[off, off+len) */
static int frag4(eng_t *e, int64_t ts, uint16_t id, uint32_t off, uint32_t len, int mf, pkt_t *o) {
    uint8_t b[1600];
    size_t n = ip4(b, 17, id, (uint16_t)((mf ? 0x2000 : 0) | off / 8), DG + off, len);
    return layers_decode(e, ts, 12, b, (uint32_t)n, (uint32_t)n, o);
}

static void check_dg(const pkt_t *o, uint32_t len) {
    CHECK_EQ_INT(o->family, 4);
    CHECK_EQ_INT(o->proto, 17);
    CHECK_EQ_INT(o->fragmented, 1);
    CHECK_MEM(o->src, 4, A4, 4);
    CHECK_MEM(o->dst, 4, B4, 4);
    CHECK_MEM(o->l4, o->l4_len, DG, len);
    CHECK_EQ_INT(o->l4_wire, len);
}

TEST(frag4_in_order_and_reversed) {
    fill_dg();
    eng_t *e = mk_eng();
    pkt_t o;
    CHECK_EQ_INT(frag4(e, 1, 7, 0, 1480, 1, &o), 0);
    CHECK(e->stats.frag_buffered > 0);
    CHECK_EQ_INT(frag4(e, 2, 7, 1480, 1480, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 3, 7, 2960, 40, 0, &o), 1);
    check_dg(&o, 3000);
    CHECK_EQ_INT(e->stats.frags, 3);
    CHECK_EQ_INT(e->stats.frags_reassembled, 1);
    CHECK_EQ_INT(e->stats.frag_buffered, 0);

    CHECK_EQ_INT(frag4(e, 4, 8, 2960, 40, 0, &o), 0);
    CHECK_EQ_INT(frag4(e, 5, 8, 1480, 1480, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 6, 8, 0, 1480, 1, &o), 1);
    check_dg(&o, 3000);

    /* middle first, tiny first fragment (8 bytes: half a TCP header) */
    CHECK_EQ_INT(frag4(e, 7, 9, 8, 1000, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 7, 9, 1008, 992, 0, &o), 0);
    CHECK_EQ_INT(frag4(e, 7, 9, 0, 8, 1, &o), 1);
    check_dg(&o, 2000);
    CHECK_EQ_INT(e->stats.frags_reassembled, 3);
    CHECK_EQ_INT(e->stats.weirds, 0);
    CHECK_EQ_INT(e->stats.frag_buffered, 0);

    /* interleaved datagrams with different ids */
    CHECK_EQ_INT(frag4(e, 8, 10, 0, 16, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 8, 11, 16, 16, 0, &o), 0);
    CHECK_EQ_INT(frag4(e, 8, 11, 0, 16, 1, &o), 1);
    check_dg(&o, 32);
    CHECK_EQ_INT(frag4(e, 8, 10, 16, 8, 0, &o), 1);
    check_dg(&o, 24);
    free_eng(e);
}

TEST(frag4_overlap) {
    fill_dg();
    eng_t *e = mk_eng();
    pkt_t o;
    /* the same bytes again over a part */
    CHECK_EQ_INT(frag4(e, 1, 1, 0, 64, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 1, 1, 32, 64, 1, &o), 0);
    CHECK_EQ_INT(e->stats.frags_overlapping, 1);
    CHECK_EQ_INT(weird_n(e, "fragment_overlap"), 1);
    CHECK_EQ_INT(frag4(e, 1, 1, 96, 100, 0, &o), 1);
    check_dg(&o, 196);

    /* different bytes: the first ones are kept */
    CHECK_EQ_INT(frag4(e, 2, 2, 0, 64, 1, &o), 0);
    uint8_t b[200], alt[64];
    memset(alt, 0xaa, sizeof alt);
    size_t n = ip4(b, 17, 2, 0x2000 | 32 / 8, alt, 64); /* bytes 32..96, differing */
    CHECK_EQ_INT(layers_decode(e, 2, 12, b, (uint32_t)n, (uint32_t)n, &o), 0);
    CHECK_EQ_INT(weird_n(e, "fragment_overlap_conflict"), 1);
    CHECK_EQ_INT(e->stats.frags_overlapping, 2);
    CHECK_EQ_INT(frag4(e, 2, 2, 96, 8, 0, &o), 1);
    CHECK_EQ_INT(o.l4_len, 104);
    CHECK_MEM(o.l4, 64, DG, 64);            /* first wins */
    CHECK_MEM(o.l4 + 64, 32, alt + 32, 32); /* the new part fills the hole */
    CHECK_MEM(o.l4 + 96, 8, DG + 96, 8);

    /* a fragment that spans two held ranges and the hole between */
    CHECK_EQ_INT(frag4(e, 3, 3, 0, 16, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 3, 3, 32, 16, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 3, 3, 8, 48, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 3, 3, 56, 8, 0, &o), 1);
    check_dg(&o, 64);
    CHECK_EQ_INT(e->stats.frags_overlapping, 3);
    free_eng(e);
}

TEST(frag4_duplicate_and_errors) {
    fill_dg();
    eng_t *e = mk_eng();
    pkt_t o;
    CHECK_EQ_INT(frag4(e, 1, 1, 0, 800, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 1, 1, 0, 800, 1, &o), 0);
    CHECK_EQ_INT(weird_n(e, "fragment_overlap"), 1);
    CHECK_EQ_INT(frag4(e, 1, 1, 800, 200, 0, &o), 1);
    check_dg(&o, 1000);
    /* the last fragment again after completion: a new set that never completes */
    CHECK_EQ_INT(frag4(e, 1, 1, 800, 200, 0, &o), 0);

    /* not a fragment: offset 0, MF 0 */
    CHECK_EQ_INT(frag4(e, 1, 2, 0, 100, 0, &o), 1);
    CHECK_EQ_INT(o.fragmented, 0);
    CHECK_MEM(o.l4, o.l4_len, DG, 100);

    /* a fragment with more to follow, not a multiple of 8 */
    CHECK_EQ_INT(frag4(e, 1, 3, 0, 100, 1, &o), 0);
    CHECK_EQ_INT(weird_n(e, "bad_fragment_size"), 1);
    /* past 65535 bytes */
    uint8_t b[100];
    size_t n = ip4(b, 17, 4, 0x1fff, DG, 16);
    CHECK_EQ_INT(layers_decode(e, 1, 12, b, (uint32_t)n, (uint32_t)n, &o), 0);
    CHECK_EQ_INT(weird_n(e, "fragment_too_large"), 1);
    /* two different ends */
    CHECK_EQ_INT(frag4(e, 1, 5, 80, 16, 0, &o), 0);
    CHECK_EQ_INT(frag4(e, 1, 5, 80, 24, 0, &o), 0);
    CHECK_EQ_INT(frag4(e, 1, 5, 96, 16, 1, &o), 0);
    CHECK_EQ_INT(weird_n(e, "fragment_inconsistency"), 2);
    CHECK_EQ_INT(frag4(e, 1, 5, 0, 80, 1, &o), 1);
    check_dg(&o, 96);
    CHECK_EQ_INT(e->stats.ip_errors, 4);
    /* a fragment cut by the snaplen cannot be used */
    n = ip4(b, 17, 6, 0x2000, DG, 64);
    CHECK_EQ_INT(layers_decode(e, 1, 12, b, 60, (uint32_t)n, &o), 0);
    CHECK_EQ_INT(weird_n(e, "truncated_packet"), 1);
    /* too many fragments for one set */
    int r = 0;
    for (int i = 0; i < 16385; i++) r |= frag4(e, 1, 7, 0, 8, 1, &o);
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(weird_n(e, "too_many_fragments"), 1);
    /* many holes are no limit: 100 of them, then filled */
    for (int i = 0; i < 100; i++) r |= frag4(e, 1, 8, (uint32_t)i * 16, 8, 1, &o);
    CHECK_EQ_INT(r, 0);
    for (int i = 0; i < 99; i++) r |= frag4(e, 1, 8, (uint32_t)i * 16 + 8, 8, 1, &o);
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(frag4(e, 1, 8, 1592, 8, 0, &o), 1);
    check_dg(&o, 1600);
    CHECK_EQ_INT(weird_n(e, "too_many_fragments"), 1);
    free_eng(e);
}

/* fragroute-style 8-byte fragments: 375 of them make the 3000-byte datagram
 * (a 64 KiB one takes 8192: the count is no bound below that), also reversed */
TEST(frag4_eight_byte_fragments) {
    fill_dg();
    eng_t *e = mk_eng();
    pkt_t o;
    int done = 0;
    for (uint32_t off = 0; off < 3000; off += 8)
        done += frag4(e, 1, 21, off, 8, off + 8 < 3000, &o);
    CHECK_EQ_INT(done, 1);
    if (done) check_dg(&o, 3000);
    done = 0;
    for (int i = 374; i >= 0; i--)
        done += frag4(e, 2, 22, (uint32_t)i * 8, 8, i != 374, &o);
    CHECK_EQ_INT(done, 1);
    if (done) check_dg(&o, 3000);
    CHECK_EQ_INT(weird_n(e, "too_many_fragments"), 0);
    free_eng(e);
}

TEST(frag4_timeout) {
    fill_dg();
    eng_t *e = mk_eng();
    pkt_t o;
    CHECK_EQ_INT(frag4(e, 1 * NS, 1, 0, 800, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 20 * NS, 2, 0, 800, 1, &o), 0);
    frag_expire(e, 30 * NS);
    CHECK_EQ_INT(e->stats.frags_timed_out, 0);
    frag_expire(e, 32 * NS);
    CHECK_EQ_INT(e->stats.frags_timed_out, 1);
    CHECK_EQ_INT(weird_n(e, "frag_timeout"), 1);
    CHECK(strstr(last_detail, "10.0.0.1") != NULL);
    /* the rest of id 1 comes too late; id 2 still completes */
    CHECK_EQ_INT(frag4(e, 33 * NS, 1, 800, 200, 0, &o), 0);
    CHECK_EQ_INT(frag4(e, 33 * NS, 2, 800, 200, 0, &o), 1);
    check_dg(&o, 1000);
    /* expiry also happens when fragments arrive */
    CHECK_EQ_INT(frag4(e, 100 * NS, 3, 0, 8, 1, &o), 0);
    CHECK_EQ_INT(e->stats.frags_timed_out, 2);
    frag_expire(e, 200 * NS);
    CHECK_EQ_INT(e->stats.frags_timed_out, 3);
    CHECK_EQ_INT(e->stats.frag_buffered, 0);
    free_eng(e);
}

TEST(frag4_buffer_cap) {
    fill_dg();
    eng_t *e = mk_eng();
    e->cfg.max_frag_bytes = 6000;
    pkt_t o;
    CHECK_EQ_INT(frag4(e, 1, 1, 0, 1480, 1, &o), 0);
    CHECK(e->stats.frag_buffered <= 6000);
    CHECK_EQ_INT(frag4(e, 2, 2, 0, 1480, 1, &o), 0);
    CHECK(e->stats.frag_buffered <= 6000);
    CHECK_EQ_INT(frag4(e, 3, 2, 1480, 1480, 1, &o), 0); /* grows id 2: id 1 goes */
    CHECK(e->stats.frag_buffered <= 6000);
    CHECK_EQ_INT(weird_n(e, "frag_buffer_full"), 1);
    CHECK_EQ_INT(frag4(e, 4, 2, 2960, 40, 0, &o), 1);
    check_dg(&o, 3000);
    CHECK_EQ_INT(frag4(e, 5, 1, 1480, 1480, 0, &o), 0); /* id 1 lost its first part */
    CHECK(e->stats.frag_buffered <= 6000);
    /* a datagram bigger than the cap on its own */
    e->cfg.max_frag_bytes = 2000;
    CHECK_EQ_INT(frag4(e, 6, 3, 0, 1480, 1, &o), 0);
    CHECK_EQ_INT(frag4(e, 6, 3, 1480, 1480, 0, &o), 0);
    CHECK(e->stats.frag_buffered <= 2000);
    CHECK(weird_n(e, "frag_buffer_full") >= 2);
    free_eng(e);
}

/* IPv6: fragment header after a hop-by-hop header; the fragmentable part
 * starts with destination options */
static int frag6(eng_t *e, uint32_t id, const uint8_t *part, uint32_t off, uint32_t len, int m,
                 uint8_t nh, pkt_t *o) {
    uint8_t pl[1700], b[1800];
    memset(pl, 0, 16);
    pl[0] = 44; /* hop-by-hop, then the fragment header */
    pl[8] = nh;
    be16(pl + 10, off | (m ? 1 : 0));
    pl[12] = (uint8_t)(id >> 24); pl[13] = (uint8_t)(id >> 16);
    pl[14] = (uint8_t)(id >> 8); pl[15] = (uint8_t)id;
    memcpy(pl + 16, part + off, len);
    size_t n = ip6(b, 0, pl, 16 + len);
    return layers_decode(e, 1, 229, b, (uint32_t)n, (uint32_t)n, o);
}

TEST(ipv6_fragments) {
    fill_dg();
    eng_t *e = mk_eng();
    pkt_t o;
    CHECK_EQ_INT(frag6(e, 0x12345678, DG, 0, 1024, 1, 17, &o), 0);
    CHECK_EQ_INT(frag6(e, 0x12345678, DG, 1024, 976, 0, 17, &o), 1);
    CHECK_EQ_INT(o.family, 6);
    CHECK_EQ_INT(o.proto, 17);
    CHECK_EQ_INT(o.fragmented, 1);
    CHECK_MEM(o.src, 16, A6, 16);
    CHECK_MEM(o.dst, 16, B6, 16);
    CHECK_MEM(o.l4, o.l4_len, DG, 2000);

    /* reversed, with destination options inside the fragmentable part */
    uint8_t part[200];
    memset(part, 0, 8);
    part[0] = 6; /* destination options -> TCP */
    memcpy(part + 8, L4, L4_LEN);
    uint32_t plen = 8 + (uint32_t)L4_LEN;
    CHECK_EQ_INT(frag6(e, 9, part, 16, plen - 16, 0, 60, &o), 0);
    CHECK_EQ_INT(frag6(e, 9, part, 0, 16, 1, 60, &o), 1);
    CHECK_EQ_INT(o.proto, 6);
    CHECK_MEM(o.l4, o.l4_len, L4, L4_LEN);
    CHECK_EQ_INT(o.l4_wire, L4_LEN);
    CHECK_EQ_INT(e->stats.frags_reassembled, 2);
    CHECK_EQ_INT(e->stats.weirds, 0);

    /* an atomic fragment (offset 0, M 0) is a whole datagram */
    CHECK_EQ_INT(frag6(e, 10, DG, 0, 100, 0, 17, &o), 1);
    CHECK_EQ_INT(o.fragmented, 0);
    CHECK_MEM(o.l4, o.l4_len, DG, 100);

    /* an overlap drops the datagram (RFC 5722; test_frag.c has more) */
    uint8_t other[64];
    memset(other, 0x55, sizeof other);
    CHECK_EQ_INT(frag6(e, 11, DG, 0, 32, 1, 17, &o), 0);
    CHECK_EQ_INT(frag6(e, 11, other, 16, 32, 0, 17, &o), 0);
    CHECK_EQ_INT(weird_n(e, "ipv6_fragment_overlap"), 1);
    CHECK_EQ_INT(frag6(e, 11, DG, 0, 16, 1, 17, &o), 0);
    CHECK_EQ_INT(frag6(e, 12, DG, 0, 32, 1, 17, &o), 0);

    /* a fragment header inside the reassembled datagram */
    memset(part, 0, 16);
    part[0] = 17;
    be16(part + 2, 8 | 1);
    CHECK_EQ_INT(frag6(e, 13, part, 8, 8, 0, 44, &o), 0);
    CHECK_EQ_INT(frag6(e, 13, part, 0, 8, 1, 44, &o), 0);
    CHECK_EQ_INT(weird_n(e, "ipv6_nested_fragment"), 1);

    /* every cut of a first fragment */
    uint8_t pl[100], b[200];
    memset(pl, 0, 8);
    pl[0] = 17;
    be16(pl + 2, 1);
    memcpy(pl + 8, DG, 64);
    size_t n = ip6(b, 44, pl, 72);
    for (size_t cap = 0; cap < n; cap++) {
        eng_t *e2 = mk_eng();
        uint8_t *copy = malloc(cap ? cap : 1);
        memcpy(copy, b, cap);
        CHECK_EQ_INT(layers_decode(e2, 1, 229, copy, (uint32_t)cap, (uint32_t)n, &o), 0);
        CHECK_EQ_INT(e2->stats.weirds, 1);
        CHECK_EQ_INT(e2->stats.truncated, 1);
        free(copy);
        free_eng(e2);
    }
    free_eng(e);
}

/* ---- tunnels (engine/tunnel.c): whole instances, flows seen at flow.end ------- */

typedef struct tflow {
    int proto;
    uint16_t op, rp;
    uint8_t oa[4], ra[4];
    char uid[24], service[48], parents[80];
    uint64_t pkts[2];
} tflow_t;

static tflow_t tflows[16];
static int ntflows;

static void on_end(eng_t *e, const eng_event_t *ev, void *user) {
    const eng_flow_t *f = ev->flow;
    if (ntflows >= 16) return;
    tflow_t *t = &tflows[ntflows++];
    t->proto = f->proto;
    t->op = f->orig_port;
    t->rp = f->resp_port;
    memcpy(t->oa, f->orig_addr, 4);
    memcpy(t->ra, f->resp_addr, 4);
    snprintf(t->uid, sizeof t->uid, "%s", f->uid);
    snprintf(t->service, sizeof t->service, "%s", f->services);
    snprintf(t->parents, sizeof t->parents, "%s", f->tunnel_parents);
    t->pkts[0] = f->pkts[0];
    t->pkts[1] = f->pkts[1];
}

static eng_t *tun_eng(const char *key, const char *val) {
    eng_t *e = eng_new();
    char err[200];
    if (key) CHECK_EQ_INT(eng_config_set(e, key, val, err, sizeof err), 0);
    eng_on(e, ENG_EV_WEIRD, on_weird, NULL);
    eng_on(e, ENG_EV_FLOW_END, on_end, NULL);
    last_weird[0] = 0;
    ntflows = 0;
    memset(tflows, 0, sizeof tflows);
    return e;
}

static const tflow_t *tfind(int proto, uint16_t rp) {
    for (int i = 0; i < ntflows; i++)
        if (tflows[i].proto == proto && tflows[i].rp == rp) return &tflows[i];
    return NULL;
}

static const uint8_t O1[4] = {172, 16, 0, 1}, O2[4] = {172, 16, 0, 2}, O3[4] = {172, 16, 0, 3};

static size_t ip4x(uint8_t *b, uint8_t proto, const uint8_t *src, const uint8_t *dst,
                   const uint8_t *pl, size_t n) {
    size_t r = ip4(b, proto, 7, 0, pl, n);
    memcpy(b + 12, src, 4);
    memcpy(b + 16, dst, 4);
    return r;
}

static size_t udp(uint8_t *b, unsigned sport, unsigned dport, const uint8_t *pl, size_t n) {
    be16(b, sport);
    be16(b + 2, dport);
    be16(b + 4, (unsigned)(8 + n));
    be16(b + 6, 0);
    memcpy(b + 8, pl, n);
    return 8 + n;
}

/* the inner packet: IPv4 A4 -> B4, TCP 1234 -> 80 */
static size_t inner_ip(uint8_t *b) { return ip4(b, 6, 1, 0, L4, L4_LEN); }

static size_t inner_eth(uint8_t *b) {
    uint8_t ip[200];
    return eth(b, 0x0800, ip, inner_ip(ip));
}

/* hdr (hn bytes) then the payload pl */
static size_t cat(uint8_t *b, const uint8_t *hdr, size_t hn, const uint8_t *pl, size_t n) {
    memcpy(b, hdr, hn);
    memcpy(b + hn, pl, n);
    return hn + n;
}

/* an Ethernet frame O1 -> O2 carrying GRE (hdr) then pl */
static size_t gre_frame(uint8_t *f, const uint8_t *hdr, size_t hn, const uint8_t *pl, size_t n) {
    uint8_t g[600], ip[700];
    size_t gn = cat(g, hdr, hn, pl, n);
    return eth(f, 0x0800, ip, ip4x(ip, 47, O1, O2, g, gn));
}

/* an Ethernet frame src -> dst, UDP sport -> dport carrying hdr then pl */
static size_t udp_frame(uint8_t *f, const uint8_t *src, const uint8_t *dst, unsigned sport,
                        unsigned dport, const uint8_t *hdr, size_t hn, const uint8_t *pl, size_t n) {
    uint8_t t[600], u[700], ip[800];
    size_t tn = cat(t, hdr, hn, pl, n);
    size_t un = udp(u, sport, dport, t, tn);
    return eth(f, 0x0800, ip, ip4x(ip, 17, src, dst, u, un));
}

static void feed(eng_t *e, int64_t t, const uint8_t *f, size_t n) {
    eng_feed(e, t * NS, 1, f, (uint32_t)n, (uint32_t)n);
}

/* the inner TCP flow 1234 -> 80 came out of the tunnel flow whose service is svc */
static void check_inner(int outer_proto, uint16_t outer_rp, const char *svc) {
    const tflow_t *o = tfind(outer_proto, outer_rp), *i = tfind(6, 80);
    CHECK(o != NULL);
    CHECK(i != NULL);
    if (!o || !i) return;
    CHECK_STR(o->service, svc);
    CHECK_STR(o->parents, "");
    CHECK_STR(i->parents, o->uid);
    CHECK_EQ_INT(i->op, 1234);
    CHECK_MEM(i->oa, 4, A4, 4);
    CHECK_MEM(i->ra, 4, B4, 4);
    CHECK_EQ_INT(i->pkts[0], 1);
}

TEST(tunnel_gre) {
    uint8_t ip[200], fr[400], pl[300];
    size_t in = inner_ip(ip);
    /* RFC 2784/2890: checksum, key and sequence number present */
    static const uint8_t h1[] = {0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1};
    eng_t *e = tun_eng(NULL, NULL);
    feed(e, 1, fr, gre_frame(fr, h1, sizeof h1, ip, in));
    eng_finish(e);
    CHECK_EQ_INT(ntflows, 2);
    check_inner(47, 0, "gre");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);

    /* transparent Ethernet bridging, and IPv6 */
    static const uint8_t h2[] = {0x00, 0x00, 0x65, 0x58};
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, gre_frame(fr, h2, sizeof h2, pl, inner_eth(pl)));
    eng_finish(e);
    check_inner(47, 0, "gre");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
    static const uint8_t h3[] = {0x20, 0x00, 0x86, 0xdd, 0, 0, 0, 9};
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, gre_frame(fr, h3, sizeof h3, pl, ip6(pl, 6, L4, L4_LEN)));
    eng_finish(e);
    CHECK_EQ_INT(ntflows, 2);
    CHECK(tfind(6, 80) && tfind(6, 80)->parents[0] == 'C');
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);

    /* PPTP's enhanced GRE (version 1): key, sequence, acknowledgment, PPP */
    uint8_t h4[] = {0x30, 0x81, 0x88, 0x0b, 0, 60, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0,
                                 0xff, 0x03, 0x00, 0x21};
    e = tun_eng(NULL, NULL);
    be16(h4 + 4, (unsigned)in); /* payload length (not checked) */
    feed(e, 1, fr, gre_frame(fr, h4, sizeof h4, ip, in));
    eng_finish(e);
    check_inner(47, 0, "gre");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);

    /* WCCP: a redirect header, then IPv4; WCCPv1 sends none */
    static const uint8_t h5[] = {0x00, 0x00, 0x88, 0x3e, 0x00, 0x00, 0x00, 0x00};
    for (int v1 = 0; v1 < 2; v1++) {
        e = tun_eng(NULL, NULL);
        feed(e, 1, fr, gre_frame(fr, h5, v1 ? 4 : sizeof h5, ip, in));
        eng_finish(e);
        check_inner(47, 0, "gre");
        CHECK_EQ_INT(e->stats.weirds, 0);
        eng_free(e);
    }

    /* decapsulation off: the GRE flow alone, no service */
    e = tun_eng("tunnel.decapsulate", "false");
    feed(e, 1, fr, gre_frame(fr, h1, sizeof h1, ip, in));
    eng_finish(e);
    CHECK_EQ_INT(ntflows, 1);
    CHECK_STR(tflows[0].service, "");
    eng_free(e);
}

TEST(tunnel_erspan) {
    uint8_t fr[500], pl[300], ft[320];
    size_t en = inner_eth(pl);
    /* type II: GRE with sequence number, 8-byte header version 1 */
    static const uint8_t h2[] = {0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 3, 0x10, 0x64, 0x00, 0x05, 0, 0, 0, 0};
    eng_t *e = tun_eng(NULL, NULL);
    feed(e, 1, fr, gre_frame(fr, h2, sizeof h2, pl, en));
    eng_finish(e);
    check_inner(47, 0, "gre");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
    /* type I: no sequence number, no ERSPAN header */
    static const uint8_t h1[] = {0x00, 0x00, 0x88, 0xbe};
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, gre_frame(fr, h1, sizeof h1, pl, en));
    eng_finish(e);
    check_inner(47, 0, "gre");
    eng_free(e);
    /* type III with the platform-specific subheader (O), Ethernet frame type */
    static const uint8_t h3[] = {0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 3, 0x20, 0x64, 0x00, 0x05, 1, 2, 3, 4,
                                 0, 0, 0x00, 0x01, 9, 9, 9, 9, 9, 9, 9, 9};
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, gre_frame(fr, h3, sizeof h3, pl, en));
    eng_finish(e);
    check_inner(47, 0, "gre");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
    /* type III, frame type 2: an IP packet */
    static const uint8_t h3ip[] = {0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 3, 0x20, 0x64, 0x00, 0x05, 1, 2, 3, 4,
                                   0, 0, 0x08, 0x00};
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, gre_frame(fr, h3ip, sizeof h3ip, ft, inner_ip(ft)));
    eng_finish(e);
    check_inner(47, 0, "gre");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
}

TEST(tunnel_vxlan_geneve_gtpu) {
    uint8_t fr[500], pl[300], ip[200];
    size_t en = inner_eth(pl), in = inner_ip(ip);
    static const uint8_t vx[] = {0x08, 0, 0, 0, 0x00, 0x12, 0x34, 0};
    eng_t *e = tun_eng(NULL, NULL);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 50000, 4789, vx, sizeof vx, pl, en));
    eng_finish(e);
    CHECK_EQ_INT(ntflows, 2);
    check_inner(17, 4789, "vxlan");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
    /* another port, by configuration; the default port is then plain UDP */
    e = tun_eng("tunnel.vxlan_port", "8472");
    char err[200];
    CHECK_EQ_INT(eng_config_set(e, "tunnel.geneve_port", "65536", err, sizeof err), -1);
    CHECK_EQ_INT(eng_config_set(e, "tunnel.decapsulate", "maybe", err, sizeof err), -1);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 50000, 8472, vx, sizeof vx, pl, en));
    feed(e, 2, fr, udp_frame(fr, O1, O2, 50000, 4789, vx, sizeof vx, pl, en));
    eng_finish(e);
    CHECK_EQ_INT(ntflows, 3);
    check_inner(17, 8472, "vxlan");
    CHECK(tfind(17, 4789) && !strcmp(tfind(17, 4789)->service, ""));
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);

    /* Geneve with 8 bytes of options, Ethernet; then IPv4 directly */
    static const uint8_t gv[] = {0x02, 0x00, 0x65, 0x58, 0, 0, 10, 0, 1, 2, 3, 1, 0, 0, 0, 0};
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 40000, 6081, gv, sizeof gv, pl, en));
    eng_finish(e);
    check_inner(17, 6081, "geneve");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
    static const uint8_t gv4[] = {0x00, 0x00, 0x08, 0x00, 0, 0, 10, 0};
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 40000, 6081, gv4, sizeof gv4, ip, in));
    eng_finish(e);
    check_inner(17, 6081, "geneve");
    eng_free(e);

    /* GTP-U G-PDU with a sequence number and one extension header (PDU session
     * container, 4 bytes); an echo request carries no packet */
    uint8_t gt[16] = {0x36, 0xff, 0, 0, 0, 0, 0, 7, 0, 1, 0, 0x85, 1, 0x10, 0x05, 0};
    be16(gt + 2, (unsigned)(8 + in));
    static const uint8_t echo[] = {0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0};
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 2152, 2152, gt, sizeof gt, ip, in));
    feed(e, 2, fr, udp_frame(fr, O1, O2, 2152, 2152, echo, sizeof echo, ip, 0));
    eng_finish(e);
    CHECK_EQ_INT(ntflows, 2);
    check_inner(17, 2152, "gtpv1");
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);
    /* bytes after the message (its length field) are not part of the packet:
     * the inner IPv4 packet is then cut short of its length */
    be16(gt + 2, (unsigned)(8 + in - 4));
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 2152, 2152, gt, sizeof gt, ip, in));
    eng_finish(e);
    CHECK_EQ_INT(weird_n(e, "bad_ip_length"), 1);
    CHECK(tfind(6, 80) == NULL);
    eng_free(e);
}

/* VXLAN inside GRE: tunnel_parents lists both, outermost first; the depth limit */
TEST(tunnel_nested_and_depth) {
    uint8_t fr[900], pl[300], v[600], ip[700];
    static const uint8_t vx[] = {0x08, 0, 0, 0, 0x00, 0x00, 0x01, 0};
    static const uint8_t g4[] = {0x00, 0x00, 0x08, 0x00};
    size_t en = inner_eth(pl);
    uint8_t u[600];
    size_t un = udp(u, 50000, 4789, vx, sizeof vx);
    memcpy(u + un, pl, en);
    be16(u + 4, (unsigned)(un + en));
    size_t vn = ip4x(v, 17, O2, O3, u, un + en); /* IPv4 O2 -> O3, UDP, VXLAN, Ethernet, IPv4, TCP */
    eng_t *e = tun_eng(NULL, NULL);
    feed(e, 1, fr, gre_frame(fr, g4, sizeof g4, v, vn));
    eng_finish(e);
    CHECK_EQ_INT(ntflows, 3);
    const tflow_t *g = tfind(47, 0), *x = tfind(17, 4789), *t = tfind(6, 80);
    CHECK(g && x && t);
    if (g && x && t) {
        CHECK_STR(x->parents, g->uid);
        char both[60];
        snprintf(both, sizeof both, "%s,%s", g->uid, x->uid);
        CHECK_STR(t->parents, both);
    }
    CHECK_EQ_INT(e->stats.weirds, 0);
    eng_free(e);

    /* GRE in GRE in ...: 5 levels around the TCP packet */
    size_t n = inner_ip(ip);
    uint8_t tmp[900];
    for (int lvl = 0; lvl < 5; lvl++) {
        memcpy(tmp, g4, 4);
        memcpy(tmp + 4, ip, n);
        n = ip4x(ip, 47, O1, O2, tmp, n + 4);
    }
    size_t fn = eth(fr, 0x0800, ip, n);
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, fn);
    eng_finish(e);
    CHECK_EQ_INT(weird_n(e, "tunnel_too_deep"), 1);
    CHECK(tfind(6, 80) == NULL);
    eng_free(e);
    e = tun_eng("tunnel.max_depth", "5");
    feed(e, 1, fr, fn);
    eng_finish(e);
    CHECK_EQ_INT(e->stats.weirds, 0);
    CHECK(tfind(6, 80) != NULL);
    if (tfind(6, 80)) CHECK_EQ_INT(strlen(tfind(6, 80)->parents), 5 * 18 + 4 > 79 ? 4 * 18 + 3 : 5 * 18 + 4);
    eng_free(e);
}

/* the same inner 5-tuple in two tunnels is two flows; one tunnel's two
 * directions (other outer ports, as VXLAN picks them) are one */
TEST(tunnel_flow_key) {
    uint8_t fr[500], pl[300], ip[200], rev[200], rpl[300];
    static const uint8_t vx[] = {0x08, 0, 0, 0, 0x00, 0x00, 0x01, 0};
    size_t en = inner_eth(pl);
    size_t in = inner_ip(ip);
    /* the reply: B4:80 -> A4:1234 */
    memcpy(rev, ip, in);
    memcpy(rev + 12, B4, 4);
    memcpy(rev + 16, A4, 4);
    rev[20] = 0x00, rev[21] = 0x50, rev[22] = 0x04, rev[23] = 0xd2;
    size_t rn = eth(rpl, 0x0800, rev, in);
    eng_t *e = tun_eng(NULL, NULL);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 50000, 4789, vx, sizeof vx, pl, en));
    feed(e, 2, fr, udp_frame(fr, O2, O1, 50123, 4789, vx, sizeof vx, rpl, rn));
    feed(e, 3, fr, udp_frame(fr, O1, O3, 50000, 4789, vx, sizeof vx, pl, en));
    eng_finish(e);
    int inner = 0;
    for (int i = 0; i < ntflows; i++) {
        if (tflows[i].proto != 6) continue;
        inner++;
        if (!memcmp(tflows[i].parents, tfind(17, 4789)->uid, 18) && tflows[i].pkts[1]) {
            CHECK_EQ_INT(tflows[i].pkts[0], 1);
            CHECK_EQ_INT(tflows[i].pkts[1], 1);
        }
    }
    CHECK_EQ_INT(inner, 2);
    CHECK_EQ_INT(ntflows, 5); /* 3 VXLAN flows (O1->O2, O2->O1, O1->O3), 2 TCP */
    eng_free(e);

    /* the VXLAN flow times out (flow.udp_timeout 60 s) while the TCP flow inside
     * lives on (300 s): the new VXLAN flow is added to its tunnel_parents */
    e = tun_eng(NULL, NULL);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 50000, 4789, vx, sizeof vx, pl, en));
    feed(e, 100, fr, udp_frame(fr, O1, O2, 50000, 4789, vx, sizeof vx, pl, en));
    eng_finish(e);
    CHECK_EQ_INT(ntflows, 3);
    const tflow_t *t = tfind(6, 80), *u[2] = {NULL, NULL};
    for (int i = 0, k = 0; i < ntflows; i++) /* in order of their end: the first one first */
        if (tflows[i].proto == 17 && k < 2) u[k++] = &tflows[i];
    CHECK(t && u[0] && u[1]);
    if (t && u[0] && u[1]) {
        char both[60];
        snprintf(both, sizeof both, "%s,%s", u[0]->uid, u[1]->uid);
        CHECK_STR(t->parents, both);
        CHECK_EQ_INT(t->pkts[0], 2);
    }
    eng_free(e);
}

/* malformed headers: each a named weird, nothing decoded past it */
TEST(tunnel_bad_headers) {
    uint8_t fr[500], ip[200], pl[300];
    size_t in = inner_ip(ip), en = inner_eth(pl);
    static const struct {
        int gre;
        unsigned dport;
        uint8_t h[24];
        size_t n;
        const char *weird;
    } cases[] = {
        {1, 0, {0x00, 0x02, 0x08, 0x00}, 4, "gre_bad_header"},                 /* version 2 */
        {1, 0, {0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0}, 8, "gre_bad_header"},     /* routing */
        {1, 0, {0x00, 0x01, 0x08, 0x00, 0, 0, 0, 0}, 8, "gre_bad_header"},     /* v1 not PPP */
        {1, 0, {0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1, 0x20, 0, 0, 0, 0, 0, 0, 0}, 16, "erspan_bad_header"},
        {1, 0, {0x00, 0x00, 0x22, 0xeb, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7c, 0}, 16, "erspan_bad_header"},
        {0, 4789, {0x00, 0, 0, 0, 0, 0, 1, 0}, 8, "vxlan_bad_header"},         /* no I flag */
        {0, 6081, {0x40, 0, 0x65, 0x58, 0, 0, 1, 0}, 8, "geneve_bad_header"},  /* version 1 */
        {0, 2152, {0x48, 0xff, 0, 0, 0, 0, 0, 0}, 8, "gtp_bad_header"},        /* version 2 */
        {0, 2152, {0x22, 0xff, 0, 0, 0, 0, 0, 0}, 8, "gtp_bad_header"},        /* GTP' */
        {0, 2152, {0x32, 0xff, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, "gtp_bad_header"}, /* length */
        {0, 2152, {0x34, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x85, 0, 0, 0, 0}, 16, "gtp_bad_header"}, /* ext 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eng_t *e = tun_eng(NULL, NULL);
        const uint8_t *p = cases[i].dport == 4789 || cases[i].dport == 6081 || cases[i].h[2] == 0x88 ? pl : ip;
        size_t n = p == pl ? en : in;
        if (cases[i].dport == 2152 && i == 9) n = 0; /* the length says 4096: nothing follows */
        size_t fn = cases[i].gre ? gre_frame(fr, cases[i].h, cases[i].n, p, n)
                                 : udp_frame(fr, O1, O2, 2152, cases[i].dport, cases[i].h, cases[i].n, p, n);
        feed(e, 1, fr, fn);
        eng_finish(e);
        if (weird_n(e, cases[i].weird) != 1) fprintf(stderr, "  case %zu\n", i);
        CHECK_EQ_INT(weird_n(e, cases[i].weird), 1);
        CHECK(tfind(6, 80) == NULL);
        CHECK_EQ_INT(ntflows, 1);
        eng_free(e);
    }
    /* GTP-U: more extension headers than walked */
    uint8_t gt[12 + 4 * 20];
    memset(gt, 0, sizeof gt);
    gt[0] = 0x34, gt[1] = 0xff, gt[11] = 0x85;
    be16(gt + 2, (unsigned)(sizeof gt - 8 + in));
    for (int k = 0; k < 20; k++) gt[12 + 4 * k] = 1, gt[12 + 4 * k + 3] = 0x85;
    eng_t *e = tun_eng(NULL, NULL);
    feed(e, 1, fr, udp_frame(fr, O1, O2, 2152, 2152, gt, sizeof gt, ip, in));
    eng_finish(e);
    CHECK_EQ_INT(weird_n(e, "gtp_bad_header"), 1);
    eng_free(e);
}

/* every captured length of encapsulated frames, cut by the snaplen and as
 * whole (short) frames: no read past the bytes (ASan), something reported */
TEST(tunnel_cut_everywhere) {
    uint8_t fr[5][500], pl[300], ip[200];
    size_t en = inner_eth(pl), in = inner_ip(ip), n[5];
    static const uint8_t g[] = {0xb0, 0x00, 0x88, 0xbe, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1,
                                0x10, 0x64, 0x00, 0x05, 0, 0, 0, 0};
    static const uint8_t vx[] = {0x08, 0, 0, 0, 0x00, 0x00, 0x01, 0};
    static const uint8_t gv[] = {0x02, 0x00, 0x65, 0x58, 0, 0, 10, 0, 1, 2, 3, 1, 0, 0, 0, 0};
    uint8_t gt[16] = {0x36, 0xff, 0, 0, 0, 0, 0, 7, 0, 1, 0, 0x85, 1, 0x10, 0x05, 0};
    be16(gt + 2, (unsigned)(8 + in));
    static const uint8_t pptp[] = {0x30, 0x01, 0x88, 0x0b, 0, 60, 0, 5, 0, 0, 0, 1, 0x21};
    n[0] = gre_frame(fr[0], g, sizeof g, pl, en);
    n[1] = udp_frame(fr[1], O1, O2, 50000, 4789, vx, sizeof vx, pl, en);
    n[2] = udp_frame(fr[2], O1, O2, 50000, 6081, gv, sizeof gv, pl, en);
    n[3] = udp_frame(fr[3], O1, O2, 2152, 2152, gt, sizeof gt, ip, in);
    n[4] = gre_frame(fr[4], pptp, sizeof pptp, ip, in);
    for (int k = 0; k < 5; k++) {
        for (size_t cap = 0; cap <= n[k]; cap++) {
            for (int whole = 0; whole < 2; whole++) {
                eng_t *e = tun_eng(NULL, NULL);
                uint8_t *copy = malloc(cap ? cap : 1);
                memcpy(copy, fr[k], cap);
                eng_feed(e, NS, 1, copy, (uint32_t)cap, whole ? (uint32_t)cap : (uint32_t)n[k]);
                eng_finish(e);
                if (cap == n[k]) {
                    CHECK_EQ_INT(e->stats.weirds, 0);
                    CHECK(tfind(6, 80) != NULL);
                } else {
                    if (e->stats.weirds < 1) fprintf(stderr, "  frame %d cut at %zu/%zu\n", k, cap, n[k]);
                    CHECK(e->stats.weirds >= 1);
                }
                free(copy);
                eng_free(e);
            }
        }
    }
}

int main(void) {
    verbose = getenv("VERBOSE") != NULL;
    RUN(ethernet_ipv4);
    RUN(ethernet_padding);
    RUN(vlan_single);
    RUN(vlan_qinq);
    RUN(vlan_too_deep);
    RUN(non_ip_silent);
    RUN(sll_and_sll2);
    RUN(raw_ip);
    RUN(null_and_loop);
    RUN(pppoe_mpls);
    RUN(pppoe_compressed_protocol);
    RUN(ppp_hdlc_nflog);
    RUN(arcnet_linux);
    RUN(unknown_link);
    RUN(ipv4_options_and_errors);
    RUN(ipv6_ext_headers);
    RUN(frag4_in_order_and_reversed);
    RUN(frag4_overlap);
    RUN(frag4_duplicate_and_errors);
    RUN(frag4_eight_byte_fragments);
    RUN(frag4_timeout);
    RUN(frag4_buffer_cap);
    RUN(ipv6_fragments);
    RUN(tunnel_gre);
    RUN(tunnel_erspan);
    RUN(tunnel_vxlan_geneve_gtpu);
    RUN(tunnel_nested_and_depth);
    RUN(tunnel_flow_key);
    RUN(tunnel_bad_headers);
    RUN(tunnel_cut_everywhere);
    return check_report("layers");
}
