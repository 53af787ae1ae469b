/* event.h - building an event: the kind, then its fields as views
 * (pointer, length, stream offset) into bytes that stay valid for the
 * duration of the dispatch. Used by the core and by every decoder:
 *
 *   eng_event_t ev;
 *   ev_init(&ev, ENG_EV_FTP_COMMAND, flow);
 *   ev_set(&ev, ENG_F_FTP_COMMAND_command, ev_str(p, n, off));
 *   dec_fire(e, &ev);       (eng_fire inside the core)
 *
 * A field not set is absent (nil in Lua). */
#ifndef ENGINE_EVENT_H
#define ENGINE_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine.h"

static inline void ev_init(eng_event_t *ev, int kind, eng_flow_t *f) {
    ev->kind = kind;
    ev->nfields = 0;
    ev->flow = f;
}
static inline void ev_set(eng_event_t *ev, int i, eng_value_t v) {
    if (i < 0 || i >= ENG_MAX_FIELDS) return;
    unsigned n = ev->nfields > 0 ? (unsigned)ev->nfields : 0u;
    for (; n < (unsigned)i; n++) ev->f[n].type = ENG_T_NIL; /* fields skipped: absent */
    ev->f[i] = v;
    if (n == (unsigned)i) n++;
    ev->nfields = (int32_t)n;
}
static inline eng_value_t ev_str(const void *p, size_t len, uint64_t off) {
    eng_value_t v;
    v.type = ENG_T_STR; v.len = (uint32_t)len; v.u.s = (const uint8_t *)p; v.offset = off;
    return v;
}
static inline eng_value_t ev_cstr(const char *s);
static inline eng_value_t ev_int(int64_t i) {
    eng_value_t v;
    v.type = ENG_T_INT; v.len = 0; v.u.i = i; v.offset = ENG_NO_OFFSET;
    return v;
}
static inline eng_value_t ev_num(double n) {
    eng_value_t v;
    v.type = ENG_T_NUM; v.len = 0; v.u.n = n; v.offset = ENG_NO_OFFSET;
    return v;
}
static inline eng_value_t ev_bool(int b) {
    eng_value_t v;
    v.type = ENG_T_BOOL; v.len = 0; v.u.i = b ? 1 : 0; v.offset = ENG_NO_OFFSET;
    return v;
}
static inline eng_value_t ev_cstr(const char *s) { return ev_str(s, strlen(s), ENG_NO_OFFSET); }
static inline eng_value_t ev_dir(int dir) { return ev_str(dir ? "resp" : "orig", 4, ENG_NO_OFFSET); }

#endif
