/* hosttable.c - address prefixes -> names, longest prefix wins (contract: hosttable.h).
 *
 * Parse splits the text at commas, reads each ADDRESS[/LEN]=NAME, masks the
 * address to its prefix, sorts the entries by family, prefix length
 * (longest first) and address, and rejects a prefix given twice. Lookup
 * walks the runs of one family and length, longest first, masking the
 * address once per run and binary-searching the run.
 */
#include "hosttable.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    hosttable_ent_t e;
    size_t at, len; /* the entry's text, for error messages */
    int ord;        /* 1-based position in the text */
} tmp_t;

static void mask(uint8_t *a, int plen, int bytes) {
    for (int i = 0; i < bytes; i++) {
        int keep = plen - i * 8;
        if (keep >= 8) continue;
        a[i] = keep <= 0 ? 0 : (uint8_t)(a[i] & (0xff << (8 - keep)));
    }
}

static int cmp_ent(const hosttable_ent_t *a, const hosttable_ent_t *b) {
    if (a->family != b->family) return a->family < b->family ? -1 : 1;
    if (a->plen != b->plen) return a->plen > b->plen ? -1 : 1;
    return memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16);
}

static int cmp_tmp(const void *x, const void *y) {
    const tmp_t *a = x, *b = y;
    int c = cmp_ent(&a->e, &b->e);
    return c ? c : a->ord - b->ord;
}

static void trim(const char **s, const char **e) {
    while (*s < *e && isspace((unsigned char)**s)) (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
}

/* one entry [s, e) into *out; 0, or -1 with why */
static int parse_entry(const char *s, const char *e, const char *const *names, hosttable_ent_t *out,
                       const char **why) {
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq) {
        *why = "expected ADDRESS[/LEN]=NAME";
        return -1;
    }
    const char *as = s, *ae = eq, *ns = eq + 1, *ne = e;
    trim(&as, &ae);
    trim(&ns, &ne);
    if (as == ae) {
        *why = "no address before '='";
        return -1;
    }
    if (ns == ne) {
        *why = "no name after '='";
        return -1;
    }
    const char *slash = memchr(as, '/', (size_t)(ae - as));
    const char *pe = slash ? slash : ae;
    char abuf[64];
    const char *t = pe;
    while (t > as && isspace((unsigned char)t[-1])) t--;
    if ((size_t)(t - as) >= sizeof abuf) {
        *why = "address too long";
        return -1;
    }
    memcpy(abuf, as, (size_t)(t - as));
    abuf[t - as] = 0;
    memset(out, 0, sizeof *out);
    int max;
    if (strchr(abuf, ':')) {
        if (inet_pton(AF_INET6, abuf, out->addr) != 1) {
            *why = "not an IPv6 address";
            return -1;
        }
        out->family = 6;
        max = 128;
    } else {
        if (inet_pton(AF_INET, abuf, out->addr) != 1) {
            *why = "not an IPv4 address (a.b.c.d)";
            return -1;
        }
        out->family = 4;
        max = 32;
    }
    int plen = max;
    if (slash) {
        const char *ls = slash + 1, *le = ae;
        trim(&ls, &le);
        if (ls == le || le - ls > 3) {
            *why = out->family == 4 ? "prefix length must be 0 to 32" : "prefix length must be 0 to 128";
            return -1;
        }
        plen = 0;
        for (const char *q = ls; q < le; q++) {
            if (!isdigit((unsigned char)*q)) {
                plen = -1;
                break;
            }
            plen = plen * 10 + (*q - '0');
        }
        if (plen < 0 || plen > max) {
            *why = out->family == 4 ? "prefix length must be 0 to 32" : "prefix length must be 0 to 128";
            return -1;
        }
    }
    out->plen = (uint8_t)plen;
    mask(out->addr, plen, out->family == 4 ? 4 : 16);
    for (int i = 0; names && names[i]; i++) {
        if (strlen(names[i]) == (size_t)(ne - ns) && !strncasecmp(names[i], ns, (size_t)(ne - ns))) {
            out->value = (uint16_t)i;
            return 0;
        }
    }
    *why = "unknown name";
    return -1;
}

/* "entry N 'TEXT': WHY" (the text cut to a readable length) */
static void entry_err(char *err, size_t errlen, int ord, const char *s, size_t len, const char *why,
                      const char *const *names, int list_names) {
    if (!err || !errlen) return;
    int shown = len > 60 ? 60 : (int)len;
    int k = snprintf(err, errlen, "entry %d '%.*s%s': %s", ord, shown, s, len > 60 ? "..." : "", why);
    if (!list_names || k < 0 || (size_t)k >= errlen) return;
    size_t at = (size_t)k;
    for (int i = 0; names && names[i] && at < errlen; i++) {
        k = snprintf(err + at, errlen - at, "%s%s", i ? ", " : " (one of: ", names[i]);
        if (k < 0) return;
        at += (size_t)k;
    }
    if (at < errlen) snprintf(err + at, errlen - at, ")");
}

int hosttable_parse(hosttable_t *t, const char *text, const char *const *names, char *err,
                    size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!text) text = "";
    size_t tl = strlen(text);
    if (tl > HOSTTABLE_MAX_TEXT) {
        if (err) snprintf(err, errlen, "host table text longer than %u bytes", HOSTTABLE_MAX_TEXT);
        return -1;
    }
    const char *s = text, *e = text + tl;
    trim(&s, &e);
    int cap = 0;
    if (s < e) {
        cap = 1;
        for (const char *q = s; q < e; q++) cap += *q == ',';
    }
    if (cap > HOSTTABLE_MAX) {
        if (err) snprintf(err, errlen, "more than %d host table entries", HOSTTABLE_MAX);
        return -1;
    }
    tmp_t *tmp = cap ? malloc((size_t)cap * sizeof *tmp) : NULL;
    if (cap && !tmp) {
        if (err) snprintf(err, errlen, "out of memory");
        return -1;
    }
    int n = 0;
    for (const char *p = s; cap && p <= e;) {
        const char *c = memchr(p, ',', (size_t)(e - p));
        const char *ee = c ? c : e;
        const char *es = p, *ex = ee;
        trim(&es, &ex);
        const char *why = NULL;
        if (es == ex) why = "empty entry";
        else if (parse_entry(es, ex, names, &tmp[n].e, &why) == 0) why = NULL;
        if (why) {
            entry_err(err, errlen, n + 1, es, (size_t)(ex - es), why, names, !strcmp(why, "unknown name"));
            free(tmp);
            return -1;
        }
        tmp[n].at = (size_t)(es - text);
        tmp[n].len = (size_t)(ex - es);
        tmp[n].ord = n + 1;
        n++;
        if (!c) break;
        p = c + 1;
    }
    if (n > 1) qsort(tmp, (size_t)n, sizeof *tmp, cmp_tmp);
    for (int i = 1; i < n; i++) {
        if (cmp_ent(&tmp[i - 1].e, &tmp[i].e)) continue;
        char why[48];
        snprintf(why, sizeof why, "the same prefix as entry %d", tmp[i - 1].ord);
        entry_err(err, errlen, tmp[i].ord, text + tmp[i].at, tmp[i].len, why, names, 0);
        free(tmp);
        return -1;
    }
    hosttable_ent_t *ent = n ? malloc((size_t)n * sizeof *ent) : NULL;
    if (n && !ent) {
        free(tmp);
        if (err) snprintf(err, errlen, "out of memory");
        return -1;
    }
    hosttable_t nt;
    memset(&nt, 0, sizeof nt);
    nt.ent = ent;
    nt.n = n;
    for (int i = 0; i < n; i++) {
        ent[i] = tmp[i].e;
        if (i == 0 || ent[i].family != ent[i - 1].family || ent[i].plen != ent[i - 1].plen) {
            hosttable_run_t *r = &nt.run[nt.nrun++];
            r->start = (uint16_t)i;
            r->n = 0;
            r->family = ent[i].family;
            r->plen = ent[i].plen;
        }
        nt.run[nt.nrun - 1].n++;
    }
    free(tmp);
    hosttable_free(t);
    *t = nt;
    return 0;
}

int hosttable_lookup(const hosttable_t *t, int family, const uint8_t *addr) {
    if (!t || !t->n || !addr || (family != 4 && family != 6)) return -1;
    int bytes = family == 4 ? 4 : 16;
    for (int r = 0; r < t->nrun; r++) {
        const hosttable_run_t *run = &t->run[r];
        if (run->family != family) continue;
        uint8_t a[16];
        memcpy(a, addr, (size_t)bytes);
        mask(a, run->plen, bytes);
        int lo = run->start, hi = run->start + run->n - 1;
        while (lo <= hi) {
            int mid = lo + (hi - lo) / 2;
            int c = memcmp(t->ent[mid].addr, a, (size_t)bytes);
            if (!c) return t->ent[mid].value;
            if (c < 0) lo = mid + 1;
            else hi = mid - 1;
        }
    }
    return -1;
}

void hosttable_free(hosttable_t *t) {
    if (!t) return;
    free(t->ent);
    memset(t, 0, sizeof *t);
}
