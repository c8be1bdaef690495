// REST for the programme: staff list the archive recordings and download a file or its chapter
// index; the press gets the SDP of its feed.
import express, { type Request, type Response } from 'express';
import type { ConferenceHost } from '../app/ConferenceHost.ts';
import type { ProgrammeDesk } from '../app/programme/ProgrammeDesk.ts';
import { bearerPrincipal } from './rest.ts';
import { pressFeedSdp, type PressFeedTarget } from '../app/programme/ProgrammeOutput.ts';

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

/**
 * GET /api/press.sdp: the SDP a press player opens for an rtp:// press feed (the press invite's
 * token, or staff); 404 when the feed is off or is bare UDP (opened as udp://@:port).
 */
export function pressSdpHandler(pressFeed: PressFeedTarget | undefined, current: () => { host: ConferenceHost }): express.RequestHandler {
  return (req, res, next) => {
    bearerPrincipal(req, current().host)
      .then((who) => {
        if (!who) res.status(401).json({ error: { code: 'unauthenticated', message: 'a valid access token is required (Authorization: Bearer …)' } });
        else if (who.role === 'operator') res.status(403).json({ error: { code: 'forbidden', message: 'not allowed for role operator' } });
        else if (pressFeed?.protocol !== 'rtp') res.status(404).json({ error: { code: 'not_found', message: 'no RTP press feed is configured (DIEMCAU_PRESS_FEED=rtp://host:port)' } });
        else res.type('application/sdp').send(pressFeedSdp(pressFeed));
      })
      .catch(next);
  };
}
