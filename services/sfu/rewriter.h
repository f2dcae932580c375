/*
 * sfu/rewriter.h — makes one continuous RTP stream for a subscriber out of whichever source
 * stream (simulcast layer) is forwarded at the moment.
 *
 * A subscriber sees one SSRC per track whose sequence numbers run on without gaps or
 * duplicates and whose timestamps never jump backwards, however often the SFU switches
 * between the publisher's simulcast layers (each with its own SSRC, random initial sequence
 * number and random timestamp base), pauses, or drops packets on purpose. Switches happen
 * only at keyframes (the caller decides, see forward.h), so a decoder never sees a frame
 * whose references it does not have.
 *
 * Mapping. For the current source, out_seq = in_seq - seq_offset and out_ts = in_ts -
 * ts_offset (both modulo their width). At a switch (or resume) the offsets are chosen so that
 * the first packet of the new source gets the sequence number after the last one sent and a
 * timestamp advanced by the wall-clock time since the last packet (at least 1 tick).
 * Reordered packets of the current source keep their relative order; a 64-packet window
 * remembers which input sequence numbers were forwarded, so duplicates (retransmissions of
 * packets already forwarded) are dropped and late packets still fill their gap. Packets of
 * the current source older than the switch point are dropped: their place in the output was
 * never reserved.
 *
 * The VP8 part keeps picture IDs, TL0PICIDX and KEYIDX continuous across switches in the
 * same way (a receiver's frame-reference logic is keyed on picture IDs).
 *
 * Plain value types: no allocation, no clock reads (the caller passes `now`).
 */
#ifndef STARLING_SFU_REWRITER_H
#define STARLING_SFU_REWRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "rtc/base.h"
#include "sfu/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SFU_RW_FORWARD = 0,   /* send with *out_seq / *out_ts */
    SFU_RW_DROP_OLD = 1,  /* older than the switch point or than the window: not forwarded */
    SFU_RW_DROP_DUP = 2,  /* this input sequence number was forwarded already */
    SFU_RW_DROP_SOURCE = 3, /* not the current source, and no switch asked */
} sfu_rw_result_t;

typedef struct {
    uint32_t clock_rate;
    bool started;             /* something was forwarded */
    bool have_source;
    uint32_t src_ssrc;
    int64_t src_highest;      /* unwrapped highest input sequence number of the source */
    int64_t src_first;        /* unwrapped first input sequence number since the switch */
    int64_t src_barrier;      /* packets older than this cannot be placed (after a skip) */
    uint64_t window;          /* bit i: input src_highest - i was forwarded or skipped */
    uint16_t seq_offset;
    uint32_t ts_offset;
    uint16_t out_seq_next;    /* sequence number the next new packet gets */
    uint32_t out_ts_last;     /* timestamp of the newest packet forwarded */
    rtc_time_t out_time_last; /* when that packet was forwarded */
    uint64_t switches;
} sfu_rewriter_t;

/* Starts a rewriter for a stream of `clock_rate` Hz whose first output packet will carry
 * first_seq and first_ts (random values, as RFC 3550 asks for a new stream). */
void sfu_rewriter_init(sfu_rewriter_t *r, uint32_t clock_rate, uint16_t first_seq,
                       uint32_t first_ts);

/* Maps one packet. `resync` makes this packet the start of a new mapping: set it on the
 * keyframe where a switch to another layer (or a resume after a pause) happens; the source
 * becomes ssrc. Returns SFU_RW_FORWARD with the output numbers, or a drop reason. */
sfu_rw_result_t sfu_rewriter_map(sfu_rewriter_t *r, uint32_t ssrc, uint16_t seq, uint32_t ts,
                                 bool resync, rtc_time_t now, uint16_t *out_seq,
                                 uint32_t *out_ts);

/* Drops packet `seq` of the current source on purpose without leaving a gap in the output
 * (e.g. padding-only packets). Works only for the next packet in order: returns RTC_OK, or
 * RTC_ERR_STATE when the packet is not the next one (the caller should forward it instead),
 * or RTC_ERR_NOT_FOUND when ssrc is not the current source. */
int sfu_rewriter_skip(sfu_rewriter_t *r, uint32_t ssrc, uint16_t seq);

/* ---- VP8 picture ID / TL0PICIDX / KEYIDX continuity ------------------------------------ */
typedef struct {
    bool started;
    bool have_source;
    uint32_t src_ssrc;
    uint16_t pid_offset;
    uint8_t tl0_offset;
    uint8_t key_offset;
    bool src_pid_15;
    uint16_t out_pid_last;    /* newest picture ID sent (15-bit space) */
    uint8_t out_tl0_last;
    uint8_t out_key_last;
    int32_t src_pid_highest;  /* newest input picture ID of the source, -1 when none */
} sfu_vp8_munger_t;

void sfu_vp8_munger_init(sfu_vp8_munger_t *m);

/* Rewrites the descriptor at the start of payload p (n bytes) in place. resync as for
 * sfu_rewriter_map (same packet). Packets without a picture ID are left alone. Returns
 * RTC_OK or the descriptor parse error (packet left unchanged). */
int sfu_vp8_munger_rewrite(sfu_vp8_munger_t *m, uint32_t ssrc, bool resync, uint8_t *p,
                           size_t n);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_REWRITER_H */
