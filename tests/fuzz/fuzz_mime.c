/* fuzz_mime.c - arbitrary bytes as an Internet message through the MIME
 * decoder (decoders/mime.c), in arbitrary chunks, with gaps.
 *
 * Input layout: byte 0 is the separator S; byte 1 picks the configuration
 * (bits 0-1 stream.max_line 64/100/1024/16384, bits 2-4 mime.max_depth 0-7,
 * bits 5-7 which events are subscribed: all, headers only, parts only, files
 * only, data only, ...). The rest is the message, cut into chunks at each S;
 * "S S n" (two separators and a byte) is a gap of n+1 bytes instead.
 * Every subscriber hashes every field (so ASan checks the views handed
 * out); when the input has no gap, the message is run a second time in one
 * chunk and the two event streams must be identical (trap otherwise).
 * file.begin is not subscribed: libmagic would run on every file and slow
 * the target down fiftyfold (sniffing is files.c's business).
 * Build: make fuzz; run: build/fuzz/fuzz_mime DIR.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "mime.h"

/* a hash of the event stream (kinds and field values) */
static void on_event(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    uint64_t *h = user;
    *h = (*h ^ (uint64_t)ev->kind) * 0x100000001b3ULL;
    for (int i = 0; i < ev->nfields; i++) {
        const eng_value_t *v = &ev->f[i];
        *h = (*h ^ v->type) * 0x100000001b3ULL;
        if (v->type == ENG_T_STR)
            for (uint32_t k = 0; k < v->len; k++) *h = (*h ^ v->u.s[k]) * 0x100000001b3ULL;
        else if (v->type != ENG_T_NIL)
            *h = (*h ^ (uint64_t)v->u.i) * 0x100000001b3ULL;
    }
}

static const char *const max_lines[] = {"64", "100", "1024", "16384"};

/* one run; whole: the message in one chunk, separators removed (no gaps) */
static uint64_t run(const uint8_t *data, size_t size, int whole, int *had_gap) {
    uint8_t sep = data[0], cfg = data[1];
    uint64_t h = 0xcbf29ce484222325ULL;
    eng_t *e = eng_new();
    char err[128], depth[8];
    eng_config_set(e, "stream.max_line", max_lines[cfg & 3], err, sizeof err);
    snprintf(depth, sizeof depth, "%d", (cfg >> 2) & 7);
    eng_config_set(e, "mime.max_depth", depth, err, sizeof err);
    static const int sets[8][8] = {
        {ENG_EV_MAIL_HEADER, ENG_EV_MAIL_MESSAGE, ENG_EV_MIME_PART, ENG_EV_MIME_DATA,
         ENG_EV_MIME_PART_DONE, ENG_EV_FILE_DATA, ENG_EV_FILE_DONE, -1},
        {ENG_EV_MAIL_HEADER, -1},
        {ENG_EV_MAIL_MESSAGE, -1},
        {ENG_EV_MIME_PART, -1},
        {ENG_EV_MIME_PART_DONE, -1},
        {ENG_EV_FILE_DONE, -1},
        {ENG_EV_MIME_DATA, ENG_EV_MAIL_MESSAGE, -1},
        {-1},
    };
    const int *set = sets[(cfg >> 5) & 7];
    for (int i = 0; i < 8 && set[i] >= 0; i++) eng_on(e, set[i], on_event, &h);
    eng_on(e, ENG_EV_WEIRD, on_event, &h);

    mime_msg_t *m = mime_begin(e, NULL, ENG_ORIG, "smtp");
    static uint8_t joined[1 << 16];
    size_t jl = 0;
    size_t pos = 2, start = 2;
    while (pos < size) {
        if (data[pos] != sep) {
            pos++;
            continue;
        }
        if (whole) {
            if (jl + (pos - start) <= sizeof joined) memcpy(joined + jl, data + start, pos - start);
            jl += pos - start;
        } else {
            mime_feed(m, data + start, pos - start);
        }
        if (pos + 2 < size && data[pos + 1] == sep) {
            if (!whole) mime_gap(m, (uint64_t)data[pos + 2] + 1);
            *had_gap = 1;
            pos += 3;
        } else {
            pos++;
        }
        start = pos;
    }
    if (whole) {
        if (jl + (size - start) <= sizeof joined) memcpy(joined + jl, data + start, size - start);
        jl += size - start;
        if (jl <= sizeof joined) mime_feed(m, joined, jl);
    } else {
        mime_feed(m, data + start, size - start);
    }
    mime_end(m);
    eng_free(e);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > (1 << 16)) return 0;
    int had_gap = 0;
    uint64_t a = run(data, size, 0, &had_gap);
    if (!had_gap) {
        /* without gaps, the events must not depend on the chunking */
        uint64_t b = run(data, size, 1, &had_gap);
        if (a != b) __builtin_trap();
    }
    return 0;
}
