/* The process-wide usrsctp stack: one reference-counted initialisation in no-threads mode, a
 * registry from AF_CONN ids to associations so that output for an association that is gone
 * is dropped instead of touching freed memory, the output callback, and the global timer
 * wheel driven by the callers' clock. */
#include <stdio.h>
#include <stdlib.h>

#include <usrsctp.h>

#include "sctp/sctp_internal.h"

/* Lock order: g_timer_lock -> g_lock -> a->out_lock. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;       /* refs and registry */
static pthread_mutex_t g_timer_lock = PTHREAD_MUTEX_INITIALIZER; /* serialises handle_timers */
static int g_refs;
static bool g_inited;
static _Atomic int64_t g_timer_now = -1;

/* Registry: id = (generation << 32) | (slot + 1). */
typedef struct {
    rtc_sctp_t *a;
    uint32_t gen;
} reg_slot_t;
static reg_slot_t *g_slots;
static uint32_t g_nslots, g_slots_cap;
static uint32_t *g_free;
static uint32_t g_nfree;
static uint32_t g_gen;

static void usrsctp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usrsctp_log(const char *fmt, ...) {
    if (!RTC_LOG_ENABLED(RTC_LOG_DEBUG)) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    RTC_LOGD("sctp", "usrsctp: %s", buf);
}

static rtc_sctp_t *lookup_locked(uintptr_t id) {
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    uint32_t gen = (uint32_t)((uint64_t)id >> 32);
    if (slot == 0 || slot > g_nslots) return NULL;
    reg_slot_t *s = &g_slots[slot - 1];
    return s->gen == gen ? s->a : NULL;
}

/* An ABORT we send ends the association, and the notification we get for it looks like a
 * timeout (COMM_LOST without the peer's chunk): log it, with the chunk's first error cause
 * when it has one (RFC 9260 §3.3.10; usrsctp writes a text into Protocol Violation causes). */
static void log_outgoing_abort(const uint8_t *p, size_t n) {
    if (n < 16 || p[12] != 6 /* ABORT */) return;
    size_t chunk = (size_t)p[14] << 8 | p[15];
    if (chunk > n - 12) chunk = n - 12;
    unsigned cause = 0;
    char text[128] = "";
    if (chunk >= 8) {
        cause = (unsigned)p[16] << 8 | p[17];
        size_t clen = (size_t)p[18] << 8 | p[19];
        if (clen > chunk - 4) clen = chunk - 4;
        size_t k = 0;
        for (size_t i = 4; i < clen && k + 1 < sizeof text; i++)
            text[k++] = p[16 + i] >= 32 && p[16 + i] < 127 ? (char)p[16 + i] : '.';
        text[k] = 0;
    }
    if (!cause) RTC_LOGW("sctp", "sending ABORT to the peer (no error cause: usrsctp's own reason)");
    else RTC_LOGW("sctp", "sending ABORT to the peer: error cause %u%s%s", cause, text[0] ? ": " : "", text);
}

/* usrsctp's output path. May run on any thread that is inside usrsctp (a timer run started by
 * another association's call), so it only copies the packet into the owner's queue. */
static int conn_output(void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df) {
    (void)tos;
    (void)set_df;
    if (length < 12) return 0;
    sctp_pkt_t *pkt = malloc(sizeof *pkt + length);
    if (!pkt) return -1;
    pkt->next = NULL;
    pkt->len = length;
    memcpy(pkt->data, buffer, length);
    /* CRC32c offload is on, so usrsctp left the checksum zero; peers verify it (RFC 9260
     * §6.8), so compute it here. Stored as usrsctp's sctp_calculate_cksum stores it. */
    memset(pkt->data + 8, 0, 4);
    uint32_t crc = usrsctp_crc32c(pkt->data, length);
    memcpy(pkt->data + 8, &crc, 4);

    pthread_mutex_lock(&g_lock);
    rtc_sctp_t *a = lookup_locked((uintptr_t)addr);
    if (!a || a->destroying) {
        pthread_mutex_unlock(&g_lock);
        free(pkt);
        return 0;
    }
    pthread_mutex_lock(&a->out_lock);
    pthread_mutex_unlock(&g_lock);
    if (a->out_tail) a->out_tail->next = pkt;
    else a->out_head = pkt;
    a->out_tail = pkt;
    atomic_fetch_add(&a->out_count, 1);
    pthread_mutex_unlock(&a->out_lock);
    log_outgoing_abort(buffer, length); /* a live association's only: not our own close */
    return 0;
}

static void stack_init(void) {
    usrsctp_init_nothreads(0, conn_output, usrsctp_log);
    /* Checksums: see rtc/sctp.h. Not computed nor verified by usrsctp; conn_output fills them. */
    usrsctp_enable_crc32c_offload();
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_asconf_enable(0);
    usrsctp_sysctl_set_sctp_auth_enable(0);
    usrsctp_sysctl_set_sctp_pr_enable(1);
    usrsctp_sysctl_set_sctp_reconfig_enable(1);
    usrsctp_sysctl_set_sctp_nrsack_enable(0);
    usrsctp_sysctl_set_sctp_pktdrop_enable(0);
    usrsctp_sysctl_set_sctp_auto_asconf(0);
    /* Association-wide retransmission limit before COMM_LOST (RFC default 10). */
    usrsctp_sysctl_set_sctp_assoc_rtx_max_default(10);
    /* The retransmission timer doubles at each timeout up to RTO.Max, 60 s by default: after
     * an outage of 20 s the next try would come ~11 s after the path is back, a data channel
     * frozen that long. libwebrtc caps the backoff at 3 s (dcSCTP's
     * max_timer_backoff_duration); so do we. With 10 retransmissions allowed, a dead path
     * still ends the association after ~30 s, about when ICE consent gives up too. */
    usrsctp_sysctl_set_sctp_rto_max_default(3000);
    /* No limit on how often one chunk is retransmitted (default 30). A peer that keeps
     * acknowledging other data is alive; Chromium's dcSCTP, with its reassembly queue over
     * its watermark, drops every chunk that does not advance its cumulative TSN while it acks
     * the rest, and usrsctp fast-retransmits the one it lacks again and again: 30 copies in
     * 0.4 s ended the association mid-transfer. A dead path still ends it by the association
     * limit above. */
    usrsctp_sysctl_set_sctp_max_retran_chunk(0);
    /* usrsctp could explain its own aborts ("Association error counter exceeded", ...) in an
     * error cause (sysctl diag_info_code), but with it set, usrsctp 0.9.5 leaks that cause's
     * buffer on some malformed input (ASan, test_sctp's garbage packets): memory a peer could
     * drain. So its own aborts stay bare, and the log says only that we sent one. */
    atomic_store(&g_timer_now, -1);
    g_inited = true;
}

static void stack_finish(void) {
    /* A socket closed with SO_LINGER 0 is aborted at once, but usrsctp may still hold the
     * endpoint until a timer frees it; give it a few ticks. */
    for (int i = 0; i < 50; i++) {
        if (usrsctp_finish() == 0) {
            g_inited = false;
            return;
        }
        usrsctp_handle_timers(100);
    }
    RTC_LOGW("sctp", "usrsctp_finish kept failing; leaving the stack initialised");
}

int sctp_glue_attach(rtc_sctp_t *a) {
    /* g_timer_lock keeps a concurrent finish (last detach on another thread) out. */
    pthread_mutex_lock(&g_timer_lock);
    pthread_mutex_lock(&g_lock);
    uint32_t slot;
    if (g_nfree) {
        slot = g_free[--g_nfree];
    } else {
        if (g_nslots == g_slots_cap) {
            uint32_t cap = g_slots_cap ? g_slots_cap * 2 : 64;
            reg_slot_t *s = realloc(g_slots, cap * sizeof *s);
            uint32_t *f = s ? realloc(g_free, cap * sizeof *f) : NULL;
            if (s) g_slots = s;
            if (!s || !f) {
                pthread_mutex_unlock(&g_lock);
                pthread_mutex_unlock(&g_timer_lock);
                return RTC_ERR_NOMEM;
            }
            g_free = f;
            g_slots_cap = cap;
        }
        slot = g_nslots++;
    }
    g_slots[slot].a = a;
    g_slots[slot].gen = ++g_gen;
    a->id = (uintptr_t)(((uint64_t)g_slots[slot].gen << 32) | (slot + 1));
    if (g_refs++ == 0 && !g_inited) stack_init();
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&g_timer_lock);
    usrsctp_register_address((void *)a->id);
    return RTC_OK;
}

void sctp_glue_detach(rtc_sctp_t *a) {
    usrsctp_deregister_address((void *)a->id);
    pthread_mutex_lock(&g_lock);
    uint32_t slot = (uint32_t)(a->id & 0xffffffffu) - 1;
    if (slot < g_nslots && g_slots[slot].a == a) {
        g_slots[slot].a = NULL;
        g_free[g_nfree++] = slot;
    }
    /* Wait out a conn_output that found a before we unregistered it. */
    pthread_mutex_lock(&a->out_lock);
    pthread_mutex_unlock(&a->out_lock);
    bool last = --g_refs == 0;
    pthread_mutex_unlock(&g_lock);
    if (!last) return;
    /* Finish outside g_lock: usrsctp may still run timers that call conn_output. A create on
     * another thread in between simply keeps the stack alive. */
    pthread_mutex_lock(&g_timer_lock);
    pthread_mutex_lock(&g_lock);
    bool finish = g_refs == 0 && g_inited;
    pthread_mutex_unlock(&g_lock);
    if (finish) stack_finish();
    pthread_mutex_lock(&g_lock);
    if (g_refs == 0 && !g_inited) {
        free(g_slots);
        free(g_free);
        g_slots = NULL;
        g_free = NULL;
        g_nslots = g_slots_cap = g_nfree = 0;
    }
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&g_timer_lock);
}

void sctp_glue_advance(rtc_time_t now) {
    pthread_mutex_lock(&g_timer_lock);
    int64_t last = atomic_load(&g_timer_now);
    if (last < 0) {
        atomic_store(&g_timer_now, now);
    } else if (now > last) {
        int64_t ms = (now - last) / RTC_US_PER_MS;
        if (ms > 0) {
            atomic_store(&g_timer_now, last + ms * RTC_US_PER_MS);
            while (ms > 0) {
                uint32_t step = ms > 60000 ? 60000u : (uint32_t)ms;
                usrsctp_handle_timers(step);
                ms -= step;
            }
        }
    }
    pthread_mutex_unlock(&g_timer_lock);
}
