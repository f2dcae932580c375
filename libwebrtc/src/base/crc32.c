/* CRC-32 (STUN FINGERPRINT, RFC 8489 §14.7) and CRC-32C (SCTP, RFC 4960 App. B), table-driven.
 * Tables are built once at first use; the slice-by-one loop is fast enough for STUN-sized
 * inputs and keeps the code obvious. */
#include "rtc/base.h"

#include <pthread.h>

static uint32_t crc32_table[256];
static uint32_t crc32c_table[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_table(uint32_t *table, uint32_t poly) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (poly ^ (c >> 1)) : (c >> 1);
        table[i] = c;
    }
}

static void build_tables(void) {
    build_table(crc32_table, 0xEDB88320u);  /* reflected 0x04C11DB7 */
    build_table(crc32c_table, 0x82F63B78u); /* reflected 0x1EDC6F41 */
}

static uint32_t run(const uint32_t *table, uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t rtc_crc32(uint32_t crc, const uint8_t *p, size_t n) {
    pthread_once(&tables_once, build_tables);
    return run(crc32_table, crc, p, n);
}

uint32_t rtc_crc32c(uint32_t crc, const uint8_t *p, size_t n) {
    pthread_once(&tables_once, build_tables);
    return run(crc32c_table, crc, p, n);
}
