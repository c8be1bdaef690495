// The feed's worker thread (started by FeedThread through thread-boot.mjs): runs the wire
// (FeedWire) on an event loop of its own, turns the main thread's commands into calls and the
// wire's events into reports. It keeps no state of its own: a new thread is given everything again.
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../../core/conference/clock.ts';
import type { FeedCommand, FeedReport } from './FeedThread.ts';
import { FEED_STATS_MS } from './FeedThread.ts';
import { FeedWire, type FeedWireSetup } from './FeedWire.ts';

const port = parentPort!;
const post = (report: FeedReport, transfer: ArrayBuffer[] = []): void => port.postMessage(report, transfer);
const setup = (workerData as { setup: FeedWireSetup }).setup;

let wire: FeedWire;
try {
  wire = await FeedWire.create(setup, systemClock);
} catch (error) {
  post({ type: 'failed', message: String((error as Error)?.message ?? error).slice(0, 300) });
  throw error;
}

wire.on('keyframe', () => post({ type: 'keyframe' }));
wire.on('video', (event) => post({ type: 'video', event }));
wire.on('ts', (packets, at) => {
  // A copy of exactly these bytes, moved (not cloned) to the main thread.
  const copy = new Uint8Array(packets);
  post({ type: 'ts', packets: copy, at }, [copy.buffer]);
});
wire.on('encoder', (pid) => post({ type: 'encoder', pid }));
wire.on('encoderExit', (message) => post({ type: 'encoderExit', message }));
wire.on('problem', (message) => post({ type: 'problem', message }));
const stats = systemClock.setInterval(() => post({ type: 'stats', stats: wire.stats() }), FEED_STATS_MS);

port.on('message', (command: FeedCommand) => {
  switch (command.type) {
    case 'add':
      wire.addSource(command.source);
      return;
    case 'slot':
      wire.setSlot(command.consumerId, command.slot);
      return;
    case 'remove':
      wire.removeSource(command.consumerId);
      return;
    case 'overlay':
      wire.setOverlay(command.overlay);
      return;
    case 'panel':
      wire.setPanel(command.png && Buffer.from(command.png.buffer, command.png.byteOffset, command.png.byteLength));
      return;
    case 'close':
      systemClock.clearInterval(stats);
      void wire.close().then(() => {
        post({ type: 'closed' });
        port.close();
      });
      return;
  }
});

wire.start();
post({ type: 'ready', address: wire.address });
post({ type: 'stats', stats: wire.stats() });
