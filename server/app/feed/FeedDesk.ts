// The feed desk: ties the conference to its feed (the press feed and the archive recordings of
// what is on air). It keeps what is drawn over the picture (the chair's hall's maket, the
// speaker's lower third, the page on screen beside the speaker) in step with the conference, runs the output while the press feed is
// configured or a recording is on, and starts and stops the archive recordings when the
// conference state says so (the secretary's or the chair's command, the end of the meeting, or a
// restart in the middle of a recording).
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { MediaSession } from '../../../sfu/index.ts';
import { formatTime, type Clock, type ConferenceState } from '../../core/conference/index.ts';
import { renderMaket } from '../../core/maket.ts';
import { hallPhrase } from '../../core/names.ts';
import type { ConferencePlan } from '../../protocol/plan.ts';
import { livePlan } from '../view.ts';
import type { ConferenceStateSource } from '../conference/ConferenceFollower.ts';
import { FeedOutput, type PressFeedTarget } from './FeedOutput.ts';
import type { Overlay } from './FeedEncoder.ts';
import type { Recorder } from './Recorder.ts';
import { chaptersFromLog, type Chapter } from './chapters.ts';
import { ContentPanel } from './ContentPanel.ts';
import { paperOnDisk } from '../papers/PaperDesk.ts';

/**
 * What the desk follows: the conference's plan and state (the runner on a control instance, a
 * follower of the store on a media node), and the media session it takes the picture from.
 */
export interface FeedSource {
  readonly conferenceId: string;
  readonly plan: ConferencePlan;
  readonly chairBridgeId: string;
  readonly runner: ConferenceStateSource;
  readonly media: MediaSession;
}

export interface FeedDeskOptions {
  /** Send the feed to the press here (always on while the server runs). */
  pressFeed?: PressFeedTarget;
  /** Where recordings are written. */
  recordingsDir: string;
  /** The data directory whose papers the page on screen is drawn from (DIEMCAU_DATA_DIR; shared with the control plane's, or the same host). */
  dataDir?: string;
  width?: number;
  height?: number;
  fps?: number;
  videoKbps?: number;
  /** x264 preset of the re-encoder. */
  preset?: string;
  /** Time of the recordings (their start, stop and chapters). */
  clock: Clock;
}

/** A finished recording, as its sidecar index says. */
export interface RecordingIndex {
  recordingId: string;
  /** File name in the recordings directory. */
  file: string;
  title: string;
  startedAt: number;
  stoppedAt: number;
  /** Wall-clock time of the file's first frame (its time zero). */
  zeroAt: number;
  chapters: Chapter[];
}

export type FeedDeskEvents = {
  /** A recording was finished (file closed, chapters in, sidecar written). */
  recorded: [index: RecordingIndex];
  problem: [message: string, error?: unknown];
};

interface ActiveRecording {
  recordingId: string;
  startedAt: number;
  file: string;
  recorder: Recorder;
}

/** Runs the feed output and the recordings of one conference. */
export class FeedDesk extends EventEmitter<FeedDeskEvents> {
  readonly #source: FeedSource;
  readonly #clock: Clock;
  readonly #options: FeedDeskOptions;
  #output: Promise<FeedOutput> | undefined;
  #active: ActiveRecording | undefined;
  /** Serialises starts and stops. */
  #chain: Promise<void> = Promise.resolve();
  #overlayKey = '';
  /** The content drawn in the panel now ('' before the output, 'none', or paper:page). */
  #panelKey = '';
  #panel: ContentPanel | undefined;
  #closed = false;
  readonly #onChanged = (): void => this.#refresh();

  constructor(source: FeedSource, options: FeedDeskOptions) {
    super();
    this.#source = source;
    this.#options = options;
    this.#clock = options.clock;
    fs.mkdirSync(options.recordingsDir, { recursive: true });
    source.runner.on('state', this.#onChanged);
    if (options.pressFeed) void this.output().catch((e: unknown) => this.emit('problem', 'feed output failed to start', e));
    this.#refresh();
  }

  /** The output, started on first use. */
  output(): Promise<FeedOutput> {
    if (this.#closed) return Promise.reject(new Error('feed desk closed'));
    this.#output ??= this.#startOutput().catch((error: unknown) => {
      this.#output = undefined;
      throw error;
    });
    return this.#output;
  }

  /** Whether the output runs now (for tests). */
  get running(): boolean {
    return this.#output !== undefined;
  }

  /** The recording in progress in this process. */
  get active(): { recordingId: string; file: string; pid: number | undefined } | undefined {
    const a = this.#active;
    return a && { recordingId: a.recordingId, file: a.file, pid: a.recorder.pid };
  }

  async #startOutput(): Promise<FeedOutput> {
    const plan = this.#source.plan;
    const maket = livePlan(plan, this.#source.runner.state as ConferenceState).maket;
    const output = await FeedOutput.create({
      media: this.#source.media,
      pressFeed: this.#options.pressFeed,
      width: this.#options.width,
      height: this.#options.height,
      fps: this.#options.fps,
      videoKbps: this.#options.videoKbps,
      preset: this.#options.preset,
      maketBackground: maket.background,
      maketText: maket.textColour,
      overlay: this.overlay(),
      panel: await this.#panelPng(this.#contentKey()),
      clock: this.#clock,
    });
    this.#panelKey = this.#contentKey();
    output.on('problem', (m) => this.emit('problem', m));
    // A re-encoder that died cut the recording: its file is finished, and it goes on in a new one.
    output.on('restarted', () => {
      const active = this.#active;
      if (!active) return;
      this.#serial(async () => {
        await this.#stopRecording(active);
        await this.#startRecording(active.recordingId, this.#clock.now());
      });
    });
    if (this.#closed) {
      await output.close();
      throw new Error('feed desk closed');
    }
    return output;
  }

  /**
   * What is drawn over the picture: the chair's hall's maket (the organiser's banner, as the
   * chair's hall shows it) and the lower third of whoever is on air.
   */
  overlay(): Overlay {
    const source = this.#source;
    const state = source.runner.state as ConferenceState;
    const plan = livePlan(source.plan, state);
    const maket = renderMaket(plan, source.chairBridgeId).lines;
    const name = (id: string): string => source.plan.bridges.find((b) => b.id === id)?.name ?? id;
    let lowerThird: [string, string];
    if (state.status === 'break') lowerThird = ['Giải lao', hallPhrase(name(source.chairBridgeId))];
    else if (state.floor) {
      const f = state.floor;
      lowerThird = [f.speakerName || hallPhrase(name(f.bridgeId)), [f.speakerTitle, hallPhrase(name(f.bridgeId))].filter(Boolean).join(' — ')];
    } else lowerThird = ['Chủ tọa hội nghị', hallPhrase(name(source.chairBridgeId))];
    return { maket, lowerThird };
  }

  /** Follows the conference: the overlay texts, and the recording the state asks for. */
  #refresh(): void {
    if (this.#closed) return;
    const overlay = this.overlay();
    const key = JSON.stringify(overlay);
    if (key !== this.#overlayKey && this.#output) {
      this.#overlayKey = key;
      void this.#output.then((o) => o.setOverlay(overlay)).catch(() => undefined);
    }
    const content = this.#contentKey();
    if (content !== this.#panelKey && this.#output) {
      this.#panelKey = content;
      void Promise.all([this.#output, this.#panelPng(content)])
        .then(([o, png]) => {
          // A later change may have been drawn first: only the current content goes on.
          if (this.#panelKey === content && !this.#closed) o.setPanel(png);
        })
        .catch((e: unknown) => this.emit('problem', `content panel failed [content:${content}]`, e));
    }
    const wanted = (this.#source.runner.state as ConferenceState).recording ?? null;
    const active = this.#active;
    if (wanted && active?.recordingId !== wanted.recordingId) this.#serial(() => this.#startRecording(wanted.recordingId, wanted.startedAt));
    else if (!wanted && active) this.#serial(() => this.#stopRecording(active));
  }

  /** What the panel shows: 'none', or the paper and page on screen. */
  #contentKey(): string {
    const content = (this.#source.runner.state as ConferenceState).content;
    return content ? `${content.paperId}:${content.page}` : 'none';
  }

  /** The panel for a content key; null (no content) for none, or when the paper's file is not on this server. */
  async #panelPng(key: string): Promise<Buffer | null> {
    this.#panel ??= new ContentPanel(this.#options.width ?? 1280, this.#options.height ?? 720, this.#clock);
    if (key === 'none') return null;
    const [paperId, page] = key.split(':') as [string, string];
    const dataDir = this.#options.dataDir;
    const file = dataDir === undefined ? undefined : paperOnDisk(dataDir, this.#source.conferenceId, paperId);
    if (!file) {
      this.emit('problem', `the paper on screen is not on this server's disk [paperId:${paperId}]`);
      return null;
    }
    // A page that cannot be drawn leaves the speaker full frame rather than the feed without a picture.
    return this.#panel.page(paperId, file, Number(page)).catch((error: unknown) => {
      this.emit('problem', `the page on screen could not be drawn [paperId:${paperId}, page:${page}]`, error);
      return null;
    });
  }

  #serial(work: () => Promise<void>): void {
    this.#chain = this.#chain.then(work).catch((e: unknown) => void this.emit('problem', 'recording failed', e));
  }

  async #startRecording(recordingId: string, startedAt: number): Promise<void> {
    const state = this.#source.runner.state as ConferenceState;
    if (this.#closed || state.recording?.recordingId !== recordingId || this.#active?.recordingId === recordingId) return;
    if (this.#active) await this.#stopRecording(this.#active);
    const output = await this.output();
    output.setOverlay(this.overlay());
    // A recording resumed after a restart goes on in a second file.
    let file = path.join(this.#options.recordingsDir, `${this.#source.conferenceId}-${recordingId}.mkv`);
    for (let n = 2; fs.existsSync(file) || fs.existsSync(file.replace(/\.mkv$/, '.part.mkv')); n++) {
      file = path.join(this.#options.recordingsDir, `${this.#source.conferenceId}-${recordingId}-${n}.mkv`);
    }
    const from = Math.max(startedAt, this.#clock.now() - 1000);
    this.#active = { recordingId, startedAt: from, file, recorder: output.record(file, from) };
  }

  async #stopRecording(active: ActiveRecording): Promise<void> {
    if (this.#active !== active) return;
    this.#active = undefined;
    const stoppedAt = this.#clock.now();
    // What was live just before the stop is still in the re-encoder (its latency, more on a
    // loaded host): the recorder takes the stream until the picture of the stop has gone in.
    const output = await this.#output;
    await output?.release(active.recorder, stoppedAt, this.#closed ? 0 : 5000);
    const zeroAt = active.recorder.firstFrameAt ?? active.startedAt;
    const plan = this.#source.plan;
    const names = {
      items: new Map(plan.programme.map((i) => [i.id, i.title])),
      bridges: new Map(plan.bridges.map((b) => [b.id, b.name])),
    };
    const log = await this.#source.runner.readLog(0).catch(() => []);
    const chapters = chaptersFromLog(log, { from: active.startedAt, to: stoppedAt, zeroAt }, names);
    const title = `${plan.title} — ${formatTime(active.startedAt, 0).slice(0, 10)}`;
    await active.recorder.stop(chapters, title);
    const index: RecordingIndex = { recordingId: active.recordingId, file: path.basename(active.file), title, startedAt: active.startedAt, stoppedAt, zeroAt, chapters };
    fs.writeFileSync(`${active.file}.json`, `${JSON.stringify(index, null, 2)}\n`);
    this.emit('recorded', index);
    // Without a press feed the re-encoder runs only for recordings.
    if (!this.#options.pressFeed && !this.#active) await this.#stopOutput();
  }

  async #stopOutput(): Promise<void> {
    const output = this.#output;
    this.#output = undefined;
    this.#overlayKey = '';
    this.#panelKey = '';
    await (await output?.catch(() => undefined))?.close();
  }

  /** Finished recordings, newest first (from their sidecar indexes). */
  list(): RecordingIndex[] {
    const dir = this.#options.recordingsDir;
    const out: RecordingIndex[] = [];
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (!name.endsWith('.mkv.json')) continue;
      try {
        out.push(JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as RecordingIndex);
      } catch {
        // a sidecar being written
      }
    }
    return out.sort((a, b) => b.startedAt - a.startedAt);
  }

  /** The path of a finished recording or its index, if it is one of ours. */
  fileOf(name: string): string | undefined {
    if (!/^[A-Za-z0-9._-]+\.mkv(\.json)?$/.test(name)) return undefined;
    const file = path.join(this.#options.recordingsDir, name);
    return fs.existsSync(file) ? file : undefined;
  }

  /**
   * Finishes the recording in progress (the file gets its chapters; the state still says
   * recording, so a restarted server goes on in a new file) and stops the output. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#source.runner.off('state', this.#onChanged);
    await this.#chain;
    if (this.#active) await this.#stopRecording(this.#active).catch((e: unknown) => this.emit('problem', 'recording stop failed', e));
    this.#closed = true;
    await this.#stopOutput();
    this.#panel?.close();
    this.removeAllListeners();
  }
}
