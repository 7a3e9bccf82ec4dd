import { resolveConnectOptions, type ConnectOptions } from './options.ts';
import { Uplink } from './uplink.ts';

/**
 * Connects to a Switchboard server and resolves with a live uplink once the server has
 * accepted the key. Rejects with a SwitchboardError: SB_ERR_AUTH_BAD_KEY for a refused key,
 * SB_ERR_CONNECTION_FAILED as soon as the first attempt fails (nothing listening), or, with
 * `waitForServer: true`, when no attempt succeeded within `connectTimeoutMs`.
 */
export async function connect(options: ConnectOptions): Promise<Uplink> {
  const uplink = new Uplink(resolveConnectOptions(options));
  await uplink.start();
  return uplink;
}
