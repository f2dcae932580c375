/* Peer address policy: canonicalise, then match every form against deny and allow lists. */
#include "turn/peer_filter.h"

/* Special-purpose ranges a relay must not reach by default (RFC 6890 and friends). */
static const char *const default_deny[] = {
    /* IPv4 */
    "0.0.0.0/8",          /* "this network", includes 0.0.0.0 */
    "10.0.0.0/8",         /* RFC 1918 */
    "100.64.0.0/10",      /* carrier-grade NAT (RFC 6598) */
    "127.0.0.0/8",        /* loopback */
    "169.254.0.0/16",     /* link-local, includes 169.254.169.254 (cloud metadata) */
    "172.16.0.0/12",      /* RFC 1918 */
    "192.0.0.0/24",       /* IETF protocol assignments */
    "192.168.0.0/16",     /* RFC 1918 */
    "198.18.0.0/15",      /* benchmarking */
    "224.0.0.0/4",        /* multicast */
    "240.0.0.0/4",        /* reserved, includes 255.255.255.255 */
    /* IPv6 */
    "::/96",              /* unspecified, loopback and the IPv4-compatible block */
    "::ffff:0:0:0/96",    /* IPv4-translated (SIIT, RFC 2765) */
    "100::/64",           /* discard-only */
    "64:ff9b:1::/48",     /* local-use NAT64 (RFC 8215) */
    "fc00::/7",           /* unique local */
    "fe80::/10",          /* link-local */
    "fec0::/10",          /* site-local (deprecated) */
    "ff00::/8",           /* multicast */
};

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t zero12[12] = {0};
static const uint8_t nat64_prefix[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

turn_embed_t turn_peer_embedded_v4(const rtc_addr_t *in, rtc_addr_t *v4) {
    if (in->family != RTC_AF_INET6) return TURN_EMBED_NONE;
    const uint8_t *ip = in->ip;
    turn_embed_t kind = TURN_EMBED_NONE;
    const uint8_t *src = NULL;
    if (memcmp(ip, mapped_prefix, 12) == 0) {
        kind = TURN_EMBED_MAPPED;
        src = ip + 12;
    } else if (memcmp(ip, zero12, 12) == 0 && ip[12] != 0) {
        /* ::a.b.c.d. With a zero first octet it is ::, ::1 or other ::/104 junk, which the
         * IPv6 deny range ::/8 covers; treating ::1 as "0.0.0.1" would make "allow ::1"
         * impossible. */
        kind = TURN_EMBED_COMPAT;
        src = ip + 12;
    } else if (memcmp(ip, nat64_prefix, 12) == 0) {
        kind = TURN_EMBED_NAT64;
        src = ip + 12;
    } else if (ip[0] == 0x20 && ip[1] == 0x02) {
        kind = TURN_EMBED_6TO4;
        src = ip + 2;
    }
    if (kind != TURN_EMBED_NONE) rtc_addr_set_v4(v4, src, in->port);
    return kind;
}

static int add_cidr(turn_cidr_t *list, size_t *n, const char *s) {
    if (*n >= TURN_FILTER_MAX) return RTC_ERR_LIMIT;
    turn_cidr_t c;
    if (!s || rtc_addr_parse_cidr(s, &c.prefix, &c.bits) != RTC_OK) return RTC_ERR_ADDR;
    /* A CIDR written in mapped form ("::ffff:10.0.0.0/104") means the IPv4 range. */
    if (c.prefix.family == RTC_AF_INET6 && c.bits >= 96 && memcmp(c.prefix.ip, mapped_prefix, 12) == 0) {
        rtc_addr_unmap(&c.prefix);
        c.bits -= 96;
    }
    list[(*n)++] = c;
    return RTC_OK;
}

void turn_peer_filter_init(turn_peer_filter_t *f) {
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < sizeof default_deny / sizeof default_deny[0]; i++)
        add_cidr(f->deny, &f->n_deny, default_deny[i]);
}

void turn_peer_filter_clear_deny(turn_peer_filter_t *f) { f->n_deny = 0; }

int turn_peer_filter_allow(turn_peer_filter_t *f, const char *cidr) {
    return add_cidr(f->allow, &f->n_allow, cidr);
}

int turn_peer_filter_deny(turn_peer_filter_t *f, const char *cidr) {
    return add_cidr(f->deny, &f->n_deny, cidr);
}

int turn_peer_filter_add_own(turn_peer_filter_t *f, const rtc_addr_t *a) {
    if (!a || (a->family != RTC_AF_INET4 && a->family != RTC_AF_INET6)) return RTC_ERR_ADDR;
    rtc_addr_t c = *a;
    c.port = 0;
    c.scope_id = 0;
    rtc_addr_unmap(&c);
    if (rtc_addr_is_any(&c)) return RTC_OK; /* 0.0.0.0 / :: is denied by range anyway */
    for (size_t i = 0; i < f->n_own; i++)
        if (rtc_addr_equal_ip(&f->own[i], &c)) return RTC_OK;
    if (f->n_own >= TURN_FILTER_OWN_MAX) return RTC_ERR_LIMIT;
    f->own[f->n_own++] = c;
    return RTC_OK;
}

static bool in_list(const turn_cidr_t *list, size_t n, const rtc_addr_t *a) {
    for (size_t i = 0; i < n; i++)
        if (list[i].prefix.family == a->family && rtc_addr_in_prefix(a, &list[i].prefix, list[i].bits))
            return true;
    return false;
}

bool turn_peer_filter_denies_literal(const turn_peer_filter_t *f, const rtc_addr_t *a) {
    if (in_list(f->allow, f->n_allow, a)) return false;
    if (in_list(f->deny, f->n_deny, a)) return true;
    for (size_t i = 0; i < f->n_own; i++)
        if (rtc_addr_equal_ip(&f->own[i], a)) return true;
    return false;
}

int turn_peer_filter_check(const turn_peer_filter_t *f, const rtc_addr_t *peer, rtc_addr_t *send_to) {
    if (!peer || (peer->family != RTC_AF_INET4 && peer->family != RTC_AF_INET6)) return RTC_ERR_ADDR;
    rtc_addr_t lit = *peer;
    lit.scope_id = 0; /* a scope only means something for link-local, which is denied anyway */
    rtc_addr_t v4;
    turn_embed_t kind = turn_peer_embedded_v4(&lit, &v4);
    switch (kind) {
    case TURN_EMBED_MAPPED:
    case TURN_EMBED_COMPAT:
        /* Not routable as IPv6: the host is the IPv4 address, and that is where we send. */
        if (turn_peer_filter_denies_literal(f, &v4)) return RTC_ERR_DENIED;
        if (send_to) *send_to = v4;
        return RTC_OK;
    case TURN_EMBED_NAT64:
    case TURN_EMBED_6TO4:
        /* Routed as IPv6 by a translator or relay that ends at the embedded IPv4 host:
         * both forms must pass. */
        if (turn_peer_filter_denies_literal(f, &v4)) return RTC_ERR_DENIED;
        break;
    case TURN_EMBED_NONE:
        break;
    }
    if (turn_peer_filter_denies_literal(f, &lit)) return RTC_ERR_DENIED;
    if (send_to) *send_to = lit;
    return RTC_OK;
}
