// The pure conference core: rules, state, time. No sockets, no storage, no wall clock.
export * from './types.ts';
export { decide, nextWakeAt } from './decide.ts';
export { initialState, checkConfig } from './state.ts';
export { COMMAND_ROLES, roleMayIssue, actsFor } from './access.ts';
export { FakeClock, SystemClock, WakeAlarm, type Clock, type ClockTimer } from './clock.ts';
export { rollCallSummary, presenceOf, type RollCallSummary, type RollCallCount, type DistrictRollCall } from './rollcall.ts';
export { report, reportCsv, csv, csvCell, formatTime } from './report.ts';
export type { ConferenceReport, AttendanceRow, SpeakerRow, IncidentRow, ItemRow, ReportCsv, CsvOptions, Cell } from './report.ts';
export { speakingTimerView, remainingMs, overtimeMs, type SpeakingTimerView } from './timer.ts';
export { currentProgrammeItem, itemElapsedMs } from './agenda.ts';
export { SYSTEM_ACTOR, logSince } from './log.ts';
export { refuse } from './errors.ts';
export * from './papers.ts';
export { paperRows, type PaperRow } from './papers-report.ts';
export * from './paper-format.ts';
