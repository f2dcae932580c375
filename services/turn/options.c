/* starling-turn's option table and its translation into policy and runtime settings. */
#include "turn/options.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtc/net.h"
#include "rtc/turn.h"

#define O(f) offsetof(turn_options_t, f)
#define MS_DAY (24LL * 3600 * 1000)

static const st_option_t options[] = {
    {"listen", ST_OPT_LIST, O(listen), "0.0.0.0:3478",
     "UDP listener addresses (IP:port, [IPv6]:port), one SO_REUSEPORT socket per worker each", 0, 0, NULL, 0},
    {"tcp.listen", ST_OPT_LIST, O(tcp_listen), "0.0.0.0:3478", "TCP listener addresses (empty: no TCP)", 0, 0,
     NULL, 0},
    {"tls.listen", ST_OPT_LIST, O(tls_listen), NULL, "TLS listener addresses, e.g. 0.0.0.0:5349 (needs tls.cert/key)",
     0, 0, NULL, 0},
    {"tls.cert", ST_OPT_STRING, O(tls_cert), NULL, "PEM certificate chain file for TLS listeners", 0, 0, NULL, 0},
    {"tls.key", ST_OPT_STRING, O(tls_key), NULL, "PEM private key file for TLS listeners", 0, 0, NULL, 0},
    {"workers", ST_OPT_INT, O(workers), "0", "worker threads (0: one per CPU)", 0, 1024, NULL, 0},
    {"realm", ST_OPT_STRING, O(realm), "starling", "long-term credential realm", 0, 0, NULL, 0},
    {"software", ST_OPT_STRING, O(software), NULL, "SOFTWARE attribute in responses (unset: none)", 0, 0, NULL, 0},
    {"users", ST_OPT_LIST, O(users), NULL, "static users, name:password or name:0x<hex MD5 key>", 0, 0, NULL,
     ST_OPT_SECRET},
    {"relay.ipv4", ST_OPT_STRING, O(relay_ipv4), NULL,
     "IPv4 address relay sockets bind to (default: first specific IPv4 listener, else first interface)", 0, 0,
     NULL, 0},
    {"relay.ipv6", ST_OPT_STRING, O(relay_ipv6), NULL,
     "IPv6 address relay sockets bind to (default: first specific IPv6 listener, else IPv6 relaying off)", 0, 0,
     NULL, 0},
    {"relay.external_ipv4", ST_OPT_STRING, O(external_ipv4), NULL,
     "IPv4 address advertised in XOR-RELAYED-ADDRESS when behind 1:1 NAT", 0, 0, NULL, 0},
    {"relay.external_ipv6", ST_OPT_STRING, O(external_ipv6), NULL, "IPv6 address advertised for relays", 0, 0, NULL,
     0},
    {"relay.min_port", ST_OPT_INT, O(port_min), "49152", "lowest relay port", 1, 65535, NULL, 0},
    {"relay.max_port", ST_OPT_INT, O(port_max), "65535", "highest relay port", 1, 65535, NULL, 0},
    {"lifetime.allocation", ST_OPT_DURATION, O(lifetime_default_ms), "600s",
     "default allocation lifetime (RFC 8656: 10 minutes)", 1000, MS_DAY, NULL, 0},
    {"lifetime.allocation_max", ST_OPT_DURATION, O(lifetime_max_ms), "1h", "longest allocation lifetime granted",
     1000, MS_DAY, NULL, 0},
    {"lifetime.permission", ST_OPT_DURATION, O(permission_lifetime_ms), "300s", "permission lifetime (RFC: 300 s)",
     1000, MS_DAY, NULL, 0},
    {"lifetime.channel", ST_OPT_DURATION, O(channel_lifetime_ms), "600s", "channel binding lifetime (RFC: 600 s)",
     1000, MS_DAY, NULL, 0},
    {"nonce.lifetime", ST_OPT_DURATION, O(nonce_lifetime_ms), "600s",
     "how long a nonce is valid; then requests get 438 Stale Nonce and clients retry", 1000, MS_DAY, NULL, 0},
    {"nonce.secret", ST_OPT_STRING, O(nonce_secret), NULL,
     "key for stateless nonces, shared by instances behind one name (unset: random per process)", 0, 0, NULL,
     ST_OPT_SECRET},
    {"quota.allocations_per_user", ST_OPT_INT, O(quota_user), "64", "allocations one username may hold (0: no limit)",
     0, INT_MAX, NULL, 0},
    {"quota.allocations", ST_OPT_INT, O(quota_total), "0", "allocations on this server (0: no limit)", 0, INT_MAX,
     NULL, 0},
    {"quota.bandwidth", ST_OPT_INT, O(quota_bandwidth), "0",
     "bytes per second one allocation may relay, both directions (0: no limit)", 0, INT64_C(1) << 40, NULL, 0},
    {"quota.permissions", ST_OPT_INT, O(quota_permissions), "128", "permissions per allocation (0: no limit)", 0,
     INT_MAX, NULL, 0},
    {"peers.allow", ST_OPT_LIST, O(peers_allow), NULL,
     "peer addresses/CIDRs allowed despite the deny ranges (e.g. 127.0.0.1 for tests)", 0, 0, NULL, 0},
    {"peers.deny", ST_OPT_LIST, O(peers_deny), NULL, "extra peer CIDRs to refuse", 0, 0, NULL, 0},
    {"peers.allow_all", ST_OPT_BOOL, O(peers_allow_all), "false",
     "drop the default deny ranges (relay into private networks: dangerous)", 0, 0, NULL, 0},
    {"auth.rate", ST_OPT_INT, O(auth_rate), "50", "unauthenticated answers (401/438) per second per source IP (0: no limit)",
     0, 1000000, NULL, 0},
    {"auth.burst", ST_OPT_INT, O(auth_burst), "100", "burst of unauthenticated answers per source IP", 1, 1000000,
     NULL, 0},
    {"compat.rfc5766_channels", ST_OPT_BOOL, O(rfc5766_channels), "true",
     "accept channel numbers 0x5000-0x7FFF (RFC 5766 clients such as turnutils_uclient); false: RFC 8656 only", 0, 0,
     NULL, 0},
    {"rest.secrets", ST_OPT_LIST, O(rest_secrets), NULL,
     "TURN REST API shared secrets accepted besides those in Redis (newest first)", 0, 0, NULL, ST_OPT_SECRET},
    {"rest.redis", ST_OPT_BOOL, O(rest_redis), "true", "read TURN REST secrets from Redis", 0, 0, NULL, 0},
    {"rest.redis_key", ST_OPT_STRING, O(rest_key), "starling:turn:secrets",
     "Redis sorted set of REST secrets, score = expiry (unix seconds, +inf: none)", 0, 0, NULL, 0},
    {"rest.refresh", ST_OPT_DURATION, O(rest_refresh_ms), "10s", "how often secrets are re-read from Redis", 100,
     MS_DAY, NULL, 0},
    {"rest.ttl", ST_OPT_DURATION, O(rest_ttl_ms), "1d", "lifetime of credentials made by the HTTP endpoint", 1000,
     365 * MS_DAY, NULL, 0},
    {"http.listen", ST_OPT_LIST, O(http_listen), "127.0.0.1:9641",
     "HTTP listeners for /metrics, /healthz and POST /?service=turn (empty: none)", 0, 0, NULL, 0},
    {"http.api_key", ST_OPT_STRING, O(http_api_key), NULL,
     "API key the credential endpoint requires (key= parameter, X-API-Key or Bearer; unset: open)", 0, 0, NULL,
     ST_OPT_SECRET},
    {"uris", ST_OPT_LIST, O(uris), NULL, "TURN URIs returned by the credential endpoint (default: from listeners)", 0,
     0, NULL, 0},
    {"node.id", ST_OPT_STRING, O(node_id), NULL, "id in the Redis node registry (default: host name)", 0, 0, NULL, 0},
    {"node.redis_key_prefix", ST_OPT_STRING, O(node_key_prefix), "starling:turn:node:",
     "prefix of this server's registry hash in Redis", 0, 0, NULL, 0},
    {"tcp.max_connections", ST_OPT_INT, O(max_connections), "4096", "TCP+TLS connections per worker", 1, 1 << 20,
     NULL, 0},
    {"tcp.idle_timeout", ST_OPT_DURATION, O(stream_idle_ms), "60s",
     "close a TCP/TLS connection without an allocation after this much silence", 1000, MS_DAY, NULL, 0},
    {"udp.recv_buffer", ST_OPT_INT, O(udp_recv_buffer), "4194304",
     "receive buffer of UDP listeners in bytes, past net.core.rmem_max when root (0: system default)", 0,
     1 << 30, NULL, 0},
    {"udp.send_buffer", ST_OPT_INT, O(udp_send_buffer), "0",
     "send buffer of UDP listeners in bytes, past net.core.wmem_max when root (0: system default)", 0,
     1 << 30, NULL, 0},
    {"udp.io_uring", ST_OPT_BOOL, O(udp_io_uring), "true",
     "wait, receive on UDP listeners and send relayed datagrams through io_uring where the kernel "
     "allows it (false: epoll, recvmmsg, sendmmsg)", 0, 0, NULL, 0},
};

const st_config_spec_t turn_options_spec = {
    .service = "turn",
    .summary = "starling-turn: TURN relay (RFC 8656) over UDP, TCP and TLS with long-term and REST credentials",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .has_common = 1,
    .common_offset = offsetof(turn_options_t, common),
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static int parse_listeners(const st_strlist_t *l, uint16_t def_port, rtc_addr_t *out, size_t *n, const char *what,
                           char *err, size_t errlen) {
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (*n >= TURN_LISTEN_MAX) return fail(err, errlen, RTC_ERR_LIMIT, "%s: at most %d addresses", what, TURN_LISTEN_MAX);
        if (rtc_addr_parse(&out[*n], l->items[i], def_port) != RTC_OK)
            return fail(err, errlen, RTC_ERR_MALFORMED, "%s: bad address \"%s\"", what, l->items[i]);
        (*n)++;
    }
    return RTC_OK;
}

int turn_options_runtime(const turn_options_t *o, turn_runtime_config_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    int rc;
    if ((rc = parse_listeners(&o->listen, 3478, out->udp, &out->n_udp, "listen", err, errlen)) ||
        (rc = parse_listeners(&o->tcp_listen, 3478, out->tcp, &out->n_tcp, "tcp.listen", err, errlen)) ||
        (rc = parse_listeners(&o->tls_listen, 5349, out->tls, &out->n_tls, "tls.listen", err, errlen)))
        return rc;
    if (out->n_udp + out->n_tcp + out->n_tls == 0)
        return fail(err, errlen, RTC_ERR_INVALID_ARG, "no listeners: set listen, tcp.listen or tls.listen");
    if (out->n_tls && (!o->tls_cert || !o->tls_key))
        return fail(err, errlen, RTC_ERR_INVALID_ARG, "tls.listen needs tls.cert and tls.key");
    out->tls_cert = o->tls_cert;
    out->tls_key = o->tls_key;
    out->workers = (unsigned)o->workers;
    out->max_connections = (unsigned)o->max_connections;
    out->stream_idle_timeout_s = (unsigned)(o->stream_idle_ms / 1000);
    out->udp_recv_buffer = (int)o->udp_recv_buffer;
    out->udp_send_buffer = (int)o->udp_send_buffer;
    out->no_io_uring = !o->udp_io_uring;
    return RTC_OK;
}

/* The first listener of a family whose IP is specific, over all transports. */
static bool first_specific(const turn_runtime_config_t *rc, uint8_t family, rtc_addr_t *out) {
    const rtc_addr_t *lists[3] = {rc->udp, rc->tcp, rc->tls};
    size_t ns[3] = {rc->n_udp, rc->n_tcp, rc->n_tls};
    for (int t = 0; t < 3; t++)
        for (size_t i = 0; i < ns[t]; i++)
            if (lists[t][i].family == family && !rtc_addr_is_any(&lists[t][i])) {
                *out = lists[t][i];
                out->port = 0;
                return true;
            }
    return false;
}

static bool any_wildcard(const turn_runtime_config_t *rc) {
    const rtc_addr_t *lists[3] = {rc->udp, rc->tcp, rc->tls};
    size_t ns[3] = {rc->n_udp, rc->n_tcp, rc->n_tls};
    for (int t = 0; t < 3; t++)
        for (size_t i = 0; i < ns[t]; i++)
            if (rtc_addr_is_any(&lists[t][i])) return true;
    return false;
}

static int parse_ip(const char *s, uint8_t family, rtc_addr_t *out, const char *what, char *err, size_t errlen) {
    if (rtc_addr_parse_ip(out, s, 0) != RTC_OK || out->family != family)
        return fail(err, errlen, RTC_ERR_MALFORMED, "%s: not an IPv%d address: \"%s\"", what, family, s);
    return RTC_OK;
}

int turn_options_policy(const turn_options_t *o, turn_policy_t **out, char *err, size_t errlen) {
    turn_runtime_config_t rc;
    int r = turn_options_runtime(o, &rc, err, errlen);
    if (r != RTC_OK) return r;
    if (o->port_min > o->port_max)
        return fail(err, errlen, RTC_ERR_INVALID_ARG, "relay.min_port %lld is above relay.max_port %lld",
                    (long long)o->port_min, (long long)o->port_max);
    if (o->lifetime_default_ms > o->lifetime_max_ms)
        return fail(err, errlen, RTC_ERR_INVALID_ARG, "lifetime.allocation is above lifetime.allocation_max");
    turn_policy_t *p = turn_policy_new();
    if (!p) return fail(err, errlen, RTC_ERR_NOMEM, "out of memory");
    if (o->realm && strlen(o->realm) >= TURN_REALM_MAX) {
        r = fail(err, errlen, RTC_ERR_INVALID_ARG, "realm longer than %d bytes", TURN_REALM_MAX - 1);
        goto out;
    }
    turn_policy_set_realm(p, o->realm ? o->realm : "starling");
    if (o->software) snprintf(p->software, sizeof p->software, "%s", o->software);
    for (size_t i = 0; i < o->users.n; i++) {
        r = turn_policy_add_user_spec(p, o->users.items[i]);
        if (r != RTC_OK) {
            /* Name only: the entry holds a password. */
            const char *colon = strchr(o->users.items[i], ':');
            int nl = colon ? (int)(colon - o->users.items[i]) : (int)strlen(o->users.items[i]);
            r = fail(err, errlen, r, "users: bad entry for \"%.*s\" (%s)", nl, o->users.items[i], rtc_strerror(r));
            goto out;
        }
    }
    turn_policy_finish(p);

    /* Relay addresses. */
    if (o->relay_ipv4) {
        if ((r = parse_ip(o->relay_ipv4, RTC_AF_INET4, &p->relay_v4, "relay.ipv4", err, errlen))) goto out;
    } else if (!first_specific(&rc, RTC_AF_INET4, &p->relay_v4)) {
        rtc_net_filter_t f;
        rtc_net_filter_init(&f);
        f.ipv6 = false;
        rtc_addr_t addrs[8];
        int n = rtc_net_local_addresses(&f, addrs, 8);
        if (n > 0) {
            p->relay_v4 = addrs[0];
            RTC_LOGI("turn", "relay.ipv4 not set: relaying from %s", rtc_addr_str(&p->relay_v4));
        } else {
            RTC_LOGW("turn", "no IPv4 relay address (set relay.ipv4): IPv4 allocations will get 440");
        }
    }
    if (o->relay_ipv6) {
        if ((r = parse_ip(o->relay_ipv6, RTC_AF_INET6, &p->relay_v6, "relay.ipv6", err, errlen))) goto out;
    } else {
        first_specific(&rc, RTC_AF_INET6, &p->relay_v6);
    }
    if (o->external_ipv4 && (r = parse_ip(o->external_ipv4, RTC_AF_INET4, &p->external_v4, "relay.external_ipv4", err, errlen)))
        goto out;
    if (o->external_ipv6 && (r = parse_ip(o->external_ipv6, RTC_AF_INET6, &p->external_v6, "relay.external_ipv6", err, errlen)))
        goto out;
    if (p->relay_v4.family && rtc_addr_is_any(&p->relay_v4) && !p->external_v4.family) {
        r = fail(err, errlen, RTC_ERR_INVALID_ARG, "relay.ipv4 is a wildcard: set relay.external_ipv4 to advertise");
        goto out;
    }
    if (p->relay_v6.family && rtc_addr_is_any(&p->relay_v6) && !p->external_v6.family) {
        r = fail(err, errlen, RTC_ERR_INVALID_ARG, "relay.ipv6 is a wildcard: set relay.external_ipv6 to advertise");
        goto out;
    }

    p->alloc_lifetime_default = (uint32_t)(o->lifetime_default_ms / 1000);
    p->alloc_lifetime_max = (uint32_t)(o->lifetime_max_ms / 1000);
    p->perm_lifetime = (uint32_t)(o->permission_lifetime_ms / 1000);
    p->chan_lifetime = (uint32_t)(o->channel_lifetime_ms / 1000);
    p->nonce_lifetime = (uint32_t)(o->nonce_lifetime_ms / 1000);
    p->max_allocs_per_user = (uint32_t)o->quota_user;
    p->max_allocs_total = (uint32_t)o->quota_total;
    p->max_bps_per_alloc = (uint64_t)o->quota_bandwidth;
    p->max_perms_per_alloc = (uint32_t)o->quota_permissions;
    p->unauth_rate = (uint32_t)o->auth_rate;
    p->unauth_burst = (uint32_t)o->auth_burst;
    p->channel_max = o->rfc5766_channels ? 0x7FFF : RTC_TURN_CHANNEL_MAX;

    /* Peer filter: defaults, then the operator's lists, then our own addresses. */
    if (o->peers_allow_all) turn_peer_filter_clear_deny(&p->filter);
    for (size_t i = 0; i < o->peers_allow.n; i++)
        if ((r = turn_peer_filter_allow(&p->filter, o->peers_allow.items[i])) != RTC_OK) {
            r = fail(err, errlen, r, "peers.allow: bad entry \"%s\"", o->peers_allow.items[i]);
            goto out;
        }
    for (size_t i = 0; i < o->peers_deny.n; i++)
        if ((r = turn_peer_filter_deny(&p->filter, o->peers_deny.items[i])) != RTC_OK) {
            r = fail(err, errlen, r, "peers.deny: bad entry \"%s\"", o->peers_deny.items[i]);
            goto out;
        }
    const rtc_addr_t *lists[3] = {rc.udp, rc.tcp, rc.tls};
    size_t ns[3] = {rc.n_udp, rc.n_tcp, rc.n_tls};
    for (int t = 0; t < 3; t++)
        for (size_t i = 0; i < ns[t]; i++) turn_peer_filter_add_own(&p->filter, &lists[t][i]);
    turn_peer_filter_add_own(&p->filter, &p->relay_v4);
    turn_peer_filter_add_own(&p->filter, &p->relay_v6);
    turn_peer_filter_add_own(&p->filter, &p->external_v4);
    turn_peer_filter_add_own(&p->filter, &p->external_v6);
    if (any_wildcard(&rc) || rtc_addr_is_any(&p->relay_v4) || rtc_addr_is_any(&p->relay_v6)) {
        rtc_net_filter_t f;
        rtc_net_filter_init(&f);
        rtc_addr_t addrs[TURN_FILTER_OWN_MAX];
        int n = rtc_net_local_addresses(&f, addrs, TURN_FILTER_OWN_MAX);
        for (int i = 0; i < n; i++) turn_peer_filter_add_own(&p->filter, &addrs[i]);
    }

    for (size_t i = 0; i < o->rest_secrets.n; i++)
        if ((r = turn_policy_add_static_secret(p, o->rest_secrets.items[i])) != RTC_OK) {
            r = fail(err, errlen, r, "rest.secrets: empty or bad secret");
            goto out;
        }
    p->rest_enabled = o->rest_redis || o->rest_secrets.n > 0;
    *out = p;
    return RTC_OK;
out:
    turn_policy_unref(p);
    return r;
}

static int push(char ***list, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int push(char ***list, size_t *n, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nl = realloc(*list, (*n + 2) * sizeof *nl);
    if (!nl) return RTC_ERR_NOMEM;
    *list = nl;
    if (!(nl[*n] = strdup(buf))) return RTC_ERR_NOMEM;
    nl[++*n] = NULL;
    return RTC_OK;
}

char **turn_options_uris(const turn_options_t *o) {
    char **list = calloc(1, sizeof *list);
    size_t n = 0;
    if (!list) return NULL;
    if (o->uris.n) {
        for (size_t i = 0; i < o->uris.n; i++) push(&list, &n, "%s", o->uris.items[i]);
        return list;
    }
    turn_runtime_config_t rc;
    if (turn_options_runtime(o, &rc, NULL, 0) != RTC_OK) return list;
    const rtc_addr_t *lists[3] = {rc.udp, rc.tcp, rc.tls};
    size_t ns[3] = {rc.n_udp, rc.n_tcp, rc.n_tls};
    static const char *const scheme[3] = {"turn", "turn", "turns"};
    static const char *const transport[3] = {"udp", "tcp", "tcp"};
    for (int t = 0; t < 3; t++) {
        for (size_t i = 0; i < ns[t]; i++) {
            rtc_addr_t a = lists[t][i];
            if (rtc_addr_is_any(&a)) {
                /* A wildcard listener is reachable at the advertised (or relay) address. */
                const char *host = a.family == RTC_AF_INET6 ? (o->external_ipv6 ? o->external_ipv6 : o->relay_ipv6)
                                                            : (o->external_ipv4 ? o->external_ipv4 : o->relay_ipv4);
                if (!host) continue;
                rtc_addr_t h;
                if (rtc_addr_parse_ip(&h, host, a.port) != RTC_OK || rtc_addr_is_any(&h)) continue;
                a = h;
            }
            char s[RTC_ADDR_STRLEN];
            rtc_addr_format(&a, s, sizeof s);
            push(&list, &n, "%s:%s?transport=%s", scheme[t], s, transport[t]);
        }
    }
    return list;
}

void turn_options_free_uris(char **uris) {
    if (!uris) return;
    for (char **u = uris; *u; u++) free(*u);
    free(uris);
}
