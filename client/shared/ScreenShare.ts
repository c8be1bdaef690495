// Sharing this PC's screen (a window, a tab or the whole screen) with every hall, from the page
// where the person clicks: the operator panel for its hall, the chair's console for the province.
//
// The conference state says who shares (the core's `screen_share_start` / `screen_share_stop`);
// this page's part is the picture. The order of a start: the command first (a refusal, such as
// another hall sharing, is said at once, with no picker), then the browser's picker
// (getDisplayMedia, still within the click's activation), then a media client of its own that
// publishes the capture as the hall's `screen` track on the page's media node. The share ends
// here when the person stops it, when the browser's own "Stop sharing" ends the capture (the
// server is told), and when the server says it ended (the chair stopped it, the speech ended, or
// another page of the same hall took the share over): then the capture stops and nothing is sent.
import type { ConferenceView } from '../../server/protocol/control.ts';
import type { ControlClient } from './ControlClient.ts';
import { MediaClient } from './MediaClient.ts';
import { errorText } from './ui.ts';

/** What the capture asks of the browser: a sharp picture (text), at a modest frame rate. */
export const SCREEN_CAPTURE: DisplayMediaStreamOptions = {
  video: { width: { max: 1920 }, height: { max: 1080 }, frameRate: { ideal: 15, max: 30 } },
  audio: false,
};

/** The result of a start or a stop: done, or why not (in Vietnamese, for the page). */
export type ShareResult = { ok: true } | { ok: false; code: string; text: string };

/** One page's screen share (see the file's comment). */
export class ScreenShare {
  readonly #control: ControlClient;
  readonly #token: string;
  /** The hall this page shares as (the core's `sharerBridge`). */
  readonly bridgeId: string;
  #capture: MediaStream | null = null;
  #client: MediaClient | null = null;
  /** The conference's seq after this page's start: a view from then on without this hall's share says it ended. */
  #since = Infinity;
  #starting = false;
  /** Called after every change of the local share (the page redraws its buttons). */
  onChange: () => void = () => {};

  constructor(control: ControlClient, token: string, bridgeId: string) {
    this.#control = control;
    this.#token = token;
    this.bridgeId = bridgeId;
    // The page going away ends its share on the server too (else every display would keep a
    // share whose picture is gone until the chair stopped it).
    addEventListener('pagehide', (e) => {
      if (!e.persisted && this.#capture) void this.stop();
    });
  }

  /** Whether this page is sharing its screen now. */
  get sharing(): boolean {
    return this.#capture !== null;
  }

  /** Whether a start is under way (the picker is open). */
  get starting(): boolean {
    return this.#starting;
  }

  /** The capture being shared (tests and the page's own preview). */
  get capture(): MediaStream | null {
    return this.#capture;
  }

  /** The media client that publishes the capture, while sharing. */
  get client(): MediaClient | null {
    return this.#client;
  }

  /** Starts sharing: call it from the click (the picker needs the click's activation). */
  async start(): Promise<ShareResult> {
    if (this.#capture || this.#starting) return { ok: true };
    this.#starting = true;
    this.onChange();
    try {
      const reply = await this.#control.command({ type: 'screen_share_start' });
      if (!reply.ok) return { ok: false, code: reply.error.code, text: errorText(reply.error) };
      this.#since = reply.data.seq;
      let capture: MediaStream;
      try {
        capture = await navigator.mediaDevices.getDisplayMedia(SCREEN_CAPTURE);
      } catch (error) {
        // Cancelled in the picker, or not allowed: the share the server started ends.
        await this.#control.command({ type: 'screen_share_stop' }).catch(() => undefined);
        const name = (error as DOMException).name;
        return name === 'NotAllowedError'
          ? { ok: false, code: 'cancelled', text: 'Đã hủy chia sẻ màn hình (chưa chọn cửa sổ hoặc màn hình nào).' }
          : { ok: false, code: 'capture_failed', text: `Trình duyệt không chia sẻ được màn hình: ${(error as Error).message}` };
      }
      this.#share(capture);
      return { ok: true };
    } finally {
      this.#starting = false;
      this.onChange();
    }
  }

  /** Stops the share: this page's capture, and the share on the server (this hall's, or as the chair, anyone's). */
  async stop(): Promise<ShareResult> {
    this.#release();
    const reply = await this.#control.command({ type: 'screen_share_stop' });
    // Already over on the server (the chair was quicker): nothing left to stop.
    if (!reply.ok && reply.error.code !== 'invalid_state') return { ok: false, code: reply.error.code, text: errorText(reply.error) };
    return { ok: true };
  }

  /** Follows the server's view: a share of this hall that ended there ends here (a view older than the start says nothing). */
  follow(view: ConferenceView): void {
    if (this.#capture && view.seq >= this.#since && view.screen?.bridgeId !== this.bridgeId) this.#release();
  }

  /** Publishes the capture on a media client of its own; the browser's "Stop sharing" stops the share. */
  #share(capture: MediaStream): void {
    const track = capture.getVideoTracks()[0]!;
    // Text and slides: keep the detail, let the frame rate give.
    track.contentHint = 'detail';
    track.addEventListener('ended', () => {
      if (this.#capture === capture) void this.stop();
    });
    this.#capture = capture;
    const client = new MediaClient({ placement: this.#control.mediaTargets(), token: this.#token, publish: false, share: capture });
    // Another page of this hall took the share over (the newest wins), or the link was refused.
    client.on('state', ({ state }) => {
      if ((state === 'replaced' || state === 'refused') && this.#client === client) this.#release();
    });
    client.on('error', (detail) => console.error(`diemcau: screen share: ${detail.message}`));
    this.#client = client;
    // Stopped while the picker was open (the chair was quicker): nothing to share.
    if (this.#control.view) this.follow(this.#control.view);
  }

  /** Ends the share on this page: the capture stops, its media client leaves. Idempotent. */
  #release(): void {
    const capture = this.#capture;
    if (!capture) return;
    this.#capture = null;
    this.#since = Infinity;
    for (const t of capture.getTracks()) t.stop();
    this.#client?.close();
    this.#client = null;
    this.onChange();
  }
}
