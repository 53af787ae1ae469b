/* check.h - the unit tests' tiny harness.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_INT(a, b); CHECK_MEM(p, n, q, m); }
 *   int main(void) { RUN(name); ...; return check_report("reasm"); }
 *
 * Prints one line per failed check (file:line and the expression) and ends
 * with "N passed, N failed" for the suite; exits non-zero on any failure.
 */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>
#include <string.h>
#include <inttypes.h>

static int check_pass_, check_fail_, check_cur_failed_;
static const char *check_cur_;

#define TEST(name) static void name(void)
#define RUN(name)                                                                   \
    do {                                                                            \
        check_cur_ = #name;                                                         \
        check_cur_failed_ = 0;                                                      \
        name();                                                                     \
        if (check_cur_failed_) check_fail_++; else check_pass_++;                   \
    } while (0)
#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,    \
                    check_cur_, #cond);                                             \
            check_cur_failed_ = 1;                                                  \
        }                                                                           \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                          \
    do {                                                                            \
        long long a_ = (long long)(a), b_ = (long long)(b);                         \
        if (a_ != b_) {                                                             \
            fprintf(stderr, "%s:%d: %s: %s == %s: %lld != %lld\n", __FILE__,        \
                    __LINE__, check_cur_, #a, #b, a_, b_);                          \
            check_cur_failed_ = 1;                                                  \
        }                                                                           \
    } while (0)
#define CHECK_MEM(p, n, q, m)                                                       \
    do {                                                                            \
        size_t n_ = (size_t)(n), m_ = (size_t)(m);                                  \
        if (n_ != m_ || (n_ && memcmp((p), (q), n_) != 0)) {                        \
            fprintf(stderr, "%s:%d: %s: bytes differ: %s (%zu bytes) vs %s (%zu)\n", \
                    __FILE__, __LINE__, check_cur_, #p, n_, #q, m_);                \
            check_cur_failed_ = 1;                                                  \
        }                                                                           \
    } while (0)
#define CHECK_STR(a, b) CHECK_MEM((a), strlen(a), (b), strlen(b))

static inline int check_report(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}
#endif
