/*
 * signal/ratelimit.h — a token bucket per connection (sans-I/O: the caller passes the time).
 *
 * `rate` tokens per second refill a bucket of `burst`; each message takes one. A client that
 * keeps sending after the bucket is empty is told (at most once a second, so the error itself
 * cannot become a flood) and, once it has been refused more than `burst` times without a
 * single accepted message in between, disconnected.
 */
#ifndef STARLING_SIGNAL_RATELIMIT_H
#define STARLING_SIGNAL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double rate;           /* tokens per second */
    double burst;          /* bucket size */
    double tokens;
    int64_t last_ms;
    uint32_t refused_run;  /* refusals since the last accepted message */
    int64_t last_notice_ms;/* when the client was last told; -1 never */
} signal_ratelimit_t;

typedef enum {
    SIGNAL_RL_ACCEPT,      /* process the message */
    SIGNAL_RL_REFUSE,      /* drop it silently (already told recently) */
    SIGNAL_RL_NOTIFY,      /* drop it and send `error rate_limited` */
    SIGNAL_RL_DISCONNECT,  /* drop it and close the connection (1008) */
} signal_rl_verdict_t;

/* A full bucket at time now_ms. rate <= 0 disables limiting (every message accepted). */
void signal_ratelimit_init(signal_ratelimit_t *rl, double rate, double burst, int64_t now_ms);
/* One message arriving at now_ms (monotonic milliseconds). */
signal_rl_verdict_t signal_ratelimit_take(signal_ratelimit_t *rl, int64_t now_ms);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SIGNAL_RATELIMIT_H */
