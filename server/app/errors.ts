/** Why a plan could not be loaded now. */
export class PlanLoadError extends Error {
  constructor(
    readonly code: 'invalid_state',
    message: string,
  ) {
    super(message);
  }
}
