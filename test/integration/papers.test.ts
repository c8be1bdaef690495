import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import type { RunningServer } from '../../server/app/server.ts';
import { PdfChecker } from '../../server/app/papers/PdfChecker.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';
import { LETTER, malformedCorpus, testPaper } from '../helpers/pdf-corpus.ts';

const COMMUNE = 'c-06010'; // Xã Cao Minh: a designated paper
const COMMUNE_SLOT = 'tham-luan-cap-xa.c-06010';
const OTHER_COMMUNE = 'c-05971'; // no paper of its own

/** The check's wall-clock limit in this test; a refusal must come within it (plus the time to start and answer). */
const CHECK_MS = 6000;

/** Polls until a condition holds (2 s at most). */
async function waitUntil(ok: () => boolean): Promise<void> {
  for (const until = Date.now() + 2000; !ok(); ) {
    if (Date.now() > until) throw new Error('condition not reached in 2 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('papers over REST: upload, check, refuse, keep, serve (real server, real checker processes)', function () {
  this.timeout(120_000);
  let server: RunningServer;
  let dataDir: string;
  const token: Record<string, string> = {};

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-papers-'));
    server = await startTestServer(1, { dataDir }, { paperCheckLimits: { timeMs: CHECK_MS } });
    for (const t of ['secretary', 'chair', 'technician', 'viewer', COMMUNE, OTHER_COMMUNE]) token[t] = await tokenOf(server, t);
  });
  after(async () => {
    await server?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function api(method: string, url: string, who: string | null, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any; bytes: Buffer }> {
    const res = await fetch(`${server.url}${url}`, {
      method,
      headers: { ...(who ? { authorization: `Bearer ${token[who]}` } : {}), ...(body ? { 'content-type': 'application/pdf' } : {}), ...headers },
      body: body ? new Uint8Array(body) : undefined,
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    let json: any = null;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      /* not JSON */
    }
    return { status: res.status, json, bytes };
  }

  const upload = (who: string, slotId: string, pdf: Buffer, fileName = 'tham-luan.pdf') =>
    api('PUT', `/api/papers/slots/${slotId}`, who, pdf, { 'x-file-name': encodeURIComponent(fileName) });
  const tmpFiles = () => (fs.existsSync(path.join(dataDir, 'tmp')) ? fs.readdirSync(path.join(dataDir, 'tmp')) : []);
  const keptFiles = () => (fs.existsSync(path.join(dataDir, 'papers')) ? fs.readdirSync(path.join(dataDir, 'papers', server.conference.conferenceId)) : []);

  let paperId = '';
  let pdf4: Buffer;

  it("a hall's operator uploads a 4-page A4 paper: kept under the server's name, entered in the state, late after the plan's deadline", async () => {
    pdf4 = await testPaper(4);
    const res = await upload(COMMUNE, COMMUNE_SLOT, pdf4, 'Tham luận xã Cao Minh.pdf');
    expect(res.status, JSON.stringify(res.json)).to.equal(201);
    expect(res.json.paper).to.deep.include({ slotId: COMMUNE_SLOT, version: 1, pages: 4, bytes: pdf4.length, fileName: 'Tham luận xã Cao Minh.pdf', by: 'Điểm cầu Xã Cao Minh', late: true });
    paperId = res.json.paper.paperId;
    expect(keptFiles()).to.deep.equal([`${paperId}.pdf`]);
    expect(tmpFiles()).to.deep.equal([]);
    const state = server.conference.runner.state;
    expect(state.papers![COMMUNE_SLOT]![0]).to.deep.include({ paperId, pages: 4, late: true, sha256: createHash('sha256').update(pdf4).digest('hex') });
    const list = await api('GET', '/api/papers', 'secretary');
    expect(list.status).to.equal(200);
    expect(list.json.maxPages).to.equal(4);
    expect(list.json.deadline).to.equal(Date.UTC(2021, 10, 14, 17));
    expect(list.json.slots).to.have.length(14);
    const slot = list.json.slots.find((s: any) => s.slotId === COMMUNE_SLOT);
    expect(slot).to.deep.include({ state: 'late', bridgeName: 'Xã Cao Minh' });
    expect(list.json.slots.filter((s: any) => s.state === 'missing')).to.have.length(13);
    // An operator sees only its own slots.
    const own = await api('GET', '/api/papers', COMMUNE);
    expect(own.json.slots.map((s: any) => s.slotId)).to.deep.equal([COMMUNE_SLOT]);
    expect((await api('GET', '/api/papers', 'viewer')).status).to.equal(403);
  });

  it('refuses 5 pages, Letter, and a text file named .pdf, each whole, with its Vietnamese reason; nothing is kept', async () => {
    const cases: [Buffer, string, string][] = [
      [await testPaper(5), 'too_many_pages', 'Tham luận có 5 trang, vượt quá 4 trang A4'],
      [await testPaper(2, LETTER), 'not_a4', 'Khổ giấy Letter, không phải A4'],
      [Buffer.from('Báo cáo tham luận — bản nháp\n'.repeat(50)), 'not_pdf', 'Tệp không phải PDF'],
      [Buffer.alloc(0), 'empty_file', 'Tệp rỗng, không có nội dung'],
    ];
    for (const [bytes, code, message] of cases) {
      const res = await upload(COMMUNE, COMMUNE_SLOT, bytes);
      expect(res.status, code).to.equal(422);
      expect(res.json.error).to.deep.include({ code, message });
    }
    expect(keptFiles()).to.deep.equal([`${paperId}.pdf`]);
    expect(tmpFiles()).to.deep.equal([]);
    expect(server.conference.runner.state.papers![COMMUNE_SLOT]).to.have.length(1);
  });

  it('an operator cannot upload for another hall; the press and technicians cannot upload; a slot that does not exist is 404 for the office', async () => {
    const pdf = await testPaper(1);
    const other = await upload(OTHER_COMMUNE, COMMUNE_SLOT, pdf);
    expect(other.status).to.equal(403);
    expect(other.json.error.code).to.equal('forbidden');
    expect((await upload('viewer', COMMUNE_SLOT, pdf)).status).to.equal(403);
    expect((await upload('technician', COMMUNE_SLOT, pdf)).status).to.equal(403);
    expect((await upload('secretary', 'khong-co.c-06010', pdf)).json.error.code).to.equal('unknown_slot');
    expect((await api('PUT', `/api/papers/slots/${COMMUNE_SLOT}`, null, pdf)).status).to.equal(401);
    expect(server.conference.runner.state.papers![COMMUNE_SLOT]).to.have.length(1);
  });

  it('a file over 20 MB is refused: at once from its Content-Length, and while streaming without one; the server keeps serving', async () => {
    // Declared too large: answered before a byte of the body is sent.
    const declared = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${server.url}/api/papers/slots/${COMMUNE_SLOT}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token[COMMUNE]}`, 'content-type': 'application/pdf', 'content-length': String(25 * 1024 * 1024) },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          resolve({ status: res.statusCode!, body });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(declared.status).to.equal(413);
    expect(JSON.parse(declared.body).error).to.deep.include({ code: 'too_large', message: 'Tệp 25 MB, vượt quá 20 MB' });

    // Streamed (chunked, no length): refused as soon as the 20 MB are passed, the partial file removed.
    const streamed = await new Promise<{ status: number; body: string; sentMb: number }>((resolve, reject) => {
      const req = http.request(`${server.url}/api/papers/slots/${COMMUNE_SLOT}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token[COMMUNE]}`, 'content-type': 'application/pdf', 'transfer-encoding': 'chunked' },
      });
      let sent = 0;
      let answered = false;
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      chunk.write('%PDF-1.7\n');
      const pump = (): void => {
        while (!answered && sent < 40) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
      };
      req.on('response', (res) => {
        answered = true;
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, sentMb: sent }));
      });
      req.on('error', (e) => (answered ? undefined : reject(e)));
      pump();
    });
    expect(streamed.status).to.equal(413);
    expect(JSON.parse(streamed.body).error.code).to.equal('too_large');
    expect(streamed.sentMb, 'refused before the whole 40 MB went').to.be.lessThan(40);
    await new Promise((r) => setTimeout(r, 200));
    expect(tmpFiles()).to.deep.equal([]);
    expect((await api('GET', '/api/plan/bridges', null)).status).to.equal(200);
  });

  it('before the meeting only staff and the owning hall read the paper; the press and other halls cannot; unknown ids are 404 JSON', async () => {
    for (const who of ['secretary', 'chair', 'technician', COMMUNE]) {
      const res = await api('GET', `/api/papers/${paperId}/file`, who);
      expect(res.status, who).to.equal(200);
      expect(res.bytes.equals(pdf4), who).to.equal(true);
    }
    for (const who of ['viewer', OTHER_COMMUNE]) {
      const res = await api('GET', `/api/papers/${paperId}/file`, who);
      expect(res.status, who).to.equal(403);
      expect(res.json.error.code).to.equal('forbidden');
      expect((await api('GET', `/api/papers/${paperId}`, who)).status).to.equal(403);
    }
    for (const id of ['AAAAAAAAAAAAAAAA', '..%2F..%2Fetc%2Fpasswd', 'x']) {
      const res = await api('GET', `/api/papers/${id}/file`, 'secretary');
      expect(res.status, id).to.equal(404);
      expect(res.json.error.code, id).to.equal('not_found');
    }
    expect((await api('GET', `/api/papers/${paperId}/file`, null)).status).to.equal(401);
  });

  it('the secretary uploads a new version on the hall\'s behalf: it replaces the current one, the history is kept', async () => {
    const v2 = await testPaper(3);
    const res = await upload('secretary', COMMUNE_SLOT, v2);
    expect(res.status).to.equal(201);
    expect(res.json.paper).to.deep.include({ version: 2, pages: 3, by: 'Thư ký' });
    const slot = (await api('GET', '/api/papers', 'secretary')).json.slots.find((s: any) => s.slotId === COMMUNE_SLOT);
    expect(slot.current.version).to.equal(2);
    expect(slot.history.map((v: any) => v.paperId)).to.deep.equal([paperId]);
    expect(keptFiles()).to.have.length(2);
  });

  it('once a paper is put up during the meeting, the press and every hall read it; the report lists it', async () => {
    const host = server.conference;
    await host.bridgeConnected(COMMUNE);
    expect((await host.execute({ role: 'chair' }, { type: 'start_meeting' })).ok).to.equal(true);
    const shown = await host.execute({ role: 'secretary' }, { type: 'content_show', paperId, page: 2 });
    expect(shown.ok, JSON.stringify(shown)).to.equal(true);
    expect((await api('GET', `/api/papers/${paperId}/file`, 'viewer')).status).to.equal(200);
    expect((await api('GET', `/api/papers/${paperId}/file`, OTHER_COMMUNE)).status).to.equal(200);
    const view = host.view({ role: 'viewer' });
    expect(view.content).to.deep.include({ paperId, page: 2, pages: 4, bridgeName: 'Xã Cao Minh' });
    const report = await api('GET', '/api/report', 'secretary');
    const row = report.json.papers.find((p: any) => p.slotId === COMMUNE_SLOT);
    expect(row).to.deep.include({ versions: 2, pages: 3, late: true });
    expect(row.pagesShown).to.deep.equal([2]);
    const csv = await api('GET', '/api/report/papers.csv', 'secretary');
    expect(csv.status).to.equal(200);
    expect(csv.bytes.toString('utf8')).to.contain('tham-luan-cap-xa.c-06010');
    await host.execute({ role: 'secretary' }, { type: 'content_clear' });
  });

  it('screen sharing through the server: the province shares, a hall is refused with content_busy, the chair stops it; the view and the media follow', async () => {
    const host = server.conference;
    const shared = await host.execute({ role: 'secretary' }, { type: 'screen_share_start' });
    expect(shared.ok, JSON.stringify(shared)).to.equal(true);
    expect(host.view({ role: 'viewer' }).screen).to.deep.include({ bridgeId: 'p-20' });
    const early = await host.execute({ role: 'operator', bridgeId: COMMUNE }, { type: 'screen_share_start' });
    expect(!early.ok && early.error.code, 'not holding the floor').to.equal('forbidden');
    await host.execute({ role: 'secretary' }, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã' });
    const granted = await host.execute({ role: 'chair' }, { type: 'grant_next' });
    expect(granted.ok, JSON.stringify(granted)).to.equal(true);
    const busy = await host.execute({ role: 'operator', bridgeId: COMMUNE }, { type: 'screen_share_start' });
    expect(!busy.ok && busy.error.code, 'the province shares').to.equal('content_busy');
    const media = host.local!.session;
    await waitUntil(() => media.content === 'p-20');
    expect((await host.execute({ role: 'chair' }, { type: 'screen_share_stop' })).ok).to.equal(true);
    expect(host.view({ role: 'viewer' }).screen).to.equal(null);
    await waitUntil(() => media.content === undefined);
    expect((await host.execute({ role: 'operator', bridgeId: COMMUNE }, { type: 'screen_share_start' })).ok).to.equal(true);
    await waitUntil(() => media.content === COMMUNE);
    await host.execute({ role: 'chair' }, { type: 'revoke_floor' });
    expect(host.view({ role: 'viewer' }).screen, "the hall's share ends with its speech").to.equal(null);
    await waitUntil(() => media.content === undefined);
  });

  it('malformed and hostile PDFs are each refused within the limits with their code; the event loop stays free and the server keeps serving', async () => {
    const corpus = await malformedCorpus();
    /** Someone keeps asking the server for something while `during` runs; the loop's lag meanwhile. */
    const watch = async (during: () => Promise<void>): Promise<{ p99: number; max: number; served: number; slowest: number }> => {
      const lag = monitorEventLoopDelay({ resolution: 10 });
      lag.enable();
      let served = 0;
      let slowest = 0;
      let stop = false;
      const keepAsking = (async () => {
        while (!stop) {
          const t0 = performance.now();
          const res = await fetch(`${server.url}/api/plan/bridges`);
          await res.arrayBuffer();
          if (res.status === 200) served++;
          slowest = Math.max(slowest, performance.now() - t0);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      try {
        await during();
      } finally {
        stop = true;
        await keepAsking;
        lag.disable();
      }
      return { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6, served, slowest };
    };
    // What this machine's load alone does to the loop (it is shared), over a few seconds.
    const quiet = await watch(() => new Promise((r) => setTimeout(r, 3000)));
    const results: string[] = [];
    const busy = await watch(async () => {
      for (const file of corpus) {
        const t0 = performance.now();
        const res = await upload('secretary', COMMUNE_SLOT, file.bytes, `${file.name}.pdf`);
        const ms = performance.now() - t0;
        results.push(`${file.name}: ${res.status} ${res.json?.error?.code} ${Math.round(ms)} ms`);
        expect(res.status, file.name).to.be.oneOf([413, 422]);
        expect(file.codes, `${file.name}: ${res.json?.error?.code}`).to.include(res.json.error.code);
        expect(ms, file.name).to.be.lessThan(CHECK_MS + 3000);
      }
    });
    const f = (x: number) => x.toFixed(0);
    console.log(`      ${results.join('\n      ')}\n      event loop while checking: p99 ${f(busy.p99)} ms, max ${f(busy.max)} ms (alone: p99 ${f(quiet.p99)}, max ${f(quiet.max)}); ${busy.served} requests served meanwhile, slowest ${f(busy.slowest)} ms`);
    // A parse on the main thread would block it for the length of each check (0.3–1 s each):
    // the loop's p99 would be that long. Off the main thread it stays near what the load alone gives.
    expect(busy.p99).to.be.lessThan(2 * quiet.p99 + 50);
    expect(busy.served).to.be.greaterThan(20);
    expect(server.conference.runner.state.papers![COMMUNE_SLOT]).to.have.length(2);
    expect(tmpFiles()).to.deep.equal([]);
    expect(keptFiles()).to.have.length(2);
    // And a good paper is still accepted afterwards.
    expect((await upload(COMMUNE, COMMUNE_SLOT, await testPaper(2))).status).to.equal(201);
  });

  it('the address-space limit leaves a valid paper room: its check peaks at least 512 MB below it (at 1 GiB valid papers were refused as check_memory now and then)', async () => {
    const checker = new PdfChecker();
    const file = path.join(dataDir, 'room.pdf');
    fs.writeFileSync(file, await testPaper(4));
    try {
      for (let i = 0; i < 3; i++) {
        const m = await checker.measure(file, 4);
        expect(m.ok, JSON.stringify(m)).to.equal(true);
        if (m.ok) expect(m.vmPeakMb, `peak ${m.vmPeakMb} MB under a limit of ${checker.limits.addressSpaceMb} MB`).to.be.a('number').and.at.most(checker.limits.addressSpaceMb - 512);
      }
    } finally {
      checker.close();
    }
  });

  it('the checker kills a check past its time limit (check_timeout)', async () => {
    const checker = new PdfChecker({ timeMs: 30 });
    const file = path.join(dataDir, 'slow.pdf');
    fs.writeFileSync(file, await testPaper(4));
    try {
      const m = await checker.measure(file, 4);
      expect(m.ok).to.equal(false);
      if (!m.ok) expect(m.fault).to.deep.equal({ code: 'check_timeout', limitMs: 30 });
    } finally {
      checker.close();
    }
  });

  it('a file name with hidden characters (issue 18): the paper is kept, its name shown without them', async () => {
    const res = await upload(COMMUNE, COMMUNE_SLOT, await testPaper(2), 'Tham luận\u202Efdp.exe\u200B.pdf');
    expect(res.status, JSON.stringify(res.json)).to.equal(201);
    expect(res.json.paper.fileName).to.equal('Tham luậnfdp.exe.pdf');
  });
});
