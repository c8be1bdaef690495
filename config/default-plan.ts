// The embedded default conference: the Lạng Sơn 2021 three-tier "giao ban" (seed 004),
// with the 1 + 11 + 200 bridges built from the GSO list in config/data/langson-2021.json.
import { z } from 'zod';
import data from './data/langson-2021.json' with { type: 'json' };
import {
  bridgeIdFor,
  parsePlanOrThrow,
  type Bridge,
  type ConferencePlan,
  type ConferencePlanInput,
  type Speaker,
} from '../server/protocol/plan.ts';

const UnitSchema = z.object({ code: z.string(), name: z.string() });

/** Shape of an administrative-unit file: one province, its districts and their communes (GSO order). */
export const AdministrativeUnitsSchema = z.object({
  province: UnitSchema,
  districts: z.array(UnitSchema.extend({ communes: z.array(UnitSchema) })),
});
export type AdministrativeUnits = z.infer<typeof AdministrativeUnitsSchema>;

/** The Lạng Sơn units of late 2021 (11 districts, 200 communes), validated once. */
export const LANGSON_2021: AdministrativeUnits = AdministrativeUnitsSchema.parse(data);

/** Bridges for every unit: the province, then each district followed by its communes. */
export function bridgesFromUnits(units: AdministrativeUnits): Bridge[] {
  const provinceId = bridgeIdFor('province', units.province.code);
  const bridges: Bridge[] = [
    { id: provinceId, tier: 'province', name: units.province.name, parentId: null, code: units.province.code, kind: 'browser' },
  ];
  for (const d of units.districts) {
    const districtId = bridgeIdFor('district', d.code);
    bridges.push({ id: districtId, tier: 'district', name: d.name, parentId: provinceId, code: d.code, kind: 'browser' });
    for (const c of d.communes) {
      bridges.push({ id: bridgeIdFor('commune', c.code), tier: 'commune', name: c.name, parentId: districtId, code: c.code, kind: 'browser' });
    }
  }
  return bridges;
}

const sameName = (a: string, b: string) => a.normalize('NFC') === b.normalize('NFC');

/** Bridge id of the district with this full name ("Huyện Bắc Sơn", "Thành phố Lạng Sơn"); throws if absent. */
export function districtBridgeId(units: AdministrativeUnits, districtName: string): string {
  const d = units.districts.find((x) => sameName(x.name, districtName));
  if (!d) throw new Error(`district not found [name:${districtName}]`);
  return bridgeIdFor('district', d.code);
}

/** Bridge id of a commune found by name within its district (names repeat across districts); throws if absent. */
export function communeBridgeId(units: AdministrativeUnits, districtName: string, communeName: string): string {
  const d = units.districts.find((x) => sameName(x.name, districtName));
  if (!d) throw new Error(`district not found [name:${districtName}]`);
  const matches = d.communes.filter((c) => sameName(c.name, communeName));
  if (matches.length !== 1) {
    throw new Error(`commune not found or ambiguous [district:${districtName}] [name:${communeName}] [matches:${matches.length}]`);
  }
  return bridgeIdFor('commune', matches[0]!.code);
}

export const DEFAULT_TITLE =
  'Hội nghị giao ban Thường trực HĐND tỉnh với Thường trực HĐND cấp huyện, Thường trực HĐND cấp xã năm 2021';

// Topics of the designated papers, verbatim from seed 004 (section IV.2). After the Lộc Bình,
// Đình Lập, Hữu Lũng topic the seed carries an orphaned fragment ("hàng năm; việc thống nhất giải
// quyết các vấn đề phát sinh giữa hai kỳ họp ... của Thường trực HĐND tỉnh") with no opening quote
// and no owner; it is left out rather than guessed onto a topic.
export const DISTRICT_PAPER_TOPICS: readonly { districts: readonly string[]; topic: string }[] = [
  {
    districts: ['Huyện Bắc Sơn', 'Thành phố Lạng Sơn'],
    topic: 'Kinh nghiệm, giải pháp nâng cao chất lượng phiên giải trình của Thường trực HĐND cấp huyện',
  },
  {
    districts: ['Huyện Văn Lãng', 'Huyện Bình Gia'],
    topic: 'Kinh nghiệm hoạt động và giải pháp nâng cao chất lượng tổ chức các kỳ họp của HĐND cấp huyện',
  },
  {
    districts: ['Huyện Văn Quan', 'Huyện Cao Lộc'],
    topic:
      'Kinh nghiệm, giải pháp nâng cao chất lượng hoạt động tiếp xúc cử tri, tiếp công dân; giám sát việc giải quyết khiếu nại, tố cáo của công dân của HĐND cấp huyện',
  },
  {
    districts: ['Huyện Chi Lăng', 'Huyện Tràng Định'],
    topic: 'Thực trạng và giải pháp nâng cao chất lượng, hiệu quả hoạt động giám sát của Thường trực và các Ban của HĐND cấp huyện',
  },
  {
    districts: ['Huyện Lộc Bình', 'Huyện Đình Lập', 'Huyện Hữu Lũng'],
    topic:
      'Kinh nghiệm, giải pháp nâng cao chất lượng ban hành Nghị quyết của HĐND cấp huyện về kế hoạch phát triển kinh tế - xã hội, đảm bảo quốc phòng – an ninh',
  },
];

export const COMMUNE_PAPER_TOPIC =
  'Kinh nghiệm và giải pháp tổ chức, triển khai thực hiện nghị quyết của Hội đồng nhân dân cấp tỉnh ban hành';

/** The communes the seed names for papers, each with its district. */
export const COMMUNE_PAPERS: readonly { district: string; commune: string }[] = [
  { district: 'Huyện Đình Lập', commune: 'Xã Cường Lợi' },
  { district: 'Huyện Hữu Lũng', commune: 'Xã Hòa Thắng' },
  { district: 'Huyện Tràng Định', commune: 'Xã Cao Minh' },
];

/** The maket of seed 004 with its title broken over three lines as in the template. */
export const DEFAULT_MAKET_TITLE_LINES: readonly string[] = [
  'GIAO BAN THƯỜNG TRỰC HĐND TỈNH VỚI THƯỜNG TRỰC',
  'HĐND CẤP HUYỆN, THƯỜNG TRỰC HĐND CẤP XÃ',
  'NĂM 2021',
];

/** The plan input (before defaults) of the Lạng Sơn 2021 conference, for the given units. */
export function langSon2021PlanInput(units: AdministrativeUnits = LANGSON_2021): ConferencePlanInput {
  const province = bridgeIdFor('province', units.province.code);
  const districtSpeakers: Speaker[] = DISTRICT_PAPER_TOPICS.flatMap(({ districts, topic }) =>
    districts.map((name) => ({ bridgeId: districtBridgeId(units, name), topic })),
  );
  const communeSpeakers: Speaker[] = COMMUNE_PAPERS.map(({ district, commune }) => ({
    bridgeId: communeBridgeId(units, district, commune),
    topic: COMMUNE_PAPER_TOPIC,
  }));

  return {
    title: DEFAULT_TITLE,
    organiser: 'Thường trực HĐND tỉnh Lạng Sơn',
    date: null,
    tentativeMonth: '2021-11',
    dateNote: 'Thời gian: 1/2 ngày, dự kiến từ ngày 25 đến ngày 30/11/2021 (thời gian cụ thể sẽ có thông báo sau)',
    venue: 'Hội trường UBND tỉnh, số 02 đường Hùng Vương, phường Chi Lăng, thành phố Lạng Sơn',
    bridges: bridgesFromUnits(units),
    programme: [
      {
        id: 'khai-mac',
        kind: 'opening',
        title: 'Khai mạc Hội nghị',
        plannedMinutes: 5,
        speakers: [{ bridgeId: province }],
      },
      {
        id: 'bao-cao',
        kind: 'report',
        title:
          'Báo cáo, trao đổi về tình hình hoạt động năm 2021; chương trình công tác năm 2022; khó khăn, vướng mắc; các kiến nghị, đề xuất',
        plannedMinutes: 15,
        // The province reports at the meeting; district and commune reports are sent in writing before 15/11/2021.
        speakers: [{ bridgeId: province, topic: 'Báo cáo của Thường trực HĐND tỉnh', limitMinutes: 15 }],
      },
      {
        id: 'trien-khai-892',
        kind: 'directive',
        title:
          'Triển khai thực hiện văn bản số 892-TB/VPTU, ngày 17/9/2021 của Văn phòng Tỉnh ủy Thông báo ý kiến chỉ đạo của Thường trực Tỉnh ủy về Báo cáo số 139-BC/ĐĐ, ngày 13/9/2021 của Đảng đoàn HĐND tỉnh',
        plannedMinutes: 10,
        speakers: [{ bridgeId: province }],
      },
      {
        id: 'tham-luan-cap-huyen',
        kind: 'designated_paper',
        title: 'Tham luận của Thường trực HĐND các huyện, thành phố',
        plannedMinutes: 10 * districtSpeakers.length,
        speakers: districtSpeakers,
      },
      {
        id: 'tham-luan-cap-xa',
        kind: 'designated_paper',
        title: 'Tham luận của HĐND các xã',
        plannedMinutes: 10 * communeSpeakers.length,
        speakers: communeSpeakers,
      },
      { id: 'giai-lao', kind: 'break', title: 'Giải lao', plannedMinutes: 15, speakers: [] },
      {
        id: 'thao-luan',
        kind: 'discussion',
        title: 'Thảo luận, trao đổi về khó khăn, vướng mắc; các kiến nghị, đề xuất',
        plannedMinutes: 20,
        // Halls ask for the floor during the meeting.
        speakers: [],
      },
      {
        id: 'ket-luan',
        kind: 'conclusion',
        title: 'Chủ tọa kết luận Hội nghị',
        plannedMinutes: 15,
        speakers: [{ bridgeId: province, limitMinutes: 15 }],
      },
    ],
    speaking: { defaultLimitMinutes: 10, warningMarksSeconds: [120, 60, 30], expiryPolicy: 'notify_chair', graceSeconds: 30, holderGraceSeconds: 30 },
    // "Các báo cáo và tham luận gửi ... trước ngày 15/11/2021 (tham luận không quá 4 trang A4)".
    papers: { deadline: '2021-11-15T00:00:00+07:00', maxPages: 4, maxSizeMB: 20, pageSize: 'A4', toleranceMm: 3, landscape: true },
    maket: {
      background: '#c00000',
      textColour: '#ffde00',
      lines: [
        'THƯỜNG TRỰC HĐND {LOCALITY_UPPER}',
        'HỘI NGHỊ TRỰC TUYẾN',
        ...DEFAULT_MAKET_TITLE_LINES,
        '{PLACE}, ngày {DD} tháng {MM} năm {YYYY}',
      ],
    },
  };
}

/** A fresh, validated copy of the embedded Lạng Sơn 2021 conference plan. */
export function defaultPlan(): ConferencePlan {
  return parsePlanOrThrow(langSon2021PlanInput(), 'default-plan');
}
