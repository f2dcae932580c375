/* Keeps the loadtest's ICE checks where they are allowed to go. A server may advertise
 * candidates on addresses the test must never send to (Janus, for one, skips loopback
 * interfaces and then lets libnice gather every other one — the machine's eth0 address
 * included). Every remote candidate, in a description or trickled, passes through here
 * first: only those whose address the caller allows (loopback and the --bind prefixes) reach
 * the PeerConnection. */
#ifndef LT_SDP_FILTER_H
#define LT_SDP_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "rtc/base.h"

typedef bool (*lt_addr_allow_fn)(void *user, const rtc_addr_t *addr);

/* Is this candidate ("candidate:..." or "a=candidate:...") one we may send to? false for a
 * candidate that does not parse or names a host (mDNS) instead of an address. */
bool lt_candidate_allowed(const char *line, size_t n, lt_addr_allow_fn allow, void *user);

/* Appends sdp[0..n) to out without the a=candidate lines lt_candidate_allowed refuses (line
 * endings kept as they were; the result is NUL-terminated). Returns the number of lines
 * dropped, or RTC_ERR_NOMEM. */
int lt_sdp_filter_candidates(const char *sdp, size_t n, lt_addr_allow_fn allow, void *user, rtc_buf_t *out);

#endif
