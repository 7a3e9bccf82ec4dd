import type { RawData } from 'ws';
import type { ErrorCode, SwitchboardError } from '@switchboard/shared';
import type { KeyRecord } from '../store/key-store.ts';
import type { AdminUplink } from '../http/admin/admin-services.ts';
import type { Liveness } from './liveness.ts';
import type { Provider } from './provider.ts';

/**
 * One uplink WebSocket as the hub holds it, whatever its dialect: a provider of the functions
 * and endpoints it registered, an uplink the operator sees, and a peer the liveness sweep,
 * drain and shutdown act on.
 */
export interface HubConnection extends Provider, AdminUplink {
  /** The key it authenticated with (undefined until it has). */
  readonly key: KeyRecord | undefined;
  readonly liveness: Liveness;
  /** Authenticated and not closed. */
  readonly isOpen: boolean;
  /** Nothing under way in either direction; shutdown waits for this. */
  readonly isIdle: boolean;
  /** A message from the socket (the hub hands over the first one, which chose the dialect). */
  received(data: RawData, isBinary: boolean): void;
  /** Out of rotation, finishes what is in flight, then closes (false when not open). */
  drain(reason: 'requested' | 'admin', timeoutMs: number): boolean;
  /** The server is shutting down: refuse new work from it from now on. */
  goAway(graceMs: number): void;
  /** Tells the peer why (as its dialect can), then closes with `closeCode`. */
  fail(code: ErrorCode, closeCode: number, message?: string): void;
  /** Closes now; calls in flight fail with `error` (default SB_ERR_UPLINK_DISCONNECTED). */
  close(closeCode: number, reason: string, error?: SwitchboardError): void;
  ping(): void;
  /** A ping went unanswered for pongTimeoutMs: out of rotation until it answers. */
  suspect(): void;
  /** A ping went unanswered for unresponsiveTimeoutMs: closed, its calls fail. */
  dropUnresponsive(): void;
}
