// Maps a validated conference plan (the zod schema of server/protocol/plan.ts) onto the plain
// configuration the pure core runs. The core knows nothing of GSO codes, media kinds or the maket.
import { checkConfig, MB } from '../../core/conference/index.ts';
import type { Bridge, ConferenceConfig, DesignatedSpeaker, AgendaItem } from '../../core/conference/index.ts';
import { chairBridgeOf, type ConferencePlan } from '../../protocol/plan.ts';

/** Raised when a plan cannot be run by the core (only for plans that skipped the schema). */
export class PlanMappingError extends Error {
  readonly code = 'invalid_plan' as const;
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`plan cannot be run [problems:${problems.length}] ${problems.slice(0, 5).join('; ')}`);
    this.name = 'PlanMappingError';
    this.problems = problems;
  }
}

/** The core configuration of a plan: its bridges, agenda with designated speakers, speaking rules; the chair sits at the province bridge. */
export function planToCore(plan: ConferencePlan): ConferenceConfig {
  const chairBridgeId = chairBridgeOf(plan);
  if (chairBridgeId === null) throw new PlanMappingError(['plan has no province bridge']);
  const config: ConferenceConfig = {
    chairBridgeId,
    bridges: plan.bridges.map((b): Bridge => ({ id: b.id, tier: b.tier, parentId: b.parentId, name: b.name })),
    // `programme` is the plan file's name for the agenda (plan files are written by people: kept).
    agenda: plan.programme.map(
      (item): AgendaItem => ({
        id: item.id,
        kind: item.kind,
        title: item.title,
        plannedMinutes: item.plannedMinutes,
        ...(item.limitMinutes !== undefined ? { limitMinutes: item.limitMinutes } : {}),
        speakers: item.speakers.map(speakerOf),
      }),
    ),
    speaking: {
      defaultLimitMinutes: plan.speaking.defaultLimitMinutes,
      warningMarksSeconds: [...plan.speaking.warningMarksSeconds],
      expiryPolicy: plan.speaking.expiryPolicy,
      graceSeconds: plan.speaking.graceSeconds,
      holderGraceSeconds: plan.speaking.holderGraceSeconds,
    },
    papers: {
      deadline: plan.papers.deadline === null ? null : Date.parse(plan.papers.deadline),
      maxPages: plan.papers.maxPages,
      maxBytes: Math.round(plan.papers.maxSizeMB * MB),
      toleranceMm: plan.papers.toleranceMm,
      landscape: plan.papers.landscape,
    },
  };
  const problems = checkConfig(config);
  if (problems.length > 0) throw new PlanMappingError(problems);
  return config;
}

// Optional fields are left out rather than set to undefined, so the config is the same after a JSON round trip.
function speakerOf(s: ConferencePlan['programme'][number]['speakers'][number]): DesignatedSpeaker {
  const speaker: DesignatedSpeaker = { bridgeId: s.bridgeId };
  if (s.topic !== undefined) speaker.topic = s.topic;
  if (s.speakerName !== undefined) speaker.speakerName = s.speakerName;
  if (s.limitMinutes !== undefined) speaker.limitMinutes = s.limitMinutes;
  return speaker;
}
