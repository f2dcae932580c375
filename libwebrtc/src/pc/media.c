/* pc/media.c — transceivers: codecs and header extensions we offer, what negotiation decided,
 * the SRTP send path (rewriting, packet history, RTX, TWCC sequence numbers), the receive path
 * (SRTP, demultiplexing by SSRC / MID / RID / payload type, RTX unwrapping, NACK generation,
 * TWCC feedback) and RTCP both ways (SR/RR, NACK answered from the history, PLI/FIR surfaced,
 * transport-wide CC feeding the bandwidth estimator). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "pc/pc_internal.h"

/* ------------------------------------------------------------------------------------------
 * What we offer.
 */
static char *opus_fb[] = {"transport-cc"};
static char *video_fb[] = {"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"};

static const rtc_sdp_codec_t audio_codecs[] = {
    {.pt = 111, .has_rtpmap = true, .name = "opus", .clock = 48000, .channels = 2,
     .fmtp = "minptime=10;useinbandfec=1", .fb = opus_fb, .n_fb = 1},
};
static const rtc_sdp_codec_t video_codecs[] = {
    {.pt = 96, .has_rtpmap = true, .name = "VP8", .clock = 90000, .fb = video_fb, .n_fb = 5},
    {.pt = 97, .has_rtpmap = true, .name = "rtx", .clock = 90000, .fmtp = "apt=96"},
    {.pt = 102, .has_rtpmap = true, .name = "H264", .clock = 90000,
     .fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", .fb = video_fb, .n_fb = 5},
    {.pt = 103, .has_rtpmap = true, .name = "rtx", .clock = 90000, .fmtp = "apt=102"},
};

/* Chromium's ids, so that a browser peer sees familiar numbers. */
static const rtc_sdp_extmap_t audio_ext[] = {
    {.id = 1, .uri = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"},
    {.id = 2, .uri = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"},
    {.id = 3, .uri = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"},
    {.id = 4, .uri = "urn:ietf:params:rtp-hdrext:sdes:mid"},
};
static const rtc_sdp_extmap_t video_ext[] = {
    {.id = 2, .uri = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"},
    {.id = 3, .uri = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"},
    {.id = 4, .uri = "urn:ietf:params:rtp-hdrext:sdes:mid"},
    {.id = 10, .uri = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"},
    {.id = 11, .uri = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"},
};

void pc_default_codecs(rtc_pc_media_kind_t kind, const rtc_sdp_codec_t **codecs, size_t *n) {
    if (kind == RTC_PC_MEDIA_AUDIO) { *codecs = audio_codecs; *n = 1; }
    else { *codecs = video_codecs; *n = 4; }
}

void pc_default_extmaps(rtc_pc_media_kind_t kind, const rtc_sdp_extmap_t **e, size_t *n) {
    if (kind == RTC_PC_MEDIA_AUDIO) { *e = audio_ext; *n = 4; }
    else { *e = video_ext; *n = 5; }
}

/* ------------------------------------------------------------------------------------------
 * Transceiver objects.
 */
void rtc_pc_transceiver_init_defaults(rtc_pc_transceiver_init_t *init) {
    memset(init, 0, sizeof *init);
    init->direction = RTC_SDP_DIR_SENDRECV;
    init->receive_simulcast = true;
}

static uint32_t new_ssrc(void) {
    uint32_t s;
    do s = rtc_random_u32(); while (s == 0);
    return s;
}

rtc_pc_transceiver_t *pc_transceiver_new(rtc_peer_connection_t *pc, rtc_pc_media_kind_t kind,
                                         const rtc_pc_transceiver_init_t *init) {
    rtc_pc_transceiver_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->pc = pc;
    t->kind = kind;
    t->direction = init->direction == RTC_SDP_DIR_NONE ? RTC_SDP_DIR_SENDRECV : init->direction;
    t->receive_simulcast = init->receive_simulcast;
    if (init->track_id) snprintf(t->track_id, sizeof t->track_id, "%s", init->track_id);
    else rtc_random_ice_string(t->track_id, 16);
    if (init->stream_id) snprintf(t->stream_id, sizeof t->stream_id, "%s", init->stream_id);
    else rtc_random_ice_string(t->stream_id, 16);
    /* '+' and '/' are ICE characters but awkward in msid tokens. */
    for (char *c = t->track_id; *c; c++) if (*c == '+' || *c == '/') *c = 'x';
    for (char *c = t->stream_id; *c; c++) if (*c == '+' || *c == '/') *c = 'x';
    const rtc_sdp_codec_t *codecs = init->codecs;
    size_t n = init->n_codecs;
    if (!codecs || !n) pc_default_codecs(kind, &codecs, &n);
    t->codecs = calloc(n, sizeof *t->codecs);
    if (!t->codecs) { free(t); return NULL; }
    for (size_t i = 0; i < n; i++) {
        if (rtc_sdp_codec_copy(&t->codecs[i], &codecs[i]) != RTC_OK) { pc_transceiver_free(t); return NULL; }
        t->n_codecs++;
    }
    t->ssrc = new_ssrc();
    if (kind == RTC_PC_MEDIA_VIDEO) t->rtx_ssrc = new_ssrc();
    t->seq = (uint16_t)rtc_random_u32();
    t->vp8_picture_id = (uint16_t)(rtc_random_u32() & 0x7fff);
    t->history_rtx_pt = -1;
    t->remote_fraction_lost = -1;
    rtc_rtp_ext_map_init(&t->ext);
    t->history = rtc_rtp_history_new(kind == RTC_PC_MEDIA_VIDEO ? PC_HISTORY_PACKETS : 128, PC_RTP_MAX + 64);
    t->send_stats = rtc_rtp_send_stats_new(t->ssrc, kind == RTC_PC_MEDIA_VIDEO ? 90000 : 48000);
    rtc_pc_transceiver_t **v = realloc(pc->tr, (pc->n_tr + 1) * sizeof *v);
    if (!t->history || !t->send_stats || !v) {
        if (v) pc->tr = v;
        pc_transceiver_free(t);
        return NULL;
    }
    pc->tr = v;
    t->index = pc->n_tr;
    pc->tr[pc->n_tr++] = t;
    return t;
}

static void free_neg(rtc_pc_transceiver_t *t) {
    for (size_t i = 0; i < t->n_neg_codecs; i++) rtc_sdp_codec_clear(&t->neg_codecs[i]);
    free(t->neg_codecs);
    t->neg_codecs = NULL;
    t->n_neg_codecs = 0;
}

void pc_transceiver_free(rtc_pc_transceiver_t *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n_codecs; i++) rtc_sdp_codec_clear(&t->codecs[i]);
    free(t->codecs);
    free_neg(t);
    rtc_rtp_history_free(t->history);
    rtc_rtp_send_stats_free(t->send_stats);
    for (size_t i = 0; i < t->n_streams; i++) {
        rtc_rtp_recv_stats_free(t->streams[i].stats);
        rtc_rtp_nack_generator_free(t->streams[i].nack);
    }
    free(t);
}

static bool codec_has_fb(const rtc_sdp_codec_t *c, const char *fb) {
    for (size_t i = 0; i < c->n_fb; i++)
        if (strcasecmp(c->fb[i], fb) == 0) return true;
    return false;
}

static int apt_of(const rtc_sdp_codec_t *c) {
    if (strcasecmp(c->name, "rtx") != 0 || !c->fmtp) return -1;
    uint64_t v = rtc_sdp_fmtp_get_uint(c->fmtp, "apt", 256);
    return v < 128 ? (int)v : -1;
}

int pc_transceiver_apply(rtc_pc_transceiver_t *t, const rtc_jsep_media_result_t *m) {
    free_neg(t);
    rtc_rtp_ext_map_init(&t->ext);
    t->rejected = m->rejected;
    if (m->rejected) {
        t->current_direction = RTC_SDP_DIR_NONE;
        t->sending = t->receiving = false;
        return RTC_OK;
    }
    t->neg_codecs = calloc(m->n_codecs ? m->n_codecs : 1, sizeof *t->neg_codecs);
    if (!t->neg_codecs) return RTC_ERR_NOMEM;
    t->nack_fb = t->pli_fb = t->twcc_fb = false;
    for (size_t i = 0; i < m->n_codecs; i++) {
        if (rtc_sdp_codec_copy(&t->neg_codecs[i], &m->codecs[i]) != RTC_OK) return RTC_ERR_NOMEM;
        t->n_neg_codecs++;
        if (codec_has_fb(&m->codecs[i], "nack")) t->nack_fb = true;
        if (codec_has_fb(&m->codecs[i], "nack pli")) t->pli_fb = true;
        if (codec_has_fb(&m->codecs[i], "transport-cc")) t->twcc_fb = true;
    }
    for (size_t i = 0; i < m->n_extmaps; i++) {
        rtc_rtp_ext_kind_t k = rtc_rtp_ext_kind_from_uri(m->extmaps[i].uri);
        if (k != RTC_RTP_EXT_NONE && m->extmaps[i].id > 0 && m->extmaps[i].id < 256)
            rtc_rtp_ext_map_set(&t->ext, k, (uint8_t)m->extmaps[i].id);
    }
    t->current_direction = m->direction;
    t->sending = rtc_sdp_dir_sends(m->direction) && !t->stopped;
    t->receiving = rtc_sdp_dir_receives(m->direction) && !t->stopped;
    if (t->sending) t->ever_negotiated_send = true;
    /* RTX for retransmissions of each negotiated codec that has an RTX partner. */
    if (t->rtx_ssrc && t->history_rtx_pt < 0) {
        for (size_t i = 0; i < t->n_neg_codecs; i++) {
            int apt = apt_of(&t->neg_codecs[i]);
            if (apt < 0) continue;
            rtc_rtp_history_set_rtx(t->history, (uint8_t)apt, t->neg_codecs[i].pt, t->rtx_ssrc,
                                    (uint16_t)rtc_random_u32());
            t->history_rtx_pt = t->neg_codecs[i].pt;
        }
    }
    return RTC_OK;
}

/* SSRCs and rids the peer announced for this section. */
void pc_transceiver_remote_ssrcs(rtc_pc_transceiver_t *t, const rtc_sdp_media_t *m) {
    t->n_remote_ssrcs = 0;
    for (size_t g = 0; g < m->n_ssrc_groups; g++) {
        const rtc_sdp_ssrc_group_t *sg = &m->ssrc_groups[g];
        if (strcasecmp(sg->semantics, "FID") == 0 && sg->n_ssrcs == 2 && t->n_remote_ssrcs < PC_MAX_RECV_STREAMS) {
            t->remote_ssrcs[t->n_remote_ssrcs] = sg->ssrcs[0];
            t->remote_rtx_ssrcs[t->n_remote_ssrcs++] = sg->ssrcs[1];
        }
    }
    for (size_t i = 0; i < m->n_ssrcs; i++) {
        uint32_t s = m->ssrcs[i].ssrc;
        bool known = false;
        for (size_t k = 0; k < t->n_remote_ssrcs; k++)
            if (t->remote_ssrcs[k] == s || t->remote_rtx_ssrcs[k] == s) known = true;
        if (!known && t->n_remote_ssrcs < PC_MAX_RECV_STREAMS) {
            t->remote_ssrcs[t->n_remote_ssrcs] = s;
            t->remote_rtx_ssrcs[t->n_remote_ssrcs++] = 0;
        }
    }
    t->n_remote_rids = 0;
    for (size_t i = 0; i < m->n_rids && t->n_remote_rids < RTC_PC_MAX_RIDS; i++)
        if (m->rids[i].send) snprintf(t->remote_rids[t->n_remote_rids++], 17, "%s", m->rids[i].id);
}

/* ---- accessors ------------------------------------------------------------------------- */
rtc_pc_media_kind_t rtc_pc_transceiver_kind(const rtc_pc_transceiver_t *t) { return t->kind; }
const char *rtc_pc_transceiver_mid(const rtc_pc_transceiver_t *t) { return t->mid[0] ? t->mid : NULL; }
rtc_sdp_dir_t rtc_pc_transceiver_direction(const rtc_pc_transceiver_t *t) { return t->direction; }
rtc_sdp_dir_t rtc_pc_transceiver_current_direction(const rtc_pc_transceiver_t *t) { return t->current_direction; }
int rtc_pc_transceiver_set_direction(rtc_pc_transceiver_t *t, rtc_sdp_dir_t d) {
    if (!t || d == RTC_SDP_DIR_NONE) return RTC_ERR_INVALID_ARG;
    if (t->stopped) return RTC_ERR_STATE;
    if (t->direction != d) {
        t->direction = d;
        if (rtc_sdp_dir_sends(d)) t->has_track = true;
        pc_mark_negotiation_needed(t->pc);
    }
    return RTC_OK;
}
void rtc_pc_transceiver_stop(rtc_pc_transceiver_t *t) {
    if (!t || t->stopped) return;
    t->stopped = true;
    t->sending = t->receiving = false;
    pc_mark_negotiation_needed(t->pc);
}
void rtc_pc_transceiver_set_user(rtc_pc_transceiver_t *t, void *user) { t->user = user; }
void *rtc_pc_transceiver_user(const rtc_pc_transceiver_t *t) { return t->user; }
uint32_t rtc_pc_transceiver_ssrc(const rtc_pc_transceiver_t *t) { return t->ssrc; }
uint32_t rtc_pc_transceiver_rtx_ssrc(const rtc_pc_transceiver_t *t) { return t->rtx_ssrc; }

static const rtc_sdp_codec_t *neg_codec_by_pt(const rtc_pc_transceiver_t *t, unsigned pt) {
    for (size_t i = 0; i < t->n_neg_codecs; i++)
        if (t->neg_codecs[i].pt == pt) return &t->neg_codecs[i];
    return NULL;
}

int rtc_pc_transceiver_payload_type(const rtc_pc_transceiver_t *t, const char *name) {
    if (!t || !name) return -1;
    for (size_t i = 0; i < t->n_neg_codecs; i++)
        if (strcasecmp(t->neg_codecs[i].name, name) == 0) return t->neg_codecs[i].pt;
    return -1;
}

const rtc_sdp_codec_t *rtc_pc_transceiver_codecs(const rtc_pc_transceiver_t *t, size_t *n) {
    if (n) *n = t->n_neg_codecs;
    return t->neg_codecs;
}

/* ------------------------------------------------------------------------------------------
 * Send path.
 */
static uint64_t ntp_now(const rtc_peer_connection_t *pc, rtc_time_t now) {
    /* Wall time derived from the monotonic `now` and one reading taken at creation: the
     * PeerConnection reads no clock after that. */
    (void)now;
    return rtc_rtcp_ntp_from_unix_us(pc->created_wall_us + (now - pc->first_now));
}

static int protect_and_send(rtc_peer_connection_t *pc, uint8_t *buf, size_t len, size_t cap, bool rtcp,
                            rtc_time_t now) {
    int rc = rtcp ? rtc_srtp_protect_rtcp(pc->srtp, buf, &len, cap) : rtc_srtp_protect_rtp(pc->srtp, buf, &len, cap);
    if (rc) {
        RTC_LOGD(PC_LOG, "%s: SRTP%s protect: %s", pc->log_id, rtcp ? "C" : "", rtc_strerror(rc));
        return rc;
    }
    if (rtcp) pc->rtcp_packets_sent++;
    return pc_send_datagram(pc, buf, len, now);
}

/* The header extensions we put on every packet we send on t: MID, abs-send-time and a fresh
 * transport-wide seq (returned in *twcc_seq, -1 when TWCC is not negotiated). */
typedef struct {
    rtc_rtp_ext_t exts[3];
    size_t n;
    uint8_t mid_v[16], ast_v[3], twcc_v[2];
    int twcc_seq;
} pc_send_exts_t;

static void send_exts(rtc_pc_transceiver_t *t, pc_send_exts_t *e, rtc_time_t now) {
    rtc_peer_connection_t *pc = t->pc;
    uint8_t id;
    e->n = 0;
    e->twcc_seq = -1;
    if ((id = rtc_rtp_ext_map_id(&t->ext, RTC_RTP_EXT_MID)) && t->mid[0]) {
        int l = rtc_rtp_ext_write_sdes(t->mid, e->mid_v, sizeof e->mid_v);
        if (l > 0) e->exts[e->n++] = (rtc_rtp_ext_t){.id = id, .len = (uint8_t)l, .data = e->mid_v};
    }
    if ((id = rtc_rtp_ext_map_id(&t->ext, RTC_RTP_EXT_ABS_SEND_TIME))) {
        rtc_rtp_ext_write_abs_send_time(rtc_rtp_abs_send_time_from_us(now), e->ast_v);
        e->exts[e->n++] = (rtc_rtp_ext_t){.id = id, .len = 3, .data = e->ast_v};
    }
    if ((id = rtc_rtp_ext_map_id(&t->ext, RTC_RTP_EXT_TWCC)) && t->twcc_fb) {
        if (!pc->twcc_tx) pc->twcc_tx = rtc_rtp_twcc_sender_new(0);
        if (!pc->bwe) pc->bwe = rtc_bwe_new(NULL);
        if (pc->twcc_tx) {
            e->twcc_seq = rtc_rtp_twcc_sender_next_seq(pc->twcc_tx);
            rtc_rtp_ext_write_twcc((uint16_t)e->twcc_seq, e->twcc_v);
            e->exts[e->n++] = (rtc_rtp_ext_t){.id = id, .len = 2, .data = e->twcc_v};
        }
    }
}

int rtc_pc_transceiver_send_rtp(rtc_pc_transceiver_t *t, const uint8_t *pkt, size_t n, rtc_time_t now) {
    if (!t || !pkt) return RTC_ERR_INVALID_ARG;
    rtc_peer_connection_t *pc = t->pc;
    if (!pc_media_ready(pc) || !t->sending) return RTC_ERR_STATE;
    rtc_rtp_header_t h;
    int rc = rtc_rtp_header_parse(pkt, n, &h);
    if (rc) return RTC_ERR_MALFORMED;
    pc_touch(pc, now);
    pc_send_exts_t e;
    send_exts(t, &e, now);
    rtc_rtp_ext_t *exts = e.exts;
    size_t n_ext = e.n;
    int twcc_seq = e.twcc_seq;
    rtc_rtp_header_t out = h;
    out.ssrc = t->ssrc;
    out.padding = false;
    uint8_t buf[PC_RTP_MAX + 128];
    int len = rtc_rtp_packet_write(&out, exts, n_ext, false, pkt + h.header_len, h.payload_len, 0, buf,
                                   PC_RTP_MAX + 64);
    if (len < 0) return RTC_ERR_OVERFLOW;
    rtc_rtp_history_put(t->history, buf, (size_t)len, now);
    rtc_rtp_send_stats_on_packet(t->send_stats, h.timestamp, h.payload_len, now);
    if (twcc_seq >= 0) rtc_rtp_twcc_sender_on_sent(pc->twcc_tx, (uint16_t)twcc_seq, (size_t)len + 10, now);
    t->packets_sent++;
    t->bytes_sent += h.payload_len;
    t->header_bytes_sent += (size_t)len - h.payload_len;
    t->last_pt = h.payload_type;
    t->last_ts = h.timestamp;
    t->sent_since_report = true;
    return protect_and_send(pc, buf, (size_t)len, sizeof buf, false, now);
}

static int send_one(rtc_pc_transceiver_t *t, uint8_t pt, bool marker, uint32_t ts, const uint8_t *payload,
                    size_t n, rtc_time_t now) {
    rtc_rtp_header_t h;
    memset(&h, 0, sizeof h);
    h.payload_type = pt;
    h.marker = marker;
    h.seq = t->seq++;
    h.timestamp = ts;
    h.ssrc = t->ssrc;
    uint8_t pkt[PC_RTP_MAX];
    int len = rtc_rtp_packet_write(&h, NULL, 0, false, payload, n, 0, pkt, sizeof pkt);
    if (len < 0) return len;
    return rtc_pc_transceiver_send_rtp(t, pkt, (size_t)len, now);
}

int rtc_pc_transceiver_send_frame(rtc_pc_transceiver_t *t, const char *codec_name, const uint8_t *frame,
                                  size_t n, uint32_t ts, rtc_time_t now) {
    if (!t || !codec_name || (!frame && n)) return RTC_ERR_INVALID_ARG;
    int pt = rtc_pc_transceiver_payload_type(t, codec_name);
    if (pt < 0) return RTC_ERR_NOT_FOUND;
    if (!pc_media_ready(t->pc) || !t->sending) return RTC_ERR_STATE;
    if (strcasecmp(codec_name, "VP8") == 0) {
        /* RFC 7741: X=1, S on the first packet, I=1 with a 15-bit PictureID. */
        const size_t max_payload = 1100;
        size_t off = 0;
        uint16_t pid = t->vp8_picture_id;
        t->vp8_picture_id = (uint16_t)((t->vp8_picture_id + 1) & 0x7fff);
        do {
            size_t chunk = n - off > max_payload ? max_payload : n - off;
            uint8_t buf[4 + 1100];
            buf[0] = (uint8_t)(0x80 | (off == 0 ? 0x10 : 0x00));
            buf[1] = 0x80;
            buf[2] = (uint8_t)(0x80 | (pid >> 8));
            buf[3] = (uint8_t)pid;
            memcpy(buf + 4, frame + off, chunk);
            off += chunk;
            int rc = send_one(t, (uint8_t)pt, off == n, ts, buf, chunk + 4, now);
            if (rc) return rc;
        } while (off < n);
        return RTC_OK;
    }
    if (n > PC_RTP_MAX - 100) return RTC_ERR_OVERFLOW;
    return send_one(t, (uint8_t)pt, false, ts, frame, n, now);
}

/* ------------------------------------------------------------------------------------------
 * RTCP out.
 */
/* Report blocks about everything we receive (at most 31). */
static void add_report_blocks(rtc_peer_connection_t *pc, rtc_rtcp_report_t *r, rtc_time_t now) {
    for (size_t i = 0; i < pc->n_tr; i++) {
        rtc_pc_transceiver_t *t = pc->tr[i];
        for (size_t k = 0; k < t->n_streams && r->report_count < RTC_RTCP_MAX_REPORTS; k++) {
            if (rtc_rtp_recv_stats_report_block(t->streams[k].stats, now, &r->reports[r->report_count]) == RTC_OK)
                r->report_count++;
        }
    }
}

static uint32_t rtcp_sender_ssrc(const rtc_peer_connection_t *pc) {
    return pc->n_tr ? pc->tr[0]->ssrc : 1;
}

/* One compound packet: SR/RR (+SDES) followed by whatever `extra` writes. */
typedef void (*extra_fn)(rtc_writer_t *w, void *arg);

static void send_compound(rtc_peer_connection_t *pc, rtc_pc_transceiver_t *sender, bool blocks, extra_fn extra,
                          void *arg, rtc_time_t now) {
    if (!pc_media_ready(pc)) return;
    uint8_t buf[1400];
    rtc_writer_t w;
    rtc_writer_init(&w, buf, 1200);
    rtc_rtcp_report_t r;
    memset(&r, 0, sizeof r);
    r.ssrc = sender ? sender->ssrc : rtcp_sender_ssrc(pc);
    if (sender && sender->packets_sent &&
        rtc_rtp_send_stats_sender_info(sender->send_stats, ntp_now(pc, now), now, &r.sender) == RTC_OK)
        r.has_sender_info = true;
    if (blocks) add_report_blocks(pc, &r, now);
    rtc_rtcp_write_report(&w, &r);
    rtc_rtcp_write_sdes_cname(&w, r.ssrc, pc->cname);
    if (extra) extra(&w, arg);
    if (w.err) return;
    protect_and_send(pc, buf, w.len, sizeof buf, true, now);
}

static void send_reports(rtc_peer_connection_t *pc, rtc_time_t now) {
    bool any_sender = false;
    bool blocks_done = false;
    for (size_t i = 0; i < pc->n_tr; i++) {
        rtc_pc_transceiver_t *t = pc->tr[i];
        if (!t->packets_sent) continue;
        any_sender = true;
        send_compound(pc, t, !blocks_done, NULL, NULL, now);
        blocks_done = true;
    }
    if (!any_sender) send_compound(pc, NULL, true, NULL, NULL, now);
}

typedef struct {
    uint32_t sender, media;
    const uint16_t *seqs;
    size_t n;
    bool pli;
} fb_arg_t;

static void write_fb(rtc_writer_t *w, void *arg) {
    fb_arg_t *a = arg;
    if (a->pli) rtc_rtcp_write_pli(w, a->sender, a->media);
    else rtc_rtcp_write_nack(w, a->sender, a->media, a->seqs, a->n);
}

int rtc_pc_transceiver_request_keyframe_rid(rtc_pc_transceiver_t *t, const char *rid,
                                            rtc_time_t now) {
    if (!t) return RTC_ERR_INVALID_ARG;
    if (!pc_media_ready(t->pc)) return RTC_ERR_STATE;
    pc_touch(t->pc, now);
    size_t sent = 0;
    for (size_t i = 0; i < t->n_streams; i++) {
        if (rid && rid[0] && strcmp(t->streams[i].rid, rid) != 0) continue;
        fb_arg_t a = {.sender = t->ssrc, .media = t->streams[i].ssrc, .pli = true};
        send_compound(t->pc, NULL, false, write_fb, &a, now);
        t->streams[i].plis_sent++;
        sent++;
    }
    return sent ? RTC_OK : RTC_ERR_NOT_FOUND;
}

int rtc_pc_transceiver_request_keyframe(rtc_pc_transceiver_t *t, rtc_time_t now) {
    return rtc_pc_transceiver_request_keyframe_rid(t, NULL, now);
}

static void send_twcc(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (!pc->twcc_rx || !pc_media_ready(pc)) return;
    for (int guard = 0; guard < 8; guard++) {
        uint8_t buf[1400];
        int n = rtc_rtp_twcc_receiver_build(pc->twcc_rx, now, false, buf, 1200);
        if (n <= 0) break;
        protect_and_send(pc, buf, (size_t)n, sizeof buf, true, now);
    }
}

/* ------------------------------------------------------------------------------------------
 * Receive path.
 */
static rtc_pc_transceiver_t *find_by_mid(rtc_peer_connection_t *pc, const char *mid) {
    for (size_t i = 0; i < pc->n_tr; i++)
        if (pc->tr[i]->mid[0] && strcmp(pc->tr[i]->mid, mid) == 0) return pc->tr[i];
    return NULL;
}

static pc_recv_stream_t *stream_by_ssrc(rtc_pc_transceiver_t *t, uint32_t ssrc, bool *is_rtx) {
    for (size_t i = 0; i < t->n_streams; i++) {
        if (t->streams[i].ssrc == ssrc) { *is_rtx = false; return &t->streams[i]; }
        if (t->streams[i].rtx_ssrc == ssrc) { *is_rtx = true; return &t->streams[i]; }
    }
    return NULL;
}

static rtc_pc_transceiver_t *demux(rtc_peer_connection_t *pc, const uint8_t *p, const rtc_rtp_header_t *h) {
    bool rtx;
    for (size_t i = 0; i < pc->n_tr; i++)
        if (stream_by_ssrc(pc->tr[i], h->ssrc, &rtx)) return pc->tr[i];
    (void)p;
    /* MID header extension (the ids are the same in every bundled section in practice, but
     * look each transceiver's own up). */
    for (size_t i = 0; i < pc->n_tr; i++) {
        const rtc_rtp_ext_t *e = rtc_rtp_find_ext_kind(h, &pc->tr[i]->ext, RTC_RTP_EXT_MID);
        char mid[PC_MID_SIZE];
        if (e && rtc_rtp_ext_parse_sdes(e, mid, sizeof mid) == RTC_OK) {
            rtc_pc_transceiver_t *t = find_by_mid(pc, mid);
            if (t) return t;
        }
    }
    for (size_t i = 0; i < pc->n_tr; i++) {
        rtc_pc_transceiver_t *t = pc->tr[i];
        for (size_t k = 0; k < t->n_remote_ssrcs; k++)
            if (t->remote_ssrcs[k] == h->ssrc || t->remote_rtx_ssrcs[k] == h->ssrc) return t;
    }
    /* Payload type, when exactly one receiving transceiver has it. */
    rtc_pc_transceiver_t *found = NULL;
    for (size_t i = 0; i < pc->n_tr; i++) {
        rtc_pc_transceiver_t *t = pc->tr[i];
        if (!t->receiving || !neg_codec_by_pt(t, h->payload_type)) continue;
        if (found) return NULL;
        found = t;
    }
    return found;
}

static pc_recv_stream_t *new_stream(rtc_pc_transceiver_t *t, uint32_t ssrc, const char *rid, uint32_t clock) {
    if (t->n_streams >= PC_MAX_RECV_STREAMS) return NULL;
    pc_recv_stream_t *s = &t->streams[t->n_streams];
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->clock = clock ? clock : 90000;
    snprintf(s->rid, sizeof s->rid, "%s", rid ? rid : "");
    for (size_t k = 0; k < t->n_remote_ssrcs; k++)
        if (t->remote_ssrcs[k] == ssrc) s->rtx_ssrc = t->remote_rtx_ssrcs[k];
    s->stats = rtc_rtp_recv_stats_new(ssrc, s->clock);
    if (t->kind == RTC_PC_MEDIA_VIDEO) s->nack = rtc_rtp_nack_generator_new(NULL);
    if (!s->stats || (t->kind == RTC_PC_MEDIA_VIDEO && !s->nack)) {
        rtc_rtp_recv_stats_free(s->stats);
        rtc_rtp_nack_generator_free(s->nack);
        return NULL;
    }
    t->n_streams++;
    return s;
}

static void deliver(rtc_peer_connection_t *pc, rtc_pc_transceiver_t *t, pc_recv_stream_t *s, const uint8_t *p,
                    size_t n, const rtc_rtp_header_t *h, bool retransmitted, rtc_time_t now) {
    const rtc_sdp_codec_t *codec = neg_codec_by_pt(t, h->payload_type);
    rtc_rtp_recv_stats_on_packet(s->stats, h->seq, h->timestamp, n, retransmitted, now);
    s->packets++;
    s->bytes += h->payload_len;
    s->header_bytes += h->header_len;
    s->last_pt = h->payload_type;
    s->last_packet_us = pc->created_wall_us + (now - pc->first_now);
    if (retransmitted) s->retransmitted++;
    if (s->nack && t->nack_fb) rtc_rtp_nack_generator_on_packet(s->nack, h->seq, now);
    if (h->payload_len == 0) return; /* padding only */
    if (pc->cb.on_rtp) {
        rtc_pc_rtp_info_t info;
        memset(&info, 0, sizeof info);
        info.ssrc = s->ssrc;
        info.payload_type = h->payload_type;
        info.codec = codec;
        snprintf(info.rid, sizeof info.rid, "%s", s->rid);
        info.retransmission = retransmitted;
        pc->cb.on_rtp(pc->user, t, p, n, &info);
    }
}

void pc_media_handle_rtp(rtc_peer_connection_t *pc, uint8_t *p, size_t n, rtc_time_t now) {
    size_t len = n;
    int rc = rtc_srtp_unprotect_rtp(pc->srtp, p, &len);
    if (rc) {
        pc->srtp_errors++;
        return;
    }
    rtc_rtp_header_t h;
    if (rtc_rtp_header_parse(p, len, &h) != RTC_OK) { pc->dropped_datagrams++; return; }
    rtc_pc_transceiver_t *t = demux(pc, p, &h);
    if (!t || !t->receiving) { pc->rtp_unknown_ssrc++; return; }

    /* Transport-wide CC: every packet with the extension counts, RTX and padding included. */
    const rtc_rtp_ext_t *te = rtc_rtp_find_ext_kind(&h, &t->ext, RTC_RTP_EXT_TWCC);
    uint16_t tseq;
    if (te && t->twcc_fb && rtc_rtp_ext_parse_twcc(te, &tseq) == RTC_OK) {
        if (!pc->twcc_rx) pc->twcc_rx = rtc_rtp_twcc_receiver_new(rtcp_sender_ssrc(pc), RTC_MS(100));
        if (pc->twcc_rx) rtc_rtp_twcc_receiver_on_packet(pc->twcc_rx, tseq, h.ssrc, now);
    }

    const rtc_sdp_codec_t *codec = neg_codec_by_pt(t, h.payload_type);
    int apt = codec ? apt_of(codec) : -1;
    char rid[17] = "";
    const rtc_rtp_ext_t *re = rtc_rtp_find_ext_kind(&h, &t->ext, apt >= 0 ? RTC_RTP_EXT_REPAIRED_RID : RTC_RTP_EXT_RID);
    if (re) rtc_rtp_ext_parse_sdes(re, rid, sizeof rid);
    bool is_rtx_ssrc = false;
    pc_recv_stream_t *s = stream_by_ssrc(t, h.ssrc, &is_rtx_ssrc);

    if (apt >= 0) {
        /* RTX: find the stream it repairs. */
        if (!s && rid[0]) {
            for (size_t i = 0; i < t->n_streams && !s; i++)
                if (strcmp(t->streams[i].rid, rid) == 0) s = &t->streams[i];
        }
        if (!s) {
            for (size_t k = 0; k < t->n_remote_ssrcs && !s; k++)
                if (t->remote_rtx_ssrcs[k] == h.ssrc) s = stream_by_ssrc(t, t->remote_ssrcs[k], &is_rtx_ssrc);
        }
        if (!s && t->n_streams == 1) s = &t->streams[0];
        if (!s) { pc->rtp_unknown_ssrc++; return; }
        if (!s->rtx_ssrc) s->rtx_ssrc = h.ssrc;
        if (h.payload_len < 2) return; /* padding probe */
        uint8_t orig[2048];
        int olen = rtc_rtp_rtx_unwrap(p, len, (uint8_t)apt, s->ssrc, orig, sizeof orig);
        if (olen < 0) return;
        rtc_rtp_header_t oh;
        if (rtc_rtp_header_parse(orig, (size_t)olen, &oh) != RTC_OK) return;
        deliver(pc, t, s, orig, (size_t)olen, &oh, true, now);
        return;
    }
    if (!s) {
        s = new_stream(t, h.ssrc, rid, codec ? codec->clock : 0);
        if (!s) { pc->rtp_unknown_ssrc++; return; }
        RTC_LOGD(PC_LOG, "%s: new remote stream ssrc %u on mid %s%s%s", pc->log_id, h.ssrc, t->mid,
                 rid[0] ? " rid " : "", rid);
    }
    deliver(pc, t, s, p, len, &h, false, now);
}

static rtc_pc_transceiver_t *sender_by_ssrc(rtc_peer_connection_t *pc, uint32_t ssrc) {
    for (size_t i = 0; i < pc->n_tr; i++)
        if (pc->tr[i]->ssrc == ssrc || (pc->tr[i]->rtx_ssrc && pc->tr[i]->rtx_ssrc == ssrc)) return pc->tr[i];
    return NULL;
}

static void on_report_blocks(rtc_peer_connection_t *pc, const rtc_rtcp_report_t *r, rtc_time_t now) {
    for (unsigned i = 0; i < r->report_count; i++) {
        const rtc_rtcp_report_block_t *rb = &r->reports[i];
        rtc_pc_transceiver_t *t = sender_by_ssrc(pc, rb->ssrc);
        if (!t || t->ssrc != rb->ssrc) continue;
        int64_t rtt = rtc_rtp_send_stats_on_report_block(t->send_stats, rb, ntp_now(pc, now));
        if (rtt > 0) {
            rtc_rtp_history_set_rtt(t->history, rtt);
            if (pc->bwe) rtc_bwe_set_rtt(pc->bwe, rtt);
        }
        t->remote_fraction_lost = rb->fraction_lost;
        t->remote_cumulative_lost = rb->cumulative_lost;
        t->remote_jitter = rb->jitter;
    }
}

static void probe_on_results(rtc_peer_connection_t *pc, const rtc_bwe_packet_t *res, size_t n, rtc_time_t now);

static void on_nack(rtc_peer_connection_t *pc, const rtc_rtcp_nack_t *nk, rtc_time_t now) {
    rtc_pc_transceiver_t *t = sender_by_ssrc(pc, nk->media_ssrc);
    if (!t) return;
    t->nacks_received++;
    uint16_t seqs[256];
    size_t n = rtc_rtcp_nack_seqs(nk, seqs, 256);
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[PC_RTP_MAX + 128];
        int len = rtc_rtp_history_resend(t->history, seqs[i], now, buf, PC_RTP_MAX + 64);
        if (len <= 0) continue;
        t->retransmitted_packets++;
        t->retransmitted_bytes += (size_t)len;
        protect_and_send(pc, buf, (size_t)len, sizeof buf, false, now);
    }
}

void pc_media_handle_rtcp(rtc_peer_connection_t *pc, uint8_t *p, size_t n, rtc_time_t now) {
    size_t len = n;
    if (rtc_srtp_unprotect_rtcp(pc->srtp, p, &len) != RTC_OK) {
        pc->srtp_errors++;
        return;
    }
    pc->rtcp_packets_received++;
    rtc_rtcp_iter_t it;
    rtc_rtcp_iter_init(&it, p, len);
    rtc_rtcp_packet_t pk;
    while (rtc_rtcp_iter_next(&it, &pk) == 1) {
        switch (pk.kind) {
        case RTC_RTCP_KIND_SR:
            for (size_t i = 0; i < pc->n_tr; i++) {
                bool rtx;
                pc_recv_stream_t *s = stream_by_ssrc(pc->tr[i], pk.u.report.ssrc, &rtx);
                if (s && !rtx) rtc_rtp_recv_stats_on_sr(s->stats, pk.u.report.sender.ntp_time, now);
            }
            on_report_blocks(pc, &pk.u.report, now);
            break;
        case RTC_RTCP_KIND_RR: on_report_blocks(pc, &pk.u.report, now); break;
        case RTC_RTCP_KIND_NACK: on_nack(pc, &pk.u.nack, now); break;
        case RTC_RTCP_KIND_PLI: {
            rtc_pc_transceiver_t *t = sender_by_ssrc(pc, pk.u.pli.media_ssrc);
            if (t) {
                t->plis_received++;
                if (pc->cb.on_keyframe_request) pc->cb.on_keyframe_request(pc->user, t, false);
            }
            break;
        }
        case RTC_RTCP_KIND_FIR:
            for (size_t i = 0; i < pk.u.fir.count; i++) {
                rtc_rtcp_fir_entry_t e = rtc_rtcp_fir_entry(&pk.u.fir, i);
                rtc_pc_transceiver_t *t = sender_by_ssrc(pc, e.ssrc);
                if (t) {
                    t->firs_received++;
                    if (pc->cb.on_keyframe_request) pc->cb.on_keyframe_request(pc->user, t, true);
                }
            }
            break;
        case RTC_RTCP_KIND_TWCC:
            if (pc->twcc_tx && pc->bwe) {
                rtc_bwe_packet_t res[512];
                int k = rtc_rtp_twcc_sender_on_feedback(pc->twcc_tx, &pk.u.twcc, res, 512);
                if (k > 0) {
                    rtc_bwe_on_feedback(pc->bwe, res, (size_t)k, now);
                    probe_on_results(pc, res, (size_t)k, now);
                }
            }
            break;
        case RTC_RTCP_KIND_REMB: pc->remb_bps = pk.u.remb.bitrate; break;
        default: break;
        }
        if (pc->closed) return;
    }
}

/* ------------------------------------------------------------------------------------------
 * Bandwidth probing: a cluster of padding-only packets on a video sender's RTX SSRC, paced at
 * a target rate, each with a transport-wide seq. The estimator sees them like any packet, and
 * their TWCC results measure the rate the path took (rtc_bwe_probe_rate), which lifts the
 * estimate at once (rtc_bwe_on_probe_result). This is what libwebrtc does when it has RTX
 * (RFC 3550 5.1 padding; RFC 4588 RTX on its own SSRC and sequence space shared with the
 * retransmissions, so the media stream's sequence numbers are untouched and receivers, which
 * drop padding-only packets before depacketising, count no gap).
 */
#define PROBE_PADDING 255              /* bytes of padding per packet: what one octet counts */
#define PROBE_MIN_PACKETS 8
#define PROBE_MAX_BURST 64             /* packets per timer turn, should the timer run late */
#define PROBE_MAX_DURATION RTC_SEC(1)
#define PROBE_RESULT_WAIT RTC_SEC(1)   /* after the last packet: then measure what arrived */
#define PROBE_WIRE_EXTRA 10            /* SRTP auth tag, as send_rtp counts it */

static bool probe_transceiver_ok(const rtc_pc_transceiver_t *t) {
    return t->kind == RTC_PC_MEDIA_VIDEO && t->sending && !t->stopped && t->twcc_fb && t->rtx_ssrc &&
           t->history_rtx_pt >= 0 && t->packets_sent && rtc_rtp_ext_map_id(&t->ext, RTC_RTP_EXT_TWCC);
}

static bool probe_transceiver_alive(const rtc_peer_connection_t *pc, const rtc_pc_transceiver_t *t) {
    for (size_t i = 0; i < pc->n_tr; i++)
        if (pc->tr[i] == t) return probe_transceiver_ok(t);
    return false;
}

static void probe_finish(rtc_peer_connection_t *pc, rtc_time_t now) {
    uint64_t r = rtc_bwe_probe_rate(&pc->probe.m);
    RTC_LOGD(PC_LOG, "%s: probe cluster at %llu bit/s: %u sent, %u received, %u lost: %llu bit/s", pc->log_id,
             (unsigned long long)pc->probe.bps, pc->probe.m.sent, pc->probe.m.received, pc->probe.m.lost,
             (unsigned long long)r);
    pc->probe.last_result_bps = r;
    if (r && pc->bwe) rtc_bwe_on_probe_result(pc->bwe, r, now);
    pc->probe.t = NULL;
    pc->probe.sending = false;
}

static void probe_abort(rtc_peer_connection_t *pc) {
    pc->probe.t = NULL;
    pc->probe.sending = false;
    pc->probe.last_result_bps = 0;
}

static int probe_send_one(rtc_peer_connection_t *pc, rtc_pc_transceiver_t *t, rtc_time_t now) {
    int rseq = rtc_rtp_history_next_rtx_seq(t->history);
    if (rseq < 0) return RTC_ERR_STATE;
    rtc_rtp_header_t h;
    memset(&h, 0, sizeof h);
    h.payload_type = (uint8_t)t->history_rtx_pt;
    h.seq = (uint16_t)rseq;
    h.timestamp = t->last_ts;
    h.ssrc = t->rtx_ssrc;
    pc_send_exts_t e;
    send_exts(t, &e, now);
    if (e.twcc_seq < 0) return RTC_ERR_STATE;
    uint8_t buf[PC_RTP_MAX + 128];
    int len = rtc_rtp_packet_write(&h, e.exts, e.n, false, NULL, 0, PROBE_PADDING, buf, PC_RTP_MAX + 64);
    if (len < 0) return len;
    size_t wire = (size_t)len + PROBE_WIRE_EXTRA;
    rtc_rtp_twcc_sender_on_sent(pc->twcc_tx, (uint16_t)e.twcc_seq, wire, now);
    if (!pc->probe.m.sent) pc->probe.first_seq = (uint16_t)e.twcc_seq;
    pc->probe.m.sent++;
    pc->probe.bytes_sent += wire;
    pc->probe.packets++;
    pc->probe.bytes += wire;
    return protect_and_send(pc, buf, (size_t)len, sizeof buf, false, now);
}

static void probe_send_due(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (!pc->probe.t || !pc->probe.sending || now < pc->probe.next_send) return;
    rtc_pc_transceiver_t *t = pc->probe.t;
    if (!probe_transceiver_alive(pc, t) || !pc->twcc_tx) {
        probe_abort(pc);
        return;
    }
    /* Paced from the cluster's start, but a turn sends at most what 1 ms is worth (+1): a
     * timer that fires late stretches the cluster (a lower, still valid, measured rate)
     * rather than sending it as one burst, whose send times collapse and which
     * rtc_bwe_probe_rate must then refuse (seen with Chromium under load). */
    uint64_t due = (uint64_t)(now - pc->probe.started) * pc->probe.bps / 8000000u;
    uint64_t per_ms = pc->probe.bps / 8000u / (RTC_RTP_HEADER_LEN + 24 + PROBE_PADDING + PROBE_WIRE_EXTRA);
    unsigned max_k = (unsigned)(per_ms + 1 < PROBE_MAX_BURST ? per_ms + 1 : PROBE_MAX_BURST);
    unsigned k = 0;
    while (pc->probe.bytes_sent < pc->probe.bytes_total && k < max_k && (k == 0 || pc->probe.bytes_sent <= due)) {
        if (probe_send_one(pc, t, now) < 0 && !pc->probe.m.sent) {
            probe_abort(pc);
            return;
        }
        k++;
    }
    if (pc->probe.bytes_sent >= pc->probe.bytes_total) {
        pc->probe.sending = false;
        pc->probe.ended = now;
        return;
    }
    rtc_time_t next = pc->probe.started + (rtc_time_t)(pc->probe.bytes_sent * 8000000u / pc->probe.bps);
    pc->probe.next_send = next > now ? next : now + RTC_MS(1);
    if (k == max_k && pc->probe.bytes_sent <= due) pc->probe.next_send = now + RTC_MS(1);
}

static void probe_on_results(rtc_peer_connection_t *pc, const rtc_bwe_packet_t *res, size_t n, rtc_time_t now) {
    if (!pc->probe.t || !pc->probe.m.sent) return;
    for (size_t i = 0; i < n; i++) {
        uint16_t off = (uint16_t)(res[i].seq - pc->probe.first_seq);
        if (off < pc->probe.m.sent) rtc_bwe_probe_add(&pc->probe.m, &res[i]);
    }
    if (!pc->probe.sending && pc->probe.m.received + pc->probe.m.lost >= pc->probe.m.sent) probe_finish(pc, now);
}

int rtc_peer_connection_probe(rtc_peer_connection_t *pc, uint64_t target_bps, rtc_time_t duration, rtc_time_t now) {
    if (!pc || !target_bps || duration <= 0) return RTC_ERR_INVALID_ARG;
    if (!pc_media_ready(pc) || !pc->bwe || !pc->twcc_tx) return RTC_ERR_STATE;
    if (pc->probe.t) return RTC_ERR_AGAIN;
    rtc_pc_transceiver_t *t = NULL;
    for (size_t i = 0; i < pc->n_tr && !t; i++)
        if (probe_transceiver_ok(pc->tr[i])) t = pc->tr[i];
    if (!t) return RTC_ERR_UNSUPPORTED;
    if (duration > PROBE_MAX_DURATION) duration = PROBE_MAX_DURATION;
    uint64_t total = target_bps * (uint64_t)duration / 8000000u;
    const uint64_t min_total = PROBE_MIN_PACKETS * (RTC_RTP_HEADER_LEN + 24 + PROBE_PADDING + PROBE_WIRE_EXTRA);
    if (total < min_total) total = min_total;
    memset(&pc->probe.m, 0, sizeof pc->probe.m);
    pc->probe.m.target_bps = target_bps;
    pc->probe.t = t;
    pc->probe.sending = true;
    pc->probe.bps = target_bps;
    pc->probe.bytes_total = (size_t)total;
    pc->probe.bytes_sent = 0;
    pc->probe.started = pc->probe.next_send = now;
    pc->probe.clusters++;
    pc_wakeup(pc);
    return RTC_OK;
}

int rtc_peer_connection_bandwidth(const rtc_peer_connection_t *pc, rtc_pc_bandwidth_t *out) {
    if (!pc || !out) return RTC_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->probing = pc->probe.t != NULL;
    out->last_probe_bps = pc->probe.last_result_bps;
    out->probes = pc->probe.clusters;
    out->probe_packets = pc->probe.packets;
    out->probe_bytes = pc->probe.bytes;
    if (!pc->bwe) return RTC_ERR_NOT_FOUND;
    out->target_bps = rtc_bwe_target_bps(pc->bwe);
    out->acked_bps = rtc_bwe_acked_bps(pc->bwe);
    out->loss = rtc_bwe_loss_ratio(pc->bwe);
    return RTC_OK;
}

/* ------------------------------------------------------------------------------------------
 * Timers.
 */
rtc_time_t pc_media_next_timeout(const rtc_peer_connection_t *pc) {
    /* The same condition pc_media_timeout acts on: a deadline it would not act on (ICE failed,
     * closed) would stay due and keep the timer firing. */
    if (!pc_media_ready(pc)) return RTC_TIME_NEVER;
    rtc_time_t t = pc->next_rtcp, x;
    for (size_t i = 0; i < pc->n_tr; i++) {
        const rtc_pc_transceiver_t *tr = pc->tr[i];
        if (!tr->nack_fb) continue;
        for (size_t k = 0; k < tr->n_streams; k++)
            if (tr->streams[k].nack && (x = rtc_rtp_nack_generator_next_timeout(tr->streams[k].nack)) < t) t = x;
    }
    if (pc->twcc_rx && (x = rtc_rtp_twcc_receiver_next_timeout(pc->twcc_rx)) < t) t = x;
    if (pc->probe.t) {
        x = pc->probe.sending ? pc->probe.next_send : pc->probe.ended + PROBE_RESULT_WAIT;
        if (x < t) t = x;
    }
    return t;
}

void pc_media_timeout(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (!pc_media_ready(pc)) return;
    if (pc->probe.t) {
        if (pc->probe.sending) probe_send_due(pc, now);
        else if (now >= pc->probe.ended + PROBE_RESULT_WAIT) probe_finish(pc, now);
    }
    for (size_t i = 0; i < pc->n_tr; i++) {
        rtc_pc_transceiver_t *t = pc->tr[i];
        if (!t->nack_fb) continue;
        for (size_t k = 0; k < t->n_streams; k++) {
            pc_recv_stream_t *s = &t->streams[k];
            if (!s->nack || rtc_rtp_nack_generator_next_timeout(s->nack) > now) continue;
            uint16_t seqs[128];
            size_t n = rtc_rtp_nack_generator_poll(s->nack, now, seqs, 128);
            if (n) {
                fb_arg_t a = {.sender = t->ssrc, .media = s->ssrc, .seqs = seqs, .n = n};
                send_compound(pc, NULL, false, write_fb, &a, now);
                s->nacks_sent++;
            }
            if (rtc_rtp_nack_generator_take_keyframe_request(s->nack) && t->pli_fb) {
                fb_arg_t a = {.sender = t->ssrc, .media = s->ssrc, .pli = true};
                send_compound(pc, NULL, false, write_fb, &a, now);
                s->plis_sent++;
            }
        }
    }
    if (pc->twcc_rx && rtc_rtp_twcc_receiver_next_timeout(pc->twcc_rx) <= now) send_twcc(pc, now);
    if (now >= pc->next_rtcp) {
        send_reports(pc, now);
        /* 1 s +- 50 % (RFC 3550 randomisation; WebRTC uses a 1 s video interval). */
        pc->next_rtcp = now + RTC_MS(500) + (rtc_time_t)rtc_random_uniform(1000) * RTC_MS(1);
    }
}
