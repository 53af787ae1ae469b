/* sasl.c - credentials from a SASL exchange (contract: sasl.h) */
#include "sasl.h"

#include <string.h>

#include "text.h"

static void cred_set(uint8_t *dst, uint16_t *dlen, uint8_t *has, const uint8_t *p, size_t n) {
    if (n > SASL_CRED_MAX) n = SASL_CRED_MAX;
    memcpy(dst, p, n);
    *dlen = (uint16_t)n;
    *has = 1;
}
static void set_user(sasl_t *a, const uint8_t *p, size_t n) {
    cred_set(a->user, &a->ulen, &a->has_user, p, n);
}
static void set_pass(sasl_t *a, const uint8_t *p, size_t n) {
    cred_set(a->pass, &a->plen, &a->has_pass, p, n);
}

/* value of "key" in a list of items separated by sep ("n=bob,r=..."), or NULL */
static const uint8_t *kv_find(const uint8_t *p, size_t n, const char *key, uint8_t sep,
                              size_t *vlen) {
    size_t k = strlen(key);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != sep) j++;
        if (j - i >= k && memcmp(p + i, key, k) == 0) {
            *vlen = j - i - k;
            return p + i + k;
        }
        i = j + 1;
    }
    return NULL;
}

void sasl_start(sasl_t *a, const uint8_t *mech, size_t n) {
    memset(a, 0, sizeof *a);
    size_t keep = n > SASL_MECH_MAX ? SASL_MECH_MAX : n;
    for (size_t i = 0; i < keep; i++) a->name[i] = (char)txt_up(mech[i]);
    a->name[keep] = 0;
    const uint8_t *m = (const uint8_t *)a->name;
    if (txt_ieq(m, keep, "PLAIN")) a->mech = SASL_PLAIN;
    else if (txt_ieq(m, keep, "LOGIN")) a->mech = SASL_LOGIN;
    else if (txt_ieq(m, keep, "CRAM-MD5")) a->mech = SASL_CRAM;
    else if (txt_ieq(m, keep, "XOAUTH2")) a->mech = SASL_XOAUTH2;
    else if (txt_ieq(m, keep, "OAUTHBEARER")) a->mech = SASL_OAUTHBEARER;
    else if (txt_iprefix(m, keep, "SCRAM-")) a->mech = SASL_SCRAM;
}

int sasl_expected(const sasl_t *a) {
    return a->mech == SASL_PLAIN ? 1 : a->mech == SASL_LOGIN ? 2 : 0;
}

int sasl_response(sasl_t *a, const uint8_t *p, size_t n) {
    if (n == 1 && p[0] == '*') {
        a->cancelled = 1;
        return SASL_OK;
    }
    uint8_t buf[SASL_B64_MAX];
    long m = 0;
    if (!(n == 1 && p[0] == '=')) {
        m = txt_b64_decode(p, n, buf, sizeof buf);
        if (m > (long)sizeof buf) m = (long)sizeof buf; /* the start of a long response */
    }
    int rc = SASL_OK;
    size_t len = m > 0 ? (size_t)m : 0;
    if (m < 0) {
        rc = SASL_BAD_BASE64;
    } else {
        switch (a->mech) {
        case SASL_PLAIN: {
            const uint8_t *z1 = memchr(buf, 0, len);
            const uint8_t *z2 = z1 ? memchr(z1 + 1, 0, len - (size_t)(z1 + 1 - buf)) : NULL;
            if (z1 && z2) {
                size_t zl = (size_t)(z1 - buf);
                size_t cl = (size_t)(z2 - z1 - 1);
                if (cl) set_user(a, z1 + 1, cl);
                else set_user(a, buf, zl);
                set_pass(a, z2 + 1, len - (size_t)(z2 + 1 - buf));
            } else if (len) {
                rc = SASL_BAD_PLAIN;
            }
            break;
        }
        case SASL_LOGIN: {
            int as_pass = a->hint == 2 || (a->hint == 0 && a->has_user);
            if (a->hint == 1) as_pass = 0;
            if (as_pass) set_pass(a, buf, len);
            else set_user(a, buf, len);
            break;
        }
        case SASL_CRAM: {
            size_t sp = len;
            while (sp > 0 && buf[sp - 1] != ' ') sp--;
            if (sp > 1) set_user(a, buf, sp - 1);
            break;
        }
        case SASL_XOAUTH2: {
            size_t vl;
            const uint8_t *v = kv_find(buf, len, "user=", 1, &vl);
            if (v) set_user(a, v, vl);
            break;
        }
        case SASL_OAUTHBEARER: {
            const uint8_t *x = memchr(buf, 1, len); /* GS2 header ends at the first \1 */
            size_t hl = x ? (size_t)(x - buf) : len;
            size_t vl;
            const uint8_t *v = kv_find(buf, hl, "a=", ',', &vl);
            if (v) set_user(a, v, vl);
            break;
        }
        case SASL_SCRAM:
            if (a->nresp == 0) {
                size_t vl;
                const uint8_t *v = kv_find(buf, len, "n=", ',', &vl);
                if (v) set_user(a, v, vl);
            }
            break;
        default:
            break;
        }
    }
    if (a->nresp < 255) a->nresp++;
    return rc;
}

void sasl_challenge(sasl_t *a, const uint8_t *p, size_t n) {
    uint8_t buf[128];
    a->hint = 0;
    if (a->mech != SASL_LOGIN) return;
    long m = txt_b64_decode(p, n, buf, sizeof buf);
    if (m > (long)sizeof buf) m = (long)sizeof buf;
    if (m <= 0) return;
    if (txt_isearch(buf, (size_t)m, "pass")) a->hint = 2;
    else if (txt_isearch(buf, (size_t)m, "user")) a->hint = 1;
}
