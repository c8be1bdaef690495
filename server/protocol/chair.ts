// Which bridge the chair sits at: a rule of the plan that the server, the core's configuration
// and the browser apps all need. Kept free of zod so that a page can import it without the schemas.

/**
 * The chair's bridge: the province hall (a valid plan has exactly one), or null when there is
 * none. The one place this rule lives.
 */
export function chairBridgeOf(plan: { readonly bridges: readonly { readonly id: string; readonly tier: string }[] }): string | null {
  return plan.bridges.find((b) => b.tier === 'province')?.id ?? null;
}
