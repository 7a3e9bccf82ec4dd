import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fastifyCookie } from '@fastify/cookie';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { decodeValue } from '@switchboard/shared';
import { HttpResponse, getCallContext, switchboardPlugin } from '@switchboard/server';
import type { HttpRequest } from '@switchboard/uplink';
import { CookieSealer } from '../server/src/auth/cookie-sealer.ts';
import { loadSecret } from '../server/src/store/secrets.ts';
import { spawnScript } from './helpers/child.ts';
import { Browser, expectError, flipChar, setCookies, type Json } from './helpers/http-client.ts';
import { helloClient } from './helpers/raw-client.ts';
import { SERVER_KEY, makeDataDir, startServer } from './helpers/server.ts';

const DAY_S = 86_400;

interface SessionRow {
  id: string;
  data: Buffer;
  user_id: number | null;
  expires_at: number;
}

/** The sessions table as stored in the server's SQLite file (read-only, alongside the server). */
function storedSessions(t: TestContext, dataDir: string): SessionRow[] {
  const db = new Database(path.join(dataDir, 'switchboard.db'), { readonly: true });
  try {
    return db.prepare('SELECT id, data, user_id, expires_at FROM sessions').all() as SessionRow[];
  } finally {
    db.close();
  }
}

/** The session id inside a signed `sb_session` cookie value. */
function sessionIdOf(cookieValue: string): string {
  const signed = decodeURIComponent(cookieValue);
  return signed.slice(0, signed.lastIndexOf('.'));
}

function sealerFor(dataDir: string): CookieSealer {
  return new CookieSealer(loadSecret(dataDir));
}

/** Counts visits in the session and in the local cookie jar. */
function visit(req: HttpRequest): Json {
  const count = (typeof req.session.count === 'number' ? req.session.count : 0) + 1;
  req.session.count = count;
  const local = req.cookies.local.get('n');
  req.cookies.local.set('n', count);
  return { count, local: local ?? null, user: req.user?.email ?? null };
}

test('a session survives between requests through a signed HttpOnly cookie; its data stays on the server', async (t) => {
  const { sb, url, dataDir } = await startServer(t);
  sb.httpEndpoint('/visit', {}, (req) => {
    const count = (typeof req.session.count === 'number' ? req.session.count : 0) + 1;
    req.session.count = count;
    if (req.query.secret !== undefined) req.session.secret = req.query.secret;
    req.session.seenAt = new Date(1_000_000);
    return { count };
  });
  sb.httpEndpoint('/peek', {}, (req) => ({
    session: { ...req.session, seenAt: String(req.session.seenAt instanceof Date) },
  }));
  const browser = new Browser(url);

  const first = await browser.fetch('/_/api/visit?secret=plaintext-marker-42');
  assert.deepEqual(await first.json(), { count: 1 });
  const cookie = setCookies(first).get('sb_session');
  assert.ok(cookie, 'a session cookie is set');
  assert.equal(cookie.attributes.get('httponly'), true);
  assert.equal(cookie.attributes.get('samesite'), 'Lax');
  assert.equal(cookie.attributes.get('path'), '/');
  assert.equal(cookie.attributes.get('max-age'), String(30 * DAY_S));
  assert.equal(cookie.attributes.has('secure'), false, 'plain http');
  assert.ok(!/plaintext|marker|count/.test(cookie.value), cookie.value);

  assert.deepEqual(await browser.json('/_/api/visit'), { count: 2 });
  assert.deepEqual(await browser.json('/_/api/visit'), { count: 3 });
  const peek = await browser.fetch('/_/api/peek');
  assert.deepEqual(await peek.json(), {
    session: { count: 3, secret: 'plaintext-marker-42', seenAt: 'true' },
  });
  assert.equal(setCookies(peek).size, 0, 'reading the session writes nothing');
  // Another browser has its own session.
  assert.deepEqual(await new Browser(url).json('/_/api/visit'), { count: 1 });

  // On the server: one row per browser, the data in the row (never in the cookie).
  const rows = storedSessions(t, dataDir);
  assert.equal(rows.length, 2);
  const id = sessionIdOf(browser.cookies.get('sb_session')!);
  const row = rows.find((candidate) => candidate.id === id);
  assert.ok(row, 'the cookie names a stored session');
  const data = decodeValue(row.data) as Json;
  assert.equal(data.count, 3);
  assert.equal(data.secret, 'plaintext-marker-42');
  assert.ok(data.seenAt instanceof Date, 'values keep their type');
  assert.equal(row.user_id, null);
  const ttlLeft = row.expires_at - Date.now();
  assert.ok(ttlLeft > 29 * DAY_S * 1000 && ttlLeft <= 30 * DAY_S * 1000, String(ttlLeft));

  // A tampered or unsigned cookie names no session: a fresh one is started.
  const signed = browser.cookies.get('sb_session')!;
  for (const forged of [flipChar(signed, -2), id, `${id}.`, 'garbage']) {
    const answer = await fetch(`${url}/_/api/visit`, {
      headers: { cookie: `sb_session=${forged}` },
    });
    assert.deepEqual(await answer.json(), { count: 1 }, forged);
    const fresh = setCookies(answer).get('sb_session');
    assert.ok(fresh);
    assert.notEqual(sessionIdOf(fresh.value), id);
  }
  assert.deepEqual(await browser.json('/_/api/visit'), { count: 4 }, 'the real one is intact');

  // Behind https (by the configured public origin) the cookie is Secure.
  const secure = await startServer(t, { publicOrigin: 'https://api.example.com' });
  secure.sb.httpEndpoint('/visit', {}, (req) => {
    req.session.x = 1;
    return 'ok';
  });
  const answer = await fetch(`${secure.url}/_/api/visit`);
  assert.equal(setCookies(answer).get('sb_session')?.attributes.get('secure'), true);
});

test('two concurrent requests changing different session keys both keep their change', async (t) => {
  const { sb, url } = await startServer(t);
  let arrived = 0;
  let release!: () => void;
  const bothArrived = new Promise<void>((resolve) => (release = resolve));
  sb.httpEndpoint('/set', { methods: ['POST'] }, (req) => {
    Object.assign(req.session, req.json);
    return 'ok';
  });
  sb.httpEndpoint('/slow', { methods: ['POST'] }, async (req) => {
    const { set, remove } = req.json as { set: Json; remove?: string };
    if (remove !== undefined) delete req.session[remove];
    Object.assign(req.session, set);
    const sawBefore = Object.keys(req.session).sort();
    if (++arrived === 2) release();
    await bothArrived; // both handlers hold their snapshot of the session now
    return sawBefore;
  });
  sb.httpEndpoint('/peek', {}, (req) => req.session);
  const browser = new Browser(url);
  const post = (path: string, body: unknown) =>
    browser.fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  assert.equal((await post('/_/api/set', { base: 0, old: 'x', shared: 'before' })).status, 200);

  const [a, b] = await Promise.all([
    post('/_/api/slow', { set: { a: 1, shared: 'from a' } }),
    post('/_/api/slow', { set: { b: 2 }, remove: 'old' }),
  ]);
  // Each saw only its own change...
  assert.deepEqual(await a.json(), ['a', 'base', 'old', 'shared']);
  assert.deepEqual(await b.json(), ['b', 'base', 'shared']);
  // ...and the stored session has both, with the deletion.
  assert.deepEqual(await browser.json('/_/api/peek'), { base: 0, a: 1, b: 2, shared: 'from a' });
});

test('cookies.local and cookies.shared: JSON values with an expiry, sealed; tampered or moved cookies read as absent', async (t) => {
  const { sb, url, dataDir } = await startServer(t, { sharedCookieDomain: 'example.test' });
  const dump = (jar: HttpRequest['cookies']['local']) =>
    Object.fromEntries(jar.keys().map((key) => [key, jar.get(key)]));
  sb.httpEndpoint('/jar', { methods: ['POST'] }, (req) => {
    const { op, jar, key, value, days } = req.json as {
      op: 'get' | 'set' | 'delete' | 'has';
      jar: 'local' | 'shared';
      key: string;
      value?: unknown;
      days?: number;
    };
    const cookies = req.cookies[jar];
    let result: unknown = null;
    if (op === 'set') cookies.set(key, value, days);
    if (op === 'delete') result = cookies.delete(key);
    if (op === 'has') result = cookies.has(key);
    return { result, local: dump(req.cookies.local), shared: dump(req.cookies.shared) };
  });
  sb.httpEndpoint('/too-big', { methods: ['POST'] }, (req) => {
    req.cookies.local.set('small', 1);
    try {
      req.cookies.local.set('big', 'x'.repeat(3100));
    } catch (error) {
      if (req.query.rethrow !== undefined) throw error;
      return { caught: (error as { code: string }).code, keys: req.cookies.local.keys() };
    }
    return 'unreachable';
  });
  const browser = new Browser(url);
  const jar = (body: Json) =>
    browser.fetch('/_/api/jar', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const sealer = sealerFor(dataDir);

  const setLocal = await jar({
    op: 'set',
    jar: 'local',
    key: 'theme',
    value: { dark: true },
    days: 1,
  });
  assert.deepEqual(await setLocal.json(), {
    result: null,
    local: { theme: { dark: true } },
    shared: {},
  });
  const localCookie = setCookies(setLocal).get('sb_local');
  assert.ok(localCookie);
  assert.equal(setCookies(setLocal).has('sb_shared'), false, 'only the changed jar is written');
  assert.equal(setCookies(setLocal).has('sb_session'), false, 'cookies need no session');
  assert.equal(localCookie.attributes.get('httponly'), true);
  assert.equal(localCookie.attributes.get('samesite'), 'Lax');
  assert.ok(Math.abs(Number(localCookie.attributes.get('max-age')) - DAY_S) <= 1);
  assert.equal(localCookie.attributes.has('domain'), false);
  assert.ok(!/dark|theme/.test(localCookie.value), 'sealed, not readable');
  const opened = JSON.parse(sealer.open('sb_local', localCookie.value)!) as Record<
    string,
    { value: unknown; expiresAt: number }
  >;
  assert.deepEqual(opened.theme!.value, { dark: true });
  assert.ok(Math.abs(opened.theme!.expiresAt - (Date.now() + DAY_S * 1000)) < 10_000);

  const setShared = await jar({ op: 'set', jar: 'shared', key: 'lang', value: 'fr' });
  const sharedCookie = setCookies(setShared).get('sb_shared');
  assert.ok(sharedCookie);
  assert.equal(sharedCookie.attributes.get('domain'), 'example.test');
  assert.ok(Math.abs(Number(sharedCookie.attributes.get('max-age')) - 30 * DAY_S) <= 1);
  const both = await jar({ op: 'has', jar: 'shared', key: 'lang' });
  assert.deepEqual(await both.json(), {
    result: true,
    local: { theme: { dark: true } },
    shared: { lang: 'fr' },
  });
  assert.equal(setCookies(both).size, 0, 'reading writes nothing');

  // Expired values are gone when read.
  const now = Date.now();
  const withExpired = sealer.seal(
    'sb_local',
    JSON.stringify({
      old: { value: 'stale', expiresAt: now - 1000 },
      live: { value: [1, 2], expiresAt: now + 60_000 },
    }),
  );
  const expired = await fetch(`${url}/_/api/jar`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: `sb_local=${withExpired}` },
    body: JSON.stringify({ op: 'has', jar: 'local', key: 'old' }),
  });
  assert.deepEqual(await expired.json(), { result: false, local: { live: [1, 2] }, shared: {} });

  // Tampered (one flipped character anywhere), foreign, or moved to the other cookie: absent.
  const sealed = browser.cookies.get('sb_local')!;
  for (const cookie of [
    `sb_local=${flipChar(sealed, 5)}`,
    `sb_local=${flipChar(sealed, Math.floor(sealed.length / 2))}`,
    `sb_local=${flipChar(sealed, -1)}`,
    `sb_local=${sealed.slice(0, -4)}`,
    'sb_local=not-sealed-at-all',
    `sb_local=${new CookieSealer(Buffer.alloc(32, 7)).seal('sb_local', '{"x":{"value":1,"expiresAt":9e15}}')}`,
    `sb_shared=${sealed}`,
  ]) {
    const answer = await fetch(`${url}/_/api/jar`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ op: 'get', jar: 'local', key: 'theme' }),
    });
    assert.equal(answer.status, 200, cookie);
    assert.deepEqual(await answer.json(), { result: null, local: {}, shared: {} }, cookie);
  }

  // Delete: the jar is empty, so the cookie is removed.
  const deleted = await jar({ op: 'delete', jar: 'local', key: 'theme' });
  assert.deepEqual(await deleted.json(), { result: true, local: {}, shared: { lang: 'fr' } });
  assert.equal(setCookies(deleted).get('sb_local')?.attributes.get('max-age'), '0');
  assert.equal(browser.cookies.has('sb_local'), false);
  const again = await jar({ op: 'delete', jar: 'local', key: 'theme' });
  assert.deepEqual(await again.json(), { result: false, local: {}, shared: { lang: 'fr' } });

  // Too large: a coded error from set(), the jar unchanged.
  const caught = await browser.fetch('/_/api/too-big', { method: 'POST' });
  assert.deepEqual(await caught.json(), { caught: 'SB_ERR_COOKIE_TOO_LARGE', keys: ['small'] });
  await expectError(
    await browser.fetch('/_/api/too-big?rethrow', { method: 'POST' }),
    500,
    'SB_ERR_COOKIE_TOO_LARGE',
  );
});

test("Switchboard's own cookies are stripped from the handler's Cookie header, and a handler cannot set them", async (t) => {
  const { sb, url } = await startServer(t);
  const seen = (req: HttpRequest) => ({ cookie: req.headers.cookie ?? null });
  sb.httpEndpoint('/headers', {}, seen);
  sb.httpEndpoint('/headers-guarded', { requireCredentials: true }, seen);
  sb.httpEndpoint('/set-cookie', { methods: ['POST'] }, (req) => {
    req.session.touched = true;
    return new HttpResponse(200, 'ok', { 'Set-Cookie': req.json as string[] });
  });
  const cookieSeen = async (path: string, cookie: string, headers: Json = {}) =>
    (
      (await (
        await fetch(`${url}/_/api${path}`, { headers: { cookie, ...headers } })
      ).json()) as Json
    ).cookie;

  const mixed = 'a=1; sb_session=abc.def; b=2; sb_local=zzz;sb_shared=yyy; c=3';
  assert.equal(await cookieSeen('/headers', mixed), 'a=1; b=2; c=3');
  assert.equal(await cookieSeen('/headers', 'sb_session=x; sb_local=y'), null);
  assert.equal(
    await cookieSeen('/headers', 'mysb_session=1; sb_sessionx=2'),
    'mysb_session=1; sb_sessionx=2',
  );
  assert.equal(await cookieSeen('/headers', 'plain=1'), 'plain=1');
  assert.equal(
    await cookieSeen('/headers-guarded', mixed, { authorization: 'Basic YTpi' }),
    'a=1; b=2; c=3',
  );

  const setCookie = (cookies: string[]) =>
    fetch(`${url}/_/api/set-cookie`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(cookies),
    });
  for (const forged of [
    ['sb_session=forged; Path=/'],
    ['theme=dark', 'sb_local=forged'],
    [' sb_shared=forged; HttpOnly'],
  ]) {
    const refused = await setCookie(forged);
    await expectError(refused, 500, 'SB_ERR_HTTP_BAD_RESPONSE');
    assert.deepEqual(refused.headers.getSetCookie(), [], 'nothing is set');
  }
  // Its own cookies are fine, next to Switchboard's.
  const allowed = await setCookie(['theme=dark; Path=/', 'lang=fr']);
  assert.equal(allowed.status, 200);
  const names = [...setCookies(allowed).keys()].sort();
  assert.deepEqual(names, ['lang', 'sb_session', 'theme']);
});

test('cross-site requests (by Origin, else Referer, else Sec-Fetch-Site) get a fresh session and no cookies unless crossSiteSession', async (t) => {
  const { sb, url } = await startServer(t, { alternateOrigins: ['https://front.example.com'] });
  sb.httpEndpoint('/visit', { methods: ['GET', 'POST'] }, visit);
  sb.httpEndpoint('/visit-x', { methods: ['GET', 'POST'], crossSiteSession: true }, visit);
  const browser = new Browser(url);
  const go = async (path: string, headers: Record<string, string> = {}) => {
    const response = await browser.fetch(path, { method: 'POST', headers });
    const body = (await response.json()) as Json;
    return { ...body, wrote: [...setCookies(response).keys()].sort() };
  };
  const both = ['sb_local', 'sb_session'];

  assert.deepEqual(await go('/_/api/visit'), { count: 1, local: null, user: null, wrote: both });
  assert.deepEqual(await go('/_/api/visit'), {
    count: 2,
    local: 1,
    user: null,
    wrote: both,
  });
  for (const crossSite of <Array<Record<string, string>>>[
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { origin: url.replace('127.0.0.1', 'localhost') },
    { referer: 'https://evil.example/page.html' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
  ]) {
    assert.deepEqual(
      await go('/_/api/visit', crossSite),
      { count: 1, local: null, user: null, wrote: [] },
      JSON.stringify(crossSite),
    );
  }
  // None of that touched the real session or cookies.
  assert.deepEqual(await go('/_/api/visit'), {
    count: 3,
    local: 2,
    user: null,
    wrote: both,
  });
  let count = 3;
  for (const sameSite of <Array<Record<string, string>>>[
    { origin: url },
    { referer: `${url}/app/page?x=1` },
    { 'sec-fetch-site': 'same-origin' },
    { 'sec-fetch-site': 'none' },
    { origin: 'https://front.example.com' },
    // Origin decides over Referer.
    { origin: url, referer: 'https://evil.example/' },
  ]) {
    count++;
    assert.deepEqual(
      await go('/_/api/visit', sameSite),
      { count, local: count - 1, user: null, wrote: both },
      JSON.stringify(sameSite),
    );
  }
  assert.deepEqual(
    await go('/_/api/visit', { origin: 'https://evil.example', referer: `${url}/` }),
    { count: 1, local: null, user: null, wrote: [] },
    'a cross-site Origin wins over a same-site Referer',
  );
  // Opted in: the endpoint shares the session with any site.
  count++;
  assert.deepEqual(await go('/_/api/visit-x', { origin: 'https://evil.example' }), {
    count,
    local: count - 1,
    user: null,
    wrote: both,
  });
  assert.deepEqual(await go('/_/api/visit'), {
    count: count + 1,
    local: count,
    user: null,
    wrote: both,
  });
});

test('login() and logout() sign the session in and out; the session user reaches HTTP RPC on same-site requests', async (t) => {
  const { sb, url, dataDir } = await startServer(t);
  const ada = await sb.users.create({ email: 'ada@example.com', password: 'ada password' });
  sb.httpEndpoint('/login', { methods: ['POST'] }, async (req) => {
    const { email, password } = req.json as { email: string; password: string };
    const result = await sb.users.verify(email, password);
    if (result.kind !== 'ok') return new HttpResponse(401, { ok: false });
    req.login(result.user);
    return { ok: true, before: req.user?.email ?? null };
  });
  sb.httpEndpoint('/login-id', { methods: ['POST'] }, (req) => {
    req.login(Number(req.query.id));
    return 'ok';
  });
  sb.httpEndpoint('/logout', { methods: ['POST'] }, (req) => {
    req.logout();
    return 'bye';
  });
  sb.httpEndpoint('/me', {}, (req) => ({ user: req.user?.email ?? null, session: req.session }));
  sb.httpEndpoint('/note', { methods: ['POST'] }, (req) => {
    req.session.note = 'kept';
    return 'ok';
  });
  sb.callable('whoami', () => getCallContext().caller.user?.email ?? null, {
    allowClients: true,
    requireUser: true,
  });
  const browser = new Browser(url);
  const me = async (headers: Record<string, string> = {}) =>
    (await browser.json('/_/api/me', { headers })).user;
  const rpc = (headers: Record<string, string> = {}) =>
    browser.fetch('/_/call/whoami', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: '[]',
    });
  const login = (email: string, password: string) =>
    browser.fetch('/_/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });

  assert.equal(await me(), null);
  await expectError(await rpc(), 401, 'SB_ERR_AUTH_REQUIRED');
  assert.equal((await browser.fetch('/_/api/note', { method: 'POST' })).status, 200);
  const anonymousCookie = browser.cookies.get('sb_session')!;
  assert.equal((await login('ada@example.com', 'wrong')).status, 401);
  const loggedIn = await login('ada@example.com', 'ada password');
  assert.deepEqual(await loggedIn.json(), { ok: true, before: null });
  assert.ok(setCookies(loggedIn).has('sb_session'));

  assert.equal(await me(), 'ada@example.com');
  const { session } = await browser.json('/_/api/me');
  assert.deepEqual(session, { note: 'kept' }, 'the sign-in is not a session value to forge');
  // Signing in gave the session a new id: the id known before (fixation) is worth nothing.
  assert.notEqual(sessionIdOf(browser.cookies.get('sb_session')!), sessionIdOf(anonymousCookie));
  const before = await fetch(`${url}/_/api/me`, {
    headers: { cookie: `sb_session=${anonymousCookie}` },
  });
  assert.deepEqual(await before.json(), { user: null, session: {} });
  assert.equal(storedSessions(t, dataDir).length, 1, 'the old session row is gone');
  const answer = await rpc();
  assert.equal(answer.status, 200);
  assert.equal(await answer.json(), 'ada@example.com');
  const sessionId = sessionIdOf(browser.cookies.get('sb_session')!);
  assert.equal(storedSessions(t, dataDir).find((row) => row.id === sessionId)?.user_id, ada.id);
  // A cross-site request does not ride on the signed-in session.
  assert.equal(await me({ origin: 'https://evil.example' }), null);
  await expectError(await rpc({ origin: 'https://evil.example' }), 401, 'SB_ERR_AUTH_REQUIRED');
  await expectError(
    await rpc({ referer: 'https://evil.example/form.html' }),
    401,
    'SB_ERR_AUTH_REQUIRED',
  );
  // A forged session cookie is nobody.
  const forged = await fetch(`${url}/_/call/whoami`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      cookie: `sb_session=${flipChar(browser.cookies.get('sb_session')!, -2)}`,
    },
    body: '[]',
  });
  await expectError(forged, 401, 'SB_ERR_AUTH_REQUIRED');

  // A disabled user's session no longer signs in; enabled again, it does.
  await sb.users.update(ada.id, { enabled: false });
  assert.equal(await me(), null);
  await expectError(await rpc(), 401, 'SB_ERR_AUTH_REQUIRED');
  await sb.users.update(ada.id, { enabled: true });
  assert.equal(await me(), 'ada@example.com');

  const signedInCookie = browser.cookies.get('sb_session')!;
  assert.equal((await browser.fetch('/_/api/logout', { method: 'POST' })).status, 200);
  assert.equal(await me(), null);
  assert.notEqual(browser.cookies.get('sb_session'), signedInCookie);
  const stale = await fetch(`${url}/_/call/whoami`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: `sb_session=${signedInCookie}` },
    body: '[]',
  });
  await expectError(stale, 401, 'SB_ERR_AUTH_REQUIRED');
  await expectError(await rpc(), 401, 'SB_ERR_AUTH_REQUIRED');

  // login() by id; an id that names no user is a coded error.
  assert.equal(
    (await browser.fetch(`/_/api/login-id?id=${ada.id}`, { method: 'POST' })).status,
    200,
  );
  assert.equal(await me(), 'ada@example.com');
  const unknown = await browser.fetch('/_/api/login-id?id=9999', { method: 'POST' });
  assert.equal(((await unknown.json()) as Json).code, 'SB_ERR_NO_SUCH_USER');
  assert.equal(await me(), 'ada@example.com', 'a failed login() changed nothing');
});

test('sessions, cookies and login through an endpoint served by a real uplink process', async (t) => {
  const { sb, url } = await startServer(t);
  const ada = await sb.users.create({ email: 'ada@example.com', password: 'ada password' });
  sb.httpEndpoint('/me', {}, (req) => ({
    user: req.user?.email ?? null,
    count: req.session.count,
  }));
  const child = spawnScript(t, 'test/fixtures/auth-uplink.ts', { SB_URL: url, SB_KEY: SERVER_KEY });
  await child.waitFor(/^ready /);
  const browser = new Browser(url);
  const session = (headers: Record<string, string> = {}) =>
    browser.json('/_/api/child/session', {
      method: 'POST',
      headers: { cookie: browser.cookieHeader({ theirs: 'kept' }), ...headers },
    });

  assert.deepEqual(await session(), {
    count: 1,
    when: true,
    seen: null,
    user: null,
    cookieHeader: 'theirs=kept',
  });
  assert.deepEqual(await session(), {
    count: 2,
    when: true,
    seen: { times: 1 },
    user: null,
    cookieHeader: 'theirs=kept',
  });
  // The session is the browser's, whichever provider serves the endpoint.
  assert.deepEqual(await browser.json('/_/api/me'), { user: null, count: 2 });

  assert.equal(
    (await browser.fetch(`/_/api/child/login?id=${ada.id}`, { method: 'POST' })).status,
    200,
  );
  assert.deepEqual(await browser.json('/_/api/me'), { user: 'ada@example.com', count: 2 });
  assert.equal((await session()).user, 'ada@example.com');
  assert.deepEqual(await session({ origin: 'https://evil.example' }), {
    count: 1,
    when: true,
    seen: null,
    user: null,
    cookieHeader: 'theirs=kept',
  });
  assert.equal((await browser.fetch('/_/api/child/login?id=0', { method: 'POST' })).status, 200);
  assert.deepEqual(await browser.json('/_/api/me'), { user: null, count: 3 });

  await expectError(
    await browser.fetch('/_/api/child/big-cookie', { method: 'POST' }),
    500,
    'SB_ERR_COOKIE_TOO_LARGE',
  );
});

test('sessions work with the server mounted as a plugin, also in a host app that uses @fastify/cookie itself', async (t) => {
  for (const hostUsesCookies of [false, true]) {
    const app = Fastify();
    if (hostUsesCookies) {
      await app.register(fastifyCookie);
      app.get('/host', (request, reply) =>
        reply.setCookie('host', 'yes').send({ seen: request.cookies.sb_session !== undefined }),
      );
    }
    await app.register(switchboardPlugin, { dataDir: await makeDataDir(t) });
    t.after(() => app.close());
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    app.switchboard.httpEndpoint('/visit', {}, (req) => {
      req.session.count = ((req.session.count as number | undefined) ?? 0) + 1;
      return req.session.count;
    });
    const browser = new Browser(url);
    assert.equal(await (await browser.fetch('/_/api/visit')).json(), 1);
    assert.equal(await (await browser.fetch('/_/api/visit')).json(), 2);
    if (hostUsesCookies) {
      const host = await browser.fetch('/host');
      assert.deepEqual(await host.json(), { seen: true });
      assert.equal(browser.cookies.get('host'), 'yes');
    }
  }
});

test('the door checks what any uplink answers: own cookies in any header case, malformed effects', async (t) => {
  const { url, wsUrl } = await startServer(t);
  const raw = await helloClient(t, wsUrl, SERVER_KEY);
  raw.send({
    type: 'register',
    id: 1,
    endpoints: [{ path: '/raw', methods: ['GET'], policy: { crossSiteSession: true } }],
  });
  assert.deepEqual(await raw.next(), { type: 'result', id: 1, value: { registered: 1 } });
  /** Sends one request and answers it with `value` from the raw uplink. */
  const exchange = async (value: unknown, cookie?: string) => {
    const pending = fetch(`${url}/_/api/raw`, { headers: cookie === undefined ? {} : { cookie } });
    const frame = await raw.next();
    assert.equal(frame.type, 'request');
    raw.send({ type: 'result', id: frame.type === 'request' ? frame.id : 0, value });
    return { response: await pending, frame };
  };
  const body = new Uint8Array(Buffer.from('hi'));

  for (const headers of [
    { 'Set-Cookie': 'sb_session=forged' },
    { 'SET-COOKIE': ['ok=1', 'sb_local=forged'] },
    { 'set-cookie': 'sb_shared=forged' },
  ]) {
    const { response } = await exchange({ status: 200, headers, body });
    await expectError(response, 500, 'SB_ERR_HTTP_BAD_RESPONSE');
    assert.deepEqual(response.headers.getSetCookie(), []);
  }
  for (const effects of [
    'not a map',
    { session: { set: 'x', delete: [] } },
    { sessionUser: 'ada' },
    { cookies: { local: { key: 'no expiry' } } },
  ]) {
    const { response } = await exchange({ status: 200, headers: {}, body, effects });
    await expectError(response, 500, 'SB_ERR_HTTP_BAD_RESPONSE');
  }
  // Well-formed effects are saved, and the next request carries the state to the uplink.
  const { response: saved } = await exchange({
    status: 200,
    headers: { 'Set-Cookie': 'theirs=1' },
    body,
    effects: {
      session: { set: { hello: 'world' }, delete: [] },
      cookies: { local: { k: { value: [1], expiresAt: Date.now() + 60_000 } } },
    },
  });
  assert.equal(saved.status, 200);
  const cookies = setCookies(saved);
  assert.deepEqual([...cookies.keys()].sort(), ['sb_local', 'sb_session', 'theirs']);
  const cookie = [...cookies.values()].map(({ name, value }) => `${name}=${value}`).join('; ');
  const { frame } = await exchange({ status: 204, headers: {} }, cookie);
  assert.ok(frame.type === 'request');
  assert.deepEqual(frame.request.state?.session, { hello: 'world' });
  assert.deepEqual(frame.request.state?.cookies.local.k?.value, [1]);
  assert.equal(frame.request.headers.cookie, 'theirs=1');
});

test('sessions expire after their TTL and slide forward when used in the second half of it', async (t) => {
  const ttlMs = 3_600_000;
  const { sb, url, dataDir } = await startServer(t, { sessionTtlMs: ttlMs });
  sb.httpEndpoint('/set', {}, (req) => {
    req.session.n = 1;
    return 'set';
  });
  sb.httpEndpoint('/read', {}, (req) => req.session.n ?? null);
  const browser = new Browser(url);
  const first = await browser.fetch('/_/api/set');
  assert.equal(setCookies(first).get('sb_session')?.attributes.get('max-age'), '3600');
  const id = sessionIdOf(browser.cookies.get('sb_session')!);
  const db = new Database(path.join(dataDir, 'switchboard.db'));
  t.after(() => db.close());
  const expiresAt = () =>
    (db.prepare('SELECT expires_at FROM sessions WHERE id = ?').get(id) as { expires_at: number })
      .expires_at;
  const age = (leftMs: number) =>
    db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?').run(Date.now() + leftMs, id);

  // Early in its life, reading writes nothing.
  const early = await browser.fetch('/_/api/read');
  assert.equal(await early.json(), 1);
  assert.equal(setCookies(early).size, 0);
  // In the second half, a read extends it (row and cookie).
  age(ttlMs / 4);
  const late = await browser.fetch('/_/api/read');
  assert.equal(await late.json(), 1);
  assert.equal(setCookies(late).get('sb_session')?.attributes.get('max-age'), '3600');
  assert.ok(expiresAt() - Date.now() > ttlMs * 0.9);
  // Past its expiry it is gone, even though the signed cookie is still sent.
  age(-1);
  assert.equal(await (await browser.fetch('/_/api/read')).json(), null);
});
