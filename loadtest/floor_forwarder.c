/* starling-floor: the floor of the TURN benchmark. A bare UDP relay doing exactly the packet
 * work a TURN server's data path must do — recvmmsg on the listening socket, find the
 * allocation by the client's address and the peer by the channel number, send the payload
 * from that allocation's own relay socket (sendmmsg for runs of packets of one allocation) —
 * and nothing else: no authentication, no permission checks, no expiry, no quotas, no
 * metrics. A real server's CPU above this floor is the cost of being a real server.
 *
 * It answers just enough TURN for a client to set up (Allocate, Refresh, CreatePermission,
 * ChannelBind, Binding; all without authentication) and relays client→peer traffic only
 * (ChannelData and Send indications), which is what `starling-loadtest turn` drives. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lt.h"

#define BATCH 64
#define MAX_CHANNELS 16
#define HASH_BITS 16
#define HASH_SIZE (1u << HASH_BITS)

typedef struct {
    rtc_addr_t client;
    int relay_fd;
    rtc_addr_t relayed;
    uint16_t chan_num[MAX_CHANNELS];
    rtc_addr_t chan_peer[MAX_CHANNELS];
    struct sockaddr_storage chan_sa[MAX_CHANNELS]; /* pre-built for the hot path */
    socklen_t chan_sl[MAX_CHANNELS];
    int n_chans;
    bool used;
} alloc_t;

typedef struct {
    int listen_fd;
    rtc_addr_t relay_ip;
    alloc_t *allocs;
    size_t n_allocs, cap_allocs;
    int32_t table[HASH_SIZE]; /* open addressing: index into allocs, -1 empty */
    uint64_t relayed, dropped;
} worker_t;

static volatile sig_atomic_t g_stop;
static void on_signal(int s) { (void)s; g_stop = 1; }

static alloc_t *find_alloc(worker_t *w, const rtc_addr_t *client) {
    uint32_t h = rtc_addr_hash(client) & (HASH_SIZE - 1);
    for (uint32_t i = 0; i < HASH_SIZE; i++) {
        int32_t idx = w->table[(h + i) & (HASH_SIZE - 1)];
        if (idx < 0) return NULL;
        if (rtc_addr_equal(&w->allocs[idx].client, client)) return &w->allocs[idx];
    }
    return NULL;
}

static alloc_t *new_alloc(worker_t *w, const rtc_addr_t *client) {
    if (w->n_allocs >= HASH_SIZE / 2) return NULL;
    if (w->n_allocs == w->cap_allocs) {
        size_t cap = w->cap_allocs ? w->cap_allocs * 2 : 1024;
        alloc_t *v = realloc(w->allocs, cap * sizeof *v);
        if (!v) return NULL;
        w->allocs = v;
        w->cap_allocs = cap;
    }
    alloc_t *a = &w->allocs[w->n_allocs];
    memset(a, 0, sizeof *a);
    a->client = *client;
    rtc_addr_t bind = w->relay_ip;
    bind.port = 0;
    a->relay_fd = lt_udp_socket(&bind, NULL, 0, 1 << 20);
    if (a->relay_fd < 0) return NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(a->relay_fd, (struct sockaddr *)&ss, &sl);
    rtc_addr_from_sockaddr(&a->relayed, (struct sockaddr *)&ss, sl);
    a->used = true;
    uint32_t h = rtc_addr_hash(client) & (HASH_SIZE - 1);
    while (w->table[h] >= 0) h = (h + 1) & (HASH_SIZE - 1);
    w->table[h] = (int32_t)w->n_allocs++;
    return a;
}

static void reply(worker_t *w, const rtc_addr_t *to, const uint8_t *p, int n) {
    if (n <= 0) return;
    struct sockaddr_storage ss;
    int sl = rtc_addr_to_sockaddr(to, &ss, sizeof ss);
    sendto(w->listen_fd, p, (size_t)n, 0, (struct sockaddr *)&ss, (socklen_t)sl);
}

static void handle_stun(worker_t *w, const uint8_t *p, size_t n, const rtc_addr_t *from) {
    rtc_stun_msg_t m;
    if (rtc_stun_msg_decode(&m, p, n) != RTC_OK) return;
    uint8_t out[512];
    rtc_stun_builder_t b;
    alloc_t *a = find_alloc(w, from);
    if (m.cls == RTC_STUN_INDICATION && m.method == RTC_STUN_SEND) {
        rtc_addr_t peer;
        const uint8_t *data;
        size_t len;
        if (!a || rtc_stun_msg_get_xor_address(&m, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &peer) != RTC_OK ||
            rtc_stun_msg_get_data(&m, &data, &len) != RTC_OK) {
            w->dropped++;
            return;
        }
        struct sockaddr_storage ss;
        int sl = rtc_addr_to_sockaddr(&peer, &ss, sizeof ss);
        sendto(a->relay_fd, data, len, 0, (struct sockaddr *)&ss, (socklen_t)sl);
        w->relayed++;
        return;
    }
    if (m.cls != RTC_STUN_REQUEST) return;
    if (m.method == RTC_STUN_BINDING) {
        reply(w, from, out, rtc_stun_binding_respond(NULL, p, n, from, out, sizeof out));
        return;
    }
    rtc_stun_builder_init_response(&b, out, sizeof out, &m, RTC_STUN_SUCCESS);
    switch (m.method) {
    case RTC_STUN_ALLOCATE:
        if (!a) a = new_alloc(w, from);
        if (!a) {
            rtc_stun_builder_init_response(&b, out, sizeof out, &m, RTC_STUN_ERROR);
            rtc_stun_add_error(&b, RTC_STUN_ERR_INSUFFICIENT_CAPACITY, NULL);
            break;
        }
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_RELAYED_ADDRESS, &a->relayed);
        rtc_stun_add_xor_address(&b, RTC_STUN_ATTR_XOR_MAPPED_ADDRESS, from);
        rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, RTC_TURN_DEFAULT_LIFETIME);
        break;
    case RTC_STUN_REFRESH: {
        uint32_t lt = RTC_TURN_DEFAULT_LIFETIME;
        rtc_stun_msg_get_u32(&m, RTC_STUN_ATTR_LIFETIME, &lt);
        rtc_stun_add_u32(&b, RTC_STUN_ATTR_LIFETIME, lt ? RTC_TURN_DEFAULT_LIFETIME : 0);
        break;
    }
    case RTC_STUN_CREATE_PERMISSION: break;
    case RTC_STUN_CHANNEL_BIND: {
        uint16_t ch;
        rtc_addr_t peer;
        if (!a || rtc_stun_msg_get_channel(&m, &ch) != RTC_OK ||
            rtc_stun_msg_get_xor_address(&m, RTC_STUN_ATTR_XOR_PEER_ADDRESS, &peer) != RTC_OK) {
            rtc_stun_builder_init_response(&b, out, sizeof out, &m, RTC_STUN_ERROR);
            rtc_stun_add_error(&b, a ? RTC_STUN_ERR_BAD_REQUEST : RTC_STUN_ERR_ALLOCATION_MISMATCH, NULL);
            break;
        }
        int i;
        for (i = 0; i < a->n_chans && a->chan_num[i] != ch; i++) {}
        if (i == a->n_chans) {
            if (a->n_chans == MAX_CHANNELS) {
                rtc_stun_builder_init_response(&b, out, sizeof out, &m, RTC_STUN_ERROR);
                rtc_stun_add_error(&b, RTC_STUN_ERR_INSUFFICIENT_CAPACITY, NULL);
                break;
            }
            a->n_chans++;
        }
        a->chan_num[i] = ch;
        a->chan_peer[i] = peer;
        a->chan_sl[i] = (socklen_t)rtc_addr_to_sockaddr(&peer, &a->chan_sa[i], sizeof a->chan_sa[i]);
        break;
    }
    default:
        rtc_stun_builder_init_response(&b, out, sizeof out, &m, RTC_STUN_ERROR);
        rtc_stun_add_error(&b, RTC_STUN_ERR_BAD_REQUEST, NULL);
    }
    reply(w, from, out, rtc_stun_builder_finish(&b));
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    static __thread uint8_t bufs[BATCH][2048];
    static __thread struct sockaddr_storage from[BATCH];
    struct mmsghdr in[BATCH], out[BATCH];
    struct iovec iov[BATCH], oiov[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = sizeof bufs[i];
    }
    /* One blocking recvmmsg per wakeup (MSG_WAITFORONE: return with what is queued once one
     * datagram is there): the fewest syscalls a reader can make. SO_RCVTIMEO lets the loop
     * notice SIGTERM. */
    int fl = fcntl(w->listen_fd, F_GETFL);
    fcntl(w->listen_fd, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(w->listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (!g_stop) {
        for (int i = 0; i < BATCH; i++) {
            memset(&in[i].msg_hdr, 0, sizeof in[i].msg_hdr);
            in[i].msg_hdr.msg_iov = &iov[i];
            in[i].msg_hdr.msg_iovlen = 1;
            in[i].msg_hdr.msg_name = &from[i];
            in[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        int got = recvmmsg(w->listen_fd, in, BATCH, MSG_WAITFORONE, NULL);
        if (got <= 0) continue;
        /* Queue ChannelData to sendmmsg in runs that share a relay socket. */
        int q = 0, qfd = -1;
        for (int i = 0; i < got; i++) {
            const uint8_t *p = bufs[i];
            size_t n = in[i].msg_len;
            rtc_addr_t src;
            if (rtc_addr_from_sockaddr(&src, (struct sockaddr *)&from[i], in[i].msg_hdr.msg_namelen) != RTC_OK)
                continue;
            if (!rtc_turn_is_channel_data(p, n)) {
                if (q) { sendmmsg(qfd, out, (unsigned)q, MSG_DONTWAIT); q = 0; }
                handle_stun(w, p, n, &src);
                continue;
            }
            uint16_t ch;
            const uint8_t *data;
            size_t len;
            alloc_t *a = find_alloc(w, &src);
            if (!a || rtc_turn_channel_data_parse(p, n, &ch, &data, &len) != RTC_OK) { w->dropped++; continue; }
            int c;
            for (c = 0; c < a->n_chans && a->chan_num[c] != ch; c++) {}
            if (c == a->n_chans) { w->dropped++; continue; }
            if (q && qfd != a->relay_fd) { sendmmsg(qfd, out, (unsigned)q, MSG_DONTWAIT); q = 0; }
            qfd = a->relay_fd;
            oiov[q].iov_base = (void *)data;
            oiov[q].iov_len = len;
            memset(&out[q].msg_hdr, 0, sizeof out[q].msg_hdr);
            out[q].msg_hdr.msg_iov = &oiov[q];
            out[q].msg_hdr.msg_iovlen = 1;
            out[q].msg_hdr.msg_name = &a->chan_sa[c];
            out[q].msg_hdr.msg_namelen = a->chan_sl[c];
            q++;
            w->relayed++;
        }
        if (q) sendmmsg(qfd, out, (unsigned)q, MSG_DONTWAIT);
    }
    return NULL;
}

static void usage(void) {
    printf("usage: starling-floor [--listen 127.0.0.1:3479] [--relay-ip 127.0.0.1] [--threads 1] [--rcvbuf BYTES]\n"
           "  A bare recvmmsg/sendmmsg UDP relay speaking just enough unauthenticated TURN for\n"
           "  `starling-loadtest turn` to drive it: the benchmark's floor. Stops on SIGTERM/SIGINT.\n");
}

int main(int argc, char **argv) {
    const char *listen_s = "127.0.0.1:3479", *relay_s = "127.0.0.1";
    int threads = 1, rcvbuf = 0;
    static const struct option opts[] = {{"listen", required_argument, 0, 'l'},
                                         {"rcvbuf", required_argument, 0, 'b'},
                                         {"relay-ip", required_argument, 0, 'r'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'l': listen_s = optarg; break;
        case 'r': relay_s = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'b': rcvbuf = atoi(optarg); break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (threads < 1 || threads > 64) { usage(); return 2; }
    rtc_addr_t listen_addr, relay_ip;
    if (lt_parse_addr(&listen_addr, listen_s, 3479) < 0 || lt_parse_addr(&relay_ip, relay_s, 0) < 0) return 2;
    lt_raise_nofile();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    worker_t *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!ws || !tids) return 1;
    for (int t = 0; t < threads; t++) {
        worker_t *w = &ws[t];
        memset(w->table, 0xff, sizeof w->table);
        w->relay_ip = relay_ip;
        int domain = listen_addr.family == RTC_AF_INET6 ? AF_INET6 : AF_INET;
        w->listen_fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(w->listen_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        /* Same knob as a server's: SO_RCVBUF (capped by net.core.rmem_max), default untouched. */
        if (rcvbuf > 0) setsockopt(w->listen_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        struct sockaddr_storage ss;
        int sl = rtc_addr_to_sockaddr(&listen_addr, &ss, sizeof ss);
        if (bind(w->listen_fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) {
            fprintf(stderr, "starling-floor: bind %s: %s\n", listen_s, strerror(errno));
            return 1;
        }
    }
    for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, worker_main, &ws[t]);
    fprintf(stderr, "starling-floor: listening on %s, relaying from %s, %d thread(s)\n", listen_s, relay_s, threads);
    uint64_t relayed = 0, dropped = 0;
    size_t allocs = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        relayed += ws[t].relayed;
        dropped += ws[t].dropped;
        allocs += ws[t].n_allocs;
        for (size_t i = 0; i < ws[t].n_allocs; i++) close(ws[t].allocs[i].relay_fd);
        free(ws[t].allocs);
        close(ws[t].listen_fd);
    }
    fprintf(stderr, "starling-floor: %zu allocations, %llu packets relayed, %llu dropped\n", allocs,
            (unsigned long long)relayed, (unsigned long long)dropped);
    free(ws);
    free(tids);
    return 0;
}
