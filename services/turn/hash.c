/* Intrusive chained hash table: buckets grow by doubling on the control path; entries are
 * owned by their callers. */
#include "turn/hash.h"

#include <stdlib.h>

static size_t round_pow2(size_t n) {
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

int turn_htab_init(turn_htab_t *t, size_t initial) {
    size_t n = round_pow2(initial);
    t->buckets = calloc(n, sizeof *t->buckets);
    if (!t->buckets) return RTC_ERR_NOMEM;
    t->mask = n - 1;
    t->count = 0;
    t->seed = rtc_random_u64();
    return RTC_OK;
}

void turn_htab_free(turn_htab_t *t) {
    free(t->buckets);
    t->buckets = NULL;
    t->count = 0;
    t->mask = 0;
}

static void grow(turn_htab_t *t) {
    size_t n = (t->mask + 1) * 2;
    turn_hnode_t **nb = calloc(n, sizeof *nb);
    if (!nb) return; /* keep the old array: longer chains, still correct */
    for (size_t i = 0; i <= t->mask; i++) {
        turn_hnode_t *e = t->buckets[i];
        while (e) {
            turn_hnode_t *next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->mask = n - 1;
}

void turn_htab_insert(turn_htab_t *t, turn_hnode_t *n, uint32_t h) {
    if (t->count >= t->mask + 1) grow(t);
    n->hash = h;
    turn_hnode_t **b = &t->buckets[h & t->mask];
    n->next = *b;
    *b = n;
    t->count++;
}

void turn_htab_remove(turn_htab_t *t, turn_hnode_t *n) {
    for (turn_hnode_t **pp = &t->buckets[n->hash & t->mask]; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            n->next = NULL;
            t->count--;
            return;
        }
    }
}
