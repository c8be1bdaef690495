// REST for the feed: staff list the archive recordings and download a file or its chapter
// index; the press gets the SDP of its feed.
import express from 'express';
import type { Conference } from '../app/Conference.ts';
import { HttpError } from './http-errors.ts';
import { requireRole, wrap } from './rest.ts';
import { pressFeedSdp, type PressFeedTarget } from '../app/feed/FeedOutput.ts';

const STAFF = ['chair', 'secretary'] as const;

/** GET / (the finished recordings), GET /:name (a .mkv or its .mkv.json); chair and secretary only. */
export function createRecordingsRouter(current: () => Conference): express.Router {
  const router = express.Router();
  router.get(
    '/',
    wrap((_req, res) => {
      requireRole(res, STAFF);
      const { feed } = current();
      res.json({ recording: feed.active ? { recordingId: feed.active.recordingId } : null, recordings: feed.list() });
    }),
  );
  router.get(
    '/:name',
    wrap(async (req, res) => {
      requireRole(res, STAFF);
      const name = String(req.params.name);
      const file = current().feed.fileOf(name);
      if (!file) throw new HttpError(404, 'not_found', `no such recording [name:${name.slice(0, 60)}]`);
      await new Promise<void>((resolve, reject) => res.download(file, (error) => (error ? reject(error) : resolve())));
    }),
  );
  return router;
}

/**
 * GET /api/press.sdp: the SDP a press player opens for an rtp:// press feed (the press invite's
 * token, or staff); 404 when the feed is off or is bare UDP (opened as udp://@:port).
 */
export function pressSdpHandler(pressFeed: PressFeedTarget | undefined): express.RequestHandler {
  return wrap((_req, res) => {
    const who = requireRole(res);
    if (who.role === 'operator') throw new HttpError(403, 'forbidden', 'not allowed for role operator');
    if (pressFeed?.protocol !== 'rtp') throw new HttpError(404, 'not_found', 'no RTP press feed is configured (DIEMCAU_PRESS_FEED=rtp://host:port)');
    res.type('application/sdp').send(pressFeedSdp(pressFeed));
  });
}
