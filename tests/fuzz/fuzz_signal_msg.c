/* libFuzzer target for starling-signal's client-message parser and validator
 * (signal/protocol.c): any bytes as a WebSocket text frame. It must never crash or leak; an
 * accepted message must be internally consistent (its fields point into its own JSON, the
 * relayed payload re-parses as an object of the same type), and a refusal must carry a code
 * and a message. The state/grant rules are run over every accepted message too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signal/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    signal_limits_t lim = {.max_sdp = 8192, .max_data_payload = 1024};
    signal_msg_t m;
    signal_perr_t e;
    int rc = signal_msg_parse(data, size, &lim, &m, &e);
    if (rc != RTC_OK) {
        if (m.root || e.code == SIGNAL_E_NONE || !e.message[0]) abort();
        if (e.has_rid && strlen(e.rid) > SIGNAL_RID_MAX) abort();
        return 0;
    }
    if (!m.root || (unsigned)m.type >= SIGNAL_MSG_COUNT_) abort();
    if (m.type == SIGNAL_MSG_JOIN && (!signal_room_valid(m.room) || !m.token)) abort();
    if (m.type == SIGNAL_MSG_DATA && (!m.payload || strlen(m.payload) > lim.max_data_payload)) abort();
    if ((m.type == SIGNAL_MSG_OFFER || m.type == SIGNAL_MSG_ANSWER) &&
        (!m.sdp || strlen(m.sdp) > lim.max_sdp))
        abort();
    for (unsigned g = 0; g < 16; g++) {
        signal_perr_t pe;
        signal_msg_permitted(&m, g & 1, g >> 1, &pe);
    }
    cJSON *p = signal_msg_relay_payload(&m);
    if (p) {
        char *s = cJSON_PrintUnformatted(p);
        cJSON *back = s ? cJSON_Parse(s) : NULL;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(back, "type");
        if (!cJSON_IsString(t) || strcmp(t->valuestring, signal_msg_type_name(m.type)) != 0) abort();
        cJSON_Delete(back);
        cJSON_free(s);
        cJSON_Delete(p);
    }
    char *err = signal_error_json(SIGNAL_E_BAD_REQUEST, "x", m.rid);
    free(err);
    signal_msg_free(&m);
    return 0;
}
