// How the names of the halls' localities are written: "Xã Vạn Thủy" is a name on its own (a
// tile, a list), but inside a sentence the unit word is a common noun and takes a small letter:
// "Điểm cầu xã Vạn Thủy", "điểm cầu thành phố Lạng Sơn". One place composes these phrases.

/** Administrative-unit words a bridge name may start with, per tier (longest match first). */
export const UNIT_PREFIXES = {
  province: ['Thành phố', 'Tỉnh'],
  district: ['Thành phố', 'Thị xã', 'Quận', 'Huyện'],
  commune: ['Thị trấn', 'Phường', 'Xã'],
} as const satisfies Readonly<Record<'province' | 'district' | 'commune', readonly string[]>>;

const ALL_PREFIXES = [...new Set(Object.values(UNIT_PREFIXES).flat())].sort((a, b) => b.length - a.length);

/** A locality's name as written inside a sentence: "Xã Vạn Thủy" → "xã Vạn Thủy" (the place keeps its capitals). */
export function nameInSentence(name: string): string {
  const n = name.normalize('NFC');
  const prefix = ALL_PREFIXES.find((p) => n.startsWith(`${p} `));
  return prefix ? `${prefix.toLocaleLowerCase('vi')}${n.slice(prefix.length)}` : n;
}

/** "Điểm cầu xã Vạn Thủy": a hall named at the start of a line (a lower third, a heading). */
export function hallPhrase(name: string): string {
  return `Điểm cầu ${nameInSentence(name)}`;
}
