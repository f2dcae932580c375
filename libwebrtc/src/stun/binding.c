/* The Binding method: a responder (what a STUN server, an ICE-lite agent or a TURN server
 * answers) and a client that learns our mapped address from one server. */
#include "rtc/stun.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- responder ------------------------------------------------------------------------- */

static int finish_response(const rtc_stun_responder_config_t *cfg, rtc_stun_builder_t *b,
                           bool fingerprint, bool sign) {
    if (cfg && cfg->software) rtc_stun_add_string(b, RTC_STUN_ATTR_SOFTWARE, cfg->software);
    if (sign && cfg && cfg->key) rtc_stun_add_integrity(b, cfg->key, cfg->key_len);
    if (fingerprint) rtc_stun_add_fingerprint(b);
    return rtc_stun_builder_finish(b);
}

static int error_response(const rtc_stun_responder_config_t *cfg, const rtc_stun_msg_t *req,
                          int code, bool fingerprint, uint8_t *out, size_t cap) {
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, out, cap, req, RTC_STUN_ERROR);
    rtc_stun_add_error(&b, code, NULL);
    if (code == RTC_STUN_ERR_UNKNOWN_ATTRIBUTE)
        rtc_stun_add_unknown_attributes(&b, req->unknown, req->n_unknown);
    return finish_response(cfg, &b, fingerprint, false);
}

int rtc_stun_binding_respond(const rtc_stun_responder_config_t *cfg, const uint8_t *p, size_t n,
                             const rtc_addr_t *from, uint8_t *out, size_t cap) {
    if (!p || !from || !out) return RTC_ERR_INVALID_ARG;
    if (!rtc_stun_is_message(p, n)) return 0;
    rtc_stun_msg_t req;
    int rc = rtc_stun_msg_decode(&req, p, n);
    if (rc != RTC_OK && rc != RTC_ERR_UNKNOWN_ATTR) {
        RTC_LOGD("stun", "dropping undecodable message from %s: %s", rtc_addr_str(from), rtc_strerror(rc));
        return 0;
    }
    if (req.cls != RTC_STUN_REQUEST) return 0; /* indications and stray responses: no answer */
    bool fp = req.fingerprint >= 0 || (cfg && cfg->always_fingerprint);
    if (rc == RTC_ERR_UNKNOWN_ATTR) return error_response(cfg, &req, RTC_STUN_ERR_UNKNOWN_ATTRIBUTE, fp, out, cap);
    if (req.method != RTC_STUN_BINDING) return error_response(cfg, &req, RTC_STUN_ERR_BAD_REQUEST, fp, out, cap);
    if (cfg && cfg->key) {
        /* Short-term credentials (RFC 8489 §9.1.3): no integrity → 400, wrong → 401. */
        if (req.integrity < 0 && req.integrity_sha256 < 0)
            return error_response(cfg, &req, RTC_STUN_ERR_BAD_REQUEST, fp, out, cap);
        if (rtc_stun_msg_check_integrity(&req, cfg->key, cfg->key_len) != RTC_OK) {
            RTC_LOGD("stun", "Binding from %s failed integrity", rtc_addr_str(from));
            return error_response(cfg, &req, RTC_STUN_ERR_UNAUTHORIZED, fp, out, cap);
        }
    }
    rtc_stun_builder_t b;
    rtc_stun_builder_init_response(&b, out, cap, &req, RTC_STUN_SUCCESS);
    rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, from);
    /* MAPPED-ADDRESS too: RFC 3489-era clients read only that, and it costs 12 bytes. */
    rtc_stun_add_address(&b, RTC_STUN_ATTR_MAPPED_ADDRESS, from);
    return finish_response(cfg, &b, fp, true);
}

/* ---- client ---------------------------------------------------------------------------- */

struct rtc_stun_binding_client {
    rtc_addr_t server;
    rtc_stun_txns_t *txns;
    rtc_stun_txn_send_fn send;
    void *user;
    rtc_stun_binding_state_t state;
    rtc_addr_t mapped;
    char software[764];
    rtc_time_t rtt;
    int error;
    int stun_code;
};

static void client_send(void *user, const uint8_t *p, size_t n, const rtc_addr_t *dest) {
    rtc_stun_binding_client_t *c = user;
    c->send(c->user, p, n, dest);
}

static void client_done(void *user, void *txn_user, int result, const rtc_stun_msg_t *resp,
                        const rtc_addr_t *from, rtc_time_t rtt) {
    (void)txn_user;
    (void)from;
    rtc_stun_binding_client_t *c = user;
    c->rtt = rtt;
    if (result != RTC_OK) {
        c->state = RTC_STUN_BINDING_FAILED;
        c->error = result;
        RTC_LOGI("stun", "Binding to %s: %s", rtc_addr_str(&c->server), rtc_strerror(result));
        return;
    }
    if (resp->cls == RTC_STUN_ERROR) {
        c->state = RTC_STUN_BINDING_FAILED;
        c->error = RTC_ERR_PROTOCOL;
        if (rtc_stun_msg_get_error(resp, &c->stun_code, NULL, 0) != RTC_OK) c->stun_code = 0;
        RTC_LOGI("stun", "Binding to %s: error %d", rtc_addr_str(&c->server), c->stun_code);
        return;
    }
    int rc = rtc_stun_msg_get_xor_address(resp, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, &c->mapped);
    if (rc == RTC_ERR_NOT_FOUND) rc = rtc_stun_msg_get_address(resp, RTC_STUN_ATTR_MAPPED_ADDRESS, &c->mapped);
    if (rc != RTC_OK) {
        c->state = RTC_STUN_BINDING_FAILED;
        c->error = RTC_ERR_MALFORMED;
        RTC_LOGW("stun", "Binding response from %s has no usable mapped address", rtc_addr_str(&c->server));
        return;
    }
    c->software[0] = '\0';
    rtc_stun_msg_get_string(resp, RTC_STUN_ATTR_SOFTWARE, c->software, sizeof c->software);
    c->state = RTC_STUN_BINDING_DONE;
}

rtc_stun_binding_client_t *rtc_stun_binding_client_create(const rtc_addr_t *server,
                                                          const rtc_stun_txn_config_t *cfg,
                                                          rtc_stun_txn_send_fn send, void *user) {
    if (!server || !send) return NULL;
    rtc_stun_binding_client_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->server = *server;
    c->send = send;
    c->user = user;
    c->txns = rtc_stun_txns_create(cfg, client_send, client_done, c);
    if (!c->txns) { free(c); return NULL; }
    return c;
}

void rtc_stun_binding_client_destroy(rtc_stun_binding_client_t *c) {
    if (!c) return;
    rtc_stun_txns_destroy(c->txns);
    free(c);
}

int rtc_stun_binding_client_start(rtc_stun_binding_client_t *c, rtc_time_t now) {
    if (c->state == RTC_STUN_BINDING_WAITING) return RTC_ERR_STATE;
    uint8_t buf[64];
    rtc_stun_builder_t b;
    rtc_stun_builder_init(&b, buf, sizeof buf, RTC_STUN_BINDING, RTC_STUN_REQUEST, NULL);
    rtc_stun_add_fingerprint(&b);
    int len = rtc_stun_builder_finish(&b);
    if (len < 0) return len;
    c->state = RTC_STUN_BINDING_WAITING;
    return rtc_stun_txns_start(c->txns, buf, (size_t)len, &c->server, c, NULL, now);
}

int rtc_stun_binding_client_handle(rtc_stun_binding_client_t *c, const uint8_t *p, size_t n,
                                   const rtc_addr_t *from, rtc_time_t now) {
    rtc_stun_msg_t msg;
    int rc = rtc_stun_msg_decode(&msg, p, n);
    if (rc != RTC_OK && rc != RTC_ERR_UNKNOWN_ATTR) return RTC_ERR_NOT_FOUND;
    if (rc == RTC_ERR_UNKNOWN_ATTR && msg.cls == RTC_STUN_SUCCESS) {
        /* A success response with unknown comprehension-required attributes fails the
         * transaction (RFC 8489 §6.3.3); drop it here and let it time out if nothing else
         * comes. */
        return RTC_ERR_NOT_FOUND;
    }
    return rtc_stun_txns_handle_response(c->txns, &msg, from, now);
}

rtc_time_t rtc_stun_binding_client_next_timeout(const rtc_stun_binding_client_t *c) {
    return rtc_stun_txns_next_timeout(c->txns);
}

void rtc_stun_binding_client_handle_timeout(rtc_stun_binding_client_t *c, rtc_time_t now) {
    rtc_stun_txns_handle_timeout(c->txns, now);
}

rtc_stun_binding_state_t rtc_stun_binding_client_state(const rtc_stun_binding_client_t *c) { return c->state; }
const rtc_addr_t *rtc_stun_binding_client_mapped(const rtc_stun_binding_client_t *c) { return &c->mapped; }
const char *rtc_stun_binding_client_software(const rtc_stun_binding_client_t *c) { return c->software; }
rtc_time_t rtc_stun_binding_client_rtt(const rtc_stun_binding_client_t *c) { return c->rtt; }

int rtc_stun_binding_client_error(const rtc_stun_binding_client_t *c, int *stun_code) {
    if (stun_code) *stun_code = c->stun_code;
    return c->error;
}
