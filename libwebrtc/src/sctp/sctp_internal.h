/* Internal to libwebrtc/src/sctp/: the association and channel structures and the glue to the
 * process-wide usrsctp stack (usrsctp_glue.c). */
#ifndef RTC_SCTP_INTERNAL_H
#define RTC_SCTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "rtc/sctp.h"

struct socket;

/* A packet usrsctp produced for an association, waiting to be handed to on_packet. */
typedef struct sctp_pkt {
    struct sctp_pkt *next;
    size_t len;
    uint8_t data[];
} sctp_pkt_t;

/* A message waiting in the association's send FIFO (user data or DCEP). */
typedef struct sctp_msg {
    struct sctp_msg *next;
    rtc_dc_t *dc;        /* NULL for DCEP messages on a rejected stream */
    uint16_t sid;
    uint32_t ppid;
    bool user_data;      /* counts toward bufferedAmount */
    bool started;        /* first piece handed to usrsctp: flags below are fixed */
    bool unordered;
    size_t len, off;
    uint8_t data[];
} sctp_msg_t;

struct rtc_dc {
    rtc_sctp_t *a;
    uint16_t id;
    char *label, *protocol;
    bool ordered, negotiated;
    int32_t max_rexmit, max_life;
    uint16_t priority;
    rtc_dc_state_t state;
    bool opener;          /* we sent DATA_CHANNEL_OPEN (in-band, created locally) */
    bool open_queued;     /* OPEN queued / negotiated channel announced */
    bool acked;           /* unordered sending allowed (ACK seen, acceptor, or negotiated) */
    bool open_event;      /* on_open still to fire */
    bool closing_event;   /* on_closing still to fire */
    bool low_event;       /* on_buffered_amount_low still to fire */
    bool close_requested; /* rtc_dc_close called or peer reset: reset ours once drained */
    bool reset_out_queued, reset_out_done, reset_in_done;
    bool error_close;     /* closed because the association failed */
    size_t buffered, threshold;
    size_t queued_msgs;   /* messages of this channel in the FIFO */
    rtc_dc_callbacks_t cb;
    void *user;
    bool close_event;     /* on_close still to fire (then the channel goes to the dead list) */
    rtc_dc_t *prev, *next; /* live list, in creation order */
    rtc_dc_t *next_dead;
};

struct rtc_sctp {
    rtc_sctp_config_t cfg;
    uintptr_t id;          /* the AF_CONN "address" handed to usrsctp */
    struct socket *so;
    rtc_sctp_state_t state;
    int close_reason;
    bool state_event;      /* on_state still to fire */
    bool kick;             /* bookkeeping done outside service: run it soon */
    bool shutdown_pending; /* rtc_sctp_shutdown: SHUTDOWN once the FIFO drains */
    bool shutdown_sent;
    bool destroying;
    int depth;
    rtc_time_t now, last_service, last_activity;

    /* Filled by usrsctp's output callback, possibly from another thread's timer run. */
    pthread_mutex_t out_lock;
    sctp_pkt_t *out_head, *out_tail;
    atomic_int out_count;

    sctp_msg_t *sq_head, *sq_tail;
    size_t sq_bytes;

    rtc_dc_t *live_head, *live_tail; /* channels whose on_close has not fired yet */
    rtc_dc_t **chans;      /* indexed by stream id: channels holding their id */
    size_t chans_cap;
    size_t nchans;
    rtc_dc_t *dead;        /* closed channels, freed at the end of the outermost call */

    uint16_t os, is;       /* negotiated stream counts */
    bool add_streams_pending;

    uint16_t *resets;      /* stream ids whose outgoing reset is still to be requested */
    size_t nresets, resets_cap;
    size_t resets_in_flight;

    /* Incoming message being reassembled (no interleaving: one at a time). */
    rtc_buf_t rx;
    uint16_t rx_sid;
    uint32_t rx_ppid;
    bool rx_active, rx_oversize;
};

/* ---- association.c, used by datachannel.c ---- */
bool sctp_stream_usable(const rtc_sctp_t *a, uint16_t sid);
void sctp_request_streams(rtc_sctp_t *a, uint16_t sid);
/* Appends a message to the send FIFO (copied). */
int sctp_enqueue(rtc_sctp_t *a, rtc_dc_t *dc, uint16_t sid, uint32_t ppid, const void *p,
                 size_t n, bool user_data);
bool sctp_push_queue(rtc_sctp_t *a);
void sctp_drop_queued(rtc_sctp_t *a, rtc_dc_t *dc);
void sctp_queue_reset(rtc_sctp_t *a, uint16_t sid);
void sctp_send_now(rtc_sctp_t *a);

/* ---- datachannel.c, used by association.c ---- */
void sctp_dc_free(rtc_dc_t *dc);
void sctp_dc_association_up(rtc_sctp_t *a);
void sctp_dc_association_closed(rtc_sctp_t *a);
void sctp_dc_outgoing_reset(rtc_sctp_t *a, uint16_t sid, bool failed);
void sctp_dc_incoming_reset(rtc_sctp_t *a, uint16_t sid);
void sctp_dc_streams_refused(rtc_sctp_t *a);
/* One piece of an incoming message; eor marks its last piece. */
void sctp_dc_receive(rtc_sctp_t *a, uint16_t sid, uint32_t ppid, const uint8_t *p, size_t n,
                     bool eor);
/* Queues OPENs, starts resets of drained closing channels, completes closes. */
bool sctp_dc_progress(rtc_sctp_t *a);
/* Fires pending open/closing/bufferedamountlow/close events. */
bool sctp_dc_fire_events(rtc_sctp_t *a);

/* ---- usrsctp_glue.c ---- */
/* Takes a reference on the usrsctp stack (initialising it on the first) and registers a
 * fresh id for a. Returns RTC_OK or RTC_ERR_NOMEM. */
int sctp_glue_attach(rtc_sctp_t *a);
/* Unregisters a (no more output reaches it) and drops the reference; the last one finishes
 * usrsctp. Call after usrsctp_close(). */
void sctp_glue_detach(rtc_sctp_t *a);
/* Advances usrsctp's process-wide timers to now. */
void sctp_glue_advance(rtc_time_t now);

#endif
