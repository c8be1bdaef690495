import { EventEmitter } from 'node:events';
import type { MediaSession } from '../../../sfu/index.ts';
import { systemClock, type Clock, type ClockTimer } from '../../core/conference/index.ts';
import { rtpEndpointOf, type ConferencePlan } from '../../protocol/plan.ts';
import { RtpHall, type DeviceReceiveAddress } from './RtpHall.ts';
import type { DeviceSheet } from './DeviceSheet.ts';

/** How long a device may stay silent before its hall is off the roll-call. */
export const SILENCE_MS = 5000;

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
  /** The UDP range the device ports are taken from (the workers' RTC range). */
  portRange?: { min: number; max: number };
  /** Roll-call: the device's media started (true) or stopped (false) arriving. */
  presence: (bridgeId: string, online: boolean) => Promise<void> | void;
  /**
   * A hall is offline when nothing came from its device for this long (5 s: a hall that drops
   * off while speaking returns the floor, so a short hiccup must not count).
   */
  silenceMs?: number;
  /** How often the halls' ports are checked (1 s). */
  pollMs?: number;
  /** Time of the polls (the system clock by default). */
  clock?: Clock;
}

/** What a hardware hall's device is doing now, for the roll-call and the technicians. */
export interface DeviceStatus {
  /** The server accepts media from the device (decrypted, matched to its SSRCs): it is on the roll-call. */
  online: boolean;
  /** Packets reach the device ports (whether or not the server can use them). */
  arriving: boolean;
  /** Packets arrive but the server cannot use them: wrong SRTP key, SSRC or payload type. */
  rejected: boolean;
  packetsFromDevice: { audio: number; video: number };
  /** Packets the hall's producers accepted (since its media was last built). */
  packetsAccepted: number;
  /** Why its picture reaches nobody (RtpHall.videoProblem), or null. */
  videoProblem: string | null;
  /** Video packets given a PictureID on the way in (a device that leaves it out). */
  pictureIdsAdded: number;
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
  /** Per hall: its producers' packet count at the last poll, and when it last grew. */
  readonly #accepted = new Map<string, { packets: number; at: number }>();
  /** Per hall: since when packets have been reaching its ports without a break. */
  readonly #arrivingSince = new Map<string, number>();
  #polling = false;
  readonly #options: RtpHallGatewayOptions;
  readonly #clock: Clock;
  #timer: ClockTimer | undefined;
  #closed = false;

  private constructor(options: RtpHallGatewayOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Sets up every hardware hall of the plan (none: an idle gateway). */
  static async create(options: RtpHallGatewayOptions): Promise<RtpHallGateway> {
    const gateway = new RtpHallGateway(options);
    try {
      for (const bridge of options.plan.bridges) {
        const endpoint = rtpEndpointOf(bridge);
        if (!endpoint) continue;
        const hall = await RtpHall.create({ media: options.media, bridge, endpoint, listenIp: options.listenIp, announcedIp: options.announcedIp, portRange: options.portRange, clock: gateway.#clock });
        hall.on('sheet', (sheet) => gateway.emit('sheet', sheet));
        hall.on('problem', (message, error) => gateway.emit('problem', message, error));
        gateway.#halls.set(bridge.id, hall);
      }
    } catch (error) {
      gateway.close();
      throw error;
    }
    if (gateway.#halls.size > 0) {
      gateway.#timer = gateway.#clock.setInterval(() => void gateway.poll(), options.pollMs ?? 1000, { background: true });
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

  /** Whether the server accepts media from the hall's device now (its roll-call presence). */
  online(bridgeId: string): boolean {
    return this.#online.has(bridgeId);
  }

  /** What the hall's device is doing now. */
  status(bridgeId: string, now = this.#clock.now()): DeviceStatus {
    const counters = this.hall(bridgeId).counters();
    const arriving = counters.lastPacketAt > 0 && now - counters.lastPacketAt < (this.#options.silenceMs ?? SILENCE_MS);
    const online = this.#online.has(bridgeId);
    // Give the first poll time to see the packets accepted before calling them rejected.
    const since = this.#arrivingSince.get(bridgeId);
    const rejected = arriving && !online && since !== undefined && now - since > 2 * (this.#options.pollMs ?? 1000);
    const hall = this.hall(bridgeId);
    return {
      online,
      arriving,
      rejected,
      packetsFromDevice: counters.packets,
      packetsAccepted: this.#accepted.get(bridgeId)?.packets ?? 0,
      videoProblem: online ? hall.videoProblem(now) : null,
      pictureIdsAdded: counters.pictureIdsAdded,
    };
  }

  /**
   * Checks every hall once (the timer calls it): a hall is online while its producers accept
   * packets (counted by the SFU after SRTP and SSRC checks, so a device with a wrong key does not
   * count), and the roll-call is told when that starts or stops.
   */
  async poll(): Promise<void> {
    if (this.#closed || this.#polling) return;
    this.#polling = true;
    try {
      const silence = this.#options.silenceMs ?? SILENCE_MS;
      const ids = [...this.#halls.keys()];
      const counters = await Promise.all(ids.map((id) => this.#options.media.linkCounters(id).catch(() => null)));
      const now = this.#clock.now();
      for (const [i, bridgeId] of ids.entries()) {
        if (this.#closed) return;
        const packets = counters[i]?.up.packets ?? 0;
        const seen = this.#accepted.get(bridgeId);
        // Counters restart when the hall's media is rebuilt: only growth means media.
        if (!seen || packets < seen.packets) this.#accepted.set(bridgeId, { packets, at: seen && packets > 0 ? now : 0 });
        else if (packets > seen.packets) this.#accepted.set(bridgeId, { packets, at: now });
        const last = this.#halls.get(bridgeId)!.counters().lastPacketAt;
        if (last === 0 || now - last >= silence) this.#arrivingSince.delete(bridgeId);
        else if (!this.#arrivingSince.has(bridgeId)) this.#arrivingSince.set(bridgeId, now);
        const at = this.#accepted.get(bridgeId)!.at;
        const flowing = at > 0 && now - at < silence;
        if (flowing === this.#online.has(bridgeId)) continue;
        if (flowing) this.#online.add(bridgeId);
        else this.#online.delete(bridgeId);
        Promise.resolve(this.#options.presence(bridgeId, flowing)).catch((e: unknown) => this.emit('problem', 'presence update failed', e));
      }
    } finally {
      this.#polling = false;
    }
  }

  /** Closes every hall; idempotent. Roll-call is not told (a shutdown is not the devices dropping off). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearInterval(this.#timer);
    for (const hall of this.#halls.values()) hall.close();
    this.#halls.clear();
    this.removeAllListeners();
  }
}
