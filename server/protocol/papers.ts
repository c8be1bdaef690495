/**
 * The papers protocol: the plan's paper rules, the content commands, what the displays and the
 * secretary's panel receive, and the Vietnamese reason of every refused file. Shared by the
 * server and the browser apps; every bound comes from the core's constants.
 */
import { z } from 'zod';
import {
  DEFAULT_PAPER_RULES,
  MAX_PAGE_NUMBER,
  MB,
  PAPER_ID_PATTERN,
  PAPER_RULE_BOUNDS,
} from '../core/conference/papers.ts';
import type { PaperFault } from '../core/conference/paper-format.ts';
import type { ScreenStopReason } from '../core/conference/screen.ts';
import { nameInSentence } from '../core/names.ts';

/** A paper id, as the server made it. */
export const PaperId = z.string().regex(PAPER_ID_PATTERN, 'not a paper id');

/** A page number. */
export const PageNumber = z.number().int().min(1).max(MAX_PAGE_NUMBER);

/** Papers in the plan: the deadline and the limits ("tham luận không quá 4 trang A4", sent before 15/11/2021). */
export const PaperRulesSchema = z.strictObject({
  // "Trước ngày 15/11/2021": the instant the day starts, written with its offset.
  deadline: z.iso
    .datetime({ offset: true, error: 'Hạn nộp viết dạng YYYY-MM-DDTHH:MM:SS+07:00 (ví dụ "2021-11-15T00:00:00+07:00") hoặc null' })
    .nullable()
    .default(null),
  maxPages: z
    .number({ error: 'Số trang tối đa phải là số' })
    .int({ error: 'Số trang tối đa phải là số nguyên' })
    .min(1, { error: 'Số trang tối đa phải từ 1' })
    .max(PAPER_RULE_BOUNDS.maxPages, { error: `Số trang tối đa không quá ${PAPER_RULE_BOUNDS.maxPages}` })
    .default(DEFAULT_PAPER_RULES.maxPages),
  maxSizeMB: z
    .number({ error: 'Dung lượng tối đa phải là số (MB)' })
    .positive({ error: 'Dung lượng tối đa phải lớn hơn 0' })
    .max(PAPER_RULE_BOUNDS.maxBytes / MB, { error: `Dung lượng tối đa không quá ${PAPER_RULE_BOUNDS.maxBytes / MB} MB` })
    .default(DEFAULT_PAPER_RULES.maxBytes / MB),
  pageSize: z.literal('A4', { error: 'Khổ giấy hiện chỉ hỗ trợ "A4"' }).default('A4'),
  toleranceMm: z
    .number({ error: 'Dung sai khổ giấy phải là số (mm)' })
    .min(0, { error: 'Dung sai khổ giấy không được âm' })
    .max(PAPER_RULE_BOUNDS.toleranceMm, { error: `Dung sai khổ giấy không quá ${PAPER_RULE_BOUNDS.toleranceMm} mm` })
    .default(DEFAULT_PAPER_RULES.toleranceMm),
  landscape: z.boolean({ error: 'landscape là true (cho phép khổ ngang) hoặc false' }).default(DEFAULT_PAPER_RULES.landscape),
});
export type PaperRulesPlan = z.infer<typeof PaperRulesSchema>;

/** Content commands a person may send (the paper submission itself is REST: the server issues it after the check). */
export const ContentCommands = [
  z.strictObject({ type: z.literal('content_show'), paperId: PaperId, page: PageNumber.optional() }),
  z.strictObject({ type: z.literal('content_page'), page: PageNumber }),
  z.strictObject({ type: z.literal('content_clear') }),
  z.strictObject({ type: z.literal('screen_share_start') }),
  z.strictObject({ type: z.literal('screen_share_stop') }),
] as const;

/** The content on every screen, as the displays draw it. */
export interface ContentView {
  kind: 'document';
  paperId: string;
  slotId: string;
  bridgeId: string;
  bridgeName: string;
  topic: string | null;
  page: number;
  pages: number;
}

/** The last screen share that ended, and why (the view's `screenEnded`). */
export interface ScreenEndedView {
  bridgeId: string;
  bridgeName: string;
  reason: ScreenStopReason;
  at: number;
}

/** Why a share stopped, as the screens say it after "Đã dừng chia sẻ màn hình của điểm cầu …:" (none for a person's stop). */
export const SCREEN_STOP_TEXT: Readonly<Record<ScreenStopReason, string | null>> = Object.freeze({
  stopped: null,
  replaced: 'một tài liệu được đưa lên thay',
  speech_ended: 'điểm cầu đã hết lượt phát biểu',
  meeting_ended: 'hội nghị đã kết thúc',
  source_lost: 'mất kết nối với máy đang chia sẻ',
});

/** "Đã dừng chia sẻ màn hình của điểm cầu xã Cao Minh: mất kết nối với máy đang chia sẻ." */
export function screenEndedText(bridgeName: string, reason: ScreenStopReason): string {
  const why = SCREEN_STOP_TEXT[reason];
  return `Đã dừng chia sẻ màn hình của điểm cầu ${nameInSentence(bridgeName)}${why ? `: ${why}` : ''}.`;
}

/** How long a hall display says that a share ended by itself (its picture was lost). */
export const SCREEN_LOST_NOTICE_MS = 20_000;

/** One version of a paper, as people see it. */
export interface PaperVersionView {
  paperId: string;
  version: number;
  pages: number;
  bytes: number;
  fileName: string | null;
  submittedAt: number;
  by: string;
  late: boolean;
}

/** One submission slot and what was received for it. */
export interface PaperSlotView {
  slotId: string;
  itemId: string;
  itemTitle: string;
  bridgeId: string;
  bridgeName: string;
  topic: string | null;
  state: 'missing' | 'received' | 'late';
  current: PaperVersionView | null;
  /** Older versions, newest first. */
  history: PaperVersionView[];
  /** Whether the hall is on line now (to remind it). */
  online: boolean;
}

/** The papers part of a view: the rules people need, the slots, and who may turn pages now. */
export interface PapersView {
  deadline: number | null;
  maxPages: number;
  maxBytes: number;
  slots: PaperSlotView[];
}

/** What an upload answers. */
export interface UploadAnswer {
  paper: PaperVersionView & { slotId: string };
}

/** Vietnamese name of who uploaded. */
export function uploaderText(by: { role: string; bridgeId?: string }, bridgeName?: (id: string) => string): string {
  if (by.role === 'operator') return `Điểm cầu ${by.bridgeId && bridgeName ? bridgeName(by.bridgeId) : (by.bridgeId ?? '')}`.trim();
  return { secretary: 'Thư ký', chair: 'Chủ tọa', technician: 'Kỹ thuật viên', viewer: 'Báo chí', system: 'Hệ thống' }[by.role] ?? by.role;
}

/** "1,5 MB" (or "340 kB" under a megabyte) in Vietnamese notation. */
export function megabytes(bytes: number): string {
  if (bytes < MB) return `${Math.max(1, Math.round(bytes / 1024)).toLocaleString('vi-VN')} kB`;
  return `${(bytes / MB).toLocaleString('vi-VN', { maximumFractionDigits: 1 })} MB`;
}

/** The Vietnamese reason of a refused file (shown to the person who uploaded it). */
export function paperFaultText(fault: PaperFault): string {
  switch (fault.code) {
    case 'not_pdf':
      return 'Tệp không phải PDF';
    case 'empty_file':
      return 'Tệp rỗng, không có nội dung';
    case 'too_large':
      return `Tệp ${megabytes(fault.bytes)}, vượt quá ${megabytes(fault.maxBytes)}`;
    case 'no_pages':
      return 'Tệp PDF không có trang nào';
    case 'too_many_pages':
      return `Tham luận có ${fault.pages.toLocaleString('vi-VN')} trang, vượt quá ${fault.maxPages} trang A4`;
    case 'not_a4': {
      const size = fault.format ? `Khổ giấy ${fault.format}` : `Khổ giấy ${fault.widthMm} × ${fault.heightMm} mm`;
      return fault.allPages ? `${size}, không phải A4` : `Trang ${fault.page}: ${size.charAt(0).toLowerCase()}${size.slice(1)}, không phải A4`;
    }
    case 'landscape':
      return `Trang ${fault.page} khổ ngang; kế hoạch chỉ nhận khổ A4 dọc`;
    case 'pdf_encrypted':
      return 'Tệp PDF có mật khẩu; xin gửi bản không đặt mật khẩu';
    case 'image_too_large':
      return `Tệp PDF có hình ảnh quá lớn (quá ${Math.round(fault.maxPixels / 1e6)} triệu điểm ảnh)`;
    case 'pdf_damaged':
      return 'Tệp PDF bị hỏng, không đọc được';
    case 'check_timeout':
      return `Tệp PDF bị hỏng hoặc quá phức tạp: không kiểm tra xong trong ${Math.round(fault.limitMs / 1000)} giây`;
    case 'check_memory':
      return `Tệp PDF bị hỏng hoặc quá phức tạp: cần hơn ${fault.limitMb} MB bộ nhớ để đọc`;
  }
}
