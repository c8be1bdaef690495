// REST for the feed: staff list the archive recordings and download a file or its chapter
// index; the press gets the SDP of its feed.
import express, { type Request, type Response } from 'express';
import type { Conference } from '../app/Conference.ts';
import { bearerPrincipal } from './rest.ts';
import { pressFeedSdp, type PressFeedTarget } from '../app/feed/FeedOutput.ts';

const STAFF = new Set(['chair', 'secretary']);

/** GET / (the finished recordings), GET /:name (a .mkv or its .mkv.json); chair and secretary only. */
export function createRecordingsRouter(current: () => Conference): express.Router {
  const router = express.Router();
  const allowed = async (req: Request, res: Response): Promise<boolean> => {
    const who = await bearerPrincipal(req, current());
    if (!who) res.status(401).json({ error: { code: 'unauthenticated', message: 'a valid access token is required (Authorization: Bearer …)' } });
    else if (!STAFF.has(who.role)) res.status(403).json({ error: { code: 'forbidden', message: `not allowed for role ${who.role}` } });
    else return true;
    return false;
  };
  router.get('/', (req, res, next) => {
    allowed(req, res)
      .then((ok) => {
        if (!ok) return;
        const { feed } = current();
        res.json({ recording: feed.active ? { recordingId: feed.active.recordingId } : null, recordings: feed.list() });
      })
      .catch(next);
  });
  router.get('/:name', (req, res, next) => {
    allowed(req, res)
      .then((ok) => {
        if (!ok) return;
        const file = current().feed.fileOf(req.params.name);
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
export function pressSdpHandler(pressFeed: PressFeedTarget | undefined, current: () => Conference): express.RequestHandler {
  return (req, res, next) => {
    bearerPrincipal(req, current())
      .then((who) => {
        if (!who) res.status(401).json({ error: { code: 'unauthenticated', message: 'a valid access token is required (Authorization: Bearer …)' } });
        else if (who.role === 'operator') res.status(403).json({ error: { code: 'forbidden', message: 'not allowed for role operator' } });
        else if (pressFeed?.protocol !== 'rtp') res.status(404).json({ error: { code: 'not_found', message: 'no RTP press feed is configured (DIEMCAU_PRESS_FEED=rtp://host:port)' } });
        else res.type('application/sdp').send(pressFeedSdp(pressFeed));
      })
      .catch(next);
  };
}
