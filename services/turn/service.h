/*
 * turn/service.h — starling-turn as a process: configuration, logging, the worker runtime,
 * and on the main thread's libuv loop the HTTP server (/metrics, /healthz, the credential
 * endpoint), the Redis client that keeps the REST secrets cache and the node registry
 * fresh, and signals (SIGTERM drains, SIGHUP reloads).
 */
#ifndef TURN_SERVICE_H
#define TURN_SERVICE_H

/* Runs the service until it has drained or been stopped. Returns the process exit status:
 * 0 after a clean stop or --help, 2 for a configuration error, 1 for a start-up failure. */
int turn_service_main(int argc, char **argv);

#endif /* TURN_SERVICE_H */
