// Refusals are values with a stable code; the short message follows mediasoup's [key:value] style.
import type { ConferenceError, ErrorCode, Refused } from './types.ts';

/** Builds a refusal with a stable code and a short message. */
export function refuse(code: ErrorCode, message: string): Refused {
  return { error: { code, message } satisfies ConferenceError };
}
