/*
 * turn/peer_filter.h — which peer addresses a TURN allocation may relay to.
 *
 * A TURN server is an open proxy for anyone with credentials, so by default it refuses to
 * relay into the networks behind it: loopback, RFC 1918 and ULA, link-local, multicast,
 * unspecified, 0.0.0.0/8, carrier-grade NAT 100.64.0.0/10, the cloud metadata address
 * 169.254.169.254 and other special ranges, and the server's own addresses. An allow-list
 * in the configuration punches holes (tests allow 127.0.0.1).
 *
 * Every address is canonicalised before matching, because the same IPv4 host can be named by
 * several IPv6 addresses (coTURN had six peer-filter CVEs from matching only the literal):
 *   ::ffff:a.b.c.d   IPv4-mapped       -> a.b.c.d (and relayed as IPv4)
 *   ::a.b.c.d        IPv4-compatible   -> a.b.c.d (and relayed as IPv4)
 *   64:ff9b::a.b.c.d NAT64 (RFC 6052)  -> a.b.c.d checked, IPv6 form checked too
 *   2002:AABB:CCDD:: 6to4 (RFC 3056)   -> a.b.c.d checked, IPv6 form checked too
 * An address is refused if any of its forms is in a deny range and that form is not
 * allowed explicitly.
 */
#ifndef TURN_PEER_FILTER_H
#define TURN_PEER_FILTER_H

#include "rtc/base.h"

#define TURN_FILTER_MAX 64
#define TURN_FILTER_OWN_MAX 64

typedef struct {
    rtc_addr_t prefix;
    unsigned bits;
} turn_cidr_t;

typedef struct {
    turn_cidr_t deny[TURN_FILTER_MAX];
    size_t n_deny;
    turn_cidr_t allow[TURN_FILTER_MAX];
    size_t n_allow;
    rtc_addr_t own[TURN_FILTER_OWN_MAX]; /* the server's addresses; ports ignored */
    size_t n_own;
} turn_peer_filter_t;

/* How an IPv6 address embeds an IPv4 one. */
typedef enum {
    TURN_EMBED_NONE = 0,
    TURN_EMBED_MAPPED,  /* ::ffff:0:0/96 */
    TURN_EMBED_COMPAT,  /* ::/96 with a non-zero first octet in the IPv4 part */
    TURN_EMBED_NAT64,   /* 64:ff9b::/96 */
    TURN_EMBED_6TO4,    /* 2002::/16 */
} turn_embed_t;

/* If `in` is an IPv6 address embedding an IPv4 one, writes that IPv4 address (with in's
 * port) to v4 and returns the kind; otherwise returns TURN_EMBED_NONE and leaves v4 alone. */
turn_embed_t turn_peer_embedded_v4(const rtc_addr_t *in, rtc_addr_t *v4);

/* Fills the filter with the default deny ranges and no allow entries. */
void turn_peer_filter_init(turn_peer_filter_t *f);
/* Empties the deny list (for a deployment that wants to relay anywhere — not recommended). */
void turn_peer_filter_clear_deny(turn_peer_filter_t *f);
/* Add a CIDR ("10.0.0.0/8", "::1", "fc00::/7"). RTC_ERR_ADDR if unparsable, RTC_ERR_LIMIT
 * if the list is full. */
int turn_peer_filter_allow(turn_peer_filter_t *f, const char *cidr);
int turn_peer_filter_deny(turn_peer_filter_t *f, const char *cidr);
/* Adds one of the server's own addresses (listener, relay, interface). Duplicates and
 * unspecified addresses are ignored. */
int turn_peer_filter_add_own(turn_peer_filter_t *f, const rtc_addr_t *a);

/* Decides for a peer transport address. Returns RTC_OK if relaying is allowed and writes to
 * send_to (may be NULL) the address to actually use: IPv4-mapped and IPv4-compatible forms
 * become plain IPv4; other addresses are unchanged. Returns RTC_ERR_DENIED if refused,
 * RTC_ERR_ADDR for an address of no known family. */
int turn_peer_filter_check(const turn_peer_filter_t *f, const rtc_addr_t *peer, rtc_addr_t *send_to);

/* Is this one address (no canonicalisation) covered by the deny / allow list? For tests. */
bool turn_peer_filter_denies_literal(const turn_peer_filter_t *f, const rtc_addr_t *a);

#endif /* TURN_PEER_FILTER_H */
