/* libFuzzer target: the association's packet input path (usrsctp's parser behind
 * rtc_sctp_handle_packet, then our notification, DCEP and message handling).
 *
 * First byte selects the mode:
 *   even: the rest is one raw packet fed to a fresh, connecting association;
 *   odd:  the rest is a sequence of chunks (2-byte length + bytes each) sent, one packet each,
 *         to an ESTABLISHED association with the right ports and verification tag patched in,
 *         so the fuzzer reaches DATA/SACK/RECONFIG/FORWARD-TSN handling and our DCEP and
 *         channel code rather than being dropped at the tag check.
 * The established pair lives across inputs and is rebuilt when an input kills it. */
#include <stdint.h>
#include <stdlib.h>

#include "rtc/sctp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    rtc_sctp_t *a;
    int peer;  /* index of the other side */
    uint8_t q[64][1500];
    size_t qn[64];
    int nq;
    uint8_t last_hdr[12]; /* common header of the last packet this side sent */
    bool have_hdr;
} side_t;

static side_t S[2];
static rtc_time_t now = RTC_SEC(1);
static rtc_sctp_t *raw_keeper;

static void on_packet(void *user, const uint8_t *p, size_t n) {
    side_t *me = user;
    side_t *to = &S[me->peer];
    if (n >= 12) {
        memcpy(me->last_hdr, p, 12);
        me->have_hdr = true;
    }
    if (to->nq < 64 && n <= 1500) {
        memcpy(to->q[to->nq], p, n);
        to->qn[to->nq++] = n;
    }
}

static void on_datachannel(void *user, rtc_dc_t *dc) {
    (void)user;
    static const char reply[] = "x";
    rtc_dc_send(dc, reply, 1, true);
}

static void drop_packet(void *user, const uint8_t *p, size_t n) {
    (void)user;
    (void)p;
    (void)n;
}

static void pump(int rounds) {
    for (int r = 0; r < rounds; r++) {
        bool any = false;
        for (int i = 0; i < 2; i++) {
            side_t *s = &S[i];
            int nq = s->nq;
            s->nq = 0;
            for (int k = 0; k < nq; k++) {
                uint8_t buf[1500];
                size_t n = s->qn[k];
                memcpy(buf, s->q[k], n);
                rtc_sctp_handle_packet(s->a, buf, n, now);
                any = true;
            }
        }
        now += RTC_MS(10);
        for (int i = 0; i < 2; i++) rtc_sctp_handle_timeout(S[i].a, now);
        if (!any && !S[0].nq && !S[1].nq) break;
    }
}

static void build_pair(void) {
    for (int i = 0; i < 2; i++) {
        rtc_sctp_destroy(S[i].a);
        memset(&S[i], 0, sizeof S[i]);
        S[i].peer = 1 - i;
        rtc_sctp_config_t cfg;
        rtc_sctp_config_init(&cfg);
        cfg.dtls_client = i == 0;
        cfg.cb.on_packet = on_packet;
        cfg.cb.on_datachannel = on_datachannel;
        cfg.user = &S[i];
        if (rtc_sctp_create(&cfg, &S[i].a) != RTC_OK) abort();
    }
    rtc_sctp_connect(S[0].a, now);
    rtc_sctp_connect(S[1].a, now);
    pump(50);
    rtc_dc_t *dc;
    rtc_sctp_create_channel(S[0].a, "fuzz", NULL, &dc);
    pump(20);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool init;
    if (!init) {
        rtc_log_set_level(RTC_LOG_OFF);
        init = true;
    }
    if (size < 1) return 0;
    if ((data[0] & 1) == 0) {
        if (!raw_keeper) {
            rtc_sctp_config_t cfg;
            rtc_sctp_config_init(&cfg);
            cfg.cb.on_packet = drop_packet;
            rtc_sctp_create(&cfg, &raw_keeper);
            rtc_sctp_connect(raw_keeper, now);
        }
        rtc_sctp_t *a;
        rtc_sctp_config_t cfg;
        rtc_sctp_config_init(&cfg);
        cfg.cb.on_packet = drop_packet;
        if (rtc_sctp_create(&cfg, &a) != RTC_OK) return 0;
        rtc_sctp_connect(a, now);
        if (size > 1) {
            uint8_t *p = malloc(size - 1);
            memcpy(p, data + 1, size - 1);
            rtc_sctp_handle_packet(a, p, size - 1, now);
            free(p);
        }
        rtc_sctp_destroy(a);
        return 0;
    }
    if (!S[0].a || rtc_sctp_state(S[0].a) != RTC_SCTP_STATE_CONNECTED ||
        rtc_sctp_state(S[1].a) != RTC_SCTP_STATE_CONNECTED || !S[1].have_hdr)
        build_pair();
    if (rtc_sctp_state(S[0].a) != RTC_SCTP_STATE_CONNECTED || !S[1].have_hdr) return 0;
    size_t off = 1;
    int packets = 0;
    while (off + 2 <= size && packets < 8) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (n > size - off) n = size - off;
        uint8_t *p = malloc(12 + n);
        memcpy(p, S[1].last_hdr, 12); /* ports and verification tag S[0] expects */
        memset(p + 8, 0, 4);           /* checksum is not verified (DTLS protects it) */
        memcpy(p + 12, data + off, n);
        rtc_sctp_handle_packet(S[0].a, p, 12 + n, now);
        free(p);
        off += n;
        packets++;
    }
    pump(5);
    return 0;
}
