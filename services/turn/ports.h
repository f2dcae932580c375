/*
 * turn/ports.h — the relay port range, shared by all workers: which ports are taken, and
 * EVEN-PORT reservations (RFC 8656 §7.2: the R bit keeps port+1 for a later Allocate that
 * presents the RESERVATION-TOKEN, possibly from another 5-tuple and so another worker).
 *
 * Thread-safe (one mutex). Used only when allocations are created or deleted — never on the
 * packet path. IPv4 and IPv6 ports are separate namespaces.
 */
#ifndef TURN_PORTS_H
#define TURN_PORTS_H

#include "rtc/base.h"

/* How long a reservation holds its port (RFC 8656 suggests about 30 seconds). */
#define TURN_RESERVATION_LIFETIME RTC_SEC(30)
#define TURN_RESERVATIONS_MAX 4096

typedef struct turn_ports turn_ports_t;

/* A pool over [min, max] (inclusive, 1 <= min <= max). NULL on bad range or no memory. */
turn_ports_t *turn_ports_new(uint16_t min, uint16_t max);
void turn_ports_free(turn_ports_t *p);

/* Takes a free port for family (RTC_AF_INET4/6), starting the search at a random place so
 * relay ports are hard to guess. even: the port must be even. reserve_next (implies even):
 * port+1 must be free too and is held under a new random token written to *token, until
 * claimed or TURN_RESERVATION_LIFETIME after now. Returns the port, or RTC_ERR_LIMIT when no
 * port fits (the caller answers 508), RTC_ERR_INVALID_ARG for a bad family. */
int turn_ports_acquire(turn_ports_t *p, uint8_t family, bool even, bool reserve_next,
                       uint64_t *token, rtc_time_t now);
/* Returns a port to the pool. Releasing a free port does nothing. */
void turn_ports_release(turn_ports_t *p, uint8_t family, uint16_t port);

/* Claims a reservation: on success the reserved port is the caller's (release it later) and
 * family and port are set. RTC_ERR_NOT_FOUND for an unknown, claimed or expired token. */
int turn_ports_claim(turn_ports_t *p, uint64_t token, rtc_time_t now, uint8_t *family, uint16_t *port);
/* Frees the ports of expired reservations. Called from any worker's timer. */
void turn_ports_expire(turn_ports_t *p, rtc_time_t now);

/* Ports taken for a family (allocated or reserved). */
size_t turn_ports_in_use(turn_ports_t *p, uint8_t family);
size_t turn_ports_capacity(const turn_ports_t *p);

#endif /* TURN_PORTS_H */
