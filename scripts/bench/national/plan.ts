/**
 * A national meeting as a diemcau plan, for sim:national: the national hall, 63 provincial halls
 * and their district and commune halls, `bridges` in all. The plan model has three tiers, so the
 * national meeting is written one tier up: the national hall is the plan's `province` tier, each
 * province hall a `district` (its group: placement keeps it with its own halls), each hall below a
 * province a `commune` of it. Province sizes are fixed (a seeded spread from 60 to 260 halls,
 * scaled to the total), regions by province (north, centre, south: the affinity labels). The plan
 * goes through the real schema (ConferencePlanSchema), so what the placement code sees is what a
 * plan file would give it.
 */
import { ConferencePlanSchema, type ConferencePlan } from '../../../server/protocol/plan.ts';

export const PROVINCES = 63;
/** Regions of the provinces, in order: 25 in the north, 19 in the centre (with the highlands), 19 in the south. */
export const REGIONS = ['bac', 'trung', 'nam'] as const;
export function regionOf(province: number): (typeof REGIONS)[number] {
  return province < 25 ? 'bac' : province < 44 ? 'trung' : 'nam';
}

/** Relative sizes of the provinces (deterministic: a linear congruential spread from 60 to 260). */
function weights(): number[] {
  let x = 12345;
  return Array.from({ length: PROVINCES }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 60 + (x % 201);
  });
}

/** The national meeting of `bridges` halls (at least 64: the national hall and the 63 provinces). */
export function nationalPlan(bridges: number): ConferencePlan {
  if (!Number.isInteger(bridges) || bridges < PROVINCES + 1 || bridges > 90_000) throw new RangeError(`bridges must be from ${PROVINCES + 1} to 90000 [bridges:${bridges}]`);
  const w = weights();
  const total = w.reduce((a, b) => a + b, 0);
  const below = bridges - PROVINCES - 1;
  // Largest remainder: the halls below the provinces, in proportion to the weights.
  const exact = w.map((x) => (x / total) * below);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (let k = 0, left = below - counts.reduce((a, b) => a + b, 0); k < left; k++) counts[order[k]![1]]!++;
  const list: { id: string; tier: 'province' | 'district' | 'commune'; name: string; parentId: string | null; code: string }[] = [
    { id: 'p-01', tier: 'province', name: 'Thành phố Hà Nội', parentId: null, code: '01' },
  ];
  let n = 0;
  counts.forEach((count, p) => {
    const id = `d-${101 + p}`;
    list.push({ id, tier: 'district', name: `Thành phố Tỉnh ${p + 1}`, parentId: 'p-01', code: String(101 + p) });
    for (let i = 0; i < count; i++, n++) list.push({ id: `c-${10000 + n}`, tier: 'commune', name: `Xã Điểm cầu ${n + 1}`, parentId: id, code: String(10000 + n) });
  });
  const affinity = REGIONS.map((region) => ({ bridges: counts.map((_, p) => `d-${101 + p}`).filter((_, p) => regionOf(p) === region), labels: { region } }));
  return ConferencePlanSchema.parse({
    title: 'Hội nghị trực tuyến toàn quốc',
    organiser: 'Văn phòng Quốc hội',
    venue: 'Hà Nội',
    bridges: list,
    placement: { together: 'district', affinity },
  });
}
