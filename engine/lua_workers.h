/* lua_workers.h - `engine -j N -r FILE` or `-j N -i IFACE` (N > 1): the command line's run with
 * one engine instance and one Lua state per worker (engine/workers.h). */
#ifndef ENGINE_LUA_WORKERS_H
#define ENGINE_LUA_WORKERS_H

#include "engine.h"

typedef struct lwk_args {
    const char *rfile, *iface, *bpf, *outdir; /* rfile or iface */
    const char *const *scripts;
    int nscripts;
    const char *const *chunks;
    int nchunks;
    const char *const *sets; /* KEY=VALUE */
    int nsets;
    int jobs, stats, quiet;
    volatile int *stop;                 /* set by SIGINT/SIGTERM */
    eng_progress_t progress;            /* may be NULL */
    void *progress_user;
    void (*progress_done)(void *user);  /* clear the progress line; may be NULL */
    void (*print_stats)(const eng_t *e); /* --stats: given the merged counters */
} lwk_args_t;

/* the whole run; returns the exit status (0, 1, or 2 for a bad --set) */
int lwk_run(const lwk_args_t *a);

#endif
