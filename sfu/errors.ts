/** Stable error codes of the SFU; the transport layer turns them into acks. */
export type SfuErrorCode =
  | 'unknown_peer'
  | 'unknown_bridge'
  | 'unknown_transport'
  | 'unknown_consumer'
  | 'not_allowed'
  | 'invalid_state'
  | 'invalid_rtp_parameters'
  | 'already_exists'
  | 'bridge_in_use'
  | 'session_closed'
  | 'unknown_track';

/** An error with a stable code and a short `[key:value]` style message. */
export class SfuError extends Error {
  readonly code: SfuErrorCode;
  constructor(code: SfuErrorCode, message: string) {
    super(message);
    this.name = 'SfuError';
    this.code = code;
  }
}
