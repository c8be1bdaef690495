import type { types as ms } from 'mediasoup';
import type { HeldConsumer, MediaPeer } from './MediaPeer.ts';
import type { RoutedTrack } from './types.ts';
import type { RouterSet } from './RouterSet.ts';
import type { ResumeBatch } from './ResumeBatch.ts';
import { consumerPriority, type DesiredConsumer } from './routing/index.ts';

/** What the reconciler needs from its session. */
export interface ConsumerReconcilerOptions {
  routers: RouterSet;
  /** The consumers a peer should hold now (the routing rule over the session's live state). */
  desired: (peer: MediaPeer) => DesiredConsumer<RoutedTrack>[];
  /** How long a consumer waits for its client before it is dropped. */
  consumeTimeoutMs: number;
  /** Whether the SFU holds this peer's video (its downlink carries audio only: DownlinkHold); its video consumers then stay paused. */
  videoHeld?: (peer: MediaPeer) => boolean;
  /** Whether the session has closed (then nothing more is done or reported). */
  closed: () => boolean;
  /** A reconciliation failed (the session reports it as a warning and tries again later). */
  failed: (peer: MediaPeer, error: Error) => void;
  /** A reconciliation completed. */
  succeeded?: (peer: MediaPeer) => void;
}

/**
 * Makes each peer's actual consumers follow its desired ones: creates what is missing (piping
 * the track to the peer's router first), moves a held consumer to its new slot in place (a
 * prepared `next` consumer goes on air without a new negotiation), and closes what is no longer
 * wanted, after the new ones are up, so a hall keeps showing the previous speaker until the new
 * one is ready. Runs are serialised per peer; resumes go through a ResumeBatch when one is given,
 * so a switch of every hall rides on one keyframe.
 */
export class ConsumerReconciler {
  readonly #o: ConsumerReconcilerOptions;
  readonly #chains = new WeakMap<MediaPeer, Promise<void>>();

  constructor(options: ConsumerReconcilerOptions) {
    this.#o = options;
  }

  /** Reconciles every peer; resolves when all but the batch's stragglers are done or its deadline passed, after resuming the batch. */
  reconcileAll(peers: Iterable<MediaPeer>, batch: ResumeBatch): Promise<void> {
    return batch.run([...peers].map((peer) => this.reconcile(peer, batch)));
  }

  /** Brings one peer's consumers in line with what it should receive now (queued behind its previous run). */
  reconcile(peer: MediaPeer, batch: ResumeBatch | undefined): Promise<void> {
    const guarded = (): Promise<void> =>
      this.#run(peer, batch).then(
        () => this.#o.succeeded?.(peer),
        (error: Error) => {
          if (!this.#o.closed()) this.#o.failed(peer, error);
        },
      );
    const chain = (this.#chains.get(peer) ?? Promise.resolve()).then(guarded);
    this.#chains.set(peer, chain);
    return chain;
  }

  async #run(peer: MediaPeer, batch: ResumeBatch | undefined): Promise<void> {
    if (peer.closed || this.#o.closed()) return;
    const transport = peer.transport('recv');
    if (!transport || transport.closed || !peer.rtpCapabilities) return;
    const desired = this.#o.desired(peer);
    const byKey = new Map(desired.map((d) => [d.key, d]));
    const obsolete: ms.Consumer[] = [];
    for (const [key, held] of peer.consumers) {
      const want = byKey.get(key);
      if (!want) {
        obsolete.push(held.consumer);
      } else if (want.slot !== held.slot) {
        held.slot = want.slot;
        peer.sink.consumerSlot(held.consumer.id, want.slot);
        if (want.slot === 'next') await held.consumer.pause().catch(() => undefined);
        else if (held.ready && !this.#videoHeld(peer, held.consumer)) resume(held.consumer, batch);
      }
    }
    const missing = desired.filter((d) => !peer.consumers.has(d.key));
    await Promise.all(missing.map((d) => this.#create(peer, transport, d, batch)));
    for (const consumer of obsolete) consumer.close();
  }

  async #create(peer: MediaPeer, transport: ms.Transport, d: DesiredConsumer<RoutedTrack>, batch: ResumeBatch | undefined): Promise<void> {
    const { trackId: producerId, bridgeId, source } = d.track;
    const worker = peer.worker;
    const routers = this.#o.routers;
    await routers.makeAvailable(producerId, d.track.home, worker);
    const router = routers.router(worker);
    if (!router || transport.closed || peer.closed) return;
    // False also when the producer (or its pipe to this router) closed meanwhile.
    if (!router.canConsume({ producerId, rtpCapabilities: peer.rtpCapabilities! })) return;
    const consumer = await transport.consume({
      producerId,
      rtpCapabilities: peer.rtpCapabilities!,
      paused: true,
      preferredLayers: d.slot === 'thumb' ? { spatialLayer: 0 } : undefined,
      appData: { bridgeId, source, slot: d.slot },
    });
    // The transport closed while the worker made the consumer (a receive transport remade: a
    // hardware hall's new address, a browser's new transport): mediasoup closed the transport's
    // consumers then, but hands this one out open, on a transport the worker no longer has. Held,
    // it would stay paused (its resume fails in the worker) and block the key, so that the run
    // for the new transport, queued behind this one, would not make it there.
    if (transport.closed || peer.closed) {
      consumer.close();
      return;
    }
    // The programme before thumbnails when the peer's downlink is short (see routing/priorities.ts).
    const priority = consumerPriority(d.slot, consumer.kind);
    if (priority !== null) void consumer.setPriority(priority).catch(() => undefined);
    const held: HeldConsumer = { consumer, worker, slot: d.slot, ready: false };
    routers.addLoad(worker, 1);
    consumer.observer.once('close', () => routers.addLoad(worker, -1));
    peer.holdConsumer(d.key, held);
    try {
      await withTimeout(
        peer.sink.consume({ consumerId: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters, bridgeId, source, slot: d.slot }),
        this.#o.consumeTimeoutMs,
      );
    } catch {
      // A client that refused the consumer (or never answered) is not sent its media.
      consumer.close();
      return;
    }
    if (consumer.closed) return;
    held.ready = true;
    // A prepared consumer stays paused until its bridge goes on air; video stays paused while the peer's downlink is held.
    if (held.slot !== 'next' && !this.#videoHeld(peer, consumer)) resume(consumer, batch);
  }

  #videoHeld(peer: MediaPeer, consumer: ms.Consumer): boolean {
    return consumer.kind === 'video' && (this.#o.videoHeld?.(peer) ?? false);
  }
}

function resume(consumer: ms.Consumer, batch: ResumeBatch | undefined): void {
  if (batch) batch.add(consumer);
  else void consumer.resume().catch(() => undefined);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
