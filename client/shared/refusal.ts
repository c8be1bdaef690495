// A page whose link is refused says so at once, in Vietnamese, and stops: it is not a network
// loss to wait out. The server says why (TokenRefusal) in a connect_error's data, in the
// 'session:refused' event before it cuts a socket off, and in a REST 401.

/** Why the server refused this page's link. */
export type TokenRefusal = 'token_revoked' | 'token_invalid';

/** The refusal a connect_error carries (its message is 'unauthenticated'), or null for any other failure. */
export function refusalOfError(err: Error & { data?: unknown }): TokenRefusal | null {
  if (err.message !== 'unauthenticated') return null;
  const code = (err.data as { code?: unknown } | undefined)?.code;
  return code === 'token_revoked' ? 'token_revoked' : 'token_invalid';
}

/** What the page says, for each refusal. */
export function refusalText(code: TokenRefusal): string {
  return code === 'token_revoked'
    ? 'Liên kết này đã bị thu hồi (đã được cấp liên kết mới hoặc đã bị hủy). Trang này đã ngừng kết nối. Xin liên hệ Văn phòng để nhận liên kết mới.'
    : 'Liên kết này không hợp lệ. Xin kiểm tra lại liên kết đã nhận, hoặc liên hệ Văn phòng để nhận liên kết mới.';
}

/**
 * Replaces what the page shows by the refusal: everything else is hidden (a revoked operator panel
 * must not go on saying "ĐANG PHÁT BIỂU" with a running countdown). Idempotent.
 */
export function showRefusal(code: TokenRefusal): void {
  let box = document.getElementById('refusal');
  if (!box) {
    box = document.createElement('div');
    box.id = 'refusal';
    box.className = 'refusal';
    box.setAttribute('role', 'alert');
    for (const child of [...document.body.children]) if (child instanceof HTMLElement) child.style.display = 'none';
    document.body.append(box);
  }
  box.dataset.code = code;
  box.replaceChildren(Object.assign(document.createElement('h1'), { textContent: code === 'token_revoked' ? 'Liên kết đã bị thu hồi' : 'Liên kết không hợp lệ' }), Object.assign(document.createElement('p'), { textContent: refusalText(code) }));
  document.title = `${code === 'token_revoked' ? 'Liên kết đã bị thu hồi' : 'Liên kết không hợp lệ'} — Hội nghị trực tuyến`;
}

/** A client of the server that may be refused (ControlClient, MediaClient). */
interface Refusable {
  on(event: 'refused', fn: (detail: { code: TokenRefusal }) => void): void;
  close(): void;
}

/** When any of the page's clients is refused, the page says why and every client stops. */
export function stopOnRefusal(...clients: Refusable[]): void {
  for (const client of clients) {
    client.on('refused', ({ code }) => {
      showRefusal(code);
      for (const other of clients) other.close();
    });
  }
}
