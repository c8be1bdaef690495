// After-meeting report: attendance per bridge, speeches with durations and overruns, incidents,
// time per agenda item; as plain data (JSON) and as CSV files.
import { itemElapsedMs } from './agenda.ts';
import { presenceOf } from './rollcall.ts';
import { paperRows, type PaperRow } from './papers-report.ts';
import type { ConferenceConfig, ConferenceState, FloorEndReason, IncidentKind, PresenceSession, AgendaItemKind, Tier } from './types.ts';

/** Attendance of one bridge. */
export interface AttendanceRow {
  bridgeId: string;
  name: string;
  tier: Tier;
  parentId: string | null;
  firstJoinAt: number | null;
  /** When it last left; null while still connected or never connected. */
  lastLeaveAt: number | null;
  online: boolean;
  sessions: PresenceSession[];
  onlineSec: number;
  lateJoin: boolean;
  dropOuts: number;
  ready: boolean;
  /** Last headcount reported by the operator. */
  attendees: number | null;
}

/** One speech. */
export interface SpeakerRow {
  order: number;
  itemId: string | null;
  itemTitle: string | null;
  bridgeId: string;
  bridgeName: string;
  speakerName: string;
  speakerTitle: string;
  topic: string | null;
  startedAt: number;
  endedAt: number;
  durationSec: number;
  limitSec: number;
  overrunSec: number;
  endReason: FloorEndReason;
}

/** One incident. */
export interface IncidentRow {
  at: number;
  kind: IncidentKind;
  bridgeId: string;
  bridgeName: string;
  detail: string;
}

/** One back-channel message. */
export interface MessageRow {
  at: number;
  fromRole: string;
  fromBridgeId: string | null;
  fromName: string;
  to: string;
  toName: string;
  kind: string;
  text: string;
}

/** Time spent on one agenda item. */
export interface ItemRow {
  itemId: string;
  title: string;
  kind: AgendaItemKind;
  plannedMinutes: number;
  elapsedSec: number;
}

/** The whole after-meeting report. */
export interface ConferenceReport {
  date: string | null;
  startedAt: number | null;
  endedAt: number | null;
  asOf: number;
  attendance: AttendanceRow[];
  speakers: SpeakerRow[];
  incidents: IncidentRow[];
  items: ItemRow[];
  /** The back-channel (its last MAX_MESSAGES messages). */
  messages: MessageRow[];
  /** Every designated paper: received when, pages, late, shown during which speeches. */
  papers: PaperRow[];
}

/** Report data as of the end of the meeting (or asOf, for a report taken while it runs). */
export function report(state: ConferenceState, config: ConferenceConfig = state.config, asOf?: number): ConferenceReport {
  const at = asOf ?? state.endedAt ?? state.log.at(-1)?.at ?? state.startedAt ?? 0;
  const names = new Map(config.bridges.map((b) => [b.id, b.name]));
  const nameOf = (id: string): string => names.get(id) ?? id;
  const items = new Map(config.agenda.map((i) => [i.id, i]));
  const attendance = config.bridges.map((b): AttendanceRow => {
    const p = presenceOf(state, b.id);
    const last = p.sessions.at(-1);
    return {
      bridgeId: b.id,
      name: b.name,
      tier: b.tier,
      parentId: b.parentId,
      firstJoinAt: p.sessions[0]?.joinedAt ?? null,
      lastLeaveAt: last && last.leftAt !== null ? last.leftAt : null,
      online: p.online,
      sessions: p.sessions.map((s) => ({ ...s })),
      onlineSec: Math.round(p.sessions.reduce((sum, s) => sum + Math.max(0, (s.leftAt ?? at) - s.joinedAt), 0) / 1000),
      lateJoin: p.lateJoin,
      dropOuts: p.dropOuts,
      ready: p.ready,
      attendees: p.attendees,
    };
  });
  const speakers = state.speeches.map(
    (s, i): SpeakerRow => ({
      order: i + 1,
      itemId: s.itemId,
      itemTitle: s.itemId === null ? null : (items.get(s.itemId)?.title ?? null),
      bridgeId: s.bridgeId,
      bridgeName: nameOf(s.bridgeId),
      speakerName: s.speakerName,
      speakerTitle: s.speakerTitle,
      topic: s.topic,
      startedAt: s.startedAt,
      endedAt: s.endedAt,
      durationSec: Math.round(s.spokenMs / 1000),
      limitSec: Math.round(s.limitMs / 1000),
      overrunSec: Math.round(s.overrunMs / 1000),
      endReason: s.endReason,
    }),
  );
  const incidents = state.incidents.map((x): IncidentRow => ({ ...x, bridgeName: nameOf(x.bridgeId) }));
  const itemRows = config.agenda.map(
    (item): ItemRow => ({
      itemId: item.id,
      title: item.title,
      kind: item.kind,
      plannedMinutes: item.plannedMinutes,
      elapsedSec: Math.round(itemElapsedMs(state, item.id, at) / 1000),
    }),
  );
  const staffName: Record<string, string> = { chair: 'Chủ tọa', secretary: 'Thư ký', technician: 'Kỹ thuật viên Viễn thông', staff: 'Ban tổ chức' };
  const messages = (state.messages ?? []).map(
    (m): MessageRow => ({
      at: m.at,
      fromRole: m.from.role,
      fromBridgeId: m.from.bridgeId ?? null,
      fromName: m.from.bridgeId ? nameOf(m.from.bridgeId) : (staffName[m.from.role] ?? m.from.role),
      to: m.to,
      toName: staffName[m.to] ?? nameOf(m.to),
      kind: m.kind,
      text: m.text,
    }),
  );
  const papers = paperRows(state, config, at);
  return { date: state.date, startedAt: state.startedAt, endedAt: state.endedAt, asOf: at, attendance, speakers, incidents, items: itemRows, messages, papers };
}

/** CSV files of a report, by file name. */
export interface ReportCsv {
  'attendance.csv': string;
  'speakers.csv': string;
  'incidents.csv': string;
  /** The agenda's times; the file keeps its name (people download it by that name). */
  'programme.csv': string;
  /** The back-channel. */
  'messages.csv': string;
  'papers.csv': string;
}

/** Options for CSV output: times in a fixed UTC offset (Vietnam, +07:00, by default), optional BOM for Excel. */
export interface CsvOptions {
  utcOffsetMinutes?: number;
  bom?: boolean;
}

/** The report as RFC 4180 CSV files (header row, CRLF, quoted where needed). */
export function reportCsv(data: ConferenceReport, options: CsvOptions = {}): ReportCsv {
  const offset = options.utcOffsetMinutes ?? 420;
  const time = (ms: number | null): string => (ms === null ? '' : formatTime(ms, offset));
  const file = (header: string[], rows: Cell[][]): string => (options.bom ? '\uFEFF' : '') + csv([header, ...rows]);
  return {
    'attendance.csv': file(
      ['bridge_id', 'tier', 'parent_id', 'name', 'first_join', 'last_leave', 'online_now', 'online_sec', 'sessions', 'late_join', 'drop_outs', 'ready', 'attendees'],
      data.attendance.map((a) => [
        a.bridgeId,
        a.tier,
        a.parentId,
        a.name,
        time(a.firstJoinAt),
        time(a.lastLeaveAt),
        a.online,
        a.onlineSec,
        a.sessions.length,
        a.lateJoin,
        a.dropOuts,
        a.ready,
        a.attendees,
      ]),
    ),
    'speakers.csv': file(
      ['order', 'item_id', 'item_title', 'bridge_id', 'bridge_name', 'speaker_name', 'speaker_title', 'topic', 'started_at', 'ended_at', 'duration_sec', 'limit_sec', 'overrun_sec', 'end_reason'],
      data.speakers.map((s) => [
        s.order,
        s.itemId,
        s.itemTitle,
        s.bridgeId,
        s.bridgeName,
        s.speakerName,
        s.speakerTitle,
        s.topic,
        time(s.startedAt),
        time(s.endedAt),
        s.durationSec,
        s.limitSec,
        s.overrunSec,
        s.endReason,
      ]),
    ),
    'incidents.csv': file(
      ['at', 'kind', 'bridge_id', 'bridge_name', 'detail'],
      data.incidents.map((x) => [time(x.at), x.kind, x.bridgeId, x.bridgeName, x.detail]),
    ),
    'programme.csv': file(
      ['item_id', 'kind', 'title', 'planned_min', 'elapsed_sec'],
      data.items.map((i) => [i.itemId, i.kind, i.title, i.plannedMinutes, i.elapsedSec]),
    ),
    'messages.csv': file(
      ['at', 'from_role', 'from_bridge_id', 'from', 'to', 'to_name', 'kind', 'text'],
      data.messages.map((m) => [time(m.at), m.fromRole, m.fromBridgeId, m.fromName, m.to, m.toName, m.kind, m.text]),
    ),
    'papers.csv': file(
      ['slot_id', 'item_id', 'bridge_id', 'bridge_name', 'topic', 'submitted', 'submitted_at', 'first_submitted_at', 'deadline', 'versions', 'pages', 'bytes', 'late', 'shown_during_speeches', 'shown_during', 'pages_shown', 'shown_sec'],
      data.papers.map((p) => [
        p.slotId,
        p.itemId,
        p.bridgeId,
        p.bridgeName,
        p.topic,
        p.paperId !== null,
        time(p.submittedAt),
        time(p.firstSubmittedAt),
        time(p.deadline),
        p.versions,
        p.pages,
        p.bytes,
        p.late,
        p.shownDuringSpeeches.join(' '),
        // "2. Hoàng Thị Mai (Xã Cao Minh)": the speech as the speakers list numbers it, for people.
        p.shownDuring.map((s) => `${s.order}. ${[s.speakerName, `(${s.bridgeName})`].filter(Boolean).join(' ')}`).join('; '),
        p.pagesShown.join(' '),
        p.shownSec,
      ]),
    ),
  };
}

/** A CSV cell value; null is an empty cell. */
export type Cell = string | number | boolean | null;

/** One CSV cell: quoted when it holds a comma, quote or line break; text that a spreadsheet would run as a formula is defused. */
export function csvCell(value: Cell): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  // OWASP CSV injection: a leading = + - @ (or tab/CR) makes Excel evaluate the cell.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** Rows as CSV text with CRLF line ends. */
export function csv(rows: readonly (readonly Cell[])[]): string {
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/** Epoch ms as local ISO time at a fixed offset: 2021-11-26T08:00:00+07:00. */
export function formatTime(ms: number, utcOffsetMinutes: number): string {
  const local = new Date(ms + utcOffsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = utcOffsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(utcOffsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
