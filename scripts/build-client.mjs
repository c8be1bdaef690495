// Bundles the browser apps with esbuild into client/public/build.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
// Chunk names carry a content hash: drop the previous build's so they do not pile up.
fs.rmSync(path.join(root, 'client/public/build/chunks'), { recursive: true, force: true });
await build({
  entryPoints: {
    hall: 'client/hall/main.ts',
    operator: 'client/operator/main.ts',
    chair: 'client/chair/main.ts',
    monitor: 'client/monitor/main.ts',
    invites: 'client/invites/main.ts',
    technician: 'client/technician/main.ts',
  },
  absWorkingDir: root,
  outdir: 'client/public/build',
  bundle: true,
  format: 'esm',
  // Shared code (mediasoup-client, socket.io) in common chunks; the maket editor's plan schemas load on demand.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  target: ['chrome110'],
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
// PDF.js's worker and data (standard fonts, character maps, image decoders) are served from here:
// the hall displays render papers with nothing fetched from the internet.
const pdfjsDir = path.join(root, 'node_modules/pdfjs-dist');
const pdfjsOut = path.join(root, 'client/public/build/pdfjs');
fs.rmSync(pdfjsOut, { recursive: true, force: true });
fs.mkdirSync(pdfjsOut, { recursive: true });
fs.copyFileSync(path.join(pdfjsDir, 'legacy/build/pdf.worker.min.mjs'), path.join(pdfjsOut, 'pdf.worker.min.mjs'));
for (const dir of ['standard_fonts', 'cmaps', 'wasm']) fs.cpSync(path.join(pdfjsDir, dir), path.join(pdfjsOut, dir), { recursive: true });
console.log(`client bundle built in ${Date.now() - started} ms`);
