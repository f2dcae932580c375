/*
 * sfu/speaker.h — active speaker detection from the audio levels publishers put in their
 * RTP header extension (urn:ietf:params:rtp-hdrext:ssrc-audio-level, RFC 6464: 0..127, the
 * level in -dBov), without decoding audio.
 *
 * Every `interval` (250 ms: the contract's "at most 4 times a second") each participant's
 * level is the mean linear amplitude of the packets received in that interval, where an
 * interval with no packets (Opus DTX sends none in silence) counts as silence; it is
 * smoothed over intervals (exponential, weight `smoothing` for the newest). A participant
 * whose smoothed level reaches the threshold (default -50 dBov) is speaking, and stays in
 * the list for `hold` after dropping below it, so pauses between words do not make the list
 * flicker. The list is ordered loudest first, cut to `max_speakers`, and reported only when
 * it changed (members or order) since the last report.
 *
 * Levels in the report are linear amplitude 0..1 (0 dBov = 1.0, -20 dBov = 0.1).
 */
#ifndef STARLING_SFU_SPEAKER_H
#define STARLING_SFU_SPEAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    rtc_time_t interval;     /* default 250 ms */
    uint8_t threshold_dbov;  /* levels at or below -threshold dBov count; default 50 */
    double smoothing;        /* weight of the newest interval, 0 < s <= 1; default 0.6 */
    rtc_time_t hold;         /* default 300 ms */
    size_t max_speakers;     /* default 5 */
} sfu_speaker_config_t;

void sfu_speaker_config_init(sfu_speaker_config_t *cfg);

typedef struct sfu_speakers sfu_speakers_t;

typedef struct {
    void *who;     /* the caller's handle given to sfu_speakers_add */
    double level;  /* 0..1 */
} sfu_speaker_t;

/* cfg NULL: defaults. NULL on allocation failure. */
sfu_speakers_t *sfu_speakers_new(const sfu_speaker_config_t *cfg);
void sfu_speakers_free(sfu_speakers_t *s);

/* Registers a participant (an audio track); returns a slot >= 0 for sfu_speakers_on_level,
 * or RTC_ERR_NOMEM. `who` is reported back in lists. */
int sfu_speakers_add(sfu_speakers_t *s, void *who);
/* Forgets a slot (the next report drops it if it was listed). */
void sfu_speakers_remove(sfu_speakers_t *s, int slot);

/* One packet's audio level: level_dbov 0..127 (-dBov), voice = the V flag. Out-of-range
 * slots are ignored. Cheap: called per audio packet. */
void sfu_speakers_on_level(sfu_speakers_t *s, int slot, uint8_t level_dbov, bool voice,
                           rtc_time_t now);

/* When the next evaluation is due (the first one `interval` after the first call to
 * on_level or poll). */
rtc_time_t sfu_speakers_next_timeout(const sfu_speakers_t *s);

/* Evaluates every interval that ended by `now` (on_level does the same as packets arrive).
 * Returns true when an evaluation happened since the last poll and the list differs from the
 * last one returned, with the list in out[0..*n) (up to cap entries). Call it at
 * sfu_speakers_next_timeout(). */
bool sfu_speakers_poll(sfu_speakers_t *s, rtc_time_t now, sfu_speaker_t *out, size_t cap,
                       size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_SPEAKER_H */
