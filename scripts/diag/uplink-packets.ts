// The pure half of scripts/diag/uplink-bytes.ts (issue 17): reads the two captures of a hall's
// uplink (pcap files: one of NFLOG from the namespace's OUTPUT hook, i.e. what the browser offers
// before tbf; one of eth0's egress, i.e. what tbf let through), classifies every datagram by kind
// and pairs the two captures, so a packet seen offered and never sent is one tbf dropped.
// Kinds: per transport (the page's send or receive PeerConnection, told apart by the local UDP
// port) STUN, DTLS, RTP (by SSRC: mic, camera layer, its RTX; padding when the P bit is set) and
// RTCP (RFC 5761 demux on the second byte; the first RTCP packet's type and format are in the
// clear in SRTCP: SR, RR, NACK, TWCC, PLI, REMB; "+" when more packets follow it in the compound).
import fs from 'node:fs';

/** One IPv4 packet of a capture: when, its length on the wire (IP header included), the flow and the first bytes of its UDP payload. */
export interface Captured {
  ts: number;
  ipLen: number;
  proto: 'udp' | 'tcp' | 'other';
  srcPort: number;
  dstPort: number;
  payload: Buffer;
  payloadLen: number;
}

/** Reads a pcap file (little- or big-endian, µs or ns), Ethernet (1), raw IP (101, 228) or NFLOG (239) links, IPv4 only. */
export function readPcap(file: string): Captured[] {
  const buf = fs.readFileSync(file);
  if (buf.length < 24) return [];
  const magicLE = buf.readUInt32LE(0);
  const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
  const nano = magicLE === 0xa1b23c4d || buf.readUInt32BE(0) === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const link = u32(20);
  const out: Captured[] = [];
  for (let o = 24; o + 16 <= buf.length; ) {
    const ts = u32(o) * 1000 + u32(o + 4) / (nano ? 1e6 : 1e3);
    const incl = u32(o + 8);
    const data = buf.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    let ip: Buffer | null = null;
    if (link === 1) ip = data.length > 14 && data.readUInt16BE(12) === 0x0800 ? data.subarray(14) : null;
    else if (link === 101 || link === 228) ip = data;
    else if (link === 239) ip = nflogPayload(data);
    if (!ip) {
      if (link === 1) out.push({ ts, ipLen: Math.max(0, data.length - 14), proto: 'other', srcPort: 0, dstPort: 0, payload: Buffer.alloc(0), payloadLen: 0 });
      continue;
    }
    if (ip.length < 20 || ip[0]! >> 4 !== 4) continue;
    const ihl = (ip[0]! & 0x0f) * 4;
    const ipLen = ip.readUInt16BE(2);
    const protoNum = ip[9]!;
    if (protoNum === 17 && ip.length >= ihl + 8) {
      out.push({ ts, ipLen, proto: 'udp', srcPort: ip.readUInt16BE(ihl), dstPort: ip.readUInt16BE(ihl + 2), payload: ip.subarray(ihl + 8), payloadLen: ipLen - ihl - 8 });
    } else if (protoNum === 6 && ip.length >= ihl + 4) {
      out.push({ ts, ipLen, proto: 'tcp', srcPort: ip.readUInt16BE(ihl), dstPort: ip.readUInt16BE(ihl + 2), payload: ip.subarray(ihl, ihl + 20), payloadLen: 0 });
    } else out.push({ ts, ipLen, proto: 'other', srcPort: 0, dstPort: 0, payload: Buffer.alloc(0), payloadLen: 0 });
  }
  return out;
}

/** The packet inside an NFLOG record (its NFULA_PAYLOAD TLV; TLV lengths and types are in host order, little-endian here). */
function nflogPayload(data: Buffer): Buffer | null {
  for (let o = 4; o + 4 <= data.length; ) {
    const len = data.readUInt16LE(o);
    const type = data.readUInt16LE(o + 2) & 0x7fff;
    if (len < 4) return null;
    if (type === 9) return data.subarray(o + 4, o + len);
    o += (len + 3) & ~3;
  }
  return null;
}

/** What the page said about its transports: the local UDP port of each, and what each outbound SSRC is. */
export interface FlowMap {
  /** Local UDP port → 'send' | 'recv'. */
  ports: Record<number, string>;
  /** SSRC → 'mic', 'cam r0', 'rtx r0', … */
  ssrcs: Record<number, string>;
}

const RTCP_NAMES: Record<string, string> = {
  '200': 'SR', '201': 'RR', '202': 'SDES', '203': 'BYE', '204': 'APP', '205/1': 'NACK', '205/15': 'TWCC', '206/1': 'PLI', '206/4': 'FIR', '206/15': 'REMB', '207': 'XR',
};

/** The kind of one datagram: "<transport> <what>", e.g. "send mic padding", "recv rtcp NACK", "recv stun". */
export function classify(p: Captured, flows: FlowMap): string {
  if (p.proto === 'tcp') return 'tcp';
  if (p.proto !== 'udp') return 'other';
  const transport = flows.ports[p.srcPort] ?? `udp:${p.srcPort}`;
  const b = p.payload;
  if (b.length < 2) return `${transport} udp?`;
  const b0 = b[0]!;
  if (b0 <= 3) return `${transport} stun`;
  if (b0 >= 20 && b0 <= 63) return `${transport} dtls`;
  if (b0 < 128 || b0 > 191) return `${transport} udp?`;
  const b1 = b[1]!;
  if (b1 >= 192 && b1 <= 223) {
    const fmt = b0 & 0x1f;
    const name = RTCP_NAMES[`${b1}/${fmt}`] ?? RTCP_NAMES[String(b1)] ?? `${b1}/${fmt}`;
    // SRTCP: the compound, then 4 bytes (E + index) and the tag (10 bytes for HMAC-SHA1-80, 16 for GCM).
    const first = b.length >= 4 ? (b.readUInt16BE(2) + 1) * 4 : p.payloadLen;
    return `${transport} rtcp ${name}${p.payloadLen - first > 20 ? '+' : ''}`;
  }
  if (b.length < 12) return `${transport} rtp?`;
  const ssrc = b.readUInt32BE(8);
  const label = flows.ssrcs[ssrc] ?? `ssrc ${ssrc}`;
  const padding = (b0 & 0x20) !== 0;
  return `${transport} ${label} ${padding ? 'padding' : label.startsWith('rtx') ? 'retransmission' : 'media'}`;
}

/** One datagram offered to the uplink, with its kind and when tbf sent it (null: dropped). */
export interface UplinkPacket {
  ts: number;
  kind: string;
  ipLen: number;
  sentTs: number | null;
}

const keyOf = (p: Captured): string => `${p.proto} ${p.srcPort} ${p.dstPort} ${p.ipLen} ${p.payload.subarray(0, 48).toString('hex')}`;

/**
 * Pairs what was offered (before tbf) with what went out (after it), in order per identical
 * packet: an offered packet without a partner sent later is a drop. Packets sent that were never
 * offered (the capture started late, ARP) are left out.
 */
export function pairCaptures(offered: Captured[], sent: Captured[], flows: FlowMap): UplinkPacket[] {
  const queue = new Map<string, number[]>();
  for (const s of sent) {
    const k = keyOf(s);
    const q = queue.get(k);
    if (q) q.push(s.ts);
    else queue.set(k, [s.ts]);
  }
  return offered.map((p) => {
    const q = queue.get(keyOf(p));
    // NFLOG's copy is stamped when tcpdump reads it (within 0.1 ms when idle): a copy on eth0 a second earlier is another packet's.
    while (q && q.length && q[0]! < p.ts - 1000) q.shift();
    const sentTs = q && q.length ? q.shift()! : null;
    return { ts: p.ts, kind: classify(p, flows), ipLen: p.ipLen, sentTs };
  });
}

/** Per kind over a span: packets and IP bytes offered, packets and bytes dropped, kbit/s offered and sent. */
export interface KindTotals {
  kind: string;
  pkts: number;
  bytes: number;
  dropped: number;
  droppedBytes: number;
  kbpsOffered: number;
  kbpsSent: number;
}

/** Totals per kind of the packets offered in [from, to) (ms since the epoch), largest first. */
export function totalsByKind(packets: UplinkPacket[], from: number, to: number): KindTotals[] {
  const byKind = new Map<string, KindTotals>();
  const seconds = (to - from) / 1000;
  for (const p of packets) {
    if (p.ts < from || p.ts >= to) continue;
    const t = byKind.get(p.kind) ?? { kind: p.kind, pkts: 0, bytes: 0, dropped: 0, droppedBytes: 0, kbpsOffered: 0, kbpsSent: 0 };
    t.pkts++;
    t.bytes += p.ipLen;
    if (p.sentTs === null) {
      t.dropped++;
      t.droppedBytes += p.ipLen;
    }
    byKind.set(p.kind, t);
  }
  return [...byKind.values()]
    .map((t) => ({ ...t, kbpsOffered: (8 * t.bytes) / 1000 / seconds, kbpsSent: (8 * (t.bytes - t.droppedBytes)) / 1000 / seconds }))
    .sort((a, b) => b.bytes - a.bytes);
}

/** The column a kind falls in, in the per-250 ms table. */
export function groupOf(kind: string): string {
  if (/^send mic media/.test(kind)) return 'mic';
  if (/^send mic padding/.test(kind)) return 'micPad';
  if (/padding$/.test(kind)) return 'pad';
  if (/^send (cam|ssrc)/.test(kind)) return 'cam';
  if (/^send rtx/.test(kind)) return 'rtx';
  if (/^send rtcp/.test(kind)) return 'sRtcp';
  if (/^recv rtcp NACK/.test(kind)) return 'nack';
  if (/^recv rtcp TWCC/.test(kind)) return 'twcc';
  if (/^recv rtcp/.test(kind)) return 'rRtcp';
  if (/ (stun|dtls)$/.test(kind)) return 'ice';
  if (kind === 'tcp') return 'tcp';
  return 'other';
}

export const GROUPS = ['mic', 'micPad', 'cam', 'rtx', 'pad', 'sRtcp', 'nack', 'twcc', 'rRtcp', 'ice', 'tcp', 'other'] as const;

/** A fixed-width text table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
