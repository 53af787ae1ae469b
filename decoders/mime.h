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
void mime_gap(mime_msg_t *m, uint64_t n);
/* the message is complete (or the flow ended): close open parts and files,
 * free m. NULL is accepted. */
void mime_end(mime_msg_t *m);

#endif
