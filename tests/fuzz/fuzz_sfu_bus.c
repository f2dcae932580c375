/* libFuzzer target for the SFU's bus parsers (services/sfu/bus.c): any bytes as a
 * signal -> SFU command and as a cluster event. Must never crash or leak; an accepted
 * command must have the routing fields its type needs, and an envelope built from it must
 * parse back. */
#include <stdint.h>
#include <stdlib.h>

#include "sfu/bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sfu_bus_msg_t m;
    char why[160];
    int rc = sfu_bus_parse((const char *)data, size, &m, why, sizeof why);
    if (rc == RTC_OK && m.type != SFU_BUS_UNKNOWN) {
        if (!sfu_bus_valid_room(m.room)) abort();
        if (m.type != SFU_BUS_JOIN && m.type != SFU_BUS_CLOSE_ROOM && !sfu_bus_valid_id(m.participant))
            abort();
        if (m.type == SFU_BUS_JOIN && !sfu_bus_valid_id(m.signal)) abort();
        if (m.type == SFU_BUS_DATA && m.u.data.len > SFU_DATA_MAX) abort();
        char *env = sfu_bus_envelope(m.type_name, m.room, m.participant, m.signal,
                                     m.payload ? cJSON_Duplicate(m.payload, 1) : NULL);
        if (env) {
            sfu_bus_msg_t again;
            if (sfu_bus_parse(env, strlen(env), &again, why, sizeof why) != RTC_OK) abort();
            if (again.type != m.type) abort();
            sfu_bus_msg_free(&again);
            free(env);
        }
    }
    sfu_bus_msg_free(&m);
    sfu_event_t ev;
    sfu_event_parse((const char *)data, size, &ev);
    return 0;
}
