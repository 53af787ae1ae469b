/* config.c - configuration keys (`--set KEY=VALUE`, lua-api.md "Configuration").
 *
 * Every key the core, the decoders and the shipped scripts read is in the table
 * below, typed and checked, with its default and meaning (--list-config,
 * docs/reference/config.md). Other keys are kept as text for scripts to read
 * through engine.config; the command line accepts them only when a loaded
 * script declared them (engine.config_key). Values: integers with optional
 * size suffix (k, M, G, KiB, MiB, GiB), seconds (float, optional "s"/"ms"),
 * booleans (true/false/1/0/yes/no).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "files.h"
#include "internal.h"

typedef enum { K_BYTES, K_COUNT, K_SECONDS, K_BOOL, K_OVERLAP, K_HOSTS, K_BODY, K_PORT, K_TEXT, K_VERIFY, K_FRAGPOL, K_URGENT } kind_t;

typedef struct key {
    const char *name;
    kind_t kind;
    const char *def; /* default, as text */
    size_t off;      /* offset in eng_cfg_t, or NOFF: kept as text only (a decoder's or a script's key) */
    const char *doc; /* meaning, for --list-config and docs/reference/config.md */
} cfg_key_t;

#define NOFF ((size_t)-1)
#define O(f) offsetof(eng_cfg_t, f)
/* Every key the engine and its shipped scripts read. `--set` of a key not here is a
 * usage error unless a loaded script declares it (engine.config_key). */
static const cfg_key_t keys[] = {
    {"tcp.overlap", K_OVERLAP, "first", O(tcp_overlap),
     "overlap policy of hosts not in tcp.overlap_by_host: which copy of retransmitted bytes that differ from bytes buffered out of order a receiving host of that kind keeps (first: the old, last: the new, the others as that system does; docs/architecture.md, Overlap policies); delivered bytes stay; either way a tcp.overlap event with conflict = true and a tcp_overlap_conflict weird"},
    {"tcp.check_delivered_overlaps", K_BOOL, "true", O(tcp_delivered_overlaps),
     "keep each direction's last 4 KiB delivered (once its peer has spoken, while tcp.overlap or weird has a subscriber) so that a retransmission differing from bytes already delivered is a conflict (tcp.overlap, weird tcp_overlap_conflict); false: 8 KiB less per TCP flow, such conflicts unseen"},
    {"tcp.overlap_by_host", K_HOSTS, "", NOFF,
     "overlap policies by receiving host, ADDRESS[/LEN]=POLICY separated by commas (10.0.0.0/8=windows,192.168.1.5=linux,2001:db8::/32=bsd): the bytes a host receives follow its policy, the longest prefix wins, other hosts follow tcp.overlap; at most 4096 entries; @FILE reads them from a file (one or more a line, # comments)"},
    {"tcp.checksum", K_VERIFY, "off", O(tcp_checksum),
     "verify: drop TCP segments with a wrong checksum (weird bad_tcp_checksum), as the host does; off by default: offloading leaves partial checksums in captures"},
    {"tcp.urgent", K_URGENT, "inline", O(tcp_urgent),
     "a segment with the URG flag (weird tcp_urgent_data): inline keeps its bytes in the stream; drop ignores the whole segment; oob removes the urgent byte (the one before the urgent pointer) from the stream, as a host reading without SO_OOBINLINE; gap makes that byte a 1-byte gap"},
    {"ip.checksum", K_VERIFY, "off", O(ip_checksum),
     "verify: drop IPv4 packets with a wrong header checksum (weird bad_ip_checksum)"},
    {"ip.min_ttl", K_COUNT, "0", O(ip_min_ttl),
     "drop packets whose TTL or hop limit is below this, which expire before the host behind the sensor (weird ip_ttl_below_min; 0: off)"},
    {"tcp.max_ooo_bytes", K_BYTES, "1MiB", O(tcp_max_ooo_bytes),
     "out-of-order bytes buffered per direction before a gap is declared and the stream skips ahead (at most 4GiB-1)"},
    {"tcp.max_total_bytes", K_BYTES, "256MiB", O(tcp_max_total_bytes),
     "out-of-order bytes buffered across all flows; past it the oldest holes are declared gaps"},
    {"engine.memcap", K_BYTES, "1GiB", O(memcap),
     "bytes all flows' buffers may hold together: reassembly (as tcp.max_total_bytes counts) and decoders' line and unit buffers, header maps, pending transactions; past it the flow holding the most is cut (weird memcap_flow_cut; 0: no cap)"},
    {"flow.max", K_COUNT, "1000000", O(flow_max),
     "flows tracked at once; past it a flow ends (reason evicted): the least recently active closed or not established one (no TCP handshake, one-way UDP), else of those with a handshake and no payload, else of the rest; counted by kind, weird flow_evicted_*"},
    {"flow.tcp_timeout", K_SECONDS, "300", O(tcp_timeout_ns), "inactivity timeout of a TCP flow, in network time"},
    {"flow.tcp_closed_timeout", K_SECONDS, "5", O(tcp_closed_timeout_ns),
     "how long a closed (FIN/RST) TCP flow is kept for late packets"},
    {"flow.udp_timeout", K_SECONDS, "60", O(udp_timeout_ns), "inactivity timeout of a UDP or other IP flow"},
    {"ip.frag_timeout", K_SECONDS, "30", O(frag_timeout_ns),
     "an incomplete IP datagram's fragments are dropped after this"},
    {"ip.max_frag_bytes", K_BYTES, "64MiB", O(max_frag_bytes),
     "fragment bytes buffered in all (data, block owners, fragment tables); past it the oldest incomplete datagrams are dropped (weird frag_buffer_full)"},
    {"ip.frag_policy", K_FRAGPOL, "bsd", O(frag_policy),
     "which bytes a host keeps where IPv4 fragments overlap: first, last, bsd, bsd-right, linux, windows or solaris (docs/decoders.md, IP fragments); IPv6 overlaps always drop the datagram"},
    {"ip.frag_policy_by_host", K_HOSTS, "", NOFF,
     "ip.frag_policy per destination: PREFIX=POLICY separated by commas (10.0.0.0/8=windows,10.1.2.3=linux), longest prefix wins; other destinations get ip.frag_policy; @FILE reads them from a file (one or more a line, # comments)"},
    {"stream.max_line", K_BYTES, "16KiB", O(max_line),
     "longest line (or protocol unit) a line-based decoder buffers, 64 to 16MiB; a longer one is a weird"},
    {"http.max_body", K_BODY, "unlimited", O(http_max_body), "decoded body bytes delivered per HTTP message"},
    {"mime.max_depth", K_COUNT, "16", O(mime_max_depth), "nested multipart depth decoded in a MIME message"},
    {"lua.strict", K_BOOL, "false", O(lua_strict), "a handler error stops the run (exit 1) instead of being counted"},
    {"lua.handler_timeout_ms", K_COUNT, "1000", O(lua_handler_timeout_ms),
     "a Lua handler running longer is interrupted with an error (0: no limit)"},
    {"lua.unsafe", K_BOOL, "false", O(lua_unsafe),
     "no sandbox: scripts get os.execute, os.exit (a clean stop), io.popen, ffi, debug, writing anywhere"},
    {"lua.max_memory", K_BYTES, "1GiB", O(lua_max_memory),
     "bytes the Lua state may hold; an allocation past it fails the handler, not the run (0: no cap)"},
    {"lua.jit_scripts", K_BOOL, "false", O(lua_jit_scripts),
     "compile the loops of scripts too (faster; the watchdog then cannot stop a compiled runaway loop)"},
    {"lua.max_timeouts", K_COUNT, "3", O(lua_max_timeouts),
     "timeouts after which a handler is switched off (0: never)"},
    {"engine.seed", K_COUNT, "0", O(seed),
     "seed of uids and fuids; the command line picks a random one unless this is set, so set it for repeatable logs"},
    {"tunnel.decapsulate", K_BOOL, "true", O(tunnel_decapsulate),
     "decode the inner packets of tunnels (GRE with ERSPAN/WCCP/PPTP, VXLAN, Geneve, GTP-U)"},
    {"tunnel.max_depth", K_COUNT, "4", O(tunnel_max_depth), "tunnels inside tunnels decoded at most"},
    {"tunnel.vxlan_port", K_PORT, "4789", O(tunnel_vxlan_port), "UDP port decoded as VXLAN (0: none)"},
    {"tunnel.geneve_port", K_PORT, "6081", O(tunnel_geneve_port), "UDP port decoded as Geneve (0: none)"},
    {"tunnel.gtpu_port", K_PORT, "2152", O(tunnel_gtpu_port), "UDP port decoded as GTP-U (0: none)"},
    {"engine.detect", K_BOOL, "true", O(detect),
     "attach decoders by detecting protocols (payload and ports); false: flows and reassembly only"},
    /* decoders' keys (dec_config / dec_config_u64) */
    {"dns.max_pending", K_COUNT, "64", NOFF,
     "DNS queries (and orphan responses) waiting per flow, in the decoder and in the dns log script"},
    {"dns.query_timeout", K_COUNT, "10", NOFF,
     "seconds a DNS query waits for its answer before it is given up (decoder and dns log)"},
    {"tls.max_handshake", K_BYTES, "64KiB", NOFF, "largest TLS handshake message decoded (1KiB to 16MiB)"},
    {"files.digests", K_TEXT, "md5,sha1,sha256", NOFF,
     "digests the files framework computes: md5, sha1, sha256 separated by commas (empty: none)"},
    {"files.sniff_memo", K_BOOL, "true", NOFF, "remember libmagic's verdict on identical file prefixes"},
    {"files.extract", K_TEXT, "", NOFF,
     "a folder: every file's bytes are written there as extract-<ts>-<SOURCE>-<fuid> (files.log extracted); empty: no extraction"},
    {"files.extract_max_bytes", K_BYTES, "100MiB", NOFF,
     "bytes extracted per file; a longer file is cut (files.log extracted_cutoff)"},
    {"files.extract_total_max_bytes", K_BYTES, "10GiB", NOFF,
     "bytes extracted in the whole run (0: no cap); files starting after it is spent are not extracted"},
    {"files.extract_mime", K_TEXT, "", NOFF,
     "extract only these MIME types, separated by commas: exact types or families (image/ or image/*); empty: all"},
    /* the log writer's keys (lua/engine/log.lua, lua/engine.lua) */
    {"log.format", K_TEXT, "json", NOFF,
     "json (one object per line) or tsv (Zeek's ASCII format with #fields/#types headers; needs -o DIR)"},
    {"log.rotate", K_TEXT, "", NOFF,
     "seconds: with -o DIR, close and rename every log at multiples of it in network time (conn__OPEN__CLOSE__.log, Zeek's pattern); empty: no rotation"},
    {"log.ordered", K_BOOL, "true", NOFF,
     "-j N: the records of each log in the order of the network time they were written at (that of -j 1, ties between workers in worker order), through a reorder buffer; false: each worker's records go out in blocks as they come"},
    {"log.reorder_bytes", K_BYTES, "64MiB", NOFF,
     "-j N with log.ordered: records waiting for the slower workers at most; past it the earliest go out anyway (counted, and a warning at the end)"},
    /* shipped scripts' keys (scripts/logs/) */
    {"dns.max_pending_total", K_COUNT, "100000", NOFF, "DNS queries waiting in all flows in the dns log script"},
    {"ftp.log_passwords", K_BOOL, "false", NOFF, "the ftp log writes the password of USER/PASS logins"},
    {"flow.community_id_seed", K_COUNT, "0", NOFF,
     "seed of the Community ID (flow.community_id, conn.log community_id), 0 to 65535, as Zeek's CommunityID::seed"},
    {"net.local", K_TEXT, "", NOFF,
     "local networks, CIDR prefixes separated by commas (10.0.0.0/8,fd00::/8): conn.log local_orig/local_resp (Zeek's Site::local_nets); empty: none"},
    {"http.capture_password", K_BOOL, "false", NOFF,
     "the http log writes the password of Basic authorization (Zeek's HTTP::default_capture_password)"},
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
    uint64_t scratch; /* a text-only key is checked, not stored */
    char *p = k->off == NOFF ? (char *)&scratch : (char *)c + k->off;
    switch (k->kind) {
    case K_TEXT: return 0;
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
    case K_VERIFY: {
        int o;
        if (!strcmp(v, "off")) o = 0;
        else if (!strcmp(v, "verify")) o = 1;
        else return -1;
        memcpy(p, &o, sizeof o);
        return 0;
    }
    case K_URGENT: {
        int o;
        if (!strcmp(v, "inline")) o = TCP_URG_INLINE;
        else if (!strcmp(v, "drop")) o = TCP_URG_DROP;
        else if (!strcmp(v, "oob")) o = TCP_URG_OOB;
        else if (!strcmp(v, "gap")) o = TCP_URG_GAP;
        else return -1;
        memcpy(p, &o, sizeof o);
        return 0;
    }
    case K_FRAGPOL: {
        int o = frag_policy_parse(v, strlen(v));
        if (o < 0) return -1;
        memcpy(p, &o, sizeof o);
        return 0;
    }
    case K_OVERLAP: {
        int o = reasm_policy_by_name(v);
        if (o < 0) return -1;
        memcpy(p, &o, sizeof o);
        return 0;
    }
    case K_HOSTS: { /* checked, and installed, by eng_config_set */
        if (!strcmp(k->name, "ip.frag_policy_by_host")) return 0;
        hosttable_t t = {0};
        int rc = hosttable_parse(&t, v, reasm_policy_names, NULL, 0);
        hosttable_free(&t);
        return rc;
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
    case K_OVERLAP: return "a policy: first, last, linux, old-linux, bsd, bsd-right, old-solaris, solaris, hpux10, hpux11, irix, macos, vista, windows or windows2k3";
    case K_HOSTS: return "ADDRESS[/LEN]=POLICY entries separated by commas, or @FILE";
    case K_VERIFY: return "off or verify";
    case K_URGENT: return "inline, drop, oob or gap";
    case K_FRAGPOL: return "first, last, bsd, bsd-right, linux, windows or solaris";
    case K_BODY: return "a byte count or unlimited";
    case K_PORT: return "a port number, 0 to 65535 (0: none)";
    case K_TEXT: return "text";
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

/* "@FILE" for a table of hosts: the file's entries, one or more a line
 * (separated by commas), '#' to the end of a line a comment, blank lines and
 * spaces ignored; returned as "e1,e2,..." (malloc'd), or NULL with err set */
#define HOSTS_FILE_MAX (256 * 1024)
static char *read_hosts_file(const char *path, char *err, size_t errlen) {
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *out = malloc(HOSTS_FILE_MAX + 1);
    size_t n = 0;
    int c, comment = 0, sep = 1; /* sep: the last byte written is a comma (or none yet) */
    while (out && (c = getc(fp)) != EOF) {
        if (c == '\n') comment = 0;
        if (comment || c == ' ' || c == '\t' || c == '\r') continue;
        if (c == '#') {
            comment = 1;
            continue;
        }
        if (c == '\n' || c == ',') {
            if (!sep) out[n++] = ',';
            sep = 1;
            continue;
        }
        if (n >= HOSTS_FILE_MAX) {
            snprintf(err, errlen, "%s: more than %d bytes of entries", path, HOSTS_FILE_MAX);
            free(out);
            out = NULL;
            break;
        }
        out[n++] = (char)c;
        sep = 0;
    }
    if (!out && n == 0 && !err[0]) snprintf(err, errlen, "out of memory");
    if (out && ferror(fp)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        free(out);
        out = NULL;
    }
    fclose(fp);
    if (!out) return NULL;
    if (n && out[n - 1] == ',') n--;
    out[n] = 0;
    return out;
}

int eng_config_set(eng_t *e, const char *key, const char *value, char *err, size_t errlen) {
    for (int i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, key)) continue;
        eng_cfg_t c = e->cfg;
        if (keys[i].kind == K_HOSTS) {
            char herr[320] = "";
            char *text = value[0] == '@' ? read_hosts_file(value + 1, herr, sizeof herr) : NULL;
            const char *v = value[0] == '@' ? text : value;
            int bad = !v || (!strcmp(key, "ip.frag_policy_by_host")
                                 ? frag_policy_hosts(&e->frag_hosts, v, herr, sizeof herr)
                                 : hosttable_parse(&e->tcp_hosts, v, reasm_policy_names, herr, sizeof herr));
            free(text);
            if (bad) {
                snprintf(err, errlen, "bad value for %s: %s", key, herr);
                return -1;
            }
        } else if (apply(&c, &keys[i], value)) {
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
        if (!strcmp(key, "files.extract") && files_extract_check(value, err, errlen)) return -1;
        e->cfg = c;
        e->reasm.max_ooo = c.tcp_max_ooo_bytes;
        e->reasm.max_total = c.tcp_max_total_bytes;
        e->mem.limit = c.memcap;
        e->reasm.overlap_policy = c.tcp_overlap;
        int b;
        /* booleans read back as "true"/"false" whatever the spelling: "0" in
         * Lua would be a true value */
        if (keys[i].kind == K_BOOL && !parse_bool(value, &b)) value = b ? "true" : "false";
        set_text(e, i, value);
        if (!strcmp(key, "files.extract")) files_extract_config(e);
        return 0;
    }
    if (!valid_key(key)) {
        snprintf(err, errlen, "bad configuration key '%s'", key);
        return -1;
    }
    if (!e->extra && !(e->extra = calloc(1, sizeof *e->extra))) goto oom;
    cfg_extra_t *x = e->extra;
    for (int i = 0; i < x->n; i++) {
        if (!strcmp(x->key[i], key)) {
            char *v = strdup(value);
            if (!v) goto oom;
            free(x->val[i]);
            x->val[i] = v;
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
    hosttable_free(&e->frag_hosts);
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
    hosttable_free(&e->tcp_hosts);
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

/* ---- the table, for --list-config and the unknown-key check --------------- */

static const char *kind_name(kind_t k) {
    switch (k) {
    case K_BYTES: return "bytes";
    case K_COUNT: return "count";
    case K_SECONDS: return "seconds";
    case K_BOOL: return "bool";
    case K_OVERLAP: return "policy";
    case K_HOSTS: return "hosts";
    case K_VERIFY: return "off|verify";
    case K_URGENT: return "inline|drop|oob|gap";
    case K_FRAGPOL: return "policy";
    case K_BODY: return "bytes|unlimited";
    case K_PORT: return "port";
    case K_TEXT: return "text";
    }
    return "?";
}

int eng_config_known_count(void) { return NKEYS; }

int eng_config_known_info(int i, const char **name, const char **type, const char **def,
                          const char **doc) {
    if (i < 0 || i >= NKEYS) return -1;
    if (name) *name = keys[i].name;
    if (type) *type = kind_name(keys[i].kind);
    if (def) *def = keys[i].def;
    if (doc) *doc = keys[i].doc;
    return 0;
}

int eng_config_known(const char *key) {
    for (int i = 0; key && i < NKEYS; i++)
        if (!strcmp(keys[i].name, key)) return 1;
    return 0;
}

/* Levenshtein distance of two short strings (longer ones are cut at 63 bytes) */
static int edit_distance(const char *a, const char *b) {
    int la = (int)strnlen(a, 63), lb = (int)strnlen(b, 63);
    int prev[64], cur[64];
    for (int j = 0; j <= lb; j++) prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int v = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            cur[j] = v;
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

const char *eng_config_nearest(const char *key) {
    const char *best = NULL;
    int bd = 1 << 30;
    for (int i = 0; key && i < NKEYS; i++) {
        int d = edit_distance(key, keys[i].name);
        if (d < bd) {
            bd = d;
            best = keys[i].name;
        }
    }
    return best;
}
