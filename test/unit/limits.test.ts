// Every limit of what people type has one source (the core's constants), and the wire schema, the
// core and the plan agree at each boundary: just under, at, just over.
import { expect } from 'chai';
import { defaultPlan } from '../../config/default-plan.ts';
import { decide } from '../../server/core/conference/index.ts';
import {
  ClientCommand,
  MAX_ATTENDEES,
  MAX_EXTEND_SECONDS,
  MAX_MAKET_LINE,
  MAX_MAKET_LINES,
  MAX_SPEAKER_NAME,
  MAX_SPEAKER_TITLE,
  MAX_TOPIC,
} from '../../server/protocol/control.ts';
import { parsePlan } from '../../server/protocol/plan.ts';
import { ask, chair, commune, op, started } from './conference/fixture.ts';

type Verdict = { wire: boolean; core: boolean };

/** Whether the wire schema accepts a command, and whether the core accepts it (the parsed payload when the wire took it, else the raw one). */
function judge(command: Record<string, unknown>, actor: { role: string; bridgeId?: string }, prepare?: (h: ReturnType<typeof started>) => void): Verdict {
  const h = started(0);
  prepare?.(h);
  const parsed = ClientCommand.safeParse(command);
  const d = decide(h.state, { ...(parsed.success ? parsed.data : command), actor }, h.clock.now());
  if ('error' in d) expect(d.error.code, JSON.stringify(d.error)).to.equal('invalid_argument');
  return { wire: parsed.success, core: !('error' in d) };
}

const HALL = commune(7);
const request = (fields: Record<string, unknown>) => ({ type: 'request_floor', bridgeId: HALL, speakerName: 'Hoàng Văn A', speakerTitle: 'Chủ tịch HĐND xã', ...fields });
const holdFloor = (h: ReturnType<typeof started>): void => {
  h.run(chair, { type: 'grant_floor', requestId: ask(h, HALL) });
};

/** Walks n - 1, n, n + 1 for a limit n: accepted, accepted, refused, by both. */
function walk(label: string, limit: number, make: (n: number) => Verdict): void {
  it(`${label}: ${limit - 1} and ${limit} pass the wire and the core, ${limit + 1} neither`, () => {
    expect(make(limit - 1), `${label} = ${limit - 1}`).to.deep.equal({ wire: true, core: true });
    expect(make(limit), `${label} = ${limit}`).to.deep.equal({ wire: true, core: true });
    expect(make(limit + 1), `${label} = ${limit + 1}`).to.deep.equal({ wire: false, core: false });
  });
}

describe('Limits: the wire schema and the core agree at every boundary', () => {
  const ư = 'ư'; // one character in NFC, two in NFD
  walk('speakerName length', MAX_SPEAKER_NAME, (n) => judge(request({ speakerName: ư.repeat(n) }), op(HALL)));
  walk('speakerName length written in NFD', MAX_SPEAKER_NAME, (n) => judge(request({ speakerName: ư.repeat(n).normalize('NFD') }), op(HALL)));
  walk('speakerTitle length', MAX_SPEAKER_TITLE, (n) => judge(request({ speakerTitle: 'T'.repeat(n) }), op(HALL)));
  walk('topic length', MAX_TOPIC, (n) => judge(request({ topic: 'Đ'.repeat(n) }), op(HALL)));
  walk('attendees', MAX_ATTENDEES, (n) => judge({ type: 'report_ready', bridgeId: HALL, attendees: n }, op(HALL)));
  walk('timer_extend seconds', MAX_EXTEND_SECONDS, (n) => judge({ type: 'timer_extend', seconds: n }, chair, holdFloor));
  walk('maket lines', MAX_MAKET_LINES, (n) => judge({ type: 'set_maket', maket: { lines: Array(n).fill('HỘI NGHỊ') } }, chair));
  walk('maket line length', MAX_MAKET_LINE, (n) => judge({ type: 'set_maket', maket: { lines: ['Ậ'.repeat(n)] } }, chair));

  it('the lower ends agree too: an empty name or title, a blank topic, 0 attendees, 0 or 1 second, no maket line', () => {
    expect(judge(request({ speakerName: '  ' }), op(HALL))).to.deep.equal({ wire: false, core: false });
    expect(judge(request({ speakerTitle: '' }), op(HALL))).to.deep.equal({ wire: false, core: false });
    expect(judge(request({ topic: '   ' }), op(HALL))).to.deep.equal({ wire: true, core: true });
    expect(judge({ type: 'report_ready', bridgeId: HALL, attendees: 0 }, op(HALL))).to.deep.equal({ wire: true, core: true });
    expect(judge({ type: 'report_ready', bridgeId: HALL, attendees: -1 }, op(HALL))).to.deep.equal({ wire: false, core: false });
    expect(judge({ type: 'timer_extend', seconds: 1 }, chair, holdFloor)).to.deep.equal({ wire: true, core: true });
    expect(judge({ type: 'timer_extend', seconds: 0 }, chair, holdFloor)).to.deep.equal({ wire: false, core: false });
    expect(judge({ type: 'set_maket', maket: { lines: [] } }, chair)).to.deep.equal({ wire: false, core: false });
  });

  it('a plan\'s designated speaker has the same limits as a hall\'s request (name, topic)', () => {
    const withSpeaker = (speaker: Record<string, unknown>): boolean => {
      const plan = structuredClone(defaultPlan()) as unknown as { programme: { speakers: Record<string, unknown>[] }[] };
      plan.programme[3]!.speakers[0] = { ...plan.programme[3]!.speakers[0], ...speaker };
      return parsePlan(plan).ok;
    };
    for (const [field, limit] of [['topic', MAX_TOPIC], ['speakerName', MAX_SPEAKER_NAME]] as const) {
      expect(withSpeaker({ [field]: 'x'.repeat(limit - 1) }), `${field} ${limit - 1}`).to.equal(true);
      expect(withSpeaker({ [field]: 'x'.repeat(limit) }), `${field} ${limit}`).to.equal(true);
      expect(withSpeaker({ [field]: 'x'.repeat(limit + 1) }), `${field} ${limit + 1}`).to.equal(false);
    }
  });
});
