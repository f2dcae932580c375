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

/* A reserved port is held by something the runtime owns — a bound placeholder socket — so
 * that no other process (an outgoing connection's ephemeral port, say) takes it before the
 * RESERVATION-TOKEN is claimed. The pool knows the hold only as an integer (a file
 * descriptor; -1 for none) and gives it back through this function when a reservation
 * expires unclaimed or the pool is freed, from whichever thread notices. */
typedef void (*turn_port_hold_release_fn)(int64_t hold);

/* A pool over [min, max] (inclusive, 1 <= min <= max). NULL on bad range or no memory. */
turn_ports_t *turn_ports_new(uint16_t min, uint16_t max);
void turn_ports_free(turn_ports_t *p);
void turn_ports_set_hold_release(turn_ports_t *p, turn_port_hold_release_fn fn);
/* Gives back a hold that left the pool (through turn_ports_claim) but went unused. */
void turn_ports_release_hold(turn_ports_t *p, int64_t hold);

/* Takes a free port for family (RTC_AF_INET4/6), starting the search at a random place so
 * relay ports are hard to guess. even: the port must be even. reserve_next (implies even):
 * port+1 must be free too and is held under a new random token written to *token, until
 * claimed or TURN_RESERVATION_LIFETIME after now. Returns the port, or RTC_ERR_LIMIT when no
 * port fits (the caller answers 508), RTC_ERR_INVALID_ARG for a bad family. */
int turn_ports_acquire(turn_ports_t *p, uint8_t family, bool even, bool reserve_next,
                       uint64_t *token, rtc_time_t now);
/* Returns a port to the pool. Releasing a free port does nothing. */
void turn_ports_release(turn_ports_t *p, uint8_t family, uint16_t port);

/* Attaches a hold to a reservation just made (before its token is handed out). */
int turn_ports_set_hold(turn_ports_t *p, uint64_t token, int64_t hold);
/* Claims a reservation: on success the reserved port is the caller's (release it later),
 * family and port are set, and *hold (may be NULL) receives the hold, now the caller's too.
 * RTC_ERR_NOT_FOUND for an unknown, claimed or expired token. */
int turn_ports_claim(turn_ports_t *p, uint64_t token, rtc_time_t now, uint8_t *family, uint16_t *port,
                     int64_t *hold);
/* Frees the ports of expired reservations. Called from any worker's timer. */
void turn_ports_expire(turn_ports_t *p, rtc_time_t now);

/* Ports taken for a family (allocated or reserved). */
size_t turn_ports_in_use(turn_ports_t *p, uint8_t family);
size_t turn_ports_capacity(const turn_ports_t *p);

#endif /* TURN_PORTS_H */
