/* Choosing local addresses. Tests must never touch the machine's real interfaces, so every
 * gathering path goes through a filter that names exactly what may be used. */
#include "rtc/net.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

void rtc_net_filter_init(rtc_net_filter_t *f) {
    memset(f, 0, sizeof *f);
    f->ipv4 = true;
    f->ipv6 = true;
}

int rtc_net_filter_add_interface(rtc_net_filter_t *f, const char *name) {
    if (!name || !*name || strlen(name) >= sizeof f->interfaces[0]) return RTC_ERR_INVALID_ARG;
    if (f->n_interfaces >= RTC_NET_FILTER_MAX) return RTC_ERR_LIMIT;
    snprintf(f->interfaces[f->n_interfaces++], sizeof f->interfaces[0], "%s", name);
    return RTC_OK;
}

int rtc_net_filter_add_prefix(rtc_net_filter_t *f, const char *cidr) {
    if (f->n_prefixes >= RTC_NET_FILTER_MAX) return RTC_ERR_LIMIT;
    rtc_addr_t p;
    unsigned bits;
    int rc = rtc_addr_parse_cidr(cidr, &p, &bits);
    if (rc) return rc;
    f->prefixes[f->n_prefixes] = p;
    f->prefix_bits[f->n_prefixes++] = bits;
    return RTC_OK;
}

int rtc_net_filter_parse(rtc_net_filter_t *f, const char *list) {
    if (!list) return RTC_OK;
    char item[64];
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ')) { p++; n--; }
        while (n && p[n - 1] == ' ') n--;
        if (n >= sizeof item) return RTC_ERR_INVALID_ARG;
        if (n) {
            memcpy(item, p, n);
            item[n] = '\0';
            rtc_addr_t tmp;
            unsigned bits;
            int rc = rtc_addr_parse_cidr(item, &tmp, &bits) == RTC_OK
                         ? rtc_net_filter_add_prefix(f, item)
                         : rtc_net_filter_add_interface(f, item);
            if (rc) return rc;
        }
        if (!end) break;
        p = end + 1;
    }
    return RTC_OK;
}

static bool filter_empty(const rtc_net_filter_t *f) {
    return f->n_interfaces == 0 && f->n_prefixes == 0;
}

bool rtc_net_filter_allows(const rtc_net_filter_t *f, const char *ifname, const rtc_addr_t *a) {
    if (a->family == RTC_AF_INET4 && !f->ipv4) return false;
    if (a->family == RTC_AF_INET6 && !f->ipv6) return false;
    if (filter_empty(f)) return !rtc_addr_is_loopback(a) && !rtc_addr_is_link_local(a);
    for (size_t i = 0; ifname && i < f->n_interfaces; i++) {
        if (strcmp(f->interfaces[i], ifname) == 0) return true;
    }
    for (size_t i = 0; i < f->n_prefixes; i++) {
        if (rtc_addr_in_prefix(a, &f->prefixes[i], f->prefix_bits[i])) return true;
    }
    return false;
}

static bool already(const rtc_addr_t *out, int n, const rtc_addr_t *a) {
    for (int i = 0; i < n; i++) if (rtc_addr_equal_ip(&out[i], a)) return true;
    return false;
}

int rtc_net_local_addresses(const rtc_net_filter_t *f, rtc_addr_t *out, size_t max) {
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0) return RTC_ERR_IO;
    int n = 0;
    for (struct ifaddrs *i = ifs; i && (size_t)n < max; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6) continue;
        rtc_addr_t a;
        size_t salen = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        if (rtc_addr_from_sockaddr(&a, i->ifa_addr, salen)) continue;
        a.port = 0;
        if (!rtc_net_filter_allows(f, i->ifa_name, &a) || already(out, n, &a)) continue;
        out[n++] = a;
    }
    freeifaddrs(ifs);
    /* 127.0.0.0/8 is all routable on lo though only 127.0.0.1 is listed: an explicitly named
     * loopback host address (e.g. 127.0.0.2 for a second "host" in a test) is usable as is. */
    for (size_t i = 0; i < f->n_prefixes && (size_t)n < max; i++) {
        const rtc_addr_t *p = &f->prefixes[i];
        if (f->prefix_bits[i] == rtc_addr_ip_len(p) * 8 && rtc_addr_is_loopback(p) &&
            !already(out, n, p) && rtc_net_filter_allows(f, "lo", p)) {
            out[n] = *p;
            out[n++].port = 0;
        }
    }
    return n;
}
