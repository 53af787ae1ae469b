/* test_files_extract.c - built-in file extraction (files.extract) and the
 * files.log fields of file.done: the extracted bytes equal the file's, the
 * name is Zeek's extract-<ts>-<SOURCE>-<fuid> whatever the traffic names the
 * file, the per-file and per-run caps hold, gaps are holes of zeros, the MIME
 * filter, and failures (a bad directory, a write refused by the kernel, the
 * directory removed during the run) are one clear error, not a crash. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "decoder.h"
#include "internal.h"

typedef struct done {
    char fuid[24], extracted[128];
    int has_extracted, cutoff, has_cutoff;
    int64_t size, ex_size, depth, total;
    int has_total;
    double duration;
    char analyzers[64];
} done_t;

typedef struct rec {
    done_t d[16];
    int n;
    char weird[16][64];
    int nweird;
} rec_t;

static void cstr(char *out, size_t cap, const eng_value_t *v, int *has) {
    out[0] = 0;
    if (has) *has = 0;
    if (v->type != ENG_T_STR) return;
    size_t n = v->len < cap - 1 ? v->len : cap - 1;
    memcpy(out, v->u.s, n);
    out[n] = 0;
    if (has) *has = 1;
}

/* field i, or an absent one past nfields (the slots there are not set) */
static const eng_value_t nil_;
#define FLD(ev, i) ((i) < (ev)->nfields ? &(ev)->f[i] : &nil_)

static void on_done(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    rec_t *r = user;
    if (r->n >= 16) return;
    done_t *d = &r->d[r->n++];
    memset(d, 0, sizeof *d);
    cstr(d->fuid, sizeof d->fuid, FLD(ev, ENG_F_FILE_DONE_fuid), NULL);
    d->size = FLD(ev, ENG_F_FILE_DONE_size)->u.i;
    cstr(d->extracted, sizeof d->extracted, FLD(ev, ENG_F_FILE_DONE_extracted), &d->has_extracted);
    d->has_cutoff = FLD(ev, ENG_F_FILE_DONE_extracted_cutoff)->type == ENG_T_BOOL;
    d->cutoff = d->has_cutoff && FLD(ev, ENG_F_FILE_DONE_extracted_cutoff)->u.i;
    d->ex_size = FLD(ev, ENG_F_FILE_DONE_extracted_size)->type == ENG_T_INT ? FLD(ev, ENG_F_FILE_DONE_extracted_size)->u.i : -1;
    d->depth = FLD(ev, ENG_F_FILE_DONE_depth)->u.i;
    d->has_total = FLD(ev, ENG_F_FILE_DONE_total_bytes)->type == ENG_T_INT;
    d->total = FLD(ev, ENG_F_FILE_DONE_total_bytes)->u.i;
    d->duration = FLD(ev, ENG_F_FILE_DONE_duration)->u.n;
    const eng_value_t *a = FLD(ev, ENG_F_FILE_DONE_analyzers);
    if (a->type == ENG_T_LIST)
        for (uint32_t i = 0; i < a->len; i++) {
            char s[16];
            cstr(s, sizeof s, &a->u.list[i], NULL);
            if (i) strcat(d->analyzers, ",");
            strcat(d->analyzers, s);
        }
}

static void on_weird(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    rec_t *r = user;
    if (r->nweird < 16) cstr(r->weird[r->nweird++], 64, &ev->f[ENG_F_WEIRD_name], NULL);
}

static char dir_[256];

static void mkdir_tmp(void) {
    snprintf(dir_, sizeof dir_, "/tmp/test_files_extract.XXXXXX");
    if (!mkdtemp(dir_)) abort();
}

static void rm_tmp(void) {
    DIR *d = opendir(dir_);
    if (d) {
        struct dirent *de;
        char p[512];
        while ((de = readdir(d)))
            if (de->d_name[0] != '.') {
                snprintf(p, sizeof p, "%s/%s", dir_, de->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(dir_);
}

static int count_files(void) {
    DIR *d = opendir(dir_);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* the whole content of dir_/name into b (cap bytes); its length, or -1 */
static long slurp(const char *name, uint8_t *b, size_t cap) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir_, name);
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    size_t n = fread(b, 1, cap, f);
    fclose(f);
    return (long)n;
}

static eng_t *new_eng(rec_t *r, const char *const *kv) {
    eng_t *e = eng_new();
    char err[256];
    memset(r, 0, sizeof *r);
    eng_config_set(e, "engine.seed", "7", err, sizeof err);
    for (; kv && kv[0]; kv += 2)
        if (eng_config_set(e, kv[0], kv[1], err, sizeof err)) fprintf(stderr, "config: %s\n", err);
    eng_on(e, ENG_EV_FILE_DONE, on_done, r);
    eng_on(e, ENG_EV_WEIRD, on_weird, r);
    e->now = 1700000000LL * 1000000000LL + 123456789LL;
    return e;
}

static void fill(uint8_t *b, size_t n, int seed) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)((i * 31 + (size_t)seed) & 0xff);
}

static uint8_t buf_[20000], got_[40000];

TEST(extracted_bytes_equal_and_name_is_zeeks) {
    mkdir_tmp();
    const char *kv[] = {"files.extract", dir_, NULL};
    rec_t r;
    eng_t *e = new_eng(&r, kv);
    fill(buf_, 10000, 1);
    static const char evil[] = "../../../tmp/evil/../x.bin";
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_ORIG, "smtp", evil, sizeof evil - 1);
    CHECK(fl != NULL);
    for (size_t i = 0; i < 10000; i += 777) eng_file_data(e, fl, buf_ + i, 10000 - i < 777 ? 10000 - i : 777);
    char fuid[24];
    snprintf(fuid, sizeof fuid, "%s", eng_file_fuid(fl));
    eng_file_end(e, fl);
    CHECK_EQ_INT(r.n, 1);
    char want[128];
    snprintf(want, sizeof want, "extract-1700000000.123456-SMTP-%s", fuid);
    CHECK(r.d[0].has_extracted);
    CHECK(!strcmp(r.d[0].extracted, want));
    CHECK(r.d[0].has_cutoff && !r.d[0].cutoff);
    CHECK_EQ_INT(r.d[0].ex_size, 10000);
    CHECK(!strcmp(r.d[0].analyzers, "MD5,SHA1,SHA256,EXTRACT"));
    CHECK_EQ_INT(count_files(), 1);
    long n = slurp(want, got_, sizeof got_);
    CHECK_EQ_INT(n, 10000);
    CHECK(n == 10000 && !memcmp(got_, buf_, 10000));
    eng_free(e);
    rm_tmp();
}

TEST(per_file_cap) {
    mkdir_tmp();
    const char *kv[] = {"files.extract", dir_, "files.extract_max_bytes", "1000", NULL};
    rec_t r;
    eng_t *e = new_eng(&r, kv);
    fill(buf_, 5000, 2);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, buf_, 999);
    eng_file_data(e, fl, buf_ + 999, 4001);
    eng_file_end(e, fl);
    CHECK_EQ_INT(r.n, 1);
    CHECK(r.d[0].cutoff);
    CHECK_EQ_INT(r.d[0].ex_size, 1000);
    CHECK_EQ_INT(r.d[0].size, 5000); /* the analysis saw everything */
    long n = slurp(r.d[0].extracted, got_, sizeof got_);
    CHECK_EQ_INT(n, 1000);
    CHECK(n == 1000 && !memcmp(got_, buf_, 1000));
    eng_free(e);
    rm_tmp();
}

TEST(total_cap) {
    mkdir_tmp();
    const char *kv[] = {"files.extract", dir_, "files.extract_total_max_bytes", "1500", NULL};
    rec_t r;
    eng_t *e = new_eng(&r, kv);
    fill(buf_, 1000, 3);
    for (int k = 0; k < 3; k++) {
        eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
        eng_file_data(e, fl, buf_, 1000);
        eng_file_end(e, fl);
    }
    CHECK_EQ_INT(r.n, 3);
    CHECK(!r.d[0].cutoff);
    CHECK_EQ_INT(r.d[0].ex_size, 1000);
    CHECK(r.d[1].cutoff);
    CHECK_EQ_INT(r.d[1].ex_size, 500);
    CHECK(!r.d[2].has_extracted); /* the budget was spent before it began */
    CHECK(!strcmp(r.d[2].analyzers, "MD5,SHA1,SHA256"));
    CHECK_EQ_INT(count_files(), 2);
    long n = slurp(r.d[1].extracted, got_, sizeof got_);
    CHECK_EQ_INT(n, 500);
    CHECK(n == 500 && !memcmp(got_, buf_, 500));
    eng_free(e);
    rm_tmp();
}

TEST(gaps_are_holes) {
    mkdir_tmp();
    const char *kv[] = {"files.extract", dir_, NULL};
    rec_t r;
    eng_t *e = new_eng(&r, kv);
    fill(buf_, 200, 4);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_data(e, fl, buf_, 100);
    eng_file_gap(e, fl, 50);
    eng_file_data(e, fl, buf_ + 100, 100);
    eng_file_gap(e, fl, 30); /* the end is lost too */
    eng_file_end(e, fl);
    CHECK_EQ_INT(r.d[0].ex_size, 280);
    long n = slurp(r.d[0].extracted, got_, sizeof got_);
    CHECK_EQ_INT(n, 280);
    static const uint8_t zero[50];
    CHECK(n == 280 && !memcmp(got_, buf_, 100) && !memcmp(got_ + 100, zero, 50) &&
          !memcmp(got_ + 150, buf_ + 100, 100) && !memcmp(got_ + 250, zero, 30));
    eng_free(e);
    rm_tmp();
}

TEST(mime_filter) {
    mkdir_tmp();
    const char *kv[] = {"files.extract", dir_, "files.extract_mime", "image/*, application/pdf", NULL};
    rec_t r;
    eng_t *e = new_eng(&r, kv);
    static const uint8_t png[] = "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR";
    static const char pdf[] = "%PDF-1.4\n1 0 obj\n<<>>\nendobj\n";
    static const char txt[] = "just some words\n";
    const void *p[3] = {png, pdf, txt};
    size_t n[3] = {sizeof png - 1, sizeof pdf - 1, sizeof txt - 1};
    for (int k = 0; k < 3; k++) { /* file.begin is not subscribed: the filter sniffs anyway */
        eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
        eng_file_data(e, fl, p[k], n[k]);
        eng_file_end(e, fl);
    }
    CHECK_EQ_INT(r.n, 3);
    CHECK(r.d[0].has_extracted);
    CHECK(r.d[1].has_extracted);
    CHECK(!r.d[2].has_extracted);
    CHECK_EQ_INT(count_files(), 2);
    eng_free(e);
    rm_tmp();
}

TEST(bad_directory_refused_at_set) {
    eng_t *e = eng_new();
    char err[256] = "";
    CHECK_EQ_INT(eng_config_set(e, "files.extract", "/nonexistent/dir/x", err, sizeof err), -1);
    CHECK(strstr(err, "files.extract") && strstr(err, "No such file"));
    CHECK_EQ_INT(eng_config_set(e, "files.extract", "/etc/passwd", err, sizeof err), -1);
    CHECK(strstr(err, "not a directory") != NULL);
    /* refused: the key keeps its default, no folder */
    CHECK(dec_config(e, "files.extract") == NULL || !*dec_config(e, "files.extract"));
    CHECK_EQ_INT(eng_config_set(e, "files.extract", "", err, sizeof err), 0); /* off */
    eng_free(e);
}

/* the kernel refuses writes past RLIMIT_FSIZE (EFBIG), as a full disk would
 * (ENOSPC): one weird, the part written stays and is reported cut, no more
 * extraction in the run */
TEST(write_failure_is_one_error) {
    mkdir_tmp();
    const char *kv[] = {"files.extract", dir_, NULL};
    rec_t r;
    eng_t *e = new_eng(&r, kv);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    fill(buf_, 10000, 5);
    for (int k = 0; k < 2; k++) {
        eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
        eng_file_data(e, fl, buf_, 3000);
        eng_file_data(e, fl, buf_ + 3000, 7000);
        eng_file_end(e, fl);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldsig);
    CHECK_EQ_INT(r.n, 2);
    CHECK(r.d[0].has_extracted && r.d[0].cutoff);
    CHECK_EQ_INT(r.d[0].ex_size, 4096);
    CHECK_EQ_INT(r.d[0].size, 10000);
    CHECK(!r.d[1].has_extracted);
    CHECK_EQ_INT(r.nweird, 1);
    CHECK(!strcmp(r.weird[0], "file_extract_failed"));
    long n = slurp(r.d[0].extracted, got_, sizeof got_);
    CHECK_EQ_INT(n, 4096);
    CHECK(n == 4096 && !memcmp(got_, buf_, 4096));
    eng_free(e);
    rm_tmp();
}

TEST(directory_gone_mid_run) {
    mkdir_tmp();
    const char *kv[] = {"files.extract", dir_, NULL};
    rec_t r;
    eng_t *e = new_eng(&r, kv);
    rmdir(dir_);
    for (int k = 0; k < 3; k++) {
        eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
        eng_file_data(e, fl, (const uint8_t *)"abc", 3);
        eng_file_end(e, fl);
    }
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_INT(r.nweird, 1);
    CHECK(r.d[0].has_extracted && r.d[0].cutoff && r.d[0].ex_size == 0);
    CHECK(!r.d[1].has_extracted && !r.d[2].has_extracted);
    eng_free(e);
}

TEST(no_subscriber_still_extracts) {
    mkdir_tmp();
    eng_t *e = eng_new();
    char err[256];
    CHECK_EQ_INT(eng_config_set(e, "files.extract", dir_, err, sizeof err), 0);
    CHECK(dec_wants(e, ENG_EV_FILE_DONE)); /* the engine's own subscriber */
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "ftp", NULL, 0);
    CHECK(fl != NULL);
    eng_file_data(e, fl, (const uint8_t *)"hello", 5);
    eng_file_end(e, fl);
    CHECK_EQ_INT(count_files(), 1);
    CHECK_EQ_INT(eng_config_set(e, "files.extract", "", err, sizeof err), 0);
    CHECK(!dec_wants(e, ENG_EV_FILE_DONE));
    eng_free(e);
    rm_tmp();
}

TEST(done_fields_without_extraction) {
    rec_t r;
    eng_t *e = new_eng(&r, NULL);
    eng_file_t *fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_set_depth(fl, 3);
    eng_file_set_total(fl, 12);
    eng_file_data(e, fl, (const uint8_t *)"hello ", 6);
    e->now += 1500000000LL; /* 1.5 s later */
    eng_file_data(e, fl, (const uint8_t *)"world!", 6);
    e->now += 1000000000LL; /* the end comes later: not file activity */
    eng_file_end(e, fl);
    CHECK_EQ_INT(r.n, 1);
    CHECK(!r.d[0].has_extracted && !r.d[0].has_cutoff && r.d[0].ex_size == -1);
    CHECK_EQ_INT(r.d[0].depth, 3);
    CHECK(r.d[0].has_total && r.d[0].total == 12);
    CHECK(r.d[0].duration > 1.4999 && r.d[0].duration < 1.5001);
    CHECK(!strcmp(r.d[0].analyzers, "MD5,SHA1,SHA256"));
    fl = eng_file_begin(e, NULL, ENG_RESP, "http", NULL, 0);
    eng_file_end(e, fl);
    CHECK(!r.d[1].has_total && r.d[1].depth == 0 && r.d[1].duration == 0);
    eng_free(e);
}

int main(void) {
    RUN(extracted_bytes_equal_and_name_is_zeeks);
    RUN(per_file_cap);
    RUN(total_cap);
    RUN(gaps_are_holes);
    RUN(mime_filter);
    RUN(bad_directory_refused_at_set);
    RUN(write_failure_is_one_error);
    RUN(directory_gone_mid_run);
    RUN(no_subscriber_still_extracts);
    RUN(done_fields_without_extraction);
    return check_report("files_extract");
}
