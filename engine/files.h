/* files.h - the files framework: any decoder that carries a file (an HTTP
 * body, a MIME part, an FTP transfer) hands its decoded bytes here, and the
 * framework fires file.begin / file.data / file.done with a fuid, the MIME
 * type sniffed from the first bytes (common signatures, then libmagic), and
 * md5/sha1/sha256 computed
 * incrementally (nettle) - hashing and sniffing run only when some
 * subscriber wants file.begin or file.done.
 *
 *   eng_file_t *fl = eng_file_begin(e, flow, dir, "http", name_or_NULL, name_len);
 *   eng_file_data(e, fl, p, n);            any number of times
 *   eng_file_gap(e, fl, n);                bytes that were lost (missing_bytes)
 *   eng_file_end(e, fl);                   fires file.done, frees fl
 *
 * Optional facts a decoder knows (call them before eng_file_end):
 *   eng_file_set_depth(fl, n);   Zeek's files.log depth: HTTP the transaction
 *                                number in the connection, MIME the entity
 *                                number in the message (1 = the top level)
 *   eng_file_set_total(fl, n);   the announced size (HTTP Content-Length of an
 *                                unencoded body): files.log total_bytes
 *
 * Extraction (`--set files.extract=DIR`): every file's bytes are written to
 * DIR/extract-<ts>-<SOURCE>-<fuid> (Zeek's extract analyzer's name; nothing
 * from the traffic is in it), capped by files.extract_max_bytes a file and
 * files.extract_total_max_bytes a run, filtered by files.extract_mime; file.done
 * says extracted / extracted_cutoff / extracted_size. See files.c.
 */
#ifndef ENGINE_FILES_H
#define ENGINE_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct eng_file eng_file_t;

/* a new file carried by direction dir (ENG_ORIG / ENG_RESP) of flow f; NULL
 * when nobody listens to file events (then the other calls accept NULL and do
 * nothing) */
eng_file_t *eng_file_begin(eng_t *e, eng_flow_t *f, int dir, const char *source,
                           const char *filename, size_t filename_len);
void eng_file_data(eng_t *e, eng_file_t *fl, const uint8_t *p, size_t n);
void eng_file_gap(eng_t *e, eng_file_t *fl, uint64_t n);
/* the file is a fragment (it does not start at byte 0 of the object, e.g. an
 * HTTP 206 range): no MIME type is sniffed; call before the first data */
void eng_file_no_sniff(eng_t *e, eng_file_t *fl);
void eng_file_end(eng_t *e, eng_file_t *fl);
void eng_file_set_depth(eng_file_t *fl, uint32_t depth);
void eng_file_set_total(eng_file_t *fl, uint64_t total);
/* the fuid ("F..."), or NULL */
const char *eng_file_fuid(const eng_file_t *fl);
/* the sniffed MIME type once known (after the first bytes), or NULL */
const char *eng_file_mime(const eng_file_t *fl);
/* config.c calls it when files.extract is set: with a DIR, files are decoded
 * even when no script listens to file events (a file.done subscriber of the
 * engine's own is added, once) */
void files_extract_config(eng_t *e);
/* 0 when dir is empty or a directory the engine can write into; else -1 and
 * a message in err (config.c: `--set files.extract=DIR` is refused) */
int files_extract_check(const char *dir, char *err, size_t errlen);
/* release the instance's libmagic handle; eng_free() calls it */
void files_free(eng_t *e);

/* md5 (0), sha1 (1) or sha256 (2) of p as lower-case hex into out (>= 65
 * bytes); 0, or -1 for an unknown kind. For engine.hash. */
int eng_digest_hex(int kind, const uint8_t *p, size_t n, char *out);

#endif
