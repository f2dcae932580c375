/* libFuzzer target for the config-file parser (common/config.c): any bytes, parsed on top of
 * the defaults of a spec with every option type and the common options, then dumped. Must
 * never crash, leak or read out of bounds; errors are fine. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/config.h"

typedef struct {
    st_common_config_t common;
    rtc_addr_t listen;
    int64_t workers;
    bool verbose;
    char *realm;
    int64_t lifetime_ms;
    st_strlist_t peers;
    char *secret;
    char *mode;
} fuzz_cfg_t;

static const char *const modes[] = {"udp", "tcp", "both", NULL};

static const st_option_t options[] = {
    {"listen", ST_OPT_ADDRESS, offsetof(fuzz_cfg_t, listen), "0.0.0.0:3478", "l", 0, 0, NULL, 0},
    {"workers", ST_OPT_INT, offsetof(fuzz_cfg_t, workers), "2", "w", 1, 64, NULL, 0},
    {"verbose", ST_OPT_BOOL, offsetof(fuzz_cfg_t, verbose), "false", "v", 0, 0, NULL, 0},
    {"realm", ST_OPT_STRING, offsetof(fuzz_cfg_t, realm), "starling", "r", 0, 0, NULL, 0},
    {"allocation.lifetime", ST_OPT_DURATION, offsetof(fuzz_cfg_t, lifetime_ms), "10m", "a", 0,
     0, NULL, 0},
    {"peers", ST_OPT_LIST, offsetof(fuzz_cfg_t, peers), "10.0.0.0/8", "p", 0, 0, NULL, 0},
    {"secret", ST_OPT_STRING, offsetof(fuzz_cfg_t, secret), NULL, "s", 0, 0, NULL, ST_OPT_SECRET},
    {"mode", ST_OPT_STRING, offsetof(fuzz_cfg_t, mode), "udp", "m", 0, 0, modes, 0},
};

static const st_config_spec_t spec = {"fuzz", NULL, options, sizeof options / sizeof options[0],
                                      1, offsetof(fuzz_cfg_t, common)};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_cfg_t cfg = {0};
    st_config_error_t err;
    if (st_config_set_defaults(&spec, &cfg, &err) != RTC_OK) abort();
    if (st_config_parse_buffer(&spec, &cfg, "fuzz.conf", data, size, &err) == RTC_OK) {
        rtc_buf_t out;
        rtc_buf_init(&out);
        st_config_dump_json(&spec, &cfg, &out);
        rtc_buf_free(&out);
    } else if (err.msg[0] == '\0') {
        abort(); /* every failure must explain itself */
    }
    st_config_free(&spec, &cfg);
    return 0;
}
