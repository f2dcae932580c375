/* sdp/: RFC 8866 parse/write on real browser and library SDP, RFC 8839 candidates, codec
 * matching (RFC 6184 H.264), and malformed input that must fail naming its line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/sdp.h"
#include "test_sdp_fixtures.h"

/* ---- helpers ------------------------------------------------------------------------------ */

#define HEAD "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

static void parse_ok(const char *text, rtc_sdp_t *sdp) {
    rtc_sdp_error_t err;
    int rc = rtc_sdp_parse((const uint8_t *)text, strlen(text), sdp, &err);
    if (rc != RTC_OK) fprintf(stderr, "parse failed: line %u \"%s\": %s\n", err.line, err.text, err.reason);
    ck_assert_int_eq(rc, RTC_OK);
}

static char *write_sdp(const rtc_sdp_t *sdp) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(rtc_sdp_write(sdp, &b), RTC_OK);
    return (char *)b.data;
}

/* Splits text into sections (session, then one per m=) and sorts each section's lines, so two
 * descriptions can be compared as "the same lines per section, in any order". */
typedef struct {
    char **lines;
    size_t n;
} lines_t;

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static lines_t split_lines(const char *text) {
    lines_t l = {0};
    l.lines = calloc(8192, sizeof(char *));
    const char *p = text;
    while (*p) {
        const char *e = strstr(p, "\r\n");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        l.lines[l.n] = strndup(p, len);
        l.n++;
        p += len + (e ? 2 : 0);
    }
    return l;
}

static void free_lines(lines_t *l) {
    for (size_t i = 0; i < l->n; i++) free(l->lines[i]);
    free(l->lines);
}

/* Sorts each section in place: [0, first m=), [m=, next m=) ... */
static void sort_sections(lines_t *l) {
    size_t start = 0;
    for (size_t i = 1; i <= l->n; i++) {
        if (i == l->n || strncmp(l->lines[i], "m=", 2) == 0) {
            size_t from = start == 0 ? 0 : start + 1; /* keep the m= line first */
            qsort(l->lines + from, i - from, sizeof(char *), cmpstr);
            start = i;
        }
    }
}

static void assert_same_lines_per_section(const char *a, const char *b) {
    lines_t x = split_lines(a), y = split_lines(b);
    sort_sections(&x);
    sort_sections(&y);
    for (size_t i = 0; i < x.n && i < y.n; i++)
        if (strcmp(x.lines[i], y.lines[i]) != 0)
            ck_abort_msg("line %zu differs:\n  \"%s\"\n  \"%s\"", i, x.lines[i], y.lines[i]);
    ck_assert_uint_eq(x.n, y.n);
    free_lines(&x);
    free_lines(&y);
}

/* parse -> write -> parse gives an equal model; returns the written text. */
static char *round_trip(const char *text) {
    rtc_sdp_t a, b;
    parse_ok(text, &a);
    char *w = write_sdp(&a);
    parse_ok(w, &b);
    ck_assert(rtc_sdp_equal(&a, &b));
    char *w2 = write_sdp(&b);
    ck_assert_str_eq(w, w2);
    free(w2);
    rtc_sdp_free(&a);
    rtc_sdp_free(&b);
    return w;
}

static const rtc_sdp_codec_t *pt(const rtc_sdp_media_t *m, unsigned p) {
    const rtc_sdp_codec_t *c = rtc_sdp_media_find_pt(m, p);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* ---- real descriptions -------------------------------------------------------------------- */

START_TEST(chromium_simulcast_offer_parses_every_modelled_field) {
    rtc_sdp_t s;
    parse_ok(CHROMIUM_AV_SIMULCAST_OFFER, &s);
    ck_assert_str_eq(s.origin_user, "-");
    ck_assert_str_eq(s.session_id, "7797353330156581354");
    ck_assert_uint_eq(s.session_version, 2);
    ck_assert(s.extmap_allow_mixed);
    ck_assert(s.msid_semantic.present && s.msid_semantic.space);
    ck_assert_str_eq(s.msid_semantic.token, "WMS");
    const rtc_sdp_group_t *g = rtc_sdp_find_group(&s, "BUNDLE");
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->n_mids, 3);
    ck_assert_str_eq(g->mids[2], "2");
    ck_assert_uint_eq(s.n_media, 3);

    const rtc_sdp_media_t *a = &s.media[0];
    ck_assert_int_eq(a->kind, RTC_SDP_MEDIA_AUDIO);
    ck_assert_uint_eq(a->port, 9);
    ck_assert_str_eq(a->proto, "UDP/TLS/RTP/SAVPF");
    ck_assert(rtc_sdp_media_is_rtp(a));
    ck_assert_str_eq(a->mid, "0");
    ck_assert_int_eq(a->dir, RTC_SDP_DIR_SENDRECV);
    ck_assert(a->rtcp_mux && a->rtcp_rsize);
    ck_assert_str_eq(a->ice_ufrag, "pMXn");
    ck_assert_str_eq(a->ice_pwd, "IDQTB/VaAzihG8Vn/Z6u33fZ");
    ck_assert(rtc_sdp_media_has_ice_option(&s, a, "trickle"));
    ck_assert_uint_eq(a->n_fingerprints, 1);
    ck_assert_str_eq(a->fingerprints[0].hash, "sha-256");
    ck_assert_int_eq(a->setup, RTC_SDP_SETUP_ACTPASS);
    ck_assert_uint_eq(a->n_codecs, 8);
    const rtc_sdp_codec_t *opus = pt(a, 111);
    ck_assert_str_eq(opus->name, "opus");
    ck_assert_uint_eq(opus->clock, 48000);
    ck_assert_uint_eq(opus->channels, 2);
    ck_assert_str_eq(opus->fmtp, "minptime=10;useinbandfec=1");
    ck_assert_uint_eq(opus->n_fb, 1);
    ck_assert_str_eq(opus->fb[0], "transport-cc");
    ck_assert_str_eq(pt(a, 63)->name, "red");
    ck_assert_str_eq(pt(a, 63)->fmtp, "111/111");
    ck_assert_uint_eq(a->n_extmaps, 4);
    ck_assert_str_eq(a->extmaps[0].uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    ck_assert_uint_eq(a->n_msids, 1);
    ck_assert_str_eq(a->msids[0].track, "fc2712af-635d-4855-8f16-358094428b9b");
    ck_assert_str_eq(rtc_sdp_media_ssrc_attr(a, 3002933447u, "cname"), "fVU7VKIwRsEwImLd");
    /* a=rtcp-xr is not modelled: kept verbatim. */
    ck_assert_uint_eq(a->n_attrs, 1);
    ck_assert_str_eq(a->attrs[0].name, "rtcp-xr");
    ck_assert_str_eq(a->attrs[0].value, "rcvr-rtt=all");

    const rtc_sdp_media_t *v = &s.media[1];
    ck_assert_int_eq(v->kind, RTC_SDP_MEDIA_VIDEO);
    ck_assert_uint_eq(v->n_codecs, 23);
    ck_assert_str_eq(pt(v, 96)->name, "VP8");
    ck_assert_uint_eq(pt(v, 96)->n_fb, 5);
    ck_assert_str_eq(pt(v, 96)->fb[4], "nack pli");
    ck_assert_str_eq(pt(v, 97)->fmtp, "apt=96");
    ck_assert_str_eq(pt(v, 102)->fmtp, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f");
    ck_assert_str_eq(pt(v, 45)->name, "AV1");
    ck_assert_str_eq(pt(v, 100)->fmtp, "profile-id=2");
    ck_assert_str_eq(pt(v, 120)->name, "ulpfec");
    ck_assert_uint_eq(v->n_extmaps, 13);
    ck_assert_uint_eq(v->extmaps[10].id, 11);
    ck_assert_str_eq(v->extmaps[10].uri, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id");
    ck_assert_uint_eq(v->n_rids, 3);
    ck_assert_str_eq(v->rids[0].id, "h");
    ck_assert(v->rids[0].send);
    ck_assert_ptr_null(v->rids[0].params);
    ck_assert(v->simulcast.present);
    ck_assert_str_eq(v->simulcast.send, "h;m;l");
    ck_assert_ptr_null(v->simulcast.recv);
    ck_assert_uint_eq(v->n_ssrcs, 0);

    const rtc_sdp_media_t *d = &s.media[2];
    ck_assert_int_eq(d->kind, RTC_SDP_MEDIA_APPLICATION);
    ck_assert(rtc_sdp_media_is_sctp(d));
    ck_assert_str_eq(d->proto, "UDP/DTLS/SCTP");
    ck_assert_str_eq(d->fmt, "webrtc-datachannel");
    ck_assert_uint_eq(d->sctp_port, 5000);
    ck_assert_uint_eq(d->max_message_size, 262144);
    rtc_sdp_free(&s);
}
END_TEST

START_TEST(chromium_descriptions_write_back_byte_for_byte) {
    const char *all[] = {CHROMIUM_AV_SIMULCAST_OFFER, CHROMIUM_AV_OFFER, CHROMIUM_DC_OFFER, CHROMIUM_ANSWER_TO_OURS};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char *w = round_trip(all[i]);
        ck_assert_str_eq(w, all[i]);
        free(w);
    }
}
END_TEST

START_TEST(chromium_av_offer_ssrc_groups) {
    rtc_sdp_t s;
    parse_ok(CHROMIUM_AV_OFFER, &s);
    const rtc_sdp_media_t *v = &s.media[1];
    ck_assert_uint_eq(v->n_ssrc_groups, 1);
    ck_assert_str_eq(v->ssrc_groups[0].semantics, "FID");
    ck_assert_uint_eq(v->ssrc_groups[0].n_ssrcs, 2);
    ck_assert_uint_eq(v->ssrc_groups[0].ssrcs[0], 74196463u);
    ck_assert_uint_eq(v->ssrc_groups[0].ssrcs[1], 3409959214u);
    ck_assert_uint_eq(v->n_ssrcs, 4);
    ck_assert_str_eq(rtc_sdp_media_ssrc_attr(v, 3409959214u, "msid"),
                     "7bcf11f8-3bc9-4020-855f-61ec980527e5 ff19c7b4-92d3-4fb7-b704-d564377e3244");
    rtc_sdp_free(&s);

    parse_ok(CHROMIUM_DC_OFFER, &s);
    ck_assert_uint_eq(s.n_media, 1);
    ck_assert(s.msid_semantic.present);
    ck_assert_ptr_null(s.msid_semantic.ids);
    ck_assert_uint_eq(s.media[0].sctp_port, 5000);
    rtc_sdp_free(&s);
}
END_TEST

START_TEST(firefox_offer_round_trips_with_the_same_lines) {
    rtc_sdp_t s;
    parse_ok(FIREFOX_AV_OFFER, &s);
    ck_assert_str_eq(s.origin_user, "mozilla...THIS_IS_SDPARTA-99.0");
    ck_assert_uint_eq(s.n_fingerprints, 1); /* session-level fingerprint */
    ck_assert_str_eq(s.ice_options, "trickle");
    ck_assert(!s.msid_semantic.space);
    ck_assert_str_eq(s.msid_semantic.ids, "*");
    const rtc_sdp_media_t *a = &s.media[0];
    ck_assert_uint_eq(a->n_fingerprints, 0);
    ck_assert_ptr_nonnull(rtc_sdp_media_fingerprint(&s, a));
    ck_assert_str_eq(rtc_sdp_media_ice_ufrag(&s, a), "6c0579ea");
    ck_assert_int_eq(a->extmaps[1].dir, RTC_SDP_DIR_RECVONLY);
    ck_assert_str_eq(a->extmaps[1].uri, "urn:ietf:params:rtp-hdrext:csrc-audio-level");
    ck_assert_uint_eq(pt(a, 9)->channels, 1); /* "G722/8000/1" */
    ck_assert_str_eq(pt(a, 101)->fmtp, "0-15");
    ck_assert_str_eq(a->msids[0].stream, "-");
    const rtc_sdp_media_t *v = &s.media[1];
    /* Firefox writes fmtp, then rtcp-fb, then rtpmap: all land on the right codec. */
    ck_assert_str_eq(pt(v, 97)->name, "H264");
    ck_assert_str_eq(pt(v, 97)->fmtp, "profile-level-id=42e01f;level-asymmetry-allowed=1");
    ck_assert_uint_eq(pt(v, 97)->n_fb, 5);
    ck_assert_str_eq(pt(v, 124)->fmtp, "apt=120");
    ck_assert_uint_eq(v->ssrc_groups[0].ssrcs[0], 7463831u);
    rtc_sdp_free(&s);
    char *w = round_trip(FIREFOX_AV_OFFER);
    assert_same_lines_per_section(w, FIREFOX_AV_OFFER);
    free(w);
}
END_TEST

START_TEST(aiortc_descriptions_round_trip_with_the_same_lines) {
    const char *all[] = {AIORTC_OFFER, AIORTC_ANSWER_TO_CHROMIUM, AIORTC_ANSWER_TO_OURS};
    for (size_t i = 0; i < 3; i++) {
        char *w = round_trip(all[i]);
        assert_same_lines_per_section(w, all[i]);
        free(w);
    }
    rtc_sdp_t s;
    parse_ok(AIORTC_OFFER, &s);
    /* aiortc 1.4 uses the pre-RFC 8841 data channel form. */
    const rtc_sdp_media_t *d = &s.media[2];
    ck_assert_str_eq(d->proto, "DTLS/SCTP");
    ck_assert_str_eq(d->fmt, "5000");
    ck_assert_str_eq(d->attrs[0].name, "sctpmap");
    ck_assert_uint_eq(d->max_message_size, 65536);
    ck_assert(s.media[0].end_of_candidates);
    ck_assert_uint_eq(s.media[0].n_candidates, 1);
    ck_assert_str_eq(s.media[0].candidates[0].address, "127.0.0.1");
    ck_assert_str_eq(s.media[0].conn.address, "127.0.0.1");
    rtc_sdp_free(&s);
}
END_TEST

START_TEST(pion_descriptions_round_trip_with_the_same_lines) {
    const char *all[] = {PION_OFFER, PION_ANSWER_TO_CHROMIUM, PION_ANSWER_TO_OURS};
    for (size_t i = 0; i < 3; i++) {
        char *w = round_trip(all[i]);
        assert_same_lines_per_section(w, all[i]);
        free(w);
    }
    rtc_sdp_t s;
    parse_ok(PION_OFFER, &s);
    /* Pion: session-level fingerprint only, trailing spaces kept in rtcp-fb values, repeated
     * rtcp-fb lines kept, a=sendrecv on the application section kept. */
    ck_assert_uint_eq(s.n_fingerprints, 1);
    ck_assert_uint_eq(s.media[0].n_fingerprints, 0);
    ck_assert_str_eq(pt(&s.media[0], 111)->fb[0], "transport-cc ");
    ck_assert_uint_eq(pt(&s.media[1], 96)->n_fb, 7);
    ck_assert_str_eq(pt(&s.media[1], 123)->fmtp, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032");
    ck_assert_int_eq(s.media[2].dir, RTC_SDP_DIR_SENDRECV);
    ck_assert_str_eq(rtc_sdp_media_ssrc_attr(&s.media[0], 3826208707u, "mslabel"), "pion");
    ck_assert_str_eq(s.media[1].msids[0].stream, "pion");
    rtc_sdp_free(&s);
    parse_ok(PION_ANSWER_TO_CHROMIUM, &s);
    ck_assert_str_eq(s.media[1].simulcast.recv, "h;m;l");
    ck_assert(!s.media[1].rids[0].send);
    rtc_sdp_free(&s);
}
END_TEST

START_TEST(hand_built_model_writes_and_parses_back_equal) {
    rtc_sdp_t s;
    rtc_sdp_init(&s);
    rtc_sdp_set_str(&s.origin_user, "-");
    rtc_sdp_set_str(&s.session_id, "1");
    rtc_sdp_set_str(&s.origin_nettype, "IN");
    rtc_sdp_set_str(&s.origin_addrtype, "IP4");
    rtc_sdp_set_str(&s.origin_address, "127.0.0.1");
    rtc_sdp_set_str(&s.name, "-");
    s.ice_lite = true;
    rtc_sdp_media_t *m = rtc_sdp_add_media(&s);
    m->kind = RTC_SDP_MEDIA_VIDEO;
    rtc_sdp_set_str(&m->media, "video");
    rtc_sdp_set_str(&m->proto, "UDP/TLS/RTP/SAVPF");
    m->port = 9;
    rtc_sdp_set_str(&m->mid, "v");
    m->dir = RTC_SDP_DIR_RECVONLY;
    rtc_sdp_codec_t *c = rtc_sdp_media_add_codec(m);
    c->pt = 96;
    c->has_rtpmap = true;
    strcpy(c->name, "VP8");
    c->clock = 90000;
    rtc_sdp_strv_push(&c->fb, &c->n_fb, "nack pli");
    rtc_sdp_rid_t *r = rtc_sdp_media_add_rid(m);
    rtc_sdp_set_str(&r->id, "q");
    rtc_sdp_set_str(&r->params, "pt=96;max-width=320");
    m->simulcast.present = true;
    rtc_sdp_set_str(&m->simulcast.recv, "q");
    rtc_sdp_attr_t *x = rtc_sdp_media_add_attr(m);
    rtc_sdp_set_str(&x->name, "x-unknown");
    char *w = write_sdp(&s);
    ck_assert_ptr_nonnull(strstr(w, "a=ice-lite\r\n"));
    ck_assert_ptr_nonnull(strstr(w, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"));
    ck_assert_ptr_nonnull(strstr(w, "a=rid:q recv pt=96;max-width=320\r\na=simulcast:recv q\r\n"));
    ck_assert_ptr_nonnull(strstr(w, "a=x-unknown\r\n"));
    rtc_sdp_t back;
    parse_ok(w, &back);
    uint8_t pts[4];
    ck_assert_int_eq(rtc_sdp_rid_pts(&back.media[0].rids[0], pts, 4), 1);
    ck_assert_uint_eq(pts[0], 96);
    /* The unknown attribute was written after the last group, and reads back there. */
    ck_assert(rtc_sdp_equal(&s, &back));
    free(w);
    rtc_sdp_free(&s);
    rtc_sdp_free(&back);
}
END_TEST

START_TEST(legacy_simulcast_ssrc_groups_and_two_fingerprints) {
    /* Plan-B style simulcast (a=ssrc-group:SIM) as older Chromium wrote it, FID groups per
     * layer, two fingerprints, recv-first simulcast with alternatives and a paused stream. */
    const char *text = HEAD
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
        "a=fingerprint:sha-256 AB:CD\r\n"
        "a=fingerprint:sha-1 01:02\r\n"
        "a=mid:v\r\n"
        "a=rtpmap:96 VP8/90000\r\n"
        "a=rtpmap:97 rtx/90000\r\n"
        "a=fmtp:97 apt=96\r\n"
        "a=rid:1 recv pt=96;max-width=1280;max-height=720\r\n"
        "a=rid:2 recv\r\n"
        "a=rid:3 send\r\n"
        "a=simulcast:recv 1,~2 send 3\r\n"
        "a=ssrc-group:SIM 10 20 30\r\n"
        "a=ssrc-group:FID 10 11\r\n"
        "a=ssrc:10 cname:x\r\n"
        "a=ssrc:10 msid:s t\r\n"
        "a=ssrc:11 cname:x\r\n";
    rtc_sdp_t s;
    parse_ok(text, &s);
    const rtc_sdp_media_t *m = &s.media[0];
    ck_assert_uint_eq(m->n_fingerprints, 2);
    ck_assert_str_eq(m->fingerprints[1].hash, "sha-1");
    ck_assert_str_eq(m->ssrc_groups[0].semantics, "SIM");
    ck_assert_uint_eq(m->ssrc_groups[0].n_ssrcs, 3);
    ck_assert_uint_eq(m->ssrc_groups[0].ssrcs[2], 30);
    ck_assert_str_eq(rtc_sdp_media_ssrc_attr(m, 10, "msid"), "s t");
    ck_assert(m->simulcast.recv_first);
    ck_assert_str_eq(m->simulcast.recv, "1,~2");
    ck_assert_str_eq(m->simulcast.send, "3");
    ck_assert_str_eq(m->rids[0].params, "pt=96;max-width=1280;max-height=720");
    rtc_sdp_free(&s);
    char *w = round_trip(text);
    ck_assert_str_eq(w, text);
    free(w);
}
END_TEST

START_TEST(lf_only_line_endings_are_accepted) {
    char *lf = strdup(CHROMIUM_DC_OFFER);
    char *o = lf;
    for (const char *p = lf; *p; p++)
        if (*p != '\r') *o++ = *p;
    *o = '\0';
    rtc_sdp_t s;
    parse_ok(lf, &s);
    char *w = write_sdp(&s);
    ck_assert_str_eq(w, CHROMIUM_DC_OFFER);
    free(w);
    free(lf);
    rtc_sdp_free(&s);
}
END_TEST

/* ---- candidates --------------------------------------------------------------------------- */

static void cand_round_trip(const char *line, const char *expect_out) {
    rtc_sdp_candidate_t c;
    const char *why = NULL;
    int rc = rtc_sdp_candidate_parse(line, strlen(line), &c, &why);
    if (rc) fprintf(stderr, "candidate \"%s\": %s\n", line, why);
    ck_assert_int_eq(rc, RTC_OK);
    char out[1024];
    ck_assert_int_gt(rtc_sdp_candidate_format(&c, out, sizeof out), 0);
    ck_assert_str_eq(out, expect_out);
}

START_TEST(candidates_from_browsers_parse_and_format) {
    /* Chromium with an mDNS host name and a srflx with raddr/rport, from millicast/flutter-sdk
     * test/mocks/sdp_mock.dart. */
    const char *mdns = "candidate:1560499547 1 udp 2113937151 2cf0b2c0-0842-4fe3-aaa0-4556a2dfbadc.local "
                       "33192 typ host generation 0 network-cost 999";
    rtc_sdp_candidate_t c;
    ck_assert_int_eq(rtc_sdp_candidate_parse(mdns, strlen(mdns), &c, NULL), RTC_OK);
    ck_assert(rtc_sdp_candidate_is_mdns(&c));
    ck_assert_str_eq(c.foundation, "1560499547");
    ck_assert_uint_eq(c.component, 1);
    ck_assert_str_eq(c.transport, "udp");
    ck_assert_uint_eq(c.priority, 2113937151u);
    ck_assert_uint_eq(c.port, 33192);
    ck_assert_str_eq(c.type, "host");
    ck_assert_int_eq(c.generation, 0);
    ck_assert_int_eq(c.network_cost, 999);
    ck_assert_int_eq(c.network_id, -1);
    ck_assert(!c.has_related);
    cand_round_trip(mdns, mdns);
    const char *srflx = "a=candidate:842163049 1 udp 1677729535 186.50.9.10 52200 typ srflx raddr 0.0.0.0 "
                        "rport 0 generation 0 network-cost 999";
    ck_assert_int_eq(rtc_sdp_candidate_parse(srflx, strlen(srflx), &c, NULL), RTC_OK);
    ck_assert(c.has_related);
    ck_assert_str_eq(c.raddr, "0.0.0.0");
    ck_assert_uint_eq(c.rport, 0);
    ck_assert(!rtc_sdp_candidate_is_mdns(&c));
    cand_round_trip(srflx, srflx + 2);
    /* Chromium with ufrag and network-id, from aws/amazon-chime-sdk-js test/sdp/SDPMock.ts. */
    const char *chime = "candidate:MOCK9004 1 udp 2122260223 10.88.178.121 52788 typ host generation 0 ufrag "
                        "PWwO network-id 2 network-cost 50";
    ck_assert_int_eq(rtc_sdp_candidate_parse(chime, strlen(chime), &c, NULL), RTC_OK);
    ck_assert_str_eq(c.ufrag, "PWwO");
    ck_assert_int_eq(c.network_id, 2);
    cand_round_trip(chime, chime);
    /* Firefox TCP active and relay, from aws/amazon-chime-sdk-js test/sdp/FirefoxSDPMock.ts. */
    const char *fftcp = "candidate:1 1 TCP 2105524479 192.168.8.221 9 typ host tcptype active";
    ck_assert_int_eq(rtc_sdp_candidate_parse(fftcp, strlen(fftcp), &c, NULL), RTC_OK);
    ck_assert_str_eq(c.transport, "TCP");
    ck_assert_str_eq(c.tcptype, "active");
    cand_round_trip(fftcp, fftcp);
    /* IPv6, an unknown extension kept verbatim, and Pion's order (tcptype before raddr) which
     * is written back in RFC 8839 order. */
    cand_round_trip("candidate:3 1 udp 100 2001:db8::1 5000 typ relay raddr 2001:db8::2 rport 6000 x-foo bar",
                    "candidate:3 1 udp 100 2001:db8::1 5000 typ relay raddr 2001:db8::2 rport 6000 x-foo bar");
    cand_round_trip("candidate:4 1 tcp 1671430143 10.0.0.1 8443 typ srflx tcptype passive raddr 0.0.0.0 rport 8443",
                    "candidate:4 1 tcp 1671430143 10.0.0.1 8443 typ srflx raddr 0.0.0.0 rport 8443 tcptype passive");
}
END_TEST

START_TEST(malformed_candidates_are_refused_with_a_reason) {
    const char *bad[] = {
        "candidate:1 1 udp 100 10.0.0.1 5000 typ",                    /* no type */
        "candidate:1 1 udp 100 10.0.0.1 5000 host host",              /* no "typ" */
        "candidate:1 0 udp 100 10.0.0.1 5000 typ host",               /* component 0 */
        "candidate:1 1 udp 0 10.0.0.1 5000 typ host",                 /* priority 0 */
        "candidate:1 1 udp 4294967296 10.0.0.1 5000 typ host",        /* priority > 32 bits */
        "candidate:1 1 udp 100 10.0.0.1 65536 typ host",              /* port */
        "candidate:1 1 udp 100 999.1.1.1 5000 typ host",              /* not an IP nor a name */
        "candidate:1 1 udp 100 fe80::zz 5000 typ host",               /* bad IPv6 */
        "candidate:1 1 udp 100 10.0.0.1 5000 typ srflx raddr 1.2.3.4", /* raddr without rport */
        "candidate:1 1 udp 100 10.0.0.1 5000 typ host generation",    /* name without value */
        "candidate:1 1 udp 100 10.0.0.1 5000 typ host generation x",  /* not a number */
        "candidate:f*o 1 udp 100 10.0.0.1 5000 typ host",             /* foundation not ice-chars */
        "candidate:123456789012345678901234567890123 1 udp 1 10.0.0.1 5000 typ host", /* 33 chars */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rtc_sdp_candidate_t c;
        const char *why = NULL;
        ck_assert_msg(rtc_sdp_candidate_parse(bad[i], strlen(bad[i]), &c, &why) == RTC_ERR_MALFORMED,
                      "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

/* ---- malformed descriptions --------------------------------------------------------------- */

#define MV "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"

typedef struct {
    const char *sdp;
    unsigned line;
    const char *reason; /* a substring of the reason */
    int code;
} bad_sdp_t;

static const bad_sdp_t bad_sdps[] = {
    {"", 0, "lacks", RTC_ERR_MALFORMED},
    {"v=1\r\n", 1, "v= is not 0", RTC_ERR_MALFORMED},
    {"x=0\r\n", 1, "first line", RTC_ERR_MALFORMED},
    {"v=0\r\ns=-\r\n", 2, "second line is not o=", RTC_ERR_MALFORMED},
    {"v=0\r\no=- 1 2 IN IP4\r\ns=-\r\nt=0 0\r\n", 2, "6 fields", RTC_ERR_MALFORMED},
    {"v=0\r\no=- x 2 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n", 2, "session id", RTC_ERR_MALFORMED},
    {"v=0\r\no=- 1 99999999999999999999 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n", 2, "version", RTC_ERR_MALFORMED},
    {"v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\nt=0 0\r\n", 3, "third line", RTC_ERR_MALFORMED},
    {"v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\n", 0, "no t=", RTC_ERR_MALFORMED},
    {"v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\n", 4, "before any t=", RTC_ERR_MALFORMED},
    {HEAD "t=1\r\n", 5, "t=", RTC_ERR_MALFORMED},
    {HEAD "t=0 0\r\n", 5, "more than one t=", RTC_ERR_MALFORMED},
    {HEAD "q=what\r\n", 5, "unknown line type", RTC_ERR_MALFORMED},
    {HEAD "garbage\r\n", 5, "<type>=<value>", RTC_ERR_MALFORMED},
    {HEAD "a=ok\r\n\r\na=x\r\n", 6, "empty line", RTC_ERR_MALFORMED},
    {HEAD "a=bad\001byte\r\n", 5, "control byte", RTC_ERR_MALFORMED},
    {HEAD "c=IN IP4\r\n", 5, "c= needs", RTC_ERR_MALFORMED},
    {HEAD "b=AS\r\n", 5, "b= needs", RTC_ERR_MALFORMED},
    {HEAD "b=AS:lots\r\n", 5, "not a number", RTC_ERR_MALFORMED},
    {HEAD "a=group:BUNDLE 0 0\r\n", 5, "twice", RTC_ERR_MALFORMED},
    {HEAD "a=setup:sideways\r\n", 5, "a=setup", RTC_ERR_MALFORMED},
    {HEAD "a=ice-ufrag:ab\r\n", 5, "ice-ufrag", RTC_ERR_MALFORMED},
    {HEAD "a=ice-pwd:short\r\n", 5, "ice-pwd", RTC_ERR_MALFORMED},
    {HEAD "a=fingerprint:sha-256 ZZ:11\r\n", 5, "fingerprint", RTC_ERR_MALFORMED},
    {HEAD "a=fingerprint:sha-256\r\n", 5, "fingerprint", RTC_ERR_MALFORMED},
    {HEAD "a=msid-semantic:\r\n", 5, "msid-semantic", RTC_ERR_MALFORMED},
    {HEAD "m=video\r\n", 5, "m= needs", RTC_ERR_MALFORMED},
    {HEAD "m=video 9 UDP/TLS/RTP/SAVPF\r\n", 5, "no formats", RTC_ERR_MALFORMED},
    {HEAD "m=video 70000 UDP/TLS/RTP/SAVPF 96\r\n", 5, "port", RTC_ERR_MALFORMED},
    {HEAD "m=video 9/0 UDP/TLS/RTP/SAVPF 96\r\n", 5, "port count", RTC_ERR_MALFORMED},
    {HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96 128\r\n", 5, "payload type", RTC_ERR_MALFORMED},
    {HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96 96\r\n", 5, "twice", RTC_ERR_MALFORMED},
    {HEAD MV "t=0 0\r\n", 6, "inside a media", RTC_ERR_MALFORMED},
    {HEAD MV "c=IN IP4 0.0.0.0\r\nc=IN IP4 0.0.0.0\r\n", 7, "second c=", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtpmap:96\r\n", 6, "rtpmap", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtpmap:96 VP8\r\n", 6, "<name>/<clock>", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtpmap:96 VP8/0\r\n", 6, "clock", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtpmap:96 VP8/90000/0\r\n", 6, "channels", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtpmap:200 VP8/90000\r\n", 6, "payload type", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtpmap:96 VP8/90000\r\na=rtpmap:96 VP9/90000\r\n", 7, "twice", RTC_ERR_MALFORMED},
    {HEAD MV "a=fmtp:96 a=1\r\na=fmtp:96 b=2\r\n", 7, "twice", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtcp-fb:96\r\n", 6, "rtcp-fb", RTC_ERR_MALFORMED},
    {HEAD MV "a=extmap:0 urn:x\r\n", 6, "extmap id", RTC_ERR_MALFORMED},
    {HEAD MV "a=extmap:1/sideways urn:x\r\n", 6, "direction", RTC_ERR_MALFORMED},
    {HEAD MV "a=extmap:1 urn:x\r\na=extmap:1 urn:y\r\n", 7, "twice", RTC_ERR_MALFORMED},
    {HEAD MV "a=extmap:1\r\n", 6, "extmap", RTC_ERR_MALFORMED},
    {HEAD MV "a=mid:0\r\na=mid:1\r\n", 7, "a=mid appears twice", RTC_ERR_MALFORMED},
    {HEAD MV "a=mid:0\r\n" MV "a=mid:0\r\n", 8, "another m=", RTC_ERR_MALFORMED},
    {HEAD MV "a=sendrecv\r\na=recvonly\r\n", 7, "direction", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtcp-mux\r\na=rtcp-mux\r\n", 7, "twice", RTC_ERR_MALFORMED},
    {HEAD MV "a=rtcp:x\r\n", 6, "a=rtcp", RTC_ERR_MALFORMED},
    {HEAD MV "a=candidate:1 1 udp 1 1.2.3.4 5 typ\r\n", 6, "a=candidate", RTC_ERR_MALFORMED},
    {HEAD MV "a=msid:\r\n", 6, "msid", RTC_ERR_MALFORMED},
    {HEAD MV "a=msid:a b c\r\n", 6, "msid", RTC_ERR_MALFORMED},
    {HEAD MV "a=ssrc:1\r\n", 6, "no attribute", RTC_ERR_MALFORMED},
    {HEAD MV "a=ssrc:4294967296 cname:x\r\n", 6, "ssrc", RTC_ERR_MALFORMED},
    {HEAD MV "a=ssrc-group:FID\r\n", 6, "no SSRC", RTC_ERR_MALFORMED},
    {HEAD MV "a=ssrc-group:FID 1 x\r\n", 6, "32-bit", RTC_ERR_MALFORMED},
    {HEAD MV "a=rid:h sideways\r\n", 6, "send or recv", RTC_ERR_MALFORMED},
    {HEAD MV "a=rid:h! send\r\n", 6, "rid id", RTC_ERR_MALFORMED},
    {HEAD MV "a=rid:h send\r\na=rid:h send\r\n", 7, "twice", RTC_ERR_MALFORMED},
    {HEAD MV "a=rid:h send pt=96,x\r\n", 6, "pt=", RTC_ERR_MALFORMED},
    {HEAD MV "a=simulcast:send\r\n", 6, "simulcast", RTC_ERR_MALFORMED},
    {HEAD MV "a=simulcast:send h;;l\r\n", 6, "list", RTC_ERR_MALFORMED},
    {HEAD MV "a=simulcast:send h send l\r\n", 6, "same direction", RTC_ERR_MALFORMED},
    {HEAD MV "a=simulcast:up h\r\n", 6, "send or recv", RTC_ERR_MALFORMED},
    {HEAD "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:0\r\n", 6, "sctp-port", RTC_ERR_MALFORMED},
    {HEAD "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=max-message-size:-1\r\n", 6, "max-message-size",
     RTC_ERR_MALFORMED},
    {HEAD "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nu=http://x\r\n", 6, "session-level",
     RTC_ERR_MALFORMED},
};

START_TEST(every_kind_of_malformed_line_is_refused_naming_the_line) {
    const bad_sdp_t *b = &bad_sdps[_i];
    rtc_sdp_t s;
    rtc_sdp_error_t err;
    int rc = rtc_sdp_parse((const uint8_t *)b->sdp, strlen(b->sdp), &s, &err);
    ck_assert_msg(rc == b->code, "case %d: rc %d, want %d (%s)", _i, rc, b->code, err.reason);
    ck_assert_int_eq(err.code, rc);
    ck_assert_msg(err.line == b->line, "case %d: line %u, want %u (%s)", _i, err.line, b->line, err.reason);
    ck_assert_msg(strstr(err.reason, b->reason) != NULL, "case %d: reason \"%s\" lacks \"%s\"", _i, err.reason,
                  b->reason);
    if (b->line) {
        /* The error quotes the line's own text. */
        const char *p = b->sdp;
        for (unsigned k = 1; k < b->line; k++) p = strchr(p, '\n') + 1;
        size_t cmp = strcspn(err.text, "?"); /* control bytes are shown as '?' */
        ck_assert_int_eq(strncmp(err.text, p, cmp), 0);
        ck_assert(cmp > 0 || *p == '\r');
    }
    /* The model is left empty and freeing it again is harmless. */
    ck_assert_uint_eq(s.n_media, 0);
    rtc_sdp_free(&s);
}
END_TEST

START_TEST(limits_stop_huge_descriptions) {
    rtc_sdp_t s;
    rtc_sdp_error_t err;
    /* One line longer than RTC_SDP_MAX_LINE. */
    size_t n = strlen(HEAD) + 2 + RTC_SDP_MAX_LINE + 10;
    char *big = malloc(n + 1);
    strcpy(big, HEAD "a=");
    memset(big + strlen(HEAD) + 2, 'x', RTC_SDP_MAX_LINE);
    strcpy(big + strlen(HEAD) + 2 + RTC_SDP_MAX_LINE, "\r\n");
    ck_assert_int_eq(rtc_sdp_parse((const uint8_t *)big, strlen(big), &s, &err), RTC_ERR_LIMIT);
    ck_assert_uint_eq(err.line, 5);
    free(big);
    /* More than RTC_SDP_MAX_SIZE bytes in all. */
    big = malloc(RTC_SDP_MAX_SIZE + 2);
    memset(big, 'a', RTC_SDP_MAX_SIZE + 1);
    ck_assert_int_eq(rtc_sdp_parse((const uint8_t *)big, RTC_SDP_MAX_SIZE + 1, &s, &err), RTC_ERR_LIMIT);
    free(big);
    /* More than RTC_SDP_MAX_LINES short lines. */
    rtc_buf_t b;
    rtc_buf_init(&b);
    rtc_buf_append_str(&b, HEAD);
    for (int i = 0; i < RTC_SDP_MAX_LINES; i++) rtc_buf_append_str(&b, "a=x\r\n");
    ck_assert_int_eq(rtc_sdp_parse(b.data, b.len, &s, &err), RTC_ERR_LIMIT);
    ck_assert_uint_eq(err.line, RTC_SDP_MAX_LINES + 1);
    rtc_buf_clear(&b);
    /* More than RTC_SDP_MAX_MEDIA sections. */
    rtc_buf_append_str(&b, HEAD);
    for (int i = 0; i <= RTC_SDP_MAX_MEDIA; i++) rtc_buf_append_str(&b, "m=audio 9 RTP/AVP 0\r\n");
    ck_assert_int_eq(rtc_sdp_parse(b.data, b.len, &s, &err), RTC_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.reason, "m="));
    rtc_buf_free(&b);
}
END_TEST

START_TEST(unknown_attributes_and_lines_are_kept_verbatim) {
    const char *text = "v=0\r\n"
                       "o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\n"
                       "s=Call to John Smith\r\n"
                       "i=SDP Offer #1\r\n"
                       "u=http://www.jdoe.example.com/home.html\r\n"
                       "e=Jane Doe <jane@jdoe.example.com>\r\n"
                       "p=+1 617 555-6011\r\n"
                       "c=IN IP4 198.51.100.1\r\n"
                       "t=0 0\r\n"
                       "a=x-session-thing:42\r\n"
                       "m=audio 49170 RTP/AVP 0\r\n"
                       "m=audio 49180 RTP/AVP 0\r\n"
                       "i=second stream\r\n"
                       "b=AS:64\r\n"
                       "a=rtcp-fb:* nack\r\n"
                       "a=recvonly\r\n"
                       "a=fmtp:99 not-listed\r\n"
                       "m=video 51372 RTP/AVP 99\r\n"
                       "c=IN IP6 2001:db8::2\r\n"
                       "a=rtpmap:99 h263-1998/90000\r\n";
    /* RFC 8866 section 5 example, with additions. */
    rtc_sdp_t s;
    parse_ok(text, &s);
    ck_assert_str_eq(s.name, "Call to John Smith");
    ck_assert_uint_eq(s.n_lines, 4);
    ck_assert_int_eq(s.lines[1].type, 'u');
    ck_assert_str_eq(s.attrs[0].name, "x-session-thing");
    ck_assert_str_eq(pt(&s.media[0], 0)->name, "PCMU"); /* static payload type */
    ck_assert(!pt(&s.media[0], 0)->has_rtpmap);
    ck_assert_uint_eq(s.media[1].n_attrs, 2);
    ck_assert_str_eq(s.media[1].attrs[0].value, "* nack");
    ck_assert_uint_eq(s.media[1].bw[0].value, 64);
    ck_assert_str_eq(s.media[2].conn.addrtype, "IP6");
    rtc_sdp_free(&s);
    char *w = round_trip(text);
    assert_same_lines_per_section(w, text);
    free(w);
}
END_TEST

/* ---- codecs ------------------------------------------------------------------------------- */

static rtc_sdp_codec_t mk(const char *name, uint32_t clock, uint8_t ch, const char *fmtp) {
    rtc_sdp_codec_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.clock = clock;
    c.channels = ch;
    c.fmtp = (char *)fmtp;
    return c;
}

START_TEST(h264_profile_level_id_follows_rfc_6184) {
    rtc_h264_plid_t p;
    ck_assert_int_eq(rtc_h264_plid_parse("42e01f", &p), RTC_OK);
    ck_assert_int_eq(p.profile, RTC_H264_PROFILE_CONSTRAINED_BASELINE);
    ck_assert_uint_eq(p.level_idc, 31);
    ck_assert_int_eq(rtc_h264_plid_parse("42001f", &p), RTC_OK);
    ck_assert_int_eq(p.profile, RTC_H264_PROFILE_BASELINE);
    ck_assert_int_eq(rtc_h264_plid_parse("4d001f", &p), RTC_OK);
    ck_assert_int_eq(p.profile, RTC_H264_PROFILE_MAIN);
    ck_assert_int_eq(rtc_h264_plid_parse("640c34", &p), RTC_OK);
    ck_assert_int_eq(p.profile, RTC_H264_PROFILE_CONSTRAINED_HIGH);
    ck_assert_uint_eq(p.level_idc, 52);
    ck_assert_int_eq(rtc_h264_plid_parse("640032", &p), RTC_OK);
    ck_assert_int_eq(p.profile, RTC_H264_PROFILE_HIGH);
    ck_assert_int_eq(rtc_h264_plid_parse("42f00b", &p), RTC_OK); /* constraint_set3 + level 11 = 1b */
    ck_assert_uint_eq(p.level_idc, 9);
    ck_assert_int_lt(rtc_h264_level_cmp(10, 9), 0);
    ck_assert_int_lt(rtc_h264_level_cmp(9, 11), 0);
    ck_assert_int_eq(rtc_h264_plid_parse("42e0", &p), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_h264_plid_parse("zze01f", &p), RTC_ERR_MALFORMED);
    ck_assert_int_eq(rtc_h264_plid_parse("ff001f", &p), RTC_ERR_MALFORMED);

    /* Same profile, different levels: a match (level asymmetry). */
    rtc_sdp_codec_t a = mk("H264", 90000, 0, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
    rtc_sdp_codec_t b = mk("h264", 90000, 0, "profile-level-id=42e034;packetization-mode=1");
    ck_assert(rtc_sdp_codec_match(&a, &b));
    /* Different packetization-mode: no match. */
    rtc_sdp_codec_t c = mk("H264", 90000, 0, "profile-level-id=42e01f");
    ck_assert(!rtc_sdp_codec_match(&a, &c));
    /* Different profile (baseline vs constrained baseline vs main): no match. */
    rtc_sdp_codec_t d = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=42001f");
    rtc_sdp_codec_t e = mk("H264", 90000, 0, "packetization-mode=1;profile-level-id=4d001f");
    ck_assert(!rtc_sdp_codec_match(&a, &d));
    ck_assert(!rtc_sdp_codec_match(&a, &e));
    /* Absent profile-level-id is constrained baseline, as browsers treat it. */
    rtc_sdp_codec_t f = mk("H264", 90000, 0, "packetization-mode=1");
    ck_assert(rtc_sdp_codec_match(&a, &f));
}
END_TEST

START_TEST(codec_matching_by_name_clock_channels_and_profile) {
    rtc_sdp_codec_t opus = mk("opus", 48000, 2, "minptime=10;useinbandfec=1");
    rtc_sdp_codec_t opus2 = mk("OPUS", 48000, 2, NULL);
    rtc_sdp_codec_t opus1 = mk("opus", 48000, 1, NULL);
    ck_assert(rtc_sdp_codec_match(&opus, &opus2));
    ck_assert(!rtc_sdp_codec_match(&opus, &opus1));
    rtc_sdp_codec_t pcmu = mk("PCMU", 8000, 0, NULL), pcmu1 = mk("PCMU", 8000, 1, NULL);
    ck_assert(rtc_sdp_codec_match(&pcmu, &pcmu1)); /* absent channels = 1 */
    rtc_sdp_codec_t vp9a = mk("VP9", 90000, 0, "profile-id=0"), vp9b = mk("VP9", 90000, 0, NULL);
    rtc_sdp_codec_t vp9c = mk("VP9", 90000, 0, "profile-id=2");
    ck_assert(rtc_sdp_codec_match(&vp9a, &vp9b));
    ck_assert(!rtc_sdp_codec_match(&vp9a, &vp9c));
    rtc_sdp_codec_t av1a = mk("AV1", 90000, 0, "level-idx=5;profile=0;tier=0"), av1b = mk("AV1", 90000, 0, NULL);
    rtc_sdp_codec_t av1c = mk("AV1", 90000, 0, "profile=1");
    ck_assert(rtc_sdp_codec_match(&av1a, &av1b));
    ck_assert(!rtc_sdp_codec_match(&av1a, &av1c));
    rtc_sdp_codec_t vp8 = mk("VP8", 90000, 0, NULL), vp8b = mk("VP8", 48000, 0, NULL);
    ck_assert(!rtc_sdp_codec_match(&vp8, &vp8b));
    ck_assert(!rtc_sdp_codec_match(&vp8, &vp9a));

    char v[32];
    ck_assert_int_eq(rtc_sdp_fmtp_get("a=1; Profile-Level-Id = 42e01f ;c", "profile-level-id", v, sizeof v), 6);
    ck_assert_str_eq(v, "42e01f");
    ck_assert_int_eq(rtc_sdp_fmtp_get("a=1", "b", v, sizeof v), RTC_ERR_NOT_FOUND);
    ck_assert_int_eq(rtc_sdp_fmtp_get("a=123456", "a", v, 3), RTC_ERR_OVERFLOW);
    ck_assert_uint_eq(rtc_sdp_fmtp_get_uint("apt=96", "apt", 0), 96);
    ck_assert_uint_eq(rtc_sdp_fmtp_get_uint("apt=x", "apt", 7), 7);
}
END_TEST

START_TEST(simulcast_lists_split_into_rids) {
    const char *ids[8];
    char buf[64];
    int n = rtc_sdp_simulcast_rids("h;~m;l1,l2", buf, sizeof buf, ids, 8);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(ids[0], "h");
    ck_assert_str_eq(ids[1], "m");
    ck_assert_str_eq(ids[2], "l1");
}
END_TEST

int main(void) {
    Suite *s = suite_create("sdp");
    TCase *tc = tcase_create("parse_write");
    tcase_add_test(tc, chromium_simulcast_offer_parses_every_modelled_field);
    tcase_add_test(tc, chromium_descriptions_write_back_byte_for_byte);
    tcase_add_test(tc, chromium_av_offer_ssrc_groups);
    tcase_add_test(tc, firefox_offer_round_trips_with_the_same_lines);
    tcase_add_test(tc, aiortc_descriptions_round_trip_with_the_same_lines);
    tcase_add_test(tc, pion_descriptions_round_trip_with_the_same_lines);
    tcase_add_test(tc, hand_built_model_writes_and_parses_back_equal);
    tcase_add_test(tc, legacy_simulcast_ssrc_groups_and_two_fingerprints);
    tcase_add_test(tc, lf_only_line_endings_are_accepted);
    tcase_add_test(tc, unknown_attributes_and_lines_are_kept_verbatim);
    suite_add_tcase(s, tc);
    tc = tcase_create("candidates");
    tcase_add_test(tc, candidates_from_browsers_parse_and_format);
    tcase_add_test(tc, malformed_candidates_are_refused_with_a_reason);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, every_kind_of_malformed_line_is_refused_naming_the_line, 0,
                        (int)(sizeof bad_sdps / sizeof bad_sdps[0]));
    tcase_add_test(tc, limits_stop_huge_descriptions);
    suite_add_tcase(s, tc);
    tc = tcase_create("codecs");
    tcase_add_test(tc, h264_profile_level_id_follows_rfc_6184);
    tcase_add_test(tc, codec_matching_by_name_clock_channels_and_profile);
    tcase_add_test(tc, simulcast_lists_split_into_rids);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
