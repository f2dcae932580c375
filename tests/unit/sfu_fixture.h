/* Loads the SFU's RTP fixtures (tests/unit/sfu/<name>.rtp, made by gen_simulcast.py with
 * libvpx/libx264 and aiortc's packetizers): records of u32 arrival ms, u16 length, packet. */
#ifndef SFU_FIXTURE_H
#define SFU_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtc/base.h"

typedef struct {
    uint32_t arrival_ms;
    uint16_t len;
    uint8_t *pkt; /* points into the file buffer */
} fx_packet_t;

typedef struct {
    uint8_t *buf;
    fx_packet_t *pkts;
    size_t n;
} fx_stream_t;

static inline int fx_load(fx_stream_t *s, const char *name) {
    memset(s, 0, sizeof *s);
    const char *src = getenv("SRC_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/unit/sfu/%s.rtp", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    s->buf = malloc((size_t)sz);
    if (fread(s->buf, 1, (size_t)sz, f) != (size_t)sz) { fclose(f); return -1; }
    fclose(f);
    size_t cap = 0;
    for (long i = 0; i + 6 <= sz;) {
        uint16_t len = rtc_be16(s->buf + i + 4);
        if (i + 6 + len > sz) return -1;
        if (s->n == cap) {
            cap = cap ? cap * 2 : 64;
            s->pkts = realloc(s->pkts, cap * sizeof *s->pkts);
        }
        s->pkts[s->n++] = (fx_packet_t){rtc_be32(s->buf + i), len, s->buf + i + 6};
        i += 6 + len;
    }
    return 0;
}

static inline void fx_free(fx_stream_t *s) {
    free(s->buf);
    free(s->pkts);
    memset(s, 0, sizeof *s);
}

#endif
