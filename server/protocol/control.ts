/**
 * The control protocol: the commands people give (floor, timer, agenda, roll-call, maket) and
 * what the server pushes back. Imported by the server (which validates every payload) and by
 * the browser apps. The actor of a command is never sent: the server takes it from the token.
 */
import { z } from 'zod';
import {
  MAX_ATTENDEES,
  MAX_EXTEND_SECONDS,
  MAX_MAKET_LINE,
  MAX_MAKET_LINES,
  MAX_SPEAKER_NAME,
  MAX_SPEAKER_TITLE,
  MAX_TOPIC,
} from '../core/conference/validate.ts';
import type { ConferenceEvent, ErrorCode as ConferenceErrorCode } from '../core/conference/types.ts';
import { MAX_MESSAGE_TEXT, MESSAGE_KINDS, STAFF, type MessageKind, type MessageSenderRole } from '../core/conference/messages.ts';
import type { HealthStatus, LinkSample } from '../core/health.ts';
import { BridgeId, MediaPathSchema, type AudioOnlyState, type ErrorCode as WireErrorCode } from './media.ts';
import { screenText } from './text.ts';
import { ContentCommands, type ContentView, type PaperSlotView, type PapersView, type ScreenEndedView } from './papers.ts';

// The limits come from the core (one source): a payload the wire lets through is never refused by
// the core for its length or range, and the apps' input fields use the same numbers.
export { MAX_ATTENDEES, MAX_EXTEND_SECONDS, MAX_MAKET_LINE, MAX_MAKET_LINES, MAX_MESSAGE_TEXT, MAX_SPEAKER_NAME, MAX_SPEAKER_TITLE, MAX_TOPIC };

/** What an access token looks like: 16 random bytes, base64url (22 characters). */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** A per-conference access token. */
export const Token = z.string().regex(TOKEN_PATTERN, 'not an access token');

/** Socket handshake `auth` of both namespaces. */
export const TokenAuth = z.object({ token: Token });

/**
 * Why a page's link is refused, on both namespaces: in the `data.code` of a connect_error (its
 * message stays 'unauthenticated'), in the 'session:refused' event sent just before the server
 * cuts a socket off, and as `refusal` in a REST 401. A page told so stops retrying and says why.
 */
export const TOKEN_REFUSALS = ['token_revoked', 'token_invalid'] as const;
export type TokenRefusal = (typeof TOKEN_REFUSALS)[number];

const MaketOverride = z.strictObject({
  // A maket line may be left blank (spacing); every line follows the text rule.
  lines: z.array(screenText(MAX_MAKET_LINE, { allowEmpty: true })).min(1).max(MAX_MAKET_LINES).optional(),
  background: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
  textColour: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
});

/** A floor request's id as the core makes them ('r12'); a short pattern keeps junk out of messages and logs. */
const RequestId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a request id');

// Every command is a strict object: a field the server does not know (a typo, `__proto__`) is refused, not ignored.
/** Commands a person may send (the app adds the actor; system commands are not accepted). */
export const ClientCommand = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('start_meeting') }),
  z.strictObject({ type: z.literal('end_meeting') }),
  z.strictObject({
    type: z.literal('request_floor'),
    bridgeId: BridgeId,
    speakerName: screenText(MAX_SPEAKER_NAME),
    speakerTitle: screenText(MAX_SPEAKER_TITLE),
    topic: screenText(MAX_TOPIC, { allowEmpty: true }).nullish(),
  }),
  z.strictObject({ type: z.literal('cancel_request'), requestId: RequestId }),
  z.strictObject({ type: z.literal('move_request'), requestId: RequestId, toIndex: z.number().int().min(0).max(1000) }),
  z.strictObject({ type: z.literal('grant_floor'), requestId: RequestId }),
  z.strictObject({ type: z.literal('grant_next') }),
  z.strictObject({ type: z.literal('revoke_floor') }),
  z.strictObject({ type: z.literal('yield_floor') }),
  z.strictObject({ type: z.literal('timer_pause') }),
  z.strictObject({ type: z.literal('timer_resume') }),
  z.strictObject({ type: z.literal('timer_extend'), seconds: z.number().int().min(1).max(MAX_EXTEND_SECONDS) }),
  z.strictObject({ type: z.literal('agenda_next') }),
  z.strictObject({ type: z.literal('agenda_prev') }),
  z.strictObject({ type: z.literal('agenda_goto'), index: z.number().int().min(0).max(1000) }),
  z.strictObject({ type: z.literal('break_start') }),
  z.strictObject({ type: z.literal('break_end') }),
  z.strictObject({ type: z.literal('report_ready'), bridgeId: BridgeId, attendees: z.number().int().min(0).max(MAX_ATTENDEES), ready: z.boolean().optional() }),
  // "Tắt micrô tạm thời": an operator closes its hall's microphone for a moment (the server's rule still decides who may be open).
  z.strictObject({ type: z.literal('mute_hall'), bridgeId: BridgeId, muted: z.boolean() }),
  z.strictObject({ type: z.literal('set_maket'), maket: MaketOverride.nullable() }),
  z.strictObject({ type: z.literal('set_date'), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).nullable() }),
  // The archive recording (secretary and chair).
  z.strictObject({ type: z.literal('recording_start') }),
  z.strictObject({ type: z.literal('recording_stop') }),
  // The back-channel: a hall writes to the organisers ('staff'); an organiser to them or to one hall.
  z.strictObject({
    type: z.literal('send_message'),
    to: z.union([z.literal(STAFF), BridgeId]),
    kind: z.enum(MESSAGE_KINDS),
    text: screenText(MAX_MESSAGE_TEXT, { allowEmpty: true }).nullish(),
  }),
  // The content on every screen: put a paper up, turn its pages, take it down (papers.ts).
  ...ContentCommands,
]);
export type ClientCommand = z.infer<typeof ClientCommand>;

const metric = (max: number) => z.number().finite().min(0).max(max).nullish();
/** What a hall's browser measures of its link, every 2 seconds. */
export const ClientLinkReport = z.strictObject({
  rttMs: metric(60_000),
  jitterMs: metric(60_000),
  lossUpPct: metric(100),
  lossDownPct: metric(100),
  fpsSent: metric(240),
  fpsReceived: metric(240),
  frameHeightSent: metric(4320),
  frameHeightReceived: metric(4320),
  availableOutKbps: metric(1_000_000),
  audioLevel: metric(1),
  /** How its media reaches the SFU (its selected candidate pair): UDP, TCP, or TURN over UDP, TCP or TLS. */
  mediaPath: MediaPathSchema.nullish(),
});
export type ClientLinkReport = z.infer<typeof ClientLinkReport>;

/** What a hall measured in the pre-meeting link test. */
export const LinkTestResult = z.strictObject({
  testId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a test id'),
  rttMs: metric(60_000),
  lossPct: metric(100),
  /** The outgoing bitrate the browser's estimate reached while sending all layers. */
  bitrateKbps: metric(1_000_000),
  camera: z.boolean(),
  microphone: z.boolean(),
  mediaConnected: z.boolean(),
});
export type LinkTestResult = z.infer<typeof LinkTestResult>;

/** Requests on the control namespace, each answered through the acknowledgement. */
export const ControlRequests = {
  'control:command': ClientCommand,
  'control:snapshot': z.object({}).strict(),
  /** Clock offset estimation: the client sends its clock, the server answers with its own. */
  'time:sync': z.strictObject({ clientNow: z.number().finite() }),
  /** A hall's browser reports its link (operators only; the bridge is the token's). */
  'health:report': ClientLinkReport,
  /** The technicians' drill-down: a bridge's history and events. */
  'health:bridge': z.strictObject({ bridgeId: BridgeId }),
  /** Staff: ask these halls to run the pre-meeting link test now. */
  'health:startTest': z.strictObject({ bridgeIds: z.array(BridgeId).min(1).max(256) }),
  /** A hall's result of the link test (operators only). */
  'health:testResult': LinkTestResult,
  /** Where this page's media goes (its node's URL); places it first if needed. Later moves come as `media:placement`. */
  'media:where': z.object({}).strict(),
  /** Staff: the media nodes and which node each hall is on. */
  'cluster:nodes': z.object({}).strict(),
} as const;
export type ControlRequestName = keyof typeof ControlRequests;

/** The payload of a control request, as the server has parsed it. */
export type ControlRequest<N extends ControlRequestName> = z.infer<(typeof ControlRequests)[N]>;

/** Codes a control request may be refused with: the wire's, and the conference's own. */
export type ControlErrorCode = WireErrorCode | ConferenceErrorCode | 'closed' | 'unavailable';

/** The acknowledgement of a control request. */
export type ControlAck<T> = { ok: true; data: T } | { ok: false; error: { code: ControlErrorCode; message: string } };

/** A connection event of a bridge, kept in its history (the technicians' drill-down). */
export interface LinkEvent {
  at: number;
  /** device_sheet: a hardware hall's device sheet changed (new receive address, or keys after a rebuild). */
  type: 'joined' | 'dropped' | 'reconnected' | 'media_lost' | 'ice' | 'device_sheet';
  detail?: string;
}

/** A hall's ready checklist from its link test. */
export interface LinkChecklist {
  items: { item: string; label: string; ok: boolean }[];
  ready: boolean;
}

/** One bridge's history, events and last link test (the technicians' drill-down). */
export interface BridgeHealthDetail {
  bridgeId: string;
  status: HealthLine['status'] | null;
  reasons: string[];
  since: number | null;
  history: LinkSample[];
  events: LinkEvent[];
  test: { at: number; result: LinkTestResult } | null;
}

/** What each control request answers with when it succeeds. */
export interface ControlReplies {
  'control:command': { seq: number; events: string[] };
  'control:snapshot': ConferenceView;
  'time:sync': { clientNow: number; serverNow: number };
  'health:report': Record<string, never>;
  'health:bridge': BridgeHealthDetail;
  'health:startTest': { testId: string; bridgeIds: string[] };
  'health:testResult': LinkChecklist;
  'media:where': { placement: MediaPlacementMessage | null };
  'cluster:nodes': ClusterSummary;
}

/**
 * Client-to-server events of the control namespace: each request with its payload (typed from
 * its schema; the server still validates every payload) and its acknowledgement.
 */
export type ControlClientEvents = {
  [N in ControlRequestName]: (payload: ControlRequest<N>, ack: (reply: ControlAck<ControlReplies[N]>) => void) => void;
};

/** Who a socket is, as the apps see it. */
export type Principal =
  | { role: 'chair' | 'secretary' | 'technician' | 'viewer' }
  | { role: 'operator'; bridgeId: string };

/** The speaking timer as every display shows it (times are the server's clock, epoch ms). */
export interface TimerView {
  limitSec: number;
  deadline: number;
  paused: boolean;
  /** While paused: what is left. */
  remainingMs: number;
  warningMarksSec: number[];
}

/** A hall's speaker, waiting in the queue or holding the floor. */
export interface SpeakerView {
  requestId: string;
  bridgeId: string;
  bridgeName: string;
  speakerName: string;
  speakerTitle: string;
  topic: string | null;
}

/** What a display needs to draw the conference. */
export interface ConferenceView {
  conferenceId: string;
  title: string;
  status: 'waiting' | 'running' | 'break' | 'ended';
  date: string | null;
  serverNow: number;
  seq: number;
  /** The bridge on air (what every hall sees and hears). The wire keeps the name `programme`: pages open across a restart read it. */
  programme: { bridgeId: string; bridgeName: string };
  agenda: {
    index: number;
    items: { id: string; kind: string; title: string; plannedMinutes: number; elapsedSec: number }[];
  };
  queue: (SpeakerView & { designated: boolean })[];
  /**
   * The floor holder. `suspended` says why it is not heard now though it holds the floor: the
   * meeting is in a break, or its link dropped and it has until `reconnectingUntil` to come back.
   */
  floor: null | (SpeakerView & { timer: TimerView; suspended: 'break' | 'reconnecting' | null; reconnectingUntil: number | null; muted: boolean });
  /** Halls whose operator closed their microphone for a moment ("Tắt micrô tạm thời"). */
  muted: string[];
  /** The archive recording in progress (the chair's console shows it), or null. */
  recording?: { recordingId: string; startedAt: number } | null;
  /** What every hall display shows beside the speaker (a paper and its page), or null. */
  content?: ContentView | null;
  /** The hall whose shared screen every hall receives (the content track), or null. */
  screen?: { bridgeId: string; bridgeName: string; startedAt: number } | null;
  /** The last share that ended and why (null while a share is on, or before any ended). */
  screenEnded?: ScreenEndedView | null;
  /** Staff: every designated paper, received, late or missing. */
  papers?: PapersView;
  /** The maket of the viewer's own hall (province for staff). */
  maket: { background: string; textColour: string; lines: string[] };
  rollCall: {
    districts: { total: number; online: number; ready: number };
    communes: { total: number; online: number; ready: number };
    province: { total: number; online: number; ready: number };
    attendees: number;
    /** Staff only: each district hall and its communes (e.g. 18/19 online). */
    byDistrict?: { districtId: string; name: string; online: boolean; ready: boolean; communesOnline: number; communesReady: number; communesTotal: number }[];
  };
  /** Per bridge presence: staff only. */
  presence?: Record<string, { online: boolean; ready: boolean; attendees: number | null }>;
  /** Back-channel messages: the latest for staff, those to and from its own hall for an operator. */
  messages?: {
    id: string;
    at: number;
    fromRole: MessageSenderRole;
    fromBridgeId: string | null;
    fromName: string | null;
    /** 'staff' or a bridge id. */
    to: string;
    toName: string | null;
    kind: MessageKind;
    text: string;
  }[];
  /** For an operator: its own hall's place in the queue (1-based) and readiness. */
  mine?: {
    bridgeId: string;
    queuePosition: number | null;
    ready: boolean;
    attendees: number | null;
    online: boolean;
    muted: boolean;
    /** The hall's own paper slots. */
    papers?: PaperSlotView[];
    /** Whether the hall may turn the pages of what is on screen now (it speaks, and it is its paper). */
    mayTurnPages?: boolean;
    /** Whether the hall may share its screen now (the meeting is on, and it holds the floor or is the province). */
    mayShareScreen?: boolean;
  };
}

/** One bridge's line on the technicians' dashboard. */
export interface HealthLine {
  bridgeId: string;
  /** offline: dropped after having connected; absent: never connected in this conference. */
  status: HealthStatus;
  reasons: string[];
  since: number;
  last: LinkSample | null;
}

/**
 * Where a page's media goes: the node and the URL to open `/media` at. `mediaUrl` null: the
 * control instance the page is connected to (the embedded default: one process, both roles).
 */
export interface MediaPlacementMessage {
  peerKey: string;
  nodeId: string;
  mediaUrl: string | null;
  epoch: number;
  /** placed (first time), node_lost (its node died), drained (its node is being emptied), rebalanced. */
  reason: 'placed' | 'node_lost' | 'drained' | 'rebalanced';
}

/** One media node on the technicians' panel. */
export interface NodeLineView {
  nodeId: string;
  mediaUrl: string | null;
  alive: boolean;
  draining: boolean;
  drainMarked: boolean;
  labels: Record<string, string>;
  workers: number;
  load: { peers: number; consumers: number; cpu: number };
  capacity: number | null;
  placed: number;
  pipes: { in: number; out: number; tracks?: { in: number; out: number } } | null;
}

/** The media nodes and where each hall's media is (staff). */
export interface ClusterSummary {
  at: number;
  /** 'local': this server's own media is the only node. */
  mode: 'local' | 'cluster';
  nodes: NodeLineView[];
  /** Node of each hall placed, by bridge id. */
  bridges: Record<string, string>;
}

/** A conference event as the staff consoles receive it: with its place in the log. */
export type ControlEventMessage = ConferenceEvent & { seq: number; at: number };

/** Events the server pushes on the control namespace. */
export interface ControlServerEvents {
  'control:view': (view: ConferenceView) => void;
  /** This socket's link was revoked or re-issued: the server disconnects it right after. */
  'session:refused': (msg: { code: TokenRefusal }) => void;
  /** Staff: every bridge's health, every 2 seconds. */
  'health:summary': (summary: { at: number; bridges: HealthLine[] }) => void;
  /** A hall: run the link test now (asked by a technician). */
  'health:runTest': (request: { testId: string; durationMs: number }) => void;
  /** Staff: a hall's link test result with its ready checklist. */
  'health:test': (result: { bridgeId: string; bridgeName: string; at: number; result: LinkTestResult; checklist: LinkChecklist['items']; ready: boolean }) => void;
  /** Staff: a bridge's status changed. */
  'health:alert': (alert: { bridgeId: string; bridgeName: string; at: number; from: string | null; to: string; reasons: string[] }) => void;
  'control:event': (event: ControlEventMessage) => void;
  /** This page's media goes somewhere else now (its node died or drains): open it there. */
  'media:placement': (placement: MediaPlacementMessage) => void;
  /** Staff: the media nodes changed (load, draining, halls moved). */
  'cluster:nodes': (summary: ClusterSummary) => void;
  /**
   * Staff: the halls heard now and how loud (the SFU's measure of what it forwards, dBov,
   * loudest first; empty: silence). Sent when it changes, at most every 400 ms.
   */
  'audio:levels': (msg: { at: number; levels: { bridgeId: string; dBov: number }[] }) => void;
  /**
   * Every page: the halls whose links carry no video now ("Đường truyền yếu — chỉ âm thanh"),
   * wherever their media is; the whole list, on connection and at each change (empty: none).
   */
  'link:audioOnly': (msg: { at: number; halls: AudioOnlyState[] }) => void;
}
