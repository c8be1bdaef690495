// Who may issue which command. Operators are further limited to their own bridge; that check needs
// the command's target and is made in decide.
//
// Decisions: the secretary assists the chair with the agenda (next/previous/goto), breaks, the
// maket, the date, the archive recording and ready reports taken by phone, and may enter or cancel a floor request on a
// hall's behalf; granting, revoking, ordering the queue, the timer, start and end stay with the
// chair. Connection events and ticks come only from the app ('system'). Technicians change
// nothing but write on the back-channel (messages.ts) like every organiser and operator; viewers
// change nothing.
import type { Actor, ActorRole, CommandType } from './types.ts';

/** Roles allowed to issue each command. */
export const COMMAND_ROLES: Readonly<Record<CommandType, readonly ActorRole[]>> = Object.freeze({
  start_meeting: ['chair'],
  end_meeting: ['chair'],
  request_floor: ['operator', 'secretary', 'chair'],
  cancel_request: ['operator', 'secretary', 'chair'],
  move_request: ['chair'],
  grant_floor: ['chair'],
  grant_next: ['chair'],
  revoke_floor: ['chair'],
  yield_floor: ['operator'],
  timer_pause: ['chair'],
  timer_resume: ['chair'],
  timer_extend: ['chair'],
  agenda_next: ['chair', 'secretary'],
  agenda_prev: ['chair', 'secretary'],
  agenda_goto: ['chair', 'secretary'],
  break_start: ['chair', 'secretary'],
  break_end: ['chair', 'secretary'],
  bridge_connected: ['system'],
  bridge_disconnected: ['system'],
  presence_update: ['system'],
  report_ready: ['operator', 'secretary'],
  // An operator closes its own hall's microphone for a moment (a cough); the chair's desk may too.
  mute_hall: ['operator', 'chair', 'secretary'],
  set_maket: ['secretary', 'chair'],
  set_date: ['secretary', 'chair'],
  recording_start: ['secretary', 'chair'],
  recording_stop: ['secretary', 'chair'],
  send_message: ['operator', 'technician', 'chair', 'secretary'],
  // Papers: the hall's operator for its own hall, the office for any (papers.ts has the finer rules).
  paper_submit: ['operator', 'secretary', 'chair'],
  content_show: ['operator', 'secretary', 'chair'],
  content_page: ['operator', 'secretary', 'chair'],
  content_clear: ['operator', 'secretary', 'chair'],
  // Screen sharing: a hall's operator for its own hall, the province's desk (screen.ts has the finer rules).
  screen_share_start: ['operator', 'secretary', 'chair'],
  screen_share_stop: ['operator', 'secretary', 'chair'],
  // The server, when a shared screen's picture has been gone for longer than the grace (screen.ts).
  screen_source_lost: ['system'],
  tick: ['system'],
});

/** Whether an actor's role may issue a command type at all. */
export function roleMayIssue(actor: Actor, type: CommandType): boolean {
  return COMMAND_ROLES[type].includes(actor.role);
}

/** Whether an actor may act for a bridge: operators only for their own, other allowed roles for any. */
export function actsFor(actor: Actor, bridgeId: string): boolean {
  return actor.role !== 'operator' || actor.bridgeId === bridgeId;
}
