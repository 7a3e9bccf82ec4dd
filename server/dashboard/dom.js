// DOM helpers. Data only ever reaches the page through textContent and attributes, never as
// markup, so a function or key named `<img onerror=...>` is shown as those characters.

/** `el('td', { className: 'num' }, 'text', child)`: an element with properties and children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'title' || name === 'className' || name === 'type' || name === 'hidden')
      node[name] = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** Sets text only when it changed, so rows that did not change are left alone. */
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

export function setTitle(node, title) {
  if (node.title !== title) node.title = title;
}

/** Replaces `node`'s children with `children` when their texts differ (chips, lists). */
export function setChildren(node, children, signature) {
  if (node.dataset.signature === signature) return;
  node.dataset.signature = signature;
  node.replaceChildren(...children);
}

/**
 * Keeps one `<tr>` per item of `items` in `table`'s body, keyed by `key(item)`: new items get
 * `create(item)` (which returns the row, with whatever cells and buttons it needs), every item
 * gets `update(row, item)`, and rows of items that left are removed. Existing rows and their
 * buttons stay the same elements across polls, so a click is never lost to a redraw.
 */
export function syncRows(table, items, handlers) {
  const { key, create, update } = handlers;
  const body = table.tBodies[0];
  const existing = new Map();
  for (const row of body.rows) existing.set(row.dataset.key, row);
  let previous = null;
  for (const item of items) {
    const id = String(key(item));
    let row = existing.get(id);
    if (row === undefined) {
      row = create(item);
      row.dataset.key = id;
    }
    existing.delete(id);
    update(row, item);
    const expected = previous === null ? body.firstElementChild : previous.nextElementSibling;
    if (expected !== row) body.insertBefore(row, expected);
    previous = row;
  }
  for (const row of existing.values()) row.remove();
  const empty = table.parentElement.querySelector('.empty');
  if (empty) empty.hidden = items.length > 0;
}

/** A small labelled pill; `tone` picks its colour in style.css. */
export function chip(text, tone = '') {
  return el('span', { className: tone ? `chip ${tone}` : 'chip' }, text);
}

export function show(node, visible) {
  if (node.hidden === visible) node.hidden = !visible;
}
