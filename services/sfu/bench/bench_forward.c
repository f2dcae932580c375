/* Benchmark of the SFU's forwarding path (services/sfu/forward.c): one simulcast VP8 track
 * (the libvpx fixtures of tests/unit/sfu/, three layers, replayed in arrival order) forwarded
 * to N subscribers split over the three layers, with a send callback that only reads the
 * rewritten packet (no network, no SRTP: the cost of the SFU's own work per packet). Prints
 * ns per received packet, ns per forwarded packet, and the number of heap allocations made
 * during the timed loop (malloc/calloc/realloc are wrapped at link time), which must be 0.
 *
 * Usage: bench_sfu_forward SRC_DIR [seconds-of-media, default 600] (see docs/sfu.md) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfu/forward.h"

static uint64_t allocs;
static int counting;
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { allocs += counting; return __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { allocs += counting; return __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { allocs += counting; return __real_realloc(p, n); }

typedef struct { uint8_t *p; uint16_t n; uint8_t layer; } pkt_t;

static uint64_t sink;
static void on_send(void *u, sfu_downtrack_t *dt, uint8_t *p, size_t n, rtc_time_t now) {
    (void)u; (void)dt; (void)now;
    sink += p[2] + p[n - 1] + n;
}
static void on_key(void *u, sfu_fwd_track_t *t, int layer, rtc_time_t now) { (void)u; (void)t; (void)layer; (void)now; }

static size_t load(const char *src, const char *name, uint8_t layer, pkt_t *out, size_t cap, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/unit/sfu/%s.rtp", src, name);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    uint8_t h[6];
    while (n < cap && fread(h, 1, 6, f) == 6) {
        uint16_t len = rtc_be16(h + 4);
        out[n].p = malloc(len);
        out[n].n = len;
        out[n].layer = layer;
        if (fread(out[n].p, 1, len, f) != len) break;
        n++;
    }
    fclose(f);
    return n;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *src = argc > 1 ? argv[1] : ".";
    int seconds = argc > 2 ? atoi(argv[2]) : 600;
    static pkt_t pk[4096];
    size_t n = 0;
    n = load(src, "vp8_q", 0, pk, 4096, n);
    n = load(src, "vp8_h", 1, pk, 4096, n);
    n = load(src, "vp8_f", 2, pk, 4096, n);
    static const int subs[] = {1, 10, 50, 200};
    printf("| subscribers | packets in | packets out | ns/packet in | ns/packet out | allocations in loop |\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof subs / sizeof subs[0]; s++) {
        sfu_fwd_callbacks_t cb = {on_send, on_key, NULL, NULL};
        sfu_fwd_track_config_t cfg = {true, 90000, 3, RTC_MS(500), 0, (size_t)subs[s]};
        sfu_fwd_track_t *t = sfu_fwd_track_new(&cfg, &cb, NULL);
        static sfu_downtrack_t *dts[200];
        for (int i = 0; i < subs[s]; i++) {
            dts[i] = sfu_downtrack_new(t, NULL);
            sfu_downtrack_set_target(dts[i], i % 3, 0);
        }
        /* The fixtures are 1 s; replay `seconds` times with continuing seq/ts. Per-layer
         * packet counts to advance sequence numbers per replay. */
        size_t per_layer[3] = {0, 0, 0};
        for (size_t i = 0; i < n; i++) per_layer[pk[i].layer]++;
        uint64_t in = 0;
        counting = 1;
        allocs = 0;
        double t0 = now_ns();
        uint8_t buf[1500];
        for (int rep = 0; rep < seconds; rep++) {
            for (size_t i = 0; i < n; i++) {
                memcpy(buf, pk[i].p, pk[i].n);
                rtc_put_be16(buf + 2, (uint16_t)(rtc_be16(buf + 2) + rep * per_layer[pk[i].layer]));
                rtc_put_be32(buf + 4, rtc_be32(buf + 4) + (uint32_t)rep * 90000u);
                sfu_fwd_track_on_rtp(t, pk[i].layer, SFU_CODEC_VP8, buf, pk[i].n, RTC_SEC(rep) + (rtc_time_t)i * 100);
                in++;
            }
        }
        double dt_ns = now_ns() - t0;
        counting = 0;
        uint64_t out = 0;
        for (int i = 0; i < subs[s]; i++) {
            sfu_downtrack_stats_t st;
            sfu_downtrack_stats(dts[i], 0, &st);
            out += st.packets;
        }
        printf("| %d | %llu | ", subs[s], (unsigned long long)in);
        printf("%llu | %.1f | %.1f | %llu |\n", (unsigned long long)out, dt_ns / (double)in,
               dt_ns / (double)out, (unsigned long long)allocs);
        sfu_fwd_track_free(t);
    }
    fprintf(stderr, "(sink %llu)\n", (unsigned long long)sink);
    return 0;
}
