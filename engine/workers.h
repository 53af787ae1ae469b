/* workers.h - `-j N`: N engine instances (workers), each on its own thread,
 * on one capture file or a live interface (docs/architecture.md, "Workers").
 *
 * A reader (the calling thread) reads the capture and hands every frame to
 * one worker through a bounded queue, chosen by a symmetric keyed hash of the
 * frame's IP address pair: both directions of a flow, every fragment of a
 * datagram and the connections a decoder expects between the same two hosts
 * (FTP data, most RTP) meet in one worker. Frames without an IP header go to
 * worker 0. Each worker's clock is moved with the capture's (an "advance" in
 * its queue at least once a second of network time), so its timers, ticks and
 * timeouts fire as with one instance. At the end every worker is moved to the
 * capture's last time and finished (eng_finish) on its own thread.
 *
 * The shared log output (wk_out_t) takes whole lines from each worker's
 * buffer (wk_lines_t) under a lock: one file per stream, never a line cut.
 * With log.ordered, each line is tagged with its worker's network time and
 * the output writes them in that order (wk_out_order).
 *
 * Not part of the embedding API (engine.h): the embedding API is one
 * instance, driven by the caller's thread.
 */
#ifndef ENGINE_WORKERS_H
#define ENGINE_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define WK_MAX 1024 /* -j at most */

/* ---- shared log output ---- */
typedef struct wk_out wk_out_t;
typedef struct wk_lines wk_lines_t;

/* outdir: DIR/<stream>.log; NULL: standard output */
wk_out_t *wk_out_new(const char *outdir);
/* write what the files buffer (live runs: at least once a second); 0 or -1 */
int wk_out_flush(wk_out_t *o);
/* log.ordered: the lines of nworkers workers (wk_lines_t 0..nworkers-1) go out
 * in the order of the network time each was written at, ties in worker order,
 * through a reorder buffer of at most max_bytes (past it, the earliest lines
 * go out anyway). Before any line; 0 or -1 (out of memory) */
int wk_out_order(wk_out_t *o, int nworkers, size_t max_bytes);
/* lines the full reorder buffer let out before a line they should have followed */
uint64_t wk_out_late(const wk_out_t *o);
/* close the files (ordered: after writing every waiting line); 0, or -1 with
 * the first write error in err */
int wk_out_close(wk_out_t *o, char *err, size_t errlen);
void wk_out_free(wk_out_t *o);

/* worker's buffers over o (up to WK_LINES_BUF bytes a stream); e: the
 * worker's instance, whose clock (eng_now) tags each line when o is ordered */
#define WK_LINES_BUF 65536
#define WK_MAX_STREAMS 256
wk_lines_t *wk_lines_new(wk_out_t *o, const eng_t *e, int worker);
/* one whole line (or several) of stream: 0, or -1 (write error, too many streams) */
int wk_lines_write(void *lines, const char *stream, size_t slen, const char *line, size_t len);
/* write what is buffered (ordered: hand it to the reorder buffer, and say that
 * the worker's clock reached eng_now); 0 or -1 */
int wk_lines_flush(void *lines);
/* whether the lines go through the reorder buffer */
int wk_lines_ordered(const wk_lines_t *l);
void wk_lines_free(wk_lines_t *l);

/* ---- the group ---- */
typedef struct wk_group wk_group_t;
/* called on a worker's thread after each batch of frames; non-zero stops the
 * read (a script failed) */
typedef int (*wk_poll_t)(void *user, int worker);

/* n workers over engines[0..n-1] (configured, scripts loaded, not started) */
wk_group_t *wk_group_new(int n, eng_t **engines, wk_poll_t poll, void *user);
/* Read a capture file ("-": standard input) into the workers, then finish
 * every worker on its thread. Same return codes and messages as
 * eng_read_file_until; stop is checked before each frame. progress (may be
 * NULL) is called as by eng_set_progress. */
int wk_read_file(wk_group_t *g, const char *path, const char *bpf, volatile int *stop,
                 eng_progress_t progress, void *pguser, char *err, size_t errlen);
/* Live capture on iface into the workers (the calling thread reads, as for a
 * file; frames wait at most 50 ms in a partial batch, and on a quiet link the
 * workers' clocks follow the real one), until *stop; then every worker is
 * finished on its thread. Return codes and messages as eng_read_live. */
int wk_read_live(wk_group_t *g, const char *iface, const char *bpf, volatile int *stop,
                 eng_progress_t progress, void *pguser, char *err, size_t errlen);
/* add what the reader counted (live: packets the kernel dropped) into dst */
void wk_merge_reader_stats(eng_t *dst, const wk_group_t *g);
/* frames handed to worker i */
uint64_t wk_frames(const wk_group_t *g, int i);
void wk_group_free(wk_group_t *g);

/* add src's counters, weird counts and unsupported link types into dst
 * (--stats of a -j N run: flows_active and tcp_buffered_peak are sums of the
 * workers' values) */
void wk_merge_stats(eng_t *dst, const eng_t *src);

/* the seed of worker i's uids and fuids from the run's seed: worker 0 keeps
 * it (so -j 1 is unchanged); the others get disjoint inputs of the id hash */
uint64_t wk_seed(uint64_t seed, int i);

#endif
