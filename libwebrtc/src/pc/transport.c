/* pc/transport.c — the PeerConnection's one (bundled) transport: the ICE agent, the DTLS
 * endpoint on top of the selected pair, SRTP keys from DTLS, the SCTP association over DTLS,
 * and the RFC 7983 demultiplexing of what arrives. */
#include <stdio.h>
#include <stdlib.h>

#include "pc/pc_internal.h"

/* ------------------------------------------------------------------------------------------
 * ICE callbacks.
 */
static void ice_send(void *user, void *sock, const rtc_addr_t *dest, const uint8_t *p, size_t n) {
    rtc_peer_connection_t *pc = user;
    pc->cb.send(pc->user, sock, dest, p, n);
}

static void *ice_stream_open(void *user, const rtc_ice_server_t *server) {
    rtc_peer_connection_t *pc = user;
    return pc->cb.stream_open ? pc->cb.stream_open(pc->user, server) : NULL;
}

static void ice_stream_close(void *user, void *stream) {
    rtc_peer_connection_t *pc = user;
    if (pc->cb.stream_close) pc->cb.stream_close(pc->user, stream);
}

static void ice_candidate(void *user, const rtc_ice_candidate_t *c) {
    rtc_peer_connection_t *pc = user;
    if (!pc->cb.on_ice_candidate) return;
    const char *mid = pc_bundle_mid(pc);
    if (!c) {
        pc->cb.on_ice_candidate(pc->user, NULL, mid, 0);
        return;
    }
    char line[RTC_ICE_CANDIDATE_STRLEN];
    if (rtc_ice_candidate_format(c, line, sizeof line) < 0) return;
    pc->cb.on_ice_candidate(pc->user, line, mid, 0);
}

static void ice_state(void *user, rtc_ice_state_t s) {
    rtc_peer_connection_t *pc = user;
    pc_set_ice_state(pc, s);
    if (s == RTC_ICE_STATE_CONNECTED || s == RTC_ICE_STATE_COMPLETED) pc_transport_maybe_start(pc, pc->now);
}

static void ice_gathering(void *user, rtc_ice_gathering_state_t s) {
    rtc_peer_connection_t *pc = user;
    if (pc->gathering == s) return;
    pc->gathering = s;
    if (pc->cb.on_ice_gathering_state) pc->cb.on_ice_gathering_state(pc->user, s);
}

static void ice_selected(void *user, const rtc_ice_pair_info_t *pair) {
    rtc_peer_connection_t *pc = user;
    RTC_LOGI(PC_LOG, "%s: selected pair %s -> %s (%s/%s)", pc->log_id, rtc_addr_str(&pair->local.addr),
             rtc_addr_str(&pair->remote.addr), rtc_ice_candidate_type_name(pair->local.type),
             rtc_ice_candidate_type_name(pair->remote.type));
    pc_transport_maybe_start(pc, pc->now);
}

static void dtls_drain(rtc_peer_connection_t *pc, rtc_time_t now);

static void handle_dtls_datagram(rtc_peer_connection_t *pc, const uint8_t *p, size_t n, rtc_time_t now) {
    if (!pc->dtls) {
        /* The peer's DTLS may start before our answer/offer exchange completed here: keep a
         * few datagrams (they came over a validated pair) until the endpoint exists. */
        if (pc->n_early < PC_MAX_EARLY && n <= sizeof pc->early[0].data) {
            memcpy(pc->early[pc->n_early].data, p, n);
            pc->early[pc->n_early++].n = n;
        } else {
            pc->dropped_datagrams++;
        }
        return;
    }
    if (!pc->dtls_started && !pc->dtls_client) pc->dtls_started = true; /* implicit server start */
    rtc_dtls_handle_datagram(pc->dtls, p, n, now);
    dtls_drain(pc, now);
}

static void ice_data(void *user, const uint8_t *p, size_t n, const rtc_ice_pair_info_t *pair) {
    (void)pair;
    rtc_peer_connection_t *pc = user;
    rtc_time_t now = pc->now;
    if (pc->closed || n == 0) return;
    uint8_t b = p[0];
    if (b >= 20 && b <= 63) {
        handle_dtls_datagram(pc, p, n, now);
    } else if (b >= 128 && b <= 191) {
        if (!pc->srtp) { pc->dropped_datagrams++; return; }
        uint8_t buf[2048];
        if (n > sizeof buf) { pc->dropped_datagrams++; return; }
        memcpy(buf, p, n);
        if (rtc_rtp_is_rtcp(buf, n)) pc_media_handle_rtcp(pc, buf, n, now);
        else pc_media_handle_rtp(pc, buf, n, now);
    } else {
        pc->dropped_datagrams++;
    }
}

int pc_ice_create(rtc_peer_connection_t *pc, bool controlling, rtc_time_t now) {
    (void)now;
    rtc_ice_config_t cfg;
    rtc_ice_config_default(&cfg);
    cfg.lite = pc->cfg.ice_lite;
    cfg.role = (controlling && !cfg.lite) ? RTC_ICE_ROLE_CONTROLLING : RTC_ICE_ROLE_CONTROLLED;
    snprintf(cfg.ufrag, sizeof cfg.ufrag, "%s", pc->ufrag);
    snprintf(cfg.pwd, sizeof cfg.pwd, "%s", pc->pwd);
    cfg.nomination = pc->cfg.aggressive_nomination ? RTC_ICE_NOMINATION_AGGRESSIVE : RTC_ICE_NOMINATION_REGULAR;
    cfg.relay_only = pc->cfg.ice_transport_policy == RTC_PC_ICE_POLICY_RELAY;
    cfg.filter = pc->cfg.filter;
    cfg.nat_1to1_ipv4 = pc->cfg.nat_1to1_ipv4;
    cfg.nat_1to1_ipv6 = pc->cfg.nat_1to1_ipv6;
    for (size_t i = 0; i < pc->n_ice_servers; i++) cfg.servers[cfg.n_servers++] = pc->ice_servers[i];
    rtc_ice_callbacks_t cb = {
        .send = ice_send, .candidate = ice_candidate, .state_change = ice_state,
        .gathering_state_change = ice_gathering, .selected_pair_change = ice_selected, .data = ice_data,
        .stream_open = pc->cb.stream_open ? ice_stream_open : NULL,
        .stream_close = pc->cb.stream_open ? ice_stream_close : NULL,
    };
    pc->ice = rtc_ice_agent_create(&cfg, &cb, pc);
    if (!pc->ice) {
        RTC_LOGE(PC_LOG, "%s: cannot create the ICE agent", pc->log_id);
        return RTC_ERR_FAILED;
    }
    size_t added = 0;
    for (size_t i = 0; i < pc->n_sockets; i++) {
        pc_socket_t *s = &pc->sockets[i];
        int rc = rtc_ice_agent_add_socket(pc->ice, s->sock, &s->local, s->ifname[0] ? s->ifname : NULL);
        if (rc == RTC_OK) added++;
        else RTC_LOGW(PC_LOG, "%s: socket %s not used: %s", pc->log_id, rtc_addr_str(&s->local), rtc_strerror(rc));
    }
    if (!added) RTC_LOGW(PC_LOG, "%s: no socket: nothing will be gathered", pc->log_id);
    return RTC_OK;
}

int rtc_peer_connection_handle_datagram(rtc_peer_connection_t *pc, void *sock,
                                        const rtc_addr_t *from, const uint8_t *p, size_t n,
                                        rtc_time_t now) {
    if (!pc || !from || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (pc->closed || !pc->ice) {
        pc->dropped_datagrams++;
        return RTC_ERR_STATE;
    }
    pc_touch(pc, now);
    int rc = rtc_ice_agent_handle_datagram(pc->ice, sock, from, p, n, now);
    if (rc && rc != RTC_ERR_NOT_FOUND) pc->dropped_datagrams += rc != RTC_OK;
    return rc;
}

int rtc_peer_connection_stream_connected(rtc_peer_connection_t *pc, void *stream, rtc_time_t now) {
    if (!pc || !stream) return RTC_ERR_INVALID_ARG;
    if (pc->closed || !pc->ice) return RTC_ERR_STATE;
    pc_touch(pc, now);
    return rtc_ice_agent_stream_connected(pc->ice, stream, now);
}

int rtc_peer_connection_handle_stream(rtc_peer_connection_t *pc, void *stream, const uint8_t *p, size_t n,
                                      rtc_time_t now) {
    if (!pc || !stream || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (pc->closed || !pc->ice) return RTC_ERR_STATE;
    pc_touch(pc, now);
    return rtc_ice_agent_handle_stream(pc->ice, stream, p, n, now);
}

void rtc_peer_connection_stream_closed(rtc_peer_connection_t *pc, void *stream, rtc_time_t now) {
    if (!pc || !stream || pc->closed || !pc->ice) return;
    pc_touch(pc, now);
    rtc_ice_agent_stream_closed(pc->ice, stream, now);
}

/* ------------------------------------------------------------------------------------------
 * DTLS.
 */
int pc_send_datagram(rtc_peer_connection_t *pc, const uint8_t *p, size_t n, rtc_time_t now) {
    if (!pc->ice) return RTC_ERR_STATE;
    return rtc_ice_agent_send(pc->ice, p, n, now);
}

bool pc_media_ready(const rtc_peer_connection_t *pc) {
    return pc->srtp && !pc->closed && pc->ice_state != RTC_ICE_STATE_FAILED;
}

static void on_dtls_connected(rtc_peer_connection_t *pc, rtc_time_t now) {
    rtc_dtls_srtp_keys_t k;
    if (rtc_dtls_get_srtp_keys(pc->dtls, &k) == RTC_OK) {
        rtc_srtp_config_t sc;
        memset(&sc, 0, sizeof sc);
        sc.profile = (rtc_srtp_profile_t)k.profile;
        memcpy(sc.local_key, k.local_key, RTC_SRTP_KEY_LEN);
        memcpy(sc.local_salt, k.local_salt, k.salt_len);
        memcpy(sc.remote_key, k.remote_key, RTC_SRTP_KEY_LEN);
        memcpy(sc.remote_salt, k.remote_salt, k.salt_len);
        sc.allow_repeat_tx = true; /* retransmissions without RTX repeat sequence numbers */
        int rc = rtc_srtp_session_create(&sc, &pc->srtp);
        if (rc) RTC_LOGE(PC_LOG, "%s: SRTP session: %s", pc->log_id, rtc_strerror(rc));
        memset(&sc, 0, sizeof sc);
        memset(&k, 0, sizeof k);
    } else {
        RTC_LOGI(PC_LOG, "%s: no SRTP profile negotiated: data channels only", pc->log_id);
    }
    RTC_LOGI(PC_LOG, "%s: DTLS connected (%s, %s)", pc->log_id, pc->dtls_client ? "client" : "server",
             rtc_dtls_cipher(pc->dtls) ? rtc_dtls_cipher(pc->dtls) : "?");
    pc->next_rtcp = now + RTC_MS(500);
    pc_update_state(pc);
    pc_sctp_start(pc, now);
}

static void dtls_drain(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (!pc->dtls) return;
    uint8_t buf[RTC_DTLS_MAX_APP_DATA + 512];
    for (;;) {
        bool did = false;
        int n;
        while ((n = rtc_dtls_poll_transmit(pc->dtls, buf, sizeof buf)) > 0) {
            pc_send_datagram(pc, buf, (size_t)n, now);
            did = true;
        }
        rtc_dtls_event_t ev;
        while (rtc_dtls_poll_event(pc->dtls, &ev)) {
            did = true;
            switch (ev.type) {
            case RTC_DTLS_EVENT_CONNECTED: on_dtls_connected(pc, now); break;
            case RTC_DTLS_EVENT_FAILED:
                RTC_LOGW(PC_LOG, "%s: DTLS failed: %s", pc->log_id, rtc_strerror(ev.error));
                if (pc->sctp) pc_dc_association_closed(pc);
                pc_update_state(pc);
                break;
            case RTC_DTLS_EVENT_CLOSED:
                RTC_LOGI(PC_LOG, "%s: peer closed DTLS", pc->log_id);
                pc_update_state(pc);
                break;
            case RTC_DTLS_EVENT_ALERT: break;
            }
        }
        while ((n = rtc_dtls_recv(pc->dtls, buf, sizeof buf)) > 0) {
            did = true;
            if (pc->sctp) rtc_sctp_handle_packet(pc->sctp, buf, (size_t)n, now);
            else if (pc->data_negotiated && !pc->closed) {
                /* SCTP INIT arrived before we set up the association: start it now. */
                pc_sctp_start(pc, now);
                if (pc->sctp) rtc_sctp_handle_packet(pc->sctp, buf, (size_t)n, now);
            }
        }
        if (!did || pc->closed) break;
    }
}

/* Called after each negotiation: create the DTLS endpoint once the role is known; later
 * negotiations may only bring new fingerprints (checked by DTLS if the handshake is done). */
void pc_transport_negotiated(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (pc->closed || !pc->dtls_role_known) return;
    if (!pc->dtls) {
        rtc_dtls_config_t dc;
        rtc_dtls_config_init(&dc);
        dc.cert = pc->cert;
        dc.role = pc->dtls_client ? RTC_DTLS_ROLE_CLIENT : RTC_DTLS_ROLE_SERVER;
        for (size_t i = 0; i < pc->n_remote_fps; i++) dc.remote_fingerprints[i] = pc->remote_fps[i];
        dc.n_remote_fingerprints = pc->n_remote_fps;
        dc.log_id = pc->log_id;
        int rc = rtc_dtls_create(&dc, &pc->dtls);
        if (rc) {
            RTC_LOGE(PC_LOG, "%s: DTLS endpoint: %s", pc->log_id, rtc_strerror(rc));
            return;
        }
        /* Datagrams that arrived early (the peer's ClientHello). */
        for (size_t i = 0; i < pc->n_early; i++) handle_dtls_datagram(pc, pc->early[i].data, pc->early[i].n, now);
        pc->n_early = 0;
    } else if (pc->data_negotiated && !pc->sctp && rtc_dtls_state(pc->dtls) == RTC_DTLS_STATE_CONNECTED) {
        pc_sctp_start(pc, now); /* data channels added by renegotiation */
    }
    if (pc->sctp && pc->remote_mms)
        rtc_sctp_set_remote_max_message_size(pc->sctp, pc->remote_mms > UINT32_MAX - 1 ? RTC_SCTP_MMS_ANY
                                                                                       : (uint32_t)pc->remote_mms);
}

/* The DTLS client starts its handshake once ICE has a selected pair (nothing is sent over an
 * unvalidated path). */
void pc_transport_maybe_start(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (pc->closed || !pc->dtls || pc->dtls_started || !pc->dtls_client) return;
    rtc_ice_pair_info_t pair;
    if (!pc->ice || rtc_ice_agent_get_selected_pair(pc->ice, &pair) != RTC_OK) return;
    pc->dtls_started = true;
    rtc_dtls_start(pc->dtls, now);
    dtls_drain(pc, now);
    pc_update_state(pc);
}

/* ------------------------------------------------------------------------------------------
 * SCTP over DTLS.
 */
static void sctp_packet(void *user, const uint8_t *p, size_t n) {
    rtc_peer_connection_t *pc = user;
    if (!pc->dtls || pc->closed) return;
    int rc = rtc_dtls_send(pc->dtls, p, n);
    if (rc) {
        RTC_LOGD(PC_LOG, "%s: SCTP packet not sent: %s", pc->log_id, rtc_strerror(rc));
        return;
    }
    uint8_t buf[RTC_DTLS_MAX_APP_DATA + 512];
    int k;
    while ((k = rtc_dtls_poll_transmit(pc->dtls, buf, sizeof buf)) > 0) pc_send_datagram(pc, buf, (size_t)k, pc->now);
}

static void sctp_state(void *user, rtc_sctp_state_t s, int reason) {
    rtc_peer_connection_t *pc = user;
    RTC_LOGI(PC_LOG, "%s: SCTP %s (%s)", pc->log_id, rtc_sctp_state_name(s), rtc_strerror(reason));
    if (s == RTC_SCTP_STATE_CONNECTED) pc_dc_attach_all(pc);
    else if (s == RTC_SCTP_STATE_CLOSED) pc_dc_association_closed(pc);
}

void pc_sctp_start(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (pc->sctp || !pc->data_negotiated || pc->closed || !pc->dtls) return;
    if (rtc_dtls_state(pc->dtls) != RTC_DTLS_STATE_CONNECTED) return;
    rtc_sctp_config_t sc;
    rtc_sctp_config_init(&sc);
    sc.dtls_client = pc->dtls_client;
    sc.local_port = RTC_SCTP_DEFAULT_PORT;
    sc.remote_port = pc->remote_sctp_port ? pc->remote_sctp_port : RTC_SCTP_DEFAULT_PORT;
    sc.local_max_message_size = pc->cfg.max_message_size ? pc->cfg.max_message_size : RTC_SCTP_DEFAULT_LOCAL_MMS;
    sc.remote_max_message_size = pc->remote_mms == 0 ? 0
                                 : pc->remote_mms >= UINT32_MAX ? RTC_SCTP_MMS_ANY : (uint32_t)pc->remote_mms;
    sc.cb.on_packet = sctp_packet;
    sc.cb.on_state = sctp_state;
    sc.cb.on_datachannel = pc_sctp_on_datachannel;
    sc.user = pc;
    int rc = rtc_sctp_create(&sc, &pc->sctp);
    if (rc) {
        RTC_LOGE(PC_LOG, "%s: SCTP association: %s", pc->log_id, rtc_strerror(rc));
        return;
    }
    /* Negotiated channels and our in-band ones are created now so their stream ids take the
     * parity of our DTLS role; they open when the association is up. */
    pc_dc_attach_all(pc);
    rtc_sctp_connect(pc->sctp, now);
    pc->sctp_started = true;
}

/* ------------------------------------------------------------------------------------------
 * Timers and teardown.
 */
rtc_time_t pc_transport_next_timeout(const rtc_peer_connection_t *pc) {
    rtc_time_t t = RTC_TIME_NEVER, x;
    if (pc->ice && (x = rtc_ice_agent_next_timeout(pc->ice)) < t) t = x;
    if (pc->dtls && pc->dtls_started && (x = rtc_dtls_next_timeout(pc->dtls)) < t) t = x;
    if (pc->sctp && (x = rtc_sctp_next_timeout(pc->sctp)) < t) t = x;
    return t;
}

void pc_transport_timeout(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (pc->ice && rtc_ice_agent_next_timeout(pc->ice) <= now) rtc_ice_agent_handle_timeout(pc->ice, now);
    if (pc->closed) return;
    if (pc->dtls && pc->dtls_started && rtc_dtls_next_timeout(pc->dtls) <= now) {
        rtc_dtls_handle_timeout(pc->dtls, now);
        dtls_drain(pc, now);
    }
    if (pc->closed) return;
    if (pc->sctp && rtc_sctp_next_timeout(pc->sctp) <= now) rtc_sctp_handle_timeout(pc->sctp, now);
}

void pc_transport_close(rtc_peer_connection_t *pc, rtc_time_t now) {
    if (pc->sctp) {
        pc_dc_association_closed(pc);
        rtc_sctp_destroy(pc->sctp); /* aborts; no callbacks */
        pc->sctp = NULL;
    }
    if (pc->dtls) {
        rtc_dtls_close(pc->dtls, now);
        dtls_drain(pc, now);
    }
    if (pc->ice) rtc_ice_agent_close(pc->ice);
}

void pc_transport_free(rtc_peer_connection_t *pc) {
    if (pc->sctp) rtc_sctp_destroy(pc->sctp);
    pc->sctp = NULL;
    if (pc->dtls) rtc_dtls_destroy(pc->dtls);
    pc->dtls = NULL;
    if (pc->srtp) rtc_srtp_session_destroy(pc->srtp);
    pc->srtp = NULL;
    if (pc->ice) rtc_ice_agent_destroy(pc->ice);
    pc->ice = NULL;
    rtc_rtp_twcc_receiver_free(pc->twcc_rx);
    rtc_rtp_twcc_sender_free(pc->twcc_tx);
    rtc_bwe_free(pc->bwe);
    pc->twcc_rx = NULL;
    pc->twcc_tx = NULL;
    pc->bwe = NULL;
    pc->probe.t = NULL;
    pc->probe.sending = false;
}
