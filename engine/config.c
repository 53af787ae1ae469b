/* config.c - configuration keys (`--set KEY=VALUE`, lua-api.md "Configuration").
 *
 * Keys the core knows are typed and checked here; other keys (a script's own,
 * e.g. ftp.log_passwords) are kept as text for scripts to read through
 * engine.config. Values: integers with optional size suffix (k, M, G, KiB,
 * MiB, GiB), seconds (float, optional "s"/"ms"), booleans (true/false/1/0/yes/no).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "files.h"
#include "internal.h"

typedef enum { K_BYTES, K_COUNT, K_SECONDS, K_BOOL, K_OVERLAP, K_BODY, K_PORT } kind_t;

typedef struct key {
    const char *name;
    kind_t kind;
    const char *def; /* default, as text */
    size_t off;      /* offset in eng_cfg_t */
} cfg_key_t;

#define O(f) offsetof(eng_cfg_t, f)
static const cfg_key_t keys[] = {
    {"tcp.overlap", K_OVERLAP, "first", O(tcp_overlap)},
    {"tcp.max_ooo_bytes", K_BYTES, "1MiB", O(tcp_max_ooo_bytes)},
    {"tcp.max_total_bytes", K_BYTES, "256MiB", O(tcp_max_total_bytes)},
    {"flow.max", K_COUNT, "1000000", O(flow_max)},
    {"flow.tcp_timeout", K_SECONDS, "300", O(tcp_timeout_ns)},
    {"flow.tcp_closed_timeout", K_SECONDS, "5", O(tcp_closed_timeout_ns)},
    {"flow.udp_timeout", K_SECONDS, "60", O(udp_timeout_ns)},
    {"ip.frag_timeout", K_SECONDS, "30", O(frag_timeout_ns)},
    {"ip.max_frag_bytes", K_BYTES, "64MiB", O(max_frag_bytes)},
    {"stream.max_line", K_BYTES, "16KiB", O(max_line)},
    {"http.max_body", K_BODY, "unlimited", O(http_max_body)},
    {"mime.max_depth", K_COUNT, "16", O(mime_max_depth)},
    {"lua.strict", K_BOOL, "false", O(lua_strict)},
    {"lua.handler_timeout_ms", K_COUNT, "1000", O(lua_handler_timeout_ms)},
    {"engine.seed", K_COUNT, "0", O(seed)},
    {"tunnel.decapsulate", K_BOOL, "true", O(tunnel_decapsulate)},
    {"tunnel.max_depth", K_COUNT, "4", O(tunnel_max_depth)},
    {"tunnel.vxlan_port", K_PORT, "4789", O(tunnel_vxlan_port)},
    {"tunnel.geneve_port", K_PORT, "6081", O(tunnel_geneve_port)},
    {"tunnel.gtpu_port", K_PORT, "2152", O(tunnel_gtpu_port)},
    {"engine.detect", K_BOOL, "true", O(detect)},
};
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

struct cfg_extra {
    int n, cap;
    char **key, **val;
};

int cfg_parse_u64(const char *s, int sizes, uint64_t *out) {
    errno = 0;
    char *end;
    if (!isdigit((unsigned char)*s)) return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    uint64_t mul = 1;
    if (*end && sizes) {
        if (!strcasecmp(end, "k") || !strcasecmp(end, "kib") || !strcasecmp(end, "kb")) mul = 1ULL << 10;
        else if (!strcasecmp(end, "m") || !strcasecmp(end, "mib") || !strcasecmp(end, "mb")) mul = 1ULL << 20;
        else if (!strcasecmp(end, "g") || !strcasecmp(end, "gib") || !strcasecmp(end, "gb")) mul = 1ULL << 30;
        else return -1;
    } else if (*end) {
        return -1;
    }
    if (v > UINT64_MAX / mul) return -1;
    *out = (uint64_t)v * mul;
    return 0;
}

static int parse_seconds(const char *s, int64_t *ns) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0 || v > 1e9) return -1;
    if (!strcmp(end, "ms")) v /= 1000;
    else if (*end && strcmp(end, "s")) return -1;
    *ns = (int64_t)(v * 1e9);
    return 0;
}

static int parse_bool(const char *s, int *b) {
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "on")) *b = 1;
    else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no") || !strcasecmp(s, "off")) *b = 0;
    else return -1;
    return 0;
}

static int apply(eng_cfg_t *c, const cfg_key_t *k, const char *v) {
    char *p = (char *)c + k->off;
    switch (k->kind) {
    case K_BYTES:
    case K_COUNT: {
        uint64_t x;
        if (cfg_parse_u64(v, k->kind == K_BYTES, &x)) return -1;
        memcpy(p, &x, sizeof x);
        return 0;
    }
    case K_PORT: {
        uint64_t x;
        if (cfg_parse_u64(v, 0, &x) || x > 65535) return -1;
        memcpy(p, &x, sizeof x);
        return 0;
    }
    case K_BODY: {
        uint64_t x = 0;
        if (strcasecmp(v, "unlimited") && (cfg_parse_u64(v, 1, &x) || x == 0)) return -1;
        memcpy(p, &x, sizeof x);
        return 0;
    }
    case K_SECONDS: {
        int64_t x;
        if (parse_seconds(v, &x)) return -1;
        memcpy(p, &x, sizeof x);
        return 0;
    }
    case K_BOOL: {
        int b;
        if (parse_bool(v, &b)) return -1;
        memcpy(p, &b, sizeof b);
        return 0;
    }
    case K_OVERLAP: {
        int o;
        if (!strcmp(v, "first")) o = REASM_FIRST;
        else if (!strcmp(v, "last")) o = REASM_LAST;
        else return -1;
        memcpy(p, &o, sizeof o);
        return 0;
    }
    }
    return -1;
}

static const char *expect(kind_t k) {
    switch (k) {
    case K_BYTES: return "a byte count such as 65536, 64KiB or 1MiB";
    case K_COUNT: return "a non-negative integer";
    case K_SECONDS: return "seconds, such as 30, 0.5 or 250ms";
    case K_BOOL: return "true or false";
    case K_OVERLAP: return "first or last";
    case K_BODY: return "a byte count or unlimited";
    case K_PORT: return "a port number, 0 to 65535 (0: none)";
    }
    return "";
}

void cfg_defaults(eng_cfg_t *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < NKEYS; i++) apply(c, &keys[i], keys[i].def);
}

static void set_text(eng_t *e, int i, const char *v) {
    if (!e->cfg_text) e->cfg_text = calloc(NKEYS, sizeof(char *));
    if (!e->cfg_text) return;
    free(e->cfg_text[i]);
    e->cfg_text[i] = strdup(v);
}

/* keys must look like a.b (letters, digits, _ and dots) */
static int valid_key(const char *k) {
    if (!*k || *k == '.') return 0;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-') return 0;
    return 1;
}

int eng_config_set(eng_t *e, const char *key, const char *value, char *err, size_t errlen) {
    for (int i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, key)) continue;
        eng_cfg_t c = e->cfg;
        if (apply(&c, &keys[i], value)) {
            snprintf(err, errlen, "bad value '%s' for %s: expected %s", value, key, expect(keys[i].kind));
            return -1;
        }
        if (!strcmp(key, "tcp.max_ooo_bytes") && c.tcp_max_ooo_bytes > 0xffffffffULL) {
            snprintf(err, errlen, "bad value '%s' for %s: at most 4GiB-1", value, key);
            return -1;
        }
        if (!strcmp(key, "stream.max_line") && (c.max_line < 64 || c.max_line > (1u << 24))) {
            snprintf(err, errlen, "bad value '%s' for %s: between 64 and 16MiB", value, key);
            return -1;
        }
        e->cfg = c;
        e->reasm.max_ooo = c.tcp_max_ooo_bytes;
        e->reasm.max_total = c.tcp_max_total_bytes;
        e->reasm.overlap_policy = c.tcp_overlap;
        int b;
        /* booleans read back as "true"/"false" whatever the spelling: "0" in
         * Lua would be a true value */
        if (keys[i].kind == K_BOOL && !parse_bool(value, &b)) value = b ? "true" : "false";
        set_text(e, i, value);
        return 0;
    }
    if (!valid_key(key)) {
        snprintf(err, errlen, "bad configuration key '%s'", key);
        return -1;
    }
    if (!strcmp(key, "files.extract") && files_extract_check(value, err, errlen)) return -1;
    if (!e->extra && !(e->extra = calloc(1, sizeof *e->extra))) goto oom;
    cfg_extra_t *x = e->extra;
    for (int i = 0; i < x->n; i++) {
        if (!strcmp(x->key[i], key)) {
            char *v = strdup(value);
            if (!v) goto oom;
            free(x->val[i]);
            x->val[i] = v;
            if (!strcmp(key, "files.extract")) files_extract_config(e);
            return 0;
        }
    }
    if (x->n == x->cap) {
        int cap = x->cap ? x->cap * 2 : 8;
        char **k2 = realloc(x->key, cap * sizeof *k2);
        if (!k2) goto oom;
        x->key = k2;
        char **v2 = realloc(x->val, cap * sizeof *v2);
        if (!v2) goto oom;
        x->val = v2;
        x->cap = cap;
    }
    x->key[x->n] = strdup(key);
    x->val[x->n] = strdup(value);
    if (!x->key[x->n] || !x->val[x->n]) goto oom;
    x->n++;
    if (!strcmp(key, "files.extract")) files_extract_config(e);
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int eng_config_count(const eng_t *e) { return NKEYS + (e->extra ? e->extra->n : 0); }

const char *eng_config_key(const eng_t *e, int i) {
    if (i < 0) return NULL;
    if (i < NKEYS) return keys[i].name;
    i -= NKEYS;
    return e->extra && i < e->extra->n ? e->extra->key[i] : NULL;
}

const char *eng_config_value(const eng_t *e, int i) {
    if (i < 0) return NULL;
    if (i < NKEYS) return e->cfg_text && e->cfg_text[i] ? e->cfg_text[i] : keys[i].def;
    i -= NKEYS;
    return e->extra && i < e->extra->n ? e->extra->val[i] : NULL;
}

void cfg_free_extra(eng_t *e) {
    if (e->extra) {
        for (int i = 0; i < e->extra->n; i++) {
            free(e->extra->key[i]);
            free(e->extra->val[i]);
        }
        free(e->extra->key);
        free(e->extra->val);
        free(e->extra);
        e->extra = NULL;
    }
    if (e->cfg_text) {
        for (int i = 0; i < NKEYS; i++) free(e->cfg_text[i]);
        free(e->cfg_text);
        e->cfg_text = NULL;
    }
}

const char *cfg_lookup(const eng_t *e, const char *key) {
    if (!key) return NULL;
    for (int i = 0; i < eng_config_count(e); i++) {
        const char *k = eng_config_key(e, i);
        if (k && !strcmp(k, key)) return eng_config_value(e, i);
    }
    return NULL;
}

/* ---- the getters of decoder.h -------------------------------------------- */

uint32_t dec_max_line(const eng_t *e) {
    return (uint32_t)(e->cfg.max_line ? e->cfg.max_line : 16384);
}
uint64_t dec_http_max_body(const eng_t *e) { return e->cfg.http_max_body; }
uint64_t dec_mime_max_depth(const eng_t *e) { return e->cfg.mime_max_depth; }
const char *dec_config(const eng_t *e, const char *key) { return cfg_lookup(e, key); }
uint64_t dec_config_u64(const eng_t *e, const char *key, uint64_t dflt) {
    const char *v = cfg_lookup(e, key);
    uint64_t x;
    return v && !cfg_parse_u64(v, 1, &x) ? x : dflt;
}
