/* sdp/codec.c — fmtp parameters, H.264 profile-level-id (RFC 6184), codec matching. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "sdp/sdp_internal.h"

int rtc_sdp_fmtp_get(const char *fmtp, const char *key, char *out, size_t cap) {
    if (!fmtp || !key) return RTC_ERR_NOT_FOUND;
    size_t kl = strlen(key);
    const char *p = fmtp;
    while (*p) {
        while (*p == ' ' || *p == ';') p++;
        const char *end = strchr(p, ';');
        if (!end) end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            const char *ke = eq;
            while (ke > p && ke[-1] == ' ') ke--;
            if ((size_t)(ke - p) == kl && strncasecmp(p, key, kl) == 0) {
                const char *v = eq + 1;
                while (v < end && *v == ' ') v++;
                const char *ve = end;
                while (ve > v && ve[-1] == ' ') ve--;
                size_t vl = (size_t)(ve - v);
                if (vl + 1 > cap) return RTC_ERR_OVERFLOW;
                memcpy(out, v, vl);
                out[vl] = '\0';
                return (int)vl;
            }
        }
        p = end;
    }
    return RTC_ERR_NOT_FOUND;
}

uint64_t rtc_sdp_fmtp_get_uint(const char *fmtp, const char *key, uint64_t def) {
    char v[24];
    int n = rtc_sdp_fmtp_get(fmtp, key, v, sizeof v);
    if (n <= 0) return def;
    uint64_t x = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return def;
        if (x > (UINT64_MAX - 9) / 10) return def;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    return x;
}

/* ---- H.264 -------------------------------------------------------------------------------- */

/* RFC 6184 section 8.1 and Table 5: profile_idc plus a bit pattern on profile-iop
 * (constraint_set0..5 flags, MSB first). 'x' is don't-care. */
static const struct {
    uint8_t idc;
    const char *iop;
    rtc_h264_profile_t profile;
} h264_profiles[] = {
    {0x42, "x1xx0000", RTC_H264_PROFILE_CONSTRAINED_BASELINE},
    {0x4D, "1xxx0000", RTC_H264_PROFILE_CONSTRAINED_BASELINE},
    {0x58, "11xx0000", RTC_H264_PROFILE_CONSTRAINED_BASELINE},
    {0x42, "x0xx0000", RTC_H264_PROFILE_BASELINE},
    {0x58, "10xx0000", RTC_H264_PROFILE_BASELINE},
    {0x4D, "0x0x0000", RTC_H264_PROFILE_MAIN},
    {0x64, "00000000", RTC_H264_PROFILE_HIGH},
    {0x64, "00001100", RTC_H264_PROFILE_CONSTRAINED_HIGH},
    {0xF4, "00000000", RTC_H264_PROFILE_PREDICTIVE_HIGH_444},
};

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int rtc_h264_plid_parse(const char *hex6, rtc_h264_plid_t *out) {
    if (!hex6 || strlen(hex6) != 6) return RTC_ERR_MALFORMED;
    uint8_t b[3];
    for (int i = 0; i < 3; i++) {
        int hi = hexval(hex6[2 * i]), lo = hexval(hex6[2 * i + 1]);
        if (hi < 0 || lo < 0) return RTC_ERR_MALFORMED;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    uint8_t idc = b[0], iop = b[1], level = b[2];
    /* Level 1b is level_idc 11 with constraint_set3 for the Baseline/Main/Extended family. */
    if (level == 11 && (iop & 0x10) && (idc == 0x42 || idc == 0x4D || idc == 0x58)) level = 9;
    for (size_t i = 0; i < sizeof h264_profiles / sizeof h264_profiles[0]; i++) {
        if (h264_profiles[i].idc != idc) continue;
        bool ok = true;
        for (int bit = 0; bit < 8 && ok; bit++) {
            char want = h264_profiles[i].iop[bit];
            int have = (iop >> (7 - bit)) & 1;
            if (want != 'x' && have != want - '0') ok = false;
        }
        if (ok) {
            out->profile = h264_profiles[i].profile;
            out->level_idc = level;
            return RTC_OK;
        }
    }
    return RTC_ERR_MALFORMED;
}

int rtc_h264_plid_from_fmtp(const char *fmtp, rtc_h264_plid_t *out) {
    char v[16];
    if (rtc_sdp_fmtp_get(fmtp, "profile-level-id", v, sizeof v) < 0) {
        /* Absent: libwebrtc and browsers treat it as Constrained Baseline level 3.1, which is
         * what every WebRTC endpoint means; we follow them (RFC 6184 says Baseline 1.0). */
        out->profile = RTC_H264_PROFILE_CONSTRAINED_BASELINE;
        out->level_idc = 31;
        return RTC_OK;
    }
    return rtc_h264_plid_parse(v, out);
}

int rtc_h264_level_cmp(uint8_t a, uint8_t b) {
    /* 1b (9) sits between 1.0 (10) and 1.1 (11); with 9 < 10 that order already holds
     * except that 1b > 1.0. */
    int x = a == 9 ? 105 : a * 10, y = b == 9 ? 105 : b * 10;
    return x < y ? -1 : x > y;
}

/* ---- matching ----------------------------------------------------------------------------- */

static unsigned eff_channels(const rtc_sdp_codec_t *c) { return c->channels ? c->channels : 1; }

bool rtc_sdp_codec_match(const rtc_sdp_codec_t *a, const rtc_sdp_codec_t *b) {
    if (!a->name[0] || strcasecmp(a->name, b->name) != 0) return false;
    if (a->clock != b->clock || eff_channels(a) != eff_channels(b)) return false;
    if (strcasecmp(a->name, "H264") == 0) {
        if (rtc_sdp_fmtp_get_uint(a->fmtp, "packetization-mode", 0) !=
            rtc_sdp_fmtp_get_uint(b->fmtp, "packetization-mode", 0))
            return false;
        rtc_h264_plid_t pa, pb;
        if (rtc_h264_plid_from_fmtp(a->fmtp, &pa) || rtc_h264_plid_from_fmtp(b->fmtp, &pb)) return false;
        return pa.profile == pb.profile;
    }
    if (strcasecmp(a->name, "VP9") == 0)
        return rtc_sdp_fmtp_get_uint(a->fmtp, "profile-id", 0) == rtc_sdp_fmtp_get_uint(b->fmtp, "profile-id", 0);
    if (strcasecmp(a->name, "AV1") == 0)
        return rtc_sdp_fmtp_get_uint(a->fmtp, "profile", 0) == rtc_sdp_fmtp_get_uint(b->fmtp, "profile", 0);
    return true;
}

bool rtc_sdp_static_pt(uint8_t pt, rtc_sdp_codec_t *c) {
    static const struct {
        uint8_t pt;
        const char *name;
        uint32_t clock;
    } table[] = {
        {0, "PCMU", 8000}, {3, "GSM", 8000}, {4, "G723", 8000}, {8, "PCMA", 8000},
        {9, "G722", 8000}, {13, "CN", 8000}, {18, "G729", 8000}, {34, "H263", 90000},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].pt == pt) {
            snprintf(c->name, sizeof c->name, "%s", table[i].name);
            c->clock = table[i].clock;
            return true;
        }
    }
    return false;
}
