// The open/closed state the memory stores share: calls after close() fail with code 'closed',
// and conference ids are checked as the redis store checks them.
import { checkConferenceId, StoreError } from '../errors.ts';

/** Whether a memory store is still open. */
export class OpenGuard {
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws StoreError 'closed' after close(), and 'invalid_argument' for a bad conference id. */
  assert(conferenceId?: string): void {
    if (this.#closed) throw new StoreError('closed', 'store closed');
    if (conferenceId !== undefined) checkConferenceId(conferenceId);
  }

  /** Marks the store closed; false when it already was. */
  close(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    return true;
  }
}
