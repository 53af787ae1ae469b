/* memcap.c - the accounting of engine.memcap (memcap.h): per-flow totals and
 * a max-heap of the flows that hold memory, keyed by their totals. */
#include "memcap.h"

#include <stdlib.h>

static void hset(memcap_t *mc, uint32_t i, mem_acct_t *a) {
    mc->heap[i] = a;
    a->hidx = i + 1;
}

static void sift_up(memcap_t *mc, uint32_t i) {
    mem_acct_t *a = mc->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (mc->heap[p]->held >= a->held) break;
        hset(mc, i, mc->heap[p]);
        i = p;
    }
    hset(mc, i, a);
}

static void sift_down(memcap_t *mc, uint32_t i) {
    mem_acct_t *a = mc->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t best = a->held;
        if (l < mc->n && mc->heap[l]->held > best) { m = l; best = mc->heap[l]->held; }
        if (r < mc->n && mc->heap[r]->held > best) m = r;
        if (m == i) break;
        hset(mc, i, mc->heap[m]);
        i = m;
    }
    hset(mc, i, a);
}

static void heap_remove(memcap_t *mc, mem_acct_t *a) {
    uint32_t i = a->hidx - 1;
    a->hidx = 0;
    mc->n--;
    if (i == mc->n) return;
    mem_acct_t *last = mc->heap[mc->n];
    hset(mc, i, last);
    if (i > 0 && mc->heap[(i - 1) / 2]->held < last->held) sift_up(mc, i);
    else sift_down(mc, i);
}

static void heap_insert(memcap_t *mc, mem_acct_t *a) {
    if (mc->n == mc->cap) {
        uint32_t cap = mc->cap ? mc->cap * 2 : 256;
        mem_acct_t **h = realloc(mc->heap, (size_t)cap * sizeof *h);
        if (!h) return; /* counted but not a candidate for a cut until it changes again */
        mc->heap = h;
        mc->cap = cap;
    }
    mc->heap[mc->n] = a;
    a->hidx = ++mc->n;
    sift_up(mc, mc->n - 1);
}

void mem_charge(mem_acct_t *a, int64_t delta) {
    if (!a || !a->mc || delta == 0) return;
    memcap_t *mc = a->mc;
    if (delta < 0) {
        uint64_t d = (uint64_t)-delta;
        if (d > a->held) d = a->held; /* never below zero, whatever a caller got wrong */
        a->held -= d;
        mc->used -= d;
        if (!a->hidx) return;
        if (a->held == 0) heap_remove(mc, a);
        else sift_down(mc, a->hidx - 1);
        return;
    }
    a->held += (uint64_t)delta;
    mc->used += (uint64_t)delta;
    if (mc->used > mc->peak) mc->peak = mc->used;
    if (a->hidx) sift_up(mc, a->hidx - 1);
    else heap_insert(mc, a);
}

void mem_acct_release(mem_acct_t *a) {
    if (!a || !a->mc) return;
    if (a->held) mem_charge(a, -(int64_t)a->held);
    if (a->hidx) heap_remove(a->mc, a);
}

void memcap_free(memcap_t *mc) {
    free(mc->heap);
    mc->heap = NULL;
    mc->n = mc->cap = 0;
    mc->used = 0;
}
