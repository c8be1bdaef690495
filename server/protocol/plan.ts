// Conference plan: the bridges (điểm cầu) of the three tiers, the agenda (`programme` in plan
// files), the speaking rules and the maket (banner) template. Pure schemas and parsing; no I/O.
// (Over 400 lines: the cross-field checks sit with the schemas so that every mistake of a plan
// is reported at once, with its path and a Vietnamese message.)
import { z } from 'zod';
import { MAX_BRIDGE_NAME, MAX_MAKET_LINE, MAX_PLAN_NOTE, MAX_SPEAKER_NAME, MAX_TITLE, MAX_TOPIC, type TextFault } from '../core/conference/validate.ts';
import { screenText } from './text.ts';
import { UNIT_PREFIXES as UNIT_WORDS } from '../core/names.ts';
import { LABEL_NAME, LABEL_VALUE_MAX, MAX_LABELS } from './cluster.ts';
import { DEFAULT_HOLDER_GRACE_SECONDS } from '../core/conference/types.ts';

export { chairBridgeOf } from './chair.ts';
import { PaperRulesSchema } from './papers.ts';

/** Tier of a bridge: the province hall, a district/city hall, or a commune/ward/town hall. */
export const BridgeTierSchema = z.enum(['province', 'district', 'commune']);
export type BridgeTier = z.infer<typeof BridgeTierSchema>;

/** How a hall connects: a browser (WebRTC) or an RTP endpoint such as a hardware codec. */
export const BridgeKindSchema = z.enum(['browser', 'rtp']);
export type BridgeKind = z.infer<typeof BridgeKindSchema>;

const ID_PREFIX: Record<BridgeTier, string> = { province: 'p', district: 'd', commune: 'c' };

// GSO (Tổng cục Thống kê) codes: 2 digits for a province, 3 for a district, 5 for a commune.
const CODE_DIGITS: Record<BridgeTier, number> = { province: 2, district: 3, commune: 5 };

/** Administrative-unit prefixes a bridge name may start with, per tier (longest match wins). */
export const UNIT_PREFIXES: Readonly<Record<BridgeTier, readonly string[]>> = UNIT_WORDS;

const TIER_LABEL: Record<BridgeTier, string> = {
  province: 'cấp tỉnh',
  district: 'cấp huyện',
  commune: 'cấp xã',
};

/** Stable, URL-safe bridge id for a tier and GSO code: p-20, d-178, c-05971. */
export function bridgeIdFor(tier: BridgeTier, code: string): string {
  return `${ID_PREFIX[tier]}-${code}`;
}

/** Splits "Huyện Bắc Sơn" into { prefix: 'Huyện', place: 'Bắc Sơn' }; null when no prefix of the tier matches. */
export function splitUnitName(tier: BridgeTier, name: string): { prefix: string; place: string } | null {
  for (const prefix of UNIT_PREFIXES[tier]) {
    if (name.startsWith(`${prefix} `)) {
      const place = name.slice(prefix.length + 1).trim();
      if (place.length > 0) return { prefix, place };
    }
  }
  return null;
}

/** Why a text was refused, in Vietnamese (the plan's messages are read by the council office). */
const TEXT_FAULT_VI: Record<TextFault, string> = {
  not_text: 'phải là chuỗi ký tự',
  empty: 'không được để trống',
  too_long: 'quá dài',
  control: 'có ký tự điều khiển',
  bidi: 'có ký tự đảo chiều văn bản',
  invisible: 'có ký tự ẩn (không hiển thị)',
  surrogate: 'có ký tự hỏng (nửa cặp UTF-16)',
  private_use: 'có ký tự dùng riêng (không có trong bảng mã chuẩn)',
  unassigned: 'có ký tự chưa được định nghĩa trong Unicode',
  line_break: 'có ký tự xuống dòng',
  marks: 'có quá nhiều dấu chồng lên một chữ',
};

/** A text field of the plan under the text rule of the core, with a Vietnamese message naming the field. */
const text = (what: string, max: number, options: { allowEmpty?: boolean } = {}) =>
  screenText(max, {
    ...options,
    message: (check) => `${what} ${TEXT_FAULT_VI[check.fault]}${check.fault === 'too_long' ? ` (tối đa ${max} ký tự)` : ''}${check.codePoint ? ` (${check.codePoint} ở vị trí ${check.at! + 1})` : ''}`,
  });

const slug = z
  .string({ error: 'Mã phải là chuỗi ký tự' })
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, {
    error: 'Mã chỉ gồm chữ thường không dấu, chữ số và dấu gạch ngang (ví dụ "giai-lao")',
  });

const udpPort = (what: string) =>
  z
    .number({ error: `${what} phải là số` })
    .int({ error: `${what} phải là số nguyên` })
    .min(1024, { error: `${what} phải từ 1024 đến 65535` })
    .max(65535, { error: `${what} phải từ 1024 đến 65535` });

/**
 * A hardware hall (kind "rtp": a conference codec, an encoder box, ffmpeg/OBS): whether it
 * speaks SRTP, and where it receives the programme (a technician may give that later).
 */
export const RtpEndpointSchema = z.strictObject({
  srtp: z.boolean({ error: 'srtp phải là true (thiết bị hỗ trợ SRTP) hoặc false' }).default(true),
  /** The codec the device sends its camera in (room codecs: H264; ffmpeg/OBS may send VP8). */
  videoCodec: z.enum(['VP8', 'H264'], { error: 'videoCodec là "VP8" hoặc "H264"' }).default('VP8'),
  receive: z
    .strictObject({
      ip: z.ipv4({ error: 'Địa chỉ nhận của thiết bị phải là địa chỉ IPv4 (ví dụ "10.20.0.15")' }),
      audioPort: udpPort('Cổng nhận âm thanh'),
      videoPort: udpPort('Cổng nhận hình ảnh'),
    })
    .refine((r) => r.audioPort !== r.videoPort, { error: 'Cổng nhận âm thanh và cổng nhận hình ảnh phải khác nhau', path: ['videoPort'] })
    .optional(),
});
export type RtpEndpoint = z.infer<typeof RtpEndpointSchema>;

/** One connected hall. Ids follow the scheme p-<code>, d-<code>, c-<code>. */
export const BridgeSchema = z.strictObject({
  id: z.string({ error: 'Mã điểm cầu phải là chuỗi ký tự' }).regex(/^[pdc]-\d{2,5}$/, {
    error: 'Mã điểm cầu có dạng p-<mã tỉnh>, d-<mã huyện> hoặc c-<mã xã> (ví dụ "d-178")',
  }),
  tier: BridgeTierSchema,
  name: text('Tên điểm cầu', MAX_BRIDGE_NAME),
  parentId: z.string({ error: 'Điểm cầu cấp trên phải là mã điểm cầu hoặc null' }).nullable(),
  // YAML turns an unquoted 05971 into the number 5971, hence the hint about quotes.
  code: z
    .string({ error: 'Mã GSO phải là chuỗi, viết trong dấu nháy (ví dụ "05971") để giữ số 0 ở đầu' })
    .regex(/^\d{2,5}$/, { error: 'Mã GSO chỉ gồm 2 đến 5 chữ số' }),
  kind: BridgeKindSchema.default('browser'),
  /** Only with kind "rtp"; absent means SRTP on and the receive address given later. */
  rtp: RtpEndpointSchema.optional(),
});
export type Bridge = z.infer<typeof BridgeSchema>;

/** The RTP settings of a hardware hall, with defaults; null for a browser hall. */
export function rtpEndpointOf(bridge: Bridge): RtpEndpoint | null {
  if (bridge.kind !== 'rtp') return null;
  return bridge.rtp ?? { srtp: true, videoCodec: 'VP8' };
}

/** Kinds of agenda items, in the vocabulary of the plans (khai mạc, báo cáo, tham luận, ...). */
export const AgendaItemKindSchema = z.enum([
  'opening',
  'report',
  'directive',
  'designated_paper',
  'discussion',
  'break',
  'conclusion',
  'other',
]);
export type AgendaItemKind = z.infer<typeof AgendaItemKindSchema>;

const minutes = z
  .number({ error: 'Số phút phải là số' })
  .int({ error: 'Số phút phải là số nguyên' })
  .positive({ error: 'Số phút phải lớn hơn 0' });

/** A planned speaker: the hall that speaks, optionally on what topic, who, and for how long at most. */
export const SpeakerSchema = z.strictObject({
  bridgeId: z.string({ error: 'Mã điểm cầu phải là chuỗi ký tự' }),
  // The same limits as a hall's request (one source, the core): the plan's topic goes on the lower third too.
  topic: text('Chủ đề', MAX_TOPIC).optional(),
  speakerName: text('Tên người phát biểu', MAX_SPEAKER_NAME).optional(),
  limitMinutes: minutes.optional(),
});
export type Speaker = z.infer<typeof SpeakerSchema>;

/** One item of the agenda (chương trình). */
export const AgendaItemSchema = z.strictObject({
  id: slug,
  kind: AgendaItemKindSchema,
  title: text('Tiêu đề', MAX_TITLE),
  plannedMinutes: minutes,
  /** Speaking limit for this item (overrides the conference default; a speaker's own limit wins). */
  limitMinutes: minutes.optional(),
  speakers: z.array(SpeakerSchema).default([]),
});
export type AgendaItem = z.infer<typeof AgendaItemSchema>;

/** Speaking rules: "phát biểu không quá 10 phút", warnings before the end, what happens at expiry. */
export const SpeakingRulesSchema = z
  .strictObject({
    defaultLimitMinutes: minutes.default(10),
    // Sorted longest first so the timer can walk them in order.
    warningMarksSeconds: z
      .array(z.number().int().positive({ error: 'Mốc cảnh báo phải lớn hơn 0 giây' }))
      .default([120, 60, 30])
      .transform((marks) => [...new Set(marks)].sort((a, b) => b - a)),
    expiryPolicy: z.enum(['notify_chair', 'close_mic']).default('notify_chair'),
    graceSeconds: z.number().int().nonnegative({ error: 'Thời gian gia hạn không được âm' }).default(30),
    /** How long a speaking hall whose link dropped keeps the floor while it reconnects (0: it loses it at once). */
    holderGraceSeconds: z
      .number()
      .int()
      .min(0, { error: 'Thời gian chờ điểm cầu kết nối lại không được âm' })
      .max(600, { error: 'Thời gian chờ điểm cầu kết nối lại tối đa 600 giây' })
      .default(DEFAULT_HOLDER_GRACE_SECONDS),
  })
  .superRefine((rules, ctx) => {
    const limit = rules.defaultLimitMinutes * 60;
    for (const mark of rules.warningMarksSeconds) {
      if (mark >= limit) {
        ctx.addIssue({
          code: 'custom',
          path: ['warningMarksSeconds'],
          message: `Mốc cảnh báo ${mark} giây phải ngắn hơn thời gian phát biểu (${limit} giây)`,
        });
      }
    }
  });
export type SpeakingRules = z.infer<typeof SpeakingRulesSchema>;

/** Placeholders a maket template line may use; filled per bridge by renderMaket. */
export const MAKET_PLACEHOLDERS = [
  'LOCALITY', // the hall's unit, as written: "Huyện Bắc Sơn"
  'LOCALITY_UPPER', // the same in capitals: "HUYỆN BẮC SƠN"
  'PLACE', // the unit without its prefix: "Bắc Sơn"
  'TITLE', // the conference title
  'TITLE_UPPER', // the title in capitals
  'DD', // day, "..." while the date is not announced
  'MM', // month, from the date or tentativeMonth, else "..."
  'YYYY', // year, from the date or tentativeMonth, else "..."
] as const;
export type MaketPlaceholder = (typeof MAKET_PLACEHOLDERS)[number];

/** The generic banner of seed 004 ("THƯỜNG TRỰC HĐND ..... / HỘI NGHỊ TRỰC TUYẾN / title / ....., ngày ... tháng ..."). */
export const DEFAULT_MAKET_LINES: readonly string[] = [
  'THƯỜNG TRỰC HĐND {LOCALITY_UPPER}',
  'HỘI NGHỊ TRỰC TUYẾN',
  '{TITLE_UPPER}',
  '{PLACE}, ngày {DD} tháng {MM} năm {YYYY}',
];

const cssColour = z
  .string({ error: 'Màu phải là chuỗi ký tự' })
  .regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, { error: 'Màu viết dạng #rrggbb (ví dụ "#c00000")' });

/** Maket hội nghị: "nền đỏ, chữ vàng", lines with {PLACEHOLDER}s that a secretary can edit. */
export const MaketTemplateSchema = z.strictObject({
  background: cssColour.default('#c00000'),
  textColour: cssColour.default('#ffde00'),
  lines: z
    .array(text('Dòng maket', MAX_MAKET_LINE, { allowEmpty: true }))
    .min(1, { error: 'Maket phải có ít nhất một dòng' })
    .default(() => [...DEFAULT_MAKET_LINES])
    .superRefine((lines, ctx) => {
      lines.forEach((line, i) => {
        for (const m of line.matchAll(/\{([^{}]*)\}/g)) {
          if (!(MAKET_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `Không có ô "{${m[1]}}"; các ô dùng được: ${MAKET_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
            });
          }
        }
      });
    }),
});
export type MaketTemplate = z.infer<typeof MaketTemplateSchema>;

/**
 * Where the halls' media goes when the deployment has several media nodes (issue 13): which
 * halls go to one node together, and which nodes some halls prefer (by the nodes' labels, e.g.
 * the telecom centre near a group of districts). Preferences are soft: when no such node is
 * alive or it is full, the halls go elsewhere rather than nowhere.
 */
export const PlacementSchema = z.strictObject({
  /** "district": a district hall and its communes on one node (the province hall with the staff); "none": each hall on its own. */
  together: z.enum(['district', 'none'], { error: 'together là "district" (huyện cùng các xã) hoặc "none"' }).default('district'),
  affinity: z
    .array(
      z.strictObject({
        /** Bridge ids; a district's communes follow their district unless a rule of their own names them. */
        bridges: z.array(z.string({ error: 'Mã điểm cầu phải là chuỗi ký tự' })).min(1, { error: 'Quy tắc phải nêu ít nhất một điểm cầu' }),
        /** The labels a node must have to be preferred (e.g. { region: "dong-bac" }). */
        labels: z
          .record(
            z.string(),
            z.string({ error: 'Giá trị nhãn phải là chuỗi ký tự' }).min(1, { error: 'Giá trị nhãn không được để trống' }).max(LABEL_VALUE_MAX, { error: `Giá trị nhãn không quá ${LABEL_VALUE_MAX} ký tự` }),
          )
          .superRefine((labels, ctx) => {
            const names = Object.keys(labels);
            if (names.length < 1 || names.length > MAX_LABELS) ctx.addIssue({ code: 'custom', message: `Quy tắc có từ 1 đến ${MAX_LABELS} nhãn` });
            for (const name of names) {
              if (!LABEL_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'Tên nhãn gồm chữ thường không dấu, chữ số, "-" hoặc "_", bắt đầu bằng chữ (ví dụ "region")' });
            }
          }),
      }),
    )
    .default([]),
});
export type PlacementPlan = z.infer<typeof PlacementSchema>;

/** A whole conference plan (kế hoạch hội nghị). */
export const ConferencePlanSchema = z
  .strictObject({
    title: text('Tên hội nghị', MAX_TITLE),
    organiser: text('Cơ quan tổ chức', MAX_PLAN_NOTE),
    // null or absent: "thời gian cụ thể sẽ có thông báo sau"; the organiser sets it later.
    date: z.iso
      .date({ error: 'Ngày họp viết dạng YYYY-MM-DD (ví dụ "2021-11-26") hoặc null' })
      .nullable()
      .default(null),
    // Month and year already known while the day is not (the seed's "ngày ... tháng 11 năm 2021").
    tentativeMonth: z
      .string()
      .regex(/^\d{4}-(?:0[1-9]|1[0-2])$/, { error: 'Tháng dự kiến viết dạng YYYY-MM (ví dụ "2021-11")' })
      .nullable()
      .optional(),
    dateNote: text('Ghi chú thời gian', MAX_PLAN_NOTE).optional(),
    startTime: z
      .string()
      .regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, { error: 'Giờ bắt đầu viết dạng HH:MM (ví dụ "07:30")' })
      .optional(),
    venue: text('Địa điểm', MAX_PLAN_NOTE),
    bridges: z.array(BridgeSchema).min(1, { error: 'Kế hoạch phải có ít nhất một điểm cầu' }),
    // The agenda; `programme` is its key in plan files (written by people, so it stays).
    programme: z.array(AgendaItemSchema).default([]),
    speaking: SpeakingRulesSchema.prefault({}),
    maket: MaketTemplateSchema.prefault({}),
    /** Absent: a district and its communes together, no preferred nodes. */
    placement: PlacementSchema.optional(),
    /** Deadline and limits of the designated papers (tham luận). */
    papers: PaperRulesSchema.prefault({}),
  })
  // Runs even when some fields failed, so a secretary sees every mistake at once.
  .superRefine((plan, ctx) => checkPlanReferences(plan as unknown, ctx), { when: () => true });
export type ConferencePlan = z.infer<typeof ConferencePlanSchema>;
/** What an author writes before defaults are applied. */
export type ConferencePlanInput = z.input<typeof ConferencePlanSchema>;

type Issue = { path: (string | number)[]; message: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTier = (v: unknown): v is BridgeTier => v === 'province' || v === 'district' || v === 'commune';

// Cross-field rules. Defensive: fields may be of the wrong type when other checks already failed.
function checkPlanReferences(plan: unknown, ctx: { addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void }): void {
  if (!isRecord(plan)) return;
  const issues: Issue[] = [];
  const bridges = Array.isArray(plan.bridges) ? plan.bridges : [];
  const tierById = new Map<string, BridgeTier | undefined>();
  const firstIndexById = new Map<string, number>();
  const provinces: number[] = [];

  bridges.forEach((b, i) => {
    if (!isRecord(b)) return;
    const tier = isTier(b.tier) ? b.tier : undefined;
    if (typeof b.id === 'string') {
      const first = firstIndexById.get(b.id);
      if (first !== undefined) {
        issues.push({ path: ['bridges', i, 'id'], message: `Trùng mã điểm cầu "${b.id}" (đã dùng ở bridges.${first})` });
      } else {
        firstIndexById.set(b.id, i);
        tierById.set(b.id, tier);
      }
    }
    if (b.rtp !== undefined && b.kind !== 'rtp') {
      issues.push({ path: ['bridges', i, 'rtp'], message: 'Khối "rtp" chỉ dùng cho điểm cầu có kind: rtp (thiết bị phần cứng)' });
    }
    if (tier === undefined) return;
    if (tier === 'province') provinces.push(i);
    if (typeof b.code === 'string' && /^\d+$/.test(b.code)) {
      if (b.code.length !== CODE_DIGITS[tier]) {
        issues.push({
          path: ['bridges', i, 'code'],
          message: `Mã GSO ${TIER_LABEL[tier]} có ${CODE_DIGITS[tier]} chữ số, "${b.code}" có ${b.code.length}`,
        });
      } else if (typeof b.id === 'string' && b.id !== bridgeIdFor(tier, b.code)) {
        issues.push({
          path: ['bridges', i, 'id'],
          message: `Mã điểm cầu ${TIER_LABEL[tier]} có mã GSO "${b.code}" phải là "${bridgeIdFor(tier, b.code)}"`,
        });
      }
    }
    if (typeof b.name === 'string' && b.name.trim() !== '' && splitUnitName(tier, b.name.trim().normalize('NFC')) === null) {
      issues.push({
        path: ['bridges', i, 'name'],
        message: `Tên điểm cầu ${TIER_LABEL[tier]} phải bắt đầu bằng ${UNIT_PREFIXES[tier].map((p) => `"${p}"`).join(', ')} rồi đến tên địa phương`,
      });
    }
  });

  if (provinces.length === 0 && bridges.length > 0) {
    issues.push({ path: ['bridges'], message: 'Phải có đúng một điểm cầu cấp tỉnh, hiện không có' });
  }
  for (const i of provinces.slice(1)) {
    issues.push({
      path: ['bridges', i, 'tier'],
      message: `Chỉ được có một điểm cầu cấp tỉnh (đã có bridges.${provinces[0]})`,
    });
  }

  const wantedParent: Record<BridgeTier, BridgeTier | null> = { province: null, district: 'province', commune: 'district' };
  bridges.forEach((b, i) => {
    if (!isRecord(b) || !isTier(b.tier)) return;
    const want = wantedParent[b.tier];
    const path = ['bridges', i, 'parentId'];
    if (want === null) {
      if (b.parentId !== null && b.parentId !== undefined) {
        issues.push({ path, message: 'Điểm cầu cấp tỉnh không có cấp trên (parentId phải là null)' });
      }
      return;
    }
    if (b.parentId === null) {
      issues.push({ path, message: `Điểm cầu ${TIER_LABEL[b.tier]} phải thuộc một điểm cầu ${TIER_LABEL[want]}` });
      return;
    }
    if (typeof b.parentId !== 'string') return;
    if (!tierById.has(b.parentId)) {
      issues.push({ path, message: `Không có điểm cầu "${b.parentId}"` });
      return;
    }
    const parentTier = tierById.get(b.parentId);
    if (parentTier !== undefined && parentTier !== want) {
      issues.push({
        path,
        message: `Điểm cầu ${TIER_LABEL[b.tier]} phải thuộc một điểm cầu ${TIER_LABEL[want]}, "${b.parentId}" là điểm cầu ${TIER_LABEL[parentTier]}`,
      });
    }
  });

  const agenda = Array.isArray(plan.programme) ? plan.programme : [];
  const itemIndexById = new Map<string, number>();
  agenda.forEach((item, i) => {
    if (!isRecord(item)) return;
    if (typeof item.id === 'string') {
      const first = itemIndexById.get(item.id);
      if (first !== undefined) {
        issues.push({ path: ['programme', i, 'id'], message: `Trùng mã mục "${item.id}" (đã dùng ở programme.${first})` });
      } else {
        itemIndexById.set(item.id, i);
      }
    }
    const speakers = Array.isArray(item.speakers) ? item.speakers : [];
    speakers.forEach((s, j) => {
      if (isRecord(s) && typeof s.bridgeId === 'string' && !tierById.has(s.bridgeId)) {
        issues.push({
          path: ['programme', i, 'speakers', j, 'bridgeId'],
          message: `Không có điểm cầu "${s.bridgeId}"`,
        });
      }
    });
  });

  const placement = isRecord(plan.placement) ? plan.placement : {};
  const rules = Array.isArray(placement.affinity) ? placement.affinity : [];
  const ruleOf = new Map<string, number>();
  rules.forEach((rule, i) => {
    const ids = isRecord(rule) && Array.isArray(rule.bridges) ? rule.bridges : [];
    ids.forEach((id, j) => {
      if (typeof id !== 'string') return;
      const path = ['placement', 'affinity', i, 'bridges', j];
      if (!tierById.has(id)) issues.push({ path, message: `Không có điểm cầu "${id}"` });
      else if (ruleOf.has(id)) issues.push({ path, message: `Điểm cầu "${id}" đã có trong quy tắc placement.affinity.${ruleOf.get(id)}` });
      else ruleOf.set(id, i);
    });
  });

  for (const issue of issues) ctx.addIssue({ code: 'custom', ...issue });
}

/** One wrong field: dotted path (e.g. "bridges.12.parentId"; "" for the whole plan) and a Vietnamese message. */
export type PlanIssue = { path: string; message: string };

export type PlanParseResult = { ok: true; plan: ConferencePlan } | { ok: false; errors: PlanIssue[] };

/** Raised when a plan is refused; carries every wrong field. */
export class PlanError extends Error {
  readonly code = 'invalid_plan' as const;
  readonly errors: PlanIssue[];

  constructor(errors: PlanIssue[], source?: string) {
    const shown = errors
      .slice(0, 5)
      .map((e) => `${e.path || '(kế hoạch)'}: ${e.message}`)
      .join('; ');
    const more = errors.length > 5 ? `; ... (${errors.length - 5} more)` : '';
    super(`invalid plan${source ? ` [source:${source}]` : ''} [errors:${errors.length}] ${shown}${more}`);
    this.name = 'PlanError';
    this.errors = errors;
  }
}

const vietnameseErrors = z.locales.vi().localeError;

/** Validates an unknown value as a conference plan, applying defaults; never throws. */
export function parsePlan(input: unknown): PlanParseResult {
  const result = ConferencePlanSchema.safeParse(input, { error: vietnameseErrors });
  if (result.success) return { ok: true, plan: result.data };
  const errors: PlanIssue[] = [];
  const seen = new Set<string>();
  const push = (path: PropertyKey[], message: string) => {
    const dotted = path.map(String).join('.');
    const key = `${dotted}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    errors.push({ path: dotted, message });
  };
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      // Point at each unknown key (usually a typo such as "parentID") rather than at its object.
      for (const key of issue.keys) push([...issue.path, key], `Trường "${key}" không có trong kế hoạch`);
    } else {
      push(issue.path, issue.message);
    }
  }
  return { ok: false, errors };
}

/** Like parsePlan but throws a PlanError; for plans the program itself builds. */
export function parsePlanOrThrow(input: unknown, source?: string): ConferencePlan {
  const result = parsePlan(input);
  if (!result.ok) throw new PlanError(result.errors, source);
  return result.plan;
}
