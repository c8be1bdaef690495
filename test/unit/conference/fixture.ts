// A Lạng Sơn-shaped conference for the core tests: 1 province, 11 districts, 200 communes.
import { expect } from 'chai';
import { decide, FakeClock, initialState, nextWakeAt, WakeAlarm } from '../../../server/core/conference/index.ts';
import type {
  Accepted,
  Actor,
  Bridge,
  Command,
  ConferenceConfig,
  ConferenceError,
  ConferenceEvent,
  ConferenceState,
  SpeakingRules,
} from '../../../server/core/conference/index.ts';

export const PROVINCE = 'p-20';
/** District ids d-178 .. d-188. */
export const DISTRICTS = Array.from({ length: 11 }, (_, i) => `d-${178 + i}`);

// 200 communes: 18 per district, and the first two districts get 19.
function communes(): Bridge[] {
  const out: Bridge[] = [];
  let n = 1;
  DISTRICTS.forEach((d, i) => {
    const count = i < 2 ? 19 : 18;
    for (let k = 0; k < count; k++, n++) {
      out.push({ id: `c-${String(n).padStart(5, '0')}`, tier: 'commune', parentId: d, name: `Xã Số ${n}` });
    }
  });
  return out;
}

/** Commune id by number 1..200. */
export const commune = (n: number): string => `c-${String(n).padStart(5, '0')}`;

/** The test plan; speaking rules can be overridden per test. */
export function makeConfig(speaking: Partial<SpeakingRules> = {}): ConferenceConfig {
  return {
    chairBridgeId: PROVINCE,
    bridges: [
      { id: PROVINCE, tier: 'province', parentId: null, name: 'Tỉnh Lạng Sơn' },
      ...DISTRICTS.map((id, i): Bridge => ({ id, tier: 'district', parentId: PROVINCE, name: `Huyện Số ${i + 1}` })),
      ...communes(),
    ],
    agenda: [
      { id: 'khai-mac', kind: 'opening', title: 'Khai mạc', plannedMinutes: 10, speakers: [] },
      { id: 'bao-cao', kind: 'report', title: 'Báo cáo', plannedMinutes: 30, speakers: [{ bridgeId: 'd-178' }] },
      {
        id: 'tham-luan',
        kind: 'designated_paper',
        title: 'Tham luận',
        plannedMinutes: 60,
        limitMinutes: 8,
        speakers: [
          { bridgeId: 'd-180', topic: 'Giám sát chuyên đề', limitMinutes: 7 },
          { bridgeId: commune(5), topic: 'Tiếp xúc cử tri' },
          { bridgeId: 'd-179', topic: 'Kỳ họp HĐND' },
        ],
      },
      { id: 'giai-lao', kind: 'break', title: 'Giải lao', plannedMinutes: 15, speakers: [] },
      { id: 'thao-luan', kind: 'discussion', title: 'Thảo luận', plannedMinutes: 40, speakers: [] },
      { id: 'ket-luan', kind: 'conclusion', title: 'Kết luận', plannedMinutes: 15, speakers: [] },
    ],
    speaking: { defaultLimitMinutes: 10, warningMarksSeconds: [120, 60, 30], expiryPolicy: 'notify_chair', graceSeconds: 30, ...speaking },
  };
}

export const chair: Actor = { role: 'chair', bridgeId: PROVINCE };
export const secretary: Actor = { role: 'secretary' };
export const system: Actor = { role: 'system' };
export const technician: Actor = { role: 'technician' };
export const viewer: Actor = { role: 'viewer' };
/** The operator of one bridge. */
export const op = (bridgeId: string): Actor => ({ role: 'operator', bridgeId });

/** 2021-11-26 08:00 in Hanoi. */
export const T0 = Date.UTC(2021, 10, 26, 1, 0, 0);

type AnyCommand = { [K in Command['type']]: Omit<Extract<Command, { type: K }>, 'actor'> }[Command['type']];

/** Drives the core the way the app will: commands at clock.now(), one wake-up armed through the clock. */
export class Harness {
  readonly clock = new FakeClock(T0);
  state: ConferenceState;
  readonly events: ConferenceEvent[] = [];
  readonly alarm: WakeAlarm;

  constructor(config: ConferenceConfig = makeConfig()) {
    this.state = initialState(config);
    this.alarm = new WakeAlarm(this.clock, () => this.run(system, { type: 'tick' }));
  }

  /** Applies a command that must be accepted; returns its events. */
  run(actor: Actor, command: AnyCommand): ConferenceEvent[] {
    const result = decide(this.state, { ...command, actor }, this.clock.now());
    if ('error' in result) throw new Error(`refused ${command.type}: ${result.error.code} ${result.error.message}`);
    return this.accept(result);
  }

  /** Applies a command that must be refused; returns the error and checks nothing changed. */
  refused(actor: Actor, command: AnyCommand): ConferenceError {
    const before = JSON.stringify(this.state);
    const result = decide(this.state, { ...command, actor }, this.clock.now());
    expect(result, `expected ${command.type} to be refused`).to.have.property('error');
    expect(JSON.stringify(this.state)).to.equal(before);
    return (result as { error: ConferenceError }).error;
  }

  /** Moves time forward; due ticks run on the way. */
  advance(ms: number): void {
    this.clock.increment(ms);
  }

  /** Events of given types seen so far, in order. */
  seen<T extends ConferenceEvent['type']>(type: T): Extract<ConferenceEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<ConferenceEvent, { type: T }> => e.type === type);
  }

  private accept(result: Accepted): ConferenceEvent[] {
    this.state = result.state;
    this.events.push(...result.events);
    this.alarm.set(nextWakeAt(this.state));
    return result.events;
  }
}

/** Connects bridges (all by default) through system commands. */
export function connectAll(h: Harness, ids: string[] = h.state.config.bridges.map((b) => b.id)): void {
  for (const bridgeId of ids) h.run(system, { type: 'bridge_connected', bridgeId });
}

/** Asks the floor for a bridge through its operator; returns the request id. */
export function ask(h: Harness, bridgeId: string, speakerName = `Đại biểu ${bridgeId}`): string {
  const [e] = h.run(op(bridgeId), { type: 'request_floor', bridgeId, speakerName, speakerTitle: 'Chủ tịch HĐND' });
  expect(e!.type).to.equal('floor_requested');
  return (e as Extract<ConferenceEvent, { type: 'floor_requested' }>).requestId;
}

/** Queue as bridge ids. */
export const queueOf = (state: ConferenceState): string[] => state.queue.map((r) => r.bridgeId);

/** A started meeting with every bridge online, on the programme item at index. */
export function started(index = 0, config = makeConfig()): Harness {
  const h = new Harness(config);
  connectAll(h);
  h.run(chair, { type: 'start_meeting' });
  if (index > 0) h.run(chair, { type: 'agenda_goto', index });
  return h;
}
