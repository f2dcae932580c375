/* starling-sfu: the selective forwarding unit (see docs/sfu.md). */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "common/config.h"
#include "common/log.h"
#include "sfu/node.h"
#ifdef STARLING_SFU_HAVE_PC
#include "sfu/media_pc.h"
#endif

extern char **environ;

int main(int argc, char **argv) {
    sfu_config_t cfg = {0};
    st_config_error_t err;
    int rc = st_config_load(&sfu_config_spec, argc, argv, environ, &cfg, &err);
    if (rc == ST_CONFIG_HELP) {
        rtc_buf_t help;
        rtc_buf_init(&help);
        st_config_help(&sfu_config_spec, &help);
        fwrite(help.data, 1, help.len, stdout);
        rtc_buf_free(&help);
        st_config_free(&sfu_config_spec, &cfg);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "starling-sfu: %s\n", err.msg);
        return 2;
    }
    st_log_init("sfu", cfg.common.log_level);
    rtc_buf_t dump;
    rtc_buf_init(&dump);
    if (st_config_dump_json(&sfu_config_spec, &cfg, &dump) == RTC_OK)
        RTC_LOGI("sfu", "starting starling-sfu %s with %s", STARLING_SFU_VERSION, (const char *)dump.data);
    rtc_buf_free(&dump);

    uv_loop_t loop;
    uv_loop_init(&loop);
#ifdef STARLING_SFU_HAVE_PC
    sfu_media_pc_config_t media_cfg = {.bind = cfg.udp_listen,
                                       .offer_timeout = RTC_MS(cfg.offer_timeout_ms),
                                       .probe_max_pct = (unsigned)cfg.probe_max_pct,
                                       .no_probing = !cfg.probing};
    if (cfg.nat_1to1) {
        if (!cfg.public_ip || rtc_addr_parse(&media_cfg.announce, cfg.public_ip, 0) != RTC_OK) {
            fprintf(stderr, "starling-sfu: ice.nat_1to1 needs public_ip to be an IP address\n");
            st_config_free(&sfu_config_spec, &cfg);
            return 2;
        }
        RTC_LOGI("sfu", "1:1 NAT: ICE candidates announce %s", cfg.public_ip);
    }
    sfu_media_engine_t engine = {&sfu_media_pc_ops, sfu_media_pc_new, sfu_media_pc_free, &media_cfg};
    sfu_node_t *node = sfu_node_start(&loop, &cfg, &engine);
#else
    /* Built without the PeerConnection layer: bus protocol only (docs/sfu.md). */
    sfu_node_t *node = sfu_node_start(&loop, &cfg, NULL);
#endif
    if (!node) {
        uv_loop_close(&loop);
        st_config_free(&sfu_config_spec, &cfg);
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    sfu_node_free(node);
    int closed = uv_loop_close(&loop);
    if (closed != 0) RTC_LOGW("sfu", "loop still had handles at exit");
    st_config_free(&sfu_config_spec, &cfg);
    st_log_shutdown();
    return 0;
}
