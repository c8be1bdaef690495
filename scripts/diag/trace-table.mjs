// Prints a weaklink-trace.jsonl as one line a second: node scripts/diag/trace-table.mjs file [fromS] [toS]
import fs from 'node:fs';

const [file = '/tmp/weaklink-trace.jsonl', from = '0', to = '1e9'] = process.argv.slice(2);
const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
for (const r of rows) if (r.sdp) console.log(JSON.stringify(r.sdp, null, 1));
const samples = rows.filter((r) => r.t !== undefined && r.t / 1000 >= Number(from) && r.t / 1000 <= Number(to));
const d = (a, b, f) => (a && b ? f(b) - f(a) : NaN);
let prev;
let acc = [];
const flush = (list) => {
  if (!prev || !list.length) return;
  const last = list.at(-1);
  const dt = (last.t - prev.t) / 1000;
  const kb = (a, b) => Math.round((8 * a) / 1000 / dt);
  const outKbps = {};
  for (const k of Object.keys(last.page?.out ?? {})) outKbps[k] = kb(d(prev.page?.out?.[k], last.page.out[k], (x) => x.bytes ?? 0) || 0);
  const kfs = Object.keys(last.page?.out ?? {}).map((k) => `${k}:${d(prev.page?.out?.[k], last.page.out[k], (x) => x.kf ?? 0) || 0}`).filter((x) => !x.endsWith(':0') && !x.startsWith('mic'));
  const heard = {
    recv: last.heard.packetsReceived - prev.heard.packetsReceived,
    lost: last.heard.packetsLost - prev.heard.packetsLost,
    conc: Math.round((1000 * (last.heard.concealedSamples - prev.heard.concealedSamples - (last.heard.silentConcealedSamples - prev.heard.silentConcealedSamples))) / 48000),
  };
  const opus = list.reduce((o, r) => ({ n: o.n + r.opus.n, fec: o.fec + r.opus.fec, silk: o.silk + r.opus.silk, hybrid: o.hybrid + r.opus.hybrid, celt: o.celt + r.opus.celt }), { n: 0, fec: 0, silk: 0, hybrid: 0, celt: 0 });
  const events = list.flatMap((r) => r.events ?? []).map((e) => (e.type === 'sendmode' ? `${e.mode}${e.trial ? `+${e.trial}` : ''}` : e.type === 'sfu' ? `sfu:${e.state}(${e.reason})` : `ao:${e.bridgeId}:${e.up ? 'U' : ''}${e.down ? 'D' : ''}`));
  const inB = last.page?.inBytes && prev.page?.inBytes ? `in a=${kb(last.page.inBytes.audio - prev.page.inBytes.audio)}k v=${kb(last.page.inBytes.video - prev.page.inBytes.video)}k nack=${last.page.inBytes.nackSent - prev.page.inBytes.nackSent} pli=${(last.page.inBytes.pliSent ?? 0) - (prev.page.inBytes.pliSent ?? 0)}` : '';
  const tcp = last.tcp && prev.tcp ? `tcp ${kb(Math.max(0, last.tcp.sent - prev.tcp.sent))}k/${kb(Math.max(0, last.tcp.recv - prev.tcp.recv))}k` : '';
  const inA = last.page?.inAudio && prev.page?.inAudio ? { lost: last.page.inAudio.lost - prev.page.inAudio.lost, concMs: Math.round((1000 * (last.page.inAudio.conc - prev.page.inAudio.conc)) / 48000) } : null;
  console.log(
    [
      `${(last.t / 1000).toFixed(1).padStart(5)}s ${last.phase.padEnd(8)}`,
      `up ${kb(d(prev.up, last.up, (x) => x.bytes))}k drop ${d(prev.up, last.up, (x) => x.dropped)} bl ${last.up?.backlog}`,
      `down ${kb(d(prev.down, last.down, (x) => x.bytes))}k drop ${d(prev.down, last.down, (x) => x.dropped)} bl ${last.down?.backlog}`,
      `bwe ${last.page?.bwe}`,
      tcp,
      inB,
      `tx ${(last.page?.transports ?? []).map((t, i) => { const q = prev.page?.transports?.[i]; return q ? `${kb(t.sent - q.sent)}k/${kb(t.recv - q.recv)}k` : '?'; }).join(' ')}`,
      `out ${Object.entries(outKbps).map(([k, v]) => `${k}=${v}`).join(' ')}${kfs.length ? ` KF[${kfs.join(' ')}]` : ''}`,
      `prov recv ${heard.recv} lost ${heard.lost} conc ${heard.conc}ms`,
      `opus ${opus.n}p fec ${opus.fec} s/h/c ${opus.silk}/${opus.hybrid}/${opus.celt}`,
      inA ? `weakHears lost ${inA.lost} conc ${inA.concMs}ms` : '',
      `sfu ${last.sfuDownlink ?? '-'}${last.sfuRecv && prev.sfuRecv ? ` bwe ${last.sfuRecv.bwe} tx ${kb(last.sfuRecv.sent - prev.sfuRecv.sent)}k rtx ${kb(last.sfuRecv.rtx - prev.sfuRecv.rtx)}k prob ${kb(last.sfuRecv.probation - prev.sfuRecv.probation)}k fb ${kb(last.sfuRecv.recv - prev.sfuRecv.recv)}k` : ''}`,
      `rtt ${last.page?.rtt ?? '-'} rem ${JSON.stringify(last.page?.remoteAudio ?? null)}`,
      events.length ? `EV ${events.join(',')}` : '',
    ].join(' | '),
  );
  prev = last;
};
for (const s of samples) {
  if (!prev) {
    prev = s;
    continue;
  }
  acc.push(s);
  if (s.t - prev.t >= 1000 || s.phase !== prev.phase) {
    flush(acc);
    acc = [];
  }
}
flush(acc);
for (const r of rows) if (r.summary) console.log(JSON.stringify(r.summary));
