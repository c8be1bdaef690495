// The text rule of the core (server/core/conference/validate.ts) as a zod schema, for every
// free-text field on the wire: one rule, one source. A text refused for its characters carries
// `params.code: 'invalid_text'`, which the transport answers with that code.
import { z } from 'zod';
import { checkText, describeTextFault, isCharacterFault, type TextCheck } from '../core/conference/validate.ts';

/** The code a refused text's issue carries (the transport's refusal code). */
export type TextIssueCode = 'invalid_text' | 'invalid_payload';

/** Options of screenText. */
export interface ScreenTextOptions {
  /** A blank is allowed (and comes out as ''). */
  allowEmpty?: boolean;
  /** The issue's message for a refused text (default: the rule's English description). */
  message?: (check: Extract<TextCheck, { ok: false }>) => string;
}

/**
 * Text shown on screens: NFC, spaces made plain, trimmed, at most `max` characters, nothing no
 * person types. Its output is the normalised text.
 */
export function screenText(max: number, options: ScreenTextOptions = {}) {
  // From unknown, so that a value of another type is refused by the same rule (and its message).
  return z.unknown().transform((value, ctx): string => {
    const check = checkText(value, max, options);
    if (check.ok) return check.text;
    const code: TextIssueCode = isCharacterFault(check.fault) ? 'invalid_text' : 'invalid_payload';
    ctx.issues.push({ code: 'custom', input: value, message: options.message?.(check) ?? describeTextFault(check), params: { code } });
    return z.NEVER;
  });
}

/** Whether a zod error holds a text refused for its characters (answered `invalid_text`). */
export function hasTextFault(error: z.ZodError): boolean {
  return error.issues.some((i) => i.code === 'custom' && (i.params as { code?: string } | undefined)?.code === 'invalid_text');
}
