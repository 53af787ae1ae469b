/* test_frag.c - fragment reassembly (engine/frag.c): the overlap policies on
 * the Sturges/Novak pattern, 8- and 24-byte trains of a 64 KiB datagram in
 * order, reversed and shuffled, the memory bound (ip.max_frag_bytes, buffers
 * and tables counted), IPv6 overlaps (RFC 5722) and atomic fragments
 * (RFC 6946). Frames are built by hand and go through layers_decode. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

#define NS NS_PER_SEC

static char last_weird[64], last_detail[512];

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
}

static eng_t *mk_eng(int policy) {
    eng_t *e = calloc(1, sizeof *e);
    e->cfg.frag_timeout_ns = 30 * NS;
    e->cfg.max_frag_bytes = 64u << 20;
    e->cfg.frag_policy = policy;
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

static const uint8_t A4[4] = {10, 0, 0, 1}, B4[4] = {192, 168, 1, 2};
static const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static void be16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint8_t frame[70000];

/* an IPv4 fragment (UDP) of id carrying pl[0..n) at byte offset off */
static int f4(eng_t *e, int64_t ts, uint16_t id, uint32_t off, int mf, const uint8_t *pl, size_t n,
              pkt_t *o) {
    uint8_t *b = frame;
    memset(b, 0, 20);
    b[0] = 0x45;
    be16(b + 2, (unsigned)(20 + n));
    be16(b + 4, id);
    be16(b + 6, (mf ? 0x2000 : 0) | off / 8);
    b[8] = 64;
    b[9] = 17;
    memcpy(b + 12, A4, 4);
    memcpy(b + 16, B4, 4);
    memcpy(b + 20, pl, n);
    return layers_decode(e, ts, 12, b, (uint32_t)(20 + n), (uint32_t)(20 + n), o);
}

/* an IPv6 fragment (UDP) */
static int f6(eng_t *e, uint32_t id, uint32_t off, int m, const uint8_t *pl, size_t n, pkt_t *o) {
    uint8_t *b = frame;
    memset(b, 0, 48);
    b[0] = 0x60;
    be16(b + 4, (unsigned)(8 + n));
    b[6] = 44;
    b[7] = 64;
    memcpy(b + 8, A6, 16);
    memcpy(b + 24, B6, 16);
    b[40] = 17;
    be16(b + 42, off | (m ? 1 : 0));
    b[44] = (uint8_t)(id >> 24); b[45] = (uint8_t)(id >> 16); b[46] = (uint8_t)(id >> 8); b[47] = (uint8_t)id;
    memcpy(b + 48, pl, n);
    return layers_decode(e, 1, 229, b, (uint32_t)(48 + n), (uint32_t)(48 + n), o);
}

/* ---- the policy rules ------------------------------------------------------------ */

TEST(policy_names) {
    static const char *names[] = {"first", "last", "bsd", "bsd-right", "linux", "windows", "solaris"};
    for (int i = 0; i < FRAG_POLICY_COUNT; i++) {
        CHECK_EQ_INT(frag_policy_parse(names[i], strlen(names[i])), i);
        CHECK_STR(frag_policy_name(i), names[i]);
    }
    CHECK_EQ_INT(frag_policy_parse("bsd", 2), -1);
    CHECK_EQ_INT(frag_policy_parse("BSD", 3), -1);
    CHECK_EQ_INT(frag_policy_parse("vista", 5), -1);
    CHECK_EQ_INT(frag_policy_parse("bsd-right=", 10), -1);
}

/* new [n0,n1) against held [o0,o1): who wins, per policy */
TEST(policy_rules) {
    struct { uint32_t n0, n1, o0, o1; const char *win; } c[] = {
        /* columns: first last bsd bsd-right linux windows solaris */
        {0, 16, 8, 24, "0110100"},  /* new starts before, ends inside */
        {0, 24, 8, 24, "0111101"},  /* starts before, same end */
        {0, 32, 8, 24, "0111111"},  /* starts before, ends after: covers */
        {8, 24, 8, 24, "0101100"},  /* the same extent */
        {8, 16, 8, 24, "0100100"},  /* same start, shorter */
        {8, 32, 8, 24, "0101100"},  /* same start, longer */
        {16, 24, 8, 24, "0100000"}, /* starts inside, same end */
        {16, 32, 8, 24, "0101000"}, /* starts inside, ends after */
        {16, 20, 8, 24, "0100000"}, /* inside */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        for (int p = 0; p < FRAG_POLICY_COUNT; p++) {
            int want = c[i].win[p] == '1';
            int got = frag_policy_new_wins(p, c[i].n0, c[i].n1, c[i].o0, c[i].o1);
            if (got != want)
                fprintf(stderr, "  case %zu policy %s: got %d\n", i, frag_policy_name(p), got);
            CHECK_EQ_INT(got, want);
        }
}

/* The pattern of Novak's "Target-Based Fragmentation Reassembly" as Suricata's
 * defrag tests send it: nine original fragments, then seven overlapping ones,
 * then the last; each letter fills 8-byte blocks. The results of first, last,
 * bsd, linux, windows and solaris are those of the paper (and Suricata's
 * tests); bsd-right is Snort's. */
static const struct { uint32_t off, len; char c; } SN[] = {
    {0, 24, 'A'}, {32, 16, 'B'}, {48, 24, 'C'}, {80, 8, 'D'}, {104, 16, 'E'}, {120, 24, 'F'},
    {144, 16, 'G'}, {160, 16, 'H'}, {176, 8, 'I'},
    {8, 32, 'J'}, {48, 24, 'K'}, {72, 24, 'L'}, {96, 24, 'M'}, {128, 8, 'N'}, {152, 8, 'O'},
    {160, 8, 'P'}, {176, 16, 'Q'},
};
static const struct { int policy; const char *want; } SN_WANT[] = {
    {FRAG_POLICY_BSD, "AAAJJBCCCLLLMMMFFFGGHHIQ"},
    {FRAG_POLICY_LINUX, "AAAJJBKKKLLLMMMFFFGGPHQQ"},
    {FRAG_POLICY_WINDOWS, "AAAJBBCCCLLLMEEFFFGGHHIQ"},
    {FRAG_POLICY_SOLARIS, "AAAJBBCCCLLLMMMFFFGGHHIQ"},
    {FRAG_POLICY_FIRST, "AAAJBBCCCLDLMEEFFFGGHHIQ"},
    {FRAG_POLICY_LAST, "AJJJJBKKKLLLMMMFNFGOPHQQ"},
    {FRAG_POLICY_BSD_RIGHT, "AJJJBBKKKLLLMMMFFFGGHHQQ"},
};

static void sturges_novak(int v6) {
    for (size_t w = 0; w < sizeof SN_WANT / sizeof SN_WANT[0]; w++) {
        eng_t *e = mk_eng(SN_WANT[w].policy);
        pkt_t o;
        int done = 0;
        for (size_t i = 0; i < sizeof SN / sizeof SN[0]; i++) {
            uint8_t pl[32];
            memset(pl, SN[i].c, SN[i].len);
            int last = i == sizeof SN / sizeof SN[0] - 1;
            done = v6 ? f6(e, 1, SN[i].off, !last, pl, SN[i].len, &o)
                      : f4(e, 1, 1, SN[i].off, !last, pl, SN[i].len, &o);
            if (!last) CHECK_EQ_INT(done, 0);
        }
        if (v6) {
            /* IPv6: the first overlap drops the datagram */
            CHECK_EQ_INT(done, 0);
            CHECK_EQ_INT(weird_n(e, "ipv6_fragment_overlap"), 1);
            CHECK_EQ_INT(e->stats.frags_reassembled, 0);
            free_eng(e);
            continue;
        }
        CHECK_EQ_INT(done, 1);
        char got[25] = {0};
        if (done && o.l4_len == 192)
            for (int k = 0; k < 24; k++) got[k] = (char)o.l4[k * 8];
        if (strcmp(got, SN_WANT[w].want))
            fprintf(stderr, "  %s: got %s want %s\n", frag_policy_name(SN_WANT[w].policy), got,
                    SN_WANT[w].want);
        CHECK_STR(got, SN_WANT[w].want);
        /* every block uniform: the policy works on whole 8-byte blocks */
        for (int k = 0; done && k < 192; k++) CHECK(o.l4[k] == o.l4[k / 8 * 8]);
        CHECK_EQ_INT(weird_n(e, "fragment_overlap_conflict"), 8);
        CHECK_EQ_INT(e->stats.frag_buffered, 0);
        free_eng(e);
    }
}

TEST(sturges_novak_ipv4) { sturges_novak(0); }
TEST(sturges_novak_ipv6_dropped) { sturges_novak(1); }

/* Suricata's further BSD and Linux cases */
TEST(bsd_and_linux_cases) {
    pkt_t o;
    uint8_t a[48];
    /* a fragment after the one without MF, the first last (BSD): D B B C A */
    eng_t *e = mk_eng(FRAG_POLICY_BSD);
    memset(a, 'A', 16);
    CHECK_EQ_INT(f4(e, 1, 0x96, 24, 0, a, 16, &o), 0);
    memset(a, 'B', 16);
    CHECK_EQ_INT(f4(e, 1, 0x96, 8, 1, a, 16, &o), 0);
    memset(a, 'C', 16);
    CHECK_EQ_INT(f4(e, 1, 0x96, 16, 1, a, 16, &o), 0);
    memset(a, 'D', 8);
    CHECK_EQ_INT(f4(e, 1, 0x96, 0, 1, a, 8, &o), 1);
    CHECK_MEM(o.l4, o.l4_len, "DDDDDDDDBBBBBBBBBBBBBBBBCCCCCCCCAAAAAAAA", 40);
    /* the new fragment starts before the held one: its bytes win (BSD) */
    memset(a, 'E', 24);
    CHECK_EQ_INT(f4(e, 1, 1, 8, 0, a, 24, &o), 0);
    memset(a, 'M', 24);
    CHECK_EQ_INT(f4(e, 1, 1, 0, 1, a, 24, &o), 1);
    CHECK_MEM(o.l4, o.l4_len, "MMMMMMMMMMMMMMMMMMMMMMMMEEEEEEEE", 32);
    free_eng(e);

    /* Linux: a later fragment starting before a held one takes its bytes */
    e = mk_eng(FRAG_POLICY_LINUX);
    memset(a, 'A', 24);
    CHECK_EQ_INT(f4(e, 1, 1, 0, 1, a, 24, &o), 0);
    memset(a, 'B', 48);
    CHECK_EQ_INT(f4(e, 1, 1, 40, 1, a, 48, &o), 0);
    memset(a, 'C', 48);
    CHECK_EQ_INT(f4(e, 1, 1, 24, 1, a, 48, &o), 0);
    memset(a, 'D', 14);
    CHECK_EQ_INT(f4(e, 1, 1, 88, 0, a, 14, &o), 1);
    CHECK_MEM(o.l4, o.l4_len,
              "AAAAAAAAAAAAAAAAAAAAAAAACCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
              "BBBBBBBBBBBBBBBBDDDDDDDDDDDDDD", 102);
    free_eng(e);
}

/* the conflict weird names both fragments, the policy and what it took */
TEST(conflict_detail) {
    pkt_t o;
    uint8_t a[32];
    eng_t *e = mk_eng(FRAG_POLICY_BSD);
    memset(a, 'A', 24);
    CHECK_EQ_INT(f4(e, 1, 5, 0, 1, a, 24, &o), 0);
    memset(a, 'J', 32);
    CHECK_EQ_INT(f4(e, 1, 5, 8, 1, a, 32, &o), 0);
    CHECK_STR(last_weird, "fragment_overlap_conflict");
    CHECK(strstr(last_detail, "offset 8 length 32") != NULL);
    CHECK(strstr(last_detail, "held at offset 0 length 24") != NULL);
    CHECK(strstr(last_detail, "16 of 16 overlapping bytes differ") != NULL);
    CHECK(strstr(last_detail, "policy bsd takes the held bytes") != NULL);
    /* the same bytes again: fragment_overlap, not a conflict */
    memset(a, 'A', 8);
    CHECK_EQ_INT(f4(e, 1, 5, 8, 1, a, 8, &o), 0);
    CHECK_STR(last_weird, "fragment_overlap");
    CHECK_EQ_INT(weird_n(e, "fragment_overlap_conflict"), 1);
    memset(a, 'Z', 8);
    CHECK_EQ_INT(f4(e, 1, 5, 40, 0, a, 8, &o), 1);
    CHECK_MEM(o.l4, o.l4_len, "AAAAAAAAAAAAAAAAAAAAAAAAJJJJJJJJJJJJJJJJZZZZZZZZ", 48);
    free_eng(e);

    e = mk_eng(FRAG_POLICY_LAST);
    memset(a, 'A', 24);
    CHECK_EQ_INT(f4(e, 1, 5, 0, 1, a, 24, &o), 0);
    memset(a, 'J', 32);
    CHECK_EQ_INT(f4(e, 1, 5, 8, 1, a, 32, &o), 0);
    CHECK(strstr(last_detail, "policy last takes the new bytes") != NULL);
    free_eng(e);
}

/* ip.frag_policy_by_host: the destination's longest prefix, else ip.frag_policy */
TEST(policy_by_host) {
    static const struct { const char *table; char want; } c[] = {
        {"", 'A'},                                          /* bsd: the held bytes */
        {"192.168.0.0/16=last", 'J'},                       /* the destination's prefix */
        {"192.168.0.0/16=last,192.168.1.0/24=first", 'A'},  /* the longest prefix */
        {"192.168.1.0/24=first,192.168.0.0/16=last", 'A'},  /* in any order */
        {"192.168.1.2=linux,0.0.0.0/0=first", 'A'},         /* linux: J starts after A */
        {"10.0.0.0/8=last,2001:db8::/32=last", 'A'},        /* the source's prefix: not it */
        {"0.0.0.0/0=last", 'J'},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        eng_t *e = mk_eng(FRAG_POLICY_BSD);
        char err[256];
        CHECK_EQ_INT(frag_policy_hosts(&e->frag_hosts, c[i].table, err, sizeof err), 0);
        pkt_t o;
        uint8_t a[32];
        memset(a, 'A', 24);
        CHECK_EQ_INT(f4(e, 1, 5, 0, 1, a, 24, &o), 0);
        memset(a, 'J', 32);
        CHECK_EQ_INT(f4(e, 1, 5, 8, 0, a, 32, &o), 1);
        CHECK_EQ_INT(o.l4_len, 40);
        if (o.l4_len == 40) {
            if (o.l4[8] != c[i].want) fprintf(stderr, "  table '%s': got %c\n", c[i].table, o.l4[8]);
            CHECK_EQ_INT(o.l4[8], c[i].want);
            CHECK_EQ_INT(o.l4[0], 'A');
            CHECK_EQ_INT(o.l4[24], 'J');
        }
        hosttable_free(&e->frag_hosts);
        free_eng(e);
    }
    hosttable_t t = {0};
    char err[256];
    CHECK_EQ_INT(frag_policy_hosts(&t, "10.0.0.0/8=vista", err, sizeof err), -1);
    CHECK(strstr(err, "bsd-right") != NULL);
    CHECK_EQ_INT(frag_policy_hosts(&t, "10.0.0.0/33=bsd", err, sizeof err), -1);
    hosttable_free(&t);
}

/* ---- trains of a 64 KiB datagram --------------------------------------------------- */

#define BIG 65528u /* 8191 blocks of 8: the largest multiple of 8 under 65535 - 8 */
static uint8_t DGB[BIG];

static void fill_big(void) {
    for (size_t i = 0; i < sizeof DGB; i++) DGB[i] = (uint8_t)(i * 13 + i / 509);
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void) {
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

/* send DGB[0..total) as `size`-byte fragments in `order` (0 in order, 1
 * reversed, 2 shuffled); returns how many datagrams came out */
static int train(eng_t *e, uint16_t id, uint32_t total, uint32_t size, int order, pkt_t *o) {
    uint32_t n = (total + size - 1) / size;
    uint32_t *idx = malloc(n * sizeof *idx);
    for (uint32_t i = 0; i < n; i++) idx[i] = order == 1 ? n - 1 - i : i;
    if (order == 2)
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = rnd() % (i + 1), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
    int done = 0;
    uint64_t peak = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = idx[i] * size, len = off + size < total ? size : total - off;
        done += f4(e, 1, id, off, off + len < total, DGB + off, len, o);
        if (e->stats.frag_buffered > peak) peak = e->stats.frag_buffered;
    }
    /* data, owners (2 bytes a block) and the fragment table are accounted */
    if (e->cfg.max_frag_bytes > 4 * total) CHECK(peak >= total + total / 4);
    free(idx);
    return done;
}

TEST(trains_8_and_24_bytes) {
    fill_big();
    static const uint32_t sizes[] = {8, 24};
    for (int si = 0; si < 2; si++)
        for (int order = 0; order < 3; order++) {
            eng_t *e = mk_eng(FRAG_POLICY_BSD);
            pkt_t o;
            int done = train(e, (uint16_t)(100 + order), BIG, sizes[si], order, &o);
            if (done != 1) fprintf(stderr, "  size %u order %d: %d datagrams\n", sizes[si], order, done);
            CHECK_EQ_INT(done, 1);
            if (done == 1) CHECK_MEM(o.l4, o.l4_len, DGB, BIG);
            CHECK_EQ_INT(e->stats.weirds, 0);
            CHECK_EQ_INT(e->stats.frag_buffered, 0);
            free_eng(e);
        }
    /* two trains interleaved, one reversed, the other shuffled; the last
     * fragment not a multiple of 8 */
    eng_t *e = mk_eng(FRAG_POLICY_BSD);
    pkt_t o;
    uint32_t total = 40003, n = (total + 7) / 8;
    int done = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = (n - 1 - i) * 8, b = (uint32_t)((i * 4099u) % n) * 8;
        uint32_t la = a + 8 < total ? 8 : total - a, lb = b + 8 < total ? 8 : total - b;
        done += f4(e, 1, 1, a, a + la < total, DGB + a, la, &o);
        if (done == 1) { CHECK_MEM(o.l4, o.l4_len, DGB, total); done = 2; }
        done += f4(e, 1, 2, b, b + lb < total, DGB + b, lb, &o);
        if (done == 3) { CHECK_MEM(o.l4, o.l4_len, DGB, total); done = 4; }
    }
    CHECK_EQ_INT(done, 4);
    CHECK_EQ_INT(e->stats.weirds, 0);
    free_eng(e);
}

/* ip.max_frag_bytes bounds everything held: the oldest sets go first, named */
TEST(memory_bound) {
    fill_big();
    eng_t *e = mk_eng(FRAG_POLICY_BSD);
    e->cfg.max_frag_bytes = 240000; /* two 64 KiB 8-byte trains fit (115 KB each), not three */
    pkt_t o;
    /* three shuffled trains one after the other, missing their first fragment */
    for (uint16_t id = 1; id <= 3; id++)
        for (uint32_t i = 1; i < BIG / 8; i++) {
            uint32_t off = ((i * 4097u) % (BIG / 8 - 1) + 1) * 8;
            CHECK_EQ_INT(f4(e, 1, id, off, off + 8 < BIG, DGB + off, 8, &o), 0);
            CHECK(e->stats.frag_buffered <= 240000);
        }
    /* the third pushed the oldest out, named */
    CHECK_EQ_INT(weird_n(e, "frag_buffer_full"), 1);
    CHECK(strstr(last_detail, "ip.max_frag_bytes reached") != NULL);
    CHECK(strstr(last_detail, " id 1 ") != NULL);
    CHECK(strstr(last_detail, "65520 bytes held") != NULL);
    /* the other two are whole but for offset 0: they complete */
    int done = f4(e, 1, 3, 0, 1, DGB, 8, &o);
    CHECK_EQ_INT(done, 1);
    if (done) CHECK_MEM(o.l4, o.l4_len, DGB, BIG);
    done = f4(e, 1, 2, 0, 1, DGB, 8, &o);
    CHECK_EQ_INT(done, 1);
    if (done) CHECK_MEM(o.l4, o.l4_len, DGB, BIG);
    CHECK_EQ_INT(f4(e, 1, 1, 0, 1, DGB, 8, &o), 0);
    CHECK(e->stats.frag_buffered < 10000);
    free_eng(e);

    /* a cap below one train: that set is dropped when it cannot grow, reported */
    e = mk_eng(FRAG_POLICY_BSD);
    e->cfg.max_frag_bytes = 30000;
    done = train(e, 9, BIG, 8, 2, &o);
    CHECK_EQ_INT(done, 0);
    CHECK(weird_n(e, "frag_buffer_full") >= 1);
    CHECK(e->stats.frag_buffered <= 30000);
    free_eng(e);
}

/* the fragment count stops a set long before memory would */
TEST(fragment_count_bound) {
    fill_big();
    eng_t *e = mk_eng(FRAG_POLICY_LAST);
    pkt_t o;
    int r = 0;
    for (int i = 0; i < 16385; i++) r |= f4(e, 1, 7, 8, 1, DGB, 8, &o);
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(weird_n(e, "too_many_fragments"), 1);
    CHECK_EQ_INT(e->stats.frag_buffered, 0);
    free_eng(e);
}

/* random overlapping fragments against a byte-by-byte model of the rules:
 * the blocks, owners, byte count and completion must give the model's bytes */
TEST(random_against_model) {
    static uint8_t model[2048], pl[64];
    static int owner[2048]; /* index in srcs + 1 */
    static uint32_t slo[4096], shi[4096];
    rnd_state = 777;
    int rounds = 0, completed = 0;
    for (int round = 0; round < 3000; round++) {
        int policy = (int)(rnd() % FRAG_POLICY_COUNT);
        eng_t *e = mk_eng(policy);
        uint32_t total = 9 + rnd() % 2000, nb = (total + 7) / 8;
        memset(owner, 0, sizeof owner);
        uint32_t ns = 0, held = 0;
        int has_last = 0, done = 0;
        pkt_t o;
        for (int k = 0; !done; k++) {
            uint32_t off, len;
            if (k < 60) {
                off = (rnd() % nb) * 8;
                len = 8 * (1 + rnd() % 4);
            } else { /* then fill in order so that it completes */
                off = ((uint32_t)(k - 60) % nb) * 8;
                len = 8;
            }
            if (off + len > total) len = total - off;
            if (off == 0 && len == total) len = 8; /* offset 0, MF 0 is no fragment */
            int more = off + len < total;
            for (uint32_t i = 0; i < len; i++) pl[i] = (uint8_t)rnd();
            for (uint32_t i = off; i < off + len; i++) {
                if (owner[i] && !frag_policy_new_wins(policy, off, off + len, slo[owner[i] - 1],
                                                      shi[owner[i] - 1]))
                    continue;
                if (!owner[i]) held++;
                model[i] = pl[i - off];
                owner[i] = (int)ns + 1;
            }
            slo[ns] = off;
            shi[ns] = off + len;
            ns++;
            if (!more) has_last = 1;
            int want = has_last && held == total;
            done = f4(e, 1, 9, off, more, pl, len, &o);
            CHECK_EQ_INT(done, want);
            if (done != want) break;
        }
        if (done) {
            completed++;
            CHECK_EQ_INT(o.l4_len, total);
            if (o.l4_len == total && memcmp(o.l4, model, total)) {
                fprintf(stderr, "  round %d policy %s: bytes differ\n", round, frag_policy_name(policy));
                CHECK(0);
            }
        }
        CHECK_EQ_INT(e->stats.frag_buffered, 0);
        rounds++;
        free_eng(e);
    }
    CHECK_EQ_INT(completed, rounds);
}

/* ---- IPv6 ------------------------------------------------------------------------ */

TEST(ipv6_overlap_duplicate_atomic) {
    fill_big();
    eng_t *e = mk_eng(FRAG_POLICY_LAST); /* no IPv4 policy applies to IPv6 */
    pkt_t o;
    /* in order, reversed */
    CHECK_EQ_INT(f6(e, 1, 0, 1, DGB, 64, &o), 0);
    CHECK_EQ_INT(f6(e, 1, 64, 0, DGB + 64, 36, &o), 1);
    CHECK_MEM(o.l4, o.l4_len, DGB, 100);
    CHECK_EQ_INT(f6(e, 2, 64, 0, DGB + 64, 36, &o), 0);
    CHECK_EQ_INT(f6(e, 2, 0, 1, DGB, 64, &o), 1);
    CHECK_MEM(o.l4, o.l4_len, DGB, 100);
    CHECK_EQ_INT(e->stats.weirds, 0);

    /* an exact duplicate is dropped alone; the datagram completes */
    CHECK_EQ_INT(f6(e, 3, 0, 1, DGB, 64, &o), 0);
    CHECK_EQ_INT(f6(e, 3, 0, 1, DGB, 64, &o), 0);
    CHECK_EQ_INT(weird_n(e, "fragment_overlap"), 1);
    CHECK_EQ_INT(f6(e, 3, 64, 0, DGB + 64, 36, &o), 1);
    CHECK_MEM(o.l4, o.l4_len, DGB, 100);

    /* any other overlap, even with the same bytes, drops the datagram */
    CHECK_EQ_INT(f6(e, 4, 0, 1, DGB, 64, &o), 0);
    CHECK_EQ_INT(f6(e, 4, 32, 1, DGB + 32, 64, &o), 0);
    CHECK_EQ_INT(weird_n(e, "ipv6_fragment_overlap"), 1);
    CHECK(strstr(last_detail, "offset 32 length 64") != NULL);
    CHECK(strstr(last_detail, "RFC 5722") != NULL);
    CHECK_EQ_INT(f6(e, 4, 96, 0, DGB + 96, 4, &o), 0); /* the rest: a new set, never whole */
    CHECK_EQ_INT(e->stats.frags_reassembled, 3);
    /* a duplicate offset with other bytes drops it too */
    uint8_t other[64];
    memset(other, 0x55, sizeof other);
    CHECK_EQ_INT(f6(e, 5, 0, 1, DGB, 64, &o), 0);
    CHECK_EQ_INT(f6(e, 5, 0, 1, other, 64, &o), 0);
    CHECK_EQ_INT(weird_n(e, "ipv6_fragment_overlap"), 2);
    CHECK_EQ_INT(f6(e, 5, 64, 0, DGB + 64, 36, &o), 0);

    /* an atomic fragment (offset 0, M 0) with the id of a pending set is a
     * whole datagram and leaves the set alone (RFC 6946) */
    CHECK_EQ_INT(f6(e, 6, 0, 1, DGB, 64, &o), 0);
    CHECK_EQ_INT(f6(e, 6, 0, 0, other, 40, &o), 1);
    CHECK_EQ_INT(o.fragmented, 0);
    CHECK_MEM(o.l4, o.l4_len, other, 40);
    CHECK_EQ_INT(f6(e, 6, 64, 0, DGB + 64, 36, &o), 1);
    CHECK_EQ_INT(o.fragmented, 1);
    CHECK_MEM(o.l4, o.l4_len, DGB, 100);
    CHECK_EQ_INT(weird_n(e, "ipv6_fragment_overlap"), 2);
    free_eng(e);

    /* an 8-byte IPv6 train, shuffled */
    e = mk_eng(FRAG_POLICY_BSD);
    uint32_t total = 4000, n = total / 8;
    int done = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = (uint32_t)((i * 7919u) % n) * 8;
        done += f6(e, 7, off, off + 8 < total, DGB + off, 8, &o);
    }
    CHECK_EQ_INT(done, 1);
    if (done) CHECK_MEM(o.l4, o.l4_len, DGB, total);
    CHECK_EQ_INT(e->stats.weirds, 0);
    free_eng(e);
}

int main(void) {
    RUN(policy_names);
    RUN(policy_rules);
    RUN(sturges_novak_ipv4);
    RUN(sturges_novak_ipv6_dropped);
    RUN(bsd_and_linux_cases);
    RUN(conflict_detail);
    RUN(policy_by_host);
    RUN(trains_8_and_24_bytes);
    RUN(memory_bound);
    RUN(fragment_count_bound);
    RUN(random_against_model);
    RUN(ipv6_overlap_duplicate_atomic);
    return check_report("frag");
}
