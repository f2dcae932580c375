/* libFuzzer target for the HTTP request-head parser (common/http_parser.c): any bytes as a
 * request. Must never read past the input, crash or loop; every refusal carries a status. */
#include <stdint.h>
#include <stdlib.h>

#include "common/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Copy so that ASan sees reads beyond `size` as overflows. */
    uint8_t *p = malloc(size ? size : 1);
    if (!p) return 0;
    memcpy(p, data, size);
    st_http_limits_t lim = {2048, 4096};
    st_http_request_t req;
    int status = 0;
    int rc = st_http_parse_request(p, size, &lim, &req, &status);
    if (rc == RTC_OK) {
        if (req.head_len > size || req.head_len > lim.max_head_bytes) abort();
        if (req.content_length > lim.max_body_bytes) abort();
        char v[256];
        st_http_query_param(&req, "username", v, sizeof v);
        st_http_query_param(&req, "service", v, sizeof v);
        st_http_header(&req, "content-type");
        st_http_percent_decode(req.path, req.path_len, false, v, sizeof v);
    } else if (rc != RTC_ERR_AGAIN) {
        if (status < 400 || status > 599) abort();
    }
    free(p);
    return 0;
}
