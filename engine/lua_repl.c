/* lua_repl.c - `engine --repl` (lua_repl.h, docs/repl.md).
 *
 * The loop: read a line (libedit when standard input is a terminal, plain
 * getline otherwise), hand the chunk so far to repl.eval (lua/engine/repl.lua)
 * which compiles "return <chunk>" then "<chunk>", answers "more" when the
 * syntax error ends at '<eof>' (LuaJIT's luajit.c trick), else runs it and
 * prints the results or the error.
 *
 * Ctrl-C: the SIGINT handler sets g_stop (checked after every packet by the
 * stepping loop) and, while plain Lua code runs at the prompt, sets a hook
 * that raises "interrupted". At the prompt it abandons the line. Three Ctrl-C
 * during one evaluation that does not stop (a compiled loop the hook cannot
 * reach) end the process.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <lua.h>

#include "lua_repl.h"

#define PROMPT "engine> "
#define PROMPT_MORE "   ...> "
#define HISTORY_MAX 1000
#define MAX_CHUNK (1u << 20) /* a chunk longer than this is dropped */

struct repl {
    eng_t *e;
    lbr_t *b;
    lua_State *L;
    int ref_mod;         /* the engine.repl module table */
    int ref_tb;          /* traceback-free message handler */
    eng_capture_t *cap;  /* NULL: no -r */
    char *rfile, *bpf;
    int tty;
    char history[PATH_MAX];
};

/* the signal handler's view (one REPL per process) */
static volatile sig_atomic_t g_stop;    /* stepping loop: stop after this packet */
static volatile sig_atomic_t g_sigint;  /* a Ctrl-C arrived */
static volatile sig_atomic_t g_running; /* Lua code from the prompt is running */
static volatile sig_atomic_t g_stepping;
static volatile sig_atomic_t g_nint;    /* Ctrl-C during this evaluation */
static lua_State *volatile g_L;
static int g_tty;
static pthread_t g_main;
static repl_t *g_repl; /* for the completion hook */

/* ---- Ctrl-C ------------------------------------------------------------- */

static void int_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted");
}

static void on_sigint(int sig) {
    if (!pthread_equal(pthread_self(), g_main)) { /* e.g. the bridge's watchdog thread */
        pthread_kill(g_main, sig);
        return;
    }
    g_sigint = 1;
    g_stop = 1;
    if (!g_running) return;
    if (g_tty) { /* end the line the terminal echoed ^C on */
        ssize_t w = write(STDOUT_FILENO, "\n", 1);
        (void)w;
    }
    if (++g_nint >= 3) {
        static const char msg[] = "\nengine: third Ctrl-C: leaving\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    if (!g_stepping && g_L)
        lua_sethook(g_L, int_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void install_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a read at the prompt returns EINTR */
    sigaction(SIGINT, &sa, NULL);
}

/* ---- C functions for repl.lua -------------------------------------------- */

static repl_t *uprepl(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static const char *state_name(int st) {
    switch (st) {
    case ENG_CAP_MORE: return "more";
    case ENG_CAP_EOF: return "eof";
    case ENG_CAP_CUT: return "cut";
    default: return "error";
    }
}

static void leave_dead(repl_t *r) {
    const char *m = lbr_error(r->b);
    fprintf(stderr, "engine: %s\nengine: the Lua state cannot be used any more: leaving\n",
            m && *m ? m : "the Lua state was abandoned");
    fflush(NULL);
    _exit(1);
}

/* step(n): feed up to n packets (nil or < 0: all). Returns packets fed,
 * state ("more", "eof", "cut", "error", "interrupted", "stopped",
 * "nocapture"), message, packets read in all. At the end of the capture the
 * instance is finished (flows end, engine.done fires). */
static int l_step(lua_State *L) {
    repl_t *r = uprepl(L);
    if (g_stepping) return luaL_error(L, "the capture cannot be read from inside a handler");
    long long n = -1;
    if (!lua_isnoneornil(L, 1)) {
        lua_Number x = luaL_checknumber(L, 1);
        n = x < 0 ? -1 : x > 1e15 ? (long long)1e15 : (long long)x;
    }
    if (!r->cap) {
        lua_pushinteger(L, 0);
        lua_pushliteral(L, "nocapture");
        lua_pushliteral(L, "no capture: start the REPL with -r FILE");
        lua_pushinteger(L, 0);
        return 4;
    }
    char err[512];
    int st = ENG_CAP_MORE;
    g_stepping = 1;
    lua_sethook(L, NULL, 0, 0); /* an interrupt hook must not fire inside a handler */
    long long fed = eng_capture_step(r->e, r->cap, n, &g_stop, &st, err, sizeof err);
    g_stepping = 0;
    if (lbr_dead(r->b)) leave_dead(r);
    const char *sname = state_name(st);
    if (st == ENG_CAP_MORE && g_stop) sname = g_sigint ? "interrupted" : "stopped";
    g_stop = 0;
    g_sigint = 0;
    if (st != ENG_CAP_MORE) {
        eng_finish(r->e);
        if (lbr_dead(r->b)) leave_dead(r);
    }
    lua_pushnumber(L, (lua_Number)fed);
    lua_pushstring(L, sname);
    if (st == ENG_CAP_CUT || st == ENG_CAP_ERROR) lua_pushstring(L, err);
    else lua_pushnil(L);
    lua_pushnumber(L, (lua_Number)eng_capture_packets(r->cap));
    return 4;
}

/* stop(): the stepping loop returns after the current packet */
static int l_stop(lua_State *L) {
    (void)L;
    g_stop = 1;
    return 0;
}

/* rewind(): finish the current pass, reset the instance, reopen the file */
static int l_rewind(lua_State *L) {
    repl_t *r = uprepl(L);
    if (g_stepping) return luaL_error(L, "rewind() cannot be called from inside a handler");
    if (!r->rfile) {
        lua_pushnil(L);
        lua_pushliteral(L, "no capture: start the REPL with -r FILE");
        return 2;
    }
    g_stepping = 1;
    eng_reset(r->e);
    g_stepping = 0;
    if (lbr_dead(r->b)) leave_dead(r);
    g_stop = 0;
    eng_capture_close(r->cap);
    char err[512];
    r->cap = eng_capture_open(r->rfile, r->bpf, err, sizeof err);
    if (!r->cap) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- set-up ---------------------------------------------------------------- */

static int msgh(lua_State *L) {
    if (!lua_isstring(L, 1)) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_isstring(L, -1)) return 1;
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    return 1;
}

static void set_cfunc(lua_State *L, repl_t *r, lua_CFunction f, const char *name) {
    lua_pushlightuserdata(L, r);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
}

/* call repl.<fn>(args on the stack) protected; leaves nres results, or
 * returns -1 with the message in err (stack restored) */
static int call_mod(repl_t *r, const char *fn, int nargs, int nres, char *err, size_t errlen) {
    lua_State *L = r->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_mod);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_insert(L, -(nargs + 1));
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_tb);
    lua_insert(L, -(nargs + 2));
    int base = lua_gettop(L) - nargs - 1;
    int rc = lua_pcall(L, nargs, nres, base);
    if (rc) {
        if (err && errlen) snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_settop(L, base - 1);
        return -1;
    }
    lua_remove(L, base);
    return 0;
}

repl_t *repl_new(eng_t *e, lbr_t *b, const char *rfile, const char *bpf, char *err,
                 size_t errlen) {
    repl_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->e = e;
    r->b = b;
    r->L = lbr_state(b);
    r->ref_mod = r->ref_tb = LUA_NOREF;
    r->tty = isatty(STDIN_FILENO);
    if (rfile) {
        r->rfile = strdup(rfile);
        r->bpf = bpf ? strdup(bpf) : NULL;
        r->cap = eng_capture_open(rfile, bpf, err, errlen);
        if (!r->cap) {
            repl_free(r);
            return NULL;
        }
    }
    lua_State *L = r->L;
    lua_pushcfunction(L, msgh);
    r->ref_tb = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, msgh);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "engine.repl");
    if (lua_pcall(L, 1, 1, -3) || !lua_istable(L, -1)) {
        snprintf(err, errlen, "cannot load the REPL helpers: %s",
                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "engine.repl is not a table");
        lua_settop(L, 0);
        repl_free(r);
        return NULL;
    }
    lua_pushvalue(L, -1);
    r->ref_mod = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);

    lua_newtable(L); /* init's argument */
    set_cfunc(L, r, l_step, "step");
    set_cfunc(L, r, l_stop, "stop");
    set_cfunc(L, r, l_rewind, "rewind");
    if (rfile) {
        lua_pushstring(L, rfile);
        lua_setfield(L, -2, "capture");
    }
    lua_pushboolean(L, r->tty);
    lua_setfield(L, -2, "tty");
    if (call_mod(r, "init", 1, 0, err, errlen) < 0) {
        repl_free(r);
        return NULL;
    }
    return r;
}

int repl_load_script(repl_t *r, const char *path, char *err, size_t errlen) {
    lua_pushstring(r->L, path);
    return call_mod(r, "load_script", 1, 0, err, errlen);
}

void repl_free(repl_t *r) {
    if (!r) return;
    eng_capture_close(r->cap);
    if (r->L && !lbr_dead(r->b)) {
        luaL_unref(r->L, LUA_REGISTRYINDEX, r->ref_mod);
        luaL_unref(r->L, LUA_REGISTRYINDEX, r->ref_tb);
    }
    free(r->rfile);
    free(r->bpf);
    if (g_repl == r) g_repl = NULL;
    free(r);
}

/* ---- completion --------------------------------------------------------- */

static char **g_cands;
static int g_ncands;

static void free_cands(void) {
    for (int i = 0; i < g_ncands; i++) free(g_cands[i]);
    free(g_cands);
    g_cands = NULL;
    g_ncands = 0;
}

static char *cand_gen(const char *text, int state) {
    (void)text;
    static int i;
    if (state == 0) i = 0;
    while (i < g_ncands) {
        char *c = g_cands[i++];
        if (c) return strdup(c);
    }
    return NULL;
}

/* candidates from repl.complete(line up to the cursor, word) */
static char **complete(const char *text, int start, int end) {
    (void)start;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    repl_t *r = g_repl;
    if (!r || lbr_dead(r->b)) return NULL;
    lua_State *L = r->L;
    free_cands();
    const char *line = rl_line_buffer ? rl_line_buffer : "";
    size_t n = strlen(line);
    if (end >= 0 && (size_t)end < n) n = (size_t)end;
    lua_pushlstring(L, line, n);
    lua_pushstring(L, text);
    if (call_mod(r, "complete", 2, 1, NULL, 0) < 0) return NULL;
    if (lua_istable(L, -1)) {
        int k = (int)lua_objlen(L, -1);
        if (k > 0 && k < 100000) g_cands = calloc((size_t)k, sizeof *g_cands);
        for (int i = 1; g_cands && i <= k; i++) {
            lua_rawgeti(L, -1, i);
            const char *s = lua_tostring(L, -1);
            if (s) g_cands[g_ncands++] = strdup(s);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (!g_ncands) return NULL;
    return rl_completion_matches(text, cand_gen);
}

/* ---- the loop ------------------------------------------------------------- */

static void history_path(repl_t *r) {
    const char *p = getenv("ENGINE_HISTORY");
    if (p && *p) {
        snprintf(r->history, sizeof r->history, "%s", p);
        return;
    }
    const char *home = getenv("HOME");
    if (home && *home) snprintf(r->history, sizeof r->history, "%s/.engine_history", home);
}

/* one line without the newline, malloc'd; NULL at end of input. *intr is
 * set when a Ctrl-C abandoned the line. */
static char *read_line(repl_t *r, const char *prompt, int *intr) {
    *intr = 0;
    if (r->tty) {
        g_sigint = 0;
        char *s = readline(prompt);
        if (!s && g_sigint) {
            *intr = 1;
            g_sigint = 0;
            g_stop = 0;
            fputs("^C\n", stdout);
            fflush(stdout);
        }
        return s;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    do {
        errno = 0;
        got = getline(&line, &cap, stdin);
    } while (got < 0 && errno == EINTR && !g_sigint);
    if (got < 0) {
        free(line);
        if (g_sigint) {
            g_sigint = 0;
            g_stop = 0;
            clearerr(stdin);
            *intr = 1;
        }
        return NULL;
    }
    if (got > 0 && line[got - 1] == '\n') line[--got] = 0;
    if (got > 0 && line[got - 1] == '\r') line[--got] = 0;
    return line;
}

/* repl.eval(chunk): "more" when incomplete; otherwise it ran and printed */
static int eval(repl_t *r, const char *chunk, size_t len) {
    lua_State *L = r->L;
    lua_pushlstring(L, chunk, len);
    g_nint = 0;
    g_stop = 0;
    g_sigint = 0;
    g_running = 1;
    char err[1024];
    int rc = call_mod(r, "eval", 1, 1, err, sizeof err);
    g_running = 0;
    lua_sethook(L, NULL, 0, 0);
    g_stop = 0;
    g_sigint = 0;
    if (lbr_dead(r->b)) leave_dead(r);
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    int more = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "more") == 0;
    lua_pop(L, 1);
    return more;
}

int repl_loop(repl_t *r) {
    g_main = pthread_self();
    g_L = r->L;
    g_repl = r;
    g_tty = r->tty;
    install_sigint();
    if (r->tty) {
        rl_readline_name = "engine";
        rl_catch_signals = 0;
        rl_attempted_completion_function = complete;
        rl_completion_append_character = 0;
        /* no [ ]: "f.events[2].fi" is one word, completed after the index */
        rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{(),+-*/%^~#";
        rl_completer_word_break_characters = (char *)rl_basic_word_break_characters;
        using_history();
        stifle_history(HISTORY_MAX);
        history_path(r);
        if (r->history[0]) read_history(r->history);
        printf("engine %s REPL: help() lists the helpers; Ctrl-D leaves\n", ENG_VERSION);
        fflush(stdout);
    }
    char *buf = NULL;
    size_t blen = 0;
    for (;;) {
        int intr;
        char *line = read_line(r, blen ? PROMPT_MORE : PROMPT, &intr);
        if (!line) {
            if (intr) { /* Ctrl-C at the prompt: drop the line (and a pending chunk) */
                blen = 0;
                continue;
            }
            break;
        }
        size_t ll = strlen(line);
        if (r->tty && ll > 0) {
            add_history(line);
            if (r->history[0]) write_history(r->history);
        }
        if (blen == 0 && ll == 0) {
            free(line);
            continue;
        }
        if (blen + ll + 2 > MAX_CHUNK) {
            fprintf(stderr, "engine: chunk longer than %u bytes: dropped\n", MAX_CHUNK);
            blen = 0;
            free(line);
            continue;
        }
        char *nb = realloc(buf, blen + ll + 2);
        if (!nb) {
            free(line);
            break;
        }
        buf = nb;
        if (blen) buf[blen++] = '\n';
        memcpy(buf + blen, line, ll);
        blen += ll;
        buf[blen] = 0;
        free(line);
        if (!eval(r, buf, blen)) blen = 0;
    }
    free(buf);
    free_cands();
    if (r->tty) {
        putchar('\n');
        fflush(stdout);
    }
    signal(SIGINT, SIG_DFL);
    g_L = NULL;
    return lbr_failed(r->b) ? 1 : 0;
}
