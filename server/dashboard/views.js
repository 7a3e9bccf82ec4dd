// One render function per section of the page. Each takes the latest objects from the admin API
// and brings its table up to date in place (see syncRows).

import { chip, el, setChildren, setText, setTitle, show, syncRows } from './dom.js';
import { formatAgo, formatCount, formatDate, formatMs, formatRate, formatTime } from './format.js';

const MAX_CHIPS = 8;

/** The item a row shows now, for its buttons' handlers. */
const itemOf = new WeakMap();

function cells(row, count) {
  while (row.cells.length < count) row.append(el('td'));
  return [...row.cells];
}

/** `tone` is one for all chips, or an array with one per label. */
function chips(cell, labels, tone) {
  const toneOf = (index) => (Array.isArray(tone) ? tone[index] : tone);
  const shown = labels.slice(0, MAX_CHIPS).map((label, index) => chip(label, toneOf(index)));
  if (labels.length > MAX_CHIPS) shown.push(chip(`+${labels.length - MAX_CHIPS}`, 'more'));
  setChildren(cell, shown, `${tone}|${labels.join('\n')}`);
  setTitle(cell, labels.join('\n'));
}

/** A button whose accessible name says what it acts on ("Drain uplink alpha"). */
function button(label, target, { className, onClick }) {
  const node = el(
    'button',
    { type: 'button', className: `button ${className}`, 'aria-label': `${label} ${target}` },
    label,
  );
  node.addEventListener('click', onClick);
  return node;
}

function numberCell(cell, value, warnIfPositive = false) {
  cell.className = warnIfPositive && value > 0 ? 'num warn' : 'num';
  setText(cell, formatCount(value));
}

/** Another server of the cluster is the provider `node:<name>` of what it serves. */
const NODE_PREFIX = 'node:';

function isNode(id) {
  return String(id).startsWith(NODE_PREFIX);
}

/**
 * `{ id → display name }` for provider columns: uplinks by name (or id), "app" as is, another
 * server of the cluster as "node <name>".
 */
export function providerNames(uplinks) {
  const names = new Map();
  for (const uplink of uplinks) names.set(uplink.id, uplink.name || `uplink ${uplink.id}`);
  return (id) => {
    if (id === 'app') return 'app';
    if (isNode(id)) return `node ${String(id).slice(NODE_PREFIX.length)}`;
    return names.get(id) ?? String(id);
  };
}

export function renderUplinks(table, uplinks, actions) {
  syncRows(table, uplinks, {
    key: (uplink) => uplink.id,
    create: (uplink) => {
      const row = el('tr', { dataset: { uplinkId: uplink.id } });
      cells(row, 9);
      const target = `uplink ${uplink.name || uplink.id}`;
      const drain = button('Drain', target, {
        className: 'secondary drain',
        onClick: () => actions.drain(itemOf.get(row)),
      });
      const disconnect = button('Disconnect', target, {
        className: 'danger disconnect',
        onClick: () => actions.disconnect(itemOf.get(row)),
      });
      row.append(el('td', { className: 'actions' }, drain, disconnect));
      return row;
    },
    update: (row, uplink) => {
      itemOf.set(row, uplink);
      const [name, key, address, since, functions, endpoints, inFlight, served, errors, act] =
        cells(row, 10);
      const badges = uplink.draining ? [chip('draining', 'draining')] : [];
      // Uplinks speaking Anvil's protocol are marked: they have no name of their own.
      if (uplink.dialect === 'anvil') badges.push(chip('anvil', 'dialect'));
      setChildren(
        name,
        [
          el('div', { className: 'strong' }, uplink.name || 'unnamed', ...badges),
          el('div', { className: 'muted small mono' }, String(uplink.id)),
        ],
        `${uplink.name}|${uplink.id}|${uplink.draining}|${uplink.dialect}`,
      );
      row.classList.toggle('is-draining', Boolean(uplink.draining));
      setText(key, uplink.key_name ?? '–');
      key.className = 'nowrap';
      setText(address, uplink.remote_address ?? '–');
      address.className = 'mono';
      setText(since, formatAgo(uplink.connected_since));
      setTitle(since, formatDate(uplink.connected_since));
      chips(functions, uplink.functions ?? [], 'fn');
      chips(
        endpoints,
        (uplink.endpoints ?? []).map((endpoint) => endpoint.path),
        'path',
      );
      numberCell(inFlight, uplink.in_flight);
      numberCell(served, uplink.calls_served);
      numberCell(errors, uplink.errors, true);
      act.querySelector('.drain').disabled = Boolean(uplink.draining);
    },
  });
}

/**
 * Functions and endpoints share their layout; `label` picks the first column. Returns the sum of
 * their call rates (null while there is no rate yet) and of their calls in flight.
 */
function renderCallTargets(table, objects, context) {
  const { key, label, rates, at, nameOf, quiet } = context;
  const totals = { rate: null, inFlight: 0 };
  syncRows(table, objects, {
    key,
    create: (object) => {
      const row = el('tr');
      row.dataset.name = key(object);
      return row;
    },
    update: (row, object) => {
      const [first, providers, count, errors, rate, avg, p99] = cells(row, 7);
      row.classList.toggle('is-builtin', quiet?.(object) ?? false);
      const stats = object.stats ?? {};
      setChildren(
        first,
        label(object),
        JSON.stringify([key(object), object.methods, object.allow_clients]),
      );
      // What another server of the cluster serves here gets a chip of its own colour.
      const ids = object.providers ?? [];
      chips(
        providers,
        ids.map(nameOf),
        ids.map((id) => (isNode(id) ? 'node' : 'provider')),
      );
      numberCell(count, stats.count);
      count.classList.add('count');
      numberCell(errors, stats.errors, true);
      const last = stats.last_error;
      setTitle(errors, last ? `${last.code}: ${last.message} (${formatDate(last.at)})` : '');
      const perSecond = rates.rate(`${table.id}:${key(object)}`, stats.count, at);
      if (perSecond !== null) totals.rate = (totals.rate ?? 0) + perSecond;
      totals.inFlight += stats.in_flight ?? 0;
      rate.className = 'num rate';
      setText(rate, formatRate(perSecond));
      avg.className = 'num';
      setText(avg, formatMs(stats.avg_ms));
      p99.className = 'num';
      setText(p99, formatMs(stats.p99_ms));
    },
  });
  return totals;
}

export function renderFunctions(table, functions, context) {
  return renderCallTargets(table, functions, {
    ...context,
    key: (fn) => fn.name,
    label: (fn) => [
      el('span', { className: 'mono strong' }, fn.name),
      ...(fn.allow_clients ? [chip('clients', 'clients')] : []),
    ],
    // The server's own `sb.*` functions are listed, but quieter than the user's.
    quiet: (fn) => fn.name.startsWith('sb.'),
  });
}

export function renderEndpoints(table, endpoints, context) {
  return renderCallTargets(table, endpoints, {
    ...context,
    key: (endpoint) => endpoint.path,
    label: (endpoint) => [
      el('span', { className: 'mono strong' }, endpoint.path),
      ...(endpoint.methods ?? []).map((method) => chip(method, 'method')),
    ],
  });
}

/**
 * The cluster card, for a server of a cluster only (`cluster` is null otherwise): this server's
 * node name, whether NATS is connected (`degraded` when not: it serves its own providers only),
 * and one row per other server with what it serves here and our calls to it.
 */
export function renderCluster(section, cluster) {
  show(section, cluster !== null);
  if (cluster === null) return;
  const connected = cluster.connected === true;
  const peers = cluster.peers ?? [];
  section.classList.toggle('is-degraded', !connected);
  const others = `${peers.length} other ${peers.length === 1 ? 'server' : 'servers'}`;
  setChildren(
    section.querySelector('.cluster-state'),
    [
      'This server is node ',
      el('span', { className: 'mono strong' }, String(cluster.node)),
      ' ',
      connected ? chip('NATS connected', 'active') : chip('degraded', 'degraded'),
      connected
        ? ` ${others} in the cluster.`
        : ' NATS is not connected: this server serves its own uplinks only, and the other ' +
          'servers leave its lists within seconds.',
    ],
    `${cluster.node}|${connected}|${peers.length}`,
  );
  const table = section.querySelector('table');
  setText(
    section.querySelector('.empty'),
    connected ? 'No other server is in the cluster.' : 'No other server is reachable.',
  );
  syncRows(table, peers, {
    key: (peer) => peer.node,
    create: (peer) => el('tr', { dataset: { node: peer.node } }),
    update: (row, peer) => {
      const [name, functions, endpoints, inFlight, served, errors] = cells(row, 6);
      setText(name, peer.node);
      name.className = 'mono strong';
      chips(functions, peer.functions ?? [], 'fn');
      chips(
        endpoints,
        (peer.endpoints ?? []).map((endpoint) => endpoint.path),
        'path',
      );
      numberCell(inFlight, peer.in_flight);
      numberCell(served, peer.calls_served);
      numberCell(errors, peer.errors, true);
    },
  });
}

export function renderErrors(table, errors, nameOf) {
  const seen = new Map();
  syncRows(table, errors, {
    key: (error) => {
      const base = `${error.at}|${error.code}|${error.message}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      return `${base}|${n}`;
    },
    create: () => el('tr'),
    update: (row, error) => {
      const [when, code, message, where] = cells(row, 4);
      setText(when, formatTime(error.at));
      setTitle(when, formatDate(error.at));
      setText(code, error.code);
      code.className = 'mono code';
      setText(message, error.message);
      message.className = 'message';
      const places = [];
      if (error.function) places.push(`fn ${error.function}`);
      if (error.endpoint) places.push(error.endpoint);
      if (error.uplink) places.push(`on ${nameOf(error.uplink)}`);
      setText(where, places.join(' · ') || '–');
    },
  });
}

/** What a key may register: "all" for an unscoped server key (it may register anything). */
function scopeText(key) {
  if (key.kind !== 'server') return '–';
  if (!key.scope) return 'all (unscoped)';
  const list = (items) => (items.length === 0 ? 'none' : items.join(', '));
  return `functions: ${list(key.scope.functions)} · endpoints: ${list(key.scope.endpoints)}`;
}

export function renderKeys(table, keys, actions) {
  syncRows(table, keys, {
    key: (key) => key.id,
    create: (key) => {
      const row = el('tr', { dataset: { keyId: key.id } });
      cells(row, 5);
      const revoke = button('Revoke', `key ${key.name}`, {
        className: 'danger revoke',
        onClick: () => actions.revoke(itemOf.get(row)),
      });
      row.append(el('td', { className: 'actions' }, revoke));
      return row;
    },
    update: (row, key) => {
      itemOf.set(row, key);
      const [name, kind, scope, created, state, act] = cells(row, 6);
      setText(name, key.name);
      name.className = 'strong';
      setChildren(kind, [chip(key.kind, key.kind === 'server' ? 'server' : 'client')], key.kind);
      setText(scope, scopeText(key));
      setTitle(scope, scopeText(key));
      setText(created, formatDate(key.created_at));
      created.className = 'nowrap';
      setChildren(
        state,
        [key.revoked ? chip('revoked', 'revoked') : chip('active', 'active')],
        String(key.revoked),
      );
      row.classList.toggle('is-revoked', Boolean(key.revoked));
      show(act.querySelector('.revoke'), !key.revoked);
    },
  });
}
