import { EventEmitter } from 'node:events';
import type { MediaSession } from '../../../sfu/index.ts';
import { rtpEndpointOf, type ConferencePlan } from '../../protocol/plan.ts';
import { RtpHall, type DeviceReceiveAddress } from './RtpHall.ts';
import type { DeviceSheet } from './DeviceSheet.ts';

/** Why a request about a hardware hall was refused; the transport turns the code into a status. */
export class RtpHallError extends Error {
  constructor(
    readonly code: 'unknown_bridge' | 'not_allowed' | 'session_closed',
    message: string,
  ) {
    super(message);
    this.name = 'RtpHallError';
  }
}

export interface RtpHallGatewayOptions {
  media: MediaSession;
  plan: ConferencePlan;
  /** The address device-facing ports bind to, and the one devices are told. */
  listenIp: string;
  announcedIp?: string;
  /** Roll-call: the device's media started (true) or stopped (false) arriving. */
  presence: (bridgeId: string, online: boolean) => Promise<void> | void;
  /** A hall is offline when nothing came from its device for this long (3 s). */
  silenceMs?: number;
  /** How often the halls' ports are checked (1 s). */
  pollMs?: number;
}

export type RtpHallGatewayEvents = {
  /** A hall's device sheet changed. */
  sheet: [sheet: DeviceSheet];
  problem: [message: string, error?: unknown];
};

/**
 * The hardware halls of a conference: one RtpHall per bridge of kind "rtp". A hall is online in
 * the roll-call while packets arrive from its device, and drops off when they stop.
 */
export class RtpHallGateway extends EventEmitter<RtpHallGatewayEvents> {
  readonly #halls = new Map<string, RtpHall>();
  readonly #online = new Set<string>();
  readonly #options: RtpHallGatewayOptions;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: RtpHallGatewayOptions) {
    super();
    this.#options = options;
  }

  /** Sets up every hardware hall of the plan (none: an idle gateway). */
  static async create(options: RtpHallGatewayOptions): Promise<RtpHallGateway> {
    const gateway = new RtpHallGateway(options);
    try {
      for (const bridge of options.plan.bridges) {
        const endpoint = rtpEndpointOf(bridge);
        if (!endpoint) continue;
        const hall = await RtpHall.create({ media: options.media, bridge, endpoint, listenIp: options.listenIp, announcedIp: options.announcedIp });
        hall.on('sheet', (sheet) => gateway.emit('sheet', sheet));
        hall.on('problem', (message, error) => gateway.emit('problem', message, error));
        gateway.#halls.set(bridge.id, hall);
      }
    } catch (error) {
      gateway.close();
      throw error;
    }
    if (gateway.#halls.size > 0) {
      gateway.#timer = setInterval(() => gateway.poll(), options.pollMs ?? 1000);
      gateway.#timer.unref();
    }
    return gateway;
  }

  /** The bridges that are hardware halls. */
  get bridgeIds(): string[] {
    return [...this.#halls.keys()];
  }

  /** Whether a bridge is a hardware hall of this conference. */
  has(bridgeId: string): boolean {
    return this.#halls.has(bridgeId);
  }

  /** The hall of a bridge (tests, monitoring). */
  hall(bridgeId: string): RtpHall {
    const hall = this.#halls.get(bridgeId);
    if (!hall) throw new RtpHallError('unknown_bridge', `not a hardware hall [bridgeId:${bridgeId}]`);
    return hall;
  }

  /** What a technician enters on the device of a hardware hall. */
  sheet(bridgeId: string): DeviceSheet {
    return this.hall(bridgeId).sheet();
  }

  /** Tells where the device receives the programme. */
  async setReceiveAddress(bridgeId: string, address: DeviceReceiveAddress): Promise<DeviceSheet> {
    if (this.#closed) throw new RtpHallError('session_closed', 'gateway closed');
    return this.hall(bridgeId).setReceiveAddress(address);
  }

  /** Whether media arrives from the hall's device now. */
  online(bridgeId: string): boolean {
    return this.#online.has(bridgeId);
  }

  /** Checks every hall's ports once and reports the halls whose device started or stopped (the timer calls it). */
  poll(now = Date.now()): void {
    if (this.#closed) return;
    const silence = this.#options.silenceMs ?? 3000;
    for (const [bridgeId, hall] of this.#halls) {
      const last = hall.counters().lastPacketAt;
      const flowing = last > 0 && now - last < silence;
      if (flowing === this.#online.has(bridgeId)) continue;
      if (flowing) this.#online.add(bridgeId);
      else this.#online.delete(bridgeId);
      Promise.resolve(this.#options.presence(bridgeId, flowing)).catch((e: unknown) => this.emit('problem', 'presence update failed', e));
    }
  }

  /** Closes every hall; idempotent. Roll-call is not told (a shutdown is not the devices dropping off). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const hall of this.#halls.values()) hall.close();
    this.#halls.clear();
    this.removeAllListeners();
  }
}
