/* bench_srtp: nanoseconds per packet for SRTP protect and unprotect on both backends (OpenSSL
 * EVP, the default, and libsrtp2) side by side, every profile, at 160 B (an Opus frame) and
 * 1200 B (a full video packet) payloads, in place, one thread.
 *
 * Packets are prepared in batches outside the timed region (a fresh plaintext for protect, a
 * freshly protected packet for unprotect: replay protection forbids reusing either), then
 * the batch is processed back to back under the clock (this thread's CPU time). Prints a
 * Markdown table.
 *
 *   bench_srtp [--seconds S]     S per cell (default 1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtc/srtp.h"

#define BATCH 1024
#define MAX_PKT 1400

/* CPU time of this thread, like `openssl speed` (which counts user CPU time by default): on a
 * shared machine wall time would mostly measure the neighbours. */
static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void make_pair(rtc_srtp_profile_t p, rtc_srtp_backend_t b, rtc_srtp_session_t **tx,
                      rtc_srtp_session_t **rx) {
    rtc_srtp_config_t c;
    memset(&c, 0, sizeof c);
    c.profile = p;
    c.backend = b;
    for (int i = 0; i < RTC_SRTP_MAX_KEY_LEN; i++) c.local_key[i] = c.remote_key[i] = (uint8_t)(i * 3 + 1);
    for (int i = 0; i < RTC_SRTP_MAX_SALT_LEN; i++) c.local_salt[i] = c.remote_salt[i] = (uint8_t)(i * 5 + 2);
    if (rtc_srtp_session_create(&c, tx) != RTC_OK || rtc_srtp_session_create(&c, rx) != RTC_OK) {
        fprintf(stderr, "bench_srtp: cannot create SRTP sessions\n");
        exit(1);
    }
}

static size_t make_rtp(uint8_t *b, uint16_t seq, size_t payload) {
    b[0] = 0x80;
    b[1] = 96;
    rtc_put_be16(b + 2, seq);
    rtc_put_be32(b + 4, (uint32_t)seq * 3000u);
    rtc_put_be32(b + 8, 0x5eed1234);
    memset(b + 12, 0x5a, payload);
    return 12 + payload;
}

typedef struct {
    double protect_ns, unprotect_ns;
} cell_t;

static uint8_t pkts[BATCH][MAX_PKT];
static size_t lens[BATCH];

static cell_t run(rtc_srtp_profile_t p, rtc_srtp_backend_t b, size_t payload, double seconds) {
    rtc_srtp_session_t *tx, *rx;
    make_pair(p, b, &tx, &rx);
    uint16_t seq = 1;
    double prot = 0, unprot = 0;
    unsigned long n = 0;
    /* Warm up, then batches until each side has had `seconds` of work. */
    for (int warm = 1; warm >= 0; warm--) {
        double budget = warm ? seconds / 10 : seconds;
        double p_acc = 0, u_acc = 0;
        unsigned long count = 0;
        while (p_acc < budget * 1e9 || u_acc < budget * 1e9) {
            for (int i = 0; i < BATCH; i++) lens[i] = make_rtp(pkts[i], seq++, payload);
            double t0 = now_ns();
            for (int i = 0; i < BATCH; i++)
                if (rtc_srtp_protect_rtp(tx, pkts[i], &lens[i], MAX_PKT) != RTC_OK) exit(2);
            double t1 = now_ns();
            for (int i = 0; i < BATCH; i++)
                if (rtc_srtp_unprotect_rtp(rx, pkts[i], &lens[i]) != RTC_OK) exit(3);
            double t2 = now_ns();
            p_acc += t1 - t0;
            u_acc += t2 - t1;
            count += BATCH;
        }
        if (!warm) {
            prot = p_acc;
            unprot = u_acc;
            n = count;
        }
    }
    rtc_srtp_session_destroy(tx);
    rtc_srtp_session_destroy(rx);
    return (cell_t){prot / (double)n, unprot / (double)n};
}

int main(int argc, char **argv) {
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_srtp [--seconds S]\n");
            return 2;
        }
    }
    if (seconds <= 0) seconds = 1.0;
    rtc_log_set_level(RTC_LOG_WARN);
    const struct {
        rtc_srtp_profile_t p;
        const char *name;
    } profiles[] = {{RTC_SRTP_AES128_CM_SHA1_80, "AES128_CM_SHA1_80"},
                    {RTC_SRTP_AES128_CM_SHA1_32, "AES128_CM_SHA1_32"},
                    {RTC_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM"},
                    {RTC_SRTP_AEAD_AES_256_GCM, "AEAD_AES_256_GCM"}};
    const size_t payloads[] = {160, 1200};
    printf("| profile | payload (B) | openssl protect (ns) | openssl unprotect (ns) | libsrtp protect (ns) | libsrtp unprotect (ns) "
           "| speed-up (protect / unprotect) |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof profiles / sizeof *profiles; i++) {
        for (int j = 0; j < 2; j++) {
            cell_t o = run(profiles[i].p, RTC_SRTP_BACKEND_OPENSSL, payloads[j], seconds);
            cell_t l = run(profiles[i].p, RTC_SRTP_BACKEND_LIBSRTP, payloads[j], seconds);
            printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f | %.1fx / %.1fx |\n", profiles[i].name, payloads[j],
                   o.protect_ns, o.unprotect_ns, l.protect_ns, l.unprotect_ns, l.protect_ns / o.protect_ns,
                   l.unprotect_ns / o.unprotect_ns);
            fflush(stdout);
        }
    }
    return 0;
}
