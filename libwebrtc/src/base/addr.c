/* Socket address value type: parse, format, compare, hash, classify. */
#include "rtc/base.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

void rtc_addr_set_v4(rtc_addr_t *a, const uint8_t ip[4], uint16_t port) {
    memset(a, 0, sizeof *a);
    a->family = RTC_AF_INET4;
    a->port = port;
    memcpy(a->ip, ip, 4);
}

void rtc_addr_set_v6(rtc_addr_t *a, const uint8_t ip[16], uint16_t port) {
    memset(a, 0, sizeof *a);
    a->family = RTC_AF_INET6;
    a->port = port;
    memcpy(a->ip, ip, 16);
}

size_t rtc_addr_ip_len(const rtc_addr_t *a) {
    return a->family == RTC_AF_INET4 ? 4 : a->family == RTC_AF_INET6 ? 16 : 0;
}

int rtc_addr_from_sockaddr(rtc_addr_t *a, const struct sockaddr *sa, size_t salen) {
    if (!sa) return RTC_ERR_INVALID_ARG;
    if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        rtc_addr_set_v4(a, (const uint8_t *)&s4->sin_addr, ntohs(s4->sin_port));
        return RTC_OK;
    }
    if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        rtc_addr_set_v6(a, s6->sin6_addr.s6_addr, ntohs(s6->sin6_port));
        a->scope_id = s6->sin6_scope_id;
        return RTC_OK;
    }
    return RTC_ERR_ADDR;
}

int rtc_addr_to_sockaddr(const rtc_addr_t *a, void *ss, size_t cap) {
    if (a->family == RTC_AF_INET4) {
        if (cap < sizeof(struct sockaddr_in)) return RTC_ERR_OVERFLOW;
        struct sockaddr_in *s4 = ss;
        memset(s4, 0, sizeof *s4);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->ip, 4);
        return (int)sizeof *s4;
    }
    if (a->family == RTC_AF_INET6) {
        if (cap < sizeof(struct sockaddr_in6)) return RTC_ERR_OVERFLOW;
        struct sockaddr_in6 *s6 = ss;
        memset(s6, 0, sizeof *s6);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        s6->sin6_scope_id = a->scope_id;
        memcpy(&s6->sin6_addr, a->ip, 16);
        return (int)sizeof *s6;
    }
    return RTC_ERR_ADDR;
}

int rtc_addr_parse_ip(rtc_addr_t *a, const char *s, uint16_t port) {
    if (!s) return RTC_ERR_INVALID_ARG;
    uint8_t buf[16];
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof tmp) return RTC_ERR_ADDR;
    memcpy(tmp, s, n + 1);
    if (inet_pton(AF_INET, tmp, buf) == 1) {
        rtc_addr_set_v4(a, buf, port);
        return RTC_OK;
    }
    uint32_t scope = 0;
    char *pct = strchr(tmp, '%');
    if (pct) {
        *pct = '\0';
        const char *zone = pct + 1;
        if (!*zone) return RTC_ERR_ADDR;
        char *end;
        unsigned long v = strtoul(zone, &end, 10);
        if (*end == '\0') scope = (uint32_t)v;
        else if ((scope = if_nametoindex(zone)) == 0) return RTC_ERR_ADDR;
    }
    if (inet_pton(AF_INET6, tmp, buf) == 1) {
        rtc_addr_set_v6(a, buf, port);
        a->scope_id = scope;
        return RTC_OK;
    }
    return RTC_ERR_ADDR;
}

static int parse_port(const char *s, uint16_t *port) {
    if (!*s) return RTC_ERR_ADDR;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return RTC_ERR_ADDR;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535) return RTC_ERR_ADDR;
    }
    *port = (uint16_t)v;
    return RTC_OK;
}

int rtc_addr_parse(rtc_addr_t *a, const char *s, uint16_t default_port) {
    if (!s) return RTC_ERR_INVALID_ARG;
    char tmp[RTC_ADDR_STRLEN + 8];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof tmp) return RTC_ERR_ADDR;
    memcpy(tmp, s, n + 1);
    if (tmp[0] == '[') {
        char *close = strchr(tmp, ']');
        if (!close) return RTC_ERR_ADDR;
        *close = '\0';
        uint16_t port = default_port;
        if (close[1] == ':') {
            if (parse_port(close + 2, &port)) return RTC_ERR_ADDR;
        } else if (close[1] != '\0') {
            return RTC_ERR_ADDR;
        }
        int rc = rtc_addr_parse_ip(a, tmp + 1, port);
        return (rc == RTC_OK && a->family == RTC_AF_INET6) ? RTC_OK : RTC_ERR_ADDR;
    }
    char *colon = strchr(tmp, ':');
    if (colon && strchr(colon + 1, ':') == NULL) {
        /* Exactly one colon: IPv4 with a port. */
        *colon = '\0';
        uint16_t port;
        if (parse_port(colon + 1, &port)) return RTC_ERR_ADDR;
        int rc = rtc_addr_parse_ip(a, tmp, port);
        return (rc == RTC_OK && a->family == RTC_AF_INET4) ? RTC_OK : RTC_ERR_ADDR;
    }
    return rtc_addr_parse_ip(a, tmp, default_port);
}

int rtc_addr_format_ip(const rtc_addr_t *a, char *out, size_t cap) {
    char buf[INET6_ADDRSTRLEN];
    if (a->family == RTC_AF_INET4) inet_ntop(AF_INET, a->ip, buf, sizeof buf);
    else if (a->family == RTC_AF_INET6) inet_ntop(AF_INET6, a->ip, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "unspec");
    int n;
    if (a->family == RTC_AF_INET6 && a->scope_id) n = snprintf(out, cap, "%s%%%u", buf, a->scope_id);
    else n = snprintf(out, cap, "%s", buf);
    return (n < 0 || (size_t)n >= cap) ? RTC_ERR_OVERFLOW : n;
}

int rtc_addr_format(const rtc_addr_t *a, char *out, size_t cap) {
    char ip[RTC_ADDR_STRLEN];
    int rc = rtc_addr_format_ip(a, ip, sizeof ip);
    if (rc < 0) return rc;
    int n = a->family == RTC_AF_INET6 ? snprintf(out, cap, "[%s]:%u", ip, a->port)
                                      : snprintf(out, cap, "%s:%u", ip, a->port);
    return (n < 0 || (size_t)n >= cap) ? RTC_ERR_OVERFLOW : n;
}

const char *rtc_addr_str(const rtc_addr_t *a) {
    /* A few rotating slots so one log line can format several addresses. */
    static _Thread_local char slots[4][RTC_ADDR_STRLEN];
    static _Thread_local unsigned next;
    char *s = slots[next++ & 3];
    if (rtc_addr_format(a, s, RTC_ADDR_STRLEN) < 0) snprintf(s, RTC_ADDR_STRLEN, "?");
    return s;
}

bool rtc_addr_equal_ip(const rtc_addr_t *a, const rtc_addr_t *b) {
    return a->family == b->family && memcmp(a->ip, b->ip, 16) == 0;
}

bool rtc_addr_equal(const rtc_addr_t *a, const rtc_addr_t *b) {
    return a->port == b->port && rtc_addr_equal_ip(a, b);
}

int rtc_addr_compare(const rtc_addr_t *a, const rtc_addr_t *b) {
    if (a->family != b->family) return a->family < b->family ? -1 : 1;
    int c = memcmp(a->ip, b->ip, 16);
    if (c) return c < 0 ? -1 : 1;
    if (a->port != b->port) return a->port < b->port ? -1 : 1;
    return 0;
}

uint32_t rtc_addr_hash(const rtc_addr_t *a) {
    /* FNV-1a over family, ip and port: fast, and good enough for hash tables keyed by peer. */
    uint32_t h = 2166136261u;
    h = (h ^ a->family) * 16777619u;
    size_t n = rtc_addr_ip_len(a);
    for (size_t i = 0; i < n; i++) h = (h ^ a->ip[i]) * 16777619u;
    h = (h ^ (a->port & 0xff)) * 16777619u;
    h = (h ^ (a->port >> 8)) * 16777619u;
    return h;
}

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool rtc_addr_unmap(rtc_addr_t *a) {
    if (a->family != RTC_AF_INET6 || memcmp(a->ip, v4mapped_prefix, 12) != 0) return false;
    uint8_t v4[4];
    memcpy(v4, a->ip + 12, 4);
    rtc_addr_set_v4(a, v4, a->port);
    return true;
}

bool rtc_addr_is_loopback(const rtc_addr_t *a) {
    static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (a->family == RTC_AF_INET4) return a->ip[0] == 127;
    return a->family == RTC_AF_INET6 && memcmp(a->ip, v6lo, 16) == 0;
}

bool rtc_addr_is_any(const rtc_addr_t *a) {
    static const uint8_t zero[16];
    size_t n = rtc_addr_ip_len(a);
    return n && memcmp(a->ip, zero, n) == 0;
}

bool rtc_addr_is_link_local(const rtc_addr_t *a) {
    if (a->family == RTC_AF_INET4) return a->ip[0] == 169 && a->ip[1] == 254;
    return a->family == RTC_AF_INET6 && a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80;
}

bool rtc_addr_is_private(const rtc_addr_t *a) {
    if (a->family == RTC_AF_INET4) {
        return a->ip[0] == 10 || (a->ip[0] == 172 && (a->ip[1] & 0xf0) == 16) ||
               (a->ip[0] == 192 && a->ip[1] == 168);
    }
    return a->family == RTC_AF_INET6 && (a->ip[0] & 0xfe) == 0xfc;
}

bool rtc_addr_in_prefix(const rtc_addr_t *a, const rtc_addr_t *prefix, unsigned bits) {
    if (a->family != prefix->family) return false;
    size_t len = rtc_addr_ip_len(a);
    if (bits > len * 8) return false;
    size_t full = bits / 8;
    if (memcmp(a->ip, prefix->ip, full) != 0) return false;
    unsigned rest = bits % 8;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->ip[full] & mask) == (prefix->ip[full] & mask);
}

int rtc_addr_parse_cidr(const char *s, rtc_addr_t *prefix, unsigned *bits) {
    if (!s) return RTC_ERR_INVALID_ARG;
    char tmp[RTC_ADDR_STRLEN];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof tmp) return RTC_ERR_ADDR;
    memcpy(tmp, s, n + 1);
    char *slash = strchr(tmp, '/');
    long b = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        b = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || b < 0) return RTC_ERR_ADDR;
    }
    int rc = rtc_addr_parse_ip(prefix, tmp, 0);
    if (rc) return rc;
    long max = (long)rtc_addr_ip_len(prefix) * 8;
    if (b < 0) b = max;
    if (b > max) return RTC_ERR_ADDR;
    *bits = (unsigned)b;
    return RTC_OK;
}
