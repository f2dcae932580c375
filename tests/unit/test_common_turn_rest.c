/* common/turn_rest: passwords match an independent computation (`openssl dgst -sha1 -hmac`
 * piped into `openssl base64`), expiry and tampering are caught, and coTURN — started here on
 * 127.0.0.1 with --use-auth-secret — accepts the credentials we make and refuses bad or
 * expired ones (turnutils_uclient allocates a relay with them). */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "common/turn_rest.h"
#include "unit/child_proc.h"

static void openssl_password(const char *secret, const char *username, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "printf '%%s' '%s' | openssl dgst -sha1 -hmac '%s' -binary | openssl base64", username,
             secret);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, (int)cap, p));
    ck_assert_int_eq(pclose(p), 0);
    out[strcspn(out, "\r\n")] = '\0';
}

START_TEST(password_matches_openssl_hmac_sha1) {
    /* Computed once with openssl and Python's hmac module alike. */
    char pw[ST_TURN_REST_PASSWORD_SIZE], user[128];
    ck_assert_int_eq(st_turn_rest_make("north", 5, "alice", 1700000000, user, sizeof user, pw,
                                       sizeof pw), RTC_OK);
    ck_assert_str_eq(user, "1700000000:alice");
    ck_assert_str_eq(pw, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");

    static const struct {
        const char *secret, *identity;
        int64_t expiry;
    } cases[] = {
        {"north", "alice", 1700000000},
        {"s3cr3t with spaces", "room:lobby:user 7", 4102444800},
        {"x", "", 86400},
        {"a-much-longer-shared-secret-than-any-hash-block-size-which-is-64-bytes-for-sha1!", "bob",
         1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(st_turn_rest_make(cases[i].secret, strlen(cases[i].secret),
                                           cases[i].identity, cases[i].expiry, user, sizeof user,
                                           pw, sizeof pw), RTC_OK);
        char want[64];
        openssl_password(cases[i].secret, user, want, sizeof want);
        ck_assert_str_eq(pw, want);
        ck_assert_uint_eq(strlen(pw), 28);
    }
    ck_assert_str_eq(user, "1:bob");
    /* An empty identity gives a bare expiry, as coTURN accepts. */
    ck_assert_int_eq(st_turn_rest_make("x", 1, NULL, 86400, user, sizeof user, pw, sizeof pw), RTC_OK);
    ck_assert_str_eq(user, "86400");
}
END_TEST

START_TEST(verify_checks_expiry_and_password) {
    char user[128], pw[ST_TURN_REST_PASSWORD_SIZE];
    const char *s = "shared";
    st_turn_rest_make(s, 6, "carol:phone", 1000, user, sizeof user, pw, sizeof pw);
    size_t ul = strlen(user), pl = strlen(pw);
    ck_assert_int_eq(st_turn_rest_verify(s, 6, user, ul, pw, pl, 999), RTC_OK);
    ck_assert_int_eq(st_turn_rest_verify(s, 6, user, ul, pw, pl, 1000), RTC_ERR_STALE);
    ck_assert_int_eq(st_turn_rest_verify(s, 6, user, ul, pw, pl, 5000), RTC_ERR_STALE);
    ck_assert_int_eq(st_turn_rest_verify("Shared", 6, user, ul, pw, pl, 999), RTC_ERR_AUTH);
    ck_assert_int_eq(st_turn_rest_verify(s, 6, user, ul, pw, pl - 1, 999), RTC_ERR_AUTH);
    pw[3] ^= 1;
    ck_assert_int_eq(st_turn_rest_verify(s, 6, user, ul, pw, pl, 999), RTC_ERR_AUTH);
    pw[3] ^= 1;
    /* Moving the expiry forward invalidates the password (it is covered by the HMAC). */
    char later[160];
    snprintf(later, sizeof later, "9999%s", user);
    ck_assert_int_eq(st_turn_rest_verify(s, 6, later, strlen(later), pw, pl, 999), RTC_ERR_AUTH);

    int64_t e;
    ck_assert_int_eq(st_turn_rest_expiry("123:x:y", 7, &e), RTC_OK);
    ck_assert_int_eq(e, 123);
    ck_assert_int_eq(st_turn_rest_expiry("123", 3, &e), RTC_OK);
    static const char *const bad[] = {"alice", ":123", "12a:b", "", "-5:x",
                                      "99999999999999999999999:x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(st_turn_rest_expiry(bad[i], strlen(bad[i]), &e), RTC_ERR_MALFORMED);
        ck_assert_int_eq(st_turn_rest_verify(s, 6, bad[i], strlen(bad[i]), pw, pl, 0),
                         RTC_ERR_MALFORMED);
    }
}
END_TEST

START_TEST(limits_and_bad_arguments) {
    char user[16], pw[ST_TURN_REST_PASSWORD_SIZE];
    ck_assert_int_eq(st_turn_rest_make("s", 1, "a-long-identity", 1700000000, user, sizeof user,
                                       pw, sizeof pw), RTC_ERR_OVERFLOW);
    char big[600];
    memset(big, 'i', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char ubig[1024];
    ck_assert_int_eq(st_turn_rest_make("s", 1, big, 1, ubig, sizeof ubig, pw, sizeof pw),
                     RTC_ERR_OVERFLOW);
    ck_assert_int_eq(st_turn_rest_make("", 0, "a", 1, ubig, sizeof ubig, pw, sizeof pw),
                     RTC_ERR_INVALID_ARG);
    ck_assert_int_eq(st_turn_rest_make("s", 1, "a", -1, ubig, sizeof ubig, pw, sizeof pw),
                     RTC_ERR_INVALID_ARG);
    char small[10];
    ck_assert_int_eq(st_turn_rest_make("s", 1, "a", 1, ubig, sizeof ubig, small, sizeof small),
                     RTC_ERR_OVERFLOW);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * coTURN interop.
 */
/* Sends STUN Binding requests until the server answers (it is then ready). */
static bool stun_ready(uint16_t port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    bool ok = false;
    for (int i = 0; i < 50 && !ok; i++) {
        sendto(fd, req, sizeof req, 0, (struct sockaddr *)&a, sizeof a);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) == 1) {
            uint8_t resp[512];
            ssize_t n = recv(fd, resp, sizeof resp, 0);
            ok = n >= 20 && resp[0] == 0x01 && resp[1] == 0x01; /* Binding success */
        }
    }
    close(fd);
    return ok;
}

static char uclient_log[64], coturn_log[64];

static int run_uclient(uint16_t port, const char *user, const char *pw) {
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    char *argv[] = {"turnutils_uclient", "-u", (char *)user, "-w", (char *)pw, "-r", "test",
                    "-e", "127.0.0.1", "-y", "-m", "1", "-n", "2", "-l", "100", "-p", ps,
                    "127.0.0.1", NULL};
    pid_t pid = test_spawn(argv, uclient_log, false); /* one uclient run per log */
    int status;
    for (int i = 0; i < 300; i++) { /* 30 s at most */
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -2;
}

START_TEST(coturn_accepts_our_credentials_and_refuses_bad_ones) {
    if (access("/usr/bin/turnserver", X_OK) != 0) ck_abort_msg("coturn not installed (scripts/install-deps.sh)");
    uint16_t port = test_free_port(SOCK_DGRAM);
    char ps[8], minp[8], maxp[8];
    snprintf(ps, sizeof ps, "%u", port);
    unsigned base = 40000 + rtc_random_uniform(20000);
    snprintf(minp, sizeof minp, "%u", base);
    snprintf(maxp, sizeof maxp, "%u", base + 50);
    const char *secret = "interop-secret";
    char arg_secret[64];
    snprintf(arg_secret, sizeof arg_secret, "--static-auth-secret=%s", secret);
    char *argv[] = {"turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                    "--listening-port", ps, "--min-port", minp, "--max-port", maxp,
                    "--realm=test", "--use-auth-secret", arg_secret, "--allow-loopback-peers",
                    "--no-cli", "--no-tls", "--no-dtls", "--log-file=stdout", NULL};
    snprintf(uclient_log, sizeof uclient_log, "/tmp/st_turn_rest_uclient.%d.log", (int)getpid());
    snprintf(coturn_log, sizeof coturn_log, "/tmp/st_turn_rest_coturn.%d.log", (int)getpid());
    pid_t ts = test_spawn(argv, coturn_log, false);
    bool ready = stun_ready(port);

    int64_t now = rtc_clock_wall_us() / RTC_US_PER_SEC;
    char user[128], pw[ST_TURN_REST_PASSWORD_SIZE];
    int good = -3, wrong = -3, expired = -3;
    if (ready) {
        st_turn_rest_make(secret, strlen(secret), "alice", now + 600, user, sizeof user, pw, sizeof pw);
        good = run_uclient(port, user, pw);
        st_turn_rest_make("not-the-secret", 14, "alice", now + 600, user, sizeof user, pw, sizeof pw);
        wrong = run_uclient(port, user, pw);
        st_turn_rest_make(secret, strlen(secret), "alice", now - 10, user, sizeof user, pw, sizeof pw);
        expired = run_uclient(port, user, pw);
    }
    kill(ts, SIGTERM);
    int status;
    waitpid(ts, &status, 0);
    ck_assert_msg(ready, "turnserver did not answer STUN on 127.0.0.1:%u (see %s)", port,
                  coturn_log);
    ck_assert_msg(good == 0, "coTURN refused our credentials (uclient exit %d); see %s, %s", good,
                  coturn_log, uclient_log);
    ck_assert_msg(wrong != 0, "coTURN accepted a password made with the wrong secret");
    ck_assert_msg(expired != 0, "coTURN accepted an expired username");
    unlink(coturn_log);
    unlink(uclient_log);
}
END_TEST

int main(void) {
    Suite *s = suite_create("common_turn_rest");
    TCase *tc = tcase_create("turn_rest");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, password_matches_openssl_hmac_sha1);
    tcase_add_test(tc, verify_checks_expiry_and_password);
    tcase_add_test(tc, limits_and_bad_arguments);
    tcase_add_test(tc, coturn_accepts_our_credentials_and_refuses_bad_ones);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
