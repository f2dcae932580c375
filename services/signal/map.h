/*
 * signal/map.h — a string-keyed hash map (separate chaining, grows by doubling), for the
 * per-process indexes: participant id -> session, room name -> local room.
 *
 * Keys are copied; values are borrowed pointers the map never frees.
 */
#ifndef STARLING_SIGNAL_MAP_H
#define STARLING_SIGNAL_MAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct signal_map_entry signal_map_entry_t;

typedef struct {
    signal_map_entry_t **buckets;
    size_t n_buckets;
    size_t n;
} signal_map_t;

void signal_map_init(signal_map_t *m);
/* Frees the map's own memory (not the values). */
void signal_map_free(signal_map_t *m);
void *signal_map_get(const signal_map_t *m, const char *key);
/* Inserts or replaces. Returns RTC_OK or RTC_ERR_NOMEM. */
int signal_map_put(signal_map_t *m, const char *key, void *val);
/* Removes key; returns its value or NULL. */
void *signal_map_del(signal_map_t *m, const char *key);
/* Copies up to cap values into out (any order); returns how many there are in total. Used to
 * iterate safely while the callee may change the map. */
size_t signal_map_values(const signal_map_t *m, void **out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SIGNAL_MAP_H */
