// The tasks card: the newest background tasks with their status and state, a Kill button on
// those still queued or running.

import { chip, el, setChildren, setText, setTitle, show, syncRows } from './dom.js';
import { formatAgo, formatDate } from './format.js';

/** Longest state shown in the table; the whole of it is the cell's title. */
const STATE_CHARS = 120;

const ENDED = new Set(['completed', 'failed', 'killed']);

/** The task a row shows now, for its Kill button. */
const taskOf = new WeakMap();

function stateText(task) {
  if (task.state === null || task.state === undefined) return '–';
  const text = JSON.stringify(task.state);
  return text.length <= STATE_CHARS ? text : `${text.slice(0, STATE_CHARS - 1)}…`;
}

/** How long it ran (or has run so far): "4 s", "3 min", from its ISO times. */
function runTime(task, now) {
  if (!task.started_at) return '–';
  const end = task.ended_at ? Date.parse(task.ended_at) : now;
  const seconds = Math.max(0, Math.round((end - Date.parse(task.started_at)) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

export function renderTasks(table, tasks, actions, now = Date.now()) {
  syncRows(table, tasks, {
    key: (task) => task.id,
    create: (task) => {
      const row = el('tr', { dataset: { taskId: task.id } });
      for (let i = 0; i < 5; i++) row.append(el('td'));
      const kill = el(
        'button',
        { type: 'button', className: 'button danger kill', 'aria-label': `Kill task ${task.id}` },
        'Kill',
      );
      kill.addEventListener('click', () => actions.killTask(taskOf.get(row)));
      row.append(el('td', { className: 'actions' }, kill));
      return row;
    },
    update: (row, task) => {
      taskOf.set(row, task);
      const [name, status, state, created, ran, act] = [...row.cells];
      setChildren(
        name,
        [
          el('div', { className: 'mono strong' }, String(task.name)),
          el('div', { className: 'muted small mono' }, String(task.id)),
        ],
        `${task.name}|${task.id}`,
      );
      const error = task.error ? `${task.error.code}: ${task.error.message}` : '';
      setChildren(status, [chip(String(task.status), `task-${task.status}`)], String(task.status));
      setTitle(status, error);
      status.className = 'task-status';
      setText(state, stateText(task));
      setTitle(state, task.state === null ? '' : JSON.stringify(task.state));
      state.className = 'task-state';
      setText(created, formatAgo(task.created_at, now));
      setTitle(created, formatDate(task.created_at));
      created.className = 'nowrap';
      setText(ran, runTime(task, now));
      ran.className = 'num';
      show(act.querySelector('.kill'), !ENDED.has(task.status));
    },
  });
}
