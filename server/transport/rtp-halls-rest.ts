import express, { type Request, type Response, type NextFunction } from 'express';
import type { Conference } from '../app/Conference.ts';
import { RtpHallError } from '../app/rtp-halls/RtpHallGateway.ts';
import { SfuError } from '../../sfu/index.ts';
import { DeviceReceiveBody, type RtpHallLine } from '../protocol/rtp-halls.ts';
import type { Principal } from '../protocol/control.ts';
import { bearerPrincipal } from './rest.ts';

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * REST for hardware halls, under /api/rtp-halls: the list, each hall's device sheet and its
 * programme SDP file, and setting where the device receives the programme. Technicians (and the
 * chair's office) see every hall; a hall's operator sees its own. Thin: parse, authorise, call.
 */
export function createRtpHallRouter(current: () => Conference): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));

  const wrap =
    (fn: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response, next: NextFunction): void => {
      fn(req, res).catch(next);
    };

  async function who(req: Request): Promise<Principal> {
    const p = await bearerPrincipal(req, current());
    if (!p) throw new Refusal(401, 'unauthenticated', 'a valid access token is required (Authorization: Bearer …)');
    return p;
  }

  /** The hall of the path, if this principal may see and configure it. */
  async function hallFor(req: Request): Promise<string> {
    const p = await who(req);
    const bridgeId = String(req.params.bridgeId);
    const staff = p.role === 'technician' || p.role === 'chair' || p.role === 'secretary';
    if (!staff && !(p.role === 'operator' && p.bridgeId === bridgeId)) throw new Refusal(403, 'forbidden', 'technicians, or the hall\'s own operator');
    if (!current().rtpHalls.has(bridgeId)) throw new Refusal(404, 'unknown_bridge', `not a hardware (RTP) hall: ${bridgeId}`);
    return bridgeId;
  }

  router.get(
    '/',
    wrap(async (req, res) => {
      const p = await who(req);
      if (p.role !== 'technician' && p.role !== 'chair' && p.role !== 'secretary') throw new Refusal(403, 'forbidden', 'technicians, chair and secretary only');
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
      const bridgeId = await hallFor(req);
      res.json({ ...current().rtpHalls.sheet(bridgeId), device: current().rtpHalls.status(bridgeId) });
    }),
  );

  router.get(
    '/:bridgeId/programme.sdp',
    wrap(async (req, res) => {
      const bridgeId = await hallFor(req);
      const sdp = current().rtpHalls.sheet(bridgeId).programmeSdp;
      if (sdp === null) throw new Refusal(409, 'invalid_state', 'the device\'s receive address is not known yet (PUT /api/rtp-halls/:bridgeId/receive)');
      res.type('application/sdp').attachment(`programme-${bridgeId}.sdp`).send(sdp);
    }),
  );

  router.put(
    '/:bridgeId/receive',
    wrap(async (req, res) => {
      const bridgeId = await hallFor(req);
      const body = DeviceReceiveBody.safeParse(req.body);
      if (!body.success) throw new Refusal(400, 'invalid_payload', `body must be { ip: IPv4, audioPort, videoPort: 1024-65535, different }: ${body.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
      res.json(await current().rtpHalls.setReceiveAddress(bridgeId, body.data));
    }),
  );

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof Refusal) {
      res.status(error.status).json({ error: { code: error.code, message: error.message } });
      return;
    }
    if (error instanceof SfuError) {
      // The media could not do it now (session closed, a transport refused the address).
      res.status(409).json({ error: { code: error.code, message: error.message } });
      return;
    }
    if (error instanceof RtpHallError) {
      res.status(error.code === 'unknown_bridge' ? 404 : 409).json({ error: { code: error.code, message: error.message } });
      return;
    }
    next(error);
  });
  return router;
}
