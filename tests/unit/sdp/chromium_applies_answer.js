// Has real Chromium apply Starling's JSEP answer to Chromium's own offer, run by hand:
//   ip netns add sdp-x && ip netns exec sdp-x ip link set lo up
//   ip netns exec sdp-x env NODE_PATH=... node chromium_applies_answer.js <unit_test_jsep binary>
// Chromium runs in a network namespace with only loopback, so setLocalDescription gathers
// nothing and nothing leaves the namespace. Chromium creates an audio + 3-layer simulcast
// video + data channel offer and sets it locally; unit_test_jsep (SDP_ANSWER_OFFER) answers
// it as the SFU; Chromium applies the answer. Prints the outcome as JSON.
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
(async () => {
  const bin = process.argv[2];
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage();
  const offer = await page.evaluate(async () => {
    const ac = new AudioContext();
    const dst = ac.createMediaStreamDestination();
    const canvas = document.createElement('canvas');
    canvas.width = 640; canvas.height = 480;
    const stream = new MediaStream([dst.stream.getAudioTracks()[0], canvas.captureStream(30).getVideoTracks()[0]]);
    window.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendonly', streams: [stream] });
    pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly', streams: [stream],
      sendEncodings: [{ rid: 'h' }, { rid: 'm', scaleResolutionDownBy: 2 }, { rid: 'l', scaleResolutionDownBy: 4 }] });
    pc.createDataChannel('chat');
    const o = await pc.createOffer();
    await pc.setLocalDescription(o);
    return o.sdp;
  });
  const tmp = path.join(os.tmpdir(), `sdp-offer-${process.pid}.sdp`);
  fs.writeFileSync(tmp, offer);
  const answer = execFileSync(bin, [], { env: { ...process.env, SDP_ANSWER_OFFER: tmp } }).toString();
  fs.unlinkSync(tmp);
  const result = await page.evaluate(async (sdp) => {
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (e) {
      return { ok: false, error: String(e) };
    }
    return {
      ok: true,
      signalingState: pc.signalingState,
      directions: pc.getTransceivers().map(t => [t.mid, t.currentDirection]),
      videoEncodings: pc.getSenders()[1].getParameters().encodings.map(e => e.rid),
      audioCodecs: pc.getSenders()[0].getParameters().codecs.map(c => `${c.payloadType} ${c.mimeType}`),
      videoCodecs: pc.getSenders()[1].getParameters().codecs.map(c => `${c.payloadType} ${c.mimeType}`),
      sctp: pc.sctp ? pc.sctp.maxMessageSize : null,
    };
  }, answer);
  console.log(JSON.stringify({ result, offer, answer }, null, 1));
  await browser.close();
})();
