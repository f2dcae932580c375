/* One SCTP association over an AF_CONN usrsctp socket: setup (RFC 8831 §6.2 settings),
 * packet input, the service loop that drains usrsctp (data and notifications), feeds it from
 * our send FIFO and hands packets out, stream growth and stream resets. Data channel logic
 * lives in datachannel.c. */
#include <errno.h>
#include <stdlib.h>

#include <arpa/inet.h>
#include <usrsctp.h>

#include "sctp/sctp_internal.h"

#define BUSY_TICK RTC_MS(10)
#define IDLE_TICK RTC_MS(100)
#define ACTIVE_WINDOW RTC_SEC(3)
#define RECV_CHUNK 65536
#define SEND_BUFFER (256 * 1024)
#define RECV_BUFFER (1024 * 1024)
#define SERVICE_ROUNDS 16

const char *rtc_sctp_state_name(rtc_sctp_state_t s) {
    switch (s) {
    case RTC_SCTP_STATE_NEW: return "new";
    case RTC_SCTP_STATE_CONNECTING: return "connecting";
    case RTC_SCTP_STATE_CONNECTED: return "connected";
    case RTC_SCTP_STATE_CLOSED: return "closed";
    }
    return "unknown";
}

void rtc_sctp_config_init(rtc_sctp_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->dtls_client = true;
    cfg->local_port = RTC_SCTP_DEFAULT_PORT;
    cfg->remote_port = RTC_SCTP_DEFAULT_PORT;
    cfg->local_max_message_size = RTC_SCTP_DEFAULT_LOCAL_MMS;
    cfg->remote_max_message_size = 0;
    cfg->streams = RTC_SCTP_DEFAULT_STREAMS;
    cfg->mtu = 1200;
    cfg->max_buffered = 16u << 20;
}

static int setopt(rtc_sctp_t *a, int level, int name, const void *v, socklen_t len,
                  const char *what) {
    if (usrsctp_setsockopt(a->so, level, name, v, len) < 0) {
        RTC_LOGE("sctp", "setsockopt %s failed: errno %d", what, errno);
        return RTC_ERR_FAILED;
    }
    return RTC_OK;
}

static int configure_socket(rtc_sctp_t *a) {
    int rc = RTC_OK;
    if (usrsctp_set_non_blocking(a->so, 1) < 0) return RTC_ERR_FAILED;
    /* Closing aborts at once: no lingering endpoint needing timers after destroy. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    rc |= setopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg, "SO_LINGER");
    int sndbuf = SEND_BUFFER, rcvbuf = RECV_BUFFER;
    rc |= setopt(a, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf, "SO_SNDBUF");
    rc |= setopt(a, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf, "SO_RCVBUF");
    int one = 1, zero = 0;
    rc |= setopt(a, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof one, "SCTP_NODELAY");
    rc |= setopt(a, IPPROTO_SCTP, SCTP_RECVRCVINFO, &one, sizeof one, "SCTP_RECVRCVINFO");
    rc |= setopt(a, IPPROTO_SCTP, SCTP_EXPLICIT_EOR, &one, sizeof one, "SCTP_EXPLICIT_EOR");
    /* usrsctp 0.9.5 has no I-DATA (RFC 8260) socket option: message interleaving is off.
     * Fragment interleave level 0: a partially delivered message blocks other deliveries, so
     * one reassembly buffer per association is enough. */
    rc |= setopt(a, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &zero, sizeof zero,
                 "SCTP_FRAGMENT_INTERLEAVE");
    struct sctp_assoc_value av = {.assoc_id = SCTP_FUTURE_ASSOC, .assoc_value = 0};
    av.assoc_value = SCTP_ENABLE_RESET_STREAM_REQ | SCTP_ENABLE_CHANGE_ASSOC_REQ;
    rc |= setopt(a, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, sizeof av,
                 "SCTP_ENABLE_STREAM_RESET");
    struct sctp_initmsg init = {0};
    init.sinit_num_ostreams = a->cfg.streams;
    init.sinit_max_instreams = 65535;
    rc |= setopt(a, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init, "SCTP_INITMSG");
    struct sctp_paddrparams pp = {0};
    pp.spp_assoc_id = SCTP_FUTURE_ASSOC;
    pp.spp_flags = SPP_PMTUD_DISABLE;
    pp.spp_pathmtu = a->cfg.mtu;
    rc |= setopt(a, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof pp, "SCTP_PEER_ADDR_PARAMS");
    static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT,
                                      SCTP_STREAM_CHANGE_EVENT, SCTP_REMOTE_ERROR,
                                      SCTP_SHUTDOWN_EVENT};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        struct sctp_event ev = {.se_assoc_id = SCTP_FUTURE_ASSOC, .se_type = events[i], .se_on = 1};
        rc |= setopt(a, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev, "SCTP_EVENT");
    }
    return rc ? RTC_ERR_FAILED : RTC_OK;
}

static void conn_addr(const rtc_sctp_t *a, struct sockaddr_conn *sc, uint16_t port) {
    memset(sc, 0, sizeof *sc);
    sc->sconn_family = AF_CONN;
    sc->sconn_port = htons(port);
    sc->sconn_addr = (void *)a->id;
}

int rtc_sctp_create(const rtc_sctp_config_t *cfg, rtc_sctp_t **out) {
    if (!cfg || !out || !cfg->cb.on_packet) return RTC_ERR_INVALID_ARG;
    *out = NULL;
    rtc_sctp_t *a = calloc(1, sizeof *a);
    if (!a) return RTC_ERR_NOMEM;
    a->cfg = *cfg;
    if (!a->cfg.local_port) a->cfg.local_port = RTC_SCTP_DEFAULT_PORT;
    if (!a->cfg.remote_port) a->cfg.remote_port = RTC_SCTP_DEFAULT_PORT;
    if (!a->cfg.local_max_message_size) a->cfg.local_max_message_size = RTC_SCTP_DEFAULT_LOCAL_MMS;
    if (!a->cfg.remote_max_message_size) a->cfg.remote_max_message_size = RTC_SCTP_DEFAULT_REMOTE_MMS;
    if (!a->cfg.streams) a->cfg.streams = RTC_SCTP_DEFAULT_STREAMS;
    if (!a->cfg.mtu) a->cfg.mtu = 1200;
    if (!a->cfg.max_buffered) a->cfg.max_buffered = 16u << 20;
    a->state = RTC_SCTP_STATE_NEW;
    pthread_mutex_init(&a->out_lock, NULL);
    atomic_init(&a->out_count, 0);
    int rc = sctp_glue_attach(a);
    if (rc) {
        pthread_mutex_destroy(&a->out_lock);
        free(a);
        return rc;
    }
    a->so = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (!a->so) {
        RTC_LOGE("sctp", "usrsctp_socket failed: errno %d", errno);
        rtc_sctp_destroy(a);
        return RTC_ERR_FAILED;
    }
    rc = configure_socket(a);
    struct sockaddr_conn sc;
    conn_addr(a, &sc, a->cfg.local_port);
    if (!rc && usrsctp_bind(a->so, (struct sockaddr *)&sc, sizeof sc) < 0) {
        RTC_LOGE("sctp", "usrsctp_bind port %u failed: errno %d", a->cfg.local_port, errno);
        rc = RTC_ERR_FAILED;
    }
    if (rc) {
        rtc_sctp_destroy(a);
        return rc;
    }
    *out = a;
    return RTC_OK;
}

static void free_msg_list(sctp_msg_t *m) {
    while (m) {
        sctp_msg_t *n = m->next;
        free(m);
        m = n;
    }
}

void rtc_sctp_destroy(rtc_sctp_t *a) {
    if (!a) return;
    a->destroying = true; /* conn_output drops the ABORT usrsctp_close sends */
    if (a->so) usrsctp_close(a->so);
    a->so = NULL;
    sctp_glue_detach(a);
    while (a->live_head) {
        rtc_dc_t *d = a->live_head;
        a->live_head = d->next;
        sctp_dc_free(d);
    }
    free(a->chans);
    rtc_buf_free(&a->rx);
    while (a->dead) {
        rtc_dc_t *d = a->dead;
        a->dead = d->next_dead;
        sctp_dc_free(d);
    }
    free_msg_list(a->sq_head);
    sctp_pkt_t *p = a->out_head;
    while (p) {
        sctp_pkt_t *n = p->next;
        free(p);
        p = n;
    }
    free(a->resets);
    pthread_mutex_destroy(&a->out_lock);
    free(a);
}

/* ------------------------------------------------------------------------------------------
 * Output.
 */
static bool flush_output(rtc_sctp_t *a) {
    bool any = false;
    for (;;) {
        pthread_mutex_lock(&a->out_lock);
        sctp_pkt_t *p = a->out_head;
        if (p) {
            a->out_head = p->next;
            if (!a->out_head) a->out_tail = NULL;
            atomic_fetch_sub(&a->out_count, 1);
        }
        pthread_mutex_unlock(&a->out_lock);
        if (!p) break;
        any = true;
        a->last_activity = a->now;
        a->cfg.cb.on_packet(a->cfg.user, p->data, p->len);
        free(p);
    }
    return any;
}

/* ------------------------------------------------------------------------------------------
 * Send FIFO.
 */
bool sctp_stream_usable(const rtc_sctp_t *a, uint16_t sid) {
    return a->state == RTC_SCTP_STATE_CONNECTED && sid < a->os;
}

/* Asks the peer for more outgoing streams so that `sid` becomes usable (RFC 6525 §4.5). */
void sctp_request_streams(rtc_sctp_t *a, uint16_t sid) {
    if (a->state != RTC_SCTP_STATE_CONNECTED || a->add_streams_pending || sid < a->os) return;
    uint32_t want = (uint32_t)sid + 1;
    /* Grow in steps of 256 so a burst of new channels needs few requests. */
    want = (want + 255) & ~255u;
    if (want > 65535) want = 65535;
    struct sctp_add_streams as = {0};
    as.sas_assoc_id = SCTP_FUTURE_ASSOC;
    as.sas_outstrms = (uint16_t)(want - a->os);
    if (usrsctp_setsockopt(a->so, IPPROTO_SCTP, SCTP_ADD_STREAMS, &as, sizeof as) < 0) {
        if (errno != EALREADY && errno != EBUSY)
            RTC_LOGW("sctp", "SCTP_ADD_STREAMS (+%u) failed: errno %d", as.sas_outstrms, errno);
        return;
    }
    RTC_LOGD("sctp", "requested %u more outgoing streams for stream %u", as.sas_outstrms, sid);
    a->add_streams_pending = true;
}

int sctp_enqueue(rtc_sctp_t *a, rtc_dc_t *dc, uint16_t sid, uint32_t ppid, const void *p,
                 size_t n, bool user_data) {
    sctp_msg_t *m = malloc(sizeof *m + n);
    if (!m) return RTC_ERR_NOMEM;
    memset(m, 0, sizeof *m);
    m->dc = dc;
    m->sid = sid;
    m->ppid = ppid;
    m->user_data = user_data;
    m->len = n;
    if (n) memcpy(m->data, p, n);
    if (a->sq_tail) a->sq_tail->next = m;
    else a->sq_head = m;
    a->sq_tail = m;
    a->sq_bytes += n;
    if (dc) {
        dc->queued_msgs++;
        if (user_data) dc->buffered += n;
    }
    return RTC_OK;
}

/* Hands as much of the FIFO to usrsctp as its send buffer takes. Messages go strictly in
 * order; a message for a stream not yet available (stream growth pending) holds the queue. */
bool sctp_push_queue(rtc_sctp_t *a) {
    bool any = false;
    while (a->sq_head) {
        sctp_msg_t *m = a->sq_head;
        if (!sctp_stream_usable(a, m->sid)) {
            sctp_request_streams(a, m->sid);
            break;
        }
        rtc_dc_t *dc = m->dc;
        if (!m->started) {
            m->unordered = dc && m->user_data && !dc->ordered && dc->acked;
            m->started = true;
        }
        struct sctp_sendv_spa spa;
        memset(&spa, 0, sizeof spa);
        spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
        spa.sendv_sndinfo.snd_sid = m->sid;
        spa.sendv_sndinfo.snd_ppid = htonl(m->ppid);
        spa.sendv_sndinfo.snd_flags = SCTP_EOR | (m->unordered ? SCTP_UNORDERED : 0);
        if (dc && m->user_data && (dc->max_rexmit >= 0 || dc->max_life >= 0)) {
            spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
            if (dc->max_rexmit >= 0) {
                spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
                spa.sendv_prinfo.pr_value = (uint32_t)dc->max_rexmit;
            } else {
                spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_TTL;
                spa.sendv_prinfo.pr_value = (uint32_t)dc->max_life;
            }
        }
        /* An empty message is one zero byte with PPID 56/57 (RFC 8831 §6.6). */
        static const uint8_t zero = 0;
        const uint8_t *data = m->len ? m->data + m->off : &zero;
        size_t left = m->len ? m->len - m->off : 1;
        ssize_t r = usrsctp_sendv(a->so, data, left, NULL, 0, &spa, sizeof spa, SCTP_SENDV_SPA, 0);
        if (r < 0) {
            if (errno == EWOULDBLOCK || errno == EAGAIN) break;
            /* Anything else (stream being reset, association going down): drop this message
             * so the queue does not wedge. */
            RTC_LOGW("sctp", "send on stream %u failed (errno %d); message of %zu bytes dropped",
                     m->sid, errno, m->len);
            r = (ssize_t)left;
        }
        if (r == 0) break;
        any = true;
        size_t took = (size_t)r > left ? left : (size_t)r;
        if (m->len) {
            m->off += took;
            a->sq_bytes -= took;
            if (dc && m->user_data) {
                size_t before = dc->buffered;
                dc->buffered -= took;
                if (before > dc->threshold && dc->buffered <= dc->threshold) dc->low_event = true;
            }
            if (m->off < m->len) break; /* usrsctp's buffer is full */
        }
        a->sq_head = m->next;
        if (!a->sq_head) a->sq_tail = NULL;
        if (dc) dc->queued_msgs--;
        free(m);
    }
    return any;
}

/* Drops every queued message of a channel (the channel is closing because the association
 * died). A message already partly handed to usrsctp cannot be recalled and stays. */
void sctp_drop_queued(rtc_sctp_t *a, rtc_dc_t *dc) {
    sctp_msg_t **pp = &a->sq_head, *prev = NULL;
    while (*pp) {
        sctp_msg_t *m = *pp;
        if (m->dc == dc && !(m->started && m->off)) {
            *pp = m->next;
            a->sq_bytes -= m->len - m->off;
            if (m->user_data) dc->buffered -= m->len - m->off;
            dc->queued_msgs--;
            free(m);
        } else {
            if (m->dc == dc) m->dc = NULL;
            prev = m;
            pp = &m->next;
        }
    }
    a->sq_tail = prev;
}

/* ------------------------------------------------------------------------------------------
 * Stream resets (RFC 6525 outgoing SSN reset, RFC 8831 §6.7 closing).
 */
void sctp_queue_reset(rtc_sctp_t *a, uint16_t sid) {
    for (size_t i = 0; i < a->nresets; i++)
        if (a->resets[i] == sid) return;
    if (a->nresets == a->resets_cap) {
        size_t cap = a->resets_cap ? a->resets_cap * 2 : 16;
        uint16_t *r = realloc(a->resets, cap * sizeof *r);
        if (!r) return; /* retried at the next close attempt */
        a->resets = r;
        a->resets_cap = cap;
    }
    a->resets[a->nresets++] = sid;
}

static bool issue_resets(rtc_sctp_t *a) {
    if (!a->nresets || a->state != RTC_SCTP_STATE_CONNECTED) return false;
    size_t n = a->nresets;
    size_t len = sizeof(struct sctp_reset_streams) + n * sizeof(uint16_t);
    struct sctp_reset_streams *rs = calloc(1, len);
    if (!rs) return false;
    rs->srs_assoc_id = SCTP_FUTURE_ASSOC;
    rs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    rs->srs_number_streams = (uint16_t)n;
    memcpy(rs->srs_stream_list, a->resets, n * sizeof(uint16_t));
    int r = usrsctp_setsockopt(a->so, IPPROTO_SCTP, SCTP_RESET_STREAMS, rs, (socklen_t)len);
    int err = errno;
    free(rs);
    if (r < 0) {
        /* One request at a time: usrsctp refuses while another is outstanding. */
        if (err != EALREADY && err != EBUSY && err != EAGAIN)
            RTC_LOGW("sctp", "SCTP_RESET_STREAMS (%zu streams) failed: errno %d", n, err);
        return false;
    }
    RTC_LOGD("sctp", "reset of %zu outgoing streams requested", n);
    a->resets_in_flight += n;
    a->nresets = 0;
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Notifications.
 */
static void set_state(rtc_sctp_t *a, rtc_sctp_state_t st, int reason) {
    if (a->state == st || a->state == RTC_SCTP_STATE_CLOSED) return;
    RTC_LOGI("sctp", "association %s -> %s%s%s", rtc_sctp_state_name(a->state),
             rtc_sctp_state_name(st), reason ? ": " : "", reason ? rtc_strerror(reason) : "");
    a->state = st;
    a->close_reason = reason;
    a->state_event = true;
    if (st == RTC_SCTP_STATE_CLOSED) sctp_dc_association_closed(a);
}

static void on_assoc_change(rtc_sctp_t *a, const struct sctp_assoc_change *sac, size_t n) {
    switch (sac->sac_state) {
    case SCTP_COMM_UP:
        a->os = sac->sac_outbound_streams;
        a->is = sac->sac_inbound_streams;
        RTC_LOGD("sctp", "COMM_UP: %u outbound, %u inbound streams", a->os, a->is);
        set_state(a, RTC_SCTP_STATE_CONNECTED, RTC_OK);
        sctp_dc_association_up(a);
        break;
    case SCTP_RESTART:
        RTC_LOGW("sctp", "peer restarted the association");
        a->os = sac->sac_outbound_streams;
        a->is = sac->sac_inbound_streams;
        break;
    case SCTP_SHUTDOWN_COMP:
        set_state(a, RTC_SCTP_STATE_CLOSED, RTC_OK);
        break;
    case SCTP_COMM_LOST:
        /* usrsctp attaches the peer's ABORT chunk when that is the cause. */
        set_state(a, RTC_SCTP_STATE_CLOSED,
                  n > sizeof(struct sctp_assoc_change) ? RTC_ERR_CLOSED : RTC_ERR_TIMEOUT);
        break;
    case SCTP_CANT_STR_ASSOC:
        set_state(a, RTC_SCTP_STATE_CLOSED, RTC_ERR_TIMEOUT);
        break;
    default:
        break;
    }
}

static void on_stream_reset(rtc_sctp_t *a, const struct sctp_stream_reset_event *ev, size_t n) {
    if (n < sizeof *ev) return;
    size_t count = (n - sizeof *ev) / sizeof(uint16_t);
    uint16_t flags = ev->strreset_flags;
    if (flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED))
        RTC_LOGW("sctp", "stream reset %s (flags 0x%x, %zu streams)",
                 (flags & SCTP_STREAM_RESET_DENIED) ? "denied" : "failed", flags, count);
    for (size_t i = 0; i < count; i++) {
        uint16_t sid = ev->strreset_stream_list[i];
        if (flags & SCTP_STREAM_RESET_OUTGOING_SSN) {
            if (a->resets_in_flight) a->resets_in_flight--;
            sctp_dc_outgoing_reset(a, sid, (flags & (SCTP_STREAM_RESET_DENIED |
                                                     SCTP_STREAM_RESET_FAILED)) != 0);
        }
        if (flags & SCTP_STREAM_RESET_INCOMING_SSN) sctp_dc_incoming_reset(a, sid);
    }
    if ((flags & SCTP_STREAM_RESET_OUTGOING_SSN) && count == 0) a->resets_in_flight = 0;
}

static void on_stream_change(rtc_sctp_t *a, const struct sctp_stream_change_event *ev) {
    a->add_streams_pending = false;
    if (ev->strchange_flags & (SCTP_STREAM_CHANGE_DENIED | SCTP_STREAM_CHANGE_FAILED)) {
        RTC_LOGW("sctp", "peer refused more streams (flags 0x%x); staying at %u outbound",
                 ev->strchange_flags, a->os);
        sctp_dc_streams_refused(a);
        return;
    }
    a->os = ev->strchange_outstrms;
    a->is = ev->strchange_instrms;
    RTC_LOGD("sctp", "streams now %u outbound, %u inbound", a->os, a->is);
}

static void on_notification(rtc_sctp_t *a, const uint8_t *p, size_t n) {
    const union sctp_notification *nt = (const void *)p;
    if (n < sizeof nt->sn_header) return;
    switch (nt->sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE:
        if (n >= sizeof nt->sn_assoc_change) on_assoc_change(a, &nt->sn_assoc_change, n);
        break;
    case SCTP_STREAM_RESET_EVENT:
        on_stream_reset(a, &nt->sn_strreset_event, n);
        break;
    case SCTP_STREAM_CHANGE_EVENT:
        if (n >= sizeof nt->sn_strchange_event) on_stream_change(a, &nt->sn_strchange_event);
        break;
    case SCTP_REMOTE_ERROR:
        RTC_LOGW("sctp", "peer reported an operation error");
        break;
    case SCTP_SHUTDOWN_EVENT:
        RTC_LOGD("sctp", "peer is shutting down");
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------------------------
 * Receiving. The chunk buffer is per thread; a nested drain (an on_message that calls into
 * another association) gets its own heap buffer, since the outer one is still in use.
 */
/* Aligned: notifications are read from it as union sctp_notification. */
static _Thread_local _Alignas(16) uint8_t tls_rx[RECV_CHUNK];
static _Thread_local bool tls_rx_busy;

static bool drain_socket(rtc_sctp_t *a) {
    if (!a->so) return false;
    bool any = false;
    uint8_t *buf = tls_rx;
    bool own = false;
    if (tls_rx_busy) {
        buf = malloc(RECV_CHUNK);
        if (!buf) return false;
        own = true;
    } else {
        tls_rx_busy = true;
    }
    for (;;) {
        struct sctp_rcvinfo rcv;
        memset(&rcv, 0, sizeof rcv);
        socklen_t infolen = sizeof rcv;
        unsigned int infotype = 0;
        int flags = 0;
        struct sockaddr_conn from;
        socklen_t fromlen = sizeof from;
        ssize_t r = usrsctp_recvv(a->so, buf, RECV_CHUNK, (struct sockaddr *)&from, &fromlen,
                                  &rcv, &infolen, &infotype, &flags);
        if (r <= 0) break;
        any = true;
        a->last_activity = a->now;
        if (flags & MSG_NOTIFICATION) {
            if (!(flags & MSG_EOR)) {
                RTC_LOGW("sctp", "notification larger than %d bytes ignored", RECV_CHUNK);
                continue;
            }
            on_notification(a, buf, (size_t)r);
        } else if (infotype == SCTP_RECVV_RCVINFO) {
            sctp_dc_receive(a, rcv.rcv_sid, ntohl(rcv.rcv_ppid), buf, (size_t)r,
                            (flags & MSG_EOR) != 0);
        }
        if (!a->so) break;
    }
    if (own) free(buf);
    else tls_rx_busy = false;
    return any;
}

/* ------------------------------------------------------------------------------------------
 * Service loop.
 */
static bool fire_state(rtc_sctp_t *a) {
    if (!a->state_event) return false;
    a->state_event = false;
    if (a->cfg.cb.on_state) a->cfg.cb.on_state(a->cfg.user, a->state, a->close_reason);
    return true;
}

static void maybe_shutdown(rtc_sctp_t *a) {
    if (a->shutdown_pending && !a->shutdown_sent && !a->sq_head &&
        a->state == RTC_SCTP_STATE_CONNECTED) {
        a->shutdown_sent = true;
        if (usrsctp_shutdown(a->so, SHUT_WR) < 0)
            RTC_LOGW("sctp", "usrsctp_shutdown failed: errno %d", errno);
    }
}

static void service(rtc_sctp_t *a) {
    a->kick = false;
    for (int round = 0; round < SERVICE_ROUNDS; round++) {
        bool progress = false;
        progress |= drain_socket(a);
        progress |= fire_state(a);
        progress |= sctp_dc_progress(a);
        progress |= sctp_push_queue(a);
        progress |= issue_resets(a);
        maybe_shutdown(a);
        progress |= sctp_dc_fire_events(a);
        progress |= flush_output(a);
        if (!progress) break;
    }
    a->last_service = a->now;
}

static void enter(rtc_sctp_t *a, rtc_time_t now) {
    a->depth++;
    if (now > a->now) a->now = now;
    if (a->depth == 1) sctp_glue_advance(now);
}

static void leave(rtc_sctp_t *a) {
    if (a->depth == 1) {
        service(a);
        while (a->dead) {
            rtc_dc_t *d = a->dead;
            a->dead = d->next_dead;
            sctp_dc_free(d);
        }
    }
    a->depth--;
}

/* Pushes data and hands packets out without firing any other callback: used by rtc_dc_send
 * so a send never re-enters the caller through events. */
void sctp_send_now(rtc_sctp_t *a) {
    if (!a->so) return;
    sctp_push_queue(a);
    flush_output(a);
    for (rtc_dc_t *d = a->live_head; d; d = d->next)
        if (d->low_event) a->kick = true;
}

int rtc_sctp_connect(rtc_sctp_t *a, rtc_time_t now) {
    if (!a) return RTC_ERR_INVALID_ARG;
    if (a->state != RTC_SCTP_STATE_NEW) return RTC_ERR_STATE;
    enter(a, now);
    a->state = RTC_SCTP_STATE_CONNECTING;
    a->last_activity = now;
    struct sockaddr_conn sc;
    conn_addr(a, &sc, a->cfg.remote_port);
    if (usrsctp_connect(a->so, (struct sockaddr *)&sc, sizeof sc) < 0 && errno != EINPROGRESS) {
        RTC_LOGE("sctp", "usrsctp_connect failed: errno %d", errno);
        set_state(a, RTC_SCTP_STATE_CLOSED, RTC_ERR_FAILED);
    }
    leave(a);
    return RTC_OK;
}

int rtc_sctp_handle_packet(rtc_sctp_t *a, const uint8_t *p, size_t n, rtc_time_t now) {
    if (!a || !p || n == 0) return RTC_ERR_INVALID_ARG;
    if (a->state == RTC_SCTP_STATE_CLOSED) return RTC_ERR_STATE;
    /* SCTP arriving means DTLS is up on the other side already: start our side too, or
     * usrsctp would answer the peer's INIT with an ABORT. */
    if (a->state == RTC_SCTP_STATE_NEW) rtc_sctp_connect(a, now);
    enter(a, now);
    a->last_activity = a->now;
    usrsctp_conninput((void *)a->id, p, n, 0);
    leave(a);
    return RTC_OK;
}

void rtc_sctp_handle_timeout(rtc_sctp_t *a, rtc_time_t now) {
    if (!a) return;
    enter(a, now);
    leave(a);
}

rtc_time_t rtc_sctp_next_timeout(const rtc_sctp_t *a) {
    if (!a) return RTC_TIME_NEVER;
    if (a->kick || a->state_event || atomic_load(&a->out_count) > 0) return a->now;
    if (a->state == RTC_SCTP_STATE_NEW || a->state == RTC_SCTP_STATE_CLOSED) return RTC_TIME_NEVER;
    bool busy = a->state != RTC_SCTP_STATE_CONNECTED || a->sq_head || a->nresets ||
                a->resets_in_flight || a->add_streams_pending || a->shutdown_pending ||
                a->now - a->last_activity < ACTIVE_WINDOW;
    return a->last_service + (busy ? BUSY_TICK : IDLE_TICK);
}

int rtc_sctp_shutdown(rtc_sctp_t *a, rtc_time_t now) {
    if (!a) return RTC_ERR_INVALID_ARG;
    if (a->state != RTC_SCTP_STATE_CONNECTED) return RTC_ERR_STATE;
    enter(a, now);
    a->shutdown_pending = true;
    leave(a);
    return RTC_OK;
}

rtc_sctp_state_t rtc_sctp_state(const rtc_sctp_t *a) { return a ? a->state : RTC_SCTP_STATE_CLOSED; }

void rtc_sctp_set_remote_max_message_size(rtc_sctp_t *a, uint32_t mms) {
    if (a) a->cfg.remote_max_message_size = mms ? mms : RTC_SCTP_DEFAULT_REMOTE_MMS;
}

size_t rtc_sctp_max_message_size(const rtc_sctp_t *a) {
    if (!a) return 0;
    return a->cfg.remote_max_message_size == RTC_SCTP_MMS_ANY ? SIZE_MAX
                                                              : a->cfg.remote_max_message_size;
}

uint16_t rtc_sctp_outbound_streams(const rtc_sctp_t *a) { return a ? a->os : 0; }
uint16_t rtc_sctp_inbound_streams(const rtc_sctp_t *a) { return a ? a->is : 0; }
size_t rtc_sctp_channel_count(const rtc_sctp_t *a) { return a ? a->nchans : 0; }

rtc_dc_t *rtc_sctp_find_channel(const rtc_sctp_t *a, uint16_t id) {
    if (!a || id >= a->chans_cap) return NULL;
    return a->chans[id];
}
