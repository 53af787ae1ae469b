/* hosttable.h - a table of address prefixes (IPv4 and IPv6), each naming one
 * of a caller's list of allowed names: "which policy applies to this host".
 *
 *   static const char *const names[] = {"first", "last", "bsd", NULL};
 *   hosttable_t t = {0};                       (zero: the empty table)
 *   if (hosttable_parse(&t, "10.0.0.0/8=bsd,10.1.2.3=last,2001:db8::/32=first",
 *                       names, err, sizeof err)) ... err names the bad entry
 *   int v = hosttable_lookup(&t, 4, addr);     index in names, or -1
 *   hosttable_free(&t);
 *
 * The text is entries separated by commas; an entry is ADDRESS[/LEN]=NAME
 * (spaces around the parts are ignored). ADDRESS is dotted IPv4 or IPv6 text;
 * without /LEN it is one host (/32, /128). Bits past the prefix length are
 * ignored (10.1.2.3/8 is 10.0.0.0/8). NAME must be one of `names` (compared
 * without case); the value of an entry is its index in `names`. The same
 * prefix twice is an error. An empty (or all-space) text is the empty table.
 *
 * Lookup returns the value of the longest prefix that contains the address
 * (IPv4 entries match IPv4 addresses only, IPv6 entries IPv6 only), or -1.
 * Its cost is a binary search per distinct prefix length in the table (at
 * most 33 for IPv4, 129 for IPv6), whatever the number of entries.
 *
 * Bounded: at most HOSTTABLE_MAX entries and HOSTTABLE_MAX_TEXT bytes of
 * text. The table owns one allocation (the entries); parse builds the new
 * table aside and replaces `t` only on success, so on error `t` is unchanged.
 * A table is read-only after parse: lookups from several threads are safe.
 */
#ifndef ENGINE_HOSTTABLE_H
#define ENGINE_HOSTTABLE_H

#include <stddef.h>
#include <stdint.h>

#define HOSTTABLE_MAX 4096
#define HOSTTABLE_MAX_TEXT (256u << 10)

typedef struct hosttable_ent {
    uint8_t addr[16]; /* the prefix, bits past plen zero; IPv4 in the first 4 bytes */
    uint8_t family;   /* 4 or 6 */
    uint8_t plen;     /* 0..32 or 0..128 */
    uint16_t value;   /* index in the names list */
} hosttable_ent_t;

/* the entries of one family and prefix length: ent[start .. start+n) */
typedef struct hosttable_run {
    uint16_t start, n;
    uint8_t family, plen;
} hosttable_run_t;

typedef struct hosttable {
    hosttable_ent_t *ent; /* sorted: family, plen descending, addr */
    int n;
    int nrun;
    hosttable_run_t run[33 + 129]; /* in lookup order: longest prefixes first */
} hosttable_t;

/* Parse `text` (see above) with `names` (NULL-terminated) into t. Returns 0,
 * or -1 with a message naming the bad entry in err (t unchanged). */
int hosttable_parse(hosttable_t *t, const char *text, const char *const *names, char *err,
                    size_t errlen);
/* family 4 (addr: 4 bytes) or 6 (16 bytes): value of the longest matching prefix, or -1 */
int hosttable_lookup(const hosttable_t *t, int family, const uint8_t *addr);
void hosttable_free(hosttable_t *t);

#endif
