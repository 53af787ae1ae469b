/* http.c - HTTP/1.0 and 1.1, both directions, on the stream reader.
 *
 * Per direction a small state machine pulls lines (start line, headers,
 * chunk sizes, trailers) and body bytes (sr_some) from a stream_reader_t whose
 * max_unit is stream.max_line. Bodies are de-chunked, gzip/deflate content
 * coding is inflated (zlib, streamed through a fixed 16 KiB stack buffer) and
 * the decoded bytes go to http.body and to the files framework.
 *
 * Events: http.request, http.response, http.header, http.body,
 * http.message_done; anomalies are weirds named http_*.
 *
 * Definitions and bounds made here:
 *  - Memory per direction: the stream reader (<= stream.max_line) plus the
 *    header arena of the current message: the start line (<= max_line), the
 *    stored headers (at most HDR_MAX = 256 of them and HDR_BYTES = 64 KiB of
 *    names and values; past either bound: weird http_too_many_headers, later
 *    headers still fire http.header and are still interpreted, but are not
 *    in the `headers` map), and the header being built (folded lines joined,
 *    cut at max_line with weird http_header_too_long). The arena is released
 *    after a message that needed more than 4 KiB. Plus a zlib stream while an
 *    encoded body is being inflated. Plus a queue of at most PENDING_MAX = 64
 *    request methods waiting for their responses (beyond: weird
 *    http_too_many_pending; those requests are paired as plain GETs).
 *  - wire_len: bytes of the message body on the wire, from the end of the
 *    header block to the end of the message (chunk framing and trailers
 *    included). body_len: decoded bytes delivered (after http.max_body).
 *  - Decompression bounds: output is produced 16 KiB at a time; decoding of
 *    a message stops with weird http_decompression_bomb once its decoded
 *    size exceeds BOMB_MIN (10 MiB) and BOMB_RATIO (100) times the encoded
 *    bytes consumed so far; http.max_body (0 = unlimited) caps the decoded
 *    bytes delivered per message (weird http_body_truncated once), and
 *    inflating stops there too. An inflate error gives
 *    http_decompression_error and the rest of that body is not delivered.
 *    "deflate" bodies: zlib-wrapped when the first two bytes form a valid
 *    zlib header, raw deflate otherwise. Concatenated gzip members are
 *    decoded in turn.
 *  - Folded header lines are joined with one space; bare LF is accepted as a
 *    line ending (both are legacy forms, not flagged).
 *  - A tcp.gap inside a body of known length (Content-Length or chunk data)
 *    or a body delimited by close is absorbed: the file gets a gap, the
 *    decoded stream stops if it was compressed (weird
 *    http_decompression_gap), and parsing goes on. Any other gap ends the
 *    current message (weird http_gap_resync) and lines are skipped until one
 *    looks like a request line (orig) or status line (resp).
 *  - After a request with CONNECT or an Upgrade header, the orig direction
 *    waits (its bytes are kept, within max_line) for the response: a 101
 *    turns both directions into opaque tunnels (only tcp.data sees the rest);
 *    after a 2xx to CONNECT the tunnel's first bytes are probed (ST_TPROBE):
 *    a client request line makes both directions HTTP again, bytes another
 *    decoder's probe claims (TLS, an SMTP greeting...) hand the flow to it
 *    (services "http,ssl"), anything else (or a gap) an opaque tunnel; any other
 *    response resumes parsing.
 *  - Each non-empty body is a file (source "http"), begun at its first decoded
 *    or lost byte; its filename is that of the first stored Content-Disposition
 *    header, by the MIME rules (mime_cd_filename: filename* wins over
 *    filename), decoded into a MIME_FILENAME_MAX stack buffer; none: nil.
 *  - Nobody subscribed to any http.* or file.* event: the decoder does
 *    nothing at all (a later subscription picks up at the next start line).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "decoder.h"
#include "files.h"
#include "mime.h"
#include "stream.h"
#include "text.h"

extern const eng_decoder_t eng_decoder_http;

#define HDR_MAX 256
#define HDR_BYTES (64u * 1024u)
#define PENDING_MAX 64
#define ZOUT 16384
#define BOMB_MIN (10ull * 1024 * 1024)
#define BOMB_RATIO 100ull
#define ARENA_KEEP 4096u

enum {
    ST_LINE = 0,   /* expecting a start line (leading empty lines skipped) */
    ST_HEADERS,
    ST_BODY_LEN,   /* Content-Length body */
    ST_CHUNK_SIZE,
    ST_CHUNK_DATA,
    ST_CHUNK_END,  /* the CRLF after chunk data */
    ST_TRAILERS,
    ST_BODY_CLOSE, /* body delimited by the end of the connection */
    ST_RESYNC,     /* skipping lines until a start line */
    ST_WAIT,       /* orig: waiting for the response to CONNECT / Upgrade */
    ST_TPROBE,     /* a CONNECT tunnel is open: is the client speaking HTTP in it? */
    ST_TUNNEL      /* opaque from here on */
};

enum { M_OTHER = 0, M_HEAD, M_CONNECT };
enum { CE_NONE = 0, CE_GZIP, CE_DEFLATE };

typedef struct hdr {
    uint32_t name, name_len, val, val_len; /* arena offsets */
    uint64_t name_off, val_off, line_off;  /* stream offsets */
} hdr_t;

typedef struct pend {
    uint8_t method; /* M_* */
    uint8_t upgrade;
    uint8_t v09;
} pend_t;

typedef struct http_dir {
    stream_reader_t sr;
    uint8_t st;
    uint8_t inited;
    uint8_t in_msg;          /* a message has started (start line seen) */
    uint8_t v09;             /* request without version / response to one */
    uint8_t chunked, has_cl, cl_bad, te_other, conn_close, upgrade;
    uint8_t coding;          /* CE_* */
    uint8_t z_on, z_dead, z_hdr_n, z_hdr[2];
    uint8_t too_many, truncated;
    uint8_t cur_on;          /* a header is being built (may be folded) */
    uint8_t cur_cut;
    uint8_t gap_ok;          /* the reader's next SR_GAP was absorbed in a body */
    uint8_t method;          /* requests: M_* */
    int status;              /* responses */
    uint64_t cl;             /* Content-Length value */
    uint64_t remaining;      /* body / chunk bytes left */
    uint64_t body_len, wire_len, enc_in;
    uint64_t msg_off;        /* stream offset of the start line */
    uint64_t body_start;     /* stream offset of the first body byte */
    /* start line parts: arena offsets and lengths, stream offsets */
    uint32_t a_len[3], a_pos[3];
    uint64_t a_off[3];
    /* header arena */
    uint8_t *ab;
    uint32_t alen, acap;
    uint32_t stored_bytes;
    struct mem_acct *acct;   /* engine.memcap: ab, hd, mv, mb are charged to it */
    hdr_t *hd;               /* stored headers, grown up to HDR_MAX */
    int nh, hcap;
    eng_value_t *mv;         /* the headers map being fired: 2 values a header */
    int mvcap;
    uint8_t *mb;             /* its lower-cased names and joined values */
    uint32_t mbcap;
    hdr_t cur;
    int host_i, ua_i, cd_i;  /* stored Host, User-Agent, Content-Disposition (-1: none) */
    int cr_i;                /* stored Content-Range (-1: none) */
    z_stream *z;
    eng_file_t *file;
    uint32_t depth;          /* messages so far (responses: final ones), for files.log depth */
} http_dir_t;

typedef struct http {
    http_dir_t d[2];
    pend_t q[PENDING_MAX];
    int qh, qn;
    uint32_t q_lost;        /* requests beyond the queue, paired as plain */
    uint8_t idle;           /* nothing was subscribed: bytes were ignored */
} http_t;

static void run(eng_t *e, eng_flow_t *f, http_t *h, int dir);

/* ---- small helpers ------------------------------------------------------- */

static int is_tchar(uint8_t c)
{
    if (c >= '0' && c <= '9') return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}


/* decoded body bytes are needed (for http.body, files, or body_len) */
static int wants_body(const eng_t *e)
{
    return dec_wants(e, ENG_EV_HTTP_BODY) || dec_wants(e, ENG_EV_HTTP_MESSAGE_DONE) ||
           dec_wants(e, ENG_EV_FILE_BEGIN) || dec_wants(e, ENG_EV_FILE_DATA) ||
           dec_wants(e, ENG_EV_FILE_DONE);
}

static const char *const methods[] = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH",
    "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE",
    "PURGE", "BCOPY", "BDELETE", "BMOVE", "BPROPFIND", "BPROPPATCH", "POLL", "ACL",
    "MKCALENDAR", "VERSION-CONTROL", "BIND", "UNBIND", "REBIND", "LINK", "UNLINK",
    "M-SEARCH", "DESCRIBE", "ANNOUNCE", NULL};

/* ---- content probe ------------------------------------------------------- */

static int http_probe(const uint8_t *p, size_t len, int dir)
{
    if (!p || len == 0) return -1;
    if (dir == ENG_RESP) {
        static const char v[] = "HTTP/1.";
        size_t n = len < 7 ? len : 7;
        if (memcmp(p, v, n)) return 0;
        return len >= 7 ? 1 : -1;
    }
    if (p[0] < 'A' || p[0] > 'Z') return 0; /* every method starts so: no need to try each */
    int maybe = 0;
    for (int i = 0; methods[i]; i++) {
        size_t m = strlen(methods[i]);
        size_t n = len < m ? len : m;
        if (memcmp(p, methods[i], n)) continue;
        if (len <= m) {
            maybe = 1;
            continue;
        }
        if (p[m] == ' ') {
            /* "OPTIONS sip:x SIP/2.0" is SIP's (sip.c): no HTTP target has a sip: scheme */
            const uint8_t *t = p + m + 1;
            size_t tl = len - m - 1;
            for (int k = 0; k < 2; k++) {
                const char *sch = k ? "sips:" : "sip:";
                size_t sl = strlen(sch);
                if (!memcmp(t, sch, tl < sl ? tl : sl)) return tl < sl ? -1 : 0;
            }
            return 1;
        }
    }
    if (maybe) return -1;
    /* an unknown method: a token, a space, then " HTTP/1." before the LF */
    size_t i = 0;
    while (i < len && i < 24 && is_tchar(p[i])) i++;
    if (i == len) return len < 24 ? -1 : 0;
    if (i == 0 || p[i] != ' ') return 0;
    for (size_t k = i; k + 8 <= len && p[k] != '\n'; k++)
        if (!memcmp(p + k, " HTTP/1.", 8)) return 1;
    return 0;
}

/* ---- weirds ------------------------------------------------------------- */

#define WEIRD(e, f, name, ...) eng_weird(e, f, name, __VA_ARGS__)

/* ---- header arena --------------------------------------------------------- */

static uint32_t arena_cap(const eng_t *e)
{
    uint64_t ml = dec_max_line(e);
    return (uint32_t)(HDR_BYTES + 3 * ml + 64);
}

/* append n bytes; returns the arena offset, or UINT32_MAX when over the bound */
static uint32_t arena_put(eng_t *e, http_dir_t *d, const uint8_t *p, size_t n)
{
    uint64_t need = (uint64_t)d->alen + n;
    if (need > arena_cap(e)) return UINT32_MAX;
    if (need > d->acap) {
        uint64_t cap = d->acap ? d->acap : 512;
        while (cap < need) cap *= 2;
        if (cap > arena_cap(e)) cap = arena_cap(e);
        uint8_t *nb = realloc(d->ab, (size_t)cap);
        if (!nb) return UINT32_MAX;
        dec_mem_charge(d->acct, (int64_t)cap - (int64_t)d->acap);
        d->ab = nb;
        d->acap = (uint32_t)cap;
    }
    uint32_t at = d->alen;
    if (n) memcpy(d->ab + at, p, n);
    d->alen = (uint32_t)need;
    return at;
}

/* ---- message life cycle ---------------------------------------------------- */

static void msg_reset(http_dir_t *d)
{
    d->in_msg = 0;
    d->v09 = 0;
    d->chunked = d->has_cl = d->cl_bad = d->te_other = d->conn_close = d->upgrade = 0;
    d->coding = CE_NONE;
    d->z_dead = 0;
    d->z_hdr_n = 0;
    d->too_many = d->truncated = 0;
    d->cur_on = d->cur_cut = 0;
    d->method = M_OTHER;
    d->status = 0;
    d->cl = d->remaining = 0;
    d->body_len = d->wire_len = d->enc_in = 0;
    d->alen = 0;
    d->stored_bytes = 0;
    d->nh = 0;
    d->host_i = d->ua_i = d->cd_i = d->cr_i = -1;
    memset(d->a_len, 0, sizeof d->a_len);
    if (d->acap > ARENA_KEEP) {
        dec_mem_charge(d->acct, -(int64_t)d->acap);
        free(d->ab);
        d->ab = NULL;
        d->acap = 0;
    }
    if (d->hcap > 32) {
        dec_mem_charge(d->acct, -(int64_t)((size_t)d->hcap * sizeof *d->hd));
        free(d->hd);
        d->hd = NULL;
        d->hcap = 0;
    }
    /* the map buffers are kept between messages (no allocation per request)
     * unless a big header block grew them */
    if (d->mvcap > 64) {
        dec_mem_charge(d->acct, -(int64_t)((size_t)d->mvcap * 2 * sizeof *d->mv));
        free(d->mv);
        d->mv = NULL;
        d->mvcap = 0;
    }
    if (d->mbcap > ARENA_KEEP) {
        dec_mem_charge(d->acct, -(int64_t)d->mbcap);
        free(d->mb);
        d->mb = NULL;
        d->mbcap = 0;
    }
}

static void map_free(http_dir_t *d)
{
    dec_mem_charge(d->acct, -(int64_t)((size_t)d->mvcap * 2 * sizeof *d->mv + d->mbcap));
    free(d->mv);
    d->mv = NULL;
    d->mvcap = 0;
    free(d->mb);
    d->mb = NULL;
    d->mbcap = 0;
}

/* zlib's allocations for an inflater (its state and window) are charged to
 * the flow's engine.memcap account; each block remembers its size */
typedef union { size_t n; max_align_t a; } zhdr_t;

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    size_t n = (size_t)items * size;
    if (size && n / size != items) return Z_NULL;
    zhdr_t *h = malloc(sizeof *h + n);
    if (!h) return Z_NULL;
    h->n = n;
    dec_mem_charge(opaque, (int64_t)n);
    return h + 1;
}

static void z_free(voidpf opaque, voidpf p)
{
    if (!p) return;
    zhdr_t *h = (zhdr_t *)p - 1;
    dec_mem_charge(opaque, -(int64_t)h->n);
    free(h);
}

static void z_close(http_dir_t *d)
{
    if (d->z) {
        inflateEnd(d->z);
        dec_mem_charge(d->acct, -(int64_t)sizeof *d->z);
        free(d->z);
        d->z = NULL;
    }
    d->z_on = 0;
}

/* a 206's body starts at byte 0 of the resource: Content-Range "bytes 0-..." */
static int range_from_zero(const http_dir_t *d)
{
    if (d->cr_i < 0 || d->cr_i >= d->nh) return 0; /* multipart/byteranges, or no range */
    const uint8_t *p = d->ab + d->hd[d->cr_i].val;
    size_t n = d->hd[d->cr_i].val_len, i = 0;
    if (n < 5 || !txt_ieq(p, 5, "bytes")) return 0;
    i = 5;
    while (i < n && (txt_is_ws(p[i]) || p[i] == '=')) i++;
    while (i < n && p[i] == '0') i++;
    return i < n && p[i] == '-' && i > 5 && p[i - 1] == '0';
}

/* the body's file, begun at its first decoded (or lost) byte; the headers of
 * the message are complete and still in the arena: the filename comes from
 * the first stored Content-Disposition (mime_cd_filename, the MIME rules) */
static void file_open(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir)
{
    if (d->file || !(dec_wants(e, ENG_EV_FILE_BEGIN) || dec_wants(e, ENG_EV_FILE_DATA) ||
                     dec_wants(e, ENG_EV_FILE_DONE)))
        return;
    char fn[MIME_FILENAME_MAX + 1];
    int fl = -1;
    if (d->cd_i >= 0 && d->cd_i < d->nh) {
        const hdr_t *h = &d->hd[d->cd_i];
        fl = mime_cd_filename(d->ab + h->val, h->val_len, fn, sizeof fn);
    }
    d->file = eng_file_begin(e, f, dir, "http", fl >= 0 ? fn : NULL, fl >= 0 ? (size_t)fl : 0);
    eng_file_set_depth(d->file, d->depth);
    /* the announced size, when the file's bytes are the body's (Zeek's total_bytes) */
    if (d->has_cl && !d->cl_bad && !d->chunked && !d->te_other && d->coding == CE_NONE)
        eng_file_set_total(d->file, d->cl);
    /* a fragment of a resource (a 206 but one range from byte 0) has no type */
    if (d->file && dir == ENG_RESP && d->status == 206 && !range_from_zero(d))
        eng_file_no_sniff(e, d->file);
}

/* deliver decoded body bytes: max_body, http.body, files */
static void deliver(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir, const uint8_t *p, size_t n)
{
    if (!n || d->truncated) return;
    uint64_t max = dec_http_max_body(e);
    if (max && d->body_len + n > max) {
        n = (size_t)(max - d->body_len);
        d->truncated = 1;
        WEIRD(e, f, "http_body_truncated", "decoded body cut at http.max_body (%llu bytes)",
              (unsigned long long)max);
        if (!n) return;
    }
    file_open(e, f, d, dir);
    if (dec_wants(e, ENG_EV_HTTP_BODY)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_HTTP_BODY, f);
        ev_set(&ev, ENG_F_HTTP_BODY_dir, ev_dir(dir));
        ev_set(&ev, ENG_F_HTTP_BODY_data, ev_str(p, n, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_HTTP_BODY_offset, ev_int((int64_t)d->body_len));
        dec_fire(e, &ev);
    }
    if (d->file) eng_file_data(e, d->file, p, n);
    d->body_len += n;
}

static int z_start(eng_t *e, eng_flow_t *f, http_dir_t *d, int wbits)
{
    d->z = calloc(1, sizeof *d->z);
    if (d->z) {
        d->z->zalloc = z_alloc;
        d->z->zfree = z_free;
        d->z->opaque = d->acct;
        dec_mem_charge(d->acct, (int64_t)sizeof *d->z);
    }
    if (!d->z || inflateInit2(d->z, wbits) != Z_OK) {
        if (d->z) {
            inflateEnd(d->z); /* nothing when the init failed before allocating */
            dec_mem_charge(d->acct, -(int64_t)sizeof *d->z);
        }
        free(d->z);
        d->z = NULL;
        d->z_dead = 1;
        WEIRD(e, f, "http_decompression_error", "cannot start zlib");
        return -1;
    }
    d->z_on = 1;
    return 0;
}

/* feed n encoded bytes to the running zlib stream, delivering the output */
static void z_run(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir, const uint8_t *p, size_t n)
{
    uint8_t out[ZOUT];
    while (d->z_on && !d->truncated) {
        uInt given = (uInt)(n > 0x40000000u ? 0x40000000u : n);
        d->z->next_in = (Bytef *)(uintptr_t)p;
        d->z->avail_in = given;
        d->z->next_out = out;
        d->z->avail_out = sizeof out;
        int rc = inflate(d->z, Z_NO_FLUSH);
        size_t used = given - d->z->avail_in;
        size_t got = sizeof out - d->z->avail_out;
        p += used;
        n -= used;
        d->enc_in += used;
        if (got) deliver(e, f, d, dir, out, got);
        if (rc == Z_STREAM_END) {
            if (d->coding == CE_GZIP && n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
                inflateReset(d->z); /* another gzip member */
                continue;
            }
            if (n)
                WEIRD(e, f, "http_decompression_trailing", "%zu bytes after the compressed stream",
                      n);
            z_close(d);
            d->z_dead = n ? 1 : 2; /* 2: ended cleanly, a later member may follow */
            return;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            WEIRD(e, f, "http_decompression_error", "%s", d->z->msg ? d->z->msg : "inflate failed");
            z_close(d);
            d->z_dead = 1;
            return;
        }
        if (d->body_len > BOMB_MIN && d->body_len / BOMB_RATIO > d->enc_in) {
            WEIRD(e, f, "http_decompression_bomb", "decoded %llu bytes from %llu encoded bytes",
                  (unsigned long long)d->body_len, (unsigned long long)d->enc_in);
            z_close(d);
            d->z_dead = 1;
            return;
        }
        if (got < sizeof out && n == 0) return; /* all input taken, output drained */
        if (rc == Z_BUF_ERROR && !used && !got) return; /* no progress possible */
    }
}

/* inflate n encoded bytes of a gzip / deflate body */
static void inflate_some(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir, const uint8_t *p,
                         size_t n)
{
    if (!n || d->truncated) return;
    if (d->z_dead == 2) { /* after a complete stream: a new gzip member or junk */
        if (d->coding == CE_GZIP && p[0] == 0x1f) {
            d->z_dead = 0;
        } else {
            WEIRD(e, f, "http_decompression_trailing", "%zu bytes after the compressed stream", n);
            d->z_dead = 1;
        }
    }
    if (d->z_dead) return;
    if (!d->z_on) {
        if (d->coding == CE_DEFLATE) {
            /* a zlib header, or raw deflate: decided on two bytes */
            while (d->z_hdr_n < 2 && n) {
                d->z_hdr[d->z_hdr_n++] = *p++;
                n--;
            }
            if (d->z_hdr_n < 2) return;
            unsigned h = (unsigned)d->z_hdr[0] << 8 | d->z_hdr[1];
            int wbits = ((d->z_hdr[0] & 0x0f) == 8 && h % 31 == 0) ? 15 : -15;
            if (z_start(e, f, d, wbits)) return;
            uint8_t two[2] = {d->z_hdr[0], d->z_hdr[1]};
            z_run(e, f, d, dir, two, 2);
        } else if (z_start(e, f, d, 15 + 32)) {
            return;
        }
    }
    if (n) z_run(e, f, d, dir, p, n);
}

/* body bytes as they are on the wire (after de-chunking) */
static void body_bytes(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir, const uint8_t *p,
                       size_t n)
{
    if (!wants_body(e)) return;
    if (d->coding == CE_NONE)
        deliver(e, f, d, dir, p, n);
    else
        inflate_some(e, f, d, dir, p, n);
}

static void file_done(eng_t *e, http_dir_t *d)
{
    if (d->file) {
        eng_file_end(e, d->file);
        d->file = NULL;
    }
}

static pend_t pend_front(http_t *h)
{
    pend_t z = {M_OTHER, 0, 0};
    return h->qn ? h->q[h->qh] : z;
}

static void pend_push(eng_t *e, eng_flow_t *f, http_t *h, pend_t pe)
{
    if (h->qn < PENDING_MAX) {
        h->q[(h->qh + h->qn) % PENDING_MAX] = pe;
        h->qn++;
        return;
    }
    if (!h->q_lost)
        WEIRD(e, f, "http_too_many_pending", "more than %d requests without a response",
              PENDING_MAX);
    h->q_lost++;
}

static void msg_done(eng_t *e, eng_flow_t *f, http_t *h, int dir)
{
    http_dir_t *d = &h->d[dir];
    if (!d->in_msg) return;
    if (d->z_hdr_n == 1 && !d->z_on)
        WEIRD(e, f, "http_decompression_error", "deflate body of one byte");
    z_close(d);
    file_done(e, d);
    if (dec_wants(e, ENG_EV_HTTP_MESSAGE_DONE)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_HTTP_MESSAGE_DONE, f);
        ev_set(&ev, ENG_F_HTTP_MESSAGE_DONE_dir, ev_dir(dir));
        ev_set(&ev, ENG_F_HTTP_MESSAGE_DONE_body_len, ev_int((int64_t)d->body_len));
        ev_set(&ev, ENG_F_HTTP_MESSAGE_DONE_wire_len, ev_int((int64_t)d->wire_len));
        if (dir == ENG_RESP) ev_set(&ev, ENG_F_HTTP_MESSAGE_DONE_status, ev_int(d->status));
        dec_fire(e, &ev);
    }
    msg_reset(d);
    d->st = ST_LINE;
}

/* ---- start lines ------------------------------------------------------------ */

static int is_version(const uint8_t *p, size_t n)
{
    return n == 8 && !memcmp(p, "HTTP/", 5) && p[5] >= '0' && p[5] <= '9' && p[6] == '.' &&
           p[7] >= '0' && p[7] <= '9';
}

/* split a request line; 1 ok (ver_len 0: no version), 0 not a request line
 * (no method: a token of at most 32 bytes and a space, then something). *odd
 * says what was read leniently, as servers and Zeek read it: ODD_NO_URI the
 * first word after the method is the version (`OPTIONS HTTP/1.1`: empty
 * target), ODD_CRUFT words after the version (`GET / HTTP/1.1 x`: the first
 * word starting with "HTTP/" after the target is the version). */
#define ODD_NO_URI 1
#define ODD_CRUFT 2
static int split_request(const uint8_t *p, size_t n, size_t *mlen, size_t *ustart,
                         size_t *ulen, size_t *vstart, size_t *vlen, int *odd)
{
    size_t i = 0;
    *odd = 0;
    while (i < n && is_tchar(p[i])) i++;
    if (i == 0 || i > 32 || i >= n || p[i] != ' ') return 0;
    *mlen = i;
    while (i < n && p[i] == ' ') i++;
    if (i == n) return 0;
    size_t us = i;
    size_t end = n;
    while (end > us && txt_is_ws(p[end - 1])) end--;
    /* version: the last word, when it looks like HTTP/x.y */
    size_t sp = end;
    while (sp > us && p[sp - 1] != ' ') sp--;
    if (sp > us && end - sp >= 5 && !memcmp(p + sp, "HTTP/", 5)) {
        *vstart = sp;
        *vlen = end - sp;
        size_t ue = sp;
        while (ue > us && p[ue - 1] == ' ') ue--;
        *ustart = us;
        *ulen = ue - us;
        return *ulen > 0;
    }
    /* else the first word starting with HTTP/ (the target's word included),
     * what follows it is cruft */
    for (size_t w = us; w < end;) {
        size_t we = w;
        while (we < end && p[we] != ' ') we++;
        if (we - w >= 5 && !memcmp(p + w, "HTTP/", 5)) {
            size_t ue = w;
            while (ue > us && p[ue - 1] == ' ') ue--;
            *ustart = us;
            *ulen = ue - us;
            *vstart = w;
            *vlen = we - w;
            *odd = (w == us ? ODD_NO_URI : 0) | (we < end ? ODD_CRUFT : 0);
            return 1;
        }
        w = we;
        while (w < end && p[w] == ' ') w++;
    }
    /* no version: HTTP/0.9, the rest is the target */
    *ustart = us;
    *ulen = end - us;
    *vstart = end;
    *vlen = 0;
    return 1;
}

static int known_method(const uint8_t *p, size_t n)
{
    for (int i = 0; methods[i]; i++)
        if (strlen(methods[i]) == n && !memcmp(methods[i], p, n)) return 1;
    return 0;
}

static int looks_request(const uint8_t *p, size_t n)
{
    size_t a, b, c, d2, v;
    int odd;
    return split_request(p, n, &a, &b, &c, &d2, &v, &odd) && !odd && is_version(p + d2, v);
}

static int looks_status(const uint8_t *p, size_t n)
{
    return n >= 12 && is_version(p, 8) && p[8] == ' ' && p[9] >= '0' && p[9] <= '9' &&
           p[10] >= '0' && p[10] <= '9' && p[11] >= '0' && p[11] <= '9' && (n == 12 || p[12] == ' ');
}

static void keep_part(eng_t *e, http_dir_t *d, int i, const uint8_t *p, size_t n, uint64_t off)
{
    uint32_t at = arena_put(e, d, p, n);
    if (at == UINT32_MAX) return;
    d->a_pos[i] = at;
    d->a_len[i] = (uint32_t)n;
    d->a_off[i] = off;
}

static void fire_headers_event(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir);

static void start_request(eng_t *e, eng_flow_t *f, http_t *h, http_dir_t *d,
                          const sr_view_t *v)
{
    size_t ml, us, ul, vs, vl;
    int odd;
    if (!split_request(v->p, v->len, &ml, &us, &ul, &vs, &vl, &odd)) return; /* checked by caller */
    msg_reset(d);
    d->in_msg = 1;
    d->depth++;
    d->msg_off = v->off;
    keep_part(e, d, 0, v->p, ml, v->off);
    keep_part(e, d, 1, v->p + us, ul, v->off + us);
    if (vl > 5) keep_part(e, d, 2, v->p + vs + 5, vl - 5, v->off + vs + 5);
    if (txt_ieq(v->p, ml, "head")) d->method = M_HEAD;
    else if (txt_ieq(v->p, ml, "connect")) d->method = M_CONNECT;
    if (!known_method(v->p, ml)) WEIRD(e, f, "http_unknown_method", "%.*s", (int)ml, (const char *)v->p);
    int show = (int)(v->len > 64 ? 64 : v->len);
    if (odd & ODD_NO_URI)
        WEIRD(e, f, "http_bad_request_line", "no target: %.*s", show, (const char *)v->p);
    if (odd & ODD_CRUFT)
        WEIRD(e, f, "http_bad_request_line", "bytes after the version: %.*s", show,
              (const char *)v->p);
    if (vl == 0) {
        d->v09 = 1;
        WEIRD(e, f, "http_version_0_9", "request without version");
        /* HTTP/0.9: no headers, no body */
        pend_push(e, f, h, (pend_t){M_OTHER, 0, 1});
        fire_headers_event(e, f, d, ENG_ORIG);
        msg_done(e, f, h, ENG_ORIG);
        return;
    }
    if (!is_version(v->p + vs, vl) || v->p[vs + 5] != '1')
        WEIRD(e, f, "http_bad_version", "%.*s", (int)vl, (const char *)v->p + vs);
    d->st = ST_HEADERS;
}

static void start_response(eng_t *e, eng_flow_t *f, http_dir_t *d, const sr_view_t *v)
{
    msg_reset(d);
    d->in_msg = 1;
    d->msg_off = v->off;
    keep_part(e, d, 2, v->p + 5, 3, v->off + 5);
    d->status = (v->p[9] - '0') * 100 + (v->p[10] - '0') * 10 + (v->p[11] - '0');
    if (d->status < 100 || d->status >= 200) d->depth++; /* 1xx answer no request alone */
    if (v->len > 13) keep_part(e, d, 1, v->p + 13, v->len - 13, v->off + 13);
    if (v->p[5] != '1') WEIRD(e, f, "http_bad_version", "%.8s", (const char *)v->p);
    d->st = ST_HEADERS;
}

/* ---- headers -------------------------------------------------------------- */

static uint64_t parse_cl(const uint8_t *p, size_t n, int *ok)
{
    /* digits, possibly a list of equal values ("5, 5") */
    uint64_t first = 0;
    int have = 0;
    size_t i = 0;
    *ok = 1;
    while (i < n) {
        while (i < n && (txt_is_ws(p[i]) || p[i] == ',')) i++;
        if (i == n) break;
        uint64_t x = 0;
        size_t k = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (x > (UINT64_MAX / 2 - 9) / 10) {
                *ok = 0;
                return 0;
            }
            x = x * 10 + (uint64_t)(p[i] - '0');
            i++, k++;
        }
        if (!k || (i < n && !txt_is_ws(p[i]) && p[i] != ',')) {
            *ok = 0;
            return 0;
        }
        if (have && x != first) {
            *ok = 0;
            return 0;
        }
        first = x;
        have = 1;
    }
    if (!have) *ok = 0;
    return first;
}

/* does the comma list contain `word` (case-insensitive)? is it the last item? */
static int list_has(const uint8_t *p, size_t n, const char *word, int *last)
{
    int found = 0;
    size_t i = 0;
    if (last) *last = 0;
    while (i < n) {
        while (i < n && (txt_is_ws(p[i]) || p[i] == ',')) i++;
        size_t s = i;
        while (i < n && p[i] != ',') i++;
        const uint8_t *q = p + s;
        size_t m = i - s;
        txt_trim(&q, &m);
        /* ignore parameters */
        for (size_t k = 0; k < m; k++)
            if (q[k] == ';') {
                m = k;
                txt_trim(&q, &m);
                break;
            }
        if (!m) continue;
        int hit = txt_ieq(q, m, word);
        if (hit) found = 1;
        if (last) *last = hit;
    }
    return found;
}

static int hd_grow(http_dir_t *d)
{
    int cap = d->hcap ? d->hcap * 2 : 16;
    if (cap > HDR_MAX) cap = HDR_MAX;
    if (cap <= d->hcap) return -1;
    hdr_t *n = realloc(d->hd, (size_t)cap * sizeof *n);
    if (!n) return -1;
    dec_mem_charge(d->acct, (int64_t)((size_t)(cap - d->hcap) * sizeof *n));
    d->hd = n;
    d->hcap = cap;
    return 0;
}

/* the header being built is complete */
static void finish_header(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir)
{
    if (!d->cur_on) return;
    d->cur_on = 0;
    hdr_t *c = &d->cur;
    const uint8_t *name = d->ab + c->name, *val = d->ab + c->val;
    if (dec_wants(e, ENG_EV_HTTP_HEADER)) {
        eng_event_t ev;
        ev_init(&ev, ENG_EV_HTTP_HEADER, f);
        ev_set(&ev, ENG_F_HTTP_HEADER_dir, ev_dir(dir));
        ev_set(&ev, ENG_F_HTTP_HEADER_name, ev_str(name, c->name_len, c->name_off));
        ev_set(&ev, ENG_F_HTTP_HEADER_value, ev_str(val, c->val_len, c->val_off));
        ev_set(&ev, ENG_F_HTTP_HEADER_offset, ev_int((int64_t)c->line_off));
        dec_fire(e, &ev);
    }
    if (d->st == ST_HEADERS) {
        /* what the framing needs */
        if (txt_ieq(name, c->name_len, "content-length")) {
            int ok;
            uint64_t x = parse_cl(val, c->val_len, &ok);
            if (!ok || (d->has_cl && x != d->cl)) {
                d->cl_bad = 1;
                WEIRD(e, f, "http_bad_content_length", "%.*s", (int)(c->val_len > 64 ? 64 : c->val_len),
                      (const char *)val);
            } else {
                d->cl = x;
                d->has_cl = 1;
            }
        } else if (txt_ieq(name, c->name_len, "transfer-encoding")) {
            int last = 0;
            if (list_has(val, c->val_len, "chunked", &last) && last) {
                d->chunked = 1;
            } else {
                d->chunked = 0;
                d->te_other = 1;
            }
            if (list_has(val, c->val_len, "gzip", NULL) || list_has(val, c->val_len, "x-gzip", NULL))
                d->coding = CE_GZIP;
            else if (list_has(val, c->val_len, "deflate", NULL))
                d->coding = CE_DEFLATE;
        } else if (txt_ieq(name, c->name_len, "content-encoding")) {
            if (list_has(val, c->val_len, "gzip", NULL) || list_has(val, c->val_len, "x-gzip", NULL))
                d->coding = CE_GZIP;
            else if (list_has(val, c->val_len, "deflate", NULL))
                d->coding = CE_DEFLATE;
            else if (c->val_len && !txt_ieq(val, c->val_len, "identity"))
                WEIRD(e, f, "http_unsupported_content_encoding", "%.*s",
                      (int)(c->val_len > 64 ? 64 : c->val_len), (const char *)val);
        } else if (txt_ieq(name, c->name_len, "connection")) {
            if (list_has(val, c->val_len, "close", NULL)) d->conn_close = 1;
        } else if (txt_ieq(name, c->name_len, "upgrade")) {
            if (c->val_len) d->upgrade = 1;
        }
        /* store it for the headers map */
        if (d->too_many) {
            d->alen = c->name; /* drop it */
        } else if (d->nh >= HDR_MAX ||
                   d->stored_bytes + c->name_len + c->val_len > HDR_BYTES ||
                   (d->nh == d->hcap && hd_grow(d) != 0)) {
            d->too_many = 1;
            WEIRD(e, f, "http_too_many_headers", "more than %d headers or %u bytes", HDR_MAX,
                  HDR_BYTES);
            d->alen = c->name;
        } else {
            if (d->host_i < 0 && txt_ieq(name, c->name_len, "host")) d->host_i = d->nh;
            if (d->ua_i < 0 && txt_ieq(name, c->name_len, "user-agent")) d->ua_i = d->nh;
            if (d->cd_i < 0 && txt_ieq(name, c->name_len, "content-disposition")) d->cd_i = d->nh;
            if (d->cr_i < 0 && txt_ieq(name, c->name_len, "content-range")) d->cr_i = d->nh;
            d->stored_bytes += c->name_len + c->val_len;
            d->hd[d->nh++] = *c;
        }
    } else {
        d->alen = c->name; /* trailers: not stored */
    }
}

/* a header line (not empty) */
static void header_line(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir, const sr_view_t *v)
{
    const uint8_t *p = v->p;
    size_t n = v->len;
    if (v->cut)
        WEIRD(e, f, "http_header_too_long", "header line longer than %u bytes", d->sr.max_unit);
    if (txt_is_ws(p[0])) { /* a folded continuation */
        if (!d->cur_on) {
            WEIRD(e, f, "http_bad_folding", "continuation line without a header");
            return;
        }
        txt_trim(&p, &n);
        if (!n) return;
        uint64_t ml = dec_max_line(e);
        if ((uint64_t)d->cur.val_len + 1 + n > ml) {
            if (!d->cur_cut) WEIRD(e, f, "http_header_too_long", "folded header longer than %llu bytes",
                                   (unsigned long long)ml);
            d->cur_cut = 1;
            return;
        }
        /* the value is the last thing in the arena: extend it */
        if (d->cur.val_len) {
            if (arena_put(e, d, (const uint8_t *)" ", 1) == UINT32_MAX) return;
            d->cur.val_len++;
        } else {
            d->cur.val = d->alen;
            d->cur.val_off = v->off + (size_t)(p - v->p);
        }
        if (arena_put(e, d, p, n) == UINT32_MAX) return;
        d->cur.val_len += (uint32_t)n;
        return;
    }
    finish_header(e, f, d, dir);
    const uint8_t *colon = memchr(p, ':', n);
    if (!colon) {
        WEIRD(e, f, "http_bad_header_line", "no colon");
        return;
    }
    size_t nl = (size_t)(colon - p);
    size_t nl2 = nl;
    while (nl2 && txt_is_ws(p[nl2 - 1])) nl2--;
    if (nl2 != nl) WEIRD(e, f, "http_header_name_whitespace", "white space before colon");
    for (size_t i = 0; i < nl2; i++)
        if (!is_tchar(p[i])) {
            WEIRD(e, f, "http_bad_header_name", "byte 0x%02x in a header name", p[i]);
            return;
        }
    if (!nl2) {
        WEIRD(e, f, "http_bad_header_name", "empty header name");
        return;
    }
    const uint8_t *val = colon + 1;
    size_t vn = n - nl - 1;
    txt_trim(&val, &vn);
    hdr_t c;
    c.line_off = v->off;
    c.name_off = v->off;
    c.val_off = v->off + (size_t)(val - v->p);
    c.name_len = (uint32_t)nl2;
    c.val_len = (uint32_t)vn;
    c.name = arena_put(e, d, p, nl2);
    if (c.name == UINT32_MAX) return;
    c.val = arena_put(e, d, val, vn);
    if (c.val == UINT32_MAX) {
        d->alen = c.name;
        return;
    }
    d->cur = c;
    d->cur_on = 1;
    d->cur_cut = 0;
}

static eng_value_t part(const http_dir_t *d, int i)
{
    if (!d->a_len[i] && i != 1) {
        eng_value_t z;
        memset(&z, 0, sizeof z);
        z.type = ENG_T_NIL;
        z.offset = ENG_NO_OFFSET;
        return z;
    }
    return ev_str(d->a_len[i] ? d->ab + d->a_pos[i] : (const uint8_t *)"", d->a_len[i],
                  d->a_len[i] ? d->a_off[i] : ENG_NO_OFFSET);
}

static eng_value_t hval(const http_dir_t *d, int i)
{
    if (i < 0) {
        eng_value_t z;
        memset(&z, 0, sizeof z);
        z.type = ENG_T_NIL;
        z.offset = ENG_NO_OFFSET;
        return z;
    }
    return ev_str(d->ab + d->hd[i].val, d->hd[i].val_len, d->hd[i].val_off);
}

/* http.request / http.response with the headers map */
static void fire_headers_event(eng_t *e, eng_flow_t *f, http_dir_t *d, int dir)
{
    int kind = dir == ENG_ORIG ? ENG_EV_HTTP_REQUEST : ENG_EV_HTTP_RESPONSE;
    if (!dec_wants(e, kind)) return;
    /* the map's buffers live in the direction's state, grown to fit and kept
     * for the next message: no allocation per request once warm */
    size_t need = 0;
    for (int i = 0; i < d->nh; i++) need += d->hd[i].name_len + d->hd[i].val_len + 2;
    if (d->nh > d->mvcap) {
        eng_value_t *nv = realloc(d->mv, (size_t)d->nh * 2 * sizeof *nv);
        if (nv) {
            dec_mem_charge(d->acct, (int64_t)((size_t)(d->nh - d->mvcap) * 2 * sizeof *nv));
            d->mv = nv;
            d->mvcap = d->nh;
        }
    }
    if (need > d->mbcap) {
        size_t cap = d->mbcap ? d->mbcap : 256;
        while (cap < need) cap *= 2;
        uint8_t *nb = realloc(d->mb, cap);
        if (nb) {
            dec_mem_charge(d->acct, (int64_t)cap - (int64_t)d->mbcap);
            d->mb = nb;
            d->mbcap = (uint32_t)cap;
        }
    }
    eng_value_t *map = d->mv;
    uint8_t *scratch = d->mb;
    int np = 0;
    int ref = -1; /* the map's "referer" value, also the request's referrer field */
    if (need && d->nh <= d->mvcap && need <= d->mbcap) {
        size_t used = 0;
        uint8_t done[HDR_MAX];
        memset(done, 0, (size_t)d->nh);
        for (int i = 0; i < d->nh; i++) {
            if (done[i]) continue;
            const hdr_t *a = &d->hd[i];
            const uint8_t *an = d->ab + a->name;
            uint8_t *kn = scratch + used;
            for (uint32_t k = 0; k < a->name_len; k++) kn[k] = (uint8_t)txt_lower(an[k]);
            used += a->name_len;
            eng_value_t key = ev_str(kn, a->name_len, a->name_off);
            eng_value_t val = ev_str(d->ab + a->val, a->val_len, a->val_off);
            int joined = 0;
            for (int j = i + 1; j < d->nh; j++) {
                const hdr_t *b = &d->hd[j];
                if (b->name_len != a->name_len) continue;
                const uint8_t *bn = d->ab + b->name;
                uint32_t k = 0;
                while (k < a->name_len && txt_lower(bn[k]) == kn[k]) k++;
                if (k != a->name_len) continue;
                done[j] = 1;
                if (!joined) { /* start a joined copy in scratch */
                    uint8_t *jv = scratch + used;
                    memcpy(jv, d->ab + a->val, a->val_len);
                    used += a->val_len;
                    val = ev_str(jv, a->val_len, a->val_off);
                    joined = 1;
                }
                memcpy(scratch + used, ", ", 2);
                memcpy(scratch + used + 2, d->ab + b->val, b->val_len);
                used += 2 + b->val_len;
                val.len += 2 + b->val_len;
            }
            map[2 * np] = key;
            map[2 * np + 1] = val;
            if (ref < 0 && a->name_len == 7 && !memcmp(kn, "referer", 7)) ref = np;
            np++;
        }
    }
    eng_value_t mv;
    memset(&mv, 0, sizeof mv);
    mv.type = ENG_T_MAP;
    mv.len = (uint32_t)np;
    mv.u.list = map;
    mv.offset = ENG_NO_OFFSET;
    eng_event_t ev;
    ev_init(&ev, kind, f);
    if (dir == ENG_ORIG) {
        ev_set(&ev, ENG_F_HTTP_REQUEST_method, part(d, 0));
        ev_set(&ev, ENG_F_HTTP_REQUEST_uri, part(d, 1));
        if (d->v09)
            ev_set(&ev, ENG_F_HTTP_REQUEST_version, ev_cstr("0.9"));
        else
            ev_set(&ev, ENG_F_HTTP_REQUEST_version, part(d, 2));
        ev_set(&ev, ENG_F_HTTP_REQUEST_host, hval(d, d->host_i));
        ev_set(&ev, ENG_F_HTTP_REQUEST_user_agent, hval(d, d->ua_i));
        ev_set(&ev, ENG_F_HTTP_REQUEST_headers, mv);
        ev_set(&ev, ENG_F_HTTP_REQUEST_offset, ev_int((int64_t)d->msg_off));
        if (ref >= 0) ev_set(&ev, ENG_F_HTTP_REQUEST_referrer, map[2 * ref + 1]);
    } else {
        if (d->v09) { /* an HTTP/0.9 answer: no status line */
            ev_set(&ev, ENG_F_HTTP_RESPONSE_version, ev_cstr("0.9"));
            ev_set(&ev, ENG_F_HTTP_RESPONSE_status, ev_int(0));
        } else {
            ev_set(&ev, ENG_F_HTTP_RESPONSE_version, part(d, 2));
            ev_set(&ev, ENG_F_HTTP_RESPONSE_status, ev_int(d->status));
            ev_set(&ev, ENG_F_HTTP_RESPONSE_reason, part(d, 1));
        }
        ev_set(&ev, ENG_F_HTTP_RESPONSE_headers, mv);
        ev_set(&ev, ENG_F_HTTP_RESPONSE_offset, ev_int((int64_t)d->msg_off));
    }
    dec_fire(e, &ev);
}

static void tunnel(http_t *h)
{
    for (int i = 0; i < 2; i++) {
        msg_reset(&h->d[i]);
        z_close(&h->d[i]);
        h->d[i].st = ST_TUNNEL;
        sr_free(&h->d[i].sr);
    }
}

/* Inside a CONNECT tunnel, the bytes direction dir has sent (all in its
 * reader's buffer): does another decoder's probe claim them (TLS from the
 * client, an SMTP greeting from the server, ...)? Then the flow is handed to
 * it from the first tunnel byte (services "http,ssl"), the buffered bytes
 * carried over. 1 handed off, 0 no decoder can, -1 some cannot tell yet. */
static int tunnel_detect(eng_t *e, eng_flow_t *f, http_t *h, int dir)
{
    stream_reader_t *r = &h->d[dir].sr;
    int undecided = 0;
    if (!r->buf_len) return -1;
    for (int i = 0; i < eng_decoder_count(); i++) {
        const eng_decoder_t *c = eng_decoder_at(i);
        if (!c || !c->probe || !c->data || strcmp(c->name, "http") == 0) continue;
        int p = c->probe(r->buf, r->buf_len, dir);
        if (p == 1) {
            if (dec_handoff(e, f, c->name, dir, r->buf_off) != 0) return 0;
            dec_handoff_carry(e, f, dir, r->buf_off, r->buf, r->buf_len);
            return 1;
        }
        if (p < 0) undecided = 1;
    }
    return undecided ? -1 : 0;
}

/* the empty line after the headers: decide the body */
static void headers_done(eng_t *e, eng_flow_t *f, http_t *h, int dir)
{
    http_dir_t *d = &h->d[dir];
    finish_header(e, f, d, dir);
    d->body_start = sr_offset(&d->sr);
    if (d->chunked && d->has_cl) WEIRD(e, f, "http_te_and_cl", "Transfer-Encoding and Content-Length");
    if (dir == ENG_ORIG) {
        pend_push(e, f, h, (pend_t){d->method, d->upgrade, 0});
        fire_headers_event(e, f, d, dir);
        int wait = d->method == M_CONNECT || d->upgrade;
        if (d->chunked) {
            d->st = ST_CHUNK_SIZE;
        } else if (d->has_cl && d->cl > 0) {
            d->remaining = d->cl;
            d->st = ST_BODY_LEN;
        } else {
            if (d->te_other) WEIRD(e, f, "http_bad_transfer_encoding", "request body without chunked");
            msg_done(e, f, h, dir);
        }
        if (wait && d->st == ST_LINE) d->st = ST_WAIT;
        else if (wait) d->upgrade = 2; /* wait after the body */
        return;
    }
    /* a response: pair it with the oldest pending request */
    int st = d->status;
    pend_t pe = pend_front(h);
    int interim = st >= 100 && st < 200 && st != 101;
    if (!interim) {
        if (h->qn) {
            h->qh = (h->qh + 1) % PENDING_MAX;
            h->qn--;
        } else if (h->q_lost) {
            h->q_lost--;
        } else {
            WEIRD(e, f, "http_unmatched_response", "status %d without a request", st);
        }
    }
    fire_headers_event(e, f, d, dir);
    http_dir_t *o = &h->d[ENG_ORIG];
    if (pe.method == M_CONNECT && st >= 200 && st < 300) {
        /* the tunnel's first client bytes decide: HTTP again, or opaque */
        msg_done(e, f, h, dir);
        o->st = ST_TPROBE;
        d->st = ST_TPROBE;
        run(e, f, h, ENG_ORIG);
        return;
    }
    if (st == 101 && pe.upgrade) {
        msg_done(e, f, h, dir);
        tunnel(h);
        return;
    }
    if (st == 101) WEIRD(e, f, "http_unexpected_101", "101 without an Upgrade request");
    if (!interim && o->st == ST_WAIT && (pe.method == M_CONNECT || pe.upgrade)) {
        /* not switched: the client's held bytes are HTTP again */
        o->st = ST_LINE;
    }
    if (interim || st == 204 || st == 304 || pe.method == M_HEAD) {
        if (interim && (d->has_cl || d->chunked) && d->cl)
            WEIRD(e, f, "http_interim_with_body", "status %d", st);
        msg_done(e, f, h, dir);
    } else if (d->chunked) {
        d->st = ST_CHUNK_SIZE;
    } else if (d->has_cl && !d->te_other) {
        d->remaining = d->cl;
        if (d->cl)
            d->st = ST_BODY_LEN;
        else
            msg_done(e, f, h, dir);
    } else {
        d->st = ST_BODY_CLOSE;
    }
    if (o->st == ST_LINE && o->sr.buf_len) run(e, f, h, ENG_ORIG);
}

/* ---- the per-direction loop ----------------------------------------------- */

static int parse_chunk_size(const uint8_t *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t x = 0;
    while (i < n && txt_is_ws(p[i])) i++;
    size_t s = i;
    while (i < n) {
        int c = txt_lower(p[i]), dv;
        if (c >= '0' && c <= '9') dv = c - '0';
        else if (c >= 'a' && c <= 'f') dv = c - 'a' + 10;
        else break;
        if (x >> 59) return 0; /* > 2^63: nonsense */
        x = x * 16 + (uint64_t)dv;
        i++;
    }
    if (i == s) return 0;
    while (i < n && txt_is_ws(p[i])) i++;
    if (i < n && p[i] != ';') return 0;
    *out = x;
    return 1;
}

static void lose_sync(eng_t *e, eng_flow_t *f, http_t *h, int dir)
{
    http_dir_t *d = &h->d[dir];
    /* a response lost before its headers ended still answered a request */
    if (dir == ENG_RESP && d->in_msg && d->st == ST_HEADERS && h->qn) {
        h->qh = (h->qh + 1) % PENDING_MAX;
        h->qn--;
    }
    if (d->in_msg) msg_done(e, f, h, dir);
    d->gap_ok = 0;
    msg_reset(d);
    d->st = ST_RESYNC;
}

/* after the end of a request body: wait for CONNECT/Upgrade answers */
static void req_body_done(eng_t *e, eng_flow_t *f, http_t *h, int dir)
{
    http_dir_t *d = &h->d[dir];
    int wait = dir == ENG_ORIG && d->upgrade == 2;
    msg_done(e, f, h, dir);
    if (wait) d->st = ST_WAIT;
}

static void run(eng_t *e, eng_flow_t *f, http_t *h, int dir)
{
    http_dir_t *d = &h->d[dir];
    sr_view_t v;
    for (;;) {
        int rc;
        switch (d->st) {
        case ST_TUNNEL:
            while (sr_some(&d->sr, SIZE_MAX, &v) != SR_MORE) {}
            return;
        case ST_WAIT:
            /* keep the rest (bounded by max_unit) for when the answer comes */
            sr_push(&d->sr, d->sr.chunk_off + d->sr.chunk_len, NULL, 0);
            return;
        case ST_TPROBE: {
            /* Inside a CONNECT tunnel. The first bytes are kept and probed: a
             * request line from the client makes both directions HTTP again (a
             * proxy asked for a cleartext tunnel); bytes another decoder claims
             * (TLS from the client, a greeting from the server) hand the flow
             * to it; anything else (or undecided past max_unit) makes the
             * tunnel opaque. */
            sr_push(&d->sr, d->sr.chunk_off + d->sr.chunk_len, NULL, 0);
            int r = dir == ENG_ORIG ? http_probe(d->sr.buf, d->sr.buf_len, ENG_ORIG) : 0;
            if (r <= 0) {
                int t = tunnel_detect(e, f, h, dir);
                if (t == 1) {
                    tunnel(h); /* the new decoder has the flow */
                    return;
                }
                if (t < 0 || r < 0) {
                    if (d->sr.buf_len < d->sr.max_unit) return;
                }
                tunnel(h);
                return;
            }
            d->st = ST_LINE;
            h->d[ENG_RESP].st = ST_LINE;
            continue;
        }
        case ST_LINE:
        case ST_RESYNC:
            rc = sr_line(&d->sr, &v);
            if (rc == SR_MORE) return;
            if (rc == SR_GAP) {
                if (d->gap_ok) d->gap_ok = 0;
                else d->st = ST_RESYNC;
                continue;
            }
            if (d->st == ST_LINE && v.len == 0 && !v.cut) continue; /* stray CRLF */
            if (dir == ENG_ORIG) {
                size_t a, b, c, d2, vl;
                int odd;
                /* a line with a method is a request, read leniently (a versionless
                 * one needs a known method: HTTP/0.9); while resyncing only a
                 * well-formed request line with a version ends the skipping */
                int ok = !v.cut && split_request(v.p, v.len, &a, &b, &c, &d2, &vl, &odd) &&
                         (vl == 0 ? d->st == ST_LINE && known_method(v.p, a) : 1);
                if (ok && d->st == ST_RESYNC && !looks_request(v.p, v.len)) ok = 0;
                if (ok) {
                    start_request(e, f, h, d, &v);
                } else if (d->st == ST_LINE) {
                    WEIRD(e, f, "http_bad_request_line", "%.*s", (int)(v.len > 64 ? 64 : v.len),
                          (const char *)v.p);
                    d->st = ST_RESYNC;
                }
            } else {
                if (!v.cut && looks_status(v.p, v.len)) {
                    start_response(e, f, d, &v);
                } else if (d->st == ST_LINE) {
                    pend_t pe = pend_front(h);
                    if (pe.v09 && h->qn) { /* HTTP/0.9 answer: raw until close */
                        h->qh = (h->qh + 1) % PENDING_MAX;
                        h->qn--;
                        msg_reset(d);
                        d->in_msg = 1;
                        d->depth++;
                        d->v09 = 1;
                        d->msg_off = v.off;
                        d->body_start = v.off;
                        d->st = ST_BODY_CLOSE;
                        fire_headers_event(e, f, d, dir); /* status 0, version 0.9 */
                        d->wire_len += v.len + v.eol;
                        body_bytes(e, f, d, dir, v.p, v.len); /* the line and its ending */
                        body_bytes(e, f, d, dir, (const uint8_t *)"\r\n" + (v.eol == 1),
                                   v.eol);
                        continue;
                    }
                    WEIRD(e, f, "http_bad_status_line", "%.*s", (int)(v.len > 64 ? 64 : v.len),
                          (const char *)v.p);
                    d->st = ST_RESYNC;
                }
            }
            continue;
        case ST_HEADERS:
        case ST_TRAILERS:
            rc = sr_line(&d->sr, &v);
            if (rc == SR_MORE) return;
            if (rc == SR_GAP) {
                if (d->gap_ok) {
                    d->gap_ok = 0;
                    continue;
                }
                WEIRD(e, f, "http_gap_resync", "gap in the header block");
                lose_sync(e, f, h, dir);
                continue;
            }
            if (d->st == ST_TRAILERS) d->wire_len += v.len + v.eol;
            if (v.len == 0 && !v.cut) {
                if (d->st == ST_HEADERS) {
                    headers_done(e, f, h, dir);
                } else {
                    finish_header(e, f, d, dir);
                    req_body_done(e, f, h, dir);
                }
                if (d->st == ST_TUNNEL) return;
                continue;
            }
            header_line(e, f, d, dir, &v);
            continue;
        case ST_BODY_LEN:
        case ST_CHUNK_DATA:
        case ST_BODY_CLOSE: {
            size_t want = d->st == ST_BODY_CLOSE ? SIZE_MAX
                        : (d->remaining > SIZE_MAX ? SIZE_MAX : (size_t)d->remaining);
            rc = sr_some(&d->sr, want, &v);
            if (rc == SR_MORE) return;
            if (rc == SR_GAP) {
                if (d->gap_ok) { /* accounted for in http_gap */
                    d->gap_ok = 0;
                    continue;
                }
                WEIRD(e, f, "http_gap_resync", "bytes missing in a body");
                lose_sync(e, f, h, dir);
                continue;
            }
            d->wire_len += v.len;
            body_bytes(e, f, d, dir, v.p, v.len);
            if (d->st == ST_BODY_CLOSE) continue;
            d->remaining -= v.len;
            if (d->remaining == 0) {
                if (d->st == ST_BODY_LEN)
                    req_body_done(e, f, h, dir);
                else
                    d->st = ST_CHUNK_END;
            }
            continue;
        }
        case ST_CHUNK_SIZE:
        case ST_CHUNK_END: {
            rc = sr_line(&d->sr, &v);
            if (rc == SR_MORE) return;
            if (rc == SR_GAP) {
                if (d->gap_ok) {
                    d->gap_ok = 0;
                    continue;
                }
                WEIRD(e, f, "http_gap_resync", "gap in chunk framing");
                lose_sync(e, f, h, dir);
                continue;
            }
            d->wire_len += v.len + v.eol;
            if (d->st == ST_CHUNK_END) {
                d->st = ST_CHUNK_SIZE;
                if (v.len == 0 && !v.cut) continue;
                WEIRD(e, f, "http_bad_chunk_end", "chunk data not followed by CRLF");
                /* read the line as the next chunk size */
            }
            uint64_t sz;
            if (v.cut || !parse_chunk_size(v.p, v.len, &sz)) {
                WEIRD(e, f, "http_bad_chunk_size", "%.*s", (int)(v.len > 32 ? 32 : v.len),
                      (const char *)v.p);
                msg_done(e, f, h, dir);
                d->st = ST_RESYNC;
                continue;
            }
            if (sz == 0) {
                d->st = ST_TRAILERS;
            } else {
                d->remaining = sz;
                d->st = ST_CHUNK_DATA;
            }
            continue;
        }
        default:
            return;
        }
    }
}

/* ---- descriptor entry points ------------------------------------------------ */

static void http_init(eng_t *e, eng_flow_t *f, void *st)
{
    http_t *h = st;
    uint32_t ml = dec_max_line(e);
    for (int i = 0; i < 2; i++) {
        sr_init(&h->d[i].sr, ml);
        sr_bind(&h->d[i].sr, dec_flow_mem(f));
        h->d[i].acct = dec_flow_mem(f);
        msg_reset(&h->d[i]);
        h->d[i].st = ST_LINE;
        h->d[i].inited = 1;
    }
}

static void http_data(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, const uint8_t *p,
                      size_t len)
{
    http_t *h = st;
    if (dir != 0 && dir != 1) return;
    http_dir_t *d = &h->d[dir];
    if (d->st == ST_TUNNEL) return;
    if (!dec_wanted(e, &eng_decoder_http)) {
        h->idle = 1;
        return; /* the reader sees a jump in offsets later: a gap, then resync */
    }
    sr_push(&d->sr, off, p, len);
    run(e, f, h, dir);
}

static void http_gap(eng_t *e, eng_flow_t *f, void *st, int dir, uint64_t off, uint64_t len)
{
    http_t *h = st;
    if (dir != 0 && dir != 1) return;
    http_dir_t *d = &h->d[dir];
    if (len == 0) { /* engine.memcap cut: the reader reports SR_GAP if a unit was dropped */
        sr_gap(&d->sr, off, 0);
        if (d->z && d->coding != CE_NONE && !d->z_dead) { /* its window and state go */
            WEIRD(e, f, "http_decompression_gap", "the decompressor dropped (engine.memcap)");
            z_close(d);
            d->z_dead = 1;
        }
        map_free(d); /* built again at the next message's event */
        if (!d->in_msg) { /* between messages the arena and header list hold nothing */
            dec_mem_charge(d->acct, -(int64_t)(d->acap + (size_t)d->hcap * sizeof *d->hd));
            free(d->ab);
            d->ab = NULL;
            d->acap = d->alen = 0;
            free(d->hd);
            d->hd = NULL;
            d->hcap = d->nh = 0;
        }
        return;
    }
    if (d->st == ST_TUNNEL) return;
    sr_gap(&d->sr, off, len);
    d->gap_ok = 0;
    int absorb = d->st == ST_BODY_CLOSE ||
                 ((d->st == ST_BODY_LEN || d->st == ST_CHUNK_DATA) && len <= d->remaining);
    if (!absorb) {
        if (d->st == ST_RESYNC || d->st == ST_WAIT) return; /* the reader reports it */
        if (d->st == ST_TPROBE) { /* a hole at the tunnel's start: opaque */
            tunnel(h);
            return;
        }
        WEIRD(e, f, "http_gap_resync", "gap of %llu bytes at %llu", (unsigned long long)len,
              (unsigned long long)off);
        lose_sync(e, f, h, dir);
        return;
    }
    /* inside a body whose end is still known: the body has a hole */
    d->gap_ok = 1;
    d->wire_len += len;
    if (!d->truncated && d->coding == CE_NONE) {
        file_open(e, f, d, dir);
        if (d->file) eng_file_gap(e, d->file, len);
    }
    if (d->coding != CE_NONE && !d->z_dead) {
        WEIRD(e, f, "http_decompression_gap", "gap inside a compressed body");
        z_close(d);
        d->z_dead = 1;
    }
    if (d->st == ST_BODY_CLOSE) return;
    d->remaining -= len;
    if (d->remaining == 0) {
        if (d->st == ST_BODY_LEN)
            req_body_done(e, f, h, dir);
        else
            d->st = ST_CHUNK_END;
    }
}

static void http_end(eng_t *e, eng_flow_t *f, void *st)
{
    http_t *h = st;
    for (int dir = 0; dir < 2; dir++) {
        http_dir_t *d = &h->d[dir];
        if (d->st != ST_TUNNEL && d->inited) {
            /* move an unread rest out of the last chunk, then read to the end */
            sr_push(&d->sr, d->sr.chunk_off + d->sr.chunk_len, NULL, 0);
            sr_eof(&d->sr);
            if (d->st == ST_WAIT) d->st = ST_LINE;
            run(e, f, h, dir);
            switch (d->st) {
            case ST_HEADERS:
                WEIRD(e, f, "http_truncated_headers", "the flow ended inside a header block");
                break;
            /* the body counts the bytes that arrived; the weird says what did not */
            case ST_BODY_LEN:
                WEIRD(e, f, "http_truncated_body", "%llu of %llu Content-Length bytes missing",
                      (unsigned long long)d->remaining, (unsigned long long)d->cl);
                break;
            case ST_CHUNK_DATA:
                WEIRD(e, f, "http_truncated_body", "%llu bytes of a chunk missing",
                      (unsigned long long)d->remaining);
                break;
            case ST_CHUNK_END:
                WEIRD(e, f, "http_truncated_body", "the CRLF after a chunk's data missing");
                break;
            case ST_CHUNK_SIZE:
                WEIRD(e, f, "http_truncated_body", "the last chunk (size 0) missing");
                break;
            case ST_TRAILERS:
                WEIRD(e, f, "http_truncated_body", "the empty line after the last chunk missing");
                break;
            default:
                break;
            }
            if (d->in_msg && d->st != ST_HEADERS) msg_done(e, f, h, dir);
        }
        z_close(d);
        file_done(e, d);
        sr_free(&d->sr);
        dec_mem_charge(d->acct, -(int64_t)(d->acap + (size_t)d->hcap * sizeof *d->hd));
        free(d->ab);
        d->ab = NULL;
        d->acap = d->alen = 0;
        free(d->hd);
        d->hd = NULL;
        d->hcap = d->nh = 0;
        map_free(d);
    }
}

static const uint16_t http_ports[] = {80, 8080, 8000, 3128, 0};

/* a CONNECT tunnel hands its flow to the decoder that claims its bytes (TLS, mail, FTP) */
static const char *const http_uses[] = {"files", "ssl", "smtp", "pop3", "imap", "mail", "ftp", NULL};

const eng_decoder_t eng_decoder_http = {
    .name = "http",
    .uses = http_uses,
    .probe = http_probe,
    .ports = http_ports,
    .state_size = sizeof(http_t),
    .init = http_init,
    .data = http_data,
    .gap = http_gap,
    .datagram = NULL,
    .end = http_end,
};
