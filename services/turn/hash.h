/*
 * turn/hash.h — an intrusive chained hash table and a keyed hash for the server's lookups.
 *
 * Entries embed a turn_hnode_t, so inserting allocates nothing per entry (the bucket array
 * grows on the control path only). Lookups are written by the caller as a loop over one
 * bucket, which lets the compiler inline the key comparison on the packet path:
 *
 *     for (turn_hnode_t *n = turn_htab_bucket(&t, h); n; n = n->next)
 *         if (n->hash == h) { entry_t *e = TURN_CONTAINER(n, entry_t, node); if (match) ...; }
 *
 * Keys include addresses that remote parties choose (client ports, peer addresses), so the
 * hash is seeded with a random per-table secret: nobody outside can aim entries at one
 * bucket without knowing it.
 */
#ifndef TURN_HASH_H
#define TURN_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#define TURN_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

typedef struct turn_hnode {
    struct turn_hnode *next;
    uint32_t hash;
} turn_hnode_t;

typedef struct {
    turn_hnode_t **buckets;
    size_t mask;   /* bucket count - 1 (a power of two) */
    size_t count;
    uint64_t seed;
} turn_htab_t;

/* Initialises with at least `initial` buckets (rounded up to a power of two) and a random
 * seed. Returns RTC_OK or RTC_ERR_NOMEM. */
int turn_htab_init(turn_htab_t *t, size_t initial);
void turn_htab_free(turn_htab_t *t);
/* Links n with hash h. Grows the bucket array when the load passes 1; if growing fails the
 * table keeps working with longer chains, so insertion itself cannot fail. */
void turn_htab_insert(turn_htab_t *t, turn_hnode_t *n, uint32_t h);
/* Unlinks n, which must be in the table. */
void turn_htab_remove(turn_htab_t *t, turn_hnode_t *n);

static inline turn_hnode_t *turn_htab_bucket(const turn_htab_t *t, uint32_t h) {
    return t->buckets[h & t->mask];
}

/* Keyed mixing (a multiply-xorshift in the style of wyhash/splitmix finalisers). Not a MAC:
 * its job is to make bucket positions unpredictable without the seed, cheaply. */
static inline uint64_t turn_hash_mix(uint64_t h, uint64_t v) {
    h ^= v;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

/* Hash of an address (family, IP, optionally port) plus one extra word (a pointer or id). */
static inline uint32_t turn_hash_addr(uint64_t seed, uint64_t extra, const rtc_addr_t *a, bool with_port) {
    uint64_t w0, w1;
    memcpy(&w0, a->ip, 8);
    memcpy(&w1, a->ip + 8, 8);
    uint64_t h = turn_hash_mix(seed, extra);
    h = turn_hash_mix(h, w0);
    h = turn_hash_mix(h, w1 ^ ((uint64_t)a->family << 56) ^ (with_port ? (uint64_t)a->port << 40 : 0));
    return (uint32_t)h;
}

#endif /* TURN_HASH_H */
