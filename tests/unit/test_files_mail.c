/* test_files_mail.c - mail.message_done (decoders/mime.c): after every
 * file.done of the message, its fuids in order and bounded at 64, the entity
 * numbers as files' depth, sizes and gaps, and the event alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "files.h"
#include "internal.h"
#include "mime.h"

typedef struct rec {
    int order[256];           /* 1 file.done, 2 mail.message_done */
    char done_fuid[128][20];
    int64_t depth[128];
    int n, ndone;
    int nmsg;
    char fuids[80][20];
    int nfuids;
    int64_t files, parts, size, missing;
    char dir[8];
} rec_t;

static void cstr(char *o, size_t cap, const eng_value_t *v) {
    size_t n = v->type == ENG_T_STR ? (v->len < cap - 1 ? v->len : cap - 1) : 0;
    if (n) memcpy(o, v->u.s, n);
    o[n] = 0;
}

static void on_ev(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    rec_t *r = user;
    if (r->n < 256) r->order[r->n++] = ev->kind == ENG_EV_FILE_DONE ? 1 : 2;
    if (ev->kind == ENG_EV_FILE_DONE) {
        if (r->ndone < 128) {
            cstr(r->done_fuid[r->ndone], 20, &ev->f[ENG_F_FILE_DONE_fuid]);
            r->depth[r->ndone] = ev->f[ENG_F_FILE_DONE_depth].u.i;
        }
        r->ndone++;
        return;
    }
    r->nmsg++;
    const eng_value_t *l = &ev->f[ENG_F_MAIL_MESSAGE_DONE_fuids];
    r->nfuids = l->type == ENG_T_LIST ? (int)l->len : -1;
    for (int i = 0; i < r->nfuids && i < 80; i++) cstr(r->fuids[i], 20, &l->u.list[i]);
    r->files = ev->f[ENG_F_MAIL_MESSAGE_DONE_files].u.i;
    r->parts = ev->f[ENG_F_MAIL_MESSAGE_DONE_parts].u.i;
    r->size = ev->f[ENG_F_MAIL_MESSAGE_DONE_size].u.i;
    r->missing = ev->f[ENG_F_MAIL_MESSAGE_DONE_missing_bytes].u.i;
    cstr(r->dir, sizeof r->dir, &ev->f[ENG_F_MAIL_MESSAGE_DONE_dir]);
}

static char msg_[200000];

/* a multipart/mixed message with a text part and `natt` base64 attachments */
static size_t build(int natt) {
    size_t n = (size_t)snprintf(msg_, sizeof msg_,
                                "From: a@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
                                "Content-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
                                "--BB\r\nContent-Type: text/plain\r\n\r\nhello\r\n");
    for (int i = 0; i < natt; i++)
        n += (size_t)snprintf(msg_ + n, sizeof msg_ - n,
                              "--BB\r\nContent-Type: application/octet-stream\r\n"
                              "Content-Transfer-Encoding: base64\r\n"
                              "Content-Disposition: attachment; filename=\"a%d.bin\"\r\n\r\n"
                              "AAECAwQF\r\n",
                              i);
    n += (size_t)snprintf(msg_ + n, sizeof msg_ - n, "--BB--\r\n");
    return n;
}

static eng_t *new_eng(rec_t *r, int files) {
    eng_t *e = eng_new();
    memset(r, 0, sizeof *r);
    if (files) eng_on(e, ENG_EV_FILE_DONE, on_ev, r);
    eng_on(e, ENG_EV_MAIL_MESSAGE_DONE, on_ev, r);
    return e;
}

TEST(after_every_file_with_fuids_in_order) {
    rec_t r;
    eng_t *e = new_eng(&r, 1);
    size_t n = build(2);
    mime_msg_t *m = mime_begin(e, NULL, ENG_ORIG, "smtp");
    for (size_t i = 0; i < n; i += 7) mime_feed(m, (const uint8_t *)msg_ + i, n - i < 7 ? n - i : 7);
    mime_end(m);
    CHECK_EQ_INT(r.nmsg, 1);
    CHECK_EQ_INT(r.ndone, 3);
    CHECK_EQ_INT(r.n, 4);
    CHECK_EQ_INT(r.order[3], 2); /* the message is last */
    CHECK_EQ_INT(r.nfuids, 3);
    for (int i = 0; i < 3; i++) CHECK(!strcmp(r.fuids[i], r.done_fuid[i]));
    CHECK_EQ_INT(r.files, 3);
    CHECK_EQ_INT(r.parts, 4); /* the multipart, the text, two attachments */
    CHECK_EQ_INT(r.depth[0], 2);
    CHECK_EQ_INT(r.depth[1], 3);
    CHECK_EQ_INT(r.depth[2], 4);
    CHECK_EQ_INT(r.size, (int64_t)n);
    CHECK_EQ_INT(r.missing, 0);
    CHECK(!strcmp(r.dir, "orig"));
    eng_free(e);
}

TEST(fuids_bounded_at_64) {
    rec_t r;
    eng_t *e = new_eng(&r, 1);
    size_t n = build(99);
    mime_msg_t *m = mime_begin(e, NULL, ENG_RESP, "imap");
    mime_feed(m, (const uint8_t *)msg_, n);
    mime_end(m);
    CHECK_EQ_INT(r.nmsg, 1);
    CHECK_EQ_INT(r.files, 100);
    CHECK_EQ_INT(r.nfuids, 64);
    CHECK(!strcmp(r.fuids[63], r.done_fuid[63]));
    CHECK(!strcmp(r.dir, "resp"));
    eng_free(e);
}

TEST(open_file_closed_before_message_at_end) {
    rec_t r;
    eng_t *e = new_eng(&r, 1);
    size_t n = build(1);
    mime_msg_t *m = mime_begin(e, NULL, ENG_RESP, "pop3");
    mime_feed(m, (const uint8_t *)msg_, n - 12); /* cut inside the attachment body */
    mime_gap(m, 100);
    mime_end(m); /* the flow ended */
    CHECK_EQ_INT(r.nmsg, 1);
    CHECK_EQ_INT(r.ndone, 2);
    CHECK_EQ_INT(r.order[r.n - 1], 2);
    CHECK_EQ_INT(r.missing, 100);
    CHECK_EQ_INT(r.size, (int64_t)(n - 12 + 100));
    eng_free(e);
}

TEST(alone_parses_nothing) {
    rec_t r;
    eng_t *e = new_eng(&r, 0);
    size_t n = build(3);
    mime_msg_t *m = mime_begin(e, NULL, ENG_ORIG, "smtp");
    mime_feed(m, (const uint8_t *)msg_, n);
    mime_end(m);
    CHECK_EQ_INT(r.nmsg, 1);
    CHECK_EQ_INT(r.nfuids, 0);
    CHECK_EQ_INT(r.files, 0);
    CHECK_EQ_INT(r.size, (int64_t)n);
    eng_free(e);
}

int main(void) {
    RUN(after_every_file_with_fuids_in_order);
    RUN(fuids_bounded_at_64);
    RUN(open_file_closed_before_message_at_end);
    RUN(alone_parses_nothing);
    return check_report("files_mail");
}
