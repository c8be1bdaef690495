/**
 * The SDP bench:peer exchanges with Janus: the publisher's offer (Opus + VP8 with three
 * SSRC-simulcast layers and RTX, as the load generator sends them), the subscribers' answers
 * (receive only: Opus, VP8 with NACK/PLI/FIR, no header extensions and no bandwidth-estimation
 * feedback, the same as the receivers tell diemcau's SFU), and the few fields read back.
 */
import type { GeneratorHall } from '../fanout/protocol.ts';
import type { LocalIce, RemoteIce } from './endpoint.ts';

type Streams = Pick<GeneratorHall, 'mic' | 'cam'>;

function iceLines(local: LocalIce): string[] {
  return [
    `a=ice-ufrag:${local.ufrag}`,
    `a=ice-pwd:${local.pwd}`,
    `a=fingerprint:sha-256 ${local.fingerprint}`,
    // We are the DTLS client towards both SFUs.
    'a=setup:active',
  ];
}

function candidate(local: LocalIce): string[] {
  return [`a=candidate:1 1 udp 2130706431 ${local.ip} ${local.port} typ host`, 'a=end-of-candidates'];
}

function session(mids: string[]): string[] {
  return ['v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', `a=group:BUNDLE ${mids.join(' ')}`, 'a=msid-semantic: WMS bench'];
}

/** The publisher's offer: mid 0 audio, mid 1 video with SIM and FID groups (layers low to high). */
export function publisherOffer(s: Streams, local: LocalIce): string {
  const { mic, cam } = s;
  const ssrcLines = (ssrc: number, track: string): string[] => [`a=ssrc:${ssrc} cname:bench`, `a=ssrc:${ssrc} msid:bench ${track}`];
  const lines = [
    ...session(['0', '1']),
    `m=audio 9 UDP/TLS/RTP/SAVPF ${mic.pt}`,
    'c=IN IP4 0.0.0.0',
    ...iceLines(local),
    'a=mid:0',
    'a=sendonly',
    'a=rtcp-mux',
    `a=rtpmap:${mic.pt} opus/48000/2`,
    `a=fmtp:${mic.pt} minptime=10;useinbandfec=1`,
    ...ssrcLines(mic.ssrc, 'mic'),
    ...candidate(local),
    `m=video 9 UDP/TLS/RTP/SAVPF ${cam.pt} ${cam.rtxPt}`,
    'c=IN IP4 0.0.0.0',
    ...iceLines(local),
    'a=mid:1',
    'a=sendonly',
    'a=rtcp-mux',
    `a=rtpmap:${cam.pt} VP8/90000`,
    `a=rtcp-fb:${cam.pt} nack`,
    `a=rtcp-fb:${cam.pt} nack pli`,
    `a=rtcp-fb:${cam.pt} ccm fir`,
    `a=rtpmap:${cam.rtxPt} rtx/90000`,
    `a=fmtp:${cam.rtxPt} apt=${cam.pt}`,
    `a=ssrc-group:SIM ${cam.ssrcs.join(' ')}`,
    ...cam.ssrcs.map((ssrc, i) => `a=ssrc-group:FID ${ssrc} ${cam.rtxSsrcs[i]}`),
    ...cam.ssrcs.flatMap((ssrc, i) => [...ssrcLines(ssrc, 'cam'), ...ssrcLines(cam.rtxSsrcs[i]!, 'cam')]),
    ...candidate(local),
  ];
  return `${lines.join('\r\n')}\r\n`;
}

interface Media {
  kind: string;
  port: number;
  proto: string;
  fmts: string[];
  attrs: string[];
}

function parse(sdp: string): { session: string[]; media: Media[] } {
  const out: { session: string[]; media: Media[] } = { session: [], media: [] };
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('m=')) {
      const [kind, port, proto, ...fmts] = line.slice(2).split(' ');
      out.media.push({ kind: kind!, port: Number(port), proto: proto!, fmts, attrs: [] });
    } else if (line.startsWith('a=')) {
      (out.media.length ? out.media[out.media.length - 1]!.attrs : out.session).push(line.slice(2));
    }
  }
  return out;
}

function attr(lists: string[][], name: string): string | undefined {
  for (const list of lists) {
    const hit = list.find((a) => a.startsWith(`${name}:`));
    if (hit) return hit.slice(name.length + 1);
  }
  return undefined;
}

/** The ICE and DTLS fields of the SFU's SDP (its first IPv4 UDP host candidate). */
export function remoteIce(sdp: string, controlling: boolean): RemoteIce {
  const { session: s, media } = parse(sdp);
  const first = media.find((m) => m.port !== 0) ?? media[0];
  const lists = [first?.attrs ?? [], s];
  const cand = media
    .flatMap((m) => m.attrs)
    .filter((a) => a.startsWith('candidate:'))
    .map((a) => a.split(' '))
    .find((w) => w[2]?.toLowerCase() === 'udp' && /^\d+\.\d+\.\d+\.\d+$/.test(w[4] ?? '') && w[7] === 'host');
  const ufrag = attr(lists, 'ice-ufrag');
  const pwd = attr(lists, 'ice-pwd');
  const fp = attr(lists, 'fingerprint');
  if (!cand || !ufrag || !pwd || !fp) throw new Error(`SFU SDP lacks ICE/DTLS fields:\n${sdp}`);
  const [alg, value] = fp.split(' ');
  if (alg?.toLowerCase() !== 'sha-256') throw new Error(`SFU fingerprint is not sha-256: ${fp}`);
  return { ip: cand[4]!, port: Number(cand[5]), ufrag, pwd, fingerprint: value!.toUpperCase(), controlling };
}

function rtpmap(m: Media, pt: string): string | undefined {
  return m.attrs.find((a) => a.startsWith(`rtpmap:${pt} `))?.slice(`rtpmap:${pt} `.length);
}

/** The payload type a subscriber accepts in a media section: the first Opus or VP8 one. */
function chosenPayloadType(m: Media): string | undefined {
  const want = m.kind === 'audio' ? 'opus/48000' : m.kind === 'video' ? 'vp8/90000' : null;
  return want ? m.fmts.find((f) => rtpmap(m, f)?.toLowerCase().startsWith(want)) : undefined;
}

/** The payload types a subscriber's answer accepts, by kind. */
export function answeredPayloadTypes(offer: string): Map<number, 'audio' | 'video'> {
  const out = new Map<number, 'audio' | 'video'>();
  for (const m of parse(offer).media) {
    const pt = chosenPayloadType(m);
    if (pt && m.port !== 0 && (m.kind === 'audio' || m.kind === 'video')) out.set(Number(pt), m.kind);
  }
  return out;
}

/**
 * A subscriber's answer to the SFU's offer: receive-only Opus and VP8 (the first payload type of
 * each), NACK/PLI/FIR feedback, no header extensions, no RTX, anything else rejected.
 */
export function subscriberAnswer(offer: string, local: LocalIce): string {
  const { media } = parse(offer);
  const mids: string[] = [];
  const sections: string[] = [];
  for (const m of media) {
    const mid = attr([m.attrs], 'mid') ?? String(mids.length);
    const pt = chosenPayloadType(m);
    if (!pt || m.port === 0) {
      sections.push(`m=${m.kind} 0 ${m.proto} ${m.fmts.join(' ')}`, 'c=IN IP4 0.0.0.0', `a=mid:${mid}`, 'a=inactive');
      continue;
    }
    mids.push(mid);
    sections.push(
      `m=${m.kind} 9 ${m.proto} ${pt}`,
      'c=IN IP4 0.0.0.0',
      ...iceLines(local),
      `a=mid:${mid}`,
      'a=recvonly',
      'a=rtcp-mux',
      `a=rtpmap:${pt} ${rtpmap(m, pt)}`,
      ...(m.kind === 'video' ? [`a=rtcp-fb:${pt} nack`, `a=rtcp-fb:${pt} nack pli`, `a=rtcp-fb:${pt} ccm fir`] : []),
      ...candidate(local),
    );
  }
  return `${[...session(mids), ...sections].join('\r\n')}\r\n`;
}

/** Mids of the audio and video sections of an SDP (Janus's subscriber offer). */
export function mids(sdp: string): { audio?: string; video?: string } {
  const out: { audio?: string; video?: string } = {};
  for (const m of parse(sdp).media) {
    const mid = attr([m.attrs], 'mid');
    if ((m.kind === 'audio' || m.kind === 'video') && mid !== undefined && out[m.kind] === undefined) out[m.kind] = mid;
  }
  return out;
}
