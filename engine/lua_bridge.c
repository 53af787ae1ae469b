/* lua_bridge.c - the LuaJIT layer over one engine instance (lua_bridge.h).
 *
 * One bridge = one lua_State bound to one eng_t. lua/engine.lua is loaded as
 * a chunk and given a "boot" table; everything the Lua side needs from C is
 * in one struct of function pointers (struct lbr_api) whose address is in
 * that table, so the same Lua code works in the engine binary, in a test
 * program without -Wl,-E, or in a Lua C module loaded by busted.
 *
 * Dispatch: the bridge subscribes one C callback per event kind that has at
 * least one Lua handler. The callback stores the event pointer in a shared
 * struct (read by Lua through an FFI pointer obtained once), then calls the
 * Lua dispatcher (a registry ref) with the kind as an integer. The dispatcher
 * runs the handlers in order, writing the running handler's index into the
 * shared struct; when one fails, the error is reported and counted here and
 * the dispatcher is called again from the next handler.
 *
 * Watchdog: a thread per bridge (started at the first dispatch when
 * lua.handler_timeout_ms > 0) samples (generation, handler index) every few
 * ms. If the same handler runs past the timeout it signals the Lua thread
 * (SIGURG), whose handler installs a count hook that raises an error. Hooks
 * do not run inside compiled traces (docs/lua.md): if the handler is still
 * running after a grace period, a second signal jumps out of the Lua state
 * for good (siglongjmp); the bridge is then dead and the run fails.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>

#include "files.h"
#include "internal.h"
#include "lua_bridge.h"

#define WD_SIGNAL SIGURG /* ignored by default: a stray one does no harm */
#define MAX_PRINTED_TRACES 10
#define MAX_PRINTED_ERRORS 100

/* ---- shared with Lua (lua/engine.lua declares the same layouts) ---------- */

struct lbr_shared {
    const eng_event_t *ev;     /* the event being dispatched */
    volatile int32_t cur;      /* index of the running handler (Lua writes) */
    int32_t nproxies;          /* live flow proxies (Lua writes) */
    volatile uint64_t gen;     /* dispatch generation (C writes) */
};

struct lbr_api {
    size_t sizeof_event, sizeof_flow, sizeof_stats, sizeof_value, sizeof_shared;
    int event_count, max_fields, history_len;
    eng_t *e;
    lbr_t *b;
    struct lbr_shared *sh;
    /* catalogue */
    int (*eng_event_count)(void);
    const char *(*eng_event_name)(int);
    int (*eng_event_nfields)(int);
    const char *(*eng_event_field_name)(int, int);
    int (*eng_event_field_type)(int, int);
    /* instance */
    int64_t (*eng_now)(const eng_t *);
    const char *(*eng_flow_state)(const eng_flow_t *);
    char *(*eng_flow_addr)(const eng_flow_t *, int, char *, size_t);
    const char *(*eng_proto_name)(int);
    const eng_stats_t *(*eng_stats)(const eng_t *);
    const char *(*eng_weird_name)(const eng_t *, int, uint64_t *);
    int (*eng_config_count)(const eng_t *);
    const char *(*eng_config_key)(const eng_t *, int);
    const char *(*eng_config_value)(const eng_t *, int);
    /* bridge */
    int (*lbr_ffi_subscribe)(lbr_t *, int kind, int nhandlers);
    void (*lbr_ffi_set_wakeup)(lbr_t *, int64_t at_ns);
    void (*lbr_ffi_handler_error)(lbr_t *, const char *what, const char *msg);
    void (*lbr_ffi_fail)(lbr_t *, const char *msg);
    int64_t (*lbr_ffi_utf8_check)(const uint8_t *, size_t);
    size_t (*lbr_ffi_utf8_sanitize)(const uint8_t *, size_t, uint8_t *);
    int (*eng_digest_hex)(int kind, const uint8_t *, size_t, char *out);
    int (*eng_config_known_info)(int, const char **, const char **, const char **, const char **);
    int (*lbr_ffi_flows)(lbr_t *, const eng_flow_t **out, int max);
    const char *(*eng_flow_community_id)(const eng_flow_t *, unsigned, char *, size_t);
};

struct lua_bridge {
    lua_State *L;
    eng_t *e;
    struct lbr_shared sh;
    struct lbr_api api;
    int ref_tb, ref_dispatch, ref_timers, ref_done, ref_shutdown;
    int ref_flush; /* engine._flush: write the logs' buffers out (live runs) */
    int sub[ENG_EV_COUNT];      /* subscription id per kind, 0 = none */
    int nh[ENG_EV_COUNT];       /* Lua handlers per kind */
    int nflowkinds;             /* kinds with handlers that carry a flow */
    int done_sub;
    int wakeup_set;
    volatile int failed, dead;
    char *errmsg;
    uint64_t nerrors;
    char home[PATH_MAX];
    /* dispatch depth and hard-stop targets */
    volatile int depth;
    sigjmp_buf *jbp;
    pthread_t lua_thread;
    /* watchdog */
    pthread_t wd;
    int wd_started;
    volatile int wd_stop;
    volatile int kill_req;     /* 1: set the hook, 2: jump out */
    volatile uint64_t kill_gen;
    volatile int32_t kill_cur;
    volatile uint64_t timeout_ms_used;
    /* lua.max_memory: bytes the state holds; the cap applies inside handlers and
     * while scripts load (depth > 0 or loading), never to the bridge's own calls */
    size_t mem_used, mem_cap;
    int loading;
    uint64_t mem_errors;
    /* os.exit (lua/engine/sandbox.lua): stop reading, finish, exit with the code */
    volatile int *stop_flag;
    int exit_req, exit_code;
    int ref_strike;
};

static __thread lbr_t *tl_bridge; /* the bridge this thread is dispatching into */

/* ---- small helpers -------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, const char *a) {
    if (err && errlen) snprintf(err, errlen, fmt, a ? a : "");
}

static void fail(lbr_t *b, const char *msg) {
    if (!b->failed) {
        free(b->errmsg);
        b->errmsg = strdup(msg ? msg : "failed");
        b->failed = 1;
    }
}

/* message without the traceback the message handler appended */
static void first_part(const char *msg, char *err, size_t errlen) {
    if (!err || !errlen) return;
    if (!msg) msg = "(no message)";
    const char *tb = strstr(msg, "\nstack traceback:");
    size_t n = tb ? (size_t)(tb - msg) : strlen(msg);
    if (n >= errlen) n = errlen - 1;
    memcpy(err, msg, n);
    err[n] = 0;
}

static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* ---- UTF-8 (for the JSON logs) ------------------------------------------- */

/* length of the valid UTF-8 sequence at s (1..4), 0 when invalid */
static size_t utf8_seq(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && s[1] > 0x9F) return 0; /* surrogate */
        return 3;
    }
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && s[1] > 0x8F) return 0; /* > U+10FFFF */
    return 4;
}

/* -1 when s is valid UTF-8, else the length of its sanitised form */
static int64_t lbr_ffi_utf8_check(const uint8_t *s, size_t n) {
    size_t i = 0, out = 0;
    int bad = 0;
    while (i < n) {
        if (s[i] < 0x80) { i++; out++; continue; }
        size_t k = utf8_seq(s + i, n - i);
        if (k) { i += k; out += k; }
        else { i++; out += 4; bad = 1; }
    }
    return bad ? (int64_t)out : -1;
}

/* invalid bytes become the text \xNN; out holds at least 4*n bytes */
static size_t lbr_ffi_utf8_sanitize(const uint8_t *s, size_t n, uint8_t *out) {
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, o = 0;
    while (i < n) {
        size_t k = s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = (uint8_t)hex[s[i] >> 4];
            out[o++] = (uint8_t)hex[s[i] & 15];
            i++;
        }
    }
    return o;
}

/* ---- handler errors -------------------------------------------------------- */

static void lbr_ffi_handler_error(lbr_t *b, const char *what, const char *msg) {
    /* the run already failed (a log that cannot be written, lua.strict): the
     * error unwinding through the handler is that failure, reported once at
     * the end as one line, not as a handler error with a traceback */
    if (b->failed) return;
    if (b->exit_req && msg && strstr(msg, "engine: os.exit")) return; /* not an error */
    b->nerrors++;
    b->e->stats.handler_errors++;
    if (!msg) msg = "(no message)";
    char membuf[1400];
    if (b->mem_cap && !strncmp(msg, "not enough memory", 17)) {
        snprintf(membuf, sizeof membuf, "not enough memory: the Lua state is at lua.max_memory (%zu bytes)%s",
                 b->mem_cap, msg + 17);
        msg = membuf;
    }
    if (b->nerrors <= MAX_PRINTED_TRACES) {
        fprintf(stderr, "engine: error in handler for %s: %s\n", what, msg);
    } else if (b->nerrors <= MAX_PRINTED_ERRORS) {
        char line[512];
        first_part(msg, line, sizeof line);
        fprintf(stderr, "engine: error in handler for %s: %s\n", what, line);
    } else if (b->nerrors == MAX_PRINTED_ERRORS + 1) {
        fprintf(stderr, "engine: more handler errors not shown (counted in handler_errors)\n");
    }
    if (b->e->cfg.lua_strict) {
        char line[1024], full[1100];
        first_part(msg, line, sizeof line);
        snprintf(full, sizeof full, "error in handler for %s (lua.strict): %s", what, line);
        fail(b, full);
    }
}

static void lbr_ffi_fail(lbr_t *b, const char *msg) { fail(b, msg); }

/* ---- watchdog --------------------------------------------------------------- */

static int traceback(lua_State *L);

/* raise the timeout error where the handler is (the hook stays set until the
 * error leaves the handler, so a pcall inside the handler cannot swallow it) */
static void wd_hook(lua_State *L, lua_Debug *ar) {
    lbr_t *b = tl_bridge;
    if (!(b && b->L == L && b->depth > 0 && b->kill_req && b->kill_gen == b->sh.gen &&
          b->kill_cur == b->sh.cur)) {
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    if (ar->event == LUA_HOOKCALL || ar->event == LUA_HOOKRET) {
        /* never inside the error handler itself */
        if (lua_getinfo(L, "f", ar)) {
            int tb = lua_tocfunction(L, -1) == traceback;
            lua_pop(L, 1);
            if (tb) return;
        }
    }
    lua_Debug d;
    int where = 0;
    for (int level = 0; !where && lua_getstack(L, level, &d); level++) {
        if (lua_getinfo(L, "Sl", &d) && d.currentline > 0) {
            lua_pushfstring(L, "%s:%d: ", d.short_src, d.currentline);
            where = 1;
        }
    }
    if (!where) lua_pushliteral(L, "");
    lua_pushfstring(L, "handler exceeded lua.handler_timeout_ms (%d ms)", (int)b->timeout_ms_used);
    lua_concat(L, 2);
    lua_error(L);
}

static void wd_signal(int sig) {
    (void)sig;
    lbr_t *b = tl_bridge;
    if (!b || b->depth <= 0 || !b->kill_req) return;
    if (b->kill_gen != b->sh.gen || b->kill_cur != b->sh.cur) return; /* moved on meanwhile */
    if (b->kill_req == 1) {
        lua_sethook(b->L, wd_hook, LUA_MASKCOUNT | LUA_MASKCALL | LUA_MASKRET, 1);
    } else if (b->kill_req == 2 && b->jbp) {
        b->dead = 1;
        siglongjmp(*b->jbp, 1);
    }
}

static uint64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void *wd_main(void *arg) {
    lbr_t *b = arg;
    uint64_t last_gen = 0, since = 0, fired_at = 0;
    int32_t last_cur = -1;
    int fired = 0;
    while (!b->wd_stop) {
        uint64_t tmo = b->e->cfg.lua_handler_timeout_ms;
        uint64_t poll = tmo / 10;
        if (poll < 1) poll = 1;
        if (poll > 20) poll = 20;
        struct timespec ts = {0, (long)poll * 1000000L};
        nanosleep(&ts, NULL);
        if (b->wd_stop || b->dead) break;
        uint64_t now = mono_ms();
        if (b->depth <= 0 || !tmo) {
            last_cur = -1;
            fired = 0;
            continue;
        }
        uint64_t g = b->sh.gen;
        int32_t c = b->sh.cur;
        if (g != last_gen || c != last_cur) {
            last_gen = g;
            last_cur = c;
            since = now;
            fired = 0;
            continue;
        }
        if (!fired && now - since >= tmo) {
            b->timeout_ms_used = tmo;
            b->kill_gen = g;
            b->kill_cur = c;
            b->kill_req = 1;
            fired = 1;
            fired_at = now;
            pthread_kill(b->lua_thread, WD_SIGNAL);
        } else if (fired == 1 && now - fired_at >= (tmo > 1000 ? tmo : 1000)) {
            /* the hook did not fire: a compiled loop; leave the Lua state for good */
            fprintf(stderr,
                    "engine: a handler ran past lua.handler_timeout_ms (%llu ms) in a compiled "
                    "loop that cannot be interrupted; Lua stopped\n",
                    (unsigned long long)tmo);
            b->kill_req = 2;
            fired = 2;
            pthread_kill(b->lua_thread, WD_SIGNAL);
        }
    }
    return NULL;
}

static void wd_signal_init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wd_signal;
    sa.sa_flags = SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(WD_SIGNAL, &sa, NULL);
}

static void wd_install_signal(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, wd_signal_init);
}

static void wd_start(lbr_t *b) {
    b->wd_started = 1;
    if (!b->e->cfg.lua_handler_timeout_ms) { b->wd_started = 0; return; }
    wd_install_signal();
    if (pthread_create(&b->wd, NULL, wd_main, b) != 0) b->wd_started = -1; /* run without */
}

/* ---- dispatch ---------------------------------------------------------------- */

/* call a Lua function (registry ref) with (a, start) from handler `start` on,
 * reporting each failing handler and resuming after it */
static void run_protected(lbr_t *b, int ref, int a, const char *what) {
    lua_State *L = b->L;
    int start = 1;
    for (;;) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_tb);
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_pushinteger(L, a);
        lua_pushinteger(L, start);
        b->sh.cur = start - 1;
        uint64_t mem_errors = b->mem_errors;
        int rc = lua_pcall(L, 2, 0, -4);
        /* a handler failed at lua.max_memory: collect what it left before the
         * next one allocates (LuaJIT does not collect when an allocation fails) */
        if (b->mem_errors != mem_errors) lua_gc(L, LUA_GCCOLLECT, 0);
        if (rc == 0) {
            lua_pop(L, 1);
            return;
        }
        int timed_out = 0;
        if (b->kill_req) {
            lua_sethook(L, NULL, 0, 0);
            b->kill_req = 0;
            timed_out = 1;
        }
        int32_t cur = b->sh.cur;
        lbr_ffi_handler_error(b, what, lua_tostring(L, -1));
        lua_pop(L, 2);
        if (b->failed || cur < start) return; /* error outside a handler: stop there */
        start = cur + 1;
        /* lua.max_timeouts: a handler that keeps timing out is switched off (its
         * place in the list is then taken by the next one) */
        if (timed_out && ref == b->ref_dispatch && b->ref_strike != LUA_NOREF) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_strike);
            lua_pushinteger(L, a);
            lua_pushinteger(L, cur);
            lua_pushinteger(L, (lua_Integer)b->e->cfg.lua_max_timeouts);
            if (lua_pcall(L, 3, 1, 0) == 0) {
                if (lua_isstring(L, -1)) {
                    fprintf(stderr, "engine: %s\n", lua_tostring(L, -1));
                    start = cur;
                }
            }
            lua_pop(L, 1);
        }
    }
}

/* common frame of every entry from C into Lua handlers: nesting, watchdog
 * generation, and the hard-stop landing point */
#define ENTER_LUA(b, body)                                                          \
    do {                                                                            \
        sigjmp_buf jb_;                                                             \
        sigjmp_buf *prevjb_ = (b)->jbp;                                             \
        lbr_t *prevtl_ = tl_bridge;                                                 \
        if (!(b)->wd_started) wd_start(b);                                          \
        if ((b)->depth == 0) (b)->lua_thread = pthread_self();                      \
        tl_bridge = (b);                                                            \
        if (sigsetjmp(jb_, 0)) {                                                    \
            (b)->jbp = prevjb_;                                                     \
            (b)->depth--;                                                           \
            tl_bridge = prevtl_;                                                    \
            fail((b), "a handler exceeded lua.handler_timeout_ms in a compiled loop " \
                      "and could not be interrupted");                             \
            break;                                                                  \
        }                                                                           \
        (b)->jbp = &jb_;                                                            \
        (b)->depth++;                                                               \
        (b)->sh.gen++;                                                              \
        body;                                                                       \
        (b)->depth--;                                                               \
        (b)->jbp = prevjb_;                                                         \
        tl_bridge = prevtl_;                                                        \
    } while (0)

static void on_event(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    lbr_t *b = user;
    if (b->failed) return;
    int kind = ev->kind;
    if (kind == ENG_EV_FLOW_END && !b->nh[kind] && !b->sh.nproxies) return;
    const eng_event_t *pev = b->sh.ev;
    int32_t pcur = b->sh.cur;
    b->sh.ev = ev;
    ENTER_LUA(b, run_protected(b, b->ref_dispatch, kind, eng_event_name(kind)));
    b->sh.ev = pev;
    b->sh.cur = pcur;
}

static void on_wakeup(eng_t *e, void *user) {
    (void)e;
    lbr_t *b = user;
    b->wakeup_set = 0;
    if (b->failed) return;
    int32_t pcur = b->sh.cur;
    ENTER_LUA(b, run_protected(b, b->ref_timers, 0, "timer"));
    b->sh.cur = pcur;
}

/* engine.done: due timers, the handlers, then flush the logs */
static void on_done(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    lbr_t *b = user;
    if (b->failed) return;
    const eng_event_t *pev = b->sh.ev;
    int32_t pcur = b->sh.cur;
    ENTER_LUA(b, run_protected(b, b->ref_timers, 1, "timer"));
    if (b->nh[ENG_EV_ENGINE_DONE] && !b->failed) {
        b->sh.ev = ev;
        ENTER_LUA(b, run_protected(b, b->ref_dispatch, ENG_EV_ENGINE_DONE, "engine.done"));
    }
    if (!b->failed) ENTER_LUA(b, run_protected(b, b->ref_done, 0, "engine.done (logs)"));
    b->sh.ev = pev;
    b->sh.cur = pcur;
}

static int carries_flow(int kind) {
    return kind != ENG_EV_ENGINE_INIT && kind != ENG_EV_ENGINE_DONE && kind != ENG_EV_ENGINE_TICK;
}

static void sub_set(lbr_t *b, int kind, int want) {
    if (want && !b->sub[kind]) {
        int id = eng_on(b->e, kind, on_event, b);
        b->sub[kind] = id > 0 ? id : 0;
    } else if (!want && b->sub[kind]) {
        eng_off(b->e, b->sub[kind]);
        b->sub[kind] = 0;
    }
}

/* the number of Lua handlers for `kind` is now n */
static int lbr_ffi_subscribe(lbr_t *b, int kind, int n) {
    if (kind < 0 || kind >= ENG_EV_COUNT || n < 0) return -1;
    int was = b->nh[kind];
    b->nh[kind] = n;
    if (carries_flow(kind) && kind != ENG_EV_FLOW_END) {
        if (!was && n) b->nflowkinds++;
        else if (was && !n) b->nflowkinds--;
    }
    if (kind == ENG_EV_ENGINE_DONE) return 0; /* always subscribed (on_done) */
    sub_set(b, kind, n > 0);
    /* flow.end also drops the flow proxies that other kinds create, also after
     * their last handler went (engine.off, a handler switched off): a proxy
     * left alive would read a freed flow */
    sub_set(b, ENG_EV_FLOW_END, b->nh[ENG_EV_FLOW_END] > 0 || b->nflowkinds > 0 || b->sh.nproxies > 0);
    return 0;
}

static void lbr_ffi_set_wakeup(lbr_t *b, int64_t at_ns) {
    if (at_ns > 0) {
        eng_set_wakeup(b->e, at_ns, on_wakeup, b);
        b->wakeup_set = 1;
    } else if (b->wakeup_set) {
        eng_set_wakeup(b->e, 0, NULL, NULL);
        b->wakeup_set = 0;
    }
}

/* ---- C functions that may fire events: called through the Lua/C API, never
 * through the FFI (an FFI call must not re-enter the Lua state) ------------ */

static lbr_t *upbridge(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static eng_flow_t *arg_flow(lua_State *L, int i) {
    lua_Number n = luaL_checknumber(L, i);
    return (eng_flow_t *)(uintptr_t)n;
}

/* after a nested dispatch hit the hard stop, leave this (dead) Lua state too */
static void check_dead(lbr_t *b) {
    if (b->dead && b->jbp) siglongjmp(*b->jbp, 1);
}

static int l_set_service(lua_State *L) {
    lbr_t *b = upbridge(L);
    eng_flow_t *f = arg_flow(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int rc = eng_flow_set_service(b->e, f, name);
    check_dead(b);
    lua_pushboolean(L, rc == 0);
    return 1;
}

static int l_skip(lua_State *L) {
    lbr_t *b = upbridge(L);
    eng_flow_skip(b->e, arg_flow(L, 1));
    check_dead(b);
    return 0;
}

/* push v as Lua converts a field (engine.lua's conv): lists and maps become
 * tables; nesting is bounded (events nest one level today) */
static void push_value(lua_State *L, const eng_value_t *v, int depth) {
    switch (v->type) {
    case ENG_T_STR: lua_pushlstring(L, v->len ? (const char *)v->u.s : "", v->len); return;
    case ENG_T_INT: lua_pushnumber(L, (lua_Number)v->u.i); return;
    case ENG_T_NUM: lua_pushnumber(L, v->u.n); return;
    case ENG_T_BOOL: lua_pushboolean(L, v->u.i != 0); return;
    case ENG_T_LIST:
    case ENG_T_MAP: {
        if (depth >= 8 || !lua_checkstack(L, 4)) break;
        int map = v->type == ENG_T_MAP;
        lua_createtable(L, map ? 0 : (int)v->len, map ? (int)v->len : 0);
        for (uint32_t j = 0; j < v->len; j++) {
            if (map) {
                push_value(L, &v->u.list[2 * j], depth + 1);
                if (lua_isnil(L, -1)) { lua_pop(L, 1); continue; }
                push_value(L, &v->u.list[2 * j + 1], depth + 1);
                lua_rawset(L, -3);
            } else {
                push_value(L, &v->u.list[j], depth + 1);
                lua_rawseti(L, -2, (int)j + 1);
            }
        }
        return;
    }
    }
    lua_pushnil(L);
}

/* boot.field_table(i): field i of the event being dispatched, a list or a map,
 * as a table. Built here rather than by a Lua loop over the cdata: a handler's
 * trace that inlined that loop carried the handler's live values into every
 * side trace of it ("NYI: register coalescing too complex"); a C function
 * ends the trace and the next one starts after it (trace stitching) */
static int l_field_table(lua_State *L) {
    lbr_t *b = upbridge(L);
    lua_Integer i = luaL_checkinteger(L, 1);
    const eng_event_t *ev = b->sh.ev;
    if (!ev || i < 0 || i >= ev->nfields) {
        lua_pushnil(L);
        return 1;
    }
    push_value(L, &ev->f[i], 0);
    return 1;
}

/* ---- life cycle --------------------------------------------------------------- */

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int find_home(lbr_t *b, const char *home) {
    char probe[PATH_MAX + 32];
    if (!home) home = getenv("ENGINE_HOME");
    if (home && *home) {
        snprintf(b->home, sizeof b->home, "%s", home);
        snprintf(probe, sizeof probe, "%s/lua/engine.lua", b->home);
        return file_exists(probe) ? 0 : -1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        static const char *const rel[] = {"", "/..", "/../..", "/../../..", "/../share/engine"};
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(probe, sizeof probe, "%s%s/lua/engine.lua", exe, rel[i]);
            if (file_exists(probe)) {
                char dir[PATH_MAX + 32];
                snprintf(dir, sizeof dir, "%s%s", exe, rel[i]);
                if (!realpath(dir, b->home)) return -1;
                return 0;
            }
        }
    }
    if (file_exists("lua/engine.lua")) {
        snprintf(b->home, sizeof b->home, ".");
        return 0;
    }
    return -1;
}

/* engine.flows(): the open flows (up to max into out); returns how many there are */
static int lbr_ffi_flows(lbr_t *b, const eng_flow_t **out, int max) {
    int n = 0;
    for (int c = 0; c < FL_NLISTS; c++)
        for (const flow_t *f = b->e->ft.head[c]; f; f = f->next) {
            if (out && n < max) out[n] = &f->pub;
            n++;
        }
    return n;
}

static int setup_api(lbr_t *b) {
    struct lbr_api *a = &b->api;
    a->sizeof_event = sizeof(eng_event_t);
    a->sizeof_flow = sizeof(struct eng_flow);
    a->sizeof_stats = sizeof(eng_stats_t);
    a->sizeof_value = sizeof(eng_value_t);
    a->sizeof_shared = sizeof(struct lbr_shared);
    a->event_count = ENG_EV_COUNT;
    a->max_fields = ENG_MAX_FIELDS;
    a->history_len = (int)sizeof(((struct eng_flow *)0)->history);
    a->e = b->e;
    a->b = b;
    a->sh = &b->sh;
    a->eng_event_count = eng_event_count;
    a->eng_event_name = eng_event_name;
    a->eng_event_nfields = eng_event_nfields;
    a->eng_event_field_name = eng_event_field_name;
    a->eng_event_field_type = eng_event_field_type;
    a->eng_now = eng_now;
    a->eng_flow_state = eng_flow_state;
    a->eng_flow_addr = eng_flow_addr;
    a->eng_proto_name = eng_proto_name;
    a->eng_stats = eng_stats;
    a->eng_weird_name = eng_weird_name;
    a->eng_config_count = eng_config_count;
    a->eng_config_key = eng_config_key;
    a->eng_config_value = eng_config_value;
    a->lbr_ffi_subscribe = lbr_ffi_subscribe;
    a->lbr_ffi_set_wakeup = lbr_ffi_set_wakeup;
    a->lbr_ffi_handler_error = lbr_ffi_handler_error;
    a->lbr_ffi_fail = lbr_ffi_fail;
    a->lbr_ffi_utf8_check = lbr_ffi_utf8_check;
    a->lbr_ffi_utf8_sanitize = lbr_ffi_utf8_sanitize;
    a->eng_digest_hex = eng_digest_hex;
    a->eng_config_known_info = eng_config_known_info;
    a->lbr_ffi_flows = lbr_ffi_flows;
    a->eng_flow_community_id = eng_flow_community_id;
    return 0;
}

/* ---- memory cap and os.exit ------------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* a Lua state the watchdog abandoned is never closed (lbr_free): its blocks are
 * left on purpose; every other state frees all of them in lua_close */
#define LUA_BLOCK_KEPT(q) __lsan_ignore_object(q)
#else
#define LUA_BLOCK_KEPT(q) ((void)0)
#endif

static void *lbr_alloc(void *ud, void *p, size_t osize, size_t nsize) {
    lbr_t *b = ud;
    size_t old = p ? osize : 0;
    if (nsize == 0) {
        free(p);
        b->mem_used -= old;
        return NULL;
    }
    if (nsize > old && b->mem_cap && (b->depth > 0 || b->loading) &&
        b->mem_used + (nsize - old) > b->mem_cap) {
        b->mem_errors++;
        return NULL; /* LuaJIT raises "not enough memory" in the handler */
    }
    void *q = realloc(p, nsize);
    if (q) {
        b->mem_used = b->mem_used - old + nsize;
        LUA_BLOCK_KEPT(q);
    }
    return q;
}

/* os.exit(code) as the sandbox gives it: ask the run to stop (the capture is no
 * longer read; flows end, engine.done runs, logs are closed) and unwind the
 * calling handler with an error the bridge does not count */
static int l_exit(lua_State *L) {
    lbr_t *b = lua_touserdata(L, lua_upvalueindex(1));
    int code = 0;
    if (lua_isboolean(L, 1)) code = lua_toboolean(L, 1) ? 0 : 1;
    else if (!lua_isnoneornil(L, 1)) code = (int)luaL_checkinteger(L, 1);
    if (!b->exit_req) {
        b->exit_req = 1;
        b->exit_code = code;
    }
    if (b->stop_flag) *b->stop_flag = 1;
    lua_pushliteral(L, "engine: os.exit");
    return lua_error(L);
}

/* path_within(path, dir): true when `path` (which need not exist) names a file
 * inside `dir` once symbolic links and ".." are resolved */
static int l_path_within(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    const char *dir = luaL_checkstring(L, 2);
    char rd[PATH_MAX], rp[PATH_MAX], parent[PATH_MAX];
    if (!realpath(dir, rd)) { lua_pushboolean(L, 0); return 1; }
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    const char *base = path;
    if (slash) {
        base = slash + 1;
        if (slash == parent) slash[1] = 0;
        else *slash = 0;
    } else {
        snprintf(parent, sizeof parent, ".");
    }
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || !realpath(parent, rp)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    size_t n = strlen(rd);
    lua_pushboolean(L, !strncmp(rp, rd, n) && (rp[n] == 0 || rp[n] == '/' || n == 1));
    return 1;
}

static int getref(lua_State *L, int mod, const char *name) {
    lua_getfield(L, mod, name);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

lbr_t *lbr_new(eng_t *e, const char *home, const char *outdir, char *err, size_t errlen) {
    return lbr_new_worker(e, home, outdir, NULL, err, errlen);
}

lbr_t *lbr_new_worker(eng_t *e, const char *home, const char *outdir, const lbr_worker_t *w,
                      char *err, size_t errlen) {
    lbr_t *b = calloc(1, sizeof *b);
    if (!b) {
        set_err(err, errlen, "out of memory%s", "");
        return NULL;
    }
    b->e = e;
    b->ref_tb = b->ref_dispatch = b->ref_timers = b->ref_done = b->ref_shutdown = LUA_NOREF;
    b->ref_flush = LUA_NOREF;
    if (find_home(b, home)) {
        set_err(err, errlen, "cannot find lua/engine.lua (set ENGINE_HOME)%s", "");
        free(b);
        return NULL;
    }
    if (outdir) {
        struct stat st;
        if (stat(outdir, &st) != 0 && mkdir(outdir, 0777) != 0 && errno != EEXIST) {
            if (err && errlen) snprintf(err, errlen, "%s: %s", outdir, strerror(errno));
            free(b);
            return NULL;
        }
        if (stat(outdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            set_err(err, errlen, "%s: not a directory", outdir);
            free(b);
            return NULL;
        }
    }
    setup_api(b);
    b->mem_cap = (size_t)e->cfg.lua_max_memory;
    lua_State *L = b->L = lua_newstate(lbr_alloc, b);
    if (!L) L = b->L = luaL_newstate(); /* a LuaJIT without custom allocators: no cap */
    if (!L) {
        set_err(err, errlen, "cannot create a Lua state%s", "");
        free(b);
        return NULL;
    }
    luaL_openlibs(L);
    lua_pushcfunction(L, traceback);
    b->ref_tb = luaL_ref(L, LUA_REGISTRYINDEX);

    /* package.path: <home>/lua, <home>/scripts, then the defaults */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/scripts/?.lua;%s", b->home, b->home,
                    b->home, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);

    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/lua/engine.lua", b->home);
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_tb);
    if (luaL_loadfile(L, path)) {
        first_part(lua_tostring(L, -1), err, errlen);
        lbr_free(b);
        return NULL;
    }
    lua_newtable(L); /* boot */
    lua_pushlightuserdata(L, &b->api);
    lua_setfield(L, -2, "api");
    if (outdir) {
        lua_pushstring(L, outdir);
        lua_setfield(L, -2, "outdir");
    }
    lua_pushstring(L, b->home);
    lua_setfield(L, -2, "home");
    if (w) {
        /* the log writer calls these through the FFI (lua/engine/log.lua) */
        lua_pushlightuserdata(L, (void *)w->write);
        lua_setfield(L, -2, "log_write");
        lua_pushlightuserdata(L, (void *)w->flush);
        lua_setfield(L, -2, "log_flush");
        lua_pushlightuserdata(L, w->user);
        lua_setfield(L, -2, "log_user");
        lua_pushinteger(L, w->id);
        lua_setfield(L, -2, "worker_id");
        lua_pushinteger(L, w->count);
        lua_setfield(L, -2, "workers");
    }
    lua_pushcfunction(L, traceback);
    lua_setfield(L, -2, "traceback");
    lua_pushlightuserdata(L, b);
    lua_pushcclosure(L, l_set_service, 1);
    lua_setfield(L, -2, "set_service");
    lua_pushlightuserdata(L, b);
    lua_pushcclosure(L, l_skip, 1);
    lua_setfield(L, -2, "skip");
    lua_pushlightuserdata(L, b);
    lua_pushcclosure(L, l_field_table, 1);
    lua_setfield(L, -2, "field_table");
    if (lua_pcall(L, 1, 1, -3)) {
        first_part(lua_tostring(L, -1), err, errlen);
        lbr_free(b);
        return NULL;
    }
    int mod = lua_gettop(L);
    if (!lua_istable(L, mod)) {
        set_err(err, errlen, "%s did not return the engine module", path);
        lbr_free(b);
        return NULL;
    }
    b->ref_dispatch = getref(L, mod, "_dispatch");
    b->ref_timers = getref(L, mod, "_timers");
    b->ref_done = getref(L, mod, "_done");
    b->ref_shutdown = getref(L, mod, "_shutdown");
    b->ref_strike = getref(L, mod, "_strike");
    b->ref_flush = getref(L, mod, "_flush");
    if (b->ref_dispatch == LUA_NOREF || b->ref_timers == LUA_NOREF || b->ref_done == LUA_NOREF ||
        b->ref_shutdown == LUA_NOREF) {
        set_err(err, errlen, "%s: engine module lacks its entry points", path);
        lbr_free(b);
        return NULL;
    }
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushvalue(L, mod);
    lua_setfield(L, -2, "engine");
    lua_pop(L, 2);
    lua_pushvalue(L, mod);
    lua_setglobal(L, "engine");
    lua_settop(L, 0);
    /* the sandbox (lua/engine/sandbox.lua): before any script runs */
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_tb);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "engine.sandbox");
    if (lua_pcall(L, 1, 1, -3)) {
        first_part(lua_tostring(L, -1), err, errlen);
        lbr_free(b);
        return NULL;
    }
    lua_newtable(L);
    lua_pushboolean(L, e->cfg.lua_unsafe);
    lua_setfield(L, -2, "unsafe");
    lua_pushboolean(L, !e->cfg.lua_jit_scripts);
    lua_setfield(L, -2, "jit_off");
    lua_pushstring(L, b->home);
    lua_setfield(L, -2, "home");
    if (outdir) {
        lua_pushstring(L, outdir);
        lua_setfield(L, -2, "outdir");
    }
    lua_pushlightuserdata(L, b);
    lua_pushcclosure(L, l_exit, 1);
    lua_setfield(L, -2, "exit");
    lua_pushcfunction(L, l_path_within);
    lua_setfield(L, -2, "path_within");
    if (lua_pcall(L, 1, 0, -3)) {
        first_part(lua_tostring(L, -1), err, errlen);
        lbr_free(b);
        return NULL;
    }
    lua_settop(L, 0);
    b->done_sub = eng_on(e, ENG_EV_ENGINE_DONE, on_done, b);
    return b;
}

static int load_chunk(lbr_t *b, int loadrc, char *err, size_t errlen) {
    lua_State *L = b->L;
    if (loadrc) {
        first_part(lua_tostring(L, -1), err, errlen);
        lua_settop(L, 0);
        return -1;
    }
    /* the loops of user scripts run interpreted unless lua.jit_scripts: the
     * watchdog's hook cannot stop a compiled loop (docs/lua.md, "Sandbox";
     * lua/engine/sandbox.lua, interp_loops) */
    if (!b->e->cfg.lua_jit_scripts) {
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "loaded");
        lua_getfield(L, -1, "engine.sandbox.prepare");
        lua_remove(L, -2);
        lua_remove(L, -2);
        if (lua_isfunction(L, -1)) {
            lua_insert(L, -2);
            if (lua_pcall(L, 1, 1, 0) || !lua_isfunction(L, -1)) {
                first_part(lua_tostring(L, -1), err, errlen);
                lua_settop(L, 0);
                return -1;
            }
        } else {
            lua_pop(L, 1);
        }
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_tb);
    lua_insert(L, -2);
    b->loading++;
    int rc = lua_pcall(L, 0, 0, -2);
    b->loading--;
    if (rc && b->exit_req) rc = 0; /* os.exit while loading: the run stops before it reads */
    if (rc) first_part(lua_tostring(L, -1), err, errlen);
    lua_settop(L, 0);
    if (!rc && b->failed) {
        set_err(err, errlen, "%s", b->errmsg);
        return -1;
    }
    return rc ? -1 : 0;
}

int lbr_load_file(lbr_t *b, const char *path, char *err, size_t errlen) {
    if (b->dead) {
        set_err(err, errlen, "%s", b->errmsg);
        return -1;
    }
    return load_chunk(b, luaL_loadfile(b->L, path), err, errlen);
}

int lbr_load_string(lbr_t *b, const char *code, const char *chunkname, char *err, size_t errlen) {
    if (b->dead) {
        set_err(err, errlen, "%s", b->errmsg);
        return -1;
    }
    return load_chunk(b, luaL_loadbuffer(b->L, code, strlen(code), chunkname ? chunkname : "=(-e)"),
                      err, errlen);
}

int lbr_load_default(lbr_t *b, char *err, size_t errlen) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/scripts/default.lua", b->home);
    return lbr_load_file(b, path, err, errlen);
}

/* engine._config_check(key) -> declared, nearest: whether a loaded script declared
 * `key` with engine.config_key, and the known or declared key nearest to it */
int lbr_config_check(lbr_t *b, const char *key, char *near, size_t nearlen) {
    if (nearlen) near[0] = 0;
    if (!b || b->dead) return 0;
    lua_State *L = b->L;
    int top = lua_gettop(L);
    int declared = 0;
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "engine");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "_config_check");
        if (lua_isfunction(L, -1)) {
            lua_pushstring(L, key);
            if (lua_pcall(L, 1, 2, 0) == 0) {
                declared = lua_toboolean(L, -2);
                const char *n = lua_tostring(L, -1);
                if (n && nearlen) snprintf(near, nearlen, "%s", n);
            }
        }
    }
    lua_settop(L, top);
    return declared;
}

void lbr_flush(lbr_t *b) {
    if (!b || b->failed || b->dead || b->ref_flush == LUA_NOREF) return;
    ENTER_LUA(b, run_protected(b, b->ref_flush, 0, "log flush"));
}

int lbr_failed(const lbr_t *b) { return b->failed; }

void lbr_set_stop_flag(lbr_t *b, volatile int *flag) { b->stop_flag = flag; }

int lbr_exit_requested(const lbr_t *b, int *code) {
    if (b->exit_req && code) *code = b->exit_code;
    return b->exit_req;
}

uint64_t lbr_handler_errors(const lbr_t *b) { return b->nerrors; }

const char *lbr_error(const lbr_t *b) { return b->errmsg ? b->errmsg : ""; }

struct lua_State *lbr_state(lbr_t *b) { return b->L; }

/* ---- REPL support ---- */

/* the Lua state was abandoned by the watchdog's hard stop: never enter it again */
int lbr_dead(const lbr_t *b) { return b->dead; }

void lbr_free(lbr_t *b) {
    if (!b) return;
    if (b->wd_started > 0) {
        b->wd_stop = 1;
        pthread_join(b->wd, NULL);
    }
    for (int k = 0; k < ENG_EV_COUNT; k++)
        if (b->sub[k]) eng_off(b->e, b->sub[k]);
    if (b->done_sub > 0) eng_off(b->e, b->done_sub);
    if (b->wakeup_set) eng_set_wakeup(b->e, 0, NULL, NULL);
    if (b->L && !b->dead) {
        lua_State *L = b->L;
        if (b->ref_shutdown != LUA_NOREF) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_tb);
            lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_shutdown);
            if (lua_pcall(L, 0, 0, -2)) {
                char line[1024];
                first_part(lua_tostring(L, -1), line, sizeof line);
                fprintf(stderr, "engine: closing the logs: %s\n", line);
            }
        }
        lua_close(L);
    } else if (b->dead) {
        /* the Lua state was abandoned mid-trace: keep it, save what is buffered */
        fflush(NULL);
    }
    free(b->errmsg);
    free(b);
}

/* ---- testing support ---- */

/* `engine test [BUSTED-ARG]...` (docs/testing.md): exec busted under luajit
 * with package paths that find lua/engine/testing.lua and the engine_core.so
 * built next to this executable. In an ASan build the sanitizer runtime is
 * preloaded, since luajit itself is not instrumented. */
static int test_prepend_env(const char *name, const char *value, const char *dflt_tail) {
    const char *old = getenv(name);
    size_t n = strlen(value) + (old ? strlen(old) : 0) + 8;
    char *v = malloc(n);
    if (!v) return -1;
    if (old && *old) snprintf(v, n, "%s;%s", value, old);
    else snprintf(v, n, "%s%s", value, dflt_tail);
    int rc = setenv(name, v, 1);
    free(v);
    return rc;
}

#if defined(__SANITIZE_ADDRESS__)
/* the path of the ASan runtime this process uses, from /proc/self/maps */
static int test_asan_runtime(char *out, size_t len) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[PATH_MAX + 128];
    int found = -1;
    while (found && fgets(line, sizeof line, f)) {
        char *p = strchr(line, '/');
        if (p && strstr(p, "/libasan.so")) {
            p[strcspn(p, "\n")] = 0;
            snprintf(out, len, "%s", p);
            found = 0;
        }
    }
    fclose(f);
    return found;
}
#endif

int lbr_test_main(int argc, char **argv) {
    lbr_t *probe = calloc(1, sizeof *probe);
    if (!probe) return 1;
    if (find_home(probe, NULL)) {
        fprintf(stderr, "engine test: cannot find lua/engine.lua (set ENGINE_HOME)\n");
        free(probe);
        return 1;
    }
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s", probe->home);
    free(probe);

    char exe[PATH_MAX], dir[PATH_MAX], mod[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "engine test: cannot find the engine executable's folder\n");
        return 1;
    }
    exe[n] = 0;
    snprintf(dir, sizeof dir, "%s", exe);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    snprintf(mod, sizeof mod, "%s/engine_core.so", dir);
    if (!file_exists(mod)) {
        fprintf(stderr, "engine test: %s not found (build it: make all)\n", mod);
        return 1;
    }
    char lpath[3 * PATH_MAX], cpath[PATH_MAX + 16];
    snprintf(lpath, sizeof lpath, "%s/lua/?.lua;%s/lua/?/init.lua", home, home);
    snprintf(cpath, sizeof cpath, "%s/?.so", dir);
    if (test_prepend_env("LUA_PATH", lpath, ";;") || test_prepend_env("LUA_CPATH", cpath, ";;") ||
        setenv("ENGINE_HOME", home, 0)) {
        fprintf(stderr, "engine test: cannot set the environment\n");
        return 1;
    }
#if defined(__SANITIZE_ADDRESS__)
    char rt[PATH_MAX];
    if (test_asan_runtime(rt, sizeof rt) == 0) {
        const char *old = getenv("LD_PRELOAD");
        char pre[2 * PATH_MAX + 2];
        snprintf(pre, sizeof pre, "%s%s%s", rt, old && *old ? ":" : "", old ? old : "");
        setenv("LD_PRELOAD", pre, 1);
    }
#endif
    const char *luajit = getenv("ENGINE_LUAJIT");
    const char *busted = getenv("ENGINE_BUSTED");
    if (!luajit || !*luajit) luajit = "luajit";
    if (!busted || !*busted) busted = "/usr/bin/busted";
    char **av = calloc((size_t)argc + 4, sizeof *av);
    if (!av) return 1;
    int k = 0;
    av[k++] = (char *)luajit;
    av[k++] = (char *)busted;
    av[k++] = "--ignore-lua";
    for (int i = 1; i < argc; i++) av[k++] = argv[i];
    av[k] = NULL;
    fflush(NULL);
    execvp(luajit, av);
    fprintf(stderr, "engine test: cannot run %s %s: %s (install luajit and lua-busted)\n", luajit,
            busted, strerror(errno));
    free(av);
    return 1;
}
