/* Shared pieces of starling-loadtest and starling-floor. */
#ifndef LT_H
#define LT_H

#include <stdint.h>
#include <sys/types.h>

#include "rtc/rtc.h"

/* TURN server credentials from the command line: plain long-term user/password, or a TURN
 * REST API shared secret (username "expiry:user", password base64(HMAC-SHA1(secret, user))). */
typedef struct {
    char username[256];
    char password[128];
} lt_creds_t;

/* Fills creds; secret wins over password when both are given. Returns 0 or -1 (message
 * printed). */
int lt_creds_make(lt_creds_t *creds, const char *user, const char *password, const char *secret,
                  int64_t ttl_seconds);

/* CPU time (user + system) of a process in seconds, from /proc/PID/stat; < 0 if unreadable. */
double lt_proc_cpu_seconds(pid_t pid);
/* The same for this process. */
double lt_self_cpu_seconds(void);

/* Parses "host:port" (numeric IPv4/IPv6) with a default port. */
int lt_parse_addr(rtc_addr_t *a, const char *s, uint16_t def_port);

/* Raises RLIMIT_NOFILE to its hard limit (2000 clients need 2000+ sockets). */
void lt_raise_nofile(void);

/* Opens a non-blocking UDP socket bound to bind_addr and, when peer is non-NULL, connected to
 * it. Returns the fd or -1. rcvbuf/sndbuf 0 keep defaults. */
int lt_udp_socket(const rtc_addr_t *bind_addr, const rtc_addr_t *peer, int rcvbuf, int sndbuf);

/* Connects a TCP socket from bind_addr (port 0) to peer (blocking connect: loopback answers at
 * once), then makes it non-blocking with TCP_NODELAY. Returns the fd or -1. */
int lt_tcp_connect(const rtc_addr_t *bind_addr, const rtc_addr_t *peer);

int lt_turn_load_main(int argc, char **argv);
int lt_turn_check_main(int argc, char **argv);

#endif
