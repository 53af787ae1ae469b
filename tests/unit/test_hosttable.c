/* test_hosttable.c - address prefixes -> names (engine/hosttable.c): parsing,
 * its errors (each naming the bad entry), longest-prefix lookup for IPv4 and
 * IPv6 against a brute-force reference on random tables, the bounds. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hosttable.h"

static const char *const names[] = {"first", "last", "bsd", "linux", "windows", NULL};

static int look4(const hosttable_t *t, const char *s) {
    uint8_t a[4];
    if (inet_pton(AF_INET, s, a) != 1) return -99;
    return hosttable_lookup(t, 4, a);
}

static int look6(const hosttable_t *t, const char *s) {
    uint8_t a[16];
    if (inet_pton(AF_INET6, s, a) != 1) return -99;
    return hosttable_lookup(t, 6, a);
}

TEST(parse_and_longest_prefix) {
    hosttable_t t = {0};
    char err[256];
    int rc = hosttable_parse(&t, "10.0.0.0/8=windows, 10.1.0.0/16 = linux,10.1.2.3=bsd,"
                                 "0.0.0.0/0=last,2001:db8::/32=bsd,2001:db8:1::/48=linux,::1=first",
                             names, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(t.n, 7);
    CHECK_EQ_INT(look4(&t, "10.9.9.9"), 4);   /* windows */
    CHECK_EQ_INT(look4(&t, "10.1.9.9"), 3);   /* linux: /16 beats /8 */
    CHECK_EQ_INT(look4(&t, "10.1.2.3"), 2);   /* bsd: the host */
    CHECK_EQ_INT(look4(&t, "10.1.2.4"), 3);
    CHECK_EQ_INT(look4(&t, "192.168.1.1"), 1); /* the default route */
    CHECK_EQ_INT(look6(&t, "2001:db8:2::5"), 2);
    CHECK_EQ_INT(look6(&t, "2001:db8:1:ffff::5"), 3);
    CHECK_EQ_INT(look6(&t, "::1"), 0);
    CHECK_EQ_INT(look6(&t, "::2"), -1);        /* 0.0.0.0/0 is IPv4 only */
    CHECK_EQ_INT(look6(&t, "2001:db9::"), -1);
    uint8_t a[16] = {0};
    CHECK_EQ_INT(hosttable_lookup(&t, 5, a), -1);
    CHECK_EQ_INT(hosttable_lookup(&t, 4, NULL), -1);
    hosttable_free(&t);
    CHECK_EQ_INT(t.n, 0);
    CHECK_EQ_INT(look4(&t, "10.1.2.3"), -1); /* the empty table */
}

TEST(host_bits_masked_case_and_empty) {
    hosttable_t t = {0};
    char err[256];
    CHECK_EQ_INT(hosttable_parse(&t, "10.1.2.3/8=BSD,192.168.1.129/25=Linux", names, err, sizeof err), 0);
    CHECK_EQ_INT(look4(&t, "10.200.0.1"), 2);
    CHECK_EQ_INT(look4(&t, "192.168.1.200"), 3);
    CHECK_EQ_INT(look4(&t, "192.168.1.100"), -1);
    CHECK_EQ_INT(hosttable_parse(&t, "  ", names, err, sizeof err), 0);
    CHECK_EQ_INT(t.n, 0);
    CHECK_EQ_INT(hosttable_parse(&t, "", names, err, sizeof err), 0);
    CHECK_EQ_INT(hosttable_parse(&t, NULL, names, err, sizeof err), 0);
    CHECK_EQ_INT(hosttable_parse(&t, "1.2.3.4/0=first", names, err, sizeof err), 0);
    CHECK_EQ_INT(look4(&t, "200.1.1.1"), 0);
    CHECK_EQ_INT(hosttable_parse(&t, "1.2.3.4/32=first,1.2.3.5/31=last", names, err, sizeof err), 0);
    CHECK_EQ_INT(look4(&t, "1.2.3.4"), 0);
    CHECK_EQ_INT(look4(&t, "1.2.3.5"), 1);
    CHECK_EQ_INT(hosttable_parse(&t, "2001:db8::1/127=bsd", names, err, sizeof err), 0);
    CHECK_EQ_INT(look6(&t, "2001:db8::"), 2);
    CHECK_EQ_INT(look6(&t, "2001:db8::2"), -1);
    hosttable_free(&t);
}

/* the error names the entry (its number and text) and says what is wrong;
 * the table keeps its previous contents */
static void bad(const char *text, const char *want) {
    hosttable_t t = {0};
    char err[256];
    CHECK_EQ_INT(hosttable_parse(&t, "10.0.0.0/8=bsd", names, err, sizeof err), 0);
    err[0] = 0;
    int rc = hosttable_parse(&t, text, names, err, sizeof err);
    CHECK_EQ_INT(rc, -1);
    if (!strstr(err, want)) {
        fprintf(stderr, "    '%s': error '%s' lacks '%s'\n", text, err, want);
        CHECK(0);
    }
    CHECK_EQ_INT(t.n, 1);
    CHECK_EQ_INT(look4(&t, "10.2.3.4"), 2);
    hosttable_free(&t);
}

TEST(errors_name_the_entry) {
    bad("10.0.0.0/8=bsd,10.0.0.0/33=linux", "entry 2 '10.0.0.0/33=linux': prefix length must be 0 to 32");
    bad("2001:db8::/129=bsd", "entry 1 '2001:db8::/129=bsd': prefix length must be 0 to 128");
    bad("10.0.0.0/=bsd", "entry 1 '10.0.0.0/=bsd': prefix length");
    bad("10.0.0.0/8x=bsd", "prefix length");
    bad("10.0.0.0/-1=bsd", "prefix length");
    bad("1.2.3=bsd", "entry 1 '1.2.3=bsd': not an IPv4 address");
    bad("1.2.3.256=bsd", "not an IPv4 address");
    bad("2001:db8:::1=bsd", "entry 1 '2001:db8:::1=bsd': not an IPv6 address");
    bad("10.0.0.1=solaris9", "entry 1 '10.0.0.1=solaris9': unknown name (one of: first, last, bsd, linux, windows)");
    bad("10.0.0.1", "entry 1 '10.0.0.1': expected ADDRESS[/LEN]=NAME");
    bad("10.0.0.1=", "no name after '='");
    bad("=bsd", "no address before '='");
    bad("10.0.0.1=bsd,,10.0.0.2=bsd", "entry 2 '': empty entry");
    bad("10.0.0.1=bsd,", "entry 2 '': empty entry");
    bad("10.0.0.0/8=bsd,192.168.0.0/16=linux,10.9.0.0/8=windows",
        "entry 3 '10.9.0.0/8=windows': the same prefix as entry 1");
    bad("hostname.example=bsd", "not an IPv4 address");
    char big[128];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bad(big, "expected ADDRESS"); /* a long entry is cut in the message */
    /* a tiny buffer: cut, terminated, no overflow */
    hosttable_t t = {0};
    char small[8];
    memset(small, 'Z', sizeof small);
    CHECK_EQ_INT(hosttable_parse(&t, "10.0.0.1=nope", names, small, sizeof small), -1);
    CHECK(memchr(small, 0, sizeof small) != NULL);
    CHECK_EQ_INT(hosttable_parse(&t, "10.0.0.1=nope", names, NULL, 0), -1);
}

TEST(bounds) {
    /* HOSTTABLE_MAX entries parse; one more is refused */
    size_t cap = (size_t)(HOSTTABLE_MAX + 1) * 24;
    char *s = malloc(cap);
    size_t at = 0;
    for (int i = 0; i < HOSTTABLE_MAX; i++)
        at += (size_t)snprintf(s + at, cap - at, "%s10.%d.%d.0/24=linux", i ? "," : "", i / 256, i % 256);
    hosttable_t t = {0};
    char err[256];
    CHECK_EQ_INT(hosttable_parse(&t, s, names, err, sizeof err), 0);
    CHECK_EQ_INT(t.n, HOSTTABLE_MAX);
    CHECK_EQ_INT(t.nrun, 1);
    CHECK_EQ_INT(look4(&t, "10.15.255.7"), 3);
    CHECK_EQ_INT(look4(&t, "10.16.0.7"), -1);
    snprintf(s + at, cap - at, ",11.0.0.0/8=bsd");
    CHECK_EQ_INT(hosttable_parse(&t, s, names, err, sizeof err), -1);
    CHECK(strstr(err, "more than 4096") != NULL);
    CHECK_EQ_INT(t.n, HOSTTABLE_MAX);
    free(s);
    s = malloc(HOSTTABLE_MAX_TEXT + 2);
    memset(s, ' ', HOSTTABLE_MAX_TEXT + 1);
    s[HOSTTABLE_MAX_TEXT + 1] = 0;
    CHECK_EQ_INT(hosttable_parse(&t, s, names, err, sizeof err), -1);
    CHECK(strstr(err, "longer than") != NULL);
    free(s);
    hosttable_free(&t);
}

/* random tables of both families, each lookup against a linear scan */
static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs >> 11);
}

static int in_prefix(const uint8_t *a, const uint8_t *p, int plen) {
    for (int b = 0; b < plen; b++)
        if (((a[b / 8] ^ p[b / 8]) >> (7 - b % 8)) & 1) return 0;
    return 1;
}

TEST(random_against_linear_scan) {
    int mismatches = 0;
    for (int round = 0; round < 40; round++) {
        int fam = round & 1 ? 6 : 4, bytes = fam == 4 ? 4 : 16, max = fam == 4 ? 32 : 128;
        int n = 1 + (int)(rnd() % 60);
        uint8_t pre[60][16], len[60];
        int val[60];
        char text[60 * 64];
        size_t at = 0;
        int k = 0;
        for (int i = 0; i < n; i++) {
            uint8_t a[16] = {0};
            /* few distinct high bits, so prefixes nest */
            for (int j = 0; j < bytes; j++) a[j] = (uint8_t)(j < 2 ? rnd() % 3 : rnd());
            int pl = (int)(rnd() % (max + 1));
            uint8_t m[16];
            memcpy(m, a, 16);
            for (int b = pl; b < max; b++) m[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
            int dup = 0;
            for (int j = 0; j < k; j++) dup |= len[j] == pl && !memcmp(pre[j], m, (size_t)bytes);
            if (dup) continue;
            memcpy(pre[k], m, 16);
            len[k] = (uint8_t)pl;
            val[k] = (int)(rnd() % 5);
            char as[64];
            inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, as, sizeof as);
            at += (size_t)snprintf(text + at, sizeof text - at, "%s%s/%d=%s", k ? "," : "", as, pl, names[val[k]]);
            k++;
        }
        hosttable_t t = {0};
        char err[256];
        if (hosttable_parse(&t, text, names, err, sizeof err)) {
            fprintf(stderr, "    parse: %s\n", err);
            CHECK(0);
            continue;
        }
        CHECK_EQ_INT(t.n, k);
        for (int q = 0; q < 500; q++) {
            uint8_t a[16];
            if (q % 2) memcpy(a, pre[rnd() % (unsigned)k], 16);
            for (int j = 0; j < bytes; j++)
                if (q % 2 == 0 || rnd() % 4 == 0) a[j] = (uint8_t)(j < 2 ? rnd() % 3 : rnd());
            int best = -1, bl = -1;
            for (int j = 0; j < k; j++)
                if (len[j] > bl && in_prefix(a, pre[j], len[j])) {
                    bl = len[j];
                    best = val[j];
                }
            if (hosttable_lookup(&t, fam, a) != best) mismatches++;
        }
        hosttable_free(&t);
    }
    CHECK_EQ_INT(mismatches, 0);
}

int main(void) {
    RUN(parse_and_longest_prefix);
    RUN(host_bits_masked_case_and_empty);
    RUN(errors_name_the_entry);
    RUN(bounds);
    RUN(random_against_linear_scan);
    return check_report("hosttable");
}
