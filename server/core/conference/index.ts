// The pure conference core: rules, state, time. No sockets, no storage, no wall clock.
export * from './types.ts';
export { decide, nextWakeAt } from './decide.ts';
export { initialState, checkConfig } from './state.ts';
export { COMMAND_ROLES, roleMayIssue, actsFor } from './access.ts';
export { FakeClock, SystemClock, systemClock, WakeAlarm, sleep, type Clock, type ClockTimer, type TimerOptions } from './clock.ts';
export { rollCallSummary, presenceOf, type RollCallSummary, type RollCallCount, type DistrictRollCall } from './rollcall.ts';
export { report, reportCsv, csv, csvCell, formatTime } from './report.ts';
export type { ConferenceReport, AttendanceRow, SpeakerRow, IncidentRow, ItemRow, ReportCsv, CsvOptions, Cell } from './report.ts';
export { nextSpeaker } from './floor.ts';
export { speakingTimerView, remainingMs, overtimeMs, type SpeakingTimerView } from './timer.ts';
export { currentAgendaItem, itemElapsedMs } from './agenda.ts';
export { SYSTEM_ACTOR, logSince } from './log.ts';
export { openMicrophones, microphoneChanges } from './microphones.ts';
export { refuse } from './errors.ts';
export { MAX_ATTENDEES, MAX_EXTEND_SECONDS, MAX_MAKET_LINE, MAX_MAKET_LINES, MAX_SPEAKER_NAME, MAX_SPEAKER_TITLE, MAX_TOPIC } from './validate.ts';
export { MAX_SESSIONS_PER_BRIDGE, MAX_INCIDENTS_PER_BRIDGE, DROP_OUT_MERGE_MS } from './record.ts';
export { checkText, type TextCheck, type TextFault } from './validate.ts';
