/* Relay port pool: a bitmap per address family and a small table of reservations. */
#include "turn/ports.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    uint64_t token;
    int64_t hold;
    rtc_time_t expires;
    uint16_t port;
    uint8_t family;
} reservation_t;

struct turn_ports {
    pthread_mutex_t mu;
    uint16_t min, max;
    size_t n;               /* max - min + 1 */
    uint64_t *used[2];      /* [0] IPv4, [1] IPv6; bit i = port min + i taken */
    size_t in_use[2];
    reservation_t *res;
    size_t n_res;
    turn_port_hold_release_fn release_hold;
};

static int fam_index(uint8_t family) {
    return family == RTC_AF_INET4 ? 0 : family == RTC_AF_INET6 ? 1 : -1;
}

turn_ports_t *turn_ports_new(uint16_t min, uint16_t max) {
    if (min == 0 || min > max) return NULL;
    turn_ports_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->min = min;
    p->max = max;
    p->n = (size_t)max - min + 1;
    size_t words = (p->n + 63) / 64;
    p->used[0] = calloc(words, sizeof(uint64_t));
    p->used[1] = calloc(words, sizeof(uint64_t));
    p->res = calloc(TURN_RESERVATIONS_MAX, sizeof *p->res);
    if (!p->used[0] || !p->used[1] || !p->res) {
        turn_ports_free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

void turn_ports_set_hold_release(turn_ports_t *p, turn_port_hold_release_fn fn) {
    pthread_mutex_lock(&p->mu);
    p->release_hold = fn;
    pthread_mutex_unlock(&p->mu);
}

void turn_ports_release_hold(turn_ports_t *p, int64_t hold) {
    if (!p || hold < 0) return;
    pthread_mutex_lock(&p->mu);
    turn_port_hold_release_fn fn = p->release_hold;
    pthread_mutex_unlock(&p->mu);
    if (fn) fn(hold);
}

static void drop_hold(turn_ports_t *p, reservation_t *r) {
    if (r->hold >= 0 && p->release_hold) p->release_hold(r->hold);
    r->hold = -1;
}

void turn_ports_free(turn_ports_t *p) {
    if (!p) return;
    for (size_t i = 0; p->res && i < p->n_res; i++) drop_hold(p, &p->res[i]);
    free(p->used[0]);
    free(p->used[1]);
    free(p->res);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static bool is_used(const turn_ports_t *p, int f, size_t i) { return (p->used[f][i / 64] >> (i % 64)) & 1; }
static void set_used(turn_ports_t *p, int f, size_t i) {
    if (!is_used(p, f, i)) p->in_use[f]++;
    p->used[f][i / 64] |= 1ull << (i % 64);
}
static void clear_used(turn_ports_t *p, int f, size_t i) {
    if (is_used(p, f, i)) p->in_use[f]--;
    p->used[f][i / 64] &= ~(1ull << (i % 64));
}

static void expire_locked(turn_ports_t *p, rtc_time_t now) {
    for (size_t i = 0; i < p->n_res;) {
        if (p->res[i].expires <= now) {
            drop_hold(p, &p->res[i]);
            clear_used(p, fam_index(p->res[i].family), (size_t)(p->res[i].port - p->min));
            p->res[i] = p->res[--p->n_res];
        } else {
            i++;
        }
    }
}

int turn_ports_acquire(turn_ports_t *p, uint8_t family, bool even, bool reserve_next,
                       uint64_t *token, rtc_time_t now) {
    int f = fam_index(family);
    if (!p || f < 0 || (reserve_next && !token)) return RTC_ERR_INVALID_ARG;
    if (reserve_next) even = true;
    pthread_mutex_lock(&p->mu);
    expire_locked(p, now);
    int result = RTC_ERR_LIMIT;
    if (reserve_next && p->n_res >= TURN_RESERVATIONS_MAX) goto out;
    size_t start = rtc_random_uniform((uint32_t)p->n);
    for (size_t k = 0; k < p->n; k++) {
        size_t i = (start + k) % p->n;
        /* Skip whole free-less words quickly when scanning a busy pool. */
        if (i % 64 == 0 && p->used[f][i / 64] == UINT64_MAX && i + 64 <= p->n) {
            k += 63;
            continue;
        }
        uint32_t port = p->min + (uint32_t)i;
        if (even && (port & 1)) continue;
        if (is_used(p, f, i)) continue;
        if (reserve_next) {
            if (port + 1 > p->max || is_used(p, f, i + 1)) continue;
            uint64_t t;
            do t = rtc_random_u64(); while (t == 0);
            set_used(p, f, i + 1);
            p->res[p->n_res++] = (reservation_t){t, -1, now + TURN_RESERVATION_LIFETIME, (uint16_t)(port + 1), family};
            *token = t;
        }
        set_used(p, f, i);
        result = (int)port;
        break;
    }
out:
    pthread_mutex_unlock(&p->mu);
    return result;
}

void turn_ports_release(turn_ports_t *p, uint8_t family, uint16_t port) {
    int f = fam_index(family);
    if (!p || f < 0 || port < p->min || port > p->max) return;
    pthread_mutex_lock(&p->mu);
    clear_used(p, f, (size_t)(port - p->min));
    pthread_mutex_unlock(&p->mu);
}

int turn_ports_set_hold(turn_ports_t *p, uint64_t token, int64_t hold) {
    int rc = RTC_ERR_NOT_FOUND;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n_res; i++) {
        if (p->res[i].token == token) {
            p->res[i].hold = hold;
            rc = RTC_OK;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int turn_ports_claim(turn_ports_t *p, uint64_t token, rtc_time_t now, uint8_t *family, uint16_t *port,
                     int64_t *hold) {
    if (!p || token == 0) return RTC_ERR_NOT_FOUND;
    pthread_mutex_lock(&p->mu);
    expire_locked(p, now);
    int rc = RTC_ERR_NOT_FOUND;
    for (size_t i = 0; i < p->n_res; i++) {
        if (p->res[i].token == token) {
            *family = p->res[i].family;
            *port = p->res[i].port;
            if (hold) *hold = p->res[i].hold;
            else drop_hold(p, &p->res[i]);
            p->res[i] = p->res[--p->n_res]; /* the port stays taken: it is the caller's now */
            rc = RTC_OK;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void turn_ports_expire(turn_ports_t *p, rtc_time_t now) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    expire_locked(p, now);
    pthread_mutex_unlock(&p->mu);
}

size_t turn_ports_in_use(turn_ports_t *p, uint8_t family) {
    int f = fam_index(family);
    if (!p || f < 0) return 0;
    pthread_mutex_lock(&p->mu);
    size_t n = p->in_use[f];
    pthread_mutex_unlock(&p->mu);
    return n;
}

size_t turn_ports_capacity(const turn_ports_t *p) { return p ? p->n : 0; }
