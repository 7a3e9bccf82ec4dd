// The dashboard: sign in with an admin token (kept in sessionStorage, this tab only), then poll
// the admin API every 2 s and update the tables in place (and the cluster card, for a server of
// a cluster); Drain / Disconnect / Revoke / Kill buttons.

import { ApiError, LISTS, request, snapshot } from './api.js';
import { formatRate, formatTime, RateTracker } from './format.js';
import { show } from './dom.js';
import { renderTasks } from './tasks-view.js';
import {
  providerNames,
  renderCluster,
  renderEndpoints,
  renderErrors,
  renderFunctions,
  renderKeys,
  renderUplinks,
} from './views.js';

const TOKEN_KEY = 'switchboard.adminToken';
const POLL_INTERVAL_MS = 2000;
/** How long the outcome of an action stays on screen. */
const FLASH_MS = 8000;

const $ = (id) => document.getElementById(id);

/** A section whose list the server does not offer says so instead of "none". */
function markMissing(table, missing) {
  const empty = table.parentElement.querySelector('.empty');
  if (!empty.dataset.text) empty.dataset.text = empty.textContent;
  const text = missing ? 'Not available from this server.' : empty.dataset.text;
  if (empty.textContent !== text) empty.textContent = text;
}

const state = {
  token: null,
  /** Bumped at every sign-in and sign-out, so an answer for an old session is dropped. */
  session: 0,
  timer: undefined,
  flashTimer: undefined,
  /** The session whose poll is under way, if any: one poll at a time per session. */
  pollingSession: null,
  pollAgain: false,
  lastUpdate: null,
  rates: new RateTracker(),
};

function setStatus(kind, text) {
  const status = $('status');
  status.dataset.state = kind;
  status.textContent = text;
}

function flash(text, tone = 'notice') {
  const node = $('flash');
  node.className = `banner ${tone}`;
  node.textContent = text;
  show(node, text !== '');
  clearTimeout(state.flashTimer);
  if (text !== '') state.flashTimer = setTimeout(() => flash(''), FLASH_MS);
}

function describe(error) {
  if (error instanceof ApiError) {
    return error.status === 0 ? error.message : `${error.message} (${error.code})`;
  }
  return String(error);
}

// --- sign in / out ----------------------------------------------------------------------------

function showLogin(message = '') {
  show($('session'), false);
  show($('dashboard-view'), false);
  show($('login-view'), true);
  const error = $('login-error');
  error.textContent = message;
  show(error, message !== '');
  $('token').focus();
}

function startSession(token) {
  state.token = token;
  state.session++;
  state.pollAgain = false;
  state.rates = new RateTracker();
  sessionStorage.setItem(TOKEN_KEY, token);
  show($('login-view'), false);
  show($('dashboard-view'), true);
  show($('session'), true);
  flash('');
  setStatus('connecting', 'connecting…');
  void poll();
}

function endSession(message = '') {
  state.token = null;
  state.session++;
  clearTimeout(state.timer);
  flash('');
  sessionStorage.removeItem(TOKEN_KEY);
  for (const table of document.querySelectorAll('#dashboard-view table')) {
    table.tBodies[0].replaceChildren();
  }
  show($('cluster-section'), false);
  $('token').value = '';
  showLogin(message);
}

async function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  if (token === '') return;
  const submit = $('login-submit');
  submit.disabled = true;
  try {
    await request(token, 'GET', 'keys/');
    startSession(token);
  } catch (error) {
    const message =
      error instanceof ApiError && error.status === 401
        ? `That token was not accepted (${error.code}).`
        : error instanceof ApiError && error.status === 429
          ? `Too many attempts; try again in ${error.retryAfterSeconds ?? 1} s.`
          : `Could not sign in: ${describe(error)}`;
    showLogin(message);
  } finally {
    submit.disabled = false;
  }
}

// --- polling ----------------------------------------------------------------------------------

function schedule(delayMs) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => void poll(), delayMs);
}

function render(data) {
  const nameOf = providerNames(data.uplinks.objects);
  const context = { rates: state.rates, at: data.at, nameOf };
  renderCluster($('cluster-section'), data.cluster);
  renderUplinks($('uplinks'), data.uplinks.objects, actions);
  const fns = renderFunctions($('functions'), data.functions.objects, context);
  const eps = renderEndpoints($('endpoints'), data.endpoints.objects, context);
  renderErrors($('errors'), data.errors.objects, nameOf);
  renderKeys($('keys'), data.keys.objects, actions);
  renderTasks($('tasks'), data.tasks.objects, actions, data.at);
  state.rates.prune();

  for (const name of [...LISTS, 'tasks']) markMissing($(name), data[name].missing);

  const rate = fns.rate === null && eps.rate === null ? null : (fns.rate ?? 0) + (eps.rate ?? 0);
  $('sum-uplinks').textContent = String(data.uplinks.objects.length);
  $('sum-functions').textContent = String(data.functions.objects.length);
  $('sum-endpoints').textContent = String(data.endpoints.objects.length);
  $('sum-rate').textContent = formatRate(rate);
  $('sum-inflight').textContent = String(fns.inFlight + eps.inFlight);
}

async function poll() {
  if (state.token === null) return;
  if (state.pollingSession === state.session) {
    state.pollAgain = true;
    return;
  }
  const session = state.session;
  state.pollingSession = session;
  clearTimeout(state.timer);
  let delayMs = POLL_INTERVAL_MS;
  try {
    const data = await snapshot(state.token);
    if (session !== state.session) return;
    delayMs = POLL_INTERVAL_MS * data.pages;
    render(data);
    state.lastUpdate = data.at;
    document.body.classList.remove('stale');
    show($('disconnected'), false);
    setStatus('live', 'live');
    $('updated').textContent =
      `Updated ${formatTime(new Date(data.at).toISOString())} · every ${delayMs / 1000} s`;
  } catch (error) {
    if (session !== state.session) return;
    if (error instanceof ApiError && error.status === 401) {
      endSession(`Signed out: the token is no longer accepted (${error.code}).`);
      return;
    }
    if (error instanceof ApiError && error.status === 429) {
      delayMs = Math.max(delayMs, (error.retryAfterSeconds ?? 1) * 1000);
      setStatus('limited', 'rate limited');
    } else {
      document.body.classList.add('stale');
      setStatus('down', 'disconnected');
      const since = state.lastUpdate
        ? ` Last update at ${formatTime(new Date(state.lastUpdate).toISOString())}.`
        : '';
      const banner = $('disconnected');
      banner.textContent = `Disconnected: ${describe(error)}. Retrying every ${POLL_INTERVAL_MS / 1000} s.${since}`;
      show(banner, true);
    }
  } finally {
    if (state.pollingSession === session) state.pollingSession = null;
    if (session === state.session && state.token !== null) {
      schedule(state.pollAgain ? 0 : delayMs);
      state.pollAgain = false;
    }
  }
}

// --- actions ----------------------------------------------------------------------------------

async function act(what, method, path) {
  try {
    await request(state.token, method, path);
    flash(what);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      endSession(`Signed out: the token is no longer accepted (${error.code}).`);
      return;
    }
    flash(`Failed: ${describe(error)}`, 'error');
  }
  void poll();
}

function uplinkLabel(uplink) {
  return uplink.name ? `"${uplink.name}" (${uplink.id})` : String(uplink.id);
}

const actions = {
  drain(uplink) {
    const label = uplinkLabel(uplink);
    if (
      !confirm(
        `Drain uplink ${label}? It takes no new calls, finishes the calls in flight, then disconnects.`,
      )
    )
      return;
    void act(
      `Draining uplink ${label}.`,
      'POST',
      `uplinks/${encodeURIComponent(uplink.id)}/drain/`,
    );
  },
  disconnect(uplink) {
    const label = uplinkLabel(uplink);
    if (!confirm(`Disconnect uplink ${label} now? Its calls in flight fail.`)) return;
    void act(
      `Disconnected uplink ${label}.`,
      'DELETE',
      `uplinks/${encodeURIComponent(uplink.id)}/`,
    );
  },
  revoke(key) {
    if (
      !confirm(`Revoke key "${key.name}"? Uplinks using it are disconnected and cannot come back.`)
    )
      return;
    void act(`Revoked key "${key.name}".`, 'DELETE', `keys/${encodeURIComponent(key.id)}/`);
  },
  killTask(task) {
    const label = `${task.name} (${task.id})`;
    if (!confirm(`Kill task ${label}? Its handler is told to stop and the task ends killed.`))
      return;
    void act(`Killed task ${label}.`, 'DELETE', `tasks/${encodeURIComponent(task.id)}/`);
  },
};

// --- start ------------------------------------------------------------------------------------

$('login-form').addEventListener('submit', (event) => void signIn(event));
$('logout').addEventListener('click', () => endSession());
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) startSession(saved);
else showLogin();
