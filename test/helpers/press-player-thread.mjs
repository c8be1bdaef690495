// The press player's socket in a thread of its own (test/helpers/press-player.ts): every datagram
// is stamped with the wall clock here, when it arrives, whatever the test's main thread (where
// the server runs in an e2e) is busy with; the stamps and the bytes go to the main thread in batches.
// Plain JavaScript: a worker does not inherit the main thread's TypeScript loader.
import dgram from 'node:dgram';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

// A player on a machine of its own is not held up by this host's load: its thread runs at a
// higher priority (nice -10, its own on Linux; it spawns nothing that would inherit it), so that
// what it counts as a silence is the wire's and not its own wait for a core (left as it is where
// that is not allowed).
try {
  os.setPriority(-10);
} catch {
  // not allowed here: the stamps may include the host's scheduling
}

const socket = dgram.createSocket('udp4');
/** Since the last batch: arrival times and datagrams. */
let ats = [];
let datagrams = [];

function flush() {
  if (ats.length === 0) return;
  const at = Float64Array.from(ats);
  const lengths = Uint32Array.from(datagrams.map((d) => d.length));
  const bytes = new Uint8Array(Buffer.concat(datagrams));
  ats = [];
  datagrams = [];
  parentPort.postMessage({ type: 'batch', at, lengths, bytes }, [at.buffer, lengths.buffer, bytes.buffer]);
}

socket.on('message', (m) => {
  ats.push(Date.now());
  datagrams.push(m);
});
const timer = setInterval(flush, 50);
parentPort.on('message', (m) => {
  if (m.type === 'flush') {
    flush();
    parentPort.postMessage({ type: 'flushed', id: m.id });
  } else if (m.type === 'close') {
    clearInterval(timer);
    socket.close();
    parentPort.close();
  }
});
socket.bind(workerData.port, '127.0.0.1', () => {
  socket.setRecvBufferSize(8 * 1024 * 1024);
  parentPort.postMessage({ type: 'ready', port: socket.address().port });
});
