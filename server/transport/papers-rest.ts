// REST for papers, under /api/papers: the slots (staff: every hall's; an operator: its own),
// the upload of a hall's paper (the PDF as the raw body, streamed), a paper's metadata and its
// file. Thin: authenticate, call the desk, answer; the rules are the core's. Mounted in the API's
// one router (api.ts): its entry found the bearer's principal and took the request's budget, and
// its way out answers every error, a refused file's with its fault in `details`.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Conference } from '../app/Conference.ts';
import { PaperRefusal } from '../app/papers/PaperDesk.ts';
import { papersViewOf, versionView } from '../app/papers/paper-view.ts';
import type { UploadAnswer } from '../protocol/papers.ts';
import { HttpError } from './http-errors.ts';
import { requireRole, wrap } from './rest.ts';

/** What an upload's body may be declared as (the desk checks that it is a PDF whatever it says). */
export const PAPER_UPLOAD_TYPES = ['application/pdf', 'application/octet-stream'];

const STAFF = new Set(['chair', 'secretary', 'technician']);

/** The papers router; `current` gives the conference and its desk (both replaced with the plan). */
export function createPapersRouter(current: () => Conference): express.Router {
  const router = express.Router();

  const nameOf = (): ((id: string) => string) => {
    const names = new Map(current().plan.bridges.map((b) => [b.id, b.name]));
    return (id) => names.get(id) ?? id;
  };

  // The slots and what was received: every hall's for staff, its own for an operator.
  router.get(
    '/',
    wrap(async (req, res) => {
      const p = requireRole(res);
      const state = current().runner.state;
      if (p.role === 'operator') res.json(papersViewOf(state, nameOf(), p.bridgeId));
      else if (STAFF.has(p.role)) res.json(papersViewOf(state, nameOf()));
      else throw new HttpError(403, 'forbidden', `not allowed for role ${p.role}`);
    }),
  );

  // Upload: PUT /api/papers/slots/:slotId with the PDF as the body (Content-Type: application/pdf);
  // the uploader's file name, for people only, in X-File-Name (URI-encoded).
  const upload = wrap(async (req, res) => {
    const p = requireRole(res);
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
      const paper = current().papers.paperFor(requireRole(res), String(req.params.paperId));
      res.json({ ...versionView(paper, nameOf()), slotId: paper.slotId, bridgeId: paper.bridgeId, sha256: paper.sha256 });
    }),
  );

  router.get(
    '/:paperId/file',
    wrap(async (req, res) => {
      const paper = current().papers.paperFor(requireRole(res), String(req.params.paperId));
      const { stream, bytes } = await current().papers.openFile(paper);
      // A version never changes: its id names its content.
      res.set({ 'Content-Type': 'application/pdf', 'Content-Length': String(bytes), 'Cache-Control': 'private, max-age=86400, immutable', 'X-Content-Type-Options': 'nosniff' });
      res.attachment(`tham-luan-${paper.bridgeId}-v${paper.version}.pdf`);
      res.set('Content-Disposition', res.get('Content-Disposition')!.replace(/^attachment/, 'inline'));
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    }),
  );

  // A refusal of the desk as the API's error; before the whole body was read, the connection is closed rather than the rest read.
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(error instanceof PaperRefusal)) return next(error);
    if (!req.complete) res.set('Connection', 'close');
    next(new HttpError(error.status, error.code, error.message, error.fault));
  });
  return router;
}
