/* libFuzzer target: the STUN decoder, every typed getter, integrity checking and the Binding
 * responder, on arbitrary bytes. Any crash, sanitizer report or read past the input fails. */
#include <stdint.h>
#include <stdlib.h>

#include "rtc/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) { rtc_log_set_level(RTC_LOG_OFF); quiet = 1; }
    /* Copy into an exact-size heap buffer so ASan catches any read past the end. */
    uint8_t *p = malloc(size ? size : 1);
    if (!p) return 0;
    memcpy(p, data, size);

    rtc_stun_msg_t m;
    int rc = rtc_stun_msg_decode(&m, p, size);
    if (rc == RTC_OK || rc == RTC_ERR_UNKNOWN_ATTR) {
        rtc_addr_t a;
        uint32_t u32;
        uint64_t u64;
        uint16_t ch, types[16];
        uint8_t u8;
        bool flag;
        char s[800];
        int code;
        const uint8_t *d;
        size_t dl;
        static const uint16_t addr_types[] = {RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, RTC_STUN_ATTR_XOR_PEER_ADDRESS,
                                              RTC_STUN_ATTR_XOR_RELAYED_ADDRESS};
        for (size_t i = 0; i < 3; i++) rtc_stun_msg_get_xor_address(&m, addr_types[i], &a);
        rtc_stun_msg_get_address(&m, RTC_STUN_ATTR_MAPPED_ADDRESS, &a);
        rtc_stun_msg_get_address(&m, RTC_STUN_ATTR_ALTERNATE_SERVER, &a);
        rtc_stun_msg_get_u32(&m, RTC_STUN_ATTR_PRIORITY, &u32);
        rtc_stun_msg_get_u32(&m, RTC_STUN_ATTR_LIFETIME, &u32);
        rtc_stun_msg_get_u64(&m, RTC_STUN_ATTR_ICE_CONTROLLING, &u64);
        rtc_stun_msg_get_channel(&m, &ch);
        rtc_stun_msg_get_requested_transport(&m, &u8);
        rtc_stun_msg_get_family(&m, RTC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, &u8);
        rtc_stun_msg_get_even_port(&m, &flag);
        rtc_stun_msg_get_string(&m, RTC_STUN_ATTR_USERNAME, s, sizeof s);
        rtc_stun_msg_get_string(&m, RTC_STUN_ATTR_REALM, s, sizeof s);
        rtc_stun_msg_get_string(&m, RTC_STUN_ATTR_NONCE, s, 8); /* small buffer path */
        rtc_stun_msg_get_error(&m, &code, s, sizeof s);
        rtc_stun_msg_get_unknown_attributes(&m, types, 16);
        rtc_stun_msg_get_data(&m, &d, &dl);
        for (const rtc_stun_attr_t *x = rtc_stun_msg_find(&m, RTC_STUN_ATTR_XOR_PEER_ADDRESS); x;
             x = rtc_stun_msg_find_next(&m, x))
            rtc_stun_attr_get_xor_address(&m, x, &a);
        static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";
        rtc_stun_msg_check_integrity(&m, key, sizeof key - 1);
        rtc_stun_msg_check_fingerprint(&m);
        rtc_stun_credentials_t c;
        rtc_stun_credentials_init(&c, "user", "pass");
        rtc_stun_credentials_handle_error(&c, &m);
    }
    rtc_addr_t from;
    rtc_addr_parse(&from, "127.0.0.1:5000", 0);
    uint8_t out[2048];
    rtc_stun_responder_config_t cfg = {.software = "fuzz"};
    rtc_stun_binding_respond(&cfg, p, size, &from, out, sizeof out);
    rtc_stun_frame_length(p, size);
    free(p);
    return 0;
}
