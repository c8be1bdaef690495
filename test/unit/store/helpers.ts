// Shared parts of the store, runner and token tests: the default plan, actors, a FakeClock that
// steps through the runners' wake-ups, and an event recorder.
import { expect } from 'chai';
import { defaultPlan } from '../../../config/default-plan.ts';
import { ConferenceRunner, type EventMeta, type ExecuteResult } from '../../../server/app/conference/ConferenceRunner.ts';
import { FakeClock, SYSTEM_ACTOR, type Actor, type Command, type ConferenceEvent } from '../../../server/core/conference/index.ts';
import type { MediaNodeRecord } from '../../../server/protocol/cluster.ts';
import type { ConferencePlan } from '../../../server/protocol/plan.ts';
import type { ConferenceStore } from '../../../server/store/index.ts';

export const MIN = 60_000;
/** 2021-11-26 08:00 in Hanoi. */
export const T0 = Date.UTC(2021, 10, 26, 1, 0, 0);
export const PROVINCE = 'p-20';
export const DISTRICT = 'd-178'; // Thành phố Lạng Sơn
export const DISTRICT_2 = 'd-180';
export const COMMUNE = 'c-05971';
export const COMMUNE_2 = 'c-06010'; // Xã Cao Minh

export const chair: Actor = { role: 'chair', bridgeId: PROVINCE };
export const system: Actor = SYSTEM_ACTOR;
/** The operator of one bridge. */
export const op = (bridgeId: string): Actor => ({ role: 'operator', bridgeId });

/** The default plan with other speaking rules. */
export function planWith(speaking: Partial<ConferencePlan['speaking']> = {}): ConferencePlan {
  const plan = defaultPlan();
  plan.speaking = { ...plan.speaking, ...speaking };
  return plan;
}

let nextId = 0;
/** A conference id no other test uses (redis is shared by the tests of a file). */
export function freshConferenceId(prefix = 'test'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${nextId++}`;
}

/** Records what a runner emits. */
export class Recorder {
  readonly events: { event: ConferenceEvent; meta: EventMeta }[] = [];
  readonly programme: { bridgeId: string; reason: string; origin: string }[] = [];
  readonly mic: { bridgeId: string; open: boolean; origin: string }[] = [];
  readonly next: (string | null)[] = [];

  constructor(runner: ConferenceRunner) {
    runner.on('event', (event, meta) => this.events.push({ event, meta }));
    runner.on('onair', (c) => this.programme.push({ ...c }));
    runner.on('mic', (c) => this.mic.push({ ...c }));
    runner.on('next', (c) => this.next.push(c.bridgeId));
  }

  /** Events of one type, in order. */
  seen<T extends ConferenceEvent['type']>(type: T): Extract<ConferenceEvent, { type: T }>[] {
    return this.events.filter((e) => e.event.type === type).map((e) => e.event as Extract<ConferenceEvent, { type: T }>);
  }

  /** Seqs of the events seen. */
  get seqs(): number[] {
    return this.events.map((e) => e.meta.seq);
  }
}

type AnyCommand = { [K in Command['type']]: Omit<Extract<Command, { type: K }>, 'actor'> }[Command['type']];

/** Runs a command that must be accepted; returns its events. */
export async function run(runner: ConferenceRunner, actor: Actor, command: AnyCommand): Promise<ConferenceEvent[]> {
  const result = await runner.execute({ ...command, actor } as Command);
  if (!result.ok) throw new Error(`refused ${command.type}: ${result.error.code} ${result.error.message}`);
  return result.events;
}

/** Runs a command as is. */
export function exec(runner: ConferenceRunner, actor: Actor, command: AnyCommand): Promise<ExecuteResult> {
  return runner.execute({ ...command, actor } as Command);
}

/** A media node's record as it announces itself, its lease renewed at `at`. */
export function nodeRecord(nodeId: string, at: number, o: Partial<MediaNodeRecord> = {}): MediaNodeRecord {
  return {
    nodeId,
    mediaUrl: `https://${nodeId}.example:4443`,
    nodeApiUrl: `http://${nodeId}.internal:4444`,
    announcedIp: '10.0.0.1',
    workers: 2,
    load: { peers: 0, consumers: 0, cpu: 0 },
    capacity: 300,
    labels: {},
    draining: false,
    startedAt: at,
    renewedAt: at,
    ...o,
  };
}

/** Asks the floor for a bridge; returns the request id. */
export async function ask(runner: ConferenceRunner, bridgeId: string): Promise<string> {
  const [e] = await run(runner, op(bridgeId), { type: 'request_floor', bridgeId, speakerName: `Đại biểu ${bridgeId}`, speakerTitle: 'Chủ tịch HĐND' });
  expect(e?.type).to.equal('floor_requested');
  return (e as Extract<ConferenceEvent, { type: 'floor_requested' }>).requestId;
}

/** Connects bridges and starts the meeting. */
export async function startMeeting(runner: ConferenceRunner, bridgeIds: string[] = [PROVINCE, DISTRICT, DISTRICT_2, COMMUNE, COMMUNE_2]): Promise<void> {
  for (const bridgeId of bridgeIds) await run(runner, system, { type: 'bridge_connected', bridgeId });
  await run(runner, chair, { type: 'start_meeting' });
}

/** Waits until every runner has finished what it started (remote reloads included, after a turn of the event loop). */
export async function settle(runners: ConferenceRunner[]): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    await Promise.all(runners.map((r) => r.idle()));
  }
}

/** Moves a FakeClock forward by ms, stopping at every wake-up a runner armed so that its tick runs at that instant. */
export async function advance(clock: FakeClock, runners: ConferenceRunner[], ms: number, settleEach: (rs: ConferenceRunner[]) => Promise<void> = settle): Promise<void> {
  const target = clock.now() + ms;
  for (let step = 0; step < 1000; step++) {
    await settleEach(runners);
    const due = runners.map((r) => r.wakeAt).filter((at): at is number => at !== null && at <= target);
    if (due.length === 0) {
      clock.increment(target - clock.now());
      await settleEach(runners);
      return;
    }
    clock.increment(Math.max(0, Math.min(...due) - clock.now()));
  }
  throw new Error('runners keep waking up at the same instant');
}

/** A runner of the default plan (or the given one) on a FakeClock. */
export function startRunner(store: ConferenceStore, clock: FakeClock, conferenceId: string, plan: ConferencePlan = defaultPlan()): Promise<ConferenceRunner> {
  return ConferenceRunner.create({ conferenceId, plan, store, clock, onError: (error, context) => console.error(`[test runner] ${context}`, error) });
}
