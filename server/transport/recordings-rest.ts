// REST for the archive recordings: staff list them and download a file or its chapter index.
import express, { type Request, type Response } from 'express';
import type { ConferenceHost } from '../app/ConferenceHost.ts';
import type { ProgrammeDesk } from '../app/programme/ProgrammeDesk.ts';
import { bearerPrincipal } from './rest.ts';

const STAFF = new Set(['chair', 'secretary']);

/** GET / (the finished recordings), GET /:name (a .mkv or its .mkv.json); chair and secretary only. */
export function createRecordingsRouter(current: () => { host: ConferenceHost; desk: ProgrammeDesk }): express.Router {
  const router = express.Router();
  const allowed = async (req: Request, res: Response): Promise<boolean> => {
    const who = await bearerPrincipal(req, current().host);
    if (!who) res.status(401).json({ error: { code: 'unauthenticated', message: 'a valid access token is required (Authorization: Bearer …)' } });
    else if (!STAFF.has(who.role)) res.status(403).json({ error: { code: 'forbidden', message: `not allowed for role ${who.role}` } });
    else return true;
    return false;
  };
  router.get('/', (req, res, next) => {
    allowed(req, res)
      .then((ok) => {
        if (!ok) return;
        const { desk } = current();
        res.json({ recording: desk.active ? { recordingId: desk.active.recordingId } : null, recordings: desk.list() });
      })
      .catch(next);
  });
  router.get('/:name', (req, res, next) => {
    allowed(req, res)
      .then((ok) => {
        if (!ok) return;
        const file = current().desk.fileOf(req.params.name);
        if (!file) {
          res.status(404).json({ error: { code: 'not_found', message: `no such recording [name:${req.params.name}]` } });
          return;
        }
        res.download(file);
      })
      .catch(next);
  });
  return router;
}
