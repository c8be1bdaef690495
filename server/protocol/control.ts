/**
 * The control protocol: the commands people give (floor, timer, agenda, roll-call, maket) and
 * what the server pushes back. Imported by the server (which validates every payload) and by
 * the browser apps. The actor of a command is never sent: the server takes it from the token.
 */
import { z } from 'zod';
import { BridgeId } from './media.ts';
import { ContentCommands, type ContentView, type PaperSlotView, type PapersView } from './papers.ts';

/** A per-conference access token (22 base64url characters). */
export const Token = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'not an access token');

/** Socket handshake `auth` of both namespaces. */
export const TokenAuth = z.object({ token: Token });

const text = (max: number) => z.string().trim().min(1).max(max);
const MaketOverride = z.object({
  lines: z.array(z.string().max(200)).min(1).max(12).optional(),
  background: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
  textColour: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
});

/** Commands a person may send (the app adds the actor; system commands are not accepted). */
export const ClientCommand = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start_meeting') }),
  z.object({ type: z.literal('end_meeting') }),
  z.object({
    type: z.literal('request_floor'),
    bridgeId: BridgeId,
    speakerName: text(120),
    speakerTitle: text(200),
    topic: z.string().trim().max(300).nullish(),
  }),
  z.object({ type: z.literal('cancel_request'), requestId: z.string().min(1).max(64) }),
  z.object({ type: z.literal('move_request'), requestId: z.string().min(1).max(64), toIndex: z.number().int().min(0).max(1000) }),
  z.object({ type: z.literal('grant_floor'), requestId: z.string().min(1).max(64) }),
  z.object({ type: z.literal('grant_next') }),
  z.object({ type: z.literal('revoke_floor') }),
  z.object({ type: z.literal('yield_floor') }),
  z.object({ type: z.literal('timer_pause') }),
  z.object({ type: z.literal('timer_resume') }),
  z.object({ type: z.literal('timer_extend'), seconds: z.number().int().min(1).max(3600) }),
  z.object({ type: z.literal('agenda_next') }),
  z.object({ type: z.literal('agenda_prev') }),
  z.object({ type: z.literal('agenda_goto'), index: z.number().int().min(0).max(1000) }),
  z.object({ type: z.literal('break_start') }),
  z.object({ type: z.literal('break_end') }),
  z.object({ type: z.literal('report_ready'), bridgeId: BridgeId, attendees: z.number().int().min(0).max(10000), ready: z.boolean().optional() }),
  z.object({ type: z.literal('set_maket'), maket: MaketOverride.nullable() }),
  z.object({ type: z.literal('set_date'), date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).nullable() }),
  // The archive recording (secretary and chair).
  z.object({ type: z.literal('recording_start') }),
  z.object({ type: z.literal('recording_stop') }),
  // The content on every screen: put a paper up, turn its pages, take it down (papers.ts).
  ...ContentCommands,
]);
export type ClientCommand = z.infer<typeof ClientCommand>;

const metric = (max: number) => z.number().finite().min(0).max(max).nullish();
/** What a hall's browser measures of its link, every 2 seconds. */
export const ClientLinkReport = z.object({
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
});
export type ClientLinkReport = z.infer<typeof ClientLinkReport>;

/** What a hall measured in the pre-meeting link test. */
export const LinkTestResult = z.object({
  testId: z.string().min(1).max(64),
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
  'time:sync': z.object({ clientNow: z.number() }),
  /** A hall's browser reports its link (operators only; the bridge is the token's). */
  'health:report': ClientLinkReport,
  /** The technicians' drill-down: a bridge's history and events. */
  'health:bridge': z.object({ bridgeId: BridgeId }),
  /** Staff: ask these halls to run the pre-meeting link test now. */
  'health:startTest': z.object({ bridgeIds: z.array(BridgeId).min(1).max(256) }),
  /** A hall's result of the link test (operators only). */
  'health:testResult': LinkTestResult,
} as const;
export type ControlRequestName = keyof typeof ControlRequests;

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
  programme: { bridgeId: string; bridgeName: string };
  agenda: {
    index: number;
    items: { id: string; kind: string; title: string; plannedMinutes: number; elapsedSec: number }[];
  };
  queue: (SpeakerView & { designated: boolean })[];
  floor: null | (SpeakerView & { timer: TimerView });
  /** The archive recording in progress (the chair's console shows it), or null. */
  recording?: { recordingId: string; startedAt: number } | null;
  /** What every hall display shows beside the speaker (a paper and its page), or null. */
  content?: ContentView | null;
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
  /** For an operator: its own hall's place in the queue (1-based) and readiness. */
  mine?: {
    bridgeId: string;
    queuePosition: number | null;
    ready: boolean;
    attendees: number | null;
    online: boolean;
    /** The hall's own paper slots. */
    papers?: PaperSlotView[];
    /** Whether the hall may turn the pages of what is on screen now (it speaks, and it is its paper). */
    mayTurnPages?: boolean;
  };
}

/** Events the server pushes on the control namespace. */
/** One bridge's line on the technicians' dashboard. */
export interface HealthLine {
  bridgeId: string;
  status: 'ok' | 'degraded' | 'bad' | 'offline';
  reasons: string[];
  since: number;
  last: Record<string, unknown> | null;
}

export interface ControlServerEvents {
  'control:view': (view: ConferenceView) => void;
  /** Staff: every bridge's health, every 2 seconds. */
  'health:summary': (summary: { at: number; bridges: HealthLine[] }) => void;
  /** A hall: run the link test now (asked by a technician). */
  'health:runTest': (request: { testId: string; durationMs: number }) => void;
  /** Staff: a hall's link test result with its ready checklist. */
  'health:test': (result: { bridgeId: string; bridgeName: string; at: number; result: LinkTestResult; checklist: { item: string; label: string; ok: boolean }[]; ready: boolean }) => void;
  /** Staff: a bridge's status changed. */
  'health:alert': (alert: { bridgeId: string; bridgeName: string; at: number; from: string | null; to: string; reasons: string[] }) => void;
  'control:event': (event: { type: string; seq: number; at: number } & Record<string, unknown>) => void;
}
