/* The OpenSSL EVP SRTP backend against Pion (github.com/pion/srtp/v2 from Debian's
 * golang-github-pion-srtp.v2-dev, built offline; helper: tests/unit/test_srtp_pion.go), a
 * third implementation written apart from ours and from libsrtp:
 *  - Pion decrypts every SRTP/SRTCP packet we protect (three SSRCs crossing the 65535 -> 0
 *    wrap, CSRCs, extensions, padding, compound RTCP) back to the original bytes;
 *  - Pion, protecting the same plaintexts in the same order, produces exactly our bytes, and
 *    we unprotect them.
 * Profiles: AES128_CM_SHA1_80, AES128_CM_SHA1_32, AEAD_AES_128_GCM (Pion v2 has no GCM-256). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rtc/srtp.h"

static char helper[512]; /* built once in main() before the tests fork */
static char workdir[256];

static void build_helper(void) {
    char dir[] = "/tmp/srtp-pion-XXXXXX";
    if (!mkdtemp(dir)) return;
    snprintf(workdir, sizeof workdir, "%s", dir);
    const char *src = getenv("SRC_DIR");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && GO111MODULE=off GOENV=off GOPATH=/usr/share/gocode GOCACHE=%s/cache GOFLAGS= "
             "go build -o %s/helper %s/tests/unit/test_srtp_pion.go >%s/build.log 2>&1",
             dir, dir, dir, src ? src : ".", dir);
    if (system(cmd) == 0) snprintf(helper, sizeof helper, "%s/helper", dir);
}

static void remove_workdir(void) {
    if (!workdir[0]) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", workdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", workdir);
}

static uint64_t rng = 0x7071e5eedull;
static uint32_t rnd(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}
static uint32_t below(uint32_t n) { return rnd() % n; }

#define N_PKTS 900
typedef struct {
    uint8_t plain[1500], prot[1600];
    size_t plain_len, prot_len;
    bool rtcp;
} pkt_t;
static pkt_t pkts[N_PKTS];

static size_t make_rtp(uint8_t *b, uint32_t ssrc, uint16_t seq) {
    size_t cc = below(3) ? 0 : below(5);
    int ext = (int)below(3); /* none, a one-byte-header extension, an opaque profile */
    size_t hdr = 12 + 4 * cc + (ext ? 8 : 0);
    size_t total = hdr + below(1200);
    bool pad = total > hdr + 4 && below(4) == 0;
    b[0] = (uint8_t)(0x80 | (pad ? 0x20 : 0) | (ext ? 0x10 : 0) | cc);
    b[1] = (uint8_t)(96 + below(20));
    rtc_put_be16(b + 2, seq);
    rtc_put_be32(b + 4, rnd());
    rtc_put_be32(b + 8, ssrc);
    for (size_t i = 12; i < total; i++) b[i] = (uint8_t)rnd();
    if (ext) {
        uint8_t *e = b + 12 + 4 * cc;
        rtc_put_be16(e, ext == 1 ? 0xbede : 0x1234);
        rtc_put_be16(e + 2, 1);
        if (ext == 1) { /* one element, id 3, 3 bytes, then padding */
            e[4] = 0x32;
            e[7] = 0;
        }
    }
    if (pad) b[total - 1] = (uint8_t)(1 + below(4));
    return total;
}

static size_t make_rtcp(uint8_t *b, uint32_t ssrc) {
    size_t total = 0;
    int parts = 1 + (int)below(3);
    for (int k = 0; k < parts; k++) {
        size_t words = 1 + below(30);
        uint8_t *p = b + total;
        p[0] = (uint8_t)(0x80 | below(4));
        p[1] = (uint8_t)(k == 0 ? 200 + below(2) : 202 + below(5));
        rtc_put_be16(p + 2, (uint16_t)words);
        rtc_put_be32(p + 4, k == 0 ? ssrc : rnd());
        for (size_t i = 8; i < 4 * (words + 1); i++) p[i] = (uint8_t)rnd();
        total += 4 * (words + 1);
    }
    return total;
}

static void hex(FILE *f, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", p[i]);
}

/* Runs the helper over pkts (plaintexts if encrypt, our protected bytes if not); returns the
 * number of output lines read into out[i] (malloc'd strings). */
static size_t run_helper(rtc_srtp_profile_t p, const uint8_t *key, const uint8_t *salt, bool encrypt, char **out) {
    char in_path[300], out_path[300], cmd[2048];
    snprintf(in_path, sizeof in_path, "%s/in.txt", workdir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", workdir);
    FILE *f = fopen(in_path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < N_PKTS; i++) {
        fputs(pkts[i].rtcp ? "rtcp " : "rtp ", f);
        if (encrypt) hex(f, pkts[i].plain, pkts[i].plain_len);
        else hex(f, pkts[i].prot, pkts[i].prot_len);
        fputc('\n', f);
    }
    fclose(f);
    char k[80] = "", s[40] = "";
    for (size_t i = 0; i < rtc_srtp_key_len(p); i++) sprintf(k + 2 * i, "%02x", key[i]);
    for (size_t i = 0; i < rtc_srtp_salt_len(p); i++) sprintf(s + 2 * i, "%02x", salt[i]);
    snprintf(cmd, sizeof cmd, "%s %d %s %s %s <%s >%s", helper, (int)p, k, s, encrypt ? "encrypt" : "decrypt",
             in_path, out_path);
    ck_assert_int_eq(system(cmd), 0);
    f = fopen(out_path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = 0;
    static char line[8192];
    while (n < N_PKTS && fgets(line, sizeof line, f)) out[n++] = strdup(line);
    fclose(f);
    return n;
}

static void expect_line(const char *line, const uint8_t *want, size_t n, int i) {
    char exp[4000] = "ok ";
    for (size_t k = 0; k < n; k++) sprintf(exp + 3 + 2 * k, "%02x", want[k]);
    strcat(exp, "\n");
    ck_assert_msg(!strcmp(line, exp), "packet %d (%s): pion says %.80s", i, pkts[i].rtcp ? "rtcp" : "rtp", line);
}

static const rtc_srtp_profile_t profiles[3] = {RTC_SRTP_AES128_CM_SHA1_80, RTC_SRTP_AES128_CM_SHA1_32,
                                               RTC_SRTP_AEAD_AES_128_GCM};

START_TEST(pion_and_openssl_backend_agree_byte_for_byte) {
    ck_assert_msg(helper[0], "Pion helper not built: scripts/install-deps.sh installs golang-go and "
                             "golang-github-pion-srtp.v2-dev (see %s/build.log)", workdir);
    rtc_srtp_profile_t p = profiles[_i];
    rng = 0x7071e5eedull + (uint64_t)_i; /* the same packets whether or not Check forks */
    rtc_srtp_config_t c;
    memset(&c, 0, sizeof c);
    c.profile = p;
    c.backend = RTC_SRTP_BACKEND_OPENSSL;
    for (int i = 0; i < RTC_SRTP_MAX_KEY_LEN; i++) c.local_key[i] = c.remote_key[i] = (uint8_t)rnd();
    for (int i = 0; i < RTC_SRTP_MAX_SALT_LEN; i++) c.local_salt[i] = c.remote_salt[i] = (uint8_t)rnd();
    rtc_srtp_session_t *s = NULL;
    ck_assert_int_eq(rtc_srtp_session_create(&c, &s), RTC_OK);

    /* Three senders, in order per SSRC, two of them crossing the sequence-number wrap. */
    uint32_t ssrc[3] = {rnd(), rnd(), rnd()};
    uint16_t seq[3] = {(uint16_t)(65535 - 60), (uint16_t)rnd(), (uint16_t)(65535 - 120)};
    unsigned wraps = 0;
    for (int i = 0; i < N_PKTS; i++) {
        int k = (int)below(3);
        pkt_t *pk = &pkts[i];
        pk->rtcp = below(8) == 0;
        pk->plain_len = pk->rtcp ? make_rtcp(pk->plain, ssrc[k]) : make_rtp(pk->plain, ssrc[k], seq[k]++);
        if (!pk->rtcp && seq[k] == 0) wraps++;
        memcpy(pk->prot, pk->plain, pk->plain_len);
        pk->prot_len = pk->plain_len;
        int r = pk->rtcp ? rtc_srtp_protect_rtcp(s, pk->prot, &pk->prot_len, sizeof pk->prot)
                         : rtc_srtp_protect_rtp(s, pk->prot, &pk->prot_len, sizeof pk->prot);
        ck_assert_int_eq(r, RTC_OK);
    }
    ck_assert_uint_ge(wraps, 2);

    static char *lines[N_PKTS];
    /* Pion decrypts what we protected. */
    ck_assert_uint_eq(run_helper(p, c.local_key, c.local_salt, false, lines), N_PKTS);
    for (int i = 0; i < N_PKTS; i++) {
        expect_line(lines[i], pkts[i].plain, pkts[i].plain_len, i);
        free(lines[i]);
    }
    /* Pion protecting the same plaintexts in the same order writes our bytes exactly, and we
     * read them back. */
    ck_assert_uint_eq(run_helper(p, c.local_key, c.local_salt, true, lines), N_PKTS);
    for (int i = 0; i < N_PKTS; i++) {
        expect_line(lines[i], pkts[i].prot, pkts[i].prot_len, i);
        free(lines[i]);
        uint8_t buf[1600];
        size_t len = pkts[i].prot_len;
        memcpy(buf, pkts[i].prot, len);
        int r = pkts[i].rtcp ? rtc_srtp_unprotect_rtcp(s, buf, &len) : rtc_srtp_unprotect_rtp(s, buf, &len);
        ck_assert_int_eq(r, RTC_OK);
        ck_assert_uint_eq(len, pkts[i].plain_len);
        ck_assert_mem_eq(buf, pkts[i].plain, len);
    }
    rtc_srtp_session_destroy(s);
}
END_TEST

int main(void) {
    rtc_log_set_level(RTC_LOG_ERROR);
    build_helper();
    Suite *su = suite_create("srtp_pion");
    TCase *tc = tcase_create("pion");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, pion_and_openssl_backend_agree_byte_for_byte, 0, 3);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_workdir();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
