/* files.c - the files framework (files.h): fuids, file.begin / file.data /
 * file.done, MIME sniffing with libmagic, md5/sha1/sha256 with nettle.
 *
 * Costs are paid only for what is subscribed:
 *   - nobody listens to any file event: eng_file_begin returns NULL, nothing
 *     is allocated, every other call is a no-op;
 *   - file.begin subscribed: the first SNIFF_MAX bytes are buffered (copied
 *     only when they arrive in pieces) and given to libmagic, then file.begin
 *     fires, followed by file.data for the buffered bytes; later bytes stream
 *     through file.data without a copy;
 *   - file.begin not subscribed: no buffering, no sniffing (mime is NULL);
 *   - file.done subscribed: the digests named by files.digests (default
 *     "md5,sha1,sha256"; `--set files.digests=md5`, or empty for none) are
 *     computed incrementally, in one pass: each chunk is fed to the wanted
 *     digests block by block (DIGEST_BLOCK bytes, so a block is read from
 *     memory once and hashed from the cache by each digest).
 *
 * Sniffing order: the built-in signatures (sigs[] below, HTML tags at the
 * start that libmagic also calls text/html), then for text without a '<'
 * libmagic without its soft-magic database (about a microsecond), and for
 * binary prefixes no signature decides and text with markup in it (HTML, XML
 * are soft magic) libmagic with its whole database (about 0.4 ms a call).
 * A file marked a fragment (eng_file_no_sniff: an HTTP 206 range not from
 * byte 0) is not sniffed. libmagic's verdicts are remembered in a small
 * direct-mapped memo (SNIFF_MEMO entries, each holding the whole prefix it was
 * asked about, compared byte for byte: the answer is the one libmagic gave for
 * exactly these bytes), so the same binary sent again (an attachment mailed to
 * many, a download fetched by many) costs a hash and a compare. `--set
 * files.sniff_memo=false` turns it off.
 *
 * Gaps: file.data offsets are positions within the file, so after a gap of
 * n bytes the next offset jumps by n. size (seen_bytes) counts the bytes
 * delivered, missing_bytes the bytes lost. The digests are still reported
 * for a file with missing bytes: they are then digests of the bytes seen, not
 * of the file, and missing_bytes > 0 says so. A gap before the sniff buffer
 * is full ends the buffering: libmagic sees the contiguous prefix only.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <magic.h>
#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>

#include "decoder.h"
#include "files.h"
#include "internal.h"

#define SNIFF_MAX 4096        /* libmagic never sees more than this */
#define SNIFF_MEMO 64         /* full-libmagic verdicts remembered (x SNIFF_MAX bytes) */
#define DIGEST_BLOCK 4096     /* one-pass hashing: block fed to every digest in turn */
#define MIME_MAX 96           /* longest MIME type kept */
#define SOURCE_MAX 16
#define FILENAME_MAX_LEN 4096 /* longer names given by a protocol are cut */
#define EXTRACT_NAME_MAX 96   /* "extract-<ts>-<SOURCE>-<fuid>" */
#define EXTRACT_DEF_MAX (100ULL << 20)   /* files.extract_max_bytes: Zeek's tuning default */
#define EXTRACT_DEF_TOTAL (10ULL << 30)  /* files.extract_total_max_bytes */

enum { EX_UNDECIDED = 0, EX_OFF, EX_ON, EX_STOPPED };

/* marks e->magic after magic_open/magic_load failed: do not retry per file */
static char magic_failed_;
#define MAGIC_FAILED ((void *)&magic_failed_)

struct eng_file {
    eng_flow_t *flow;
    uint8_t begun;            /* file.begin fired (or was skipped) */
    uint8_t sniff;            /* file.begin wanted: buffer and sniff */
    uint8_t hash;             /* file.done wanted: digests (HASH_* bits) */
    uint8_t has_mime;
    uint8_t dir;              /* ENG_ORIG / ENG_RESP */
    uint8_t has_first;        /* first_ts is set */
    int64_t first_ts;         /* network time of the first byte (or gap) */
    char fuid[20];
    char source[SOURCE_MAX];
    char mime[MIME_MAX];
    char *filename;           /* NULL when none */
    size_t filename_len;
    uint64_t pos;             /* file position of the next byte (data + gaps) */
    uint64_t seen;            /* bytes delivered */
    uint64_t missing;         /* bytes in gaps */
    struct md5_ctx md5;
    struct sha1_ctx sha1;
    struct sha256_ctx sha256;
    size_t buflen;
    uint8_t *buf;             /* SNIFF_MAX bytes while sniffing, else NULL */
    int64_t last_ts;          /* network time of the last byte (or gap) */
    uint32_t depth;           /* eng_file_set_depth, 0 when not set */
    uint8_t has_total;
    uint64_t total;           /* eng_file_set_total */
    /* extraction */
    uint8_t ex_state;         /* EX_* */
    uint8_t ex_cut;           /* a cap (or a write error) cut the extracted file */
    uint8_t ex_tried;         /* extraction was attempted (the name is reported) */
    int ex_fd;                /* -1 when closed */
    uint64_t ex_max;          /* this file's cap, positions [0, ex_max) (0: none) */
    uint64_t ex_size;         /* extent on disk: one past the highest position written */
    char ex_name[EXTRACT_NAME_MAX];
};

enum { HASH_MD5 = 1, HASH_SHA1 = 2, HASH_SHA256 = 4, HASH_ALL = 7 };

/* the digests files.digests names: a list of md5, sha1, sha256 separated by
 * commas or spaces; unset means all three, empty means none; unknown names
 * are ignored */
static uint8_t digests_wanted(const eng_t *e) {
    const char *v = dec_config(e, "files.digests");
    if (!v) return HASH_ALL;
    uint8_t m = 0;
    const char *p = v;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        size_t n = strcspn(p, ", ");
        if (n == 3 && !strncasecmp(p, "md5", 3)) m |= HASH_MD5;
        else if (n == 4 && !strncasecmp(p, "sha1", 4)) m |= HASH_SHA1;
        else if (n == 6 && !strncasecmp(p, "sha256", 6)) m |= HASH_SHA256;
        p += n;
    }
    return m;
}

static magic_t get_magic(void **slot, int flags);

/* ---- the memo of full-libmagic verdicts --------------------------------- */
typedef struct memo_ent {
    uint64_t h;
    size_t len;               /* 0: empty slot */
    int text;                 /* asked of the text handle (no soft magic) */
    uint8_t *bytes;           /* len bytes (the prefix libmagic saw) */
    char mime[MIME_MAX];
} memo_ent_t;

struct sniff_memo {
    memo_ent_t ent[SNIFF_MEMO];
    uint64_t hits, misses;
};

static uint64_t memo_hash(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL ^ n; /* FNV-1a, 8 bytes a step */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 1099511628211ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 32);
}

static int memo_on(const eng_t *e) {
    const char *v = dec_config(e, "files.sniff_memo");
    return !v || !(!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") ||
                   !strcasecmp(v, "off"));
}

/* libmagic on p[0..n) (text: the handle without soft magic, else the whole
 * database), through the memo; NULL when libmagic is unavailable or gave no
 * answer */
static const char *sniff_magic(eng_t *e, int text, const uint8_t *p, size_t n) {
    magic_t m = text ? get_magic(&e->magic_text, MAGIC_NO_CHECK_SOFT) : get_magic(&e->magic, 0);
    if (!m) return NULL;
    if (!memo_on(e)) return magic_buffer(m, p, n);
    if (!e->sniff_memo) e->sniff_memo = calloc(1, sizeof *e->sniff_memo);
    struct sniff_memo *mm = e->sniff_memo;
    if (!mm) return magic_buffer(m, p, n);
    uint64_t h = memo_hash(p, n) ^ (uint64_t)text;
    memo_ent_t *me = &mm->ent[h % SNIFF_MEMO];
    if (me->len == n && me->h == h && me->text == text && !memcmp(me->bytes, p, n)) {
        mm->hits++;
        return me->mime[0] ? me->mime : NULL;
    }
    mm->misses++;
    const char *t = magic_buffer(m, p, n);
    size_t tl = t ? strlen(t) : 0;
    if (tl >= MIME_MAX) return t;
    if (!me->bytes) me->bytes = malloc(SNIFF_MAX);
    if (!me->bytes) return t;
    memcpy(me->bytes, p, n);
    me->len = n;
    me->h = h;
    me->text = text;
    if (tl) memcpy(me->mime, t, tl + 1);
    else me->mime[0] = 0;
    return t;
}

static int any_file_subscriber(const eng_t *e) {
    return eng_wants(e, ENG_EV_FILE_BEGIN) || eng_wants(e, ENG_EV_FILE_DATA) ||
           eng_wants(e, ENG_EV_FILE_DONE);
}

/* libmagic handles: `full` with its whole database (slow: about half a
 * millisecond a buffer), `text` without the soft-magic database (fast; still
 * tells JSON, CSV and plain text apart) */
static magic_t open_magic(int flags) {
    /* no decompression: libmagic would otherwise inflate (or, in some
     * builds, run external programs on) untrusted bytes */
    magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS | flags);
    if (!m) return NULL;
    if (magic_load(m, NULL) != 0) {
        magic_close(m);
        return NULL;
    }
    size_t bytes_max = SNIFF_MAX;
    magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max);
    return m;
}

static magic_t get_magic(void **slot, int flags) {
    if (*slot == MAGIC_FAILED) return NULL;
    if (!*slot) {
        magic_t m = open_magic(flags);
        *slot = m ? (void *)m : MAGIC_FAILED;
    }
    return *slot == MAGIC_FAILED ? NULL : (magic_t)*slot;
}

void files_free(eng_t *e) {
    if (!e) return;
    if (e->magic && e->magic != MAGIC_FAILED) magic_close((magic_t)e->magic);
    if (e->magic_text && e->magic_text != MAGIC_FAILED) magic_close((magic_t)e->magic_text);
    e->magic = e->magic_text = NULL;
    if (e->sniff_memo) {
        for (int i = 0; i < SNIFF_MEMO; i++) free(e->sniff_memo->ent[i].bytes);
        free(e->sniff_memo);
        e->sniff_memo = NULL;
    }
}

/* Signatures of common file types, checked before libmagic: the answer is
 * the same and costs nanoseconds instead of half a millisecond. */
static const struct sig {
    uint8_t off, len;
    const char *bytes, *type;
} sigs[] = {
    {0, 8, "\x89PNG\r\n\x1a\n", "image/png"},
    {0, 3, "\xff\xd8\xff", "image/jpeg"},
    {0, 6, "GIF87a", "image/gif"},
    {0, 6, "GIF89a", "image/gif"},
    {0, 5, "%PDF-", "application/pdf"},
    {0, 2, "\x1f\x8b", "application/gzip"},
    {0, 3, "BZh", "application/x-bzip2"},
    {0, 6, "\xfd" "7zXZ\x00", "application/x-xz"},
    {0, 6, "7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"},
    {0, 4, "wOFF", "font/woff"},
    {0, 4, "wOF2", "font/woff2"},
    {0, 5, "{\\rtf", "text/rtf"},
};

static int starts_ci(const uint8_t *p, size_t n, const char *w) {
    size_t k = strlen(w);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if (tolower(p[i]) != w[i]) return 0;
    return 1;
}

/* text: no NUL, no control bytes other than white space and ESC */
static int looks_text(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b) return 0;
        if (c == 0x7f) return 0;
    }
    return 1;
}

static const char *sniff_fast(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (n >= (size_t)sigs[i].off + sigs[i].len &&
            !memcmp(p + sigs[i].off, sigs[i].bytes, sigs[i].len))
            return sigs[i].type;
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) return "image/webp";
    return NULL;
}

static int looks_html(const uint8_t *p, size_t n) {
    if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) p += 3, n -= 3; /* BOM */
    while (n && isspace(*p)) p++, n--;
    /* each of these at the start is text/html for libmagic too ("<body" is not) */
    static const char *const tags[] = {"<!doctype html", "<html", "<head", "<title", "<script"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (starts_ci(p, n, tags[i])) return 1;
    return 0;
}

static void sniff(eng_t *e, eng_file_t *fl, const uint8_t *p, size_t n) {
    if (n == 0) return; /* an empty file has no type */
    if (n > SNIFF_MAX) n = SNIFF_MAX;
    const char *t = sniff_fast(p, n);
    if (!t && looks_text(p, n)) {
        if (looks_html(p, n)) {
            t = "text/html";
        } else if (memchr(p, '<', n)) {
            /* markup (HTML, XML, SGML) is soft magic, which the text handle
             * skips: libmagic's whole database answers, as for binaries */
            t = sniff_magic(e, 0, p, n);
        } else {
            t = sniff_magic(e, 1, p, n);
        }
    }
    if (!t) t = sniff_magic(e, 0, p, n);
    if (!t || !*t) return;
    size_t len = strlen(t);
    if (len >= MIME_MAX) return;
    memcpy(fl->mime, t, len + 1);
    fl->has_mime = 1;
}


/* ---- extraction (files.extract) ----------------------------------------- */

static const char *extract_dir(const eng_t *e) {
    const char *d = dec_config(e, "files.extract");
    return d && *d ? d : NULL;
}

static void extract_keepalive(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e, (void)ev, (void)user; /* only makes the decoders hand files over */
}

int files_extract_check(const char *dir, char *err, size_t errlen) {
    struct stat st;
    if (!dir || !*dir) return 0; /* empty: extraction off */
    if (stat(dir, &st) != 0) {
        snprintf(err, errlen, "files.extract: %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "files.extract: %s: not a directory", dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "files.extract: %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

void files_extract_config(eng_t *e) {
    if (!e) return;
    if (extract_dir(e)) {
        if (!e->extract_sub) {
            int id = eng_on(e, ENG_EV_FILE_DONE, extract_keepalive, NULL);
            e->extract_sub = id > 0 ? id : 0;
        }
    } else if (e->extract_sub) {
        eng_off(e, e->extract_sub);
        e->extract_sub = 0;
    }
}

/* files.extract_mime: types separated by commas or spaces; "type/sub" matches
 * exactly, "type/" or "type/ *" (no space) every subtype; case-insensitive.
 * Unset or empty: every file. A file whose type is unknown matches only when
 * there is no filter. */
static int mime_allowed(const eng_t *e, const eng_file_t *fl) {
    const char *v = dec_config(e, "files.extract_mime");
    if (!v || !*v) return 1;
    if (!fl->has_mime) return 0;
    size_t ml = strlen(fl->mime);
    const char *p = v;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        size_t n = strcspn(p, ", ");
        if (n) {
            size_t k = n;
            if (k >= 2 && p[k - 1] == '*' && p[k - 2] == '/') k--; /* "type/STAR" -> "type/" */
            if (p[k - 1] == '/') {
                if (ml > k && !strncasecmp(fl->mime, p, k)) return 1;
            } else if (ml == k && !strncasecmp(fl->mime, p, k)) {
                return 1;
            }
        }
        p += n;
    }
    return 0;
}

/* an extraction failed: one message on stderr and a weird, then no more
 * extraction this run (a full disk or a vanished directory will not heal
 * between two files) */
static void extract_fail(eng_t *e, eng_file_t *fl, const char *what, int err) {
    char detail[256 + EXTRACT_NAME_MAX];
    snprintf(detail, sizeof detail, "%s %s/%s: %s", what, extract_dir(e) ? extract_dir(e) : "",
             fl->ex_name, strerror(err));
    if (!e->extract_dead) {
        fprintf(stderr, "engine: files.extract: %s (no more files are extracted)\n", detail);
        eng_weird(e, fl->flow, "file_extract_failed", "%s", detail);
    }
    e->extract_dead = 1;
    fl->ex_cut = 1;
    fl->ex_state = EX_STOPPED;
    if (fl->ex_fd >= 0) {
        close(fl->ex_fd);
        fl->ex_fd = -1;
    }
}

static void extract_close(eng_t *e, eng_file_t *fl) {
    if (fl->ex_fd < 0) return;
    int fd = fl->ex_fd;
    fl->ex_fd = -1;
    /* a gap at the end is part of the file's extent: a hole of zeros */
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < fl->ex_size && ftruncate(fd, (off_t)fl->ex_size) != 0) {
        int err = errno;
        close(fd);
        extract_fail(e, fl, "cannot extend", err);
        return;
    }
    if (close(fd) != 0) extract_fail(e, fl, "cannot close", errno);
}

/* decide, once the MIME type is known (file.begin time), whether this file is
 * extracted, and open its file */
static void extract_decide(eng_t *e, eng_file_t *fl) {
    if (fl->ex_state != EX_UNDECIDED) return;
    fl->ex_state = EX_OFF;
    const char *dir = extract_dir(e);
    if (!dir || e->extract_dead || !mime_allowed(e, fl)) return;
    uint64_t total_max = dec_config_u64(e, "files.extract_total_max_bytes", EXTRACT_DEF_TOTAL);
    if (total_max && e->extract_total >= total_max) return; /* the run's budget is spent */
    fl->ex_max = dec_config_u64(e, "files.extract_max_bytes", EXTRACT_DEF_MAX);
    /* the name: Zeek's "extract-<ts>-<source>-<fuid>"; the source is the
     * decoder's name (upper-cased, as Zeek spells it), never traffic */
    char src[SOURCE_MAX];
    size_t i = 0;
    for (; fl->source[i] && i < sizeof src - 1; i++) {
        unsigned char c = (unsigned char)fl->source[i];
        src[i] = isalnum(c) ? (char)toupper(c) : '_';
    }
    src[i] = 0;
    int64_t t = fl->has_first ? fl->first_ts : e->now;
    snprintf(fl->ex_name, sizeof fl->ex_name, "extract-%lld.%06lld-%s-%s", (long long)(t / 1000000000LL),
             (long long)((t % 1000000000LL) / 1000), src[0] ? src : "UNKNOWN", fl->fuid);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, fl->ex_name) >= sizeof path) {
        fl->ex_tried = 1;
        extract_fail(e, fl, "path too long:", ENAMETOOLONG);
        return;
    }
    fl->ex_tried = 1;
    /* O_NOFOLLOW: a symlink planted at the name is not followed; an old file
     * of the same name (an earlier run) is replaced, as Zeek does */
    fl->ex_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fl->ex_fd < 0) {
        extract_fail(e, fl, "cannot create", errno);
        return;
    }
    fl->ex_state = EX_ON;
}

/* bytes at file position off, or (p NULL) a gap of n bytes */
static void extract_write(eng_t *e, eng_file_t *fl, const uint8_t *p, size_t n, uint64_t off) {
    if (fl->ex_state == EX_UNDECIDED) extract_decide(e, fl);
    if (fl->ex_state != EX_ON || n == 0) return;
    uint64_t k = n;
    if (fl->ex_max && off + k > fl->ex_max) { /* the file's cap */
        k = off < fl->ex_max ? fl->ex_max - off : 0;
        fl->ex_cut = 1;
    }
    uint64_t total_max = dec_config_u64(e, "files.extract_total_max_bytes", EXTRACT_DEF_TOTAL);
    uint64_t grow = off + k > fl->ex_size ? off + k - fl->ex_size : 0;
    if (total_max && e->extract_total + grow > total_max) { /* the run's cap */
        uint64_t left = total_max > e->extract_total ? total_max - e->extract_total : 0;
        k = fl->ex_size + left > off ? fl->ex_size + left - off : 0;
        if (k > n) k = n;
        grow = off + k > fl->ex_size ? off + k - fl->ex_size : 0;
        fl->ex_cut = 1;
    }
    if (p) {
        size_t done = 0;
        while (done < k) {
            ssize_t w = pwrite(fl->ex_fd, p + done, (size_t)(k - done), (off_t)(off + done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                /* what reached the disk stays; the record says cut */
                uint64_t got = off + done;
                if (got > fl->ex_size) {
                    e->extract_total += got - fl->ex_size;
                    fl->ex_size = got;
                }
                extract_fail(e, fl, "cannot write", w < 0 ? errno : ENOSPC);
                return;
            }
            done += (size_t)w;
        }
    }
    e->extract_total += grow;
    if (off + k > fl->ex_size) fl->ex_size = off + k;
    if (fl->ex_cut) { /* nothing more is written: close now */
        extract_close(e, fl);
        if (fl->ex_state == EX_ON) fl->ex_state = EX_STOPPED;
    }
}

static void fire_data(eng_t *e, eng_file_t *fl, const uint8_t *p, size_t n, uint64_t off) {
    if (n && fl->ex_state != EX_OFF) extract_write(e, fl, p, n, off);
    if (n == 0 || !eng_wants(e, ENG_EV_FILE_DATA)) return;
    eng_event_t ev;
    ev_init(&ev, ENG_EV_FILE_DATA, fl->flow);
    ev_set(&ev, ENG_F_FILE_DATA_fuid, ev_str(fl->fuid, 18, ENG_NO_OFFSET));
    ev_set(&ev, ENG_F_FILE_DATA_data, ev_str(p, n, off));
    ev_set(&ev, ENG_F_FILE_DATA_offset, ev_int((int64_t)off));
    eng_fire(e, &ev);
}

static void fire_begin(eng_t *e, eng_file_t *fl) {
    if (!eng_wants(e, ENG_EV_FILE_BEGIN)) return;
    eng_event_t ev;
    ev_init(&ev, ENG_EV_FILE_BEGIN, fl->flow);
    ev_set(&ev, ENG_F_FILE_BEGIN_fuid, ev_str(fl->fuid, 18, ENG_NO_OFFSET));
    ev_set(&ev, ENG_F_FILE_BEGIN_source, ev_cstr(fl->source));
    if (fl->filename)
        ev_set(&ev, ENG_F_FILE_BEGIN_filename, ev_str(fl->filename, fl->filename_len, ENG_NO_OFFSET));
    if (fl->has_mime) ev_set(&ev, ENG_F_FILE_BEGIN_mime_type, ev_cstr(fl->mime));
    ev_set(&ev, ENG_F_FILE_BEGIN_dir, ev_dir(fl->dir));
    ev_set(&ev, ENG_F_FILE_BEGIN_ts, ev_num(ns_to_secs(fl->has_first ? fl->first_ts : e->now)));
    eng_fire(e, &ev);
}

/* end the sniffing phase: sniff what is buffered (or `head`, the first bytes
 * of a chunk when nothing was buffered), fire file.begin, then file.data for
 * the buffered bytes */
static void start(eng_t *e, eng_file_t *fl, const uint8_t *head, size_t headlen) {
    if (fl->begun) return;
    fl->begun = 1;
    if (fl->sniff) {
        if (fl->buflen) sniff(e, fl, fl->buf, fl->buflen);
        else if (head) sniff(e, fl, head, headlen);
    }
    fire_begin(e, fl);
    if (fl->buflen) fire_data(e, fl, fl->buf, fl->buflen, 0);
    free(fl->buf);
    fl->buf = NULL;
    fl->buflen = 0;
}

eng_file_t *eng_file_begin(eng_t *e, eng_flow_t *f, int dir, const char *source,
                           const char *filename, size_t filename_len) {
    if (!e || !any_file_subscriber(e)) return NULL;
    eng_file_t *fl = calloc(1, sizeof *fl);
    if (!fl) return NULL;
    fl->flow = f;
    fl->dir = dir == ENG_RESP ? ENG_RESP : ENG_ORIG;
    fl->ex_fd = -1;
    fl->sniff = eng_wants(e, ENG_EV_FILE_BEGIN) ? 1 : 0;
    if (!extract_dir(e) || e->extract_dead) {
        fl->ex_state = EX_OFF;
    } else {
        const char *mf = dec_config(e, "files.extract_mime");
        if (mf && *mf) fl->sniff = 1; /* the filter needs the type */
    }
    fl->hash = eng_wants(e, ENG_EV_FILE_DONE) ? digests_wanted(e) : 0;
    make_id(fl->fuid, 'F', e->cfg.seed, ++e->next_file_id);
    if (source) {
        size_t n = strnlen(source, SOURCE_MAX - 1);
        memcpy(fl->source, source, n);
        fl->source[n] = 0;
    }
    if (filename) {
        if (filename_len > FILENAME_MAX_LEN) filename_len = FILENAME_MAX_LEN;
        fl->filename = malloc(filename_len + 1);
        if (fl->filename) {
            memcpy(fl->filename, filename, filename_len);
            fl->filename[filename_len] = 0;
            fl->filename_len = filename_len;
        }
    }
    if (fl->hash & HASH_MD5) md5_init(&fl->md5);
    if (fl->hash & HASH_SHA1) sha1_init(&fl->sha1);
    if (fl->hash & HASH_SHA256) sha256_init(&fl->sha256);
    if (!fl->sniff) fl->begun = 1; /* nothing to sniff for: stream from the start */
    return fl;
}

void eng_file_data(eng_t *e, eng_file_t *fl, const uint8_t *p, size_t n) {
    if (!fl || !p || n == 0) return;
    if (fl->hash) {
        uint8_t w = fl->hash;
        for (size_t i = 0; i < n; i += DIGEST_BLOCK) {
            size_t k = n - i < DIGEST_BLOCK ? n - i : DIGEST_BLOCK;
            if (w & HASH_MD5) md5_update(&fl->md5, k, p + i);
            if (w & HASH_SHA1) sha1_update(&fl->sha1, k, p + i);
            if (w & HASH_SHA256) sha256_update(&fl->sha256, k, p + i);
        }
    }
    if (!fl->has_first) {
        fl->has_first = 1;
        fl->first_ts = e->now;
    }
    fl->last_ts = e->now;
    uint64_t off = fl->pos;
    fl->seen += n;
    fl->pos += n;
    if (!fl->begun) {
        if (fl->buflen == 0 && n >= SNIFF_MAX) {
            /* the first chunk holds enough: sniff it in place, no copy */
            start(e, fl, p, n);
        } else {
            if (!fl->buf) {
                fl->buf = malloc(SNIFF_MAX);
                if (!fl->buf) { /* no memory: give up sniffing, stream on */
                    start(e, fl, NULL, 0);
                    fire_data(e, fl, p, n, off);
                    return;
                }
            }
            size_t k = SNIFF_MAX - fl->buflen;
            if (k > n) k = n;
            memcpy(fl->buf + fl->buflen, p, k);
            fl->buflen += k;
            if (fl->buflen < SNIFF_MAX) return;
            start(e, fl, NULL, 0);
            p += k;
            n -= k;
            off += k;
        }
    }
    fire_data(e, fl, p, n, off);
}

void eng_file_no_sniff(eng_t *e, eng_file_t *fl) {
    if (!fl || fl->begun || fl->buflen) return;
    fl->sniff = 0;
    start(e, fl, NULL, 0); /* file.begin now, without mime_type */
}

void eng_file_gap(eng_t *e, eng_file_t *fl, uint64_t n) {
    if (!fl || n == 0) return;
    if (!fl->has_first) {
        fl->has_first = 1;
        fl->first_ts = e->now;
    }
    fl->last_ts = e->now;
    if (!fl->begun) start(e, fl, NULL, 0);
    if (fl->ex_state != EX_OFF) extract_write(e, fl, NULL, n > UINT64_MAX - fl->pos ? 0 : n, fl->pos);
    fl->pos += n;
    fl->missing += n;
}

static void hex(char *out, const uint8_t *d, size_t n) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = 0;
}

/* the fields of file.done Zeek's files.log takes from the analysis: duration,
 * depth, total_bytes, analyzers, extracted* */
static void done_fields(eng_t *e, eng_file_t *fl, eng_event_t *ev, eng_value_t *an, int nan) {
    (void)e;
    int64_t d = fl->has_first && fl->last_ts > fl->first_ts ? fl->last_ts - fl->first_ts : 0;
    ev_set(ev, ENG_F_FILE_DONE_duration, ev_num(ns_to_secs(d)));
    ev_set(ev, ENG_F_FILE_DONE_depth, ev_int((int64_t)fl->depth));
    if (fl->has_total) ev_set(ev, ENG_F_FILE_DONE_total_bytes, ev_int((int64_t)fl->total));
    eng_value_t l = {.type = ENG_T_LIST, .len = (uint32_t)nan, .offset = ENG_NO_OFFSET};
    l.u.list = an;
    ev_set(ev, ENG_F_FILE_DONE_analyzers, l);
    if (fl->ex_tried) {
        ev_set(ev, ENG_F_FILE_DONE_extracted, ev_cstr(fl->ex_name));
        ev_set(ev, ENG_F_FILE_DONE_extracted_cutoff, ev_bool(fl->ex_cut));
        ev_set(ev, ENG_F_FILE_DONE_extracted_size, ev_int((int64_t)fl->ex_size));
    }
}

void eng_file_end(eng_t *e, eng_file_t *fl) {
    if (!fl) return;
    if (!fl->begun) start(e, fl, NULL, 0);
    extract_close(e, fl);
    eng_value_t an[4];
    int nan = 0;
    if (fl->hash & HASH_MD5) an[nan++] = ev_cstr("MD5");
    if (fl->hash & HASH_SHA1) an[nan++] = ev_cstr("SHA1");
    if (fl->hash & HASH_SHA256) an[nan++] = ev_cstr("SHA256");
    if (fl->ex_tried) an[nan++] = ev_cstr("EXTRACT");
    if (fl->hash && eng_wants(e, ENG_EV_FILE_DONE)) {
        uint8_t d[SHA256_DIGEST_SIZE];
        char h5[2 * MD5_DIGEST_SIZE + 1], h1[2 * SHA1_DIGEST_SIZE + 1], h256[2 * SHA256_DIGEST_SIZE + 1];
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FILE_DONE, fl->flow);
        ev_set(&ev, ENG_F_FILE_DONE_fuid, ev_str(fl->fuid, 18, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_FILE_DONE_size, ev_int((int64_t)fl->seen));
        if (fl->hash & HASH_MD5) {
            md5_digest(&fl->md5, MD5_DIGEST_SIZE, d);
            hex(h5, d, MD5_DIGEST_SIZE);
            ev_set(&ev, ENG_F_FILE_DONE_md5, ev_str(h5, 2 * MD5_DIGEST_SIZE, ENG_NO_OFFSET));
        }
        if (fl->hash & HASH_SHA1) {
            sha1_digest(&fl->sha1, SHA1_DIGEST_SIZE, d);
            hex(h1, d, SHA1_DIGEST_SIZE);
            ev_set(&ev, ENG_F_FILE_DONE_sha1, ev_str(h1, 2 * SHA1_DIGEST_SIZE, ENG_NO_OFFSET));
        }
        if (fl->hash & HASH_SHA256) {
            sha256_digest(&fl->sha256, SHA256_DIGEST_SIZE, d);
            hex(h256, d, SHA256_DIGEST_SIZE);
            ev_set(&ev, ENG_F_FILE_DONE_sha256, ev_str(h256, 2 * SHA256_DIGEST_SIZE, ENG_NO_OFFSET));
        }
        ev_set(&ev, ENG_F_FILE_DONE_missing_bytes, ev_int((int64_t)fl->missing));
        done_fields(e, fl, &ev, an, nan);
        eng_fire(e, &ev);
    } else if (eng_wants(e, ENG_EV_FILE_DONE)) {
        /* file.done was subscribed after the file began: no digests */
        eng_event_t ev;
        ev_init(&ev, ENG_EV_FILE_DONE, fl->flow);
        ev_set(&ev, ENG_F_FILE_DONE_fuid, ev_str(fl->fuid, 18, ENG_NO_OFFSET));
        ev_set(&ev, ENG_F_FILE_DONE_size, ev_int((int64_t)fl->seen));
        ev_set(&ev, ENG_F_FILE_DONE_missing_bytes, ev_int((int64_t)fl->missing));
        done_fields(e, fl, &ev, an, nan);
        eng_fire(e, &ev);
    }
    free(fl->buf);
    free(fl->filename);
    free(fl);
}

void eng_file_set_depth(eng_file_t *fl, uint32_t depth) {
    if (fl) fl->depth = depth;
}

void eng_file_set_total(eng_file_t *fl, uint64_t total) {
    if (!fl) return;
    fl->total = total;
    fl->has_total = 1;
}

const char *eng_file_fuid(const eng_file_t *fl) { return fl ? fl->fuid : NULL; }

const char *eng_file_mime(const eng_file_t *fl) { return fl && fl->has_mime ? fl->mime : NULL; }

/* one-shot digest for scripts (engine.hash): kind 0 md5, 1 sha1, 2 sha256;
 * writes lower-case hex and a NUL into out (>= 65 bytes); -1 on a bad kind */
int eng_digest_hex(int kind, const uint8_t *p, size_t n, char *out) {
    uint8_t d[SHA256_DIGEST_SIZE];
    size_t len;
    if (kind == 0) {
        struct md5_ctx c;
        md5_init(&c);
        md5_update(&c, n, p);
        md5_digest(&c, len = MD5_DIGEST_SIZE, d);
    } else if (kind == 1) {
        struct sha1_ctx c;
        sha1_init(&c);
        sha1_update(&c, n, p);
        sha1_digest(&c, len = SHA1_DIGEST_SIZE, d);
    } else if (kind == 2) {
        struct sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, n, p);
        sha256_digest(&c, len = SHA256_DIGEST_SIZE, d);
    } else {
        return -1;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * len] = 0;
    return 0;
}
