import {
  SwitchboardError,
  toSwitchboardError,
  type ErrorFrame,
  type RegisterFrame,
  type ResultFrame,
  type UnregisterFrame,
} from '@switchboard/shared';
import type { KeyRecord } from '../store/key-store.ts';
import type { ProviderRegistrations } from '../catalog/provider-registrations.ts';

type Answer = ResultFrame | (ErrorFrame & { id: number });

/**
 * The answer to an uplink's `register`, all or nothing: a refused registration changes nothing.
 * Refused for a name, path or method no registration can have (the gate's `refusal`), for a
 * client key, for a draining uplink, and for what the key's scope or the catalog refuses.
 */
export function answerRegister(
  frame: RegisterFrame,
  registrations: ProviderRegistrations,
  key: KeyRecord | undefined,
  draining: boolean,
): Answer {
  if (frame.refusal !== undefined) return { type: 'error', id: frame.id, error: frame.refusal };
  try {
    if (key?.kind !== 'server') {
      throw new SwitchboardError(
        'SB_ERR_PERMISSION_DENIED',
        'A client key may call functions but not register them',
      );
    }
    if (draining) {
      throw new SwitchboardError(
        'SB_ERR_UPLINK_DRAINED',
        'This uplink is draining and may not register more',
      );
    }
    const registered = registrations.add(frame.functions, frame.endpoints, key);
    return { type: 'result', id: frame.id, value: { registered } };
  } catch (error) {
    return { type: 'error', id: frame.id, error: toSwitchboardError(error).toWire(false) };
  }
}

/** The answer to an uplink's `unregister`: what it names is withdrawn (unknown names are ignored). */
export function answerUnregister(
  frame: UnregisterFrame,
  registrations: ProviderRegistrations,
): Answer {
  if (frame.refusal !== undefined) return { type: 'error', id: frame.id, error: frame.refusal };
  registrations.remove(frame.names, frame.paths);
  return { type: 'result', id: frame.id, value: null };
}
