/* memcap.h - engine.memcap: one budget for the bytes the engine holds on behalf
 * of flows (reassembly's out-of-order ranges and history rings, decoders' line
 * and unit buffers, header maps, pending transactions, MIME state).
 *
 * Each flow has a mem_acct_t; whoever grows or shrinks a buffer of the flow
 * calls mem_charge(acct, +-bytes) (a realloc's change of capacity, not each
 * byte copied into it). mem_charge is an add and a subtract plus, for a flow
 * whose total changed, a step of a max-heap of the flows holding memory, so
 * the flow holding the most is found in O(1) and updated in O(log n): there is
 * no scan of the flow table. It never frees anything itself: when the budget
 * is exceeded, the engine cuts flows at its next safe point (engine.c,
 * memcap_enforce, after each packet): the flow holding the most first.
 */
#ifndef ENGINE_MEMCAP_H
#define ENGINE_MEMCAP_H

#include <stddef.h>
#include <stdint.h>

struct memcap;

typedef struct mem_acct {
    struct memcap *mc; /* NULL: not accounted (tests, a reader outside a flow) */
    uint64_t held;     /* bytes this flow holds now */
    uint32_t hidx;     /* position in mc's heap + 1; 0 = not in it (held == 0) */
} mem_acct_t;

typedef struct memcap {
    uint64_t limit;     /* engine.memcap; 0 = no cap (still counted) */
    uint64_t used;      /* bytes held now, all flows */
    uint64_t peak;      /* largest `used` seen */
    uint64_t cuts;      /* flows cut */
    uint64_t cut_bytes; /* bytes those flows held when cut */
    uint64_t leaked;    /* bytes still charged to flows when they were freed, after their
                           decoders and reassembly released theirs: an accounting error */
    mem_acct_t **heap;  /* max-heap on held: heap[0] holds the most */
    uint32_t n, cap;
} memcap_t;

/* account (re)starts at zero for a new flow */
static inline void mem_acct_init(mem_acct_t *a, memcap_t *mc) {
    a->mc = mc;
    a->held = 0;
    a->hidx = 0;
}
/* the flow's buffers changed by delta bytes (a NULL or unbound acct is a no-op) */
void mem_charge(mem_acct_t *a, int64_t delta);
/* the flow is freed: whatever it still holds leaves the budget */
void mem_acct_release(mem_acct_t *a);
/* the flow holding the most, or NULL when none holds anything */
static inline mem_acct_t *memcap_top(const memcap_t *mc) { return mc->n ? mc->heap[0] : NULL; }
/* is the budget exceeded (one compare: the per-packet check) */
static inline int memcap_over(const memcap_t *mc) { return mc->limit && mc->used > mc->limit; }
void memcap_free(memcap_t *mc);

#endif
