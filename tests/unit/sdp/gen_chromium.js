// Captures real Chromium SDP for tests/unit/test_sdp.c. Run by hand, not by ctest:
//   npm install playwright-core && node gen_chromium.js [offer-to-answer.sdp]
// Only createOffer/createAnswer/setRemoteDescription are called: no ICE gathering, so
// Chromium sends nothing on the network. Prints each description between markers.
const { chromium } = require('playwright-core');
const fs = require('fs');
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage();
  const remote = process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8') : null;
  const out = await page.evaluate(async (remoteOffer) => {
    const res = {};
    res.ua = navigator.userAgent;
    // audio + video with three simulcast layers, tracks from WebAudio and a canvas.
    const ac = new AudioContext();
    const dst = ac.createMediaStreamDestination();
    const canvas = document.createElement('canvas');
    canvas.width = 640; canvas.height = 480;
    canvas.getContext('2d').fillRect(0, 0, 10, 10);
    const vstream = canvas.captureStream(30);
    const stream = new MediaStream([dst.stream.getAudioTracks()[0], vstream.getVideoTracks()[0]]);
    let pc = new RTCPeerConnection();
    pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendrecv', streams: [stream] });
    pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendrecv', streams: [stream],
      sendEncodings: [{ rid: 'h' }, { rid: 'm', scaleResolutionDownBy: 2 }, { rid: 'l', scaleResolutionDownBy: 4 }] });
    pc.createDataChannel('chat');
    res.av_simulcast_offer = (await pc.createOffer()).sdp;
    pc.close();
    // audio + video without simulcast (ssrc lines, FID groups).
    pc = new RTCPeerConnection();
    pc.addTrack(stream.getAudioTracks()[0], stream);
    pc.addTrack(stream.getVideoTracks()[0], stream);
    res.av_offer = (await pc.createOffer()).sdp;
    pc.close();
    // data channel only.
    pc = new RTCPeerConnection();
    pc.createDataChannel('data');
    res.dc_offer = (await pc.createOffer()).sdp;
    pc.close();
    if (remoteOffer) {
      pc = new RTCPeerConnection();
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp: remoteOffer });
        for (const t of pc.getTransceivers()) {
          if (t.receiver.track.kind === 'audio') { await t.sender.replaceTrack(stream.getAudioTracks()[0]); t.direction = 'sendrecv'; }
          if (t.receiver.track.kind === 'video') { await t.sender.replaceTrack(stream.getVideoTracks()[0]); t.direction = 'sendrecv'; }
        }
        res.answer_to_remote = (await pc.createAnswer()).sdp;
      } catch (e) { res.answer_to_remote = 'ERROR: ' + e; }
      pc.close();
    }
    return res;
  }, remote);
  for (const [k, v] of Object.entries(out)) console.log(`==== ${k}\n${v}`);
  await browser.close();
})();
