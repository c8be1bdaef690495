// Papers in the browser apps: uploading a file to a slot, and the words for a slot's state.
import { megabytes, type PaperSlotView, type UploadAnswer } from '../../server/protocol/papers.ts';
import { formatClock } from './ui.ts';

/** What an upload came to: the new version, or the server's code and its Vietnamese reason. */
export type UploadResult = { ok: true; paper: UploadAnswer['paper'] } | { ok: false; code: string; message: string };

/** Sends a file as a paper of a slot (the server checks it and answers with the reason of a refusal). */
export async function uploadPaper(token: string, slotId: string, file: File, maxBytes?: number): Promise<UploadResult> {
  // Saves sending 30 MB to hear "too large"; the server checks again anyway.
  if (maxBytes !== undefined && file.size > maxBytes) return { ok: false, code: 'too_large', message: `Tệp ${megabytes(file.size)}, vượt quá ${megabytes(maxBytes)}` };
  try {
    const res = await fetch(`/api/papers/slots/${encodeURIComponent(slotId)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/pdf', 'x-file-name': encodeURIComponent(file.name) },
      body: file,
    });
    const body = (await res.json().catch(() => null)) as { paper?: UploadAnswer['paper']; error?: { code: string; message: string } } | null;
    if (res.ok && body?.paper) return { ok: true, paper: body.paper };
    return { ok: false, code: body?.error?.code ?? `http_${res.status}`, message: body?.error?.message ?? `Máy chủ trả lời lỗi ${res.status}` };
  } catch {
    return { ok: false, code: 'network', message: 'Không gửi được tệp: mất kết nối tới máy chủ' };
  }
}

/** "Đã nhận", "Nộp muộn", "Chưa nộp". */
export function slotStateText(state: PaperSlotView['state']): string {
  return { received: 'Đã nhận', late: 'Nộp muộn', missing: 'Chưa nộp' }[state];
}

/** One line about the current version: when, pages, size, by whom. */
export function versionLine(slot: PaperSlotView): string {
  const v = slot.current;
  if (!v) return 'Chưa nhận được tham luận.';
  const day = new Date(v.submittedAt).toLocaleDateString('vi-VN');
  return `Bản ${v.version}: ${v.pages} trang, ${megabytes(v.bytes)}, nhận lúc ${formatClock(v.submittedAt)} ngày ${day}, do ${v.by} gửi${v.late ? ' (sau hạn)' : ''}.`;
}

/** Opens a paper in a new tab (fetched with the token; the link itself carries none). */
export async function openPaper(token: string, paperId: string): Promise<void> {
  const res = await fetch(`/api/papers/${encodeURIComponent(paperId)}/file`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  window.open(url, '_blank', 'noopener');
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
