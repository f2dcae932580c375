/* Active speaker detection from RFC 6464 audio levels. */
#include "sfu/speaker.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    bool used;
    void *who;
    double sum;          /* linear amplitudes in the current interval */
    uint32_t count;
    double smoothed;
    rtc_time_t active_until;
    bool active;
} entry_t;

struct sfu_speakers {
    sfu_speaker_config_t cfg;
    double threshold;    /* linear */
    entry_t *e;
    size_t n, cap;
    bool clock_started;
    rtc_time_t next_eval;
    bool dirty;          /* an interval was evaluated since the last poll */
    void *last[16];      /* the last list reported */
    size_t n_last;
    bool reported_once;
};

void sfu_speaker_config_init(sfu_speaker_config_t *cfg) {
    cfg->interval = RTC_MS(250);
    cfg->threshold_dbov = 50;
    cfg->smoothing = 0.6;
    cfg->hold = RTC_MS(300);
    cfg->max_speakers = 5;
}

/* 10^(-dBov/20): the amplitude of a level relative to full scale, from a table built once
 * for all worker threads. */
static double amp_table[128];
static pthread_once_t amp_once = PTHREAD_ONCE_INIT;

static void amp_init(void) {
    for (int i = 0; i < 128; i++) amp_table[i] = pow(10.0, -i / 20.0);
}

static double amplitude(uint8_t dbov) { return amp_table[dbov & 0x7f]; }

sfu_speakers_t *sfu_speakers_new(const sfu_speaker_config_t *cfg) {
    pthread_once(&amp_once, amp_init);
    sfu_speakers_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    sfu_speaker_config_init(&s->cfg);
    if (cfg) {
        if (cfg->interval > 0) s->cfg.interval = cfg->interval;
        if (cfg->threshold_dbov) s->cfg.threshold_dbov = cfg->threshold_dbov & 0x7f;
        if (cfg->smoothing > 0 && cfg->smoothing <= 1) s->cfg.smoothing = cfg->smoothing;
        if (cfg->hold >= 0) s->cfg.hold = cfg->hold;
        if (cfg->max_speakers) s->cfg.max_speakers = cfg->max_speakers;
    }
    if (s->cfg.max_speakers > 16) s->cfg.max_speakers = 16;
    s->threshold = amplitude(s->cfg.threshold_dbov);
    return s;
}

void sfu_speakers_free(sfu_speakers_t *s) {
    if (!s) return;
    free(s->e);
    free(s);
}

int sfu_speakers_add(sfu_speakers_t *s, void *who) {
    for (size_t i = 0; i < s->n; i++) {
        if (!s->e[i].used) {
            memset(&s->e[i], 0, sizeof s->e[i]);
            s->e[i].used = true;
            s->e[i].who = who;
            return (int)i;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        entry_t *e = realloc(s->e, cap * sizeof *e);
        if (!e) return RTC_ERR_NOMEM;
        s->e = e;
        s->cap = cap;
    }
    memset(&s->e[s->n], 0, sizeof s->e[s->n]);
    s->e[s->n].used = true;
    s->e[s->n].who = who;
    return (int)s->n++;
}

void sfu_speakers_remove(sfu_speakers_t *s, int slot) {
    if (slot < 0 || (size_t)slot >= s->n) return;
    s->e[slot].used = false;
    s->e[slot].active = false;
    s->e[slot].who = NULL;
}

static void start_clock(sfu_speakers_t *s, rtc_time_t now) {
    if (s->clock_started) return;
    s->clock_started = true;
    s->next_eval = now + s->cfg.interval;
}

static void evaluate(sfu_speakers_t *s, rtc_time_t at);

/* Closes every interval that ended by `now` (intervals without packets are silence). */
static void catch_up(sfu_speakers_t *s, rtc_time_t now) {
    start_clock(s, now);
    while (s->next_eval <= now) {
        evaluate(s, s->next_eval);
        s->next_eval += s->cfg.interval;
    }
}

void sfu_speakers_on_level(sfu_speakers_t *s, int slot, uint8_t level_dbov, bool voice,
                           rtc_time_t now) {
    (void)voice; /* browsers set V from their own VAD inconsistently: the level decides */
    if (slot < 0 || (size_t)slot >= s->n || !s->e[slot].used) return;
    if (!s->clock_started || now >= s->next_eval) catch_up(s, now);
    s->e[slot].sum += amplitude(level_dbov);
    s->e[slot].count++;
}

rtc_time_t sfu_speakers_next_timeout(const sfu_speakers_t *s) {
    return s->clock_started ? s->next_eval : RTC_TIME_NEVER;
}

static void evaluate(sfu_speakers_t *s, rtc_time_t at) {
    double w = s->cfg.smoothing;
    for (size_t i = 0; i < s->n; i++) {
        entry_t *e = &s->e[i];
        if (!e->used) continue;
        double mean = e->count ? e->sum / e->count : 0.0;
        e->smoothed = w * mean + (1 - w) * e->smoothed;
        e->sum = 0;
        e->count = 0;
        if (e->smoothed >= s->threshold) e->active_until = at + s->cfg.hold;
        e->active = at < e->active_until;
    }
    s->dirty = true;
}

bool sfu_speakers_poll(sfu_speakers_t *s, rtc_time_t now, sfu_speaker_t *out, size_t cap,
                       size_t *n) {
    *n = 0;
    catch_up(s, now);
    if (!s->dirty) return false;
    s->dirty = false;
    /* The list: active entries by smoothed level, loudest first. */
    sfu_speaker_t list[16];
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        entry_t *e = &s->e[i];
        if (!e->used || !e->active) continue;
        sfu_speaker_t cand = {e->who, e->smoothed > 1.0 ? 1.0 : e->smoothed};
        size_t pos = m;
        while (pos > 0 && list[pos - 1].level < cand.level) pos--;
        if (pos >= s->cfg.max_speakers) continue;
        size_t end = m < s->cfg.max_speakers ? m : s->cfg.max_speakers - 1;
        for (size_t k = end; k > pos; k--) list[k] = list[k - 1];
        list[pos] = cand;
        if (m < s->cfg.max_speakers) m++;
    }
    bool changed = m != s->n_last || !s->reported_once;
    for (size_t i = 0; i < m && !changed; i++) changed = list[i].who != s->last[i];
    /* Nothing to say the first time when nobody speaks: an empty list is the default. */
    if (!s->reported_once && m == 0) changed = false;
    if (!changed) return false;
    s->reported_once = true;
    s->n_last = m;
    for (size_t i = 0; i < m; i++) s->last[i] = list[i].who;
    size_t k = m < cap ? m : cap;
    memcpy(out, list, k * sizeof *out);
    *n = k;
    return true;
}
