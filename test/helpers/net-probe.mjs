// A small network probe the rig's tests start inside a namespace (plain JavaScript: it starts fast).
//   node net-probe.mjs sink IP PORT            UDP and TCP on IP:PORT; prints a JSON line of totals (and its clock) every 50 ms
//   node net-probe.mjs blast IP PORT KBPS MS   sends UDP datagrams of 1,000 bytes at KBPS for MS; prints {"sent":n}
//   node net-probe.mjs tcp IP PORT             connects over TCP (2 s at most); prints {"connected":true|false}
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, ip, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (mode === 'sink') {
  const totals = { udpBytes: 0, udpPackets: 0, firstAt: null, lastAt: null, tcpConnections: 0 };
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg) => {
    const now = Date.now();
    totals.udpBytes += msg.length;
    totals.udpPackets++;
    totals.firstAt ??= now;
    totals.lastAt = now;
  });
  udp.bind(port, ip);
  const tcp = net.createServer((s) => {
    totals.tcpConnections++;
    s.end();
  });
  tcp.listen(port, ip, () => print({ ready: true }));
  setInterval(() => print({ at: Date.now(), ...totals }), 50);
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'blast') {
  const kbps = Number(rest[0]);
  const ms = Number(rest[1]);
  const size = 1000;
  const udp = dgram.createSocket('udp4');
  const started = Date.now();
  let sent = 0;
  const tick = () => {
    const due = Math.floor(((Date.now() - started) * kbps) / (8 * size));
    while (sent < due) {
      udp.send(Buffer.alloc(size), port, ip);
      sent++;
    }
    if (Date.now() - started < ms) setTimeout(tick, 5);
    else setTimeout(() => {
      print({ sent });
      udp.close();
    }, 50);
  };
  tick();
} else if (mode === 'tcp') {
  const socket = net.connect({ host: ip, port });
  const done = (connected) => {
    print({ connected });
    socket.destroy();
    process.exit(0);
  };
  socket.setTimeout(2000, () => done(false));
  socket.once('connect', () => done(true));
  socket.once('error', () => done(false));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
