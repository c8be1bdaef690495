// `npm start`'s server (server/main.ts) as a person meets it: the words it prints first, then the
// start page at `/` in Vietnamese. A real process on free ports, stopped with Ctrl+C (SIGINT).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePortBase } from '../helpers/server.ts';
import { waitFor } from '../helpers/chromium.ts';

describe('integration: npm start prints its text first and / is a Vietnamese start page', function () {
  this.timeout(60_000);
  let child: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  // The default store is a SQLite file: this server's goes to a directory of its own.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-start-'));

  before(async () => {
    const webRtc = await freePortBase(2);
    const rtc = Math.min(await freePortBase(1), 64000);
    child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        DIEMCAU_LISTEN_IP: '127.0.0.1',
        DIEMCAU_WORKERS: '2',
        DIEMCAU_WEBRTC_PORT: String(webRtc),
        DIEMCAU_RTC_MIN_PORT: String(rtc),
        DIEMCAU_RTC_MAX_PORT: String(rtc + 999),
        DIEMCAU_PUBLIC_URL: '',
        REDIS_URL: '',
        DIEMCAU_DATA_DIR: dataDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitFor('the start text', async () => stdout.includes('Ctrl+C'), 40_000);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGINT');
      await gone;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints words, not a JSON log line, then says how many workers, how to stop, and what real halls need', () => {
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    expect(lines[0], stdout).to.match(/^diemcau — /);
    expect(lines.filter((l) => l.trimStart().startsWith('{')), 'JSON log lines').to.deep.equal([]);
    expect(stdout).to.contain('2 mediasoup workers');
    expect(stdout).to.contain('Ctrl+C để dừng');
    expect(stdout, 'the store it says it uses').to.contain(path.join(dataDir, 'diemcau.sqlite'));
    expect(stdout).to.match(/DIEMCAU_PUBLIC_URL=https:\/\//);
    expect(stderr.trim(), 'stderr').to.equal('');
  });

  it('serves a Vietnamese start page at / and a Vietnamese page for an unknown address', async () => {
    const base = /(http:\/\/127\.0\.0\.1:\d+)\/chair\.html/.exec(stdout)![1]!;
    const home = await fetch(`${base}/`);
    expect(home.status).to.equal(200);
    const html = await home.text();
    expect(html).to.contain('<html lang="vi"');
    expect(html).to.contain('Mỗi người tham dự vào hội nghị bằng <b>liên kết riêng</b>');
    expect(html).not.to.contain('Cannot GET');
    const missing = await fetch(`${base}/khong-co-trang-nay`);
    expect(missing.status).to.equal(404);
    expect(await missing.text()).to.contain('Không tìm thấy trang này');
    const api = await fetch(`${base}/api/khong-co`);
    expect(api.status).to.equal(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).to.equal('not_found');
  });

  it('stops on Ctrl+C', async () => {
    const exit = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child!.kill('SIGINT');
    expect(await exit).to.equal(0);
  });
});
