// REST for papers, under /api/papers: the slots (staff: every hall's; an operator: its own),
// the upload of a hall's paper (the PDF as the raw body, streamed), a paper's metadata and its
// file. Thin: authenticate, call the desk, answer; the rules are the core's.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Conference } from '../app/Conference.ts';
import { PaperRefusal } from '../app/papers/PaperDesk.ts';
import { papersViewOf, versionView } from '../app/papers/paper-view.ts';
import type { Principal } from '../protocol/control.ts';
import type { UploadAnswer } from '../protocol/papers.ts';
import { bearerPrincipal } from './rest.ts';

const STAFF = new Set(['chair', 'secretary', 'technician']);

/** The papers router; `current` gives the conference and its desk (both replaced with the plan). */
export function createPapersRouter(current: () => Conference): express.Router {
  const router = express.Router();

  const wrap =
    (fn: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response, next: NextFunction): void => {
      fn(req, res).catch(next);
    };

  async function who(req: Request): Promise<Principal> {
    const p = await bearerPrincipal(req, current());
    if (!p) throw new PaperRefusal(401, 'unauthenticated', 'a valid access token is required (Authorization: Bearer …)');
    return p;
  }

  const nameOf = (): ((id: string) => string) => {
    const names = new Map(current().plan.bridges.map((b) => [b.id, b.name]));
    return (id) => names.get(id) ?? id;
  };

  // The slots and what was received: every hall's for staff, its own for an operator.
  router.get(
    '/',
    wrap(async (req, res) => {
      const p = await who(req);
      const state = current().runner.state;
      if (p.role === 'operator') res.json(papersViewOf(state, nameOf(), p.bridgeId));
      else if (STAFF.has(p.role)) res.json(papersViewOf(state, nameOf()));
      else throw new PaperRefusal(403, 'forbidden', `not allowed for role ${p.role}`);
    }),
  );

  // Upload: PUT /api/papers/slots/:slotId with the PDF as the body (Content-Type: application/pdf);
  // the uploader's file name, for people only, in X-File-Name (URI-encoded).
  const upload = wrap(async (req, res) => {
    const p = await who(req);
    const slotId = String(req.params.slotId);
    const length = req.get('content-length');
    const declaredBytes = length !== undefined && /^\d+$/.test(length) ? Number(length) : null;
    let fileName: string | null = null;
    try {
      fileName = req.get('x-file-name') ? decodeURIComponent(req.get('x-file-name')!) : null;
    } catch {
      fileName = null;
    }
    const paper = await current().papers.receive(p, slotId, req, { declaredBytes, fileName });
    const answer: UploadAnswer = { paper: { ...versionView(paper, nameOf()), slotId: paper.slotId } };
    res.status(201).json(answer);
  });
  router.put('/slots/:slotId', upload);
  router.post('/slots/:slotId', upload);

  router.get(
    '/:paperId',
    wrap(async (req, res) => {
      const paper = current().papers.paperFor(await who(req), String(req.params.paperId));
      res.json({ ...versionView(paper, nameOf()), slotId: paper.slotId, bridgeId: paper.bridgeId, sha256: paper.sha256 });
    }),
  );

  router.get(
    '/:paperId/file',
    wrap(async (req, res) => {
      const paper = current().papers.paperFor(await who(req), String(req.params.paperId));
      const { stream, bytes } = await current().papers.openFile(paper);
      // A version never changes: its id names its content.
      res.set({ 'Content-Type': 'application/pdf', 'Content-Length': String(bytes), 'Cache-Control': 'private, max-age=86400, immutable', 'X-Content-Type-Options': 'nosniff' });
      res.attachment(`tham-luan-${paper.bridgeId}-v${paper.version}.pdf`);
      res.set('Content-Disposition', res.get('Content-Disposition')!.replace(/^attachment/, 'inline'));
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    }),
  );

  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(error instanceof PaperRefusal)) return next(error);
    // A refusal before the whole body was read: answer, then close the connection rather than read the rest.
    if (!req.complete) res.set('Connection', 'close');
    res.status(error.status).json({ error: { code: error.code, message: error.message, ...(error.fault ? { details: error.fault } : {}) } });
  });
  router.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such API' } });
  });
  return router;
}
