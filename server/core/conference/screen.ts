// Screen sharing: who shares a window or screen as the content track, as conference state.
//
// The shared screen is one value of the state, `screen`: which hall's content track every hall
// receives beside the programme. The SFU's routing reads it (through `sharingBridgeOf`) and
// routes that hall's `screen` track; nothing else decides who shares.
//
// Decisions:
// - One content at a time: a shared screen and a document on screen exclude each other. Someone
//   who may take the document down (papers.ts: the office, or the speaking hall for its own
//   paper) replaces it by sharing; anyone else is refused with `content_busy`. Another hall's
//   share is never replaced silently: it is stopped first (`content_busy` until then).
// - Who shares: the province (the chair's console and the secretary, as the chair's hall, and
//   the chair's hall's operator) at any time during the meeting; another hall's operator only
//   while its hall holds the floor (as for papers). Anyone else: `forbidden`.
// - Who stops: the chair and the secretary, any share; a hall's operator, its own hall's share.
//   A share made during the sharing hall's own speech stops when that speech ends; the end of
//   the meeting stops any share; the office putting a document up replaces it.
// - A share whose picture is gone ends by itself (`source_lost`): the server watches the sharing
//   hall's `screen` track and, when the share has had none for a grace, issues
//   `screen_source_lost` as the system (the sharing PC crashed, lost power or its network: no
//   page said goodbye). The limits and the instant are the rules below; the watch is the app's.
import { refuse } from './errors.ts';
import { isId } from './validate.ts';
import type { Actor, CommandOf, ConferenceEvent, ConferenceState, FloorHolder, Refused } from './types.ts';

/** A hall's screen shared to every hall. */
export interface ScreenShare {
  /** The hall whose `screen` track is routed (the chair's hall when the province shares). */
  bridgeId: string;
  startedAt: number;
  by: Actor;
  /** The speech going on when the share started; if it is the sharing hall's own, its end stops the share. */
  speechRequestId: string | null;
}

/** Why a share stopped (`source_lost`: its picture was gone for longer than the grace). */
export type ScreenStopReason = 'stopped' | 'replaced' | 'speech_ended' | 'meeting_ended' | 'source_lost';

/** The last share that ended, and why (what the screens say after it). */
export interface ScreenShareEnded {
  bridgeId: string;
  reason: ScreenStopReason;
  at: number;
}

/**
 * How long a share may be without its `screen` track before it ends (`source_lost`). The track
 * outlives short trouble by itself: an ICE restart keeps it, and a page whose socket is lost
 * keeps it while the server waits for the page to come back (the media socket's resume window,
 * 15 s). It goes when the page is gone for good (closed, crashed, or away past that window) and
 * comes back only when the page joins anew (a node or worker lost, a resume refused): the page's
 * socket reconnects within 3 s (its longest retry delay) and publishes again within a few
 * seconds more on a loaded machine. 10 s covers that rejoin; a crashed PC's share then ends
 * about 25 s after its link dropped (resume window + this).
 */
export const SCREEN_SOURCE_GRACE_MS = 10_000;

/**
 * How long a share waits for its first `screen` track: the person is still choosing a window
 * in the browser's picker (the share starts on the server before the picker opens).
 */
export const SCREEN_SOURCE_FIRST_GRACE_MS = 30_000;

/**
 * The instant a share without a live `screen` track ends: `goneAt` is when its track was last
 * seen going (or when the server began to watch a share it found without one); null when no
 * track has come since the share started.
 */
export function screenSourceDeadline(screen: Pick<ScreenShare, 'startedAt'>, goneAt: number | null): number {
  if (goneAt === null) return screen.startedAt + SCREEN_SOURCE_FIRST_GRACE_MS;
  return Math.max(goneAt, screen.startedAt) + SCREEN_SOURCE_GRACE_MS;
}

type Out = ConferenceEvent[];

/** The hall whose screen every hall receives now, or undefined (what the SFU's routing reads). */
export function sharingBridgeOf(state: ConferenceState): string | undefined {
  return state.screen?.bridgeId;
}

/** The hall an actor would share as: an operator its own hall, the chair's console and the secretary the chair's hall. */
export function sharerBridgeOf(state: ConferenceState, actor: Actor): string | undefined {
  return sharerBridge(actor, state.config.chairBridgeId);
}

/**
 * The same rule without the state (the media signalling, which publishes a page's screen as
 * that hall's content track, and the pages): undefined for a role that never shares.
 */
export function sharerBridge(actor: Pick<Actor, 'role' | 'bridgeId'>, chairBridgeId: string): string | undefined {
  if (actor.role === 'operator') return actor.bridgeId;
  if (actor.role === 'chair' || actor.role === 'secretary') return chairBridgeId;
  return undefined;
}

/** Whether an actor may share its screen now (the role and floor rule, not the busy rule). */
export function mayShareScreen(state: ConferenceState, actor: Actor): boolean {
  const bridgeId = sharerBridgeOf(state, actor);
  if (bridgeId === undefined) return false;
  if (bridgeId === state.config.chairBridgeId) return true;
  return state.floor?.bridgeId === bridgeId;
}

/** Whether an actor may start a share now: the role and floor rule, during the meeting (the panels offer the button then). */
export function mayStartScreenShare(state: ConferenceState, actor: Actor): boolean {
  return mayShareScreen(state, actor) && meetingOn(state);
}

/** Whether the meeting is on (started, not ended): shares happen only then. */
function meetingOn(state: ConferenceState): boolean {
  return state.startedAt !== null && state.endedAt === null;
}

/** Whether an actor may stop the share on now. */
export function mayStopScreen(state: ConferenceState, actor: Actor): boolean {
  const screen = state.screen;
  if (!screen) return false;
  if (actor.role === 'chair' || actor.role === 'secretary') return true;
  return actor.role === 'operator' && actor.bridgeId === screen.bridgeId;
}

/**
 * screen_share_start: the actor's hall shares its screen. The document on screen is taken down
 * if the actor may take it down (`clearDocument` is papers.ts's, passed in to keep one rule).
 */
export function startScreenShare(
  d: ConferenceState,
  c: CommandOf<'screen_share_start'>,
  now: number,
  out: Out,
  document: { mayClear: (actor: Actor) => boolean; clear: () => void },
): Refused | void {
  if (!mayShareScreen(d, c.actor)) return refuse('forbidden', 'a hall shares its screen only while it holds the floor; the province at any time');
  if (!meetingOn(d)) return refuse('invalid_state', `a screen is shared only during the meeting [status:${d.status}]`);
  const bridgeId = sharerBridgeOf(d, c.actor)!;
  const current = d.screen ?? null;
  if (current) {
    if (current.bridgeId === bridgeId) return; // the same hall again (a new track): nothing changes
    return refuse('content_busy', `another hall is sharing its screen [bridgeId:${current.bridgeId}]`);
  }
  if (d.content) {
    if (!document.mayClear(c.actor)) return refuse('content_busy', `a document is on screen [paperId:${d.content.paperId}]`);
    document.clear();
  }
  const by: Actor = c.actor.bridgeId === undefined ? { role: c.actor.role } : { role: c.actor.role, bridgeId: c.actor.bridgeId };
  d.screen = { bridgeId, startedAt: now, by, speechRequestId: d.floor?.requestId ?? null };
  d.screenEnded = null;
  out.push({ type: 'screen_shared', bridgeId, speechRequestId: d.screen.speechRequestId });
}

/** screen_share_stop: the chair, the secretary or the sharing hall stops the share. */
export function stopScreenShareCommand(d: ConferenceState, c: CommandOf<'screen_share_stop'>, now: number, out: Out): Refused | void {
  if (!d.screen) return refuse('invalid_state', 'no screen is shared');
  if (!mayStopScreen(d, c.actor)) return refuse('forbidden', 'only the chair, the secretary or the sharing hall stops a shared screen');
  stopScreenShare(d, now, 'stopped', out);
}

/**
 * screen_source_lost: the server found the share of `bridgeId` without its picture for longer
 * than the grace. Only the system issues it (decide checks the role). A share of another hall,
 * or a newer share than the one judged (`startedAt` given and different), is left alone; no
 * share: nothing happens (the watch of another instance, or a stop, was quicker).
 */
export function screenSourceLost(d: ConferenceState, c: CommandOf<'screen_source_lost'>, now: number, out: Out): Refused | void {
  if (!isId(c.bridgeId)) return refuse('invalid_argument', 'bridgeId must be a bridge id');
  if (c.startedAt !== undefined && !Number.isFinite(c.startedAt)) return refuse('invalid_argument', 'startedAt must be epoch milliseconds');
  const screen = d.screen;
  if (!screen || screen.bridgeId !== c.bridgeId) return;
  if (c.startedAt !== undefined && c.startedAt !== screen.startedAt) return;
  stopScreenShare(d, now, 'source_lost', out);
}

/** Stops the share on (if any). */
export function stopScreenShare(d: ConferenceState, now: number, reason: ScreenStopReason, out: Out): void {
  const screen = d.screen;
  if (!screen) return;
  d.screen = null;
  d.screenEnded = { bridgeId: screen.bridgeId, reason, at: now };
  out.push({ type: 'screen_share_stopped', bridgeId: screen.bridgeId, reason, sharedSec: Math.round((now - screen.startedAt) / 1000) });
}

/** When a speech ends, a share the speaking hall started during it stops. */
export function onSpeechEndedScreen(d: ConferenceState, ended: FloorHolder, now: number, out: Out): void {
  const screen = d.screen;
  if (screen && screen.bridgeId === ended.bridgeId && screen.speechRequestId === ended.requestId) stopScreenShare(d, now, 'speech_ended', out);
}
