// The feed's worker thread (started by FeedThread through thread-boot.mjs): runs the wire
// (FeedWire) on an event loop of its own, turns the main thread's commands into calls and the
// wire's events into reports. It keeps no state of its own: a new thread is given everything again.
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../../core/conference/clock.ts';
import type { FeedCommand, FeedReport } from './FeedThread.ts';
import { FEED_STATS_MS } from './FeedThread.ts';
import { FeedWire, type FeedWireSetup } from './FeedWire.ts';

const port = parentPort!;
const post = (report: FeedReport, transfer: ArrayBuffer[] = []): void => port.postMessage(report, transfer);
const setup = (workerData as { setup: FeedWireSetup }).setup;

/**
 * This thread puts the press feed on the wire (the pacer's timer) and paces the re-encoder's input
 * (the relay's ticks); it needs little CPU, but when it needs it the press hears any wait. On a
 * loaded host (2 cores shared with the SFU, ffmpeg and browsers) its timers fired up to 180 ms late:
 * it runs at a higher priority than the rest of the process. On Linux the nice value is a
 * thread's own (setpriority of thread 0 is the calling thread); lowering it needs CAP_SYS_NICE
 * (root, or systemd's Nice= / AmbientCapabilities): without, it stays as it is, and says so.
 */
const FEED_THREAD_NICE = -10;
let priorityProblem: string | undefined;
try {
  os.setPriority(FEED_THREAD_NICE);
} catch (error) {
  priorityProblem = `the feed thread's priority could not be raised (nice ${FEED_THREAD_NICE}: ${(error as Error).message}); on a loaded host the press feed may pause`;
}

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
if (priorityProblem) post({ type: 'problem', message: priorityProblem });
post({ type: 'stats', stats: wire.stats() });
