/* lua_repl.h - `engine --repl`: an interactive LuaJIT prompt over one engine
 * instance and its Lua bridge (docs/repl.md). The helpers (run, step, flows,
 * ...) are in lua/engine/repl.lua; this side does the line editing, history,
 * completion hooks, Ctrl-C, and the stepping of the capture.
 *
 * Named lua_repl.c so that the Makefile builds it with the bridge into the
 * engine binary only (not into libengine or the fuzz targets).
 */
#ifndef ENGINE_LUA_REPL_H
#define ENGINE_LUA_REPL_H

#include <stddef.h>

#include "engine.h"
#include "lua_bridge.h"

typedef struct repl repl_t;

/* Set up the REPL over e and b: load the helpers, open the capture (rfile may
 * be NULL: no capture; it is read only by run()/step()). NULL with a message
 * in err. Call before loading any script, so that reload() knows the
 * handlers each script registers. */
repl_t *repl_new(eng_t *e, lbr_t *b, const char *rfile, const char *bpf, char *err,
                 size_t errlen);
/* Load a -s script through the REPL (remembered for reload()). 0, or -1
 * with "file:line: message" in err. */
int repl_load_script(repl_t *r, const char *path, char *err, size_t errlen);
/* Read, evaluate, print until end of input (Ctrl-D). Returns the exit
 * status: 0, or 1 when the bridge failed for good. */
int repl_loop(repl_t *r);
/* close the capture (the caller then finishes e and frees b and e) */
void repl_free(repl_t *r);

#endif
