/* sfu/forward: one published simulcast track (real libvpx / libx264 layers from
 * tests/unit/sfu/, replayed three times as a 3 s stream) forwarded to subscribers with
 * different bandwidths and requested sizes. Each subscriber's output must be a clean stream
 * (one SSRC, no sequence gap or duplicate, timestamps never back) that a real decoder
 * decodes frame by frame, switching resolution only at keyframes; keyframe requests must be
 * throttled; mute, pause, padding and audio levels behave. */
#include <check.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sfu/forward.h"
#include "unit/sfu_fixture.h"

#define MAX_OUT 4000

typedef struct {
    uint8_t *pkt[MAX_OUT];
    size_t len[MAX_OUT];
    uint32_t arrival[MAX_OUT];
    size_t n;
    int layers_seen[16];
    size_t n_layers_seen;
} sink_t;

typedef struct {
    int requests[SFU_MAX_LAYERS];
    rtc_time_t last_request[SFU_MAX_LAYERS];
    int levels;
    uint8_t last_level;
    rtc_time_t now_ms;
} env_t;

static env_t env;

static void on_send(void *user, sfu_downtrack_t *dt, uint8_t *p, size_t n, rtc_time_t now) {
    (void)dt;
    sink_t *s = user;
    ck_assert_uint_lt(s->n, MAX_OUT);
    s->pkt[s->n] = malloc(n);
    memcpy(s->pkt[s->n], p, n);
    s->len[s->n] = n;
    s->arrival[s->n] = (uint32_t)(now / 1000);
    s->n++;
}

static void on_keyframe(void *user, sfu_fwd_track_t *t, int layer, rtc_time_t now) {
    (void)user;
    (void)t;
    /* Never twice within the throttle interval. */
    if (env.requests[layer]) ck_assert_int_ge(now - env.last_request[layer], RTC_MS(500));
    env.requests[layer]++;
    env.last_request[layer] = now;
}

static void on_switch(void *user, sfu_downtrack_t *dt, int layer, rtc_time_t now) {
    (void)dt;
    (void)now;
    sink_t *s = user;
    if (s->n_layers_seen < 16) s->layers_seen[s->n_layers_seen++] = layer;
}

static void on_level(void *user, sfu_fwd_track_t *t, uint8_t level, bool voice, rtc_time_t now) {
    (void)user;
    (void)t;
    (void)voice;
    (void)now;
    env.levels++;
    env.last_level = level;
}

static const sfu_fwd_callbacks_t cbs = {on_send, on_keyframe, on_switch, on_level};

static void sink_free(sink_t *s) {
    for (size_t i = 0; i < s->n; i++) free(s->pkt[i]);
    memset(s, 0, sizeof *s);
}

/* Receiver's view: one SSRC, consecutive seq, ts never back. */
static void check_clean(const sink_t *s) {
    ck_assert_uint_gt(s->n, 0);
    for (size_t i = 1; i < s->n; i++) {
        ck_assert_uint_eq(rtc_be32(s->pkt[i] + 8), rtc_be32(s->pkt[0] + 8));
        ck_assert_uint_eq(rtc_be16(s->pkt[i] + 2), (uint16_t)(rtc_be16(s->pkt[i - 1] + 2) + 1));
        uint32_t d = rtc_be32(s->pkt[i] + 4) - rtc_be32(s->pkt[i - 1] + 4);
        ck_assert_uint_lt(d, 0x80000000u);
    }
}

static bool have_decoder(void) {
    return system("/usr/bin/python3 -c 'import aiortc, av' >/dev/null 2>&1") == 0;
}

/* Decodes with the real decoder; returns the "WxH" lines joined with ',' (run-length
 * compressed: "80x46*13,320x180*8"). */
static void decode(const sink_t *s, const char *codec, char *summary, size_t cap) {
    char path[] = "/tmp/sfu_fwd_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb");
    for (size_t i = 0; i < s->n; i++) {
        uint8_t h[6];
        rtc_put_be32(h, s->arrival[i]);
        rtc_put_be16(h + 4, (uint16_t)s->len[i]);
        fwrite(h, 1, 6, f);
        fwrite(s->pkt[i], 1, s->len[i], f);
    }
    fclose(f);
    char cmd[1024];
    const char *src = getenv("SRC_DIR");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/sfu/decode_rtp.py %s %s 2>&1",
             src ? src : ".", codec, path);
    FILE *p = popen(cmd, "r");
    char line[256], prev[64] = "";
    int count = 0;
    summary[0] = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "frames ", 7)) continue;
        if (strcmp(line, prev) != 0) {
            if (count) snprintf(summary + strlen(summary), cap - strlen(summary), "%s%s*%d",
                                summary[0] ? "," : "", prev, count);
            snprintf(prev, sizeof prev, "%.63s", line);
            count = 0;
        }
        count++;
    }
    if (count) snprintf(summary + strlen(summary), cap - strlen(summary), "%s%s*%d",
                        summary[0] ? "," : "", prev, count);
    int st = pclose(p);
    unlink(path);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "decoder rejected the stream: %s",
                  summary);
}

/* ------------------------------------------------------------------------------------------
 * The publisher: three layers replayed `reps` times (seq and ts continue, 1 s per rep).
 */
typedef struct {
    fx_stream_t s[3];
    size_t rep[3], idx[3];
    int reps;
} pub_t;

static void pub_open(pub_t *p, const char *codec, int reps) {
    static const char *rids[3] = {"q", "h", "f"};
    memset(p, 0, sizeof *p);
    p->reps = reps;
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s_%s", codec, rids[i]);
        ck_assert_int_eq(fx_load(&p->s[i], name), 0);
    }
}

static void pub_close(pub_t *p) {
    for (int i = 0; i < 3; i++) fx_free(&p->s[i]);
}

/* Next packet in arrival order into buf; returns its layer or -1 at the end. */
static int pub_next(pub_t *p, uint8_t *buf, size_t *n, rtc_time_t *at) {
    int best = -1;
    uint32_t best_t = 0;
    for (int i = 0; i < 3; i++) {
        if (p->rep[i] >= (size_t)p->reps) continue;
        uint32_t t = p->s[i].pkts[p->idx[i]].arrival_ms + 1000u * (uint32_t)p->rep[i];
        if (best < 0 || t < best_t) { best = i; best_t = t; }
    }
    if (best < 0) return -1;
    const fx_packet_t *fp = &p->s[best].pkts[p->idx[best]];
    memcpy(buf, fp->pkt, fp->len);
    *n = fp->len;
    uint32_t r = (uint32_t)p->rep[best];
    rtc_put_be16(buf + 2, (uint16_t)(rtc_be16(buf + 2) + r * p->s[best].n));
    rtc_put_be32(buf + 4, rtc_be32(buf + 4) + r * 90000u);
    *at = RTC_MS(best_t);
    if (++p->idx[best] == p->s[best].n) {
        p->idx[best] = 0;
        p->rep[best]++;
    }
    return best;
}

static sfu_fwd_track_t *video_track(void) {
    sfu_fwd_track_config_t cfg = {true, 90000, 3, RTC_MS(500), 0, 8};
    sfu_fwd_track_t *t = sfu_fwd_track_new(&cfg, &cbs, NULL);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Three subscribers: A with plenty of bandwidth, B asking for a 160x90 tile, C whose
 * bandwidth only allows q. Allocation every 500 ms. */
static void three_subscribers(const char *codec_name, sfu_codec_t codec) {
    memset(&env, 0, sizeof env);
    pub_t p;
    pub_open(&p, codec_name, 3);
    sfu_fwd_track_t *t = video_track();
    static sink_t a, b, c;
    sfu_downtrack_t *da = sfu_downtrack_new(t, &a), *db = sfu_downtrack_new(t, &b),
                    *dc = sfu_downtrack_new(t, &c);
    sfu_downtrack_set_preference(db, 160, 90, false);
    uint8_t buf[1500];
    size_t n;
    rtc_time_t now, next_alloc = RTC_MS(500);
    int layer;
    while ((layer = pub_next(&p, buf, &n, &now)) >= 0) {
        if (now >= next_alloc) {
            sfu_fwd_allocate(&da, NULL, 1, 50000000, RTC_SEC(1), now);
            sfu_fwd_allocate(&db, NULL, 1, 50000000, RTC_SEC(1), now);
            /* C: just above what q measures. */
            const sfu_fwd_layer_t *q = sfu_fwd_track_layer(t, 0);
            sfu_rate_t rq = q->rate;
            sfu_fwd_allocate(&dc, NULL, 1, sfu_rate_bps(&rq, now) * 12 / 10, RTC_SEC(1), now);
            next_alloc += RTC_MS(500);
        }
        ck_assert_int_ge(sfu_fwd_track_on_rtp(t, layer, codec, buf, n, now), 0);
    }
    check_clean(&a);
    check_clean(&b);
    check_clean(&c);
    /* Where each ended up, and the sizes learnt from keyframes. */
    ck_assert_int_eq(sfu_downtrack_current(da), 2);
    ck_assert_int_eq(sfu_downtrack_current(db), 1);
    ck_assert_int_eq(sfu_downtrack_current(dc), 0);
    ck_assert_uint_eq(sfu_fwd_track_layer(t, 2)->width, 320);
    ck_assert_uint_eq(sfu_fwd_track_layer(t, 0)->height, 46);
    /* A started on f and stayed; B and C started on f too (target before the first
     * allocation is the top) and moved down at their layer's next keyframe. */
    ck_assert_uint_eq(a.n_layers_seen, 1);
    ck_assert_int_eq(a.layers_seen[0], 2);
    ck_assert_uint_eq(b.n_layers_seen, 2);
    ck_assert_int_eq(b.layers_seen[1], 1);
    ck_assert_uint_eq(c.n_layers_seen, 2);
    ck_assert_int_eq(c.layers_seen[1], 0);
    /* The moves waited for keyframes, which were asked for (throttled: checked in
     * on_keyframe) on h and q; f was asked once, when the subscribers joined (their first
     * packet was one of q, before f's keyframe arrived). */
    ck_assert_int_ge(env.requests[0], 1);
    ck_assert_int_ge(env.requests[1], 1);
    ck_assert_int_eq(env.requests[2], 1);
    ck_assert_int_le(env.requests[0], 6);
    if (have_decoder()) {
        char sa[512], sb[512], sc[512];
        decode(&a, codec_name, sa, sizeof sa);
        decode(&b, codec_name, sb, sizeof sb);
        decode(&c, codec_name, sc, sizeof sc);
        ck_assert_str_eq(sa, "320x180*90");
        /* B: f until h's keyframe at frame 20 (667 ms, after the first allocation at 500 ms;
         * it arrives before f's frame 20). */
        ck_assert_str_eq(sb, "320x180*20,160x90*70");
        /* C: f until q's keyframe at frame 15, the first packet at 500 ms. */
        ck_assert_str_eq(sc, "320x180*15,80x46*75");
    }
    sink_free(&a);
    sink_free(&b);
    sink_free(&c);
    sfu_fwd_track_free(t);
    pub_close(&p);
}

START_TEST(test_three_subscribers_vp8) { three_subscribers("vp8", SFU_CODEC_VP8); }
END_TEST

START_TEST(test_three_subscribers_h264) { three_subscribers("h264", SFU_CODEC_H264); }
END_TEST

/* Bandwidth drops mid-call then recovers: A goes f -> q at q's keyframe, then back to f
 * after the hold at f's keyframe; the stream stays clean and decodable all along. */
START_TEST(test_bandwidth_drop_and_recovery) {
    memset(&env, 0, sizeof env);
    pub_t p;
    pub_open(&p, "vp8", 3);
    sfu_fwd_track_t *t = video_track();
    static sink_t a;
    sfu_downtrack_t *da = sfu_downtrack_new(t, &a);
    uint8_t buf[1500];
    size_t n;
    rtc_time_t now, next_alloc = RTC_MS(100);
    int layer;
    while ((layer = pub_next(&p, buf, &n, &now)) >= 0) {
        if (now >= next_alloc) {
            uint64_t budget = now < RTC_MS(1100) ? 50000000 : now < RTC_MS(1600) ? 1 : 50000000;
            sfu_fwd_allocate(&da, NULL, 1, budget, RTC_MS(500), now);
            next_alloc += RTC_MS(100);
        }
        sfu_fwd_track_on_rtp(t, layer, SFU_CODEC_VP8, buf, n, now);
    }
    check_clean(&a);
    ck_assert_uint_eq(a.n_layers_seen, 3);
    ck_assert_int_eq(a.layers_seen[0], 2);
    ck_assert_int_eq(a.layers_seen[1], 0);
    ck_assert_int_eq(a.layers_seen[2], 2);
    if (have_decoder()) {
        char s[512];
        decode(&a, "vp8", s, sizeof s);
        /* The drop at 1.1 s makes q the target; q's next keyframe is frame 45 (1.5 s), which
         * arrives just before f's frame 45: f for frames 0..44. The budget is back at 1.6 s
         * and the 500 ms hold ends at 2.1 s; f's next keyframe is frame 72 (2.4 s; f has
         * keyframes at 0, 12, 24 of each second), which arrives just after q's frame 72:
         * q for frames 45..72, f for 72..89. */
        ck_assert_str_eq(s, "320x180*45,80x46*28,320x180*18");
    }
    sink_free(&a);
    sfu_fwd_track_free(t);
    pub_close(&p);
}
END_TEST

/* What the allocation would like (sfu_fwd_allocate's return, the media engine's probing
 * goal): with a budget too small for anything but q, it reports what f costs (several times
 * what is forwarded); given that plus the 10 % the media engine probes for (layer rates
 * wobble by a few percent), the subscriber climbs to f. */
START_TEST(test_allocate_reports_what_it_would_want) {
    memset(&env, 0, sizeof env);
    pub_t p;
    pub_open(&p, "vp8", 3);
    sfu_fwd_track_t *t = video_track();
    static sink_t a;
    sfu_downtrack_t *da = sfu_downtrack_new(t, &a);
    uint8_t buf[1500];
    size_t n;
    rtc_time_t now, next_alloc = RTC_MS(100);
    int layer;
    uint64_t wanted = 0, wanted_starved = 0, forwarded_starved = 0;
    while ((layer = pub_next(&p, buf, &n, &now)) >= 0) {
        if (now >= next_alloc) {
            uint64_t budget = now < RTC_MS(1500) ? 1 : wanted_starved + wanted_starved / 10;
            wanted = sfu_fwd_allocate(&da, NULL, 1, budget, RTC_MS(300), now);
            if (now < RTC_MS(1500)) {
                wanted_starved = wanted;
                sfu_downtrack_stats_t st;
                sfu_downtrack_stats(da, now, &st);
                forwarded_starved = st.bitrate_bps;
            }
            next_alloc += RTC_MS(100);
        }
        sfu_fwd_track_on_rtp(t, layer, SFU_CODEC_VP8, buf, n, now);
    }
    printf("starved: forwarding %llu bit/s, wanted %llu bit/s\n", (unsigned long long)forwarded_starved,
           (unsigned long long)wanted_starved);
    ck_assert_uint_gt(forwarded_starved, 0);
    ck_assert_uint_ge(wanted_starved, 3 * forwarded_starved);
    check_clean(&a);
    /* q while starved (a new subscription may start higher, before rates are known), f at
     * the end. */
    bool saw_q = false;
    for (size_t i = 0; i < a.n_layers_seen; i++) saw_q |= a.layers_seen[i] == 0;
    ck_assert(saw_q);
    ck_assert_int_eq(a.layers_seen[a.n_layers_seen - 1], 2);
    sink_free(&a);
    sfu_fwd_track_free(t);
    pub_close(&p);
}
END_TEST

/* A layer's rate is what its encoder sends. Chromium pads (bandwidth probes) with RTX copies
 * of old packets, which arrive here unwrapped as old sequence numbers: the same stream with
 * three such copies per packet must measure what it measures without them, stay active only
 * on new packets, and still be forwarded as a clean stream. */
START_TEST(test_layer_rate_ignores_repeated_packets) {
    memset(&env, 0, sizeof env);
    pub_t p, q;
    pub_open(&p, "vp8", 1);
    pub_open(&q, "vp8", 1);
    sfu_fwd_track_t *plain = video_track(), *padded = video_track();
    static sink_t a;
    sfu_downtrack_t *da = sfu_downtrack_new(padded, &a);
    uint8_t buf[1500], old[1500];
    size_t n, n_old = 0;
    rtc_time_t now = 0, last_new = 0;
    int layer;
    while ((layer = pub_next(&p, buf, &n, &now)) >= 0) sfu_fwd_track_on_rtp(plain, layer, SFU_CODEC_VP8, buf, n, now);
    while ((layer = pub_next(&q, buf, &n, &now)) >= 0) {
        if (now >= RTC_MS(100)) sfu_fwd_allocate(&da, NULL, 1, 50000000, RTC_MS(500), now);
        sfu_fwd_track_on_rtp(padded, layer, SFU_CODEC_VP8, buf, n, now);
        if (layer == 0) {
            last_new = now;
            if (n_old) /* Three RTX copies of an earlier q packet. */
                for (int k = 0; k < 3; k++) sfu_fwd_track_on_rtp(padded, 0, SFU_CODEC_VP8, old, n_old, now);
            if (!n_old || rtc_random_u32() % 8 == 0) {
                memcpy(old, buf, n);
                n_old = n;
            }
        }
    }
    sfu_layer_state_t sp[SFU_MAX_LAYERS], sq[SFU_MAX_LAYERS];
    int op[SFU_MAX_LAYERS], oq[SFU_MAX_LAYERS];
    sfu_fwd_track_layer_states(plain, now, sp, op);
    sfu_fwd_track_layer_states(padded, now, sq, oq);
    int lp = -1, lq = -1;
    for (int i = 0; i < SFU_MAX_LAYERS; i++) {
        if (op[i] == 0) lp = i;
        if (oq[i] == 0) lq = i;
    }
    ck_assert_uint_gt(sp[lp].bitrate_bps, 0);
    ck_assert_uint_eq(sq[lq].bitrate_bps, sp[lp].bitrate_bps);
    ck_assert_uint_gt(sfu_fwd_track_layer(padded, 0)->repeats, sfu_fwd_track_layer(padded, 0)->packets / 2);
    ck_assert_uint_eq(sfu_fwd_track_layer(plain, 0)->repeats, 0);
    ck_assert_int_eq(sfu_fwd_track_layer(padded, 0)->last_packet, last_new);
    check_clean(&a);
    sink_free(&a);
    sfu_fwd_track_free(plain);
    sfu_fwd_track_free(padded);
    pub_close(&p);
    pub_close(&q);
}
END_TEST

START_TEST(test_mute_pause_and_resume_at_keyframes) {
    memset(&env, 0, sizeof env);
    pub_t p;
    pub_open(&p, "vp8", 2);
    sfu_fwd_track_t *t = video_track();
    static sink_t a;
    sfu_downtrack_t *da = sfu_downtrack_new(t, &a);
    sfu_downtrack_set_target(da, 0, 0);
    uint8_t buf[1500];
    size_t n;
    rtc_time_t now;
    int layer;
    size_t muted_at = 0;
    while ((layer = pub_next(&p, buf, &n, &now)) >= 0) {
        if (now >= RTC_MS(300) && now < RTC_MS(700)) {
            if (!sfu_fwd_track_muted(t)) {
                sfu_fwd_track_set_muted(t, true);
                muted_at = a.n;
            }
        } else if (sfu_fwd_track_muted(t)) {
            ck_assert_uint_eq(a.n, muted_at); /* nothing while muted */
            sfu_fwd_track_set_muted(t, false);
        }
        /* Subscriber pauses from 1.2 s to 1.4 s. */
        if (now >= RTC_MS(1200) && now < RTC_MS(1400)) sfu_downtrack_set_target(da, -1, now);
        else if (now >= RTC_MS(1400)) sfu_downtrack_set_target(da, 0, now);
        sfu_fwd_track_on_rtp(t, layer, SFU_CODEC_VP8, buf, n, now);
    }
    check_clean(&a);
    /* Forwarded: frames 0..8 (frame 9 arrives at 300 ms, muted); after the unmute at 700 ms
     * from q's next keyframe, frame 30 (1 s), to 35 (frame 36 arrives at 1.2 s, paused);
     * after the resume at 1.4 s from the keyframe of frame 45 (1.5 s) to 59. 9 + 6 + 15. */
    if (have_decoder()) {
        char s[512];
        decode(&a, "vp8", s, sizeof s);
        ck_assert_str_eq(s, "80x46*30");
    }
    ck_assert_int_ge(env.requests[0], 2); /* a keyframe was asked for after each resume */
    sink_free(&a);
    sfu_fwd_track_free(t);
    pub_close(&p);
}
END_TEST

/* The subscriber's leg could not carry the first packets (not connected yet): restarting the
 * downtrack makes it wait for (and ask for) the next keyframe, and the stream it then gets
 * decodes from its first packet on, with continuous numbering. */
START_TEST(test_restart_waits_for_the_next_keyframe) {
    memset(&env, 0, sizeof env);
    pub_t p;
    pub_open(&p, "vp8", 2);
    sfu_fwd_track_t *t = video_track();
    static sink_t a;
    sfu_downtrack_t *da = sfu_downtrack_new(t, &a);
    sfu_downtrack_set_target(da, 0, 0);
    uint8_t buf[1500];
    size_t n;
    rtc_time_t now;
    int layer;
    bool restarted = false;
    while ((layer = pub_next(&p, buf, &n, &now)) >= 0) {
        sfu_fwd_track_on_rtp(t, layer, SFU_CODEC_VP8, buf, n, now);
        /* Everything sent in the first 200 ms was lost on the subscriber leg. */
        if (!restarted && now >= RTC_MS(200)) {
            sink_free(&a);
            sfu_downtrack_restart(da, now);
            restarted = true;
            ck_assert_int_eq(sfu_downtrack_current(da), -1);
        }
    }
    check_clean(&a);
    ck_assert_int_eq(sfu_downtrack_current(da), 0);
    /* The restart asked for a keyframe; the throttle absorbed it (one went out at the start,
     * less than 500 ms before) and q's own keyframe of frame 15 came first anyway. */
    ck_assert_uint_gt(sfu_fwd_track_layer(t, 0)->keyreq.absorbed, 0);
    if (have_decoder()) {
        char s[512];
        decode(&a, "vp8", s, sizeof s);
        /* From q's next keyframe, frame 15 (500 ms), to 59. */
        ck_assert_str_eq(s, "80x46*45");
    }
    sink_free(&a);
    sfu_fwd_track_free(t);
    pub_close(&p);
}
END_TEST

static size_t make_rtp(uint8_t *b, uint16_t seq, uint32_t ts, uint32_t ssrc, const uint8_t *ext,
                       size_t ext_words, size_t payload, uint8_t padding) {
    b[0] = (uint8_t)(0x80 | (ext_words ? 0x10 : 0) | (padding ? 0x20 : 0));
    b[1] = 111;
    rtc_put_be16(b + 2, seq);
    rtc_put_be32(b + 4, ts);
    rtc_put_be32(b + 8, ssrc);
    size_t off = 12;
    if (ext_words) {
        rtc_put_be16(b + off, 0xBEDE);
        rtc_put_be16(b + off + 2, (uint16_t)ext_words);
        memcpy(b + off + 4, ext, ext_words * 4);
        off += 4 + ext_words * 4;
    }
    memset(b + off, 0xab, payload);
    off += payload;
    if (padding) {
        memset(b + off, 0, padding);
        off += padding;
        b[off - 1] = padding;
    }
    return off;
}

START_TEST(test_audio_levels_padding_and_malformed) {
    memset(&env, 0, sizeof env);
    sfu_fwd_track_config_t cfg = {false, 48000, 1, 0, 1, 4};
    sfu_fwd_track_t *t = sfu_fwd_track_new(&cfg, &cbs, NULL);
    static sink_t a;
    sfu_downtrack_t *da = sfu_downtrack_new(t, &a);
    uint8_t buf[200];
    /* ssrc-audio-level id 1 (one-byte form: id 1, len 1): V=1, 30 dBov; mid as id 3. */
    const uint8_t ext[8] = {0x10, 0x80 | 30, 0x31, 'a', 0, 0, 0, 0};
    for (int i = 0; i < 50; i++) {
        size_t n;
        if (i % 10 == 5) /* a padding-only packet */
            n = make_rtp(buf, (uint16_t)(65500 + i), 960u * i, 0x1234, ext, 2, 0, 40);
        else
            n = make_rtp(buf, (uint16_t)(65500 + i), 960u * i, 0x1234, ext, 2, 60, 0);
        ck_assert_int_ge(sfu_fwd_track_on_rtp(t, 0, SFU_CODEC_OPUS, buf, n, RTC_MS(20 * i)), 0);
    }
    ck_assert_int_eq(env.levels, 50);
    ck_assert_uint_eq(env.last_level, 30);
    ck_assert_uint_eq(a.n, 45); /* five probes dropped... */
    check_clean(&a);            /* ...without a gap */
    /* Two-byte extension form, id 1, length 1. */
    uint8_t two[200];
    size_t n = make_rtp(two, 1, 0, 0x1234, NULL, 0, 10, 0);
    two[0] |= 0x10;
    memmove(two + 16, two + 12, 10);
    rtc_put_be16(two + 12, 0x1000);
    rtc_put_be16(two + 14, 1);
    memmove(two + 20, two + 16, 10);
    two[16] = 1; two[17] = 1; two[18] = 0x80 | 17; two[19] = 0;
    n += 8;
    env.levels = 0;
    sfu_fwd_track_on_rtp(t, 0, SFU_CODEC_OPUS, two, n, RTC_SEC(2));
    ck_assert_int_eq(env.levels, 1);
    ck_assert_uint_eq(env.last_level, 17);
    /* Malformed packets: an error, nothing sent, nothing else touched. */
    size_t before = a.n;
    ck_assert_int_lt(sfu_fwd_track_on_rtp(t, 0, SFU_CODEC_OPUS, buf, 11, RTC_SEC(3)), 0);
    uint8_t bad[20] = {0x40};
    ck_assert_int_lt(sfu_fwd_track_on_rtp(t, 0, SFU_CODEC_OPUS, bad, 20, RTC_SEC(3)), 0);
    uint8_t badpad[20] = {0xa0};
    badpad[19] = 30;
    ck_assert_int_lt(sfu_fwd_track_on_rtp(t, 0, SFU_CODEC_OPUS, badpad, 20, RTC_SEC(3)), 0);
    ck_assert_int_eq(sfu_fwd_track_on_rtp(t, 5, SFU_CODEC_OPUS, buf, 40, RTC_SEC(3)), RTC_ERR_INVALID_ARG);
    ck_assert_uint_eq(a.n, before);
    /* Subscriber pause on audio: allocation honours it. */
    sfu_downtrack_set_preference(da, 0, 0, true);
    sfu_fwd_allocate(&da, NULL, 1, 1000000, 0, RTC_SEC(4));
    ck_assert_int_eq(sfu_downtrack_target(da), -1);
    n = make_rtp(buf, 200, 0, 0x1234, NULL, 0, 60, 0);
    ck_assert_int_eq(sfu_fwd_track_on_rtp(t, 0, SFU_CODEC_OPUS, buf, n, RTC_SEC(4)), 0);
    sink_free(&a);
    sfu_fwd_track_free(t);
}
END_TEST

START_TEST(test_downtrack_lifecycle) {
    sfu_fwd_track_config_t cfg = {true, 90000, 3, 0, 0, 2};
    sfu_fwd_track_t *t = sfu_fwd_track_new(&cfg, &cbs, NULL);
    sink_t x = {0}, y = {0};
    sfu_downtrack_t *dx = sfu_downtrack_new(t, &x), *dy = sfu_downtrack_new(t, &y);
    ck_assert_ptr_nonnull(dy);
    ck_assert_ptr_null(sfu_downtrack_new(t, &x)); /* full */
    sfu_downtrack_free(dx);                       /* from the front: y moves */
    ck_assert_uint_eq(sfu_fwd_track_downtrack_count(t), 1);
    ck_assert_ptr_eq(sfu_downtrack_user(dy), &y);
    ck_assert_ptr_nonnull(sfu_downtrack_new(t, &x));
    /* Bad configurations. */
    sfu_fwd_track_config_t bad = cfg;
    bad.n_layers = 4;
    ck_assert_ptr_null(sfu_fwd_track_new(&bad, &cbs, NULL));
    bad = cfg;
    bad.video = false;
    ck_assert_ptr_null(sfu_fwd_track_new(&bad, &cbs, NULL)); /* audio with 3 layers */
    sfu_fwd_callbacks_t none = {0};
    ck_assert_ptr_null(sfu_fwd_track_new(&cfg, &none, NULL));
    sfu_fwd_track_free(t); /* frees the downtracks still attached */
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sfu_forward");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_three_subscribers_vp8);
    tcase_add_test(tc, test_three_subscribers_h264);
    tcase_add_test(tc, test_bandwidth_drop_and_recovery);
    tcase_add_test(tc, test_allocate_reports_what_it_would_want);
    tcase_add_test(tc, test_layer_rate_ignores_repeated_packets);
    tcase_add_test(tc, test_mute_pause_and_resume_at_keyframes);
    tcase_add_test(tc, test_restart_waits_for_the_next_keyframe);
    tcase_add_test(tc, test_audio_levels_padding_and_malformed);
    tcase_add_test(tc, test_downtrack_lifecycle);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
