import { expect } from 'chai';
import { defaultPlan } from '../../config/default-plan.ts';
import { renderMaket, toVietnameseUpper, UnknownBridgeError, vietnameseDateParts } from '../../server/core/maket.ts';
import type { ConferencePlan } from '../../server/protocol/plan.ts';

const TITLE_LINES = [
  'HỘI NGHỊ TRỰC TUYẾN',
  'GIAO BAN THƯỜNG TRỰC HĐND TỈNH VỚI THƯỜNG TRỰC',
  'HĐND CẤP HUYỆN, THƯỜNG TRỰC HĐND CẤP XÃ',
  'NĂM 2021',
];

describe('maket', () => {
  let announced: ConferencePlan;
  let pending: ConferencePlan;

  before(() => {
    announced = { ...defaultPlan(), date: '2021-11-26' };
    pending = defaultPlan(); // date null, tentativeMonth 2021-11
  });

  const cases: [string, string, string, string][] = [
    // bridge id, what it is, organiser line, place-date line (date 2021-11-26)
    ['p-20', 'the province', 'THƯỜNG TRỰC HĐND TỈNH LẠNG SƠN', 'Lạng Sơn, ngày 26 tháng 11 năm 2021'],
    ['d-185', 'a district', 'THƯỜNG TRỰC HĐND HUYỆN BẮC SƠN', 'Bắc Sơn, ngày 26 tháng 11 năm 2021'],
    ['d-178', 'the city', 'THƯỜNG TRỰC HĐND THÀNH PHỐ LẠNG SƠN', 'Lạng Sơn, ngày 26 tháng 11 năm 2021'],
    ['c-06634', 'a commune', 'THƯỜNG TRỰC HĐND XÃ CƯỜNG LỢI', 'Cường Lợi, ngày 26 tháng 11 năm 2021'],
    ['c-05974', 'a ward', 'THƯỜNG TRỰC HĐND PHƯỜNG TAM THANH', 'Tam Thanh, ngày 26 tháng 11 năm 2021'],
    ['c-05995', 'a town', 'THƯỜNG TRỰC HĐND THỊ TRẤN THẤT KHÊ', 'Thất Khê, ngày 26 tháng 11 năm 2021'],
    [
      'c-06616',
      'a town with a long name',
      'THƯỜNG TRỰC HĐND THỊ TRẤN NÔNG TRƯỜNG THÁI BÌNH',
      'Nông trường Thái Bình, ngày 26 tháng 11 năm 2021',
    ],
  ];

  for (const [id, what, organiserLine, placeLine] of cases) {
    it(`renders ${what} (${id}) with the date set`, () => {
      expect(renderMaket(announced, id)).to.deep.equal({
        background: '#c00000',
        textColour: '#ffde00',
        lines: [organiserLine, ...TITLE_LINES, placeLine],
      });
    });
  }

  it('keeps the day blank while the date is not announced, with the tentative month and year', () => {
    expect(renderMaket(pending, 'd-185').lines.at(-1)).to.equal('Bắc Sơn, ngày ... tháng 11 năm 2021');
    expect(renderMaket(pending, 'c-06460').lines[0]).to.equal('THƯỜNG TRỰC HĐND XÃ HÒA THẮNG');
    expect(renderMaket(pending, 'c-06460').lines.at(-1)).to.equal('Hòa Thắng, ngày ... tháng 11 năm 2021');
  });

  it('leaves month and year blank too when not even the month is known', () => {
    const plan = { ...pending, tentativeMonth: null };
    expect(renderMaket(plan, 'p-20').lines.at(-1)).to.equal('Lạng Sơn, ngày ... tháng ... năm ...');
  });

  it('writes dates as administrative documents do (leading zero for days < 10 and months 1, 2)', () => {
    expect(renderMaket({ ...announced, date: '2022-01-05' }, 'd-189').lines.at(-1)).to.equal(
      'Đình Lập, ngày 05 tháng 01 năm 2022',
    );
    expect(vietnameseDateParts('2022-03-09')).to.deep.equal({ DD: '09', MM: '3', YYYY: '2022' });
    expect(vietnameseDateParts('2021-12-31')).to.deep.equal({ DD: '31', MM: '12', YYYY: '2021' });
  });

  it('fills an edited template, including title and locality placeholders', () => {
    const plan: ConferencePlan = {
      ...announced,
      title: 'Hội nghị đại biểu HĐND',
      maket: {
        background: '#b00000',
        textColour: '#ffff00',
        lines: ['{LOCALITY} - {LOCALITY_UPPER}', 'HỘI NGHỊ TRỰC TUYẾN', '{TITLE_UPPER}', '{TITLE}', '{PLACE} {DD}/{MM}/{YYYY}'],
      },
    };
    expect(renderMaket(plan, 'd-189')).to.deep.equal({
      background: '#b00000',
      textColour: '#ffff00',
      lines: [
        'Huyện Đình Lập - HUYỆN ĐÌNH LẬP',
        'HỘI NGHỊ TRỰC TUYẾN',
        'HỘI NGHỊ ĐẠI BIỂU HĐND',
        'Hội nghị đại biểu HĐND',
        'Đình Lập 26/11/2021',
      ],
    });
  });

  it('capitalises Vietnamese letters with their diacritics', () => {
    expect(toVietnameseUpper('đường Hùng Vương, phường Chi Lăng')).to.equal('ĐƯỜNG HÙNG VƯƠNG, PHƯỜNG CHI LĂNG');
    expect(toVietnameseUpper('Xã Hòa Thắng')).to.equal('XÃ HÒA THẮNG');
    // Decomposed input (NFD) comes out composed.
    expect(toVietnameseUpper('Lợi'.normalize('NFD'))).to.equal('LỢI');
  });

  it('refuses an unknown bridge with a stable code', () => {
    expect(() => renderMaket(announced, 'c-00000'))
      .to.throw(UnknownBridgeError)
      .with.property('code', 'unknown_bridge');
  });
});
