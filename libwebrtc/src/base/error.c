/* Error messages for rtc_err_t. Kept in one table so a new code is one line. */
#include "rtc/base.h"

static const char *const messages[] = {
    [0] = "success",
    [1] = "invalid argument",
    [2] = "out of memory",
    [3] = "input truncated",
    [4] = "buffer too small or value out of range",
    [5] = "malformed input",
    [6] = "unsupported",
    [7] = "not found",
    [8] = "integrity check failed",
    [9] = "fingerprint mismatch",
    [10] = "unknown comprehension-required attribute",
    [11] = "duplicate item",
    [12] = "timed out",
    [13] = "invalid state",
    [14] = "I/O error",
    [15] = "cryptographic failure",
    [16] = "authentication failed",
    [17] = "limit reached",
    [18] = "closed",
    [19] = "try again",
    [20] = "denied by policy",
    [21] = "replayed packet",
    [22] = "bad address",
    [23] = "protocol violation",
    [24] = "stale credential",
    [25] = "conflict",
    [26] = "operation failed",
};

const char *rtc_strerror(int err) {
    if (err > 0) return "unknown error";
    unsigned idx = (unsigned)(-(long)err);
    if (idx >= sizeof messages / sizeof messages[0] || !messages[idx]) return "unknown error";
    return messages[idx];
}
