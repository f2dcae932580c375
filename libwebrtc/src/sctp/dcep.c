/* DCEP message codec (RFC 8832 §5): DATA_CHANNEL_OPEN and DATA_CHANNEL_ACK. */
#include "rtc/sctp.h"

static bool channel_type_known(uint8_t t) {
    switch (t) {
    case RTC_DCEP_RELIABLE:
    case RTC_DCEP_RELIABLE_UNORDERED:
    case RTC_DCEP_PARTIAL_RELIABLE_REXMIT:
    case RTC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED:
    case RTC_DCEP_PARTIAL_RELIABLE_TIMED:
    case RTC_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED:
        return true;
    default:
        return false;
    }
}

int rtc_dcep_msg_type(const uint8_t *p, size_t n) {
    if (!p || n == 0) return RTC_ERR_TRUNCATED;
    return p[0];
}

/*  0                   1                   2                   3
 *  |  Message Type |  Channel Type |            Priority           |
 *  |                    Reliability Parameter                      |
 *  |         Label Length          |       Protocol Length         |
 *  |  Label ...  |  Protocol ...  */
int rtc_dcep_parse_open(rtc_dcep_open_t *o, const uint8_t *p, size_t n) {
    if (!o || (!p && n)) return RTC_ERR_INVALID_ARG;
    memset(o, 0, sizeof *o);
    rtc_reader_t r;
    rtc_reader_init(&r, p, n);
    uint8_t type = rtc_reader_u8(&r);
    if (r.err) return RTC_ERR_TRUNCATED;
    if (type != RTC_DCEP_MSG_OPEN) return RTC_ERR_MALFORMED;
    o->channel_type = rtc_reader_u8(&r);
    o->priority = rtc_reader_u16(&r);
    o->reliability = rtc_reader_u32(&r);
    o->label_len = rtc_reader_u16(&r);
    o->protocol_len = rtc_reader_u16(&r);
    if (r.err) return RTC_ERR_TRUNCATED;
    if (!channel_type_known(o->channel_type)) return RTC_ERR_MALFORMED;
    o->label = rtc_reader_bytes(&r, o->label_len);
    o->protocol = rtc_reader_bytes(&r, o->protocol_len);
    if (r.err) return RTC_ERR_TRUNCATED;
    if (rtc_reader_left(&r) != 0) return RTC_ERR_MALFORMED;
    return RTC_OK;
}

int rtc_dcep_write_open(const rtc_dcep_open_t *o, uint8_t *out, size_t cap) {
    if (!o || (!out && cap) || !channel_type_known(o->channel_type)) return RTC_ERR_INVALID_ARG;
    if ((o->label_len && !o->label) || (o->protocol_len && !o->protocol)) return RTC_ERR_INVALID_ARG;
    rtc_writer_t w;
    rtc_writer_init(&w, out, cap);
    rtc_writer_u8(&w, RTC_DCEP_MSG_OPEN);
    rtc_writer_u8(&w, o->channel_type);
    rtc_writer_u16(&w, o->priority);
    rtc_writer_u32(&w, o->reliability);
    rtc_writer_u16(&w, o->label_len);
    rtc_writer_u16(&w, o->protocol_len);
    rtc_writer_bytes(&w, o->label, o->label_len);
    rtc_writer_bytes(&w, o->protocol, o->protocol_len);
    if (w.err) return RTC_ERR_OVERFLOW;
    return (int)w.len;
}

int rtc_dcep_parse_ack(const uint8_t *p, size_t n) {
    if (!p || n == 0) return RTC_ERR_TRUNCATED;
    if (p[0] != RTC_DCEP_MSG_ACK || n != 1) return RTC_ERR_MALFORMED;
    return RTC_OK;
}

int rtc_dcep_write_ack(uint8_t *out, size_t cap) {
    if (!out || cap < 1) return RTC_ERR_OVERFLOW;
    out[0] = RTC_DCEP_MSG_ACK;
    return 1;
}
