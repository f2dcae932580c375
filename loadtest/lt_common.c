/* Shared helpers of the loadtest binaries: credentials, /proc CPU accounting, sockets. */
#include "lt.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int lt_creds_make(lt_creds_t *creds, const char *user, const char *password, const char *secret,
                  int64_t ttl_seconds) {
    memset(creds, 0, sizeof *creds);
    if (!user) user = "loadtest";
    if (secret) {
        long long expiry = (long long)time(NULL) + ttl_seconds;
        snprintf(creds->username, sizeof creds->username, "%lld:%s", expiry, user);
        uint8_t mac[RTC_SHA1_LEN];
        if (rtc_hmac_sha1(secret, strlen(secret), creds->username, strlen(creds->username), mac) < 0) return -1;
        if (rtc_base64_encode(mac, sizeof mac, creds->password, sizeof creds->password) < 0) return -1;
        return 0;
    }
    if (!password) {
        fprintf(stderr, "need --password or --secret\n");
        return -1;
    }
    snprintf(creds->username, sizeof creds->username, "%s", user);
    snprintf(creds->password, sizeof creds->password, "%s", password);
    return 0;
}

static double cpu_from_stat(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may contain spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p += 2;
    unsigned long long utime = 0, stime = 0;
    /* Fields 3..13 skipped, 14 utime, 15 stime (1-based as in proc(5)). */
    if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double lt_proc_cpu_seconds(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return cpu_from_stat(path);
}

double lt_self_cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int lt_parse_addr(rtc_addr_t *a, const char *s, uint16_t def_port) {
    if (!s || rtc_addr_parse(a, s, def_port) != RTC_OK) {
        fprintf(stderr, "bad address '%s' (numeric host[:port] only)\n", s ? s : "");
        return -1;
    }
    return 0;
}

void lt_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int lt_udp_socket(const rtc_addr_t *bind_addr, const rtc_addr_t *peer, int rcvbuf, int sndbuf) {
    int domain = bind_addr->family == RTC_AF_INET6 ? AF_INET6 : AF_INET;
    int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    /* SO_RCVBUFFORCE works for root beyond rmem_max; fall back to the capped SO_RCVBUF. */
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(bind_addr, &ss, sizeof ss);
    if (sl < 0 || bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) {
        close(fd);
        return -1;
    }
    if (peer) {
        sl = rtc_addr_to_sockaddr(peer, &ss, sizeof ss);
        if (sl < 0 || connect(fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

int lt_tcp_connect(const rtc_addr_t *bind_addr, const rtc_addr_t *peer) {
    int domain = peer->family == RTC_AF_INET6 ? AF_INET6 : AF_INET;
    int fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(bind_addr, &ss, sizeof ss);
    if (sl < 0 || bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) goto fail;
    sl = rtc_addr_to_sockaddr(peer, &ss, sizeof ss);
    if (sl < 0 || connect(fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) goto fail;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
fail:
    close(fd);
    return -1;
}
