/* Data channels (RFC 8831) on an association: creation and stream id choice, DCEP open/ack
 * (RFC 8832), message delivery, closing by stream reset (RFC 8831 §6.7), W3C events. */
#include <stdlib.h>

#include "sctp/sctp_internal.h"

const char *rtc_dc_state_name(rtc_dc_state_t s) {
    switch (s) {
    case RTC_DC_CONNECTING: return "connecting";
    case RTC_DC_OPEN: return "open";
    case RTC_DC_CLOSING: return "closing";
    case RTC_DC_CLOSED: return "closed";
    }
    return "unknown";
}

void rtc_dc_init_defaults(rtc_dc_init_t *o) {
    memset(o, 0, sizeof *o);
    o->ordered = true;
    o->max_retransmits = -1;
    o->max_packet_life_time = -1;
    o->id = -1;
    o->priority = RTC_DCEP_PRIORITY_NORMAL;
}

static char *dup_bytes(const void *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

void sctp_dc_free(rtc_dc_t *dc) {
    if (!dc) return;
    free(dc->label);
    free(dc->protocol);
    free(dc);
}

static int claim_id(rtc_sctp_t *a, rtc_dc_t *dc, uint16_t id) {
    if (id >= a->chans_cap) {
        size_t cap = a->chans_cap ? a->chans_cap : 64;
        while (cap <= id) cap *= 2;
        if (cap > 65535) cap = 65535;
        rtc_dc_t **c = realloc(a->chans, cap * sizeof *c);
        if (!c) return RTC_ERR_NOMEM;
        memset(c + a->chans_cap, 0, (cap - a->chans_cap) * sizeof *c);
        a->chans = c;
        a->chans_cap = cap;
    }
    if (a->chans[id]) return RTC_ERR_DUPLICATE;
    a->chans[id] = dc;
    dc->id = id;
    a->nchans++;
    return RTC_OK;
}

static void release_id(rtc_sctp_t *a, rtc_dc_t *dc) {
    if (dc->id < a->chans_cap && a->chans[dc->id] == dc) {
        a->chans[dc->id] = NULL;
        a->nchans--;
    }
}

static void link_live(rtc_sctp_t *a, rtc_dc_t *dc) {
    dc->prev = a->live_tail;
    dc->next = NULL;
    if (a->live_tail) a->live_tail->next = dc;
    else a->live_head = dc;
    a->live_tail = dc;
}

static void unlink_live(rtc_sctp_t *a, rtc_dc_t *dc) {
    if (dc->prev) dc->prev->next = dc->next;
    else a->live_head = dc->next;
    if (dc->next) dc->next->prev = dc->prev;
    else a->live_tail = dc->prev;
    dc->prev = dc->next = NULL;
}

static bool stream_free(const rtc_sctp_t *a, uint16_t id) {
    if (id < a->chans_cap && a->chans[id]) return false;
    for (size_t i = 0; i < a->nresets; i++)
        if (a->resets[i] == id) return false;
    return true;
}

/* RFC 8832 §6: the DTLS client uses even stream ids, the server odd ones. */
static int choose_id(const rtc_sctp_t *a) {
    for (uint32_t id = a->cfg.dtls_client ? 0 : 1; id <= RTC_SCTP_MAX_STREAM_ID; id += 2)
        if (stream_free(a, (uint16_t)id)) return (int)id;
    return -1;
}

static rtc_dc_t *new_channel(rtc_sctp_t *a, const void *label, size_t label_len,
                             const void *protocol, size_t protocol_len) {
    rtc_dc_t *dc = calloc(1, sizeof *dc);
    if (!dc) return NULL;
    dc->a = a;
    dc->label = dup_bytes(label, label_len);
    dc->protocol = dup_bytes(protocol, protocol_len);
    if (!dc->label || !dc->protocol) {
        sctp_dc_free(dc);
        return NULL;
    }
    dc->max_rexmit = -1;
    dc->max_life = -1;
    dc->ordered = true;
    dc->priority = RTC_DCEP_PRIORITY_NORMAL;
    return dc;
}

int rtc_sctp_create_channel(rtc_sctp_t *a, const char *label, const rtc_dc_init_t *init,
                            rtc_dc_t **out) {
    if (!a || !out) return RTC_ERR_INVALID_ARG;
    *out = NULL;
    rtc_dc_init_t def;
    if (!init) {
        rtc_dc_init_defaults(&def);
        init = &def;
    }
    if (!label) label = "";
    const char *protocol = init->protocol ? init->protocol : "";
    size_t ll = strlen(label), pl = strlen(protocol);
    if (ll > 65535 || pl > 65535) return RTC_ERR_INVALID_ARG;
    if (init->max_retransmits >= 0 && init->max_packet_life_time >= 0) return RTC_ERR_INVALID_ARG;
    if (init->id > RTC_SCTP_MAX_STREAM_ID || (init->negotiated && init->id < 0))
        return RTC_ERR_INVALID_ARG;
    if (a->state == RTC_SCTP_STATE_CLOSED) return RTC_ERR_STATE;
    int id = init->id;
    if (id < 0) {
        id = choose_id(a);
        if (id < 0) return RTC_ERR_LIMIT;
    } else if (!stream_free(a, (uint16_t)id)) {
        return RTC_ERR_DUPLICATE;
    }
    rtc_dc_t *dc = new_channel(a, label, ll, protocol, pl);
    if (!dc) return RTC_ERR_NOMEM;
    dc->ordered = init->ordered;
    dc->max_rexmit = init->max_retransmits;
    dc->max_life = init->max_packet_life_time;
    dc->negotiated = init->negotiated;
    dc->priority = init->priority ? init->priority : RTC_DCEP_PRIORITY_NORMAL;
    dc->opener = !init->negotiated;
    dc->acked = init->negotiated;
    dc->state = RTC_DC_CONNECTING;
    int rc = claim_id(a, dc, (uint16_t)id);
    if (rc) {
        sctp_dc_free(dc);
        return rc;
    }
    link_live(a, dc);
    a->kick = true;
    *out = dc;
    return RTC_OK;
}

void rtc_dc_set_callbacks(rtc_dc_t *dc, const rtc_dc_callbacks_t *cb, void *user) {
    if (!dc) return;
    if (cb) dc->cb = *cb;
    else memset(&dc->cb, 0, sizeof dc->cb);
    dc->user = user;
}

static uint8_t channel_type(const rtc_dc_t *dc) {
    uint8_t t = RTC_DCEP_RELIABLE;
    if (dc->max_rexmit >= 0) t = RTC_DCEP_PARTIAL_RELIABLE_REXMIT;
    else if (dc->max_life >= 0) t = RTC_DCEP_PARTIAL_RELIABLE_TIMED;
    if (!dc->ordered) t |= 0x80;
    return t;
}

static int queue_open(rtc_sctp_t *a, rtc_dc_t *dc) {
    rtc_dcep_open_t o = {0};
    o.channel_type = channel_type(dc);
    o.priority = dc->priority;
    o.reliability = dc->max_rexmit >= 0 ? (uint32_t)dc->max_rexmit
                    : dc->max_life >= 0 ? (uint32_t)dc->max_life : 0;
    o.label = (const uint8_t *)dc->label;
    o.label_len = (uint16_t)strlen(dc->label);
    o.protocol = (const uint8_t *)dc->protocol;
    o.protocol_len = (uint16_t)strlen(dc->protocol);
    size_t cap = RTC_DCEP_OPEN_HEADER_LEN + o.label_len + o.protocol_len;
    uint8_t *buf = malloc(cap);
    if (!buf) return RTC_ERR_NOMEM;
    int n = rtc_dcep_write_open(&o, buf, cap);
    int rc = n < 0 ? n : sctp_enqueue(a, dc, dc->id, RTC_SCTP_PPID_DCEP, buf, (size_t)n, false);
    free(buf);
    return rc;
}

/* The channel reached CLOSED: its id is free again, on_close fires next. */
static void finish_close(rtc_sctp_t *a, rtc_dc_t *dc) {
    if (dc->state == RTC_DC_CLOSED) return;
    RTC_LOGD("sctp", "channel %u '%s' closed", dc->id, dc->label);
    dc->state = RTC_DC_CLOSED;
    dc->open_event = false;
    dc->close_event = true;
    release_id(a, dc);
}

bool sctp_dc_progress(rtc_sctp_t *a) {
    bool any = false;
    bool up = a->state == RTC_SCTP_STATE_CONNECTED;
    for (rtc_dc_t *dc = a->live_head; dc; dc = dc->next) {
        if (dc->state == RTC_DC_CONNECTING && up && !dc->open_queued) {
            if (dc->opener && queue_open(a, dc) != RTC_OK) continue; /* retried next round */
            dc->open_queued = true;
            dc->state = RTC_DC_OPEN;
            dc->open_event = true;
            any = true;
        }
        if (dc->state == RTC_DC_CLOSING && dc->close_requested && !dc->reset_out_queued &&
            dc->queued_msgs == 0) {
            if (up) {
                sctp_queue_reset(a, dc->id);
            } else {
                dc->reset_in_done = true;
            }
            dc->reset_out_queued = true;
            if (!up) dc->reset_out_done = true;
            any = true;
        }
        if (dc->state == RTC_DC_CLOSING && dc->reset_out_done && dc->reset_in_done) {
            finish_close(a, dc);
            any = true;
        }
    }
    return any;
}

bool sctp_dc_fire_events(rtc_sctp_t *a) {
    bool any = false;
    rtc_dc_t *dc = a->live_head;
    while (dc) {
        if (dc->open_event) {
            dc->open_event = false;
            any = true;
            if (dc->cb.on_open) dc->cb.on_open(dc->user, dc);
        }
        if (dc->closing_event) {
            dc->closing_event = false;
            any = true;
            if (dc->cb.on_closing) dc->cb.on_closing(dc->user, dc);
        }
        if (dc->low_event) {
            dc->low_event = false;
            any = true;
            if (dc->state == RTC_DC_OPEN && dc->cb.on_buffered_amount_low)
                dc->cb.on_buffered_amount_low(dc->user, dc);
        }
        rtc_dc_t *next = dc->next;
        if (dc->close_event) {
            dc->close_event = false;
            any = true;
            if (dc->error_close && dc->cb.on_error)
                dc->cb.on_error(dc->user, dc, RTC_ERR_CLOSED, "association closed");
            if (dc->cb.on_close) dc->cb.on_close(dc->user, dc);
            next = dc->next; /* the callback may have created channels */
            unlink_live(a, dc);
            dc->next_dead = a->dead;
            a->dead = dc;
        }
        dc = next;
    }
    return any;
}

void sctp_dc_association_up(rtc_sctp_t *a) { a->kick = true; }

void sctp_dc_association_closed(rtc_sctp_t *a) {
    for (rtc_dc_t *dc = a->live_head; dc; dc = dc->next) {
        if (dc->state == RTC_DC_CLOSED) continue;
        sctp_drop_queued(a, dc);
        dc->error_close = a->close_reason != RTC_OK;
        finish_close(a, dc);
    }
    rtc_buf_free(&a->rx);
    a->rx_active = false;
}

void sctp_dc_outgoing_reset(rtc_sctp_t *a, uint16_t sid, bool failed) {
    rtc_dc_t *dc = sid < a->chans_cap ? a->chans[sid] : NULL;
    if (!dc || !dc->reset_out_queued) return;
    if (failed) RTC_LOGW("sctp", "reset of stream %u failed; closing channel anyway", sid);
    dc->reset_out_done = true;
    /* A peer that does not reset its side back (or a failed reset) must not leave the channel
     * in closing forever: after our side is reset, the incoming one is treated as done when
     * the request failed. */
    if (failed) dc->reset_in_done = true;
    a->kick = true;
}

void sctp_dc_incoming_reset(rtc_sctp_t *a, uint16_t sid) {
    if (a->rx_active && a->rx_sid == sid) {
        a->rx_active = false;
        rtc_buf_clear(&a->rx);
    }
    rtc_dc_t *dc = sid < a->chans_cap ? a->chans[sid] : NULL;
    if (!dc) return;
    dc->reset_in_done = true;
    if (dc->state == RTC_DC_OPEN || dc->state == RTC_DC_CONNECTING) {
        RTC_LOGD("sctp", "peer closed channel %u '%s'", sid, dc->label);
        dc->state = RTC_DC_CLOSING;
        dc->closing_event = true;
        dc->open_event = false;
    }
    dc->close_requested = true;
    a->kick = true;
}

void sctp_dc_streams_refused(rtc_sctp_t *a) {
    for (rtc_dc_t *dc = a->live_head; dc; dc = dc->next) {
        if (dc->state == RTC_DC_CLOSED || dc->id < a->os) continue;
        RTC_LOGW("sctp", "channel %u '%s' closed: no stream available", dc->id, dc->label);
        sctp_drop_queued(a, dc);
        dc->error_close = true;
        finish_close(a, dc);
    }
}

static void channel_error(rtc_dc_t *dc, int err, const char *what) {
    if (dc && dc->cb.on_error) dc->cb.on_error(dc->user, dc, err, what);
}

/* DATA_CHANNEL_OPEN from the peer: create the channel, answer with ACK, announce it. */
static void handle_open(rtc_sctp_t *a, uint16_t sid, const uint8_t *p, size_t n) {
    if (!stream_free(a, sid)) {
        RTC_LOGW("sctp", "DATA_CHANNEL_OPEN on stream %u already in use; ignored", sid);
        return;
    }
    rtc_dcep_open_t o;
    int rc = rtc_dcep_parse_open(&o, p, n);
    if (rc != RTC_OK || sid > RTC_SCTP_MAX_STREAM_ID) {
        RTC_LOGW("sctp", "malformed DATA_CHANNEL_OPEN on stream %u (%s); resetting the stream",
                 sid, rc ? rtc_strerror(rc) : "reserved stream id");
        if (sid <= RTC_SCTP_MAX_STREAM_ID) sctp_queue_reset(a, sid);
        return;
    }
    rtc_dc_t *dc = new_channel(a, o.label, o.label_len, o.protocol, o.protocol_len);
    if (!dc) return;
    dc->ordered = !(o.channel_type & 0x80);
    uint32_t rel = o.reliability > INT32_MAX ? INT32_MAX : o.reliability;
    switch (o.channel_type & 0x7f) {
    case RTC_DCEP_PARTIAL_RELIABLE_REXMIT: dc->max_rexmit = (int32_t)rel; break;
    case RTC_DCEP_PARTIAL_RELIABLE_TIMED: dc->max_life = (int32_t)rel; break;
    default: break;
    }
    dc->priority = o.priority;
    dc->acked = true; /* we received a message on the stream: unordered is allowed */
    dc->open_queued = true;
    if (claim_id(a, dc, sid) != RTC_OK) {
        sctp_dc_free(dc);
        return;
    }
    link_live(a, dc);
    uint8_t ack[1];
    rtc_dcep_write_ack(ack, sizeof ack);
    if (sctp_enqueue(a, dc, sid, RTC_SCTP_PPID_DCEP, ack, 1, false) != RTC_OK) {
        release_id(a, dc);
        unlink_live(a, dc);
        sctp_dc_free(dc);
        return;
    }
    RTC_LOGD("sctp", "peer opened channel %u '%s' type 0x%02x", sid, dc->label, o.channel_type);
    /* W3C: the channel is open when ondatachannel fires, then the open event follows. */
    dc->state = RTC_DC_OPEN;
    if (a->cfg.cb.on_datachannel) a->cfg.cb.on_datachannel(a->cfg.user, dc);
    if (dc->state == RTC_DC_OPEN && dc->cb.on_open) dc->cb.on_open(dc->user, dc);
}

static void handle_dcep(rtc_sctp_t *a, uint16_t sid, const uint8_t *p, size_t n) {
    int type = rtc_dcep_msg_type(p, n);
    rtc_dc_t *dc = sid < a->chans_cap ? a->chans[sid] : NULL;
    if (type == RTC_DCEP_MSG_OPEN) {
        handle_open(a, sid, p, n);
    } else if (type == RTC_DCEP_MSG_ACK) {
        if (rtc_dcep_parse_ack(p, n) != RTC_OK) {
            RTC_LOGW("sctp", "malformed DATA_CHANNEL_ACK on stream %u ignored", sid);
        } else if (!dc || !dc->opener) {
            RTC_LOGW("sctp", "unexpected DATA_CHANNEL_ACK on stream %u ignored", sid);
        } else {
            dc->acked = true;
        }
    } else {
        RTC_LOGW("sctp", "unknown DCEP message type %d (%zu bytes) on stream %u ignored", type, n,
                 sid);
        channel_error(dc, RTC_ERR_PROTOCOL, "unknown DCEP message");
    }
}

static void deliver(rtc_sctp_t *a, uint16_t sid, uint32_t ppid, const uint8_t *p, size_t n) {
    if (ppid == RTC_SCTP_PPID_DCEP) {
        handle_dcep(a, sid, p, n);
        return;
    }
    rtc_dc_t *dc = sid < a->chans_cap ? a->chans[sid] : NULL;
    if (!dc) {
        RTC_LOGD("sctp", "message on stream %u without a channel dropped", sid);
        return;
    }
    dc->acked = true; /* RFC 8832 §6: any message from the peer counts as the ACK */
    bool is_string;
    switch (ppid) {
    case RTC_SCTP_PPID_STRING:
    case RTC_SCTP_PPID_STRING_PARTIAL:
        is_string = true;
        break;
    case RTC_SCTP_PPID_BINARY:
    case RTC_SCTP_PPID_BINARY_PARTIAL:
        is_string = false;
        break;
    case RTC_SCTP_PPID_STRING_EMPTY:
        is_string = true;
        n = 0;
        break;
    case RTC_SCTP_PPID_BINARY_EMPTY:
        is_string = false;
        n = 0;
        break;
    default:
        RTC_LOGW("sctp", "message with unknown PPID %u on stream %u dropped", ppid, sid);
        return;
    }
    if (dc->state != RTC_DC_OPEN) return; /* W3C: discarded unless open */
    if (dc->cb.on_message) dc->cb.on_message(dc->user, dc, n ? p : NULL, n, is_string);
}

void sctp_dc_receive(rtc_sctp_t *a, uint16_t sid, uint32_t ppid, const uint8_t *p, size_t n,
                     bool eor) {
    size_t limit = a->cfg.local_max_message_size;
    if (!a->rx_active && eor) {
        if (n > limit) {
            RTC_LOGW("sctp", "message of %zu bytes on stream %u over our limit %zu dropped", n,
                     sid, limit);
            channel_error(sid < a->chans_cap ? a->chans[sid] : NULL, RTC_ERR_LIMIT,
                          "message over max-message-size");
            return;
        }
        deliver(a, sid, ppid, p, n);
        return;
    }
    if (a->rx_active && a->rx_sid != sid) {
        RTC_LOGW("sctp", "partial message on stream %u abandoned for stream %u", a->rx_sid, sid);
        a->rx_active = false;
    }
    if (!a->rx_active) {
        a->rx_active = true;
        a->rx_oversize = false;
        a->rx_sid = sid;
        a->rx_ppid = ppid;
        rtc_buf_clear(&a->rx);
    }
    if (!a->rx_oversize) {
        if (a->rx.len + n > limit) {
            a->rx_oversize = true;
            rtc_buf_free(&a->rx);
        } else if (rtc_buf_append(&a->rx, p, n) != RTC_OK) {
            RTC_LOGE("sctp", "out of memory reassembling a message on stream %u", sid);
            a->rx_oversize = true;
            rtc_buf_free(&a->rx);
        }
    }
    if (!eor) return;
    a->rx_active = false;
    if (a->rx_oversize) {
        RTC_LOGW("sctp", "message on stream %u over our limit %zu dropped", sid, limit);
        channel_error(sid < a->chans_cap ? a->chans[sid] : NULL, RTC_ERR_LIMIT,
                      "message over max-message-size");
        return;
    }
    /* Deliver from a moved-out buffer: the callback may cause another reassembly. */
    rtc_buf_t msg = a->rx;
    rtc_buf_init(&a->rx);
    deliver(a, sid, a->rx_ppid, msg.data, msg.len);
    rtc_buf_free(&msg);
}

/* ------------------------------------------------------------------------------------------
 * Public channel API.
 */
int rtc_dc_send(rtc_dc_t *dc, const void *p, size_t n, bool is_string) {
    if (!dc || (!p && n)) return RTC_ERR_INVALID_ARG;
    rtc_sctp_t *a = dc->a;
    if (dc->state != RTC_DC_OPEN) return RTC_ERR_STATE;
    if (n > rtc_sctp_max_message_size(a)) {
        RTC_LOGW("sctp", "message of %zu bytes over the peer's max-message-size %zu refused", n,
                 rtc_sctp_max_message_size(a));
        return RTC_ERR_LIMIT;
    }
    if (a->sq_bytes + n > a->cfg.max_buffered) return RTC_ERR_AGAIN;
    uint32_t ppid = n ? (is_string ? RTC_SCTP_PPID_STRING : RTC_SCTP_PPID_BINARY)
                      : (is_string ? RTC_SCTP_PPID_STRING_EMPTY : RTC_SCTP_PPID_BINARY_EMPTY);
    int rc = sctp_enqueue(a, dc, dc->id, ppid, p, n, true);
    if (rc) return rc;
    if (a->depth == 0) sctp_send_now(a);
    else a->kick = true;
    return RTC_OK;
}

void rtc_dc_close(rtc_dc_t *dc) {
    if (!dc || dc->state == RTC_DC_CLOSING || dc->state == RTC_DC_CLOSED) return;
    rtc_sctp_t *a = dc->a;
    dc->open_event = false;
    dc->state = RTC_DC_CLOSING;
    dc->close_requested = true;
    if (!dc->open_queued || a->state != RTC_SCTP_STATE_CONNECTED) {
        /* Nothing was ever sent on the stream: no reset needed. */
        sctp_drop_queued(a, dc);
        dc->reset_out_queued = dc->reset_out_done = dc->reset_in_done = true;
    }
    a->kick = true;
}

rtc_dc_state_t rtc_dc_state(const rtc_dc_t *dc) { return dc ? dc->state : RTC_DC_CLOSED; }
int32_t rtc_dc_id(const rtc_dc_t *dc) { return dc ? dc->id : -1; }
const char *rtc_dc_label(const rtc_dc_t *dc) { return dc ? dc->label : ""; }
const char *rtc_dc_protocol(const rtc_dc_t *dc) { return dc ? dc->protocol : ""; }
bool rtc_dc_ordered(const rtc_dc_t *dc) { return dc ? dc->ordered : true; }
int32_t rtc_dc_max_retransmits(const rtc_dc_t *dc) { return dc ? dc->max_rexmit : -1; }
int32_t rtc_dc_max_packet_life_time(const rtc_dc_t *dc) { return dc ? dc->max_life : -1; }
bool rtc_dc_negotiated(const rtc_dc_t *dc) { return dc ? dc->negotiated : false; }
uint16_t rtc_dc_priority(const rtc_dc_t *dc) { return dc ? dc->priority : 0; }
size_t rtc_dc_buffered_amount(const rtc_dc_t *dc) { return dc ? dc->buffered : 0; }
size_t rtc_dc_buffered_amount_low_threshold(const rtc_dc_t *dc) { return dc ? dc->threshold : 0; }
void rtc_dc_set_buffered_amount_low_threshold(rtc_dc_t *dc, size_t threshold) {
    if (dc) dc->threshold = threshold;
}
rtc_sctp_t *rtc_dc_association(const rtc_dc_t *dc) { return dc ? dc->a : NULL; }
