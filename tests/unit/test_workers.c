/* test_workers.c - engine/workers.c: routing by address pair, clocks, the shared log output. */
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine.h"
#include "pktbuild.h"
#include "workers.h"

#define PAIRS 40
#define NW 4

static char path[64];

/* PAIRS address pairs, each with 3 UDP flows (other client ports), both directions,
 * 1 s apart per pair round; ends at t = 10 + 5 * 3 s */
static int write_capture(void) {
    pcap_t *d = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *w = pcap_dump_open(d, path);
    if (!w) return -1;
    uint8_t b[256];
    long t = 10;
    for (int round = 0; round < 3; round++)
        for (int dir = 0; dir < 2; dir++) {
            for (int i = 0; i < PAIRS; i++) {
                char a[32], s[32];
                snprintf(a, sizeof a, "10.0.%d.%d", i / 200, i % 200 + 1);
                snprintf(s, sizeof s, "192.168.7.%d", i + 1);
                size_t n = dir ? pb_udp4(b, s, 5000, a, (uint16_t)(40000 + round), "y", 1)
                               : pb_udp4(b, a, (uint16_t)(40000 + round), s, 5000, "x", 1);
                struct pcap_pkthdr h = {{t, i}, (bpf_u_int32)n, (bpf_u_int32)n};
                pcap_dump((u_char *)w, &h, b);
            }
            t += 5;
        }
    pcap_dump_close(w);
    pcap_close(d);
    return 0;
}

typedef struct seen {
    int worker;
    int flows[NW];
    uint64_t pkts;
} seen_t;

static seen_t pair_seen[PAIRS];
static int nflows[NW];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void on_end(eng_t *e, const eng_event_t *ev, void *user) {
    (void)e;
    int w = (int)(intptr_t)user;
    const eng_flow_t *f = ev->flow;
    int i = f->resp_addr[3] - 1; /* 192.168.7.(i+1) */
    pthread_mutex_lock(&mu);
    if (i >= 0 && i < PAIRS) {
        pair_seen[i].flows[w]++;
        pair_seen[i].pkts += f->pkts[0] + f->pkts[1];
    }
    nflows[w]++;
    pthread_mutex_unlock(&mu);
}

TEST(routing_by_pair) {
    eng_t *e[NW];
    for (int i = 0; i < NW; i++) {
        e[i] = eng_new();
        eng_on(e[i], ENG_EV_FLOW_END, on_end, (void *)(intptr_t)i);
    }
    wk_group_t *g = wk_group_new(NW, e, NULL, NULL);
    CHECK(g != NULL);
    char err[256] = "";
    CHECK_EQ_INT(wk_read_file(g, path, NULL, NULL, NULL, NULL, err, sizeof err), 0);
    uint64_t frames = 0;
    int busy = 0;
    for (int i = 0; i < NW; i++) {
        frames += wk_frames(g, i);
        busy += wk_frames(g, i) > 0;
        /* every worker's clock reached the capture's last time (10 + 5*5 s + 39 us) */
        CHECK_EQ_INT(eng_now(e[i]), 35LL * 1000000000LL + 39000);
    }
    CHECK_EQ_INT(frames, PAIRS * 6);
    CHECK(busy >= 2);
    int total = 0;
    for (int p = 0; p < PAIRS; p++) {
        int owners = 0, fl = 0;
        for (int i = 0; i < NW; i++) {
            owners += pair_seen[p].flows[i] > 0;
            fl += pair_seen[p].flows[i];
        }
        CHECK_EQ_INT(owners, 1); /* both directions and every port of a pair: one worker */
        CHECK_EQ_INT(fl, 3);
        CHECK_EQ_INT(pair_seen[p].pkts, 6);
        total += fl;
    }
    CHECK_EQ_INT(total, PAIRS * 3);
    /* merged counters: every frame once */
    eng_t *sum = eng_new();
    for (int i = 0; i < NW; i++) wk_merge_stats(sum, e[i]);
    CHECK_EQ_INT(eng_stats(sum)->packets, PAIRS * 6);
    CHECK_EQ_INT(eng_stats(sum)->flows, PAIRS * 3);
    eng_free(sum);
    wk_group_free(g);
    for (int i = 0; i < NW; i++) eng_free(e[i]);
}

TEST(seeds_disjoint) {
    CHECK(wk_seed(12345, 0) == 12345);
    CHECK(wk_seed(12345, 1) != wk_seed(12345, 2));
    CHECK(wk_seed(12345, 1) - 12345 == (1ull << 40));
}

TEST(read_error) {
    eng_t *e[2] = {eng_new(), eng_new()};
    wk_group_t *g = wk_group_new(2, e, NULL, NULL);
    char err[256] = "";
    CHECK_EQ_INT(wk_read_file(g, "/nonexistent.pcap", NULL, NULL, NULL, NULL, err, sizeof err), 1);
    CHECK(strstr(err, "nonexistent") != NULL);
    wk_group_free(g);
    eng_free(e[0]);
    eng_free(e[1]);
}

/* ---- the shared output: whole lines from concurrent writers ---- */
#define LINES 20000
typedef struct wr { wk_lines_t *l; char c; } wr_t;

static void *writer(void *arg) {
    wr_t *w = arg;
    char line[120];
    for (int i = 0; i < LINES; i++) {
        int n = snprintf(line, sizeof line, "%c%05d", w->c, i);
        memset(line + n, w->c, (size_t)(50 + i % 60));
        n += 50 + i % 60;
        line[n++] = '\n';
        wk_lines_write(w->l, "s", 1, line, (size_t)n);
        if (i % 5000 == 0) wk_lines_flush(w->l);
    }
    return NULL;
}

TEST(shared_output_whole_lines) {
    char dir[] = "/tmp/test_workers_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    wk_out_t *o = wk_out_new(dir);
    wr_t w[2] = {{wk_lines_new(o, NULL, -1), 'a'}, {wk_lines_new(o, NULL, -1), 'b'}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, writer, &w[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    wk_lines_free(w[0].l);
    wk_lines_free(w[1].l);
    char err[256];
    CHECK_EQ_INT(wk_out_close(o, err, sizeof err), 0);
    char p[128];
    snprintf(p, sizeof p, "%s/s.log", dir);
    FILE *f = fopen(p, "r");
    CHECK(f != NULL);
    int next[2] = {0, 0}, bad = 0, n = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        int k = line[0] == 'b';
        int i = atoi(line + 1);
        size_t len = strlen(line);
        int ok = (line[0] == 'a' || line[0] == 'b') && i == next[k] && len == 6 + 50 + (size_t)(i % 60) + 1;
        for (size_t j = 6; ok && j + 1 < len; j++) ok = line[j] == line[0];
        if (!ok) bad++;
        next[k] = i + 1;
        n++;
    }
    if (f) fclose(f);
    CHECK_EQ_INT(bad, 0); /* every line whole, each writer's lines in its order */
    CHECK_EQ_INT(n, 2 * LINES);
    wk_out_free(o);
    unlink(p);
    rmdir(dir);
}

/* ---- log.ordered: lines in the order of their workers' clocks ---- */
#define OLINES 30000
typedef struct owr {
    wk_lines_t *l;
    eng_t *e;
    int w;
    int flush_every; /* 0: never says its clock moved (until its end) */
} owr_t;

/* writer w: line i at network time (2 i + w) ms, every 7th line two of the same
 * time; "T W I\n" */
static void *owriter(void *arg) {
    owr_t *o = arg;
    char line[64];
    for (int i = 0; i < OLINES; i++) {
        eng_advance(o->e, (int64_t)(2 * (i - i % 7 / 6) + o->w) * 1000000);
        int n = snprintf(line, sizeof line, "%012lld %d %d\n", (long long)eng_now(o->e), o->w, i);
        wk_lines_write(o->l, i % 3 ? "x" : "y", 1, line, (size_t)n);
        if (o->flush_every && i % o->flush_every == 0) wk_lines_flush(o->l);
    }
    return NULL;
}

/* two threads write to streams x and y; returns the lines out of (time, worker) order */
static int ordered_run(size_t cap, int flush_every, uint64_t *late, int *nlines) {
    char dir[] = "/tmp/test_workers_XXXXXX";
    if (!mkdtemp(dir)) return -1;
    wk_out_t *o = wk_out_new(dir);
    if (wk_out_order(o, 2, cap) != 0) return -1;
    owr_t w[2];
    for (int i = 0; i < 2; i++) {
        w[i].e = eng_new();
        w[i].l = wk_lines_new(o, w[i].e, i);
        w[i].w = i;
        w[i].flush_every = i == 1 ? flush_every : 97;
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, owriter, &w[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) wk_lines_free(w[i].l);
    char err[256];
    int bad = wk_out_close(o, err, sizeof err) != 0 ? 1000000 : 0;
    *late = wk_out_late(o);
    *nlines = 0;
    const char *names[2] = {"x", "y"};
    for (int k = 0; k < 2; k++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s.log", dir, names[k]);
        FILE *f = fopen(p, "r");
        long long pt = -1;
        int pw = -1, next[2] = {0, 0};
        char line[128];
        while (f && fgets(line, sizeof line, f)) {
            long long t;
            int wi, i;
            if (sscanf(line, "%lld %d %d", &t, &wi, &i) != 3 || wi < 0 || wi > 1) {
                bad++;
                continue;
            }
            if (t < pt || (t == pt && wi < pw)) bad++;
            if (i < next[wi]) bad++; /* a worker's lines keep their order */
            next[wi] = i + 1;
            pt = t;
            pw = wi;
            ++*nlines;
        }
        if (f) fclose(f);
        unlink(p);
    }
    rmdir(dir);
    wk_out_free(o);
    for (int i = 0; i < 2; i++) eng_free(w[i].e);
    return bad;
}

TEST(ordered_output) {
    uint64_t late = 0;
    int n = 0;
    /* a big buffer: every line in the order of the clocks, none late */
    CHECK_EQ_INT(ordered_run(64u << 20, 13, &late, &n), 0);
    CHECK_EQ_INT((int)late, 0);
    CHECK_EQ_INT(n, 2 * OLINES);
    /* worker 1 never says its clock moved and the buffer holds 4 KiB: worker 0's
     * lines cannot wait for it; they go out anyway, counted late, and none is lost */
    int bad = ordered_run(4096, 0, &late, &n);
    CHECK(late > 0);
    CHECK(bad > 0);
    CHECK_EQ_INT(n, 2 * OLINES);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/test_workers_%d.pcap", (int)getpid());
    if (write_capture() != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    RUN(routing_by_pair);
    RUN(seeds_disjoint);
    RUN(read_error);
    RUN(shared_output_whole_lines);
    RUN(ordered_output);
    unlink(path);
    return check_report("workers");
}
