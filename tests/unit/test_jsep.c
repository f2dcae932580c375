/* sdp/jsep: offers and answers (RFC 8829) against real Chromium, Firefox, aiortc and Pion
 * descriptions: codecs intersected with the offerer's payload types kept, rids reversed,
 * BUNDLE and a=setup rules, and answers from real peers to our own offer.
 *
 * Set SDP_DUMP_OFFER=1 to print our standard offer (the one the real peers answered in
 * test_sdp_fixtures.h) and exit; SDP_ANSWER_OFFER=<file> to print the SFU answer to the offer
 * in that file (tests/unit/sdp/chromium_applies_answer.js feeds it to Chromium). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/sdp.h"
#include "test_sdp_fixtures.h"

/* ---- our side: codecs, extensions, credentials -------------------------------------------- */

static char *fb_video[] = {"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"};
static char *fb_audio[] = {"transport-cc"};

static const rtc_sdp_codec_t audio_codecs[] = {
    {.pt = 111, .name = "opus", .clock = 48000, .channels = 2, .fmtp = "minptime=10;useinbandfec=1",
     .fb = fb_audio, .n_fb = 1},
    {.pt = 0, .name = "PCMU", .clock = 8000},
};

static const rtc_sdp_codec_t video_codecs[] = {
    {.pt = 96, .name = "VP8", .clock = 90000, .fb = fb_video, .n_fb = 5},
    {.pt = 97, .name = "rtx", .clock = 90000, .fmtp = "apt=96"},
    {.pt = 102, .name = "H264", .clock = 90000,
     .fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", .fb = fb_video, .n_fb = 5},
    {.pt = 103, .name = "rtx", .clock = 90000, .fmtp = "apt=102"},
    {.pt = 98, .name = "VP9", .clock = 90000, .fmtp = "profile-id=0", .fb = fb_video, .n_fb = 5},
    {.pt = 99, .name = "rtx", .clock = 90000, .fmtp = "apt=98"},
    {.pt = 45, .name = "AV1", .clock = 90000, .fb = fb_video, .n_fb = 5},
    {.pt = 46, .name = "rtx", .clock = 90000, .fmtp = "apt=45"},
};

static const rtc_sdp_extmap_t audio_ext[] = {
    {.id = 1, .uri = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"},
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

static const rtc_sdp_fingerprint_t our_fp = {
    "sha-256", "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"};

static rtc_jsep_local_t our_local(void) {
    return (rtc_jsep_local_t){.session_id = "4611686018427387904", .session_version = 1,
                              .ice_ufrag = "sTaR", .ice_pwd = "starlingstarlingstarling",
                              .trickle = true, .fingerprints = &our_fp, .n_fingerprints = 1,
                              .stream_ids_semantic = ""};
}

static const uint32_t audio_ssrc[] = {1111};
static const char *const rids3[] = {"h", "m", "l"};

/* The offer a Starling publisher-side PeerConnection makes: audio with one SSRC, video with
 * three simulcast layers by rid, and a data channel. */
static int make_our_offer(rtc_sdp_t *out) {
    rtc_jsep_section_t s[3] = {
        {.kind = RTC_SDP_MEDIA_AUDIO, .mid = "0", .direction = RTC_SDP_DIR_SENDRECV, .codecs = audio_codecs,
         .n_codecs = 2, .extmaps = audio_ext, .n_extmaps = 3, .stream_id = "starling", .track_id = "mic",
         .cname = "starling-cname", .ssrcs = audio_ssrc, .n_ssrcs = 1},
        {.kind = RTC_SDP_MEDIA_VIDEO, .mid = "1", .direction = RTC_SDP_DIR_SENDRECV, .codecs = video_codecs,
         .n_codecs = 8, .extmaps = video_ext, .n_extmaps = 5, .stream_id = "starling", .track_id = "cam",
         .cname = "starling-cname", .send_rids = rids3, .n_send_rids = 3},
        {.kind = RTC_SDP_MEDIA_APPLICATION, .mid = "2"},
    };
    rtc_jsep_local_t l = our_local();
    return rtc_jsep_create_offer(&l, s, 3, out);
}

static void build_our_offer(rtc_sdp_t *out) { ck_assert_int_eq(make_our_offer(out), RTC_OK); }

/* What an SFU answers with: everything received, simulcast accepted, data channel. */
static const rtc_jsep_section_t sfu_templates[] = {
    {.kind = RTC_SDP_MEDIA_AUDIO, .direction = RTC_SDP_DIR_RECVONLY, .codecs = audio_codecs, .n_codecs = 2,
     .extmaps = audio_ext, .n_extmaps = 3},
    {.kind = RTC_SDP_MEDIA_VIDEO, .direction = RTC_SDP_DIR_RECVONLY, .codecs = video_codecs, .n_codecs = 8,
     .extmaps = video_ext, .n_extmaps = 5, .receive_simulcast = true},
    {.kind = RTC_SDP_MEDIA_APPLICATION},
};

/* ---- helpers ------------------------------------------------------------------------------ */

static void parse_ok(const char *text, rtc_sdp_t *sdp) {
    rtc_sdp_error_t err;
    int rc = rtc_sdp_parse((const uint8_t *)text, strlen(text), sdp, &err);
    if (rc != RTC_OK) fprintf(stderr, "parse failed: line %u \"%s\": %s\n", err.line, err.text, err.reason);
    ck_assert_int_eq(rc, RTC_OK);
}

/* Writes, reparses and checks the model survives: what we send is valid SDP. */
static void reparse(const rtc_sdp_t *sdp, rtc_sdp_t *back) {
    rtc_buf_t b;
    rtc_buf_init(&b);
    ck_assert_int_eq(rtc_sdp_write(sdp, &b), RTC_OK);
    parse_ok((const char *)b.data, back);
    ck_assert(rtc_sdp_equal(sdp, back));
    rtc_buf_free(&b);
}

static void assert_pts(const rtc_sdp_media_t *m, const unsigned *want, size_t n) {
    for (size_t i = 0; i < n && i < m->n_codecs; i++)
        ck_assert_msg(m->codecs[i].pt == want[i], "mid %s codec %zu: pt %u, want %u", m->mid, i, m->codecs[i].pt,
                      want[i]);
    ck_assert_uint_eq(m->n_codecs, n);
}

/* Every answered codec is offered under the same payload type with the same codec, and every
 * answered extmap id is an offered one with the same URI. */
static void assert_answer_subset(const rtc_sdp_media_t *om, const rtc_sdp_media_t *am) {
    for (size_t i = 0; i < am->n_codecs; i++) {
        const rtc_sdp_codec_t *oc = rtc_sdp_media_find_pt(om, am->codecs[i].pt);
        ck_assert_ptr_nonnull(oc);
        ck_assert_str_eq(oc->name, am->codecs[i].name);
        ck_assert_uint_eq(oc->clock, am->codecs[i].clock);
    }
    for (size_t i = 0; i < am->n_extmaps; i++) {
        bool found = false;
        for (size_t k = 0; k < om->n_extmaps; k++)
            if (om->extmaps[k].id == am->extmaps[i].id && !strcmp(om->extmaps[k].uri, am->extmaps[i].uri))
                found = true;
        ck_assert(found);
    }
}

/* Answers a real offer as the SFU and checks the answer is consistent with it. */
static void sfu_answer(const char *offer_text, rtc_sdp_t *offer, rtc_sdp_t *answer, rtc_jsep_result_t *res) {
    parse_ok(offer_text, offer);
    rtc_jsep_local_t l = our_local();
    ck_assert_int_eq(rtc_jsep_create_answer(offer, &l, sfu_templates, 3, answer), RTC_OK);
    rtc_sdp_t back;
    reparse(answer, &back);
    rtc_sdp_free(&back);
    ck_assert_uint_eq(answer->n_media, offer->n_media);
    for (size_t i = 0; i < offer->n_media; i++) {
        ck_assert_str_eq(answer->media[i].mid, offer->media[i].mid);
        assert_answer_subset(&offer->media[i], &answer->media[i]);
    }
    ck_assert_int_eq(rtc_jsep_negotiate(offer, answer, false, res), RTC_OK);
}

/* ---- answering real offers ---------------------------------------------------------------- */

START_TEST(answer_to_chromium_simulcast_offer) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    sfu_answer(CHROMIUM_AV_SIMULCAST_OFFER, &o, &a, &r);
    /* BUNDLE: all three accepted, the offer's order. */
    const rtc_sdp_group_t *g = rtc_sdp_find_group(&a, "BUNDLE");
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->n_mids, 3);
    ck_assert_str_eq(g->mids[0], "0");
    ck_assert_str_eq(g->mids[2], "2");

    const rtc_sdp_media_t *au = &a.media[0];
    ck_assert_uint_eq(au->port, 9);
    ck_assert_int_eq(au->dir, RTC_SDP_DIR_RECVONLY);
    ck_assert_int_eq(au->setup, RTC_SDP_SETUP_ACTIVE); /* answerer to actpass: active */
    ck_assert_str_eq(au->ice_ufrag, "sTaR");
    ck_assert(au->rtcp_mux);
    /* opus and PCMU kept with Chromium's payload types; red (63), G722, CN, DTMF dropped. */
    assert_pts(au, (const unsigned[]){111, 0}, 2);
    ck_assert_str_eq(au->codecs[0].fmtp, "minptime=10;useinbandfec=1");
    ck_assert_uint_eq(au->codecs[0].n_fb, 1);
    /* Offered audio-level (1), mid (4) and transport-cc (3): kept under Chromium's ids. */
    ck_assert_uint_eq(au->n_extmaps, 4 - 1); /* abs-send-time (2) is not ours for audio */
    ck_assert_uint_eq(au->extmaps[0].id, 1);

    const rtc_sdp_media_t *v = &a.media[1];
    /* Our preference order, Chromium's payload types, each RTX after its codec: VP8 96/97,
     * H.264 constrained baseline packetization-mode 1 (108/109, not 102 which is baseline),
     * VP9 profile 0 (98/99), AV1 (45/46). */
    assert_pts(v, (const unsigned[]){96, 97, 108, 109, 98, 99, 45, 46}, 8);
    ck_assert_str_eq(v->codecs[1].fmtp, "apt=96");
    ck_assert_str_eq(v->codecs[3].fmtp, "apt=108");
    ck_assert_uint_eq(v->codecs[0].n_fb, 5);
    /* Simulcast reversed: Chromium sends h;m;l, we receive them. */
    ck_assert_uint_eq(v->n_rids, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(v->rids[i].id, rids3[i]);
        ck_assert(!v->rids[i].send);
    }
    ck_assert(v->simulcast.present);
    ck_assert_str_eq(v->simulcast.recv, "h;m;l");
    ck_assert_ptr_null(v->simulcast.send);
    ck_assert_uint_eq(v->n_extmaps, 5);

    const rtc_sdp_media_t *d = &a.media[2];
    ck_assert_str_eq(d->proto, "UDP/DTLS/SCTP");
    ck_assert_str_eq(d->fmt, "webrtc-datachannel");
    ck_assert_uint_eq(d->sctp_port, 5000);

    /* What was negotiated, from our (answerer) side. */
    ck_assert_uint_eq(r.n_media, 3);
    ck_assert(r.dtls_client);
    ck_assert_str_eq(r.remote_ice_ufrag, "pMXn");
    ck_assert_str_eq(r.remote_fingerprint->hash, "sha-256");
    ck_assert_int_eq(r.media[1].direction, RTC_SDP_DIR_RECVONLY);
    ck_assert(r.media[1].bundled);
    ck_assert_uint_eq(r.media[1].transport, 0);
    ck_assert_uint_eq(r.media[1].n_codecs, 8);
    ck_assert_uint_eq(r.media[1].remote->n_rids, 3);
    ck_assert_uint_eq(r.media[2].sctp_port, 5000);
    ck_assert_uint_eq(r.media[2].max_message_size, 262144);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

START_TEST(answer_that_chromium_applied) {
    /* Chromium applied exactly this answer to its offer (see the fixture's note and
     * tests/interop/test_sdp_chromium.sh): it kept these codecs and all three encodings. */
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    sfu_answer(CHROMIUM_SENDONLY_SIMULCAST_OFFER, &o, &a, &r);
    assert_pts(&a.media[0], (const unsigned[]){111, 0}, 2);
    assert_pts(&a.media[1], (const unsigned[]){96, 97, 108, 109, 98, 99, 45, 46}, 8);
    ck_assert_str_eq(a.media[1].simulcast.recv, "h;m;l");
    ck_assert_int_eq(a.media[0].dir, RTC_SDP_DIR_RECVONLY);
    ck_assert_int_eq(a.media[1].dir, RTC_SDP_DIR_RECVONLY);
    ck_assert_uint_eq(a.media[2].max_message_size, 262144);
    ck_assert_int_eq(r.media[1].direction, RTC_SDP_DIR_RECVONLY);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

START_TEST(answer_to_chromium_datachannel_only_offer) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    sfu_answer(CHROMIUM_DC_OFFER, &o, &a, &r);
    ck_assert_uint_eq(a.n_media, 1);
    ck_assert_uint_eq(a.media[0].port, 9);
    ck_assert_uint_eq(a.media[0].sctp_port, 5000);
    ck_assert_uint_eq(a.media[0].max_message_size, 262144);
    ck_assert_int_eq(a.media[0].setup, RTC_SDP_SETUP_ACTIVE);
    ck_assert(!r.media[0].rejected);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

START_TEST(answer_to_firefox_offer) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    sfu_answer(FIREFOX_AV_OFFER, &o, &a, &r);
    /* Firefox: opus 109, PCMU 0; VP8 120/124, H.264 126/127 (pm 1), VP9 121/125. 97 is H.264
     * packetization-mode 0: not ours. */
    assert_pts(&a.media[0], (const unsigned[]){109, 0}, 2);
    assert_pts(&a.media[1], (const unsigned[]){120, 124, 126, 127, 121, 125}, 6);
    ck_assert_str_eq(a.media[1].codecs[1].fmtp, "apt=120");
    /* Firefox's playout-delay extmap is /recvonly and not ours; csrc-audio-level not ours. */
    for (size_t i = 0; i < a.media[0].n_extmaps; i++) ck_assert_uint_ne(a.media[0].extmaps[i].id, 2);
    /* Session-level fingerprint in the offer is found for the transport. */
    ck_assert_str_eq(r.remote_fingerprint->value, o.fingerprints[0].value);
    ck_assert_str_eq(r.remote_ice_ufrag, "6c0579ea");
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

START_TEST(answer_to_aiortc_offer_with_legacy_datachannel) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    sfu_answer(AIORTC_OFFER, &o, &a, &r);
    assert_pts(&a.media[0], (const unsigned[]){96, 0}, 2);
    /* aiortc VP8 97/98, H.264 42e01f pm1 101/102 (99 is 42001f baseline). */
    assert_pts(&a.media[1], (const unsigned[]){97, 98, 101, 102}, 4);
    /* "m=application ... DTLS/SCTP 5000" + a=sctpmap is answered in kind. */
    const rtc_sdp_media_t *d = &a.media[2];
    ck_assert_uint_eq(d->port, 9);
    ck_assert_str_eq(d->proto, "DTLS/SCTP");
    ck_assert_str_eq(d->fmt, "5000");
    ck_assert_str_eq(d->attrs[0].name, "sctpmap");
    ck_assert_str_eq(d->attrs[0].value, "5000 webrtc-datachannel 65535");
    ck_assert_uint_eq(r.media[2].sctp_port, 5000);
    ck_assert_uint_eq(r.media[2].max_message_size, 65536);
    /* aiortc offers each section with its own ufrag under BUNDLE: the tag's is used. */
    ck_assert_str_eq(r.remote_ice_ufrag, o.media[0].ice_ufrag);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

START_TEST(answer_to_pion_offer) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    sfu_answer(PION_OFFER, &o, &a, &r);
    assert_pts(&a.media[0], (const unsigned[]){111, 0}, 2);
    /* Pion: VP8 96/97, H.264 42e01f pm1 125/107, VP9 profile 0 98/99 (100 is profile 1). */
    assert_pts(&a.media[1], (const unsigned[]){96, 97, 125, 107, 98, 99}, 6);
    /* Pion lists "nack " (trailing space) and "nack pli" twice: matched word by word, once
     * each, in Pion's order and our spelling. */
    const rtc_sdp_codec_t *vp8 = &a.media[1].codecs[0];
    const char *want[] = {"goog-remb", "ccm fir", "nack", "nack pli", "transport-cc"};
    ck_assert_uint_eq(vp8->n_fb, 5);
    for (int i = 0; i < 5; i++) ck_assert_str_eq(vp8->fb[i], want[i]);
    ck_assert_uint_eq(a.media[1].codecs[1].n_fb, 0); /* we list no feedback for RTX */
    ck_assert_uint_eq(r.media[2].sctp_port, 5000);
    /* Pion's offer has only a session-level fingerprint. */
    ck_assert_ptr_nonnull(r.remote_fingerprint);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

/* ---- real peers answering our offer ------------------------------------------------------- */

START_TEST(our_offer_is_stable_and_well_formed) {
    rtc_sdp_t o, back;
    build_our_offer(&o);
    reparse(&o, &back);
    ck_assert_uint_eq(o.n_media, 3);
    const rtc_sdp_group_t *g = rtc_sdp_find_group(&o, "BUNDLE");
    ck_assert_uint_eq(g->n_mids, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(o.media[i].port, 9);
        ck_assert_int_eq(o.media[i].setup, RTC_SDP_SETUP_ACTPASS);
        ck_assert_str_eq(o.media[i].ice_pwd, "starlingstarlingstarling");
        ck_assert_str_eq(o.media[i].ice_options, "trickle");
    }
    ck_assert_str_eq(o.media[0].msids[0].track, "mic");
    ck_assert_str_eq(rtc_sdp_media_ssrc_attr(&o.media[0], 1111, "cname"), "starling-cname");
    ck_assert_str_eq(o.media[1].simulcast.send, "h;m;l");
    ck_assert_uint_eq(o.media[1].n_rids, 3);
    ck_assert(o.media[1].rids[2].send);
    ck_assert_uint_eq(o.media[2].sctp_port, 5000);
    rtc_sdp_free(&o);
    rtc_sdp_free(&back);
}
END_TEST

/* One real peer's answer to build_our_offer(): checks it and negotiates. */
static void negotiate_real_answer(const char *answer_text, bool expect_simulcast, rtc_sdp_dir_t our_dir,
                                  rtc_jsep_result_t *r, rtc_sdp_t *o, rtc_sdp_t *a) {
    build_our_offer(o);
    parse_ok(answer_text, a);
    /* The peer answered this exact offer: our ICE credentials are what it saw. */
    ck_assert_int_eq(rtc_jsep_negotiate(o, a, true, r), RTC_OK);
    ck_assert_uint_eq(r->n_media, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert(!r->media[i].rejected);
        assert_answer_subset(&o->media[i], &a->media[i]);
    }
    /* Answerers pick active against our actpass, so we are the DTLS server. */
    ck_assert(!r->dtls_client);
    ck_assert_int_eq(r->media[0].direction, our_dir);
    ck_assert_int_eq(r->media[1].direction, our_dir);
    ck_assert_uint_ge(r->media[1].n_codecs, 1);
    if (expect_simulcast) {
        const rtc_sdp_media_t *v = r->media[1].remote;
        ck_assert(v->simulcast.present);
        ck_assert_str_eq(v->simulcast.recv, "h;m;l");
        ck_assert_uint_eq(v->n_rids, 3);
        ck_assert(!v->rids[0].send);
    }
}

START_TEST(chromium_answers_our_offer) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    negotiate_real_answer(CHROMIUM_ANSWER_TO_OURS, false, RTC_SDP_DIR_SENDRECV, &r, &o, &a);
    /* Chromium keeps our payload types and all eight of our video codecs, VP8 first. */
    ck_assert_uint_eq(r.media[1].n_codecs, 8);
    ck_assert_uint_eq(r.media[1].codecs[0].pt, 96);
    ck_assert_str_eq(r.media[1].codecs[2].name, "H264");
    ck_assert_uint_eq(r.media[1].n_extmaps, 5);
    ck_assert_str_eq(r.remote_ice_ufrag, "ALqA");
    ck_assert_uint_eq(r.media[2].sctp_port, 5000);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

START_TEST(aiortc_answers_our_offer) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    negotiate_real_answer(AIORTC_ANSWER_TO_OURS, false, RTC_SDP_DIR_SENDONLY, &r, &o, &a);
    /* aiortc answers the data channel in the RFC 8841 form to our offer. */
    ck_assert_uint_eq(r.media[2].sctp_port, 5000);
    ck_assert_uint_eq(r.media[2].max_message_size, 65536);
    ck_assert_str_eq(r.remote_ice_ufrag, "4EV7");
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

START_TEST(pion_answers_our_offer) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    negotiate_real_answer(PION_ANSWER_TO_OURS, true, RTC_SDP_DIR_SENDONLY, &r, &o, &a);
    /* Pion's answer: VP8/H.264/VP9 with their RTX, under our payload types; no AV1. */
    ck_assert_uint_eq(r.media[1].n_codecs, 6);
    ck_assert_uint_eq(r.media[1].codecs[2].pt, 102);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
}
END_TEST

START_TEST(real_answers_to_chromium_offer_negotiate) {
    /* aiortc and Pion answering Chromium's simulcast offer: we see both sides as a third
     * party would (we_offered false = we hold the answer's side). */
    const char *answers[] = {AIORTC_ANSWER_TO_CHROMIUM, PION_ANSWER_TO_CHROMIUM};
    for (int i = 0; i < 2; i++) {
        rtc_sdp_t o, a;
        rtc_jsep_result_t r;
        parse_ok(CHROMIUM_AV_SIMULCAST_OFFER, &o);
        parse_ok(answers[i], &a);
        ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, false, &r), RTC_OK);
        ck_assert_int_eq(r.media[1].direction, RTC_SDP_DIR_RECVONLY);
        ck_assert(r.dtls_client);
        rtc_jsep_result_free(&r);
        rtc_sdp_free(&o);
        rtc_sdp_free(&a);
    }
}
END_TEST

/* ---- JSEP rules --------------------------------------------------------------------------- */

START_TEST(max_bundle_initial_offer_marks_later_sections_bundle_only) {
    rtc_jsep_section_t s[3] = {
        {.kind = RTC_SDP_MEDIA_AUDIO, .mid = "a", .direction = RTC_SDP_DIR_RECVONLY, .codecs = audio_codecs, .n_codecs = 2},
        {.kind = RTC_SDP_MEDIA_VIDEO, .mid = "v", .direction = RTC_SDP_DIR_RECVONLY, .codecs = video_codecs, .n_codecs = 8},
        {.kind = RTC_SDP_MEDIA_VIDEO, .mid = "x", .stopped = true, .codecs = video_codecs, .n_codecs = 1},
    };
    rtc_jsep_local_t l = our_local();
    l.bundle_policy = RTC_JSEP_BUNDLE_MAX_BUNDLE;
    l.initial = true;
    rtc_sdp_candidate_t cand;
    const char *cs = "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host";
    ck_assert_int_eq(rtc_sdp_candidate_parse(cs, strlen(cs), &cand, NULL), RTC_OK);
    l.candidates = &cand;
    l.n_candidates = 1;
    l.end_of_candidates = true;
    rtc_sdp_t o, back;
    ck_assert_int_eq(rtc_jsep_create_offer(&l, s, 3, &o), RTC_OK);
    reparse(&o, &back);
    ck_assert_uint_eq(o.media[0].port, 9);
    ck_assert(!o.media[0].bundle_only);
    ck_assert_uint_eq(o.media[0].n_candidates, 1);
    ck_assert(o.media[0].end_of_candidates);
    ck_assert_uint_eq(o.media[1].port, 0);
    ck_assert(o.media[1].bundle_only);
    ck_assert_uint_eq(o.media[1].n_candidates, 0);
    ck_assert_uint_eq(o.media[2].port, 0); /* stopped */
    ck_assert(!o.media[2].bundle_only);
    const rtc_sdp_group_t *g = rtc_sdp_find_group(&o, "BUNDLE");
    ck_assert_uint_eq(g->n_mids, 2);
    ck_assert(!rtc_sdp_group_has(g, "x"));

    /* Answering it: the bundle-only section is accepted (not a port-0 rejection), the stopped
     * one is rejected. */
    rtc_sdp_t a;
    rtc_jsep_local_t l2 = our_local();
    rtc_jsep_section_t t[2] = {
        {.kind = RTC_SDP_MEDIA_AUDIO, .direction = RTC_SDP_DIR_SENDRECV, .codecs = audio_codecs, .n_codecs = 2},
        {.kind = RTC_SDP_MEDIA_VIDEO, .direction = RTC_SDP_DIR_SENDRECV, .codecs = video_codecs, .n_codecs = 8},
    };
    ck_assert_int_eq(rtc_jsep_create_answer(&o, &l2, t, 2, &a), RTC_OK);
    ck_assert_uint_eq(a.media[1].port, 9);
    ck_assert_int_eq(a.media[1].dir, RTC_SDP_DIR_SENDONLY); /* they offered recvonly */
    ck_assert_uint_eq(a.media[2].port, 0);
    ck_assert_str_eq(a.media[2].mid, "x");
    rtc_jsep_result_t r;
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_OK);
    ck_assert(!r.media[1].rejected);
    ck_assert(r.media[1].bundled);
    ck_assert(r.media[2].rejected);
    ck_assert_int_eq(r.media[1].direction, RTC_SDP_DIR_RECVONLY);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&a);
    /* bundle-only outside the BUNDLE group is just port 0: rejected. */
    rtc_sdp_group_t *grp = (rtc_sdp_group_t *)rtc_sdp_find_group(&o, "BUNDLE");
    grp->n_mids = 1;
    ck_assert_int_eq(rtc_jsep_create_answer(&o, &l2, t, 2, &a), RTC_OK);
    ck_assert_uint_eq(a.media[1].port, 0);
    grp->n_mids = 2;
    rtc_sdp_free(&a);
    rtc_sdp_free(&o);
    rtc_sdp_free(&back);
}
END_TEST

START_TEST(answer_directions_follow_rfc_3264) {
    static const struct {
        rtc_sdp_dir_t offered, ours, answer;
    } cases[] = {
        {RTC_SDP_DIR_SENDRECV, RTC_SDP_DIR_SENDRECV, RTC_SDP_DIR_SENDRECV},
        {RTC_SDP_DIR_SENDRECV, RTC_SDP_DIR_RECVONLY, RTC_SDP_DIR_RECVONLY},
        {RTC_SDP_DIR_SENDRECV, RTC_SDP_DIR_SENDONLY, RTC_SDP_DIR_SENDONLY},
        {RTC_SDP_DIR_SENDONLY, RTC_SDP_DIR_SENDRECV, RTC_SDP_DIR_RECVONLY},
        {RTC_SDP_DIR_SENDONLY, RTC_SDP_DIR_SENDONLY, RTC_SDP_DIR_INACTIVE},
        {RTC_SDP_DIR_RECVONLY, RTC_SDP_DIR_SENDRECV, RTC_SDP_DIR_SENDONLY},
        {RTC_SDP_DIR_RECVONLY, RTC_SDP_DIR_RECVONLY, RTC_SDP_DIR_INACTIVE},
        {RTC_SDP_DIR_INACTIVE, RTC_SDP_DIR_SENDRECV, RTC_SDP_DIR_INACTIVE},
        {RTC_SDP_DIR_NONE, RTC_SDP_DIR_RECVONLY, RTC_SDP_DIR_RECVONLY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rtc_jsep_section_t off = {.kind = RTC_SDP_MEDIA_AUDIO, .mid = "0", .direction = cases[i].offered,
                                  .codecs = audio_codecs, .n_codecs = 2};
        rtc_jsep_local_t l = our_local();
        rtc_sdp_t o, a;
        ck_assert_int_eq(rtc_jsep_create_offer(&l, &off, 1, &o), RTC_OK);
        o.media[0].dir = cases[i].offered;
        rtc_jsep_section_t ans = {.kind = RTC_SDP_MEDIA_AUDIO, .direction = cases[i].ours, .codecs = audio_codecs,
                                  .n_codecs = 2};
        ck_assert_int_eq(rtc_jsep_create_answer(&o, &l, &ans, 1, &a), RTC_OK);
        ck_assert_msg(a.media[0].dir == cases[i].answer, "case %zu: %s", i, rtc_sdp_dir_name(a.media[0].dir));
        rtc_jsep_result_t r;
        ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_OK);
        ck_assert_int_eq(r.media[0].direction, rtc_sdp_dir_reverse(cases[i].answer));
        rtc_jsep_result_free(&r);
        rtc_sdp_free(&o);
        rtc_sdp_free(&a);
    }
}
END_TEST

START_TEST(dtls_setup_roles_follow_rfc_8842) {
    static const struct {
        rtc_sdp_setup_t offered, pref, answer;
        bool answerer_is_client;
    } cases[] = {
        {RTC_SDP_SETUP_ACTPASS, RTC_SDP_SETUP_NONE, RTC_SDP_SETUP_ACTIVE, true},
        {RTC_SDP_SETUP_ACTPASS, RTC_SDP_SETUP_PASSIVE, RTC_SDP_SETUP_PASSIVE, false},
        {RTC_SDP_SETUP_ACTIVE, RTC_SDP_SETUP_NONE, RTC_SDP_SETUP_PASSIVE, false},
        {RTC_SDP_SETUP_PASSIVE, RTC_SDP_SETUP_PASSIVE, RTC_SDP_SETUP_ACTIVE, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rtc_jsep_section_t s = {.kind = RTC_SDP_MEDIA_APPLICATION, .mid = "d"};
        rtc_jsep_local_t l = our_local();
        rtc_sdp_t o, a;
        ck_assert_int_eq(rtc_jsep_create_offer(&l, &s, 1, &o), RTC_OK);
        o.media[0].setup = cases[i].offered;
        l.answer_setup = cases[i].pref;
        rtc_jsep_section_t t = {.kind = RTC_SDP_MEDIA_APPLICATION};
        ck_assert_int_eq(rtc_jsep_create_answer(&o, &l, &t, 1, &a), RTC_OK);
        ck_assert_int_eq(a.media[0].setup, cases[i].answer);
        rtc_jsep_result_t r;
        ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, false, &r), RTC_OK);
        ck_assert_int_eq(r.dtls_client, cases[i].answerer_is_client);
        rtc_jsep_result_free(&r);
        ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_OK);
        ck_assert_int_eq(r.dtls_client, !cases[i].answerer_is_client);
        rtc_jsep_result_free(&r);
        /* An answer that keeps actpass, or takes the offerer's own fixed role, is refused. */
        a.media[0].setup = RTC_SDP_SETUP_ACTPASS;
        ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_ERR_PROTOCOL);
        if (cases[i].offered != RTC_SDP_SETUP_ACTPASS) {
            a.media[0].setup = cases[i].offered;
            ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_ERR_PROTOCOL);
        }
        rtc_sdp_free(&o);
        rtc_sdp_free(&a);
    }
}
END_TEST

START_TEST(h264_answer_lowers_level_without_level_asymmetry) {
    /* Offer: constrained baseline level 3.0 (42e01e) without level-asymmetry-allowed. We support
     * level 3.1: RFC 6184 section 8.2.2 has us answer the offer's lower level. With asymmetry
     * on both sides we answer our own level. */
    static char fmtp_off[] = "packetization-mode=1;profile-level-id=42e01e";
    static char fmtp_off_asym[] = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01e";
    for (int asym = 0; asym < 2; asym++) {
        rtc_sdp_codec_t oc = {.pt = 107, .name = "H264", .clock = 90000, .fmtp = asym ? fmtp_off_asym : fmtp_off};
        rtc_jsep_section_t off = {.kind = RTC_SDP_MEDIA_VIDEO, .mid = "v", .codecs = &oc, .n_codecs = 1};
        rtc_jsep_local_t l = our_local();
        rtc_sdp_t o, a;
        ck_assert_int_eq(rtc_jsep_create_offer(&l, &off, 1, &o), RTC_OK);
        rtc_jsep_section_t t = {.kind = RTC_SDP_MEDIA_VIDEO, .codecs = video_codecs, .n_codecs = 8};
        ck_assert_int_eq(rtc_jsep_create_answer(&o, &l, &t, 1, &a), RTC_OK);
        assert_pts(&a.media[0], (const unsigned[]){107}, 1);
        char plid[16];
        ck_assert_int_gt(rtc_sdp_fmtp_get(a.media[0].codecs[0].fmtp, "profile-level-id", plid, sizeof plid), 0);
        ck_assert_str_eq(plid, asym ? "42e01f" : "42e01e");
        ck_assert_uint_eq(rtc_sdp_fmtp_get_uint(a.media[0].codecs[0].fmtp, "packetization-mode", 9), 1);
        rtc_sdp_free(&o);
        rtc_sdp_free(&a);
    }
}
END_TEST

START_TEST(sections_without_common_codecs_or_port_zero_are_rejected) {
    static char *nofb[] = {0};
    rtc_sdp_codec_t g711 = {.pt = 8, .name = "PCMA", .clock = 8000, .fb = nofb};
    rtc_jsep_section_t off[3] = {
        {.kind = RTC_SDP_MEDIA_AUDIO, .mid = "0", .codecs = &g711, .n_codecs = 1},
        {.kind = RTC_SDP_MEDIA_AUDIO, .mid = "1", .codecs = audio_codecs, .n_codecs = 2, .stopped = true},
        {.kind = RTC_SDP_MEDIA_AUDIO, .mid = "2", .codecs = audio_codecs, .n_codecs = 2},
    };
    rtc_jsep_local_t l = our_local();
    rtc_sdp_t o, a, back;
    ck_assert_int_eq(rtc_jsep_create_offer(&l, off, 3, &o), RTC_OK);
    rtc_jsep_section_t t = {.kind = RTC_SDP_MEDIA_AUDIO, .codecs = audio_codecs, .n_codecs = 2};
    ck_assert_int_eq(rtc_jsep_create_answer(&o, &l, &t, 1, &a), RTC_OK);
    reparse(&a, &back);
    ck_assert_uint_eq(a.media[0].port, 0);
    assert_pts(&a.media[0], (const unsigned[]){8}, 1); /* the offer's formats, for a valid m= line */
    ck_assert_uint_eq(a.media[1].port, 0);
    ck_assert_uint_eq(a.media[2].port, 9);
    const rtc_sdp_group_t *g = rtc_sdp_find_group(&a, "BUNDLE");
    ck_assert_uint_eq(g->n_mids, 1);
    ck_assert_str_eq(g->mids[0], "2");
    /* Candidates go with the bundle tag, mid 2, not the rejected first section. */
    rtc_jsep_result_t r;
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_OK);
    ck_assert(r.media[0].rejected && r.media[1].rejected && !r.media[2].rejected);
    ck_assert_uint_eq(r.media[2].transport, 2);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
    rtc_sdp_free(&back);
}
END_TEST

START_TEST(offer_simulcast_recv_is_answered_with_our_send_rids) {
    /* An offerer that wants to receive simulcast ("a=simulcast:recv h;m;l", rid ... recv). */
    rtc_sdp_t o;
    parse_ok(CHROMIUM_AV_SIMULCAST_OFFER, &o);
    rtc_sdp_media_t *v = &o.media[1];
    for (size_t i = 0; i < v->n_rids; i++) v->rids[i].send = false;
    v->simulcast.recv = v->simulcast.send;
    v->simulcast.send = NULL;
    v->dir = RTC_SDP_DIR_RECVONLY;
    rtc_sdp_set_str(&v->rids[0].params, "pt=96,45;max-width=1280");
    const char *two[] = {"h", "l"};
    rtc_jsep_section_t t[2] = {
        {.kind = RTC_SDP_MEDIA_VIDEO, .mid = "1", .direction = RTC_SDP_DIR_SENDONLY, .codecs = video_codecs,
         .n_codecs = 2, .send_rids = two, .n_send_rids = 2, .track_id = "cam"},
        {.kind = RTC_SDP_MEDIA_AUDIO, .codecs = audio_codecs, .n_codecs = 2},
    };
    rtc_jsep_local_t l = our_local();
    rtc_sdp_t a, back;
    ck_assert_int_eq(rtc_jsep_create_answer(&o, &l, t, 2, &a), RTC_OK);
    reparse(&a, &back);
    const rtc_sdp_media_t *av = &a.media[1];
    ck_assert_int_eq(av->dir, RTC_SDP_DIR_SENDONLY);
    ck_assert_uint_eq(av->n_rids, 2);
    ck_assert_str_eq(av->rids[0].id, "h");
    ck_assert(av->rids[0].send);
    /* pt=96,45 restricted to what we kept (VP8 96 only: AV1 is not in this section's codecs). */
    ck_assert_str_eq(av->rids[0].params, "pt=96;max-width=1280");
    ck_assert_str_eq(av->rids[1].id, "l");
    ck_assert_str_eq(av->simulcast.send, "h;l");
    ck_assert_str_eq(av->msids[0].track, "cam");
    /* Application section: no template given, so rejected. */
    ck_assert_uint_eq(a.media[2].port, 0);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);
    rtc_sdp_free(&back);
}
END_TEST

START_TEST(bad_answers_are_refused) {
    rtc_sdp_t o, a;
    rtc_jsep_result_t r;
    build_our_offer(&o);
    parse_ok(CHROMIUM_ANSWER_TO_OURS, &a);
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_OK);
    rtc_jsep_result_free(&r);
    /* A payload type we never offered. */
    uint8_t saved = a.media[1].codecs[0].pt;
    a.media[1].codecs[0].pt = 127;
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_ERR_PROTOCOL);
    a.media[1].codecs[0].pt = saved;
    /* An offered payload type answered as another codec. */
    char name[RTC_SDP_CODEC_NAME_SIZE];
    memcpy(name, a.media[1].codecs[0].name, sizeof name);
    strcpy(a.media[1].codecs[0].name, "VP9");
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_ERR_PROTOCOL);
    memcpy(a.media[1].codecs[0].name, name, sizeof name);
    /* An extmap id we did not offer. */
    uint16_t id = a.media[1].extmaps[0].id;
    a.media[1].extmaps[0].id = 14;
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_ERR_PROTOCOL);
    a.media[1].extmaps[0].id = id;
    /* Mids out of order. */
    char *mid = a.media[0].mid;
    a.media[0].mid = a.media[1].mid;
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_ERR_PROTOCOL);
    a.media[0].mid = mid;
    /* Fewer sections. */
    a.n_media--;
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_ERR_PROTOCOL);
    a.n_media++;
    ck_assert_int_eq(rtc_jsep_negotiate(&o, &a, true, &r), RTC_OK);
    rtc_jsep_result_free(&r);
    rtc_sdp_free(&o);
    rtc_sdp_free(&a);

    /* Offers we cannot answer: no a=mid. */
    parse_ok("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", &o);
    rtc_jsep_local_t l = our_local();
    ck_assert_int_eq(rtc_jsep_create_answer(&o, &l, sfu_templates, 3, &a), RTC_ERR_PROTOCOL);
    rtc_sdp_free(&o);
    /* Missing credentials, duplicate mids. */
    rtc_jsep_section_t s2[2] = {{.kind = RTC_SDP_MEDIA_APPLICATION, .mid = "x"},
                                {.kind = RTC_SDP_MEDIA_APPLICATION, .mid = "x"}};
    ck_assert_int_eq(rtc_jsep_create_offer(&l, s2, 2, &o), RTC_ERR_INVALID_ARG);
    l.fingerprints = NULL;
    ck_assert_int_eq(rtc_jsep_create_offer(&l, s2, 1, &o), RTC_ERR_INVALID_ARG);
}
END_TEST

int main(void) {
    if (getenv("SDP_DUMP_OFFER")) {
        rtc_sdp_t o;
        if (make_our_offer(&o) != RTC_OK) return EXIT_FAILURE;
        rtc_buf_t b;
        rtc_buf_init(&b);
        rtc_sdp_write(&o, &b);
        fwrite(b.data, 1, b.len, stdout);
        rtc_buf_free(&b);
        rtc_sdp_free(&o);
        return 0;
    }
    if (getenv("SDP_ANSWER_OFFER")) {
        /* Prints the SFU answer (sfu_templates) to the offer in that file: how the interop
         * check has real Chromium apply our answer. */
        FILE *f = fopen(getenv("SDP_ANSWER_OFFER"), "rb");
        static uint8_t text[RTC_SDP_MAX_SIZE];
        size_t n = f ? fread(text, 1, sizeof text, f) : 0;
        if (f) fclose(f);
        rtc_sdp_t o, a;
        rtc_sdp_error_t err;
        if (rtc_sdp_parse(text, n, &o, &err) != RTC_OK) {
            fprintf(stderr, "offer line %u: %s\n", err.line, err.reason);
            return EXIT_FAILURE;
        }
        rtc_jsep_local_t l = our_local();
        int rc = rtc_jsep_create_answer(&o, &l, sfu_templates, 3, &a);
        rtc_buf_t b;
        rtc_buf_init(&b);
        if (rc == RTC_OK) rc = rtc_sdp_write(&a, &b);
        if (rc == RTC_OK) fwrite(b.data, 1, b.len, stdout);
        rtc_buf_free(&b);
        rtc_sdp_free(&o);
        rtc_sdp_free(&a);
        return rc == RTC_OK ? 0 : EXIT_FAILURE;
    }
    Suite *s = suite_create("jsep");
    TCase *tc = tcase_create("answer_real_offers");
    tcase_add_test(tc, answer_to_chromium_simulcast_offer);
    tcase_add_test(tc, answer_that_chromium_applied);
    tcase_add_test(tc, answer_to_chromium_datachannel_only_offer);
    tcase_add_test(tc, answer_to_firefox_offer);
    tcase_add_test(tc, answer_to_aiortc_offer_with_legacy_datachannel);
    tcase_add_test(tc, answer_to_pion_offer);
    suite_add_tcase(s, tc);
    tc = tcase_create("real_peers_answer_us");
    tcase_add_test(tc, our_offer_is_stable_and_well_formed);
    tcase_add_test(tc, chromium_answers_our_offer);
    tcase_add_test(tc, aiortc_answers_our_offer);
    tcase_add_test(tc, pion_answers_our_offer);
    tcase_add_test(tc, real_answers_to_chromium_offer_negotiate);
    suite_add_tcase(s, tc);
    tc = tcase_create("rules");
    tcase_add_test(tc, max_bundle_initial_offer_marks_later_sections_bundle_only);
    tcase_add_test(tc, answer_directions_follow_rfc_3264);
    tcase_add_test(tc, dtls_setup_roles_follow_rfc_8842);
    tcase_add_test(tc, h264_answer_lowers_level_without_level_asymmetry);
    tcase_add_test(tc, sections_without_common_codecs_or_port_zero_are_rejected);
    tcase_add_test(tc, offer_simulcast_recv_is_answered_with_our_send_rids);
    tcase_add_test(tc, bad_answers_are_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
