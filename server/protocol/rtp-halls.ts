/**
 * REST bodies about hardware (RTP) halls, shared by the server (which validates them) and the
 * technicians' dashboard.
 */
import { z } from 'zod';

const port = z.number().int().min(1024).max(65535);

/** Where a hardware hall's device receives the programme. */
export const DeviceReceiveBody = z
  .strictObject({ ip: z.ipv4(), audioPort: port, videoPort: port })
  .refine((r) => r.audioPort !== r.videoPort, { message: 'audioPort and videoPort must differ', path: ['videoPort'] });
export type DeviceReceiveBody = z.infer<typeof DeviceReceiveBody>;

/** One hardware hall in the technicians' list. */
export interface RtpHallLine {
  bridgeId: string;
  bridgeName: string;
  srtp: boolean;
  /** The server accepts media from its device now (it is on the roll-call). */
  online: boolean;
  /** Packets reach its ports but the server cannot use them (wrong SRTP key, SSRC or payload type). */
  rejected: boolean;
  /** The device's receive address is known (the programme is being sent). */
  receiving: boolean;
  version: number;
}
