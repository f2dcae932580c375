/* net/stream_uv.h — a TCP connection to a server, optionally with TLS on top (OpenSSL over
 * memory BIOs), on a libuv loop. Internal to libwebrtc: the ICE driver (src/ice/runtime_uv.c)
 * and the PeerConnection runtime (src/pc/pc_runtime_uv.c) open these to reach TURN servers
 * over TCP and TLS (turn:...?transport=tcp, turns:) when the ICE agent asks (stream_open).
 *
 * Life cycle: rtc_uv_stream_open connects; on_connected fires once TCP is up and, for TLS, the
 * handshake is done (the certificate verified unless told not to); every byte read afterwards
 * goes to on_data, in order, in any split. A failure (connect refused, handshake or
 * verification failed, reset, the server closing) fires on_failed once. rtc_uv_stream_close
 * ends it from the owner's side: no callback but on_freed follows. Either way the libuv handle
 * then closes asynchronously and on_freed is called just before the memory goes, so an owner
 * can count its open handles. Callbacks may call rtc_uv_stream_write and rtc_uv_stream_close
 * on the stream itself.
 */
#ifndef RTC_NET_STREAM_UV_H
#define RTC_NET_STREAM_UV_H

#include <uv.h>

#include "rtc/base.h"

typedef struct rtc_uv_stream rtc_uv_stream_t;

typedef struct {
    void (*on_connected)(void *user, rtc_uv_stream_t *s);
    void (*on_data)(void *user, rtc_uv_stream_t *s, const uint8_t *p, size_t n);
    void (*on_failed)(void *user, rtc_uv_stream_t *s, const char *why);
    void (*on_freed)(void *user, rtc_uv_stream_t *s);
} rtc_uv_stream_callbacks_t;

/* TLS client contexts an owner shares among its streams, created on first use: one that
 * verifies against the system's CA store (SSL_CERT_FILE / SSL_CERT_DIR work), one that does
 * not (tests). Zero-initialise; free with rtc_uv_tls_contexts_free (streams still open keep
 * their own reference). */
typedef struct {
    void *verify;       /* SSL_CTX * */
    void *insecure;     /* SSL_CTX * */
} rtc_uv_tls_contexts_t;
void rtc_uv_tls_contexts_free(rtc_uv_tls_contexts_t *c);

typedef struct {
    bool tls;
    /* Name for SNI and certificate verification. "" or NULL: the certificate must be issued
     * for the server's IP address (an IP subjectAltName) instead. */
    const char *tls_name;
    bool tls_no_verify;                 /* accept any certificate (tests only) */
    rtc_uv_tls_contexts_t *contexts;    /* required with tls */
} rtc_uv_stream_options_t;

struct rtc_uv_stream {
    /* The owner's tag, first so that a handle shared with other kinds of handle (UDP sockets)
     * can be told apart: *(int *)handle. */
    int tag;
    /* The rest is private to stream_uv.c. */
    uv_tcp_t tcp;
    uv_connect_t connect;
    void *ssl;                  /* SSL *, NULL for plain TCP */
    void *rbio, *wbio;          /* BIO *: the network side of the TLS engine */
    bool connected;
    bool failed;
    bool closing;
    bool in_callback;
    rtc_uv_stream_callbacks_t cb;
    void *user;
    rtc_addr_t remote;
    uint8_t rbuf[16384];
};

/* Connects from `local` (its port is ignored: the kernel picks one; its IP is where traffic
 * leaves from, the same rule as the UDP sockets) to `remote`. Returns the stream, or NULL when
 * it cannot even start (bad address, no TLS context, out of memory); nothing is called then.
 * The tag is stored first in the struct (see above). */
rtc_uv_stream_t *rtc_uv_stream_open(uv_loop_t *loop, int tag, const rtc_addr_t *local, const rtc_addr_t *remote,
                                    const rtc_uv_stream_options_t *opts, const rtc_uv_stream_callbacks_t *cb,
                                    void *user);
/* Queues bytes (encrypted first with TLS). Ignored after failure or close. RTC_ERR_STATE then,
 * RTC_ERR_NOMEM, or RTC_OK. Writes before on_connected are a caller error (RTC_ERR_STATE). */
int rtc_uv_stream_write(rtc_uv_stream_t *s, const uint8_t *p, size_t n);
/* Closes from the owner's side; only on_freed is called afterwards. Idempotent. */
void rtc_uv_stream_close(rtc_uv_stream_t *s);

#endif /* RTC_NET_STREAM_UV_H */
