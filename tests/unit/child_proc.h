/* Running real third-party servers (redis-server, coTURN, starling-sfu...) from a Check
 * suite: a free loopback port to give them, and a child process that cannot outlive the test.
 * Header-only (static functions), like sfu_fixture.h: each suite includes what it uses. */
#ifndef TEST_CHILD_PROC_H
#define TEST_CHILD_PROC_H

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* A port of 127.0.0.1 that was free just now for TYPE (SOCK_STREAM or SOCK_DGRAM): bound to
 * port 0, read back, closed. Another process could take it before the server binds it; on
 * loopback in a test that is rare enough. */
static inline uint16_t test_free_port(int type) {
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts ARGV (looked up in PATH) with stdout and stderr into LOG: appended when APPEND (a
 * restarted server keeps its earlier lines), else truncated. The child gets SIGKILL when the
 * test process dies, so a failed or crashed test leaves nothing running. Returns its PID; the
 * caller stops it and waits for it. Exit status 127: the program could not be run. */
static inline pid_t test_spawn(char *const argv[], const char *log, bool append) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

#endif
