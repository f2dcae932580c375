/* String-keyed hash map with separate chaining (FNV-1a). */
#include "signal/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/base.h"

struct signal_map_entry {
    char *key;
    void *val;
    uint64_t hash;
    signal_map_entry_t *next;
};

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

void signal_map_init(signal_map_t *m) { memset(m, 0, sizeof *m); }

void signal_map_free(signal_map_t *m) {
    for (size_t i = 0; i < m->n_buckets; i++) {
        signal_map_entry_t *e = m->buckets[i];
        while (e) {
            signal_map_entry_t *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

static signal_map_entry_t **find(const signal_map_t *m, const char *key, uint64_t h) {
    if (!m->n_buckets) return NULL;
    signal_map_entry_t **pp = &m->buckets[h & (m->n_buckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0)) pp = &(*pp)->next;
    return pp;
}

void *signal_map_get(const signal_map_t *m, const char *key) {
    signal_map_entry_t **pp = find(m, key, fnv1a(key));
    return pp && *pp ? (*pp)->val : NULL;
}

static int grow(signal_map_t *m) {
    size_t nb = m->n_buckets ? m->n_buckets * 2 : 16;
    signal_map_entry_t **b = calloc(nb, sizeof *b);
    if (!b) return RTC_ERR_NOMEM;
    for (size_t i = 0; i < m->n_buckets; i++) {
        signal_map_entry_t *e = m->buckets[i];
        while (e) {
            signal_map_entry_t *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
    return RTC_OK;
}

int signal_map_put(signal_map_t *m, const char *key, void *val) {
    uint64_t h = fnv1a(key);
    signal_map_entry_t **pp = find(m, key, h);
    if (pp && *pp) {
        (*pp)->val = val;
        return RTC_OK;
    }
    if (m->n + 1 > m->n_buckets * 3 / 4 && grow(m) != RTC_OK) return RTC_ERR_NOMEM;
    signal_map_entry_t *e = calloc(1, sizeof *e);
    if (!e || !(e->key = strdup(key))) {
        free(e);
        return RTC_ERR_NOMEM;
    }
    e->val = val;
    e->hash = h;
    signal_map_entry_t **b = &m->buckets[h & (m->n_buckets - 1)];
    e->next = *b;
    *b = e;
    m->n++;
    return RTC_OK;
}

void *signal_map_del(signal_map_t *m, const char *key) {
    signal_map_entry_t **pp = find(m, key, fnv1a(key));
    if (!pp || !*pp) return NULL;
    signal_map_entry_t *e = *pp;
    void *v = e->val;
    *pp = e->next;
    free(e->key);
    free(e);
    m->n--;
    return v;
}

size_t signal_map_values(const signal_map_t *m, void **out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < m->n_buckets; i++)
        for (signal_map_entry_t *e = m->buckets[i]; e; e = e->next) {
            if (k < cap) out[k] = e->val;
            k++;
        }
    return k;
}
