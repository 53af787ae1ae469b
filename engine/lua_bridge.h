/* lua_bridge.h - the LuaJIT layer over one engine instance.
 *
 * A bridge owns one Lua state bound to one eng_t. It loads lua/engine.lua (the
 * `engine` module), then user scripts; `engine.on` subscribes to the C event
 * bus only for kinds that have handlers, so unhandled events cost nothing.
 */
#ifndef ENGINE_LUA_BRIDGE_H
#define ENGINE_LUA_BRIDGE_H

#include <stddef.h>

#include "engine.h"

typedef struct lua_bridge lbr_t;

/* Create the Lua state and load the engine module. `home` is the folder
 * holding lua/ and scripts/ (NULL: found from the executable's path or the
 * ENGINE_HOME environment variable). `outdir` is the -o folder, NULL for
 * standard output. NULL on failure, with a message in err. */
lbr_t *lbr_new(eng_t *e, const char *home, const char *outdir, char *err, size_t errlen);
/* -j N (engine/workers.h): the bridge of worker `id` of `count`. Its logs go
 * through write(user, stream, slen, lines, len) and flush(user) (0 or -1)
 * instead of files it opens; engine.worker is { id = id, count = count }. */
typedef struct lbr_worker {
    int id, count;
    int (*write)(void *user, const char *stream, size_t slen, const char *line, size_t len);
    int (*flush)(void *user);
    void *user;
} lbr_worker_t;
lbr_t *lbr_new_worker(eng_t *e, const char *home, const char *outdir, const lbr_worker_t *w,
                      char *err, size_t errlen);
/* Load and run a script file. 0, or -1 with "file:line: message" in err. */
int lbr_load_file(lbr_t *b, const char *path, char *err, size_t errlen);
/* Run a chunk of Lua (-e). 0, or -1 with the message in err. */
int lbr_load_string(lbr_t *b, const char *code, const char *chunkname, char *err, size_t errlen);
/* Load scripts/default.lua (no -s and no -e given) */
int lbr_load_default(lbr_t *b, char *err, size_t errlen);
/* Set when the run must stop: a handler error under lua.strict, or a log
 * that cannot be written. The message is in lbr_error(). */
int lbr_failed(const lbr_t *b);
/* whether a loaded script declared the configuration key (engine.config_key); near
 * gets the nearest known or declared key (for "did you mean") */
int lbr_config_check(lbr_t *b, const char *key, char *near, size_t nearlen);
const char *lbr_error(const lbr_t *b);
/* os.exit(code) from a script (lua/engine/sandbox.lua): the bridge sets *flag
 * (the reading loop's stop flag) and remembers the code; lbr_exit_requested
 * returns 1 and the code once a script asked. */
void lbr_set_stop_flag(lbr_t *b, volatile int *flag);
int lbr_exit_requested(const lbr_t *b, int *code);
/* handler errors so far (timeouts and lua.max_memory failures included) */
uint64_t lbr_handler_errors(const lbr_t *b);
/* write the logs' buffers out now (live runs: cli.c calls it every second) */
void lbr_flush(lbr_t *b);
/* flush and close the logs, close the Lua state (after eng_finish) */
void lbr_free(lbr_t *b);
/* the Lua state, for the REPL */
struct lua_State *lbr_state(lbr_t *b);

/* ---- REPL support ---- */
/* 1 once the watchdog's hard stop abandoned the Lua state (it must not be
 * entered again: the REPL leaves) */
int lbr_dead(const lbr_t *b);

/* ---- testing support ---- */
/* `engine test [BUSTED-ARG]...`: argv[0] is "test"; execs busted under
 * luajit with LUA_PATH/LUA_CPATH set for engine.testing. Returns only on
 * failure (exit status 1). */
int lbr_test_main(int argc, char **argv);

#endif
