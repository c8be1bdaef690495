import type { LinkQuality } from './linkQuality.ts';

/**
 * The link between the two pages of one hall on the hall's PC: the display (hall.html, on the
 * projector) holds the media — it publishes the camera and microphone and plays the programme —
 * and the operator panel (operator.html, on the operator's screen) steers it. Same origin, same
 * browser, so a BroadcastChannel named after the conference and the bridge joins them; no
 * server round trip, and nothing is sent twice.
 */

/** What the display tells the panel, about once a second and at each change. */
export interface DisplayStatus {
  type: 'status';
  /** MediaClient state of the display ('live', 'reconnecting', …). */
  mediaState: string;
  micOpen: boolean;
  publishing: { mic: boolean; cam: boolean };
  /** The devices on the air (ids and labels as enumerateDevices gives them) and the loudspeaker the programme plays on. */
  devices: { videoId: string | null; videoLabel: string; audioId: string | null; audioLabel: string; speakerId: string | null };
  link: LinkQuality;
  /** The bridge on air. */
  onAir: string;
  /** Whether the display still waits for the click that allows sound. */
  needsClick: boolean;
}

/** Messages from the display. */
export type DisplayMessage = DisplayStatus | { type: 'device-result'; reqId: string; ok: boolean; error?: string } | { type: 'bye' };

/** Messages from the panel. */
export type PanelMessage = { type: 'hello' } | { type: 'use-device'; reqId: string; kind: DeviceKind; deviceId: string };

/** What the operator chooses: the camera, the microphone, the loudspeaker (an audio output). */
export type DeviceKind = 'audio' | 'video' | 'speaker';

/** The channel name of one hall of one conference. */
export function hallChannelName(conferenceId: string, bridgeId: string): string {
  return `diemcau-hall:${conferenceId}:${bridgeId}`;
}

/** Typed ends of the channel: `DisplayEnd` is held by hall.html, `PanelEnd` by operator.html. */
class HallChannel<Out, In extends { type: string }> {
  readonly #channel: BroadcastChannel;
  readonly #handlers = new Set<(msg: In) => void>();

  constructor(name: string) {
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (e: MessageEvent) => {
      const msg = e.data as In;
      if (!msg || typeof msg.type !== 'string') return;
      for (const fn of this.#handlers) fn(msg);
    };
  }

  /** Calls fn for each message from the other page. */
  onMessage(fn: (msg: In) => void): void {
    this.#handlers.add(fn);
  }

  post(msg: Out): void {
    this.#channel.postMessage(msg);
  }

  close(): void {
    this.#handlers.clear();
    this.#channel.close();
  }
}

/** The display's end of the hall link. */
export class DisplayEnd extends HallChannel<DisplayMessage, PanelMessage> {}

/** The panel's end of the hall link. */
export class PanelEnd extends HallChannel<PanelMessage, DisplayMessage> {}

/** Where the operator's device choice is remembered on this PC (the display reopens the same camera and microphone). */
export function deviceChoiceKey(bridgeId: string): string {
  return `diemcau.devices.${bridgeId}`;
}

/** The device ids chosen on this PC for a hall, if any. */
export function loadDeviceChoice(bridgeId: string): { videoId?: string; audioId?: string; speakerId?: string } {
  try {
    return JSON.parse(localStorage.getItem(deviceChoiceKey(bridgeId)) ?? '{}') as { videoId?: string; audioId?: string; speakerId?: string };
  } catch {
    return {};
  }
}

/** Remembers a device choice for a hall on this PC. */
export function saveDeviceChoice(bridgeId: string, kind: DeviceKind, deviceId: string): void {
  const choice = loadDeviceChoice(bridgeId);
  if (kind === 'audio') choice.audioId = deviceId;
  else if (kind === 'speaker') choice.speakerId = deviceId;
  else choice.videoId = deviceId;
  localStorage.setItem(deviceChoiceKey(bridgeId), JSON.stringify(choice));
}
