// A media node process for the multi-node tests (issue 13): the real `media` role
// (startMediaNode, configured from the environment like `DIEMCAU_ROLE=media npm start`), plus a
// test hand over IPC that joins peers on its session the way hardware halls join (plain RTP
// transports), and reads what the node has (pipes, keyframe requests, routing). The parent
// (test/helpers/media-nodes.ts) sends RTP to these transports and receives from them.
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startMediaNode } from '../../server/app/media-node/start.ts';
import { camParameters, micParameters, RecordingSink } from '../integration/media-fixture.ts';

type Request = { id: number; op: string; args: Record<string, unknown> };

async function main(): Promise<void> {
  const running = await startMediaNode(loadConfig(), defaultPlan(), {
    timing: { pipeLingerMs: Number(process.env.TEST_PIPE_LINGER_MS ?? 10_000), linkIntervalMs: 500 },
  });
  const media = await running.ready;
  const session = media.session;
  // When this node's session told each weak-link change (sfu/AudioOnlyWatch), on this machine's clock.
  const audioOnlyLog: { at: number; bridgeId: string; up: boolean; down: boolean }[] = [];
  session.on('audioonly', (state) => audioOnlyLog.push({ at: Date.now(), ...state }));
  // When this node's session told who is heard (sfu/AudioLevels), on this machine's clock.
  const levelsLog: { at: number; levels: { bridgeId: string; dBov: number }[] }[] = [];
  session.on('audiolevels', ({ levels }) => levelsLog.push({ at: Date.now(), levels }));
  const ops: Record<string, (args: Record<string, unknown>) => Promise<unknown> | unknown> = {
    /** A hall that publishes its microphone and camera (one simulcast layer sent) over plain RTP; where to send them. */
    async publish({ peerId, bridgeId, audioLevel }) {
      session.join(String(peerId), { bridgeId: String(bridgeId), publish: true, receiveOnAir: false, thumbnails: false }, new RecordingSink());
      const t = await session.createPlainTransport(String(peerId), 'send', { comedia: true });
      const mic = micParameters({ audioLevel: audioLevel === true });
      const cam = camParameters();
      const micId = (await session.produce(String(peerId), t.id, 'audio', mic, 'mic')).id;
      const camId = (await session.produce(String(peerId), t.id, 'video', cam, 'cam')).id;
      return { ip: t.ip, port: t.port, micSsrc: mic.encodings![0]!.ssrc, camSsrc: cam.encodings![0]!.ssrc, micId, camId };
    },
    /** A hall that receives what is on air over plain RTP at ip:port. */
    async receive({ peerId, bridgeId, ip, port }) {
      session.join(String(peerId), { bridgeId: String(bridgeId), publish: false, receiveOnAir: true, thumbnails: false }, new RecordingSink());
      session.setRtpCapabilities(String(peerId), session.rtpCapabilities);
      const t = await session.createPlainTransport(String(peerId), 'recv', { comedia: false });
      await session.connectPlainTransport(String(peerId), t.id, { ip: String(ip), port: Number(port) });
      return {};
    },
    leave: ({ peerId }) => session.leave(String(peerId)),
    /** The hall's own report of how its camera sends (what `media:sendMode` on /media calls). */
    sendMode: ({ peerId, mode }) => session.setSendMode(String(peerId), mode === 'audio-only' ? 'audio-only' : 'video'),
    /** The weak-link changes this node's session told, with when. */
    audioOnlyLog: () => audioOnlyLog,
    /** Who this node's session said is heard, with when. */
    levelsLog: () => levelsLog,
    keyframes: ({ producerId }) => session.producerKeyframeRequests(String(producerId)),
    pipes: () => session.pipeStats(),
    routing: () => ({
      onAir: session.onAir,
      peers: session.snapshot().peers.map((p) => ({ peerId: p.peerId, consumers: p.consumers.map((c) => `${c.slot} ${c.bridgeId}/${c.source}${c.paused ? ' paused' : ''}`).sort() })),
    }),
    nodeStats: ({ nodeId }) => running.node.statsOf(String(nodeId)),
    /** Whether this node runs the feed, and what its relay has taken from the programme. */
    async feed() {
      const desk = media.feed;
      if (!desk) return { runs: false };
      const output = desk.running ? await desk.output() : undefined;
      return { runs: true, recording: desk.active?.recordingId ?? null, showing: output?.showing ?? null, relay: output?.relayCounters ?? null };
    },
  };
  process.on('message', (raw) => {
    const { id, op, args } = raw as Request;
    Promise.resolve()
      .then(() => ops[op]!(args))
      .then(
        (data) => process.send!({ id, ok: true, data }),
        (error: unknown) => process.send!({ id, ok: false, error: String((error as Error)?.message ?? error) }),
      );
  });
  process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
  process.send!({ ready: true, url: running.url, nodeId: running.node.nodeId, pid: process.pid });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
