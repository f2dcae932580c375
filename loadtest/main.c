/* starling-loadtest: load generators and probes. `starling-loadtest turn --help`. */
#include <stdio.h>
#include <string.h>

#include "lt.h"
#include "sfu_load.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: starling-loadtest MODE [options]\n"
            "modes:\n"
            "  turn        N TURN clients relaying to a local peer sink at a set rate; reports loss,\n"
            "              one-way latency and the server's CPU (starling-loadtest turn --help)\n"
            "  turn-check  one TURN client through every step against a server, with a local UDP\n"
            "              peer echoing back; exits 0 when all steps pass (interop probe)\n"
            "  sfu         rooms of simulated WebRTC participants (real PeerConnections) through\n"
            "              starling-signal + starling-sfu: join/connect times, packets forwarded and\n"
            "              received, loss, the SFU's CPU per forwarded packet (starling-loadtest sfu --help)\n"
            "  janus       the same load against Janus's videoroom plugin (WebSocket API), for comparison\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "turn")) return lt_turn_load_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "turn-check")) return lt_turn_check_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sfu")) return lt_sfu_load_main(argc - 1, argv + 1, &lt_proto_starling);
    if (!strcmp(argv[1], "janus")) return lt_sfu_load_main(argc - 1, argv + 1, &lt_proto_janus);
    fprintf(stderr, "unknown mode '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
