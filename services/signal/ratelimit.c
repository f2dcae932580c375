/* Token bucket with a "told you" throttle and a disconnect threshold. */
#include "signal/ratelimit.h"

void signal_ratelimit_init(signal_ratelimit_t *rl, double rate, double burst, int64_t now_ms) {
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    rl->tokens = rl->burst;
    rl->last_ms = now_ms;
    rl->refused_run = 0;
    rl->last_notice_ms = -1;
}

signal_rl_verdict_t signal_ratelimit_take(signal_ratelimit_t *rl, int64_t now_ms) {
    if (rl->rate <= 0) return SIGNAL_RL_ACCEPT;
    if (now_ms > rl->last_ms) {
        rl->tokens += (double)(now_ms - rl->last_ms) * rl->rate / 1000.0;
        if (rl->tokens > rl->burst) rl->tokens = rl->burst;
        rl->last_ms = now_ms;
    }
    if (rl->tokens >= 1.0) {
        rl->tokens -= 1.0;
        rl->refused_run = 0;
        return SIGNAL_RL_ACCEPT;
    }
    rl->refused_run++;
    if ((double)rl->refused_run > rl->burst) return SIGNAL_RL_DISCONNECT;
    if (rl->last_notice_ms < 0 || now_ms - rl->last_notice_ms >= 1000) {
        rl->last_notice_ms = now_ms;
        return SIGNAL_RL_NOTIFY;
    }
    return SIGNAL_RL_REFUSE;
}
