/*
 * sfu/media_pc.h — the SFU's media engine on libwebrtc's RTCPeerConnection (rtc/pc.h).
 *
 * One libuv PeerConnection runtime per worker, in shared-port mode: every PeerConnection of
 * the worker uses the worker's UDP port (the runtime demultiplexes by ICE ufrag, then by
 * remote address). Per participant two PeerConnections, both ICE-lite (host candidates in
 * the SDP, always controlled) with the worker's one DTLS certificate:
 *
 *   publisher   the client offers; the answer accepts its audio/video (simulcast included)
 *               and its data channel "starling". Tracks are read from the offer (msid track
 *               id, mid, rids of a=simulcast send, ssrc-audio-level extmap) and published in
 *               the room; RTP from each transceiver goes to the room's forwarding path, the
 *               layer chosen by the packet's rid.
 *   subscriber  the SFU offers: one sendonly transceiver per track it forwards (msid =
 *               publisher participant id + track id, so a browser's ontrack maps straight to
 *               a tile) and a data channel "starling" for data messages. Track changes are
 *               batched into one renegotiation on the next loop turn; a change while an
 *               offer is out waits for its answer.
 *
 * Forwarded packets get the subscriber leg's payload type for their codec; the
 * PeerConnection rewrites SSRC and header extensions, keeps a packet history for NACKs
 * (RTX when negotiated), and sends SR/RR per leg. Once a second the subscriber leg's
 * bandwidth estimate (getStats' availableOutgoingBitrate, from the PeerConnection's TWCC
 * estimator) becomes the participant's budget for layer choice. When the room's allocation
 * wants more than that estimate (sfu_participant_wanted_bandwidth: the layers it would pick
 * with no limit), the leg is probed: a 30 ms cluster of padding-only RTX packets at
 * min(wanted + 10 %, probe_max_pct of the estimate) (rtc_peer_connection_probe), whose TWCC
 * results lift the estimate at once when the path carries it. No probe while the leg's
 * estimator sees more than 2 % loss; after a probe that did not raise the estimate by 10 %
 * the next waits 2, 4, 8, then 16 s. PLI/FIR from a subscriber reach the
 * room's throttled keyframe requests. A PeerConnection that fails (ICE failure, consent
 * lost, DTLS failure) takes its participant out of the room (`left {reason: "failed"}`).
 */
#ifndef STARLING_SFU_MEDIA_PC_H
#define STARLING_SFU_MEDIA_PC_H

#include <stdbool.h>
#include <stdint.h>

#include "rtc/base.h"
#include "rtc/net.h"
#include "sfu/room.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    rtc_addr_t bind;          /* the media address (port is replaced per worker) */
    rtc_addr_t announce;      /* 1:1 NAT: the IP host candidates carry; RTC_AF_UNSPEC: none */
    rtc_time_t offer_timeout; /* unanswered subscriber offers are made again; 0: 10 s */
    /* Bandwidth probing of subscriber legs (see above): a probe's rate is at most this many
     * percent of the leg's estimate; 0: 200 (libwebrtc's further-probe factor). */
    unsigned probe_max_pct;
    bool no_probing;          /* never probe: a leg learns only from the media it carries */
} sfu_media_pc_config_t;

extern const sfu_media_ops_t sfu_media_pc_ops;

/* For sfu_worker_config_t.media_new / media_free: arg is a sfu_media_pc_config_t that
 * outlives the workers. Returns NULL (logged) when the runtime cannot open its socket. */
void *sfu_media_pc_new(void *uv_loop, unsigned index, uint16_t udp_port, void *arg);
void sfu_media_pc_free(void *media_user);

#ifdef __cplusplus
}
#endif
#endif /* STARLING_SFU_MEDIA_PC_H */
