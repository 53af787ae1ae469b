/* mime.h - one streaming decoder for Internet messages (RFC 5322 + MIME),
 * shared by SMTP (DATA, BDAT), POP3 (RETR, TOP) and IMAP (FETCH literals).
 *
 * The protocol decoder hands over the message's bytes as they come, in any
 * chunking (already dot-unstuffed for SMTP/POP3); the MIME decoder splits
 * lines itself with a bounded stream reader, so memory stays bounded by one
 * line whatever the message size. It fires mail.header, mail.message,
 * mime.part, mime.data, mime.part_done, and turns each leaf part into a file
 * (files.h) with its decoded bytes.
 *
 *   mime_msg_t *m = mime_begin(e, flow, ENG_ORIG, "smtp");
 *   mime_feed(m, p, n);   ...   mime_gap(m, n);   ...
 *   mime_end(m);          frees m
 *
 * mime_cd_filename() gives other decoders (HTTP) the same filename rules.
 */
#ifndef DECODERS_MIME_H
#define DECODERS_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct mime_msg mime_msg_t;

/* a new message carried by direction dir (ENG_ORIG / ENG_RESP) of flow f;
 * source names the protocol ("smtp", "pop3", "imap") for the files it yields */
mime_msg_t *mime_begin(eng_t *e, eng_flow_t *f, int dir, const char *source);
/* the next bytes of the message */
void mime_feed(mime_msg_t *m, const uint8_t *p, size_t n);
/* n bytes of the message were lost */
void mime_gap(mime_msg_t *m, uint64_t n); /* n = 0: an engine.memcap cut (decoder.h) */
/* the message is complete (or the flow ended): close open parts and files,
 * free m. NULL is accepted. */
void mime_end(mime_msg_t *m);

/* the longest decoded filename (bytes) a MIME part or mime_cd_filename gives */
#define MIME_FILENAME_MAX 2048

/* The filename of a Content-Disposition header value v[0..n) (e.g.
 * `attachment; filename="a.zip"`), by the rules MIME parts use: the RFC 2231
 * / RFC 5987 form (`filename*=charset'lang'pct-encoded`, continuations
 * `filename*0*=`... joined) wins over plain `filename=` wherever it appears;
 * its charset is converted to UTF-8 (iconv; UTF-8, ASCII and charsets iconv
 * does not know are kept as they are); a plain value has RFC 2047 encoded
 * words decoded. The raw parameter is cut at 1024 bytes, the result at
 * min(cap - 1, MIME_FILENAME_MAX) bytes; a character (or %-escape) left
 * incomplete by a cut is dropped. NUL-terminated in out. Returns its length
 * (0 for `filename=""`), or -1 when there is no filename parameter (out is
 * then ""). Reads only v[0..n); under 5 KiB of stack, no heap of its own (an
 * iconv descriptor is opened and closed within the call only for a charset
 * other than UTF-8/ASCII). */
int mime_cd_filename(const uint8_t *v, size_t n, char *out, size_t cap);

#endif
