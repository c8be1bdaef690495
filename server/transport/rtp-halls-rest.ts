import express, { type Request, type Response, type NextFunction } from 'express';
import type { Conference } from '../app/Conference.ts';
import { RtpHallError } from '../app/rtp-halls/RtpHallGateway.ts';
import { SfuError } from '../../sfu/index.ts';
import { DeviceReceiveBody, type RtpHallLine } from '../protocol/rtp-halls.ts';
import { HttpError } from './http-errors.ts';
import { requireRole, wrap } from './rest.ts';

/**
 * REST for hardware halls, under /api/rtp-halls: the list, each hall's device sheet and its
 * programme SDP file, and setting where the device receives the programme. Technicians (and the
 * chair's office) see every hall; a hall's operator sees its own. Thin: parse, authorise, call.
 */
export function createRtpHallRouter(current: () => Conference): express.Router {
  const router = express.Router();

  /** The hall of the path, if this principal may see and configure it. */
  function hallFor(req: Request, res: Response): string {
    const p = requireRole(res);
    const bridgeId = String(req.params.bridgeId);
    const staff = p.role === 'technician' || p.role === 'chair' || p.role === 'secretary';
    if (!staff && !(p.role === 'operator' && p.bridgeId === bridgeId)) throw new HttpError(403, 'forbidden', 'technicians, or the hall\'s own operator');
    if (!current().rtpHalls.has(bridgeId)) throw new HttpError(404, 'unknown_bridge', `not a hardware (RTP) hall [bridgeId:${bridgeId.slice(0, 40)}]`);
    return bridgeId;
  }

  router.get(
    '/',
    wrap(async (req, res) => {
      requireRole(res, ['technician', 'chair', 'secretary'], 'technicians, chair and secretary only');
      const halls = current().rtpHalls;
      const lines: RtpHallLine[] = halls.bridgeIds.map((bridgeId) => {
        const sheet = halls.sheet(bridgeId);
        const status = halls.status(bridgeId);
        return { bridgeId, bridgeName: sheet.bridgeName, srtp: sheet.srtp, online: status.online, rejected: status.rejected, receiving: sheet.programmeSdp !== null, version: sheet.version };
      });
      res.json(lines);
    }),
  );

  router.get(
    '/:bridgeId/sheet',
    wrap(async (req, res) => {
      const bridgeId = hallFor(req, res);
      res.json({ ...current().rtpHalls.sheet(bridgeId), device: current().rtpHalls.status(bridgeId) });
    }),
  );

  router.get(
    '/:bridgeId/programme.sdp',
    wrap(async (req, res) => {
      const bridgeId = hallFor(req, res);
      const sdp = current().rtpHalls.sheet(bridgeId).programmeSdp;
      if (sdp === null) throw new HttpError(409, 'invalid_state', 'the device\'s receive address is not known yet (PUT /api/rtp-halls/:bridgeId/receive)');
      res.type('application/sdp').attachment(`programme-${bridgeId}.sdp`).send(sdp);
    }),
  );

  router.put(
    '/:bridgeId/receive',
    wrap(async (req, res) => {
      const bridgeId = hallFor(req, res);
      const body = DeviceReceiveBody.safeParse(req.body);
      if (!body.success) throw new HttpError(400, 'invalid_payload', `body must be { ip: IPv4, audioPort, videoPort: 1024-65535, different }: ${body.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
      res.json(await current().rtpHalls.setReceiveAddress(bridgeId, body.data));
    }),
  );

  // The media's and the halls' own refusals, as HTTP errors.
  router.use((error: unknown, _req: Request, _res: Response, next: NextFunction) => {
    // The media could not do it now (session closed, a transport refused the address).
    if (error instanceof SfuError) return next(new HttpError(409, error.code, error.message));
    if (error instanceof RtpHallError) return next(new HttpError(error.code === 'unknown_bridge' ? 404 : 409, error.code, error.message));
    next(error);
  });
  return router;
}
