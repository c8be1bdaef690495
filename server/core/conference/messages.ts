// The back-channel (kênh liên lạc): short text messages between the halls' operators and the
// organisers (chair, secretary, Viễn thông technicians) during the meeting, "không nghe rõ",
// "mất tiếng"… as quick buttons or free text. They go through decide like any change, so they
// are in the event log and the report; the state keeps the last MAX_MESSAGES of them.
import { logActor } from './log.ts';
import { refuse } from './errors.ts';
import { checkText, describeTextFault, isCharacterFault, isId, show, MAX_MESSAGE_TEXT } from './validate.ts';

export { MAX_MESSAGE_TEXT };
import type { CommandOf, ConferenceEvent, ConferenceState, Refused } from './types.ts';

/** What a message is: one of the quick signals, or free text. */
export const MESSAGE_KINDS = ['cant_hear', 'no_sound', 'no_picture', 'text'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** The words of each quick signal (what the buttons say, and the start of the message). */
export const QUICK_MESSAGE_TEXT: Readonly<Record<Exclude<MessageKind, 'text'>, string>> = Object.freeze({
  cant_hear: 'Không nghe rõ',
  no_sound: 'Mất tiếng',
  no_picture: 'Mất hình',
});

/** Messages kept in the state (and so in the report): a meeting has tens, a bad day a few hundred. */
export const MAX_MESSAGES = 300;

/** Who may write: a hall's operator, or the organisers. */
export type MessageSenderRole = 'operator' | 'technician' | 'chair' | 'secretary';

/** One message. `to` is 'staff' (chair, secretary, technicians) or a bridge id (that hall's operator). */
export interface BackChannelMessage {
  id: string;
  at: number;
  from: { role: MessageSenderRole; bridgeId?: string };
  to: string;
  kind: MessageKind;
  text: string;
}

/** The address of the organisers. */
export const STAFF = 'staff';

/** Whether a message concerns a hall: written by its operator or to it. */
export function concernsBridge(m: BackChannelMessage, bridgeId: string): boolean {
  return m.to === bridgeId || m.from.bridgeId === bridgeId;
}

/**
 * send_message: an operator writes to the organisers (for its own hall only); an organiser
 * writes to the organisers or to one hall. A quick signal may carry a note; free text needs text.
 */
export function sendMessage(d: ConferenceState, c: CommandOf<'send_message'>, now: number, out: ConferenceEvent[]): Refused | void {
  if (!isId(c.to)) return refuse('invalid_argument', 'to must be "staff" or a bridge id');
  if (c.actor.role === 'operator' && c.to !== STAFF) return refuse('forbidden', `a hall writes to the organisers only [to:${show(c.to)}]`);
  if (c.to !== STAFF && !d.config.bridges.some((b) => b.id === c.to)) return refuse('unknown_bridge', `bridge not found [to:${show(c.to)}]`);
  if (!(MESSAGE_KINDS as readonly string[]).includes(c.kind)) return refuse('invalid_argument', `unknown message kind [kind:${show(c.kind)}]`);
  let note: string | null = null;
  if (c.text !== undefined && c.text !== null && c.text !== '') {
    // The text rule: what no person types is refused as such (invalid_text), the rest for its type or length.
    const checked = checkText(c.text, MAX_MESSAGE_TEXT, { allowEmpty: true });
    if (!checked.ok) return refuse(isCharacterFault(checked.fault) ? 'invalid_text' : 'invalid_argument', isCharacterFault(checked.fault) ? `text: ${describeTextFault(checked)}` : `text must be 1..${MAX_MESSAGE_TEXT} characters`);
    note = checked.text === '' ? null : checked.text;
  }
  if (c.kind === 'text' && note === null) return refuse('invalid_argument', 'a text message needs its text');
  const quick = c.kind === 'text' ? null : QUICK_MESSAGE_TEXT[c.kind];
  const body = quick && note ? `${quick}: ${note}` : (quick ?? note!);
  const from = logActor(c.actor) as BackChannelMessage['from'];
  const message: BackChannelMessage = { id: `m${d.seq + 1}`, at: now, from, to: c.to, kind: c.kind, text: body };
  d.messages = [...(d.messages ?? []), message].slice(-MAX_MESSAGES);
  out.push({ type: 'message_sent', messageId: message.id, fromRole: from.role, fromBridgeId: from.bridgeId ?? null, to: c.to, kind: c.kind, text: body });
}
