/* lua_module.c - the engine's C core as a Lua C module, `require "engine_core"`,
 * for lua/engine/testing.lua under busted (docs/testing.md).
 *
 * Built as build/engine_core.so WITHOUT -lluajit: Debian's luajit binary is
 * statically linked and exports the Lua API, so the module (and the child
 * Lua states it creates) use the host's one copy of the VM.
 *
 * Each instance is a fresh eng_t with its own Lua bridge, i.e. its own child
 * Lua state where the policy scripts run, exactly as under `engine -r`. The
 * caller's (busted's) state never runs a policy: specs are isolated from
 * each other and from busted. Log records are captured in memory: before any
 * script loads, the child's io.stdout is replaced by a sink that keeps what
 * is written, so engine/log.lua writes its usual JSON lines with `_path`;
 * take() hands them to the caller, which decodes them.
 *
 * Synthetic events (fire) are built as eng_event_t and go through eng_fire,
 * so they reach the bridge's subscriber and the engine module's dispatcher
 * like events from a decoder: same ev and flow proxies. Their flows are real
 * flow_t structures (so flow:set_service and flow:skip work on them) that
 * are not in the flow table: they end when flow.end is fired for them, or at
 * finish().
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "decoder.h"
#include "internal.h"
#include "lua_bridge.h"

#define MT "engine_core.instance"
#define MAX_DEPTH 8

typedef struct sflow {
    flow_t f;           /* must be first: FLOW() casts eng_flow_t * to flow_t * */
    char *key;
    char *svc;          /* storage behind f.pub.service when a spec set it */
    struct sflow *next;
} sflow_t;

typedef struct inst {
    eng_t *e;
    lbr_t *b;
    int take_ref;       /* the sink's take function, in the child's registry */
    sflow_t *flows;     /* live synthetic flows, in creation order */
    uint64_t nsynth;
} inst_t;

/* the sink: replaces io.stdout in the child before any script runs; non-log
 * writes (a script's io.stdout:write) are kept too and passed through by the
 * caller */
static const char SINK[] =
    "local buf, n = {}, 0\n"
    "local concat, tostring, select = table.concat, tostring, select\n"
    "local sink = {}\n"
    "function sink:write(...)\n"
    "  for i = 1, select('#', ...) do n = n + 1; buf[n] = tostring((select(i, ...))) end\n"
    "  return self\n"
    "end\n"
    "function sink:flush() return self end\n"
    "function sink:setvbuf() return true end\n"
    "function sink:close() return true end\n"
    "function sink:lines() return function() return nil end end\n"
    "setmetatable(sink, { __tostring = function() return 'file (engine.testing sink)' end })\n"
    "io.stdout = sink\n"
    "return function()\n"
    "  local s = concat(buf, '', 1, n)\n"
    "  buf, n = {}, 0\n"
    "  return s\n"
    "end\n";

static inst_t *check(lua_State *L) {
    inst_t *in = luaL_checkudata(L, 1, MT);
    if (!in->e) luaL_error(L, "engine instance is closed");
    return in;
}

/* ---- synthetic flows ------------------------------------------------------ */

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void synth_uid(char *out, uint64_t seed, uint64_t n) {
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t a = mix(seed ^ (0x7e57000000000000ULL + n)), b = mix(a + n);
    out[0] = 'C';
    for (int i = 1; i <= 17; i++) {
        uint64_t *w = i <= 10 ? &a : &b;
        out[i] = b62[*w % 62];
        *w /= 62;
    }
    out[18] = 0;
}

static void sflow_release(inst_t *in, sflow_t *s) {
    flow_t *f = &s->f;
    eng_t *e = in->e;
    if (f->dec) {
        const eng_decoder_t *d = f->dec;
        f->dec = NULL;
        e->busy++;
        if (d->end) d->end(e, &f->pub, f->dec_state);
        e->busy--;
        free(f->dec_state);
        f->dec_state = NULL;
    }
    reasm_dir_free(&e->reasm, &f->rd[0]);
    reasm_dir_free(&e->reasm, &f->rd[1]);
}

static void sflow_unlink(inst_t *in, sflow_t *s) {
    for (sflow_t **pp = &in->flows; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    free(s->key);
    free(s->svc);
    free(s);
}

/* end a synthetic flow like flow_end(): decoder end, flow.end, free */
static void sflow_end(inst_t *in, sflow_t *s, const char *reason) {
    eng_t *e = in->e;
    sflow_release(in, s);
    eng_event_t ev;
    ev_init(&ev, ENG_EV_FLOW_END, &s->f.pub);
    ev_set(&ev, ENG_F_FLOW_END_reason, ev_cstr(reason));
    eng_fire(e, &ev);
    s->f.pub.ended = 1;
    sflow_unlink(in, s);
}

static int opt_field(lua_State *L, int t, const char *name) {
    lua_getfield(L, t, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

static int64_t secs_to_ns(double s) { return (int64_t)llround(s * 1e9); }

static int set_state(flow_t *f, const char *st) {
    static const struct { const char *name; uint8_t o, r; } map[] = {
        {"S0", EP_SYN_SENT, EP_INACTIVE},   {"S1", EP_ESTABLISHED, EP_ESTABLISHED},
        {"SF", EP_CLOSED, EP_CLOSED},       {"REJ", EP_SYN_SENT, EP_RESET},
        {"S2", EP_CLOSED, EP_ESTABLISHED},  {"S3", EP_ESTABLISHED, EP_CLOSED},
        {"RSTO", EP_RESET, EP_ESTABLISHED}, {"RSTR", EP_ESTABLISHED, EP_RESET},
        {"SH", EP_CLOSED, EP_INACTIVE},     {"SHR", EP_INACTIVE, EP_CLOSED},
        {"RSTRH", EP_INACTIVE, EP_RESET},   {"OTH", EP_INACTIVE, EP_INACTIVE},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].name, st)) {
            f->tcp[0].state = map[i].o;
            f->tcp[1].state = map[i].r;
            return 0;
        }
    return -1;
}

static int parse_addr(const char *s, uint8_t out[16]) {
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out) == 1) return 4;
    if (inet_pton(AF_INET6, s, out) == 1) return 6;
    return 0;
}

/* the flow key: uid if given, else proto and the two endpoints */
static void flow_key(lua_State *L, int t, luaL_Buffer *kb) {
    luaL_buffinit(L, kb);
    if (opt_field(L, t, "uid")) {
        luaL_addstring(kb, "uid:");
        luaL_addvalue(kb);
        return;
    }
    static const char *const parts[] = {"proto", "orig_h", "orig_p", "resp_h", "resp_p", "vlan"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        lua_getfield(L, t, parts[i]);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushliteral(L, "-");
        } else {
            const char *v = lua_tostring(L, -1); /* converts a copy on the buffer's terms */
            if (!v) luaL_error(L, "flow field '%s' must be a string or a number", parts[i]);
        }
        luaL_addvalue(kb);
        luaL_addchar(kb, '|');
    }
}

static int num_field(lua_State *L, int t, const char *name, double *out) {
    if (!opt_field(L, t, name)) return 0;
    if (!lua_isnumber(L, -1)) luaL_error(L, "flow field '%s' must be a number", name);
    *out = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return 1;
}

static const char *str_field(lua_State *L, int t, const char *name) {
    if (!opt_field(L, t, name)) return NULL;
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "flow field '%s' must be a string", name);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the table */
    return s;
}

/* flow fields and their Lua type: 's' string, 'n' number, 'p' string or number */
static const struct { const char *name; char type; } FLOW_FIELDS[] = {
    {"uid", 's'},        {"proto", 'p'},      {"orig_h", 's'},       {"orig_p", 'n'},
    {"resp_h", 's'},     {"resp_p", 'n'},     {"service", 's'},      {"start_ts", 'n'},
    {"last_ts", 'n'},    {"orig_bytes", 'n'}, {"resp_bytes", 'n'},   {"orig_pkts", 'n'},
    {"resp_pkts", 'n'},  {"missed_bytes", 'n'}, {"state", 's'},      {"history", 's'},
    {"vlan", 'n'},       {"services", 's'},   {"parent_uid", 's'},   {"tunnel_parents", 's'}, {NULL, 0}};

/* find or create the synthetic flow described by the table at t; update its
 * fields from the table */
static sflow_t *synth_flow(lua_State *L, inst_t *in, int t) {
    eng_t *e = in->e;
    /* check every field first: nothing below raises once the flow is allocated */
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int i = 0;
        while (k && FLOW_FIELDS[i].name && strcmp(k, FLOW_FIELDS[i].name)) i++;
        if (!k || !FLOW_FIELDS[i].name)
            luaL_error(L, "unknown flow field '%s' (fields: uid proto orig_h orig_p resp_h resp_p "
                          "service start_ts last_ts orig_bytes resp_bytes orig_pkts resp_pkts "
                          "missed_bytes state history vlan services parent_uid tunnel_parents)", k ? k : "(not a string)");
        int lt = lua_type(L, -1), want = FLOW_FIELDS[i].type;
        if ((want == 's' && lt != LUA_TSTRING) || (want == 'n' && lt != LUA_TNUMBER) ||
            (want == 'p' && lt != LUA_TSTRING && lt != LUA_TNUMBER))
            luaL_error(L, "flow field '%s' must be a %s", k, want == 's' ? "string" : "number");
    }
    const char *st0 = str_field(L, t, "state");
    if (st0) {
        flow_t probe;
        if (set_state(&probe, st0)) luaL_error(L, "flow field 'state': unknown conn_state '%s'", st0);
    }
    luaL_Buffer kb;
    flow_key(L, t, &kb);
    luaL_pushresult(&kb);
    const char *key = lua_tostring(L, -1);
    sflow_t *s = in->flows, *last = NULL;
    for (; s; last = s, s = s->next)
        if (!strcmp(s->key, key)) break;
    double d;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || !(s->key = strdup(key))) {
            free(s);
            luaL_error(L, "out of memory");
        }
        flow_t *f = &s->f;
        f->eng = e;
        f->pub.id = ++e->ft.next_id;
        const char *uid = str_field(L, t, "uid");
        if (uid) snprintf(f->pub.uid, sizeof f->pub.uid, "%s", uid);
        else synth_uid(f->pub.uid, e->cfg.seed, ++in->nsynth);
        int proto = 6;
        if (opt_field(L, t, "proto")) {
            if (lua_type(L, -1) == LUA_TNUMBER) proto = (int)lua_tointeger(L, -1);
            else {
                const char *p = lua_tostring(L, -1);
                proto = !p ? -1 : !strcmp(p, "tcp") ? 6 : !strcmp(p, "udp") ? 17
                      : !strcmp(p, "icmp") ? 1 : !strcmp(p, "icmp6") ? 58 : -1;
            }
            lua_pop(L, 1);
            if (proto < 0 || proto > 255) {
                free(s->key);
                free(s);
                luaL_error(L, "flow field 'proto': \"tcp\", \"udp\", \"icmp\" or a number");
            }
        }
        f->pub.proto = (uint8_t)proto;
        const char *oh = str_field(L, t, "orig_h"), *rh = str_field(L, t, "resp_h");
        int fo = parse_addr(oh ? oh : "10.0.0.1", f->pub.orig_addr);
        int fr = parse_addr(rh ? rh : (oh && strchr(oh, ':') ? "2001:db8::2" : "10.0.0.2"),
                            f->pub.resp_addr);
        if (!fo || !fr || fo != fr) {
            free(s->key);
            free(s);
            luaL_error(L, "flow fields orig_h/resp_h: two IPv4 or two IPv6 addresses");
        }
        f->pub.family = (uint8_t)fo;
        f->pub.orig_port = num_field(L, t, "orig_p", &d) ? (uint16_t)d : 40000;
        f->pub.resp_port = num_field(L, t, "resp_p", &d) ? (uint16_t)d : 80;
        f->pub.start_ns = num_field(L, t, "start_ts", &d) ? secs_to_ns(d) : e->now;
        f->pub.last_ns = f->pub.start_ns;
        f->pub.pkts[0] = f->pub.pkts[1] = 1;
        f->tclass = proto == 6 ? TO_TCP : TO_OTHER;
        if (proto == 6) set_state(f, "S1");
        reasm_dir_init(&f->rd[0], f, ENG_ORIG);
        reasm_dir_init(&f->rd[1], f, ENG_RESP);
        f->detect_done = 1;
        if (last) last->next = s;
        else in->flows = s;
        e->stats.flows++;
    }
    lua_pop(L, 1); /* key */
    flow_t *f = &s->f;
    if (num_field(L, t, "vlan", &d)) {
        f->pub.vlan = (uint16_t)d;
        f->pub.has_vlan = 1;
    }
    if (num_field(L, t, "orig_bytes", &d)) f->pub.bytes[0] = (uint64_t)d;
    if (num_field(L, t, "resp_bytes", &d)) f->pub.bytes[1] = (uint64_t)d;
    if (num_field(L, t, "orig_pkts", &d)) f->pub.pkts[0] = (uint64_t)d;
    if (num_field(L, t, "resp_pkts", &d)) f->pub.pkts[1] = (uint64_t)d;
    if (num_field(L, t, "missed_bytes", &d)) f->pub.missed_bytes = (uint64_t)d;
    const char *h = str_field(L, t, "history");
    if (h) snprintf(f->pub.history, sizeof f->pub.history, "%s", h);
    const char *st = str_field(L, t, "state");
    if (st) set_state(f, st);
    const char *svcs = str_field(L, t, "services");
    if (svcs) snprintf(f->pub.services, sizeof f->pub.services, "%s", svcs);
    const char *puid = str_field(L, t, "parent_uid");
    if (puid) snprintf(f->pub.parent_uid, sizeof f->pub.parent_uid, "%s", puid);
    const char *tpar = str_field(L, t, "tunnel_parents"); /* comma-joined uids */
    if (tpar) snprintf(f->pub.tunnel_parents, sizeof f->pub.tunnel_parents, "%s", tpar);
    const char *svc = str_field(L, t, "service");
    if (svc && (!f->pub.service || strcmp(f->pub.service, svc))) {
        char *c = strdup(svc);
        if (c) {
            free(s->svc);
            s->svc = c;
            f->pub.service = c;
        }
    }
    if (num_field(L, t, "last_ts", &d)) f->pub.last_ns = secs_to_ns(d);
    else if (e->now > f->pub.last_ns) f->pub.last_ns = e->now;
    return s;
}

/* ---- event fields from Lua values ---------------------------------------- */

typedef struct scratch {
    void **p;
    int n, cap;
} scratch_t;

static void *scratch_alloc(lua_State *L, scratch_t *sc, size_t n) {
    if (sc->n == sc->cap) {
        int cap = sc->cap ? sc->cap * 2 : 8;
        void **np = realloc(sc->p, (size_t)cap * sizeof *np);
        if (!np) return NULL;
        sc->p = np;
        sc->cap = cap;
    }
    void *m = calloc(n ? n : 1, 1);
    if (m) sc->p[sc->n++] = m;
    (void)L;
    return m;
}

static void scratch_free(scratch_t *sc) {
    for (int i = 0; i < sc->n; i++) free(sc->p[i]);
    free(sc->p);
    sc->p = NULL;
    sc->n = sc->cap = 0;
}

/* 0 ok, else an error message (static) */
static const char *to_value(lua_State *L, int idx, int want, eng_value_t *v, scratch_t *sc,
                            int depth);

static const char *table_value(lua_State *L, int idx, int want, eng_value_t *v, scratch_t *sc,
                               int depth) {
    if (depth > MAX_DEPTH) return "nested too deeply";
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    size_t n = lua_objlen(L, idx), total = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) total++;
    int as_list = want == ENG_T_LIST || (want == ENG_T_NIL && (n == total && n > 0));
    if (want == ENG_T_NIL && total == 0) as_list = 1;
    if (as_list && n != total) return "a list must have keys 1..n only";
    size_t cnt = as_list ? n : 2 * total;
    if (cnt > 1u << 20) return "too many elements";
    eng_value_t *arr = scratch_alloc(L, sc, cnt * sizeof *arr);
    if (!arr) return "out of memory";
    if (as_list) {
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, idx, (int)i + 1);
            const char *err = to_value(L, -1, ENG_T_NIL, &arr[i], sc, depth + 1);
            lua_pop(L, 1);
            if (err) return err;
        }
        v->type = ENG_T_LIST;
        v->len = (uint32_t)n;
    } else {
        size_t i = 0;
        for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                lua_pop(L, 2);
                return "a map's keys must be strings";
            }
            size_t kl;
            const char *k = lua_tolstring(L, -2, &kl);
            arr[2 * i] = ev_str(k, kl, ENG_NO_OFFSET);
            const char *err = to_value(L, -1, ENG_T_NIL, &arr[2 * i + 1], sc, depth + 1);
            if (err) {
                lua_pop(L, 2);
                return err;
            }
            i++;
        }
        v->type = ENG_T_MAP;
        v->len = (uint32_t)total;
    }
    v->u.list = arr;
    v->offset = ENG_NO_OFFSET;
    return NULL;
}

static const char *to_value(lua_State *L, int idx, int want, eng_value_t *v, scratch_t *sc,
                            int depth) {
    int t = lua_type(L, idx);
    switch (t) {
    case LUA_TSTRING: {
        if (want != ENG_T_NIL && want != ENG_T_STR) return "wrong type (string)";
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (len > UINT32_MAX) return "string too long";
        *v = ev_str(s, len, ENG_NO_OFFSET);
        return NULL;
    }
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (want == ENG_T_NUM) *v = ev_num(d);
        else if (want == ENG_T_INT || want == ENG_T_NIL) {
            if (d != floor(d) || fabs(d) > 9007199254740992.0) {
                if (want == ENG_T_INT) return "must be an integer";
                *v = ev_num(d);
            } else {
                *v = ev_int((int64_t)d);
            }
        } else {
            return "wrong type (number)";
        }
        return NULL;
    }
    case LUA_TBOOLEAN:
        if (want != ENG_T_NIL && want != ENG_T_BOOL) return "wrong type (boolean)";
        *v = ev_bool(lua_toboolean(L, idx));
        return NULL;
    case LUA_TTABLE:
        if (want != ENG_T_NIL && want != ENG_T_LIST && want != ENG_T_MAP)
            return "wrong type (table)";
        return table_value(L, idx, want, v, sc, depth);
    default:
        return "unsupported Lua type";
    }
}

static const char *type_word(int t) {
    switch (t) {
    case ENG_T_STR: return "a string";
    case ENG_T_INT: return "an integer";
    case ENG_T_NUM: return "a number";
    case ENG_T_BOOL: return "a boolean";
    case ENG_T_LIST: return "a list";
    case ENG_T_MAP: return "a map (table)";
    default: return "a value";
    }
}

static void raise_failed(lua_State *L, inst_t *in) {
    if (lbr_failed(in->b)) {
        const char *m = lbr_error(in->b);
        luaL_error(L, "%s", m && *m ? m : "a policy script failed");
    }
}

/* inst:fire(name, fields, flowspec): flowspec a table, nil (a default
 * synthetic flow) or false (no flow) */
static int l_fire(lua_State *L) {
    inst_t *in = check(L);
    const char *name = luaL_checkstring(L, 2);
    int kind = eng_event_lookup(name);
    if (kind < 0) return luaL_error(L, "unknown event '%s'", name);
    if (kind == ENG_EV_ENGINE_DONE) return luaL_error(L, "engine.done: use eng:finish()");
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    int engine_level = kind == ENG_EV_ENGINE_INIT || kind == ENG_EV_ENGINE_TICK;
    raise_failed(L, in);
    lua_settop(L, 4);

    /* the flow first (it may raise; nothing is allocated yet) */
    sflow_t *s = NULL;
    if (!engine_level && !(lua_type(L, 4) == LUA_TBOOLEAN && !lua_toboolean(L, 4))) {
        if (lua_isnil(L, 4)) {
            lua_newtable(L);
            lua_replace(L, 4);
        }
        luaL_argcheck(L, lua_istable(L, 4), 4, "a table, nil (a default flow) or false (no flow)");
        s = synth_flow(L, in, 4);
    }

    eng_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.flow = s ? &s->f.pub : NULL;
    scratch_t sc = {0};
    int nf = eng_event_nfields(kind);
    char msg[256];
    msg[0] = 0;
    if (lua_istable(L, 3)) {
        for (lua_pushnil(L); lua_next(L, 3); lua_pop(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            int i = 0;
            for (; k && i < nf; i++)
                if (!strcmp(k, eng_event_field_name(kind, i))) break;
            if (!k || i >= nf) {
                snprintf(msg, sizeof msg, "event '%s' has no field '%s'", name,
                         k ? k : "(not a string)");
                lua_pop(L, 2);
                break;
            }
            int want = eng_event_field_type(kind, i);
            const char *err = to_value(L, -1, want, &ev.f[i], &sc, 0);
            if (err) {
                snprintf(msg, sizeof msg, "field '%s' of '%s' must be %s (%s)", k, name,
                         type_word(want), err);
                lua_pop(L, 2);
                break;
            }
            if (i + 1 > ev.nfields) ev.nfields = i + 1;
        }
    }
    if (msg[0]) {
        scratch_free(&sc);
        return luaL_error(L, "%s", msg);
    }
    /* fields below the highest given that were not given are absent (NIL) */
    if (kind == ENG_EV_FLOW_END && s) {
        const char *reason = ev.f[0].type == ENG_T_STR ? NULL : "closed";
        char rbuf[64];
        if (!reason) {
            size_t l = ev.f[0].len < sizeof rbuf - 1 ? ev.f[0].len : sizeof rbuf - 1;
            memcpy(rbuf, ev.f[0].u.s, l);
            rbuf[l] = 0;
            reason = rbuf;
        }
        sflow_end(in, s, reason);
    } else {
        eng_fire(in->e, &ev);
    }
    scratch_free(&sc);
    raise_failed(L, in);
    return 0;
}

/* ---- the instance ---------------------------------------------------------- */

static void inst_close(inst_t *in) {
    if (!in->e) return;
    if (in->b) {
        lua_State *CL = lbr_state(in->b);
        if (CL && in->take_ref != LUA_NOREF && !lbr_dead(in->b))
            luaL_unref(CL, LUA_REGISTRYINDEX, in->take_ref);
        lbr_free(in->b);
        in->b = NULL;
    }
    while (in->flows) {
        sflow_t *s = in->flows;
        sflow_release(in, s);
        sflow_unlink(in, s);
    }
    eng_free(in->e);
    in->e = NULL;
}

/* core.new(home, config) -> instance: a fresh engine and Lua bridge with the
 * log sink installed; no script loaded yet */
static int l_new(lua_State *L) {
    const char *home = luaL_optstring(L, 1, NULL);
    inst_t *in = lua_newuserdata(L, sizeof *in);
    memset(in, 0, sizeof *in);
    in->take_ref = LUA_NOREF;
    luaL_getmetatable(L, MT);
    lua_setmetatable(L, -2);
    int ud = lua_gettop(L);
    in->e = eng_new();
    if (!in->e) return luaL_error(L, "out of memory");
    char err[1024];
    if (lua_istable(L, 2)) {
        for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING) continue;
            const char *k = lua_tostring(L, -2);
            const char *v;
            if (lua_type(L, -1) == LUA_TBOOLEAN) v = lua_toboolean(L, -1) ? "true" : "false";
            else v = lua_tostring(L, -1); /* a number converts on the stack: fine for the value */
            if (!v) {
                inst_close(in);
                return luaL_error(L, "config '%s': a string, number or boolean", k);
            }
            err[0] = 0;
            if (eng_config_set(in->e, k, v, err, sizeof err)) {
                char m[1200];
                snprintf(m, sizeof m, "config %s=%s: %s", k, v, err);
                inst_close(in);
                return luaL_error(L, "%s", m);
            }
        }
    }
    err[0] = 0;
    in->b = lbr_new(in->e, home, NULL, err, sizeof err);
    if (!in->b) {
        inst_close(in);
        return luaL_error(L, "%s", err[0] ? err : "cannot start the Lua bridge");
    }
    lua_State *CL = lbr_state(in->b);
    if (luaL_loadbuffer(CL, SINK, sizeof SINK - 1, "=engine_core.sink") || lua_pcall(CL, 0, 1, 0)) {
        snprintf(err, sizeof err, "%s", lua_tostring(CL, -1));
        lua_settop(CL, 0);
        inst_close(in);
        return luaL_error(L, "%s", err);
    }
    in->take_ref = luaL_ref(CL, LUA_REGISTRYINDEX);
    lua_settop(CL, 0);
    lua_settop(L, ud);
    return 1;
}

static int load_result(lua_State *L, int rc, const char *err) {
    if (rc == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, err[0] ? err : "script failed");
    return 2;
}

/* inst:load(path) / inst:load_default() / inst:load_string(code, name):
 * true, or nil and "file:line: message" */
static int l_load(lua_State *L) {
    inst_t *in = check(L);
    char err[2048];
    err[0] = 0;
    return load_result(L, lbr_load_file(in->b, luaL_checkstring(L, 2), err, sizeof err), err);
}

static int l_load_default(lua_State *L) {
    inst_t *in = check(L);
    char err[2048];
    err[0] = 0;
    return load_result(L, lbr_load_default(in->b, err, sizeof err), err);
}

static int l_load_string(lua_State *L) {
    inst_t *in = check(L);
    char err[2048];
    err[0] = 0;
    return load_result(L, lbr_load_string(in->b, luaL_checkstring(L, 2),
                                          luaL_optstring(L, 3, "=(engine.testing)"), err,
                                          sizeof err), err);
}

/* inst:start([seconds]): engine.init, and the clock set to `seconds` if given */
static int l_start(lua_State *L) {
    inst_t *in = check(L);
    if (lua_isnumber(L, 2)) eng_advance(in->e, secs_to_ns(lua_tonumber(L, 2)));
    else eng_start(in->e);
    raise_failed(L, in);
    return 0;
}

/* inst:read(path[, bpf]) -> 0 | 2 (cut off: warning in the second result);
 * raises on 1 */
static int l_read(lua_State *L) {
    inst_t *in = check(L);
    const char *path = luaL_checkstring(L, 2);
    const char *bpf = luaL_optstring(L, 3, NULL);
    char err[1024];
    err[0] = 0;
    int rc = eng_read_file(in->e, path, bpf, err, sizeof err);
    if (rc == 1) return luaL_error(L, "%s", err[0] ? err : path);
    raise_failed(L, in);
    lua_pushinteger(L, rc);
    if (rc == 2) {
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

/* inst:advance(seconds): move network time forward (timers, ticks) */
static int l_advance(lua_State *L) {
    inst_t *in = check(L);
    double s = luaL_checknumber(L, 2);
    luaL_argcheck(L, s >= 0 && s < 1e9, 2, "seconds must be >= 0");
    eng_advance(in->e, eng_now(in->e) + secs_to_ns(s));
    raise_failed(L, in);
    return 0;
}

static int l_now(lua_State *L) {
    inst_t *in = check(L);
    int64_t n = eng_now(in->e);
    lua_pushnumber(L, ns_to_secs(n));
    return 1;
}

/* inst:finish(): synthetic flows end ("eof"), then every real flow, due
 * timers, engine.done, logs flushed */
static int l_finish(lua_State *L) {
    inst_t *in = check(L);
    if (!in->e->finished) {
        if (!in->e->started) eng_start(in->e);
        while (in->flows && !lbr_failed(in->b)) sflow_end(in, in->flows, "eof");
        eng_finish(in->e);
    }
    raise_failed(L, in);
    return 0;
}

/* inst:take() -> what the child wrote to io.stdout since the last take */
static int l_take(lua_State *L) {
    inst_t *in = check(L);
    if (lbr_dead(in->b)) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_State *CL = lbr_state(in->b);
    lua_rawgeti(CL, LUA_REGISTRYINDEX, in->take_ref);
    if (lua_pcall(CL, 0, 1, 0)) {
        lua_settop(CL, 0);
        return luaL_error(L, "engine.testing: cannot read the log sink");
    }
    size_t n;
    const char *s = lua_tolstring(CL, -1, &n);
    lua_pushlstring(L, s ? s : "", s ? n : 0);
    lua_settop(CL, 0);
    return 1;
}

/* inst:eval(code) -> the chunk's first result as a string (run in the child) */
static int l_eval(lua_State *L) {
    inst_t *in = check(L);
    size_t len;
    const char *code = luaL_checklstring(L, 2, &len);
    if (lbr_dead(in->b)) return luaL_error(L, "the Lua state was abandoned");
    lua_State *CL = lbr_state(in->b);
    if (luaL_loadbuffer(CL, code, len, "=(engine.testing)") || lua_pcall(CL, 0, 1, 0)) {
        lua_pushstring(L, lua_tostring(CL, -1));
        lua_settop(CL, 0);
        return lua_error(L);
    }
    size_t n;
    const char *s = lua_tolstring(CL, -1, &n);
    if (s) lua_pushlstring(L, s, n);
    else lua_pushnil(L);
    lua_settop(CL, 0);
    return 1;
}

/* inst:failed() -> nil, or the message that stopped the run */
static int l_failed(lua_State *L) {
    inst_t *in = check(L);
    if (!lbr_failed(in->b)) return 0;
    lua_pushstring(L, lbr_error(in->b));
    return 1;
}

static int l_close(lua_State *L) {
    inst_t *in = luaL_checkudata(L, 1, MT);
    inst_close(in);
    return 0;
}

/* core.events() -> { name = { field = type, ... } } (for error messages) */
static int l_events(lua_State *L) {
    lua_newtable(L);
    for (int k = 0; k < eng_event_count(); k++) {
        lua_newtable(L);
        for (int i = 0; i < eng_event_nfields(k); i++) {
            lua_pushstring(L, type_word(eng_event_field_type(k, i)));
            lua_setfield(L, -2, eng_event_field_name(k, i));
        }
        lua_setfield(L, -2, eng_event_name(k));
    }
    return 1;
}

int luaopen_engine_core(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"load", l_load},       {"load_default", l_load_default}, {"load_string", l_load_string},
        {"start", l_start},     {"read", l_read},                 {"fire", l_fire},
        {"advance", l_advance}, {"now", l_now},                   {"finish", l_finish},
        {"take", l_take},       {"eval", l_eval},                 {"failed", l_failed},
        {"close", l_close},     {NULL, NULL},
    };
    if (luaL_newmetatable(L, MT)) {
        lua_newtable(L);
        luaL_register(L, NULL, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "new");
    lua_pushcfunction(L, l_events);
    lua_setfield(L, -2, "events");
    lua_pushstring(L, ENG_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
