/* libFuzzer target for JWT verification (common/jwt.c): any bytes as a token, verified with a
 * fixed key. Must never crash or leak; a forged token must never verify. */
#include <stdint.h>
#include <stdlib.h>

#include "common/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char key[] = "fuzz-key";
    st_jwt_verify_opts_t opts = {.now = 1700000000, .leeway = 30};
    cJSON *claims = NULL;
    int rc = st_jwt_verify_hs256((const char *)data, size, key, sizeof key - 1, &opts, &claims);
    if (rc == RTC_OK) {
        /* Only a token signed with the key verifies; the fuzzer cannot forge HMAC-SHA256, so
         * reaching here means a seed signed with it. Claims must be an object. */
        if (!cJSON_IsObject(claims)) abort();
        st_jwt_claim_string(claims, "sub");
    } else if (claims) {
        abort(); /* no claims handed out on failure */
    }
    cJSON_Delete(claims);
    uint8_t out[8192];
    st_base64url_decode((const char *)data, size < sizeof out ? size : sizeof out, out, sizeof out);
    return 0;
}
