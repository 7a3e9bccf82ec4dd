import { SwitchboardError } from '../errors/switchboard-error.ts';
import { normalizePolicy } from './access-policy.ts';
import { endpointDoc } from './endpoint-doc.ts';
import { endpointMethods, endpointShape } from './endpoint-path.ts';
import { functionSignature } from './function-signature.ts';
import { bad, isPlainObject, list, str, type Obj } from './field-readers.ts';
import { invalidName, isFunctionName } from './names.ts';
import type { EndpointDoc, EndpointRegistration, FunctionRegistration } from './registrations.ts';

// The decode gate's rules for `register` and `unregister`: a registration of the wrong shape
// fails the frame; one whose name or path breaks the rules is refused (noted for an answer), and
// the connection stays open.

/** Function registrations; a name that is a string but invalid is noted in `refusals`. */
export function registrations(raw: Obj, refusals: SwitchboardError[]): FunctionRegistration[] {
  return list(raw, 'functions', (item) => {
    if (!isPlainObject(item)) throw bad('each function registration must be a map');
    const name = str(item, 'name');
    if (!isFunctionName(name)) refusals.push(invalidName(name));
    const registration: FunctionRegistration = { name };
    if (item.allowClients !== undefined) {
      if (typeof item.allowClients !== 'boolean') throw bad('allowClients must be a boolean');
      if (item.allowClients) registration.allowClients = true;
    }
    if (item.requireUser !== undefined) {
      if (item.requireUser !== 'yes' && item.requireUser !== 'check')
        throw bad('requireUser must be yes or check');
      registration.requireUser = item.requireUser;
    }
    if (item.args !== undefined || item.returns !== undefined) {
      // Shape and size only (plain JSON, capped) before the server spends any work compiling.
      try {
        Object.assign(registration, functionSignature(item));
      } catch (error) {
        throw bad(error instanceof Error ? error.message : String(error));
      }
    }
    return registration;
  });
}

/**
 * Endpoint registrations. `path` must be a string and `methods` (when present) an array of
 * strings; a path or method that is not acceptable is noted in `refusals`
 * (SB_ERR_ENDPOINT_PATH_INVALID). Policy, documentation and schemas are shape: a violation
 * fails the frame.
 */
export function endpointRegistrations(
  raw: Obj,
  refusals: SwitchboardError[],
): EndpointRegistration[] {
  return list(raw, 'endpoints', (item) => {
    if (!isPlainObject(item)) throw bad('each endpoint registration must be a map');
    const path = str(item, 'path');
    const methods = item.methods;
    if (
      methods !== undefined &&
      (!Array.isArray(methods) || !methods.every((method) => typeof method === 'string'))
    )
      throw bad('methods must be an array of strings');
    const registration: EndpointRegistration = { path, methods: [] };
    try {
      endpointShape(path);
      registration.methods = endpointMethods(methods);
    } catch (error) {
      refusals.push(
        error instanceof SwitchboardError
          ? error
          : new SwitchboardError('SB_ERR_ENDPOINT_PATH_INVALID', String(error)),
      );
    }
    try {
      const policy = normalizePolicy(item.policy);
      if (policy !== undefined) registration.policy = policy;
      // Summary, description, tags and schemas: shape and size only (plain JSON, capped).
      return Object.assign(registration, endpointDoc(item as EndpointDoc, policy));
    } catch (error) {
      throw bad(error instanceof Error ? error.message : String(error));
    }
  });
}

/** Why an `unregister` cannot be done: a name or path no registration could have. */
export function unregisterRefusal(names: string[], paths: string[]): SwitchboardError | undefined {
  for (const name of names) if (!isFunctionName(name)) return invalidName(name);
  for (const path of paths) {
    try {
      endpointShape(path);
    } catch (error) {
      return error instanceof SwitchboardError
        ? error
        : new SwitchboardError('SB_ERR_ENDPOINT_PATH_INVALID', String(error));
    }
  }
  return undefined;
}
