// Errors of the stores and the check every conference id passes before it becomes a key.

/** Stable codes of store failures. */
export type StoreErrorCode = 'closed' | 'conflict' | 'log_gap' | 'corrupt' | 'unavailable' | 'invalid_argument';

/** A store failure with a stable code and a short `[key:value]` message. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** Conference ids are used in keys and channels: short, url-safe. */
export function checkConferenceId(conferenceId: string): void {
  if (typeof conferenceId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(conferenceId)) {
    throw new StoreError('invalid_argument', `bad conference id [conferenceId:${String(conferenceId).slice(0, 70)}]`);
  }
}
