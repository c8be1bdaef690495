/**
 * One side of bench:datagram in Node (a child process): `recv` binds sockets and counts RTP
 * packets as the old Node sink did (sequence numbers from the clear header; optionally
 * decrypting each packet), `send` sends RTP packets round-robin to ports at a rate from a 1 ms
 * timer as the generator does (optionally encrypting each). Answers over IPC.
 */
import dgram from 'node:dgram';
import { SrtpSession } from '../fanout/srtp.ts';

/** The master key the native blaster uses (bytes 0..27), so both sides can en/decrypt. */
export const BLAST_KEY = Buffer.from(Array.from({ length: 28 }, (_, i) => i)).toString('base64');

type Msg = { type: 'recv'; sockets: number; decrypt: boolean } | { type: 'send'; ports: number[]; pps: number; seconds: number; payload: number; encrypt: boolean } | { type: 'report' };

let received = 0;
const sockets: dgram.Socket[] = [];

process.on('message', (raw) => {
  const m = raw as Msg;
  void (async () => {
    if (m.type === 'recv') {
      const session = new SrtpSession(BLAST_KEY, 'AEAD_AES_128_GCM');
      const highest = new Map<number, number>();
      const ports: number[] = [];
      for (let i = 0; i < m.sockets; i++) {
        const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 21 });
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
        s.on('message', (p) => {
          received++;
          highest.set(p.readUInt32BE(8), p.readUInt16BE(2));
          if (m.decrypt) session.unprotectRtp(p);
        });
        sockets.push(s);
        ports.push(s.address().port);
      }
      process.send!({ type: 'ports', ports });
    } else if (m.type === 'send') {
      const session = new SrtpSession(BLAST_KEY, 'AEAD_AES_128_GCM');
      const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 1 << 21 });
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
      const seq = m.ports.map(() => 0);
      const start = performance.now();
      const cpu0 = process.cpuUsage();
      let sent = 0;
      let port = 0;
      await new Promise<void>((done) => {
        const tick = (): void => {
          const now = performance.now();
          const due = Math.floor(((now - start) / 1000) * m.pps);
          while (sent < due) {
            const p = Buffer.alloc(12 + m.payload, 0xab);
            p[0] = 0x80;
            p[1] = 101;
            p.writeUInt16BE(seq[port]!, 2);
            seq[port] = (seq[port]! + 1) & 0xffff;
            p.writeUInt32BE(0x1000 + port, 8);
            socket.send(m.encrypt ? session.protectRtp(p) : p, m.ports[port]!, '127.0.0.1');
            port = (port + 1) % m.ports.length;
            sent++;
          }
          if (now - start < m.seconds * 1000) setTimeout(tick, 1);
          else done();
        };
        tick();
      });
      const cpu = process.cpuUsage(cpu0);
      socket.close();
      process.send!({ type: 'sent', sent, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
    } else if (m.type === 'report') {
      process.send!({ type: 'received', received });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
