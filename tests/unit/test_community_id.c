/* test_community_id.c - eng_flow_community_id against the Community ID v1 spec's published
 * example (TCP 128.232.110.120:34855 -> 66.35.250.204:80, seed 0:
 * 1:LQU9qZlK+B5F3KDmev6m5PMibrg=) and values computed independently with Python's hashlib
 * (IPv6 UDP; equal ports; seed 1; GRE without ports); both directions give one id; ICMP none. */
#include <arpa/inet.h>
#include <string.h>

#include "check.h"
#include "engine.h"

static eng_flow_t flow(int fam, const char *a, int pa, const char *b, int pb, int proto) {
    eng_flow_t f;
    memset(&f, 0, sizeof f);
    f.family = (uint8_t)fam;
    f.proto = (uint8_t)proto;
    inet_pton(fam == 6 ? AF_INET6 : AF_INET, a, f.orig_addr);
    inet_pton(fam == 6 ? AF_INET6 : AF_INET, b, f.resp_addr);
    f.orig_port = (uint16_t)pa;
    f.resp_port = (uint16_t)pb;
    return f;
}

static int is(const eng_flow_t *f, unsigned seed, const char *want) {
    char buf[32];
    const char *got = eng_flow_community_id(f, seed, buf, sizeof buf);
    if (got && !strcmp(got, want)) return 1;
    fprintf(stderr, "    community id %s, expected %s\n", got ? got : "(none)", want);
    return 0;
}

TEST(spec_example_both_directions) {
    eng_flow_t f = flow(4, "128.232.110.120", 34855, "66.35.250.204", 80, 6);
    CHECK(is(&f, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="));
    eng_flow_t r = flow(4, "66.35.250.204", 80, "128.232.110.120", 34855, 6);
    CHECK(is(&r, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="));
}

TEST(ipv6_udp_seed_portless) {
    eng_flow_t u = flow(6, "2001:db8::1", 5353, "2001:db8::2", 53, 17);
    CHECK(is(&u, 0, "1:sEzqFsMvqwEs2PgSeOAwGpzkZJo="));
    eng_flow_t s = flow(4, "10.0.0.2", 80, "10.0.0.1", 80, 6);
    CHECK(is(&s, 1, "1:gXUSaMAsNzlcLFEP/gF7/IiB3i8="));
    eng_flow_t g = flow(4, "10.0.0.1", 0, "10.0.0.2", 0, 47);
    CHECK(is(&g, 0, "1:+KlEHDT0vJgzs/eNmzHq0aSpRYw="));
}

TEST(icmp_has_none) {
    eng_flow_t i = flow(4, "10.0.0.1", 0, "10.0.0.2", 0, 1);
    char buf[32];
    CHECK(eng_flow_community_id(&i, 0, buf, sizeof buf) == NULL);
    CHECK(eng_flow_community_id(NULL, 0, buf, sizeof buf) == NULL);
    eng_flow_t t = flow(4, "10.0.0.1", 1, "10.0.0.2", 2, 6);
    CHECK(eng_flow_community_id(&t, 0, buf, 16) == NULL); /* buffer too small */
}

int main(void) {
    RUN(spec_example_both_directions);
    RUN(ipv6_udp_seed_portless);
    RUN(icmp_has_none);
    return check_report("community_id");
}
