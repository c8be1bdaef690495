/**
 * The hall's browser reports its link to the technicians: every 2 seconds it reads the WebRTC
 * statistics of its transports and sends `health:report`; asked by a technician
 * (`health:runTest`), it measures the link for a few seconds and sends `health:testResult`.
 */
import type { ClientLinkReport, LinkTestResult } from '../../server/protocol/control.ts';
import type { MediaPath } from '../../server/protocol/media.ts';
import type { ControlClient } from './ControlClient.ts';
import type { MediaClient } from './MediaClient.ts';

/** What the hall's WebRTC statistics say at one moment: cumulative packet counters and instant values. */
export interface LinkReading {
  at: number;
  rttMs: number | null;
  availableOutKbps: number | null;
  jitterMs: number | null;
  /** Packets this hall sent (outbound-rtp) and the server reported lost of them (remote-inbound-rtp). */
  packetsSent: number;
  packetsLostUp: number;
  /** Packets this hall received (inbound-rtp) and lost of what was sent to it. */
  packetsReceived: number;
  packetsLostDown: number;
  fpsSent: number | null;
  frameHeightSent: number | null;
  fpsReceived: number | null;
  frameHeightReceived: number | null;
  audioLevel: number | null;
  /** How the media goes: straight over UDP or TCP, or through TURN (the least direct of both transports). */
  mediaPath: MediaPath | null;
}

type Stat = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

/** The candidate pair a transport uses: the one its transport stats select, else the nominated succeeded one. */
function selectedPair(report: RTCStatsReport): Stat | null {
  let selectedId: unknown;
  let nominated: Stat | null = null;
  report.forEach((s: Stat) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) selectedId = s.selectedCandidatePairId;
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') nominated = s;
  });
  return (typeof selectedId === 'string' ? (report.get(selectedId) as Stat | undefined) : undefined) ?? nominated;
}

/** From the most direct to the least: a hall with one transport relayed is a relayed hall. */
const PATH_RANK: Record<MediaPath, number> = { udp: 0, tcp: 1, 'turn-udp': 2, 'turn-tcp': 3, 'turn-tls': 4 };

/** The path of a transport's selected candidate pair, from its local candidate: relay (and how the TURN server is reached), else its protocol. */
export function mediaPathOf(report: RTCStatsReport): MediaPath | null {
  const pair = selectedPair(report);
  const local = typeof pair?.localCandidateId === 'string' ? (report.get(pair.localCandidateId) as Stat | undefined) : undefined;
  if (!local) return null;
  if (local.candidateType === 'relay') {
    const via = local.relayProtocol;
    return via === 'tls' ? 'turn-tls' : via === 'tcp' ? 'turn-tcp' : 'turn-udp';
  }
  return local.protocol === 'tcp' ? 'tcp' : local.protocol === 'udp' ? 'udp' : null;
}

/**
 * Reads a link from the statistics of the send and receive transports. `programTrackId`, when
 * known, picks the received video the hall shows (its fps and resolution are what people see).
 */
export function readingFromReports(send: RTCStatsReport | null, recv: RTCStatsReport | null, programTrackId: string | null, at = Date.now()): LinkReading {
  const r: LinkReading = {
    at,
    rttMs: null,
    availableOutKbps: null,
    jitterMs: null,
    packetsSent: 0,
    packetsLostUp: 0,
    packetsReceived: 0,
    packetsLostDown: 0,
    fpsSent: null,
    frameHeightSent: null,
    fpsReceived: null,
    frameHeightReceived: null,
    audioLevel: null,
    mediaPath: null,
  };
  for (const report of [send, recv]) {
    const path = report ? mediaPathOf(report) : null;
    if (path && (r.mediaPath === null || PATH_RANK[path] > PATH_RANK[r.mediaPath])) r.mediaPath = path;
  }
  let remoteRtt: number | null = null;
  let audioJitter: number | null = null;
  let videoJitter: number | null = null;
  if (send) {
    const pair = selectedPair(send);
    const rtt = num(pair?.currentRoundTripTime);
    if (rtt !== null) r.rttMs = rtt * 1000;
    const out = num(pair?.availableOutgoingBitrate);
    if (out !== null) r.availableOutKbps = out / 1000;
    send.forEach((s: Stat) => {
      if (s.type === 'outbound-rtp') {
        r.packetsSent += num(s.packetsSent) ?? 0;
        // Of the simulcast layers, the highest one actually sending is what the programme can show.
        const fps = num(s.framesPerSecond);
        const height = num(s.frameHeight);
        if (s.kind === 'video' && s.active !== false && fps !== null && fps > 0 && height !== null && height >= (r.frameHeightSent ?? 0)) {
          r.frameHeightSent = height;
          r.fpsSent = fps;
        }
      } else if (s.type === 'remote-inbound-rtp') {
        r.packetsLostUp += Math.max(0, num(s.packetsLost) ?? 0);
        remoteRtt = maxOf(remoteRtt, num(s.roundTripTime));
        const jitter = num(s.jitter);
        if (jitter !== null) {
          if (s.kind === 'audio') audioJitter = maxOf(audioJitter, jitter);
          else videoJitter = maxOf(videoJitter, jitter);
        }
      } else if (s.type === 'media-source' && s.kind === 'audio') {
        r.audioLevel = maxOf(r.audioLevel, num(s.audioLevel));
      }
    });
  }
  if (recv) {
    if (r.rttMs === null) {
      const rtt = num(selectedPair(recv)?.currentRoundTripTime);
      if (rtt !== null) r.rttMs = rtt * 1000;
    }
    recv.forEach((s: Stat) => {
      if (s.type !== 'inbound-rtp') return;
      r.packetsReceived += num(s.packetsReceived) ?? 0;
      r.packetsLostDown += Math.max(0, num(s.packetsLost) ?? 0);
      const jitter = num(s.jitter);
      if (jitter !== null) {
        if (s.kind === 'audio') audioJitter = maxOf(audioJitter, jitter);
        else videoJitter = maxOf(videoJitter, jitter);
      }
      if (s.kind === 'video' && programTrackId !== null && s.trackIdentifier === programTrackId) {
        r.fpsReceived = num(s.framesPerSecond);
        r.frameHeightReceived = num(s.frameHeight);
      }
    });
  }
  if (r.rttMs === null && remoteRtt !== null) r.rttMs = remoteRtt * 1000;
  // Audio jitter is the honest one: a video frame leaves as a burst of packets with one timestamp.
  const jitter = audioJitter ?? videoJitter;
  if (jitter !== null) r.jitterMs = jitter * 1000;
  return r;
}

/** Loss each way, in percent, between two readings; null when nothing was sent that way (or the counters restarted). */
export function lossBetween(before: LinkReading, after: LinkReading): { upPct: number | null; downPct: number | null } {
  const share = (lost: number, total: number): number | null => (total > 0 && lost >= 0 ? Math.min(100, (100 * lost) / total) : null);
  const sent = after.packetsSent - before.packetsSent;
  const lostUp = after.packetsLostUp - before.packetsLostUp;
  const received = after.packetsReceived - before.packetsReceived;
  const lostDown = after.packetsLostDown - before.packetsLostDown;
  return {
    upPct: sent >= 0 ? share(lostUp, sent) : null,
    downPct: received >= 0 ? share(lostDown, received + Math.max(0, lostDown)) : null,
  };
}

/** A number the server's schema accepts (finite, 0..max, rounded), or null. */
function metric(v: number | null | undefined, max: number, digits = 0): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.min(max, Math.max(0, Math.round(v * f) / f));
}

/** The report of an interval, from the readings at its start and end. */
export function reportOf(before: LinkReading | null, now: LinkReading): ClientLinkReport {
  const loss = before ? lossBetween(before, now) : { upPct: null, downPct: null };
  return {
    rttMs: metric(now.rttMs, 60_000),
    jitterMs: metric(now.jitterMs, 60_000, 1),
    lossUpPct: metric(loss.upPct, 100, 2),
    lossDownPct: metric(loss.downPct, 100, 2),
    fpsSent: metric(now.fpsSent, 240, 1),
    fpsReceived: metric(now.fpsReceived, 240, 1),
    frameHeightSent: metric(now.frameHeightSent, 4320),
    frameHeightReceived: metric(now.frameHeightReceived, 4320),
    availableOutKbps: metric(now.availableOutKbps, 1_000_000),
    audioLevel: metric(now.audioLevel, 1, 3),
    mediaPath: now.mediaPath,
  };
}

/** Reads the hall's link now; null while it has no transport. */
async function readLink(media: MediaClient): Promise<{ reading: LinkReading; sendConnected: boolean } | null> {
  const { send, recv, sendConnected } = await media.transportStats();
  if (!send && !recv) return null;
  const program = [...media.consumers.values()].find((c) => c.slot === 'onair' && c.consumer.kind === 'video');
  return { reading: readingFromReports(send, recv, program?.consumer.track.id ?? null), sendConnected };
}

const live = (track: MediaStreamTrack | undefined): boolean => !!track && track.readyState === 'live' && track.enabled;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How often the link test samples the link. */
const TEST_SAMPLE_MS = 500;

/** The pre-meeting link test: samples the link for `durationMs` (RTT, loss, the highest outgoing bitrate estimate). */
export async function runLinkTest(media: MediaClient, testId: string, durationMs: number, stopped: () => boolean): Promise<LinkTestResult> {
  const readings: LinkReading[] = [];
  let sendConnected = false;
  const until = Date.now() + durationMs;
  while (!stopped()) {
    const read = await readLink(media).catch(() => null);
    if (read) {
      readings.push(read.reading);
      sendConnected = read.sendConnected;
    }
    if (Date.now() >= until) break;
    await sleep(Math.min(TEST_SAMPLE_MS, Math.max(0, until - Date.now())));
  }
  const rtts = readings.map((r) => r.rttMs).filter((v): v is number => v !== null).sort((a, b) => a - b);
  const bitrates = readings.map((r) => r.availableOutKbps).filter((v): v is number => v !== null);
  let lossPct: number | null = null;
  if (readings.length >= 2) {
    const { upPct, downPct } = lossBetween(readings[0]!, readings[readings.length - 1]!);
    if (upPct !== null || downPct !== null) lossPct = Math.max(upPct ?? 0, downPct ?? 0);
  }
  const stream = media.localStream;
  return {
    testId,
    // The median: one late consent check must not fail a hall.
    rttMs: metric(rtts.length ? rtts[Math.floor(rtts.length / 2)]! : null, 60_000),
    lossPct: metric(lossPct, 100, 2),
    bitrateKbps: metric(bitrates.length ? Math.max(...bitrates) : null, 1_000_000),
    camera: live(stream?.getVideoTracks()[0]) && media.publishing.cam,
    microphone: live(stream?.getAudioTracks()[0]) && media.publishing.mic,
    mediaConnected: sendConnected,
  };
}

/**
 * Starts reporting the hall's link every `intervalMs` (2 s) and answering the technicians'
 * link tests. Returns the function that stops both.
 */
export function startLinkReporter(media: MediaClient, control: ControlClient, options: { intervalMs?: number } = {}): () => void {
  let stopped = false;
  let previous: LinkReading | null = null;
  let busy = false;
  /** Link tests under way (they may overlap). */
  let probing = 0;

  const tick = async (): Promise<void> => {
    if (busy || stopped) return;
    busy = true;
    try {
      const read = await readLink(media).catch(() => null);
      if (!read) {
        previous = null;
        return;
      }
      const report = reportOf(previous, read.reading);
      previous = read.reading;
      if (control.connected && !stopped) {
        const ack = await control.request('health:report', report, 5000, 'health:report: no answer');
        if (!ack.ok) console.warn(`diemcau: health:report refused: ${ack.error.code} ${ack.error.message}`);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), options.intervalMs ?? 2000);

  const onRunTest = (request: unknown): void => {
    const { testId, durationMs } = (request ?? {}) as { testId?: unknown; durationMs?: unknown };
    if (typeof testId !== 'string' || !testId || testId.length > 64) return;
    const duration = typeof durationMs === 'number' && Number.isFinite(durationMs) ? Math.min(60_000, Math.max(1000, durationMs)) : 8000;
    void (async () => {
      // Every layer on the air while testing: the outgoing estimate only rises with what is sent.
      if (probing++ === 0) await media.probeAllLayers(true);
      let result: LinkTestResult;
      try {
        result = await runLinkTest(media, testId, duration, () => stopped);
      } finally {
        if (--probing === 0) await media.probeAllLayers(false);
      }
      if (stopped) return;
      const ack = await control.request('health:testResult', result, 5000, 'health:testResult: no answer');
      if (!ack.ok) console.warn(`diemcau: health:testResult refused: ${ack.error.code} ${ack.error.message}`);
    })();
  };
  control.onServer('health:runTest', onRunTest);

  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    control.offServer('health:runTest', onRunTest);
  };
}
