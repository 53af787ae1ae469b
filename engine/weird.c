/* weird.c - `weird` reports: malformed or odd input, counted by name and
 * fired as the `weird` event (Zeek's weird.log). Names are stable snake_case
 * identifiers; the detail text is formatted only when someone listens. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void count(eng_t *e, const char *name) {
    for (int i = 0; i < e->nweirds; i++)
        if (!strcmp(e->weirds[i].name, name)) {
            e->weirds[i].n++;
            return;
        }
    if (e->nweirds == e->capweirds) {
        int cap = e->capweirds ? e->capweirds * 2 : 16;
        struct weird_count *w = realloc(e->weirds, cap * sizeof *w);
        if (!w) return;
        e->weirds = w;
        e->capweirds = cap;
    }
    char *n = strdup(name);
    if (!n) return;
    e->weirds[e->nweirds++] = (struct weird_count){n, 1};
}

/* weird.log source: Zeek's analyzer names, from the file that raised the weird
 * (decoders/http.c -> HTTP, engine/frag.c -> IP); other files: their name upper-cased */
static const char *source_of(const char *file, char *buf, size_t len) {
    static const struct { const char *file, *source; } map[] = {
        {"tcp", "TCP"}, {"reasm", "TCP"}, {"flow", "ENGINE"}, {"stream", "TCP"},
        {"ip", "IP"}, {"frag", "IP"}, {"link", "LINK"}, {"capture", "LINK"},
        {"tls", "SSL"}, {"x509", "X509"}, {"dotbody", "SMTP"}, {"files", "FILES"},
        {"expect", "EXPECT"}, {"tunnel", "TUNNEL"}, {"packet", "ENGINE"},
    };
    if (!file) return "EMBED";
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    size_t n = strcspn(b, ".");
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].file) == n && !strncmp(map[i].file, b, n)) return map[i].source;
    if (n >= len) n = len - 1;
    for (size_t i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)b[i]);
    buf[n] = 0;
    return buf;
}

void eng_vweird(eng_t *e, eng_flow_t *f, const char *file, const char *name, const char *fmt, va_list ap) {
    e->stats.weirds++;
    count(e, name);
    if (!eng_wants(e, ENG_EV_WEIRD)) return;
    char detail[512];
    int n = 0;
    if (fmt && *fmt) {
        n = vsnprintf(detail, sizeof detail, fmt, ap);
        if (n < 0) n = 0;
        if (n >= (int)sizeof detail) n = sizeof detail - 1;
    }
    eng_event_t ev;
    ev_init(&ev, ENG_EV_WEIRD, f);
    ev_set(&ev, ENG_F_WEIRD_name, ev_cstr(name));
    char sb[24];
    ev_set(&ev, ENG_F_WEIRD_source, ev_cstr(source_of(file, sb, sizeof sb)));
    if (n > 0) ev_set(&ev, ENG_F_WEIRD_detail, ev_str(detail, (size_t)n, ENG_NO_OFFSET));
    eng_fire(e, &ev);
}

#undef eng_weird
void eng_weird(eng_t *e, eng_flow_t *f, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    eng_vweird(e, f, NULL, name, fmt, ap);
    va_end(ap);
}

void eng_weird_from(eng_t *e, eng_flow_t *f, const char *file, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    eng_vweird(e, f, file, name, fmt, ap);
    va_end(ap);
}

const char *eng_weird_name(const eng_t *e, int i, uint64_t *n) {
    if (i < 0 || i >= e->nweirds) return NULL;
    if (n) *n = e->weirds[i].n;
    return e->weirds[i].name;
}
