/*
 * ice-probe — one ICE agent (libwebrtc's rtc_ice_agent_t on the libuv driver) that signals over
 * stdin/stdout, for tests against real networks and real peers.
 *
 * stdout (one line each, flushed):   ufrag U | pwd P | candidate <candidate:...> | eoc |
 *                                    gathering <state> | state <state> |
 *                                    selected <ltype> <laddr> <rtype> <raddr> [relay-proto] |
 *                                    stats ... | result ok | result fail <why>
 * stdin:                             ufrag U | pwd P | candidate <line> | eoc | quit
 *
 * Application data: with --ping N the probe sends "ping <i>" datagrams once connected and waits
 * for "pong <i>" for every i; with --echo it answers each "ping <i>" with "pong <i>". Both may
 * be given (each side pings and answers); there is no echo of echoes.
 *
 * Exit status 0 when every pong came back (or, without --ping, when told to quit after having
 * connected), 1 otherwise (ICE failed, timeout, bad arguments).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "rtc/ice.h"

typedef struct {
    uv_loop_t loop;
    rtc_ice_uv_t *ice;
    rtc_ice_agent_t *agent;
    uv_poll_t in_poll;
    uv_timer_t tick, deadline;
    char inbuf[8192];
    size_t inlen;
    char remote_ufrag[300], remote_pwd[300];
    bool creds_set;
    bool trickle;
    rtc_ice_candidate_t held[64];
    size_t n_held;
    int ping_count;
    bool echo;
    bool *ponged;
    int pongs;
    int next_ping;
    bool connected, ever_connected;
    bool finished;
    int exit_code;
    double hold_seconds;
    rtc_ice_state_t state;
} probe_t;

static FILE *log_file; /* --log: a copy of every stdout line */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    if (log_file) {
        va_start(ap, fmt);
        vfprintf(log_file, fmt, ap);
        va_end(ap);
        fputc('\n', log_file);
        fflush(log_file);
    }
}

static void print_candidate(const rtc_ice_candidate_t *c) {
    char line[RTC_ICE_CANDIDATE_STRLEN];
    if (rtc_ice_candidate_format(c, line, sizeof line) > 0) out("candidate %s", line);
}

static void on_candidate(void *user, const rtc_ice_candidate_t *c) {
    probe_t *p = user;
    if (!p->trickle) {
        if (c && p->n_held < 64) { p->held[p->n_held++] = *c; return; }
        if (c) return;
        for (size_t i = 0; i < p->n_held; i++) print_candidate(&p->held[i]);
        p->n_held = 0;
    }
    if (c) print_candidate(c);
    else out("eoc");
}

static void stop_all(probe_t *p) {
    if (p->finished) return;
    p->finished = true;
    rtc_ice_stats_t st;
    rtc_ice_agent_get_stats(p->agent, &st);
    out("stats checks_received=%llu requests_sent=%llu data_received=%llu dropped_unauthenticated=%llu "
        "dropped_bad_integrity=%llu dropped_unknown_source=%llu role_conflicts=%llu",
        (unsigned long long)st.checks_received, (unsigned long long)st.checks_sent,
        (unsigned long long)st.data_received, (unsigned long long)st.dropped_unauthenticated,
        (unsigned long long)st.dropped_bad_integrity, (unsigned long long)st.dropped_unknown_source,
        (unsigned long long)st.role_conflicts);
    uv_timer_stop(&p->tick);
    uv_timer_stop(&p->deadline);
    uv_poll_stop(&p->in_poll);
    uv_close((uv_handle_t *)&p->tick, NULL);
    uv_close((uv_handle_t *)&p->deadline, NULL);
    uv_close((uv_handle_t *)&p->in_poll, NULL);
    rtc_ice_uv_destroy(p->ice);
}

static void finish(probe_t *p, int code, const char *why);

static void on_hold_done(uv_timer_t *t) {
    probe_t *p = t->data;
    stop_all(p);
}

static void finish(probe_t *p, int code, const char *why) {
    if (p->finished) return;
    p->exit_code = code;
    if (code == 0) out("result ok");
    else out("result fail %s", why);
    if (code == 0 && p->hold_seconds > 0) {
        /* Keep answering the peer a little longer (its pongs, its consent checks). */
        uv_timer_stop(&p->deadline);
        uv_timer_start(&p->deadline, on_hold_done, (uint64_t)(p->hold_seconds * 1000), 0);
        p->hold_seconds = 0;
        return;
    }
    stop_all(p);
}

static void on_state(void *user, rtc_ice_state_t s) {
    probe_t *p = user;
    p->state = s;
    out("state %s", rtc_ice_state_name(s));
    p->connected = s == RTC_ICE_STATE_CONNECTED || s == RTC_ICE_STATE_COMPLETED;
    if (p->connected) p->ever_connected = true;
    if (s == RTC_ICE_STATE_FAILED) finish(p, 1, "ice-failed");
}

static void on_gathering(void *user, rtc_ice_gathering_state_t s) {
    (void)user;
    out("gathering %s", rtc_ice_gathering_state_name(s));
}

static const char *relay_proto(rtc_ice_relay_protocol_t r) {
    return r == RTC_ICE_RELAY_TLS ? "tls" : r == RTC_ICE_RELAY_TCP ? "tcp" : "udp";
}

static void on_selected(void *user, const rtc_ice_pair_info_t *pair) {
    (void)user;
    char l[RTC_ADDR_STRLEN], r[RTC_ADDR_STRLEN];
    rtc_addr_format(&pair->local.addr, l, sizeof l);
    rtc_addr_format(&pair->remote.addr, r, sizeof r);
    if (pair->local.type == RTC_ICE_CANDIDATE_RELAY)
        out("selected %s %s %s %s %s", rtc_ice_candidate_type_name(pair->local.type), l,
            rtc_ice_candidate_type_name(pair->remote.type), r, relay_proto(pair->local.relay_protocol));
    else
        out("selected %s %s %s %s", rtc_ice_candidate_type_name(pair->local.type), l,
            rtc_ice_candidate_type_name(pair->remote.type), r);
}

static void on_data(void *user, const uint8_t *d, size_t n, const rtc_ice_pair_info_t *pair) {
    probe_t *p = user;
    (void)pair;
    char msg[64];
    if (n >= sizeof msg) return;
    memcpy(msg, d, n);
    msg[n] = '\0';
    int i;
    if (p->echo && sscanf(msg, "ping %d", &i) == 1) {
        char reply[64];
        int len = snprintf(reply, sizeof reply, "pong %d", i);
        rtc_ice_agent_send(p->agent, (const uint8_t *)reply, (size_t)len, rtc_clock_now());
        rtc_ice_uv_kick(p->ice);
        return;
    }
    if (p->ping_count > 0 && sscanf(msg, "pong %d", &i) == 1 && i >= 0 && i < p->ping_count && !p->ponged[i]) {
        p->ponged[i] = true;
        p->pongs++;
        if (p->pongs == p->ping_count) {
            out("pongs %d", p->pongs);
            finish(p, 0, NULL);
        }
    }
}

/* Every 20 ms while connected: the next ping, and every 500 ms the missing ones again. */
static void on_tick(uv_timer_t *t) {
    probe_t *p = t->data;
    if (!p->connected || p->ping_count <= 0 || p->pongs == p->ping_count) return;
    static unsigned ticks;
    ticks++;
    rtc_time_t now = rtc_clock_now();
    if (p->next_ping < p->ping_count) {
        char m[32];
        int len = snprintf(m, sizeof m, "ping %d", p->next_ping++);
        rtc_ice_agent_send(p->agent, (const uint8_t *)m, (size_t)len, now);
    } else if (ticks % 25 == 0) {
        for (int i = 0; i < p->ping_count; i++) {
            if (p->ponged[i]) continue;
            char m[32];
            int len = snprintf(m, sizeof m, "ping %d", i);
            rtc_ice_agent_send(p->agent, (const uint8_t *)m, (size_t)len, now);
        }
    }
    rtc_ice_uv_kick(p->ice);
}

static void on_deadline(uv_timer_t *t) {
    probe_t *p = t->data;
    finish(p, 1, "timeout");
}

static void handle_line(probe_t *p, char *line) {
    rtc_time_t now = rtc_clock_now();
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = '\0';
    if (strncmp(line, "ufrag ", 6) == 0) {
        snprintf(p->remote_ufrag, sizeof p->remote_ufrag, "%s", line + 6);
    } else if (strncmp(line, "pwd ", 4) == 0) {
        snprintf(p->remote_pwd, sizeof p->remote_pwd, "%s", line + 4);
    } else if (strncmp(line, "candidate ", 10) == 0) {
        int rc = rtc_ice_agent_add_remote_candidate_str(p->agent, line + 10, now);
        if (rc != RTC_OK) fprintf(stderr, "ice-probe: candidate refused (%s): %s\n", rtc_strerror(rc), line + 10);
    } else if (strcmp(line, "eoc") == 0) {
        rtc_ice_agent_end_of_remote_candidates(p->agent, now);
    } else if (strcmp(line, "quit") == 0) {
        finish(p, p->ping_count > 0 ? (p->pongs == p->ping_count ? 0 : 1) : (p->ever_connected ? 0 : 1), "quit");
        return;
    }
    if (!p->creds_set && p->remote_ufrag[0] && p->remote_pwd[0]) {
        int rc = rtc_ice_agent_set_remote_credentials(p->agent, p->remote_ufrag, p->remote_pwd, now);
        if (rc != RTC_OK) fprintf(stderr, "ice-probe: credentials refused: %s\n", rtc_strerror(rc));
        p->creds_set = true;
    }
    rtc_ice_uv_kick(p->ice);
}

static void on_stdin(uv_poll_t *h, int status, int events) {
    probe_t *p = h->data;
    if (status < 0 || !(events & UV_READABLE)) return;
    for (;;) {
        ssize_t r = read(0, p->inbuf + p->inlen, sizeof p->inbuf - 1 - p->inlen);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        if (r == 0) {
            /* EOF: the other side is gone; stop reading but keep going until done/timeout. */
            uv_poll_stop(&p->in_poll);
            break;
        }
        p->inlen += (size_t)r;
        p->inbuf[p->inlen] = '\0';
        char *start = p->inbuf, *nl;
        while ((nl = strchr(start, '\n'))) {
            *nl = '\0';
            handle_line(p, start);
            if (p->finished) return;
            start = nl + 1;
        }
        p->inlen = strlen(start);
        memmove(p->inbuf, start, p->inlen + 1);
        if (p->inlen >= sizeof p->inbuf - 1) p->inlen = 0; /* an absurd line: drop it */
    }
}

static void usage(void) {
    fprintf(stderr,
            "usage: ice-probe --filter LIST [--role controlling|controlled] [--lite] [--aggressive]\n"
            "                 [--stun HOST:PORT] [--turn HOST:PORT --turn-user U --turn-pass P\n"
            "                 [--turn-transport udp|tcp|tls] [--turn-tls-name N] [--turn-insecure]]\n"
            "                 [--relay-only] [--ufrag U --pwd P]\n"
            "                 [--ping N] [--echo] [--timeout S] [--hold S] [--port N] [--no-trickle]\n"
            "                 [--log FILE] [-v]\n");
}

int main(int argc, char **argv) {
    static probe_t probe;
    probe_t *p = &probe;
    p->trickle = true;
    rtc_ice_config_t cfg;
    rtc_ice_config_default(&cfg);
    double timeout = 30;
    int port = 0;
    bool have_filter = false;
    rtc_addr_t turn_addr;
    bool have_turn = false;
    char turn_user[257] = "", turn_pass[257] = "";
    rtc_ice_relay_protocol_t turn_proto = RTC_ICE_RELAY_UDP;
    char turn_tls_name[256] = "";
    bool turn_insecure = false;
    static const struct option opts[] = {
        {"filter", required_argument, 0, 'f'},  {"role", required_argument, 0, 'r'},
        {"lite", no_argument, 0, 'l'},          {"aggressive", no_argument, 0, 'a'},
        {"stun", required_argument, 0, 's'},    {"turn", required_argument, 0, 't'},
        {"turn-user", required_argument, 0, 'U'}, {"turn-pass", required_argument, 0, 'P'},
        {"turn-transport", required_argument, 0, 'T'}, {"relay-only", no_argument, 0, 'R'},
        {"ufrag", required_argument, 0, 'u'},   {"pwd", required_argument, 0, 'w'},
        {"ping", required_argument, 0, 'p'},    {"echo", no_argument, 0, 'e'},
        {"timeout", required_argument, 0, 'o'}, {"hold", required_argument, 0, 'h'},
        {"port", required_argument, 0, 'n'},    {"no-trickle", no_argument, 0, 'N'},
        {"log", required_argument, 0, 'L'},
        {"turn-tls-name", required_argument, 0, 'S'}, {"turn-insecure", no_argument, 0, 'I'},
        {0, 0, 0, 0},
    };
    int c;
    rtc_log_set_level(RTC_LOG_WARN);
    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (rtc_net_filter_parse(&cfg.filter, optarg) != RTC_OK) { usage(); return 1; }
            have_filter = true;
            break;
        case 'r': cfg.role = strcmp(optarg, "controlled") == 0 ? RTC_ICE_ROLE_CONTROLLED : RTC_ICE_ROLE_CONTROLLING; break;
        case 'l': cfg.lite = true; break;
        case 'a': cfg.nomination = RTC_ICE_NOMINATION_AGGRESSIVE; break;
        case 's': {
            rtc_addr_t a;
            if (rtc_addr_parse(&a, optarg, 3478) != RTC_OK ||
                rtc_ice_config_add_server(&cfg, RTC_ICE_SERVER_STUN, &a, RTC_ICE_RELAY_UDP, NULL, NULL) != RTC_OK) {
                usage();
                return 1;
            }
            break;
        }
        case 't':
            if (rtc_addr_parse(&turn_addr, optarg, 3478) != RTC_OK) { usage(); return 1; }
            have_turn = true;
            break;
        case 'U': snprintf(turn_user, sizeof turn_user, "%s", optarg); break;
        case 'P': snprintf(turn_pass, sizeof turn_pass, "%s", optarg); break;
        case 'T':
            turn_proto = strcmp(optarg, "tls") == 0 ? RTC_ICE_RELAY_TLS
                         : strcmp(optarg, "tcp") == 0 ? RTC_ICE_RELAY_TCP : RTC_ICE_RELAY_UDP;
            break;
        case 'R': cfg.relay_only = true; break;
        case 'S': snprintf(turn_tls_name, sizeof turn_tls_name, "%s", optarg); break;
        case 'I': turn_insecure = true; break;
        case 'u': snprintf(cfg.ufrag, sizeof cfg.ufrag, "%s", optarg); break;
        case 'w': snprintf(cfg.pwd, sizeof cfg.pwd, "%s", optarg); break;
        case 'p': p->ping_count = atoi(optarg); break;
        case 'e': p->echo = true; break;
        case 'o': timeout = atof(optarg); break;
        case 'h': p->hold_seconds = atof(optarg); break;
        case 'n': port = atoi(optarg); break;
        case 'N': p->trickle = false; break;
        case 'v': rtc_log_set_level(RTC_LOG_DEBUG); break;
        case 'L':
            log_file = fopen(optarg, "w");
            if (!log_file) { perror(optarg); return 1; }
            break;
        default: usage(); return 1;
        }
    }
    if (!have_filter) {
        fprintf(stderr, "ice-probe: --filter is required (the probe never picks addresses by itself)\n");
        usage();
        return 1;
    }
    if (have_turn &&
        rtc_ice_config_add_server(&cfg, RTC_ICE_SERVER_TURN, &turn_addr, turn_proto, turn_user, turn_pass) != RTC_OK) {
        usage();
        return 1;
    }
    if (have_turn) {
        rtc_ice_server_t *srv = &cfg.servers[cfg.n_servers - 1];
        snprintf(srv->tls_name, sizeof srv->tls_name, "%s", turn_tls_name);
        srv->tls_no_verify = turn_insecure;
    }
    signal(SIGPIPE, SIG_IGN);
    if (p->ping_count > 0) {
        p->ponged = calloc((size_t)p->ping_count, sizeof *p->ponged);
        if (!p->ponged) return 1;
    }
    uv_loop_init(&p->loop);
    rtc_ice_callbacks_t cb = {
        .candidate = on_candidate, .state_change = on_state, .gathering_state_change = on_gathering,
        .selected_pair_change = on_selected, .data = on_data,
    };
    p->ice = rtc_ice_uv_create(&p->loop, &cfg, (uint16_t)port, &cb, p);
    if (!p->ice) {
        out("result fail setup");
        return 1;
    }
    p->agent = rtc_ice_uv_agent(p->ice);
    out("ufrag %s", rtc_ice_agent_local_ufrag(p->agent));
    out("pwd %s", rtc_ice_agent_local_pwd(p->agent));

    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    uv_poll_init(&p->loop, &p->in_poll, 0);
    p->in_poll.data = p;
    uv_poll_start(&p->in_poll, UV_READABLE, on_stdin);
    uv_timer_init(&p->loop, &p->tick);
    p->tick.data = p;
    uv_timer_start(&p->tick, on_tick, 20, 20);
    uv_timer_init(&p->loop, &p->deadline);
    p->deadline.data = p;
    uv_timer_start(&p->deadline, on_deadline, (uint64_t)(timeout * 1000), 0);

    rtc_ice_uv_start(p->ice);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
    free(p->ponged);
    if (log_file) fclose(log_file);
    return p->exit_code;
}
