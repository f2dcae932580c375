/* pc/datachannel.c — RTCDataChannel objects. The SCTP layer's channels (rtc_dc_t) only exist
 * once the association does, and their stream ids depend on the DTLS role that negotiation
 * decides; the PeerConnection's channel objects exist from createDataChannel on and attach to
 * an rtc_dc_t when the association is created. They outlive it (W3C objects stay readable
 * after close) until the PeerConnection is destroyed. */
#include <stdio.h>
#include <stdlib.h>

#include "pc/pc_internal.h"

static char *dupstr(const char *s) {
    size_t n = strlen(s ? s : "");
    char *d = malloc(n + 1);
    if (d) memcpy(d, s ? s : "", n + 1);
    return d;
}

static bool push_dc(rtc_peer_connection_t *pc, rtc_pc_datachannel_t *d) {
    rtc_pc_datachannel_t **v = realloc(pc->dcs, (pc->n_dcs + 1) * sizeof *v);
    if (!v) return false;
    pc->dcs = v;
    pc->dcs[pc->n_dcs++] = d;
    return true;
}

rtc_pc_datachannel_t *pc_dc_new(rtc_peer_connection_t *pc, const char *label, const rtc_dc_init_t *init) {
    rtc_pc_datachannel_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->pc = pc;
    d->label = dupstr(label);
    if (init) d->init = *init;
    else rtc_dc_init_defaults(&d->init);
    d->protocol = dupstr(d->init.protocol);
    d->init.protocol = d->protocol;
    d->id = d->init.negotiated ? d->init.id : -1;
    d->state = RTC_DC_CONNECTING;
    if (!d->label || !d->protocol || !push_dc(pc, d)) {
        free(d->label);
        free(d->protocol);
        free(d);
        return NULL;
    }
    return d;
}

void pc_dc_free(rtc_pc_datachannel_t *d) {
    if (!d) return;
    free(d->label);
    free(d->protocol);
    free(d);
}

/* ---- trampolines from rtc_dc_t callbacks ---------------------------------------------- */
static void t_open(void *user, rtc_dc_t *dc) {
    rtc_pc_datachannel_t *d = user;
    d->id = rtc_dc_id(dc);
    d->state = RTC_DC_OPEN;
    d->pc->dc_opened++;
    if (d->cb.on_open) d->cb.on_open(d->user, d);
}

static void t_message(void *user, rtc_dc_t *dc, const uint8_t *p, size_t n, bool is_string) {
    (void)dc;
    rtc_pc_datachannel_t *d = user;
    d->messages_received++;
    d->bytes_received += n;
    if (d->cb.on_message) d->cb.on_message(d->user, d, p, n, is_string);
}

static void t_closing(void *user, rtc_dc_t *dc) {
    (void)dc;
    rtc_pc_datachannel_t *d = user;
    d->state = RTC_DC_CLOSING;
    if (d->cb.on_closing) d->cb.on_closing(d->user, d);
}

static void t_close(void *user, rtc_dc_t *dc) {
    (void)dc;
    rtc_pc_datachannel_t *d = user;
    d->dc = NULL; /* freed by the SCTP layer after this returns */
    if (d->state != RTC_DC_CLOSED) {
        d->state = RTC_DC_CLOSED;
        d->pc->dc_closed++;
        if (d->cb.on_close) d->cb.on_close(d->user, d);
    }
}

static void t_error(void *user, rtc_dc_t *dc, int err, const char *what) {
    (void)dc;
    rtc_pc_datachannel_t *d = user;
    if (d->cb.on_error) d->cb.on_error(d->user, d, err, what);
}

static void t_low(void *user, rtc_dc_t *dc) {
    (void)dc;
    rtc_pc_datachannel_t *d = user;
    if (d->cb.on_buffered_amount_low) d->cb.on_buffered_amount_low(d->user, d);
}

static const rtc_dc_callbacks_t trampolines = {
    .on_open = t_open, .on_message = t_message, .on_closing = t_closing,
    .on_close = t_close, .on_error = t_error, .on_buffered_amount_low = t_low,
};

static void attach(rtc_pc_datachannel_t *d, rtc_dc_t *dc) {
    d->dc = dc;
    d->id = rtc_dc_id(dc);
    rtc_dc_set_callbacks(dc, &trampolines, d);
    if (d->low_threshold) rtc_dc_set_buffered_amount_low_threshold(dc, d->low_threshold);
}

/* Creates the SCTP channels of every channel object still waiting for one. */
void pc_dc_attach_all(rtc_peer_connection_t *pc) {
    if (!pc->sctp) return;
    for (size_t i = 0; i < pc->n_dcs; i++) {
        rtc_pc_datachannel_t *d = pc->dcs[i];
        if (d->dc || d->state != RTC_DC_CONNECTING) continue;
        rtc_dc_t *dc = NULL;
        int rc = rtc_sctp_create_channel(pc->sctp, d->label, &d->init, &dc);
        if (rc) {
            RTC_LOGW(PC_LOG, "%s: data channel '%s' cannot be created: %s", pc->log_id, d->label, rtc_strerror(rc));
            d->state = RTC_DC_CLOSED;
            if (d->cb.on_error) d->cb.on_error(d->user, d, rc, "channel creation failed");
            if (d->cb.on_close) d->cb.on_close(d->user, d);
            continue;
        }
        attach(d, dc);
        if (rtc_dc_state(dc) == RTC_DC_OPEN && d->state != RTC_DC_OPEN) t_open(d, dc);
    }
}

void pc_sctp_on_datachannel(void *user, rtc_dc_t *dc) {
    rtc_peer_connection_t *pc = user;
    rtc_dc_init_t init;
    rtc_dc_init_defaults(&init);
    init.ordered = rtc_dc_ordered(dc);
    init.max_retransmits = rtc_dc_max_retransmits(dc);
    init.max_packet_life_time = rtc_dc_max_packet_life_time(dc);
    init.protocol = rtc_dc_protocol(dc);
    init.priority = rtc_dc_priority(dc);
    init.id = rtc_dc_id(dc);
    rtc_pc_datachannel_t *d = pc_dc_new(pc, rtc_dc_label(dc), &init);
    if (!d) {
        rtc_dc_close(dc);
        return;
    }
    attach(d, dc);
    if (pc->cb.on_datachannel) pc->cb.on_datachannel(pc->user, d);
}

/* The association went away: every channel closes. */
void pc_dc_association_closed(rtc_peer_connection_t *pc) {
    for (size_t i = 0; i < pc->n_dcs; i++) {
        rtc_pc_datachannel_t *d = pc->dcs[i];
        d->dc = NULL;
        if (d->state == RTC_DC_CLOSED) continue;
        bool was_connecting = d->state == RTC_DC_CONNECTING && !pc->closed;
        d->state = RTC_DC_CLOSED;
        pc->dc_closed++;
        if (was_connecting && d->cb.on_error) d->cb.on_error(d->user, d, RTC_ERR_CLOSED, "association closed");
        if (d->cb.on_close) d->cb.on_close(d->user, d);
    }
}

/* ---- public API ------------------------------------------------------------------------ */
rtc_pc_datachannel_t *rtc_peer_connection_create_data_channel(rtc_peer_connection_t *pc,
                                                              const char *label,
                                                              const rtc_dc_init_t *init) {
    if (!pc || pc->closed) return NULL;
    rtc_dc_init_t def;
    if (!init) { rtc_dc_init_defaults(&def); init = &def; }
    if (init->max_retransmits >= 0 && init->max_packet_life_time >= 0) {
        RTC_LOGW(PC_LOG, "%s: maxRetransmits and maxPacketLifeTime are exclusive", pc->log_id);
        return NULL;
    }
    if (init->negotiated && (init->id < 0 || init->id > RTC_SCTP_MAX_STREAM_ID)) {
        RTC_LOGW(PC_LOG, "%s: a negotiated channel needs an id 0..65534", pc->log_id);
        return NULL;
    }
    if (label && strlen(label) > 65535) return NULL;
    rtc_dc_init_t copy = *init;
    if (!copy.negotiated) copy.id = -1;
    rtc_pc_datachannel_t *d = pc_dc_new(pc, label, &copy);
    if (!d) return NULL;
    if (!pc->want_data) {
        pc->want_data = true;
        pc->data_after_tr = pc->n_tr;
        if (!pc->data_mid[0] || pc->data_rejected) pc_mark_negotiation_needed(pc);
    }
    if (pc->sctp) pc_dc_attach_all(pc);
    pc_wakeup(pc);
    return d;
}

void rtc_pc_datachannel_set_callbacks(rtc_pc_datachannel_t *dc, const rtc_pc_datachannel_callbacks_t *cb,
                                      void *user) {
    if (!dc) return;
    if (cb) dc->cb = *cb;
    else memset(&dc->cb, 0, sizeof dc->cb);
    dc->user = user;
}

int rtc_pc_datachannel_send(rtc_pc_datachannel_t *dc, const void *p, size_t n, bool is_string) {
    if (!dc || (!p && n)) return RTC_ERR_INVALID_ARG;
    if (!dc->dc || dc->state != RTC_DC_OPEN) return RTC_ERR_STATE;
    int rc = rtc_dc_send(dc->dc, p, n, is_string);
    if (rc == RTC_OK) {
        dc->messages_sent++;
        dc->bytes_sent += n;
    }
    pc_wakeup(dc->pc);
    return rc;
}

void rtc_pc_datachannel_close(rtc_pc_datachannel_t *dc) {
    if (!dc || dc->state == RTC_DC_CLOSED || dc->state == RTC_DC_CLOSING) return;
    if (dc->dc) {
        dc->state = RTC_DC_CLOSING;
        rtc_dc_close(dc->dc);
    } else {
        dc->state = RTC_DC_CLOSED;
        dc->pc->dc_closed++;
        if (dc->cb.on_close) dc->cb.on_close(dc->user, dc);
    }
    pc_wakeup(dc->pc);
}

rtc_dc_state_t rtc_pc_datachannel_state(const rtc_pc_datachannel_t *dc) { return dc->state; }
const char *rtc_pc_datachannel_label(const rtc_pc_datachannel_t *dc) { return dc->label; }
const char *rtc_pc_datachannel_protocol(const rtc_pc_datachannel_t *dc) { return dc->protocol; }
int32_t rtc_pc_datachannel_id(const rtc_pc_datachannel_t *dc) { return dc->id; }
bool rtc_pc_datachannel_ordered(const rtc_pc_datachannel_t *dc) { return dc->init.ordered; }
int32_t rtc_pc_datachannel_max_retransmits(const rtc_pc_datachannel_t *dc) { return dc->init.max_retransmits; }
int32_t rtc_pc_datachannel_max_packet_life_time(const rtc_pc_datachannel_t *dc) {
    return dc->init.max_packet_life_time;
}
bool rtc_pc_datachannel_negotiated(const rtc_pc_datachannel_t *dc) { return dc->init.negotiated; }
size_t rtc_pc_datachannel_buffered_amount(const rtc_pc_datachannel_t *dc) {
    return dc->dc ? rtc_dc_buffered_amount(dc->dc) : 0;
}
void rtc_pc_datachannel_set_buffered_amount_low_threshold(rtc_pc_datachannel_t *dc, size_t t) {
    dc->low_threshold = t;
    if (dc->dc) rtc_dc_set_buffered_amount_low_threshold(dc->dc, t);
}
size_t rtc_pc_datachannel_buffered_amount_low_threshold(const rtc_pc_datachannel_t *dc) {
    return dc->low_threshold;
}
void *rtc_pc_datachannel_user(const rtc_pc_datachannel_t *dc) { return dc->user; }

size_t rtc_peer_connection_max_message_size(const rtc_peer_connection_t *pc) {
    return pc && pc->sctp ? rtc_sctp_max_message_size(pc->sctp) : 0;
}
