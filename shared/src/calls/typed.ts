/** What `typed()` calls through: an uplink, or the server object in app code. */
export interface FunctionCaller {
  call(name: string, ...args: unknown[]): Promise<unknown>;
}

/**
 * A typed view of the functions `caller` can call: `typed<Api>(uplink).add(2, 3)` is
 * `uplink.call('add', 2, 3)`, with `Api` (from `switchboard types`) telling the compiler each
 * function's parameters and result. Dotted names are nested properties (`api.users.add(...)` calls
 * `users.add`). Nothing is checked at run time here: the server checks the arguments against
 * the function's schemas. A property named `then` is never a function (so the view is not
 * mistaken for a promise).
 */
export function typed<Api extends object>(caller: FunctionCaller): Api {
  if (typeof caller?.call !== 'function')
    throw new TypeError('typed() needs an uplink or a server (something with call())');
  return level(caller, undefined) as Api;
}

function level(caller: FunctionCaller, name: string | undefined): unknown {
  // A function target, so that a name can be both called and have dotted children.
  const target = function typedFunction() {} as unknown as object;
  return new Proxy(target, {
    get(_target, property) {
      if (typeof property !== 'string' || property === 'then') return undefined;
      return level(caller, name === undefined ? property : `${name}.${property}`);
    },
    apply(_target, _this, args: unknown[]) {
      if (name === undefined) throw new TypeError('typed(): call a function by its name');
      return caller.call(name, ...args);
    },
  });
}
