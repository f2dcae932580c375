/* Interop with implementations nobody here wrote, on files only (no network):
 *  - aiortc (Python, /usr/bin/python3): decodes RTP and RTCP that we encode, and encodes
 *    packets that we decode; both sides describe each packet in one canonical line and the
 *    lines must match (helper: tests/unit/test_rtp_peers_aiortc.py).
 *  - Pion (Go: github.com/pion/rtcp and the transport-cc Recorder of pion/interceptor, from
 *    Debian's golang-github-pion-* packages, built offline): decodes every RTCP type we
 *    encode including transport-cc, encodes packets we decode, and generates transport-cc
 *    feedback from recorded arrivals that our send side must turn back into those arrivals
 *    (helper: tests/unit/test_rtp_peers_pion.go).
 *  - Wireshark's dissectors (tshark): read a pcap of our RTP/RTCP, including transport-cc
 *    feedback that aiortc cannot parse, and must report the field values we put in, with no
 *    malformed-packet or error-level expert items.
 * Both tools are installed by scripts/install-deps.sh. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rtc/rtp.h"

static char tmpdir[256];

static const char *src_dir(void) {
    const char *s = getenv("SRC_DIR");
    return s ? s : ".";
}

static void append(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *out, size_t cap, const char *fmt, ...) {
    size_t n = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

static void hex(char *out, size_t cap, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) append(out, cap, "%02x", p[i]);
}

/* Extension ids shared with the Python helper. */
static rtc_rtp_ext_map_t peer_map(void) {
    rtc_rtp_ext_map_t m;
    rtc_rtp_ext_map_init(&m);
    rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_MID, 1);
    rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_RID, 2);
    rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_REPAIRED_RID, 3);
    rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_ABS_SEND_TIME, 4);
    rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_TOFFSET, 5);
    rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_AUDIO_LEVEL, 6);
    rtc_rtp_ext_map_set(&m, RTC_RTP_EXT_TWCC, 7);
    return m;
}

/* Our parser's description, in the Python helper's format. */
static void describe_rtp(const uint8_t *p, size_t n, char *out, size_t cap) {
    rtc_rtp_ext_map_t m = peer_map();
    rtc_rtp_header_t h;
    out[0] = 0;
    int r = rtc_rtp_header_parse(p, n, &h);
    if (r < 0) { snprintf(out, cap, "ERROR %s", rtc_strerror(r)); return; }
    append(out, cap, "rtp pt=%u m=%d seq=%u ts=%u ssrc=%u csrc=", h.payload_type, h.marker, h.seq, h.timestamp, h.ssrc);
    for (unsigned i = 0; i < h.csrc_count; i++) append(out, cap, "%s%u", i ? "," : "", h.csrc[i]);
    append(out, cap, " pad=%u payload=", h.padding_len);
    hex(out, cap, p + h.header_len, h.payload_len);
    char s[256];
    const rtc_rtp_ext_t *e;
    if ((e = rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_MID)) && rtc_rtp_ext_parse_sdes(e, s, sizeof s) == 0) append(out, cap, " mid=%s", s);
    if ((e = rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_RID)) && rtc_rtp_ext_parse_sdes(e, s, sizeof s) == 0) append(out, cap, " rid=%s", s);
    if ((e = rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_REPAIRED_RID)) && rtc_rtp_ext_parse_sdes(e, s, sizeof s) == 0) append(out, cap, " rrid=%s", s);
    uint32_t u32;
    int32_t i32;
    uint16_t u16;
    bool v;
    uint8_t lvl;
    if ((e = rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_ABS_SEND_TIME)) && rtc_rtp_ext_parse_abs_send_time(e, &u32) == 0) append(out, cap, " ast=%u", u32);
    if ((e = rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_TOFFSET)) && rtc_rtp_ext_parse_toffset(e, &i32) == 0) append(out, cap, " tof=%d", i32);
    if ((e = rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_AUDIO_LEVEL)) && rtc_rtp_ext_parse_audio_level(e, &v, &lvl) == 0) append(out, cap, " lvl=%d:%u", v, lvl);
    if ((e = rtc_rtp_find_ext_kind(&h, &m, RTC_RTP_EXT_TWCC)) && rtc_rtp_ext_parse_twcc(e, &u16) == 0) append(out, cap, " twcc=%u", u16);
}

static void blocks(const rtc_rtcp_report_t *r, char *out, size_t cap) {
    for (unsigned i = 0; i < r->report_count; i++) {
        const rtc_rtcp_report_block_t *b = &r->reports[i];
        append(out, cap, " rb=%u,%u,%d,%u,%u,%u,%u", b->ssrc, b->fraction_lost, b->cumulative_lost,
               b->ext_highest_seq, b->jitter, b->lsr, b->dlsr);
    }
}

static void describe_rtcp(const uint8_t *p, size_t n, char *out, size_t cap) {
    rtc_rtcp_iter_t it;
    rtc_rtcp_packet_t pkt;
    rtc_rtcp_iter_init(&it, p, n);
    snprintf(out, cap, "rtcp ");
    bool first = true;
    int r;
    while ((r = rtc_rtcp_iter_next(&it, &pkt)) == 1) {
        /* aiortc drops APP and cannot parse transport-cc: leave them out */
        if (pkt.kind == RTC_RTCP_KIND_APP || pkt.kind == RTC_RTCP_KIND_TWCC || pkt.kind == RTC_RTCP_KIND_UNKNOWN) continue;
        if (!first) append(out, cap, " | ");
        first = false;
        switch (pkt.kind) {
        case RTC_RTCP_KIND_SR: {
            const rtc_rtcp_report_t *s = &pkt.u.report;
            append(out, cap, "SR ssrc=%u ntp=%llu rtp=%u pc=%u oc=%u", s->ssrc, (unsigned long long)s->sender.ntp_time,
                   s->sender.rtp_time, s->sender.packet_count, s->sender.octet_count);
            blocks(s, out, cap);
            break;
        }
        case RTC_RTCP_KIND_RR:
            append(out, cap, "RR ssrc=%u", pkt.u.report.ssrc);
            blocks(&pkt.u.report, out, cap);
            break;
        case RTC_RTCP_KIND_SDES: {
            append(out, cap, "SDES");
            /* walk chunks (items grouped by SSRC) */
            rtc_rtcp_sdes_iter_t si;
            rtc_rtcp_sdes_item_t item;
            rtc_rtcp_sdes_iter_init(&si, &pkt.u.sdes);
            bool have = false;
            uint32_t cur = 0;
            while (rtc_rtcp_sdes_next(&si, &item) == 1) {
                if (!have || item.ssrc != cur) append(out, cap, " c=%u", item.ssrc);
                have = true;
                cur = item.ssrc;
                append(out, cap, " %u:", item.type);
                hex(out, cap, item.data, item.len);
            }
            break;
        }
        case RTC_RTCP_KIND_BYE:
            append(out, cap, "BYE");
            for (unsigned i = 0; i < pkt.u.bye.count; i++) append(out, cap, " %u", pkt.u.bye.ssrcs[i]);
            break;
        case RTC_RTCP_KIND_NACK: {
            uint16_t seqs[256];
            size_t k = rtc_rtcp_nack_seqs(&pkt.u.nack, seqs, 256);
            append(out, cap, "NACK ssrc=%u media=%u lost=", pkt.u.nack.sender_ssrc, pkt.u.nack.media_ssrc);
            for (size_t i = 0; i < k; i++) append(out, cap, "%s%u", i ? "," : "", seqs[i]);
            break;
        }
        case RTC_RTCP_KIND_PLI:
            append(out, cap, "PLI ssrc=%u media=%u", pkt.u.pli.sender_ssrc, pkt.u.pli.media_ssrc);
            break;
        case RTC_RTCP_KIND_REMB:
            append(out, cap, "REMB ssrc=%u bitrate=%llu ssrcs=", pkt.u.remb.sender_ssrc, (unsigned long long)pkt.u.remb.bitrate);
            for (unsigned i = 0; i < pkt.u.remb.num_ssrc; i++) append(out, cap, "%s%u", i ? "," : "", rtc_rtcp_remb_ssrc(&pkt.u.remb, i));
            break;
        case RTC_RTCP_KIND_FIR:
            append(out, cap, "PSFB fmt=4 ssrc=%u media=%u fci=", pkt.u.fir.sender_ssrc, pkt.u.fir.media_ssrc);
            hex(out, cap, pkt.u.fir.entries, pkt.u.fir.count * 8);
            break;
        default:
            break;
        }
    }
    if (r < 0) snprintf(out, cap, "ERROR %s", rtc_strerror(r));
}

/* Our parser's description in the Pion helper's format (covers transport-cc and FIR too;
 * pion/rtcp 1.2 has no APP type, so APP is left out on both sides). */
static void pion_blocks(const rtc_rtcp_report_t *r, char *out, size_t cap) {
    for (unsigned i = 0; i < r->report_count; i++) {
        const rtc_rtcp_report_block_t *b = &r->reports[i];
        append(out, cap, " rb=%u,%u,%06x,%u,%u,%u,%u", b->ssrc, b->fraction_lost, (uint32_t)b->cumulative_lost & 0xffffff,
               b->ext_highest_seq, b->jitter, b->lsr, b->dlsr);
    }
}

static void describe_rtcp_pion(const uint8_t *p, size_t n, char *out, size_t cap) {
    rtc_rtcp_iter_t it;
    rtc_rtcp_packet_t pkt;
    rtc_rtcp_iter_init(&it, p, n);
    snprintf(out, cap, "rtcp ");
    bool first = true;
    int r;
    while ((r = rtc_rtcp_iter_next(&it, &pkt)) == 1) {
        if (pkt.kind == RTC_RTCP_KIND_APP || pkt.kind == RTC_RTCP_KIND_UNKNOWN) continue;
        if (!first) append(out, cap, " | ");
        first = false;
        switch (pkt.kind) {
        case RTC_RTCP_KIND_SR: {
            const rtc_rtcp_report_t *s = &pkt.u.report;
            append(out, cap, "SR ssrc=%u ntp=%llu rtp=%u pc=%u oc=%u", s->ssrc, (unsigned long long)s->sender.ntp_time,
                   s->sender.rtp_time, s->sender.packet_count, s->sender.octet_count);
            pion_blocks(s, out, cap);
            break;
        }
        case RTC_RTCP_KIND_RR:
            append(out, cap, "RR ssrc=%u", pkt.u.report.ssrc);
            pion_blocks(&pkt.u.report, out, cap);
            break;
        case RTC_RTCP_KIND_SDES: {
            append(out, cap, "SDES");
            rtc_rtcp_sdes_iter_t si;
            rtc_rtcp_sdes_item_t item;
            rtc_rtcp_sdes_iter_init(&si, &pkt.u.sdes);
            bool have = false;
            uint32_t cur = 0;
            while (rtc_rtcp_sdes_next(&si, &item) == 1) {
                if (!have || item.ssrc != cur) append(out, cap, " c=%u", item.ssrc);
                have = true;
                cur = item.ssrc;
                append(out, cap, " %u:", item.type);
                hex(out, cap, item.data, item.len);
            }
            break;
        }
        case RTC_RTCP_KIND_BYE:
            append(out, cap, "BYE");
            for (unsigned i = 0; i < pkt.u.bye.count; i++) append(out, cap, " %u", pkt.u.bye.ssrcs[i]);
            append(out, cap, " reason=");
            if (pkt.u.bye.reason) hex(out, cap, pkt.u.bye.reason, pkt.u.bye.reason_len);
            break;
        case RTC_RTCP_KIND_NACK: {
            uint16_t seqs[256];
            size_t k = rtc_rtcp_nack_seqs(&pkt.u.nack, seqs, 256);
            append(out, cap, "NACK ssrc=%u media=%u lost=", pkt.u.nack.sender_ssrc, pkt.u.nack.media_ssrc);
            for (size_t i = 0; i < k; i++) append(out, cap, "%s%u", i ? "," : "", seqs[i]);
            break;
        }
        case RTC_RTCP_KIND_PLI:
            append(out, cap, "PLI ssrc=%u media=%u", pkt.u.pli.sender_ssrc, pkt.u.pli.media_ssrc);
            break;
        case RTC_RTCP_KIND_FIR:
            append(out, cap, "FIR ssrc=%u", pkt.u.fir.sender_ssrc);
            for (size_t i = 0; i < pkt.u.fir.count; i++) {
                rtc_rtcp_fir_entry_t e = rtc_rtcp_fir_entry(&pkt.u.fir, i);
                append(out, cap, " %u:%u", e.ssrc, e.seq);
            }
            break;
        case RTC_RTCP_KIND_REMB:
            append(out, cap, "REMB ssrc=%u bitrate=%llu ssrcs=", pkt.u.remb.sender_ssrc, (unsigned long long)pkt.u.remb.bitrate);
            for (unsigned i = 0; i < pkt.u.remb.num_ssrc; i++) append(out, cap, "%s%u", i ? "," : "", rtc_rtcp_remb_ssrc(&pkt.u.remb, i));
            break;
        case RTC_RTCP_KIND_TWCC: {
            const rtc_rtcp_twcc_t *t = &pkt.u.twcc;
            append(out, cap, "TWCC ssrc=%u media=%u base=%u count=%u ref=%u fb=%u st=", t->sender_ssrc, t->media_ssrc,
                   t->base_seq, t->status_count, (uint32_t)t->ref_time & 0xffffff, t->fb_count);
            rtc_rtcp_twcc_iter_t ti;
            rtc_rtcp_twcc_packet_t tp;
            rtc_rtcp_twcc_iter_init(&ti, t);
            for (int i = 0; rtc_rtcp_twcc_next(&ti, &tp) == 1; i++) append(out, cap, "%s%u", i ? "," : "", tp.status);
            append(out, cap, " d=");
            rtc_rtcp_twcc_iter_init(&ti, t);
            int64_t prev = (int64_t)t->ref_time * RTC_RTCP_TWCC_REF_TIME_US;
            bool firstd = true;
            while (rtc_rtcp_twcc_next(&ti, &tp) == 1) {
                if (tp.status != RTC_RTCP_TWCC_SMALL_DELTA && tp.status != RTC_RTCP_TWCC_LARGE_DELTA) continue;
                append(out, cap, "%s%lld", firstd ? "" : ",", (long long)(tp.arrival_us - prev));
                prev = tp.arrival_us;
                firstd = false;
            }
            break;
        }
        default:
            break;
        }
    }
    if (r < 0) snprintf(out, cap, "ERROR %s", rtc_strerror(r));
}

/* ---- our packets ------------------------------------------------------------------------ */

#define MAXPKT 16
typedef struct {
    bool rtcp;
    uint8_t b[1500];
    size_t n;
} pkt_t;

/* 20 transport-cc results from seq 300: three lost, one 90 ms gap (a large delta). */
static void fill_twcc(rtc_rtcp_twcc_packet_t tp[20]) {
    int64_t t = 5000 * (int64_t)64000;
    for (int i = 0; i < 20; i++) {
        tp[i].seq = (uint16_t)(300 + i);
        tp[i].status = (i == 4 || i == 11 || i == 12) ? RTC_RTCP_TWCC_NOT_RECEIVED : RTC_RTCP_TWCC_SMALL_DELTA;
        t += i == 8 ? 90000 : 2000 + 250 * (i % 3);
        tp[i].arrival_us = t;
    }
}

static size_t our_packets(pkt_t *v) {
    size_t k = 0;
    rtc_rtp_header_t h;
    memset(&h, 0, sizeof h);
    uint8_t mid[8], rid[8], rrid[8], ast[3], tof[3] = {0xff, 0xfc, 0x18}, lvl[1], tw[2];
    int ml = rtc_rtp_ext_write_sdes("video0", mid, sizeof mid);
    int rl = rtc_rtp_ext_write_sdes("hi", rid, sizeof rid);
    int rrl = rtc_rtp_ext_write_sdes("lo", rrid, sizeof rrid);
    rtc_rtp_ext_write_abs_send_time(rtc_rtp_abs_send_time_from_us(12345678), ast);
    rtc_rtp_ext_write_audio_level(true, 90, lvl);
    rtc_rtp_ext_write_twcc(4242, tw);
    rtc_rtp_ext_t all[7] = {{.id = 1, .len = (uint8_t)ml, .data = mid}, {.id = 2, .len = (uint8_t)rl, .data = rid},
                            {.id = 3, .len = (uint8_t)rrl, .data = rrid}, {.id = 4, .len = 3, .data = ast},
                            {.id = 5, .len = 3, .data = tof}, {.id = 6, .len = 1, .data = lvl},
                            {.id = 7, .len = 2, .data = tw}};
    const uint8_t payload[] = "a VP8 frame would be here";
    /* 1: every extension, CSRCs, padding */
    h.payload_type = 96;
    h.marker = true;
    h.seq = 12345;
    h.timestamp = 3000000000u;
    h.ssrc = 0x01020304;
    h.csrc_count = 2;
    h.csrc[0] = 99;
    h.csrc[1] = 0xfffffffe;
    v[k].rtcp = false;
    v[k].n = (size_t)rtc_rtp_packet_write(&h, all, 7, false, payload, sizeof payload - 1, 5, v[k].b, 1500);
    k++;
    /* 2: the same in the two-byte form */
    h.csrc_count = 0;
    v[k].rtcp = false;
    v[k].n = (size_t)rtc_rtp_packet_write(&h, all, 7, true, payload, sizeof payload - 1, 0, v[k].b, 1500);
    k++;
    /* 3: SFU rewrite of packet 2: new SSRC/seq/PT, transport-cc replaced, audio level removed */
    memcpy(v[k].b, v[k - 1].b, v[k - 1].n);
    v[k].n = v[k - 1].n;
    rtc_rtp_set_ssrc(v[k].b, v[k].n, 777);
    rtc_rtp_set_seq(v[k].b, v[k].n, 1);
    rtc_rtp_set_payload_type(v[k].b, v[k].n, 100);
    rtc_rtp_ext_write_twcc(9, tw);
    rtc_rtp_ext_set(v[k].b, &v[k].n, 1500, 7, tw, 2);
    rtc_rtp_ext_remove(v[k].b, &v[k].n, 6);
    v[k].rtcp = false;
    k++;
    /* 4: RTX of packet 1 */
    v[k].rtcp = false;
    v[k].n = (size_t)rtc_rtp_rtx_wrap(v[0].b, v[0].n, 97, 0x0a0b0c0d, 555, v[k].b, 1500);
    k++;
    /* 5: SR + SDES + BYE */
    rtc_writer_t w;
    rtc_writer_init(&w, v[k].b, 1500);
    rtc_rtcp_report_t sr;
    memset(&sr, 0, sizeof sr);
    sr.ssrc = 0x01020304;
    sr.has_sender_info = true;
    sr.sender = (rtc_rtcp_sender_info_t){rtc_rtcp_ntp_from_unix_us(1764000000123456LL), 3000000000u, 1234, 987654};
    sr.report_count = 2;
    sr.reports[0] = (rtc_rtcp_report_block_t){0xaaaa, 51, -2, 0x10005, 345, 0x12345678, 0x10000};
    sr.reports[1] = (rtc_rtcp_report_block_t){0xbbbb, 0, 8388607, 7, 0, 0, 0};
    rtc_rtcp_write_report(&w, &sr);
    rtc_rtcp_sdes_item_t items[2] = {{0x01020304, RTC_RTCP_SDES_CNAME, 12, (const uint8_t *)"starling-cnm"},
                                     {0x01020304, RTC_RTCP_SDES_TOOL, 5, (const uint8_t *)"tests"}};
    rtc_rtcp_write_sdes(&w, items, 2);
    rtc_rtcp_bye_t bye = {1, {0x01020304}, (const uint8_t *)"bye", 3};
    rtc_rtcp_write_bye(&w, &bye);
    v[k].rtcp = true;
    v[k].n = w.len;
    k++;
    /* 6: RR + NACK + PLI + REMB + FIR + APP + TWCC */
    rtc_writer_init(&w, v[k].b, 1500);
    rtc_rtcp_report_t rr = sr;
    rr.has_sender_info = false;
    rr.report_count = 1;
    rtc_rtcp_write_report(&w, &rr);
    const uint16_t lost[] = {1000, 1001, 1003, 1016, 1017, 2000};
    rtc_rtcp_write_nack(&w, 0x01020304, 0xaaaa, lost, 6);
    rtc_rtcp_write_pli(&w, 0x01020304, 0xaaaa);
    uint32_t rs[2] = {0xaaaa, 0xbbbb};
    rtc_rtcp_write_remb(&w, 0x01020304, 2345678, rs, 2);
    rtc_rtcp_fir_entry_t fe = {0xaaaa, 17};
    rtc_rtcp_write_fir(&w, 0x01020304, &fe, 1);
    rtc_rtcp_app_t app = {5, 0x01020304, {'S', 'T', 'R', 'L'}, (const uint8_t *)"data", 4};
    rtc_rtcp_write_app(&w, &app);
    rtc_rtcp_twcc_packet_t tp[20];
    fill_twcc(tp);
    rtc_rtcp_write_twcc(&w, 0x01020304, 0xaaaa, 300, 5000, 42, tp, 20);
    v[k].rtcp = true;
    v[k].n = w.len;
    k++;
    return k;
}

static void write_lines(const char *path, const pkt_t *v, size_t k) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < k; i++) {
        fprintf(f, "%s ", v[i].rtcp ? "rtcp" : "rtp");
        for (size_t j = 0; j < v[i].n; j++) fprintf(f, "%02x", v[i].b[j]);
        fprintf(f, "\n");
    }
    fclose(f);
}

/* Runs a command and returns its stdout lines (up to max). */
static size_t run_lines(const char *cmd, char lines[][4096], size_t max) {
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    size_t k = 0;
    while (k < max && fgets(lines[k], 4096, p)) {
        lines[k][strcspn(lines[k], "\n")] = 0;
        k++;
    }
    int st = pclose(p);
    ck_assert_msg(st == 0, "%s exited with %d", cmd, st);
    return k;
}

static bool have_aiortc(void) {
    return system("/usr/bin/python3 -c 'import aiortc.rtp' >/dev/null 2>&1") == 0;
}

START_TEST(aiortc_decodes_what_we_encode) {
    ck_assert_msg(have_aiortc(), "aiortc missing: scripts/install-deps.sh installs python3-aiortc");
    pkt_t v[MAXPKT];
    size_t k = our_packets(v);
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/ours.txt", tmpdir);
    write_lines(path, v, k);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/test_rtp_peers_aiortc.py describe %s", src_dir(), path);
    static char lines[MAXPKT][4096];
    ck_assert_uint_eq(run_lines(cmd, lines, MAXPKT), k);
    for (size_t i = 0; i < k; i++) {
        char mine[4096];
        if (v[i].rtcp) describe_rtcp(v[i].b, v[i].n, mine, sizeof mine);
        else describe_rtp(v[i].b, v[i].n, mine, sizeof mine);
        ck_assert_msg(strncmp(mine, "ERROR", 5) != 0, "we reject our own packet %zu", i);
        ck_assert_msg(strcmp(mine, lines[i]) == 0, "packet %zu:\n ours:   %s\n aiortc: %s", i, mine, lines[i]);
    }
}
END_TEST

START_TEST(we_decode_what_aiortc_encodes) {
    ck_assert_msg(have_aiortc(), "aiortc missing: scripts/install-deps.sh installs python3-aiortc");
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/theirs.txt", tmpdir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/test_rtp_peers_aiortc.py make > %s", src_dir(), path);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/test_rtp_peers_aiortc.py describe %s", src_dir(), path);
    static char desc[MAXPKT][4096], raw[MAXPKT][4096];
    size_t k = run_lines(cmd, desc, MAXPKT);
    snprintf(cmd, sizeof cmd, "cat %s", path);
    ck_assert_uint_eq(run_lines(cmd, raw, MAXPKT), k);
    ck_assert_uint_eq(k, 5);
    for (size_t i = 0; i < k; i++) {
        char *sp = strchr(raw[i], ' ');
        ck_assert_ptr_nonnull(sp);
        uint8_t b[1500];
        int n = rtc_hex_decode(sp + 1, strlen(sp + 1), b, sizeof b);
        ck_assert_int_gt(n, 0);
        char mine[4096];
        if (strncmp(raw[i], "rtcp", 4) == 0) {
            describe_rtcp(b, (size_t)n, mine, sizeof mine);
            ck_assert_int_gt(rtc_rtcp_validate(b, (size_t)n, false), 0);
        } else {
            describe_rtp(b, (size_t)n, mine, sizeof mine);
        }
        ck_assert_msg(strcmp(mine, desc[i]) == 0, "packet %zu:\n ours:   %s\n aiortc: %s", i, mine, desc[i]);
    }
}
END_TEST

/* ---- Pion ------------------------------------------------------------------------------- */

static char pion_bin[512]; /* built once in main() before the tests fork */

static void build_pion(void) {
    char dir[] = "/tmp/rtp-peers-pion-XXXXXX";
    if (!mkdtemp(dir)) return;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && GO111MODULE=off GOENV=off GOPATH=/usr/share/gocode GOCACHE=%s/cache GOFLAGS= "
             "go build -o %s/pion_helper %s/tests/unit/test_rtp_peers_pion.go >%s/build.log 2>&1",
             dir, dir, dir, src_dir(), dir);
    if (system(cmd) == 0) snprintf(pion_bin, sizeof pion_bin, "%s/pion_helper", dir);
    else fprintf(stderr, "test_rtp_peers: building the Pion helper failed, see %s/build.log\n", dir);
}

static void remove_pion(void) {
    if (!pion_bin[0]) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %.*s", (int)(strrchr(pion_bin, '/') - pion_bin), pion_bin);
    if (system(cmd) != 0) fprintf(stderr, "could not clean up the Pion helper\n");
}

#define NEED_PION() ck_assert_msg(pion_bin[0], "Pion helper not built: scripts/install-deps.sh installs golang-go and golang-github-pion-*-dev")

START_TEST(pion_decodes_what_we_encode) {
    NEED_PION();
    pkt_t all[MAXPKT];
    size_t k = our_packets(all);
    /* our RTCP compounds plus a transport-cc feedback written by our receive side */
    pkt_t v[3] = {all[k - 2], all[k - 1]};
    rtc_rtp_twcc_receiver_t *rx = rtc_rtp_twcc_receiver_new(0x7777, RTC_MS(100));
    for (int i = 0; i < 60; i++) {
        if (i % 9 == 4) continue;
        rtc_rtp_twcc_receiver_on_packet(rx, (uint16_t)(65500 + i), 0x8888, RTC_SEC(3) + i * RTC_MS(3) + (i == 30 ? RTC_MS(200) : 0));
    }
    int n = rtc_rtp_twcc_receiver_build(rx, RTC_SEC(4), true, v[2].b, sizeof v[2].b);
    ck_assert_int_gt(n, 0);
    v[2].n = (size_t)n;
    v[2].rtcp = true;
    rtc_rtp_twcc_receiver_free(rx);
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/ours_rtcp.txt", tmpdir);
    write_lines(path, v, 3);
    snprintf(cmd, sizeof cmd, "%s describe %s", pion_bin, path);
    static char lines[MAXPKT][4096];
    ck_assert_uint_eq(run_lines(cmd, lines, MAXPKT), 3);
    for (size_t i = 0; i < 3; i++) {
        char mine[4096];
        describe_rtcp_pion(v[i].b, v[i].n, mine, sizeof mine);
        ck_assert_msg(strcmp(mine, lines[i]) == 0, "packet %zu:\n ours: %s\n pion: %s", i, mine, lines[i]);
    }
    ck_assert_ptr_nonnull(strstr(lines[1], "TWCC ssrc=16909060"));
    ck_assert_ptr_nonnull(strstr(lines[2], "TWCC ssrc=30583 media=34952 base=65500 count=60"));
}
END_TEST

START_TEST(we_decode_what_pion_encodes) {
    NEED_PION();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s make", pion_bin);
    static char raw[MAXPKT][4096];
    size_t k = run_lines(cmd, raw, MAXPKT);
    ck_assert_uint_eq(k, 2);
    pkt_t v[2];
    for (size_t i = 0; i < k; i++) {
        int n = rtc_hex_decode(raw[i] + 5, strlen(raw[i] + 5), v[i].b, sizeof v[i].b);
        ck_assert_int_gt(n, 0);
        v[i].n = (size_t)n;
        v[i].rtcp = true;
        ck_assert_int_gt(rtc_rtcp_validate(v[i].b, v[i].n, false), 0);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/pion_rtcp.txt", tmpdir);
    write_lines(path, v, 2);
    snprintf(cmd, sizeof cmd, "%s describe %s", pion_bin, path);
    static char lines[MAXPKT][4096];
    ck_assert_uint_eq(run_lines(cmd, lines, MAXPKT), 2);
    for (size_t i = 0; i < 2; i++) {
        char mine[4096];
        describe_rtcp_pion(v[i].b, v[i].n, mine, sizeof mine);
        ck_assert_msg(strcmp(mine, lines[i]) == 0, "packet %zu:\n ours: %s\n pion: %s", i, mine, lines[i]);
    }
    /* and the values are the ones the helper put in */
    ck_assert_ptr_nonnull(strstr(lines[0], "SDES c=286331153 1:70696f6e4074657374 6:70696f6e"));
    ck_assert_ptr_nonnull(strstr(lines[1], "NACK ssrc=5 media=572662306 lost=100,101,105,200,201"));
    ck_assert_ptr_nonnull(strstr(lines[1], "REMB ssrc=5 bitrate=1234560 ssrcs=572662306,7"));
}
END_TEST

/* Pion's transport-cc Recorder (modelled on libwebrtc's) writes feedback for arrivals it
 * recorded; our send side must recover the same arrival times and the lost packets. */
START_TEST(pion_twcc_feedback_gives_back_the_arrivals) {
    NEED_PION();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s twcc", pion_bin);
    static char lines[400][4096];
    size_t k = run_lines(cmd, lines, 400);
    ck_assert_uint_gt(k, 250);
    rtc_rtp_twcc_sender_t *tx = rtc_rtp_twcc_sender_new(0);
    for (int i = 0; i < 300; i++) rtc_rtp_twcc_sender_on_sent(tx, (uint16_t)(65400 + i), 1000, RTC_MS(i));
    static int64_t want[65536];
    static bool got[65536];
    for (int i = 0; i < 65536; i++) want[i] = -1;
    static rtc_bwe_packet_t res[1024];
    size_t nres = 0, feedbacks = 0;
    for (size_t i = 0; i < k; i++) {
        unsigned seq;
        long long us;
        if (sscanf(lines[i], "arrival %u %lld", &seq, &us) == 2) {
            want[seq] = us;
            continue;
        }
        uint8_t b[1500];
        int n = rtc_hex_decode(lines[i] + 5, strlen(lines[i] + 5), b, sizeof b);
        ck_assert_int_gt(n, 0);
        rtc_rtcp_packet_t pkt;
        ck_assert_int_eq(rtc_rtcp_parse(b, (size_t)n, &pkt), n);
        ck_assert_int_eq(pkt.kind, RTC_RTCP_KIND_TWCC);
        int r = rtc_rtp_twcc_sender_on_feedback(tx, &pkt.u.twcc, res + nres, 1024 - nres);
        ck_assert_int_ge(r, 0);
        nres += (size_t)r;
        feedbacks++;
    }
    ck_assert_uint_ge(feedbacks, 6);
    /* every received packet comes back received, with its arrival time (up to the constant
     * offset between clocks, and 250 us quantisation) */
    int64_t offset = 0;
    bool have_offset = false;
    size_t received = 0;
    for (size_t i = 0; i < nres; i++) {
        if (!res[i].received) {
            ck_assert_int_eq(want[res[i].seq], -1);
            continue;
        }
        ck_assert_int_ne(want[res[i].seq], -1);
        if (!have_offset) { offset = res[i].arrival - want[res[i].seq]; have_offset = true; }
        ck_assert_int_le(llabs(res[i].arrival - want[res[i].seq] - offset), 250);
        got[res[i].seq] = true;
        received++;
    }
    size_t recorded = 0;
    for (int i = 0; i < 65536; i++)
        if (want[i] != -1) {
            recorded++;
            ck_assert_msg(got[i], "seq %d recorded by pion but not reported received", i);
        }
    ck_assert_uint_eq(received, recorded);
    ck_assert_uint_eq(recorded, 300 - 18); /* i % 17 == 5 dropped: 18 of 300 */
    rtc_rtp_twcc_sender_free(tx);
}
END_TEST

/* ---- tshark ----------------------------------------------------------------------------- */

/* A pcap (linktype 101, raw IPv4) of UDP datagrams 127.0.0.1:5004 -> 127.0.0.1:5005. */
static void write_pcap(const char *path, const pkt_t *v, size_t k) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint8_t gh[24] = {0};
    uint32_t magic = 0xa1b2c3d4;
    memcpy(gh, &magic, 4);
    uint16_t vmaj = 2, vmin = 4;
    memcpy(gh + 4, &vmaj, 2);
    memcpy(gh + 6, &vmin, 2);
    uint32_t snap = 65535, link = 101;
    memcpy(gh + 16, &snap, 4);
    memcpy(gh + 20, &link, 4);
    fwrite(gh, 1, 24, f);
    for (size_t i = 0; i < k; i++) {
        uint8_t ip[28] = {0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1};
        rtc_put_be16(ip + 2, (uint16_t)(28 + v[i].n));
        rtc_put_be16(ip + 20, 5004);
        rtc_put_be16(ip + 22, 5005);
        rtc_put_be16(ip + 24, (uint16_t)(8 + v[i].n));
        uint32_t rec[4] = {1764000000u + (uint32_t)i, 0, (uint32_t)(28 + v[i].n), (uint32_t)(28 + v[i].n)};
        fwrite(rec, 4, 4, f);
        fwrite(ip, 1, 28, f);
        fwrite(v[i].b, 1, v[i].n, f);
    }
    fclose(f);
}

static bool have_tshark(void) { return system("tshark -v >/dev/null 2>&1") == 0; }

static void tshark_fields(const char *pcap, const char *proto, const char *fields, char lines[][4096], size_t want) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "tshark -n -r %s -o rtcp.heuristic_rtcp:FALSE -d udp.port==5005,%s -T fields -E occurrence=a "
             "-E aggregator=, -E separator=/s %s 2>/dev/null", pcap, proto, fields);
    ck_assert_uint_eq(run_lines(cmd, lines, 32), want);
}

START_TEST(tshark_dissects_our_rtcp_including_twcc) {
    ck_assert_msg(have_tshark(), "tshark missing: scripts/install-deps.sh installs it");
    pkt_t all[MAXPKT];
    size_t k = our_packets(all);
    pkt_t v[2] = {all[4], all[5]};
    (void)k;
    char pcap[512];
    snprintf(pcap, sizeof pcap, "%s/rtcp.pcap", tmpdir);
    write_pcap(pcap, v, 2);
    static char l[32][4096];
    /* packet types and sender SSRCs of every sub-packet */
    tshark_fields(pcap, "rtcp", "-e rtcp.pt -e rtcp.rtpfb.fmt -e rtcp.psfb.fmt", l, 2);
    ck_assert_str_eq(l[0], "200,202,203  ");
    ck_assert_str_eq(l[1], "201,205,206,206,206,204,205 1,15 1,15,4");
    /* SR sender info and report blocks */
    tshark_fields(pcap, "rtcp", "-e rtcp.senderssrc -e rtcp.timestamp.rtp -e rtcp.sender.packetcount "
                  "-e rtcp.sender.octetcount -e rtcp.ssrc.fraction -e rtcp.ssrc.cum_nr -e rtcp.ssrc.ext_high "
                  "-e rtcp.ssrc.jitter -e rtcp.ssrc.lsr -e rtcp.ssrc.dlsr", l, 2);
    ck_assert_str_eq(l[0], "0x01020304 3000000000 1234 987654 51,0 -2,8388607 65541,7 345,0 305419896,0 65536,0");
    /* SDES CNAME and TOOL; Wireshark shows the BYE reason as SDES-style text too; its
     * compound length check passes */
    tshark_fields(pcap, "rtcp", "-e rtcp.sdes.text -e rtcp.length_check", l, 2);
    ck_assert_str_eq(l[0], "starling-cnm,tests,bye 1");
    ck_assert_str_eq(l[1], " 1");
    /* NACK items, REMB, FIR, APP */
    tshark_fields(pcap, "rtcp", "-e rtcp.rtpfb.nack_pid -e rtcp.rtpfb.nack_blp -e rtcp.psfb.remb.fci.br_exp -e rtcp.psfb.remb.fci.br_mantissa "
                  "-e rtcp.psfb.remb.fci.number_ssrcs -e rtcp.psfb.fir.fci.ssrc -e rtcp.psfb.fir.fci.csn -e rtcp.app.name", l, 2);
    /* 1000 + {1001,1003,1016}: BLP bits 0,2,15 = 0x8005; then 1017 and 2000 as new items
     * (Wireshark lists every lost sequence number under nack_pid); REMB 2345678 bps is
     * mantissa 146604 << 4 */
    ck_assert_str_eq(l[1], "1000,1001,1003,1016,1017,2000 0x8005,0x0000,0x0000 4 146604 2 0x0000aaaa 17 STRL");
    /* transport-cc: base, count, reference time, feedback count, and 17 receive deltas */
    tshark_fields(pcap, "rtcp", "-e rtcp.rtpfb.transportcc.baseseq -e rtcp.rtpfb.transportcc.statuscount "
                  "-e rtcp.rtpfb.transportcc.reftime -e rtcp.rtpfb.transportcc.pktcount", l, 2);
    ck_assert_str_eq(l[1], "300 20 5000 42");
    /* every receive delta as Wireshark decodes it: "[seq: N] X ms" since the previous
     * received packet (the first from the reference time), small or large as needed */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "tshark -n -r %s -o rtcp.heuristic_rtcp:FALSE -d udp.port==5005,rtcp -V 2>/dev/null "
             "| grep 'Recv Delta: 0x' | sed 's/.*Recv Delta: 0x[0-9a-f]* //'", pcap);
    static char c[32][4096];
    rtc_rtcp_twcc_packet_t tp[20];
    fill_twcc(tp);
    size_t got = run_lines(cmd, c, 32), k2 = 0;
    int64_t prev = 5000 * (int64_t)64000;
    for (int i = 0; i < 20; i++) {
        if (tp[i].status == RTC_RTCP_TWCC_NOT_RECEIVED) continue;
        char want[128];
        int64_t d = tp[i].arrival_us - prev;
        prev = tp[i].arrival_us;
        snprintf(want, sizeof want, "%s Delta: [seq: %u] %.6f ms", d > 255 * 250 ? "Large" : "Small", tp[i].seq, (double)d / 1000);
        ck_assert_uint_lt(k2, got);
        ck_assert_str_eq(c[k2], want);
        k2++;
    }
    ck_assert_uint_eq(k2, got);
    ck_assert_uint_eq(got, 17);
    /* no malformed packets or error-level expert items anywhere */
    snprintf(cmd, sizeof cmd, "tshark -n -r %s -o rtcp.heuristic_rtcp:FALSE -d udp.port==5005,rtcp "
             "-Y '_ws.malformed || _ws.expert.severity >= \"error\"' 2>/dev/null | wc -l", pcap);
    ck_assert_uint_eq(run_lines(cmd, c, 4), 1);
    ck_assert_str_eq(c[0], "0");
}
END_TEST

START_TEST(tshark_dissects_our_rtp_extensions) {
    ck_assert_msg(have_tshark(), "tshark missing: scripts/install-deps.sh installs it");
    pkt_t v[MAXPKT];
    size_t k = our_packets(v);
    (void)k;
    char pcap[512];
    snprintf(pcap, sizeof pcap, "%s/rtp.pcap", tmpdir);
    write_pcap(pcap, v, 4);
    static char l[32][4096];
    tshark_fields(pcap, "rtp", "-e rtp.p_type -e rtp.seq -e rtp.timestamp -e rtp.ssrc -e rtp.marker -e rtp.csrc.item "
                  "-e rtp.padding.count -e rtp.ext.profile -e rtp.ext.rfc5285.id -e rtp.ext.rfc5285.len", l, 4);
    ck_assert_str_eq(l[0], "96 12345 3000000000 0x01020304 1 0x00000063,0xfffffffe 5 0xbede 1,2,3,4,5,6,7 6,2,2,3,3,1,2");
    ck_assert_str_eq(l[1], "96 12345 3000000000 0x01020304 1   0x1000 1,2,3,4,5,6,7 6,2,2,3,3,1,2");
    ck_assert_str_eq(l[2], "100 1 3000000000 0x00000309 1   0x1000 1,2,3,4,5,7 6,2,2,3,3,2");
    ck_assert_str_eq(l[3], "97 555 3000000000 0x0a0b0c0d 1 0x00000063,0xfffffffe  0xbede 1,2,3,4,5,6,7 6,2,2,3,3,1,2");
}
END_TEST

/* One scratch directory for the whole run, made and removed by main() (the parent process),
 * so a failing test (which ends its forked child early) leaves nothing behind. Each test
 * uses its own file names in it. */
static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rtp-peers-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
}

static void remove_tmpdir(void) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (getenv("RTP_PEERS_KEEP")) return;
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void) {
    rtc_log_set_level(RTC_LOG_OFF);
    make_tmpdir();
    build_pion();
    Suite *s = suite_create("rtp_peers");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, aiortc_decodes_what_we_encode);
    tcase_add_test(tc, we_decode_what_aiortc_encodes);
    tcase_add_test(tc, pion_decodes_what_we_encode);
    tcase_add_test(tc, we_decode_what_pion_encodes);
    tcase_add_test(tc, pion_twcc_feedback_gives_back_the_arrivals);
    tcase_add_test(tc, tshark_dissects_our_rtcp_including_twcc);
    tcase_add_test(tc, tshark_dissects_our_rtp_extensions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_pion();
    remove_tmpdir();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
