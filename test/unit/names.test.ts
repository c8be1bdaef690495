// Names of localities inside sentences: the unit word takes a small letter ("Điểm cầu xã Vạn
// Thủy"), the place keeps its capitals; a name standing alone is unchanged.
import { expect } from 'chai';
import { hallPhrase, nameInSentence } from '../../server/core/names.ts';
import { defaultPlan } from '../../config/default-plan.ts';

describe('names of halls in sentences', () => {
  it('lowers the unit word of every tier and keeps the place', () => {
    expect(hallPhrase('Xã Vạn Thủy')).to.equal('Điểm cầu xã Vạn Thủy');
    expect(hallPhrase('Thị trấn Thất Khê')).to.equal('Điểm cầu thị trấn Thất Khê');
    expect(hallPhrase('Phường Chi Lăng')).to.equal('Điểm cầu phường Chi Lăng');
    expect(hallPhrase('Huyện Bắc Sơn')).to.equal('Điểm cầu huyện Bắc Sơn');
    expect(hallPhrase('Thành phố Lạng Sơn')).to.equal('Điểm cầu thành phố Lạng Sơn');
    expect(hallPhrase('Tỉnh Lạng Sơn')).to.equal('Điểm cầu tỉnh Lạng Sơn');
    expect(nameInSentence('Xã Xuân Long')).to.equal('xã Xuân Long');
    expect(nameInSentence('Hội trường UBND')).to.equal('Hội trường UBND');
  });

  it('every bridge of the Lạng Sơn plan reads right in a sentence', () => {
    for (const b of defaultPlan().bridges) {
      const phrase = hallPhrase(b.name);
      expect(phrase, b.name).to.match(/^Điểm cầu (tỉnh|thành phố|huyện|thị xã|xã|phường|thị trấn) \p{Lu}/u);
    }
  });
});
