// Which halls' links carry no video ("Đường truyền yếu — chỉ âm thanh"): a pure rule over what
// the SFU sees of each hall, and the hysteresis that keeps a flicker from reaching the screens.
// Unit-tested without a worker (test/unit/sfu/audio-only.test.ts); AudioOnlyWatch feeds it.

/** What the SFU knows of one hall's video at a moment. */
export interface LinkVideoFacts {
  /** The hall's browser said it sends no video: its bandwidth estimate leaves no room beside the audio. */
  reportedAudioOnly: boolean;
  /** Its camera producer (absent: it publishes no camera, which is not a weak link). */
  cam?: {
    paused: boolean;
    /** Since it was created: a new producer has no score yet. */
    ageMs: number;
    /** mediasoup's scores of its encodings (0: nothing arrives; an inactive stream is reset to 0 after 1.5 s). */
    scores: readonly number[];
  };
  /** The SFU holds its video (routing/downlink-video.ts): its downlink carries audio only, by the SFU's own choice. */
  downHeld?: boolean;
  /** The programme video it receives (absent: it receives none, e.g. it is on air with the chair's camera off). */
  onAirVideo?: {
    /** Resumed at the server and its producer not paused. */
    resumed: boolean;
    /** Its producer sends some layer (else no hall can get one, and this hall's link is not to blame). */
    sourceSending: boolean;
    /** The SFU forwards it a layer now (mediasoup's estimate of the downlink fits one). */
    hasLayers: boolean;
  };
}

/** A hall's link without video: `up` its camera does not reach the SFU, `down` no video reaches it. */
export interface AudioOnlyFlags {
  up: boolean;
  down: boolean;
}

/** A new camera producer gets this long before its scores count. */
export const CAM_SETTLE_MS = 3000;

/** Whether the SFU forwards no layer of the programme video a hall receives, though it runs and its source sends: its downlink estimate fits none. */
export function noLayerFits(v: LinkVideoFacts['onAirVideo']): boolean {
  return !!v && v.resumed && v.sourceSending && !v.hasLayers;
}

/** What the facts say now, before hysteresis. */
export function audioOnlyNow(f: LinkVideoFacts): AudioOnlyFlags & { reported: boolean; held: boolean } {
  const cam = f.cam;
  const camSilent = !!cam && !cam.paused && cam.ageMs >= CAM_SETTLE_MS && cam.scores.every((s) => s <= 0);
  return {
    up: f.reportedAudioOnly || camSilent,
    down: !!f.downHeld || noLayerFits(f.onAirVideo),
    reported: f.reportedAudioOnly,
    held: !!f.downHeld,
  };
}

/** How long a change must hold before it is told (the hall's own report, and the SFU's hold of its video, enter and leave at once: both already waited). */
export const AUDIO_ONLY_HOLD_MS = { enterUp: 1000, enterDown: 1500, leave: 1000 } as const;

interface Track {
  flags: AudioOnlyFlags;
  /** The last facts had the hall's report (up) and the SFU's hold (down): when they end, the side leaves at once. */
  last: { reported: boolean; held: boolean };
  /** A different value seen since then, not yet told. */
  pending: { up?: { value: boolean; since: number }; down?: { value: boolean; since: number } };
}

/**
 * Per hall, the told state and the changes waiting out their hold. `step` returns the hall's new
 * state when it changed; `forget` a hall that left (told as video again if it was audio only: it
 * is offline now, which the roll-call shows).
 */
export class AudioOnlyHysteresis {
  readonly #tracks = new Map<string, Track>();

  /** Feeds what a hall's facts say at `now`; returns its new state when it changed. */
  step(bridgeId: string, now: ReturnType<typeof audioOnlyNow>, at: number): AudioOnlyFlags | null {
    let track = this.#tracks.get(bridgeId);
    if (!track) this.#tracks.set(bridgeId, (track = { flags: { up: false, down: false }, last: { reported: false, held: false }, pending: {} }));
    const before = { ...track.flags };
    for (const side of ['up', 'down'] as const) {
      const value = now[side];
      if (value === track.flags[side]) {
        delete track.pending[side];
        continue;
      }
      // The hall's report and the SFU's hold are decisions that already waited (a trial verified
      // the link before either ends): they are told at once both ways; the SFU's own signs hold.
      const decided = side === 'up' ? (value ? now.reported : track.last.reported) : value ? now.held : track.last.held;
      const hold = decided ? 0 : !value ? AUDIO_ONLY_HOLD_MS.leave : side === 'up' ? AUDIO_ONLY_HOLD_MS.enterUp : AUDIO_ONLY_HOLD_MS.enterDown;
      const pending = track.pending[side]?.value === value ? track.pending[side]! : (track.pending[side] = { value, since: at });
      if (at - pending.since >= hold) {
        track.flags[side] = value;
        delete track.pending[side];
      }
    }
    track.last = { reported: now.reported, held: now.held };
    const changed = before.up !== track.flags.up || before.down !== track.flags.down;
    if (!track.flags.up && !track.flags.down && !track.pending.up && !track.pending.down) this.#tracks.delete(bridgeId);
    return changed ? { ...track.flags } : null;
  }

  /** A hall that has no peer any more; returns its state as video when it was audio only. */
  forget(bridgeId: string): AudioOnlyFlags | null {
    const track = this.#tracks.get(bridgeId);
    this.#tracks.delete(bridgeId);
    return track && (track.flags.up || track.flags.down) ? { up: false, down: false } : null;
  }

  /** The state told for a hall (video when unknown). */
  flags(bridgeId: string): AudioOnlyFlags {
    const t = this.#tracks.get(bridgeId);
    return t ? { ...t.flags } : { up: false, down: false };
  }

  /** The halls told audio only now. */
  audioOnly(): (AudioOnlyFlags & { bridgeId: string })[] {
    return [...this.#tracks].filter(([, t]) => t.flags.up || t.flags.down).map(([bridgeId, t]) => ({ bridgeId, ...t.flags }));
  }

  /** Halls it keeps (told audio only, or with a change pending). */
  bridges(): string[] {
    return [...this.#tracks.keys()];
  }
}
