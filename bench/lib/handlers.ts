// The handlers every scenario serves, so rows differ only in how requests reach them.

/** GET /hello/:name */
export function hello(name: string): { hello: string } {
  return { hello: name };
}

/** POST /echo: the JSON body, parsed and serialized again by whoever runs the handler. */
export function echo(body: unknown): unknown {
  return body;
}

/** A JSON document of about `bytes` bytes, shaped like real data (many small objects). */
export function jsonBody(bytes: number): string {
  const items: Array<{ id: number; name: string; tags: string[]; score: number }> = [];
  let size = 12;
  for (let id = 0; size < bytes - 80; id++) {
    const item = { id, name: `item-${id}`, tags: ['alpha', 'beta'], score: id * 0.5 };
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  const text = JSON.stringify({ items });
  return text.length < bytes
    ? JSON.stringify({ items, pad: 'x'.repeat(Math.max(0, bytes - text.length - 10)) })
    : text;
}
