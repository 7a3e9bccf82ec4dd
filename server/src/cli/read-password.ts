import { createInterface } from 'node:readline';

/**
 * Reads a password from stdin: the first line when stdin is a pipe or file; from a terminal, a
 * prompt on stderr without echo. The line break is not part of the password; spaces are.
 */
export function readPassword(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    return new Promise((resolve) => {
      const lines = createInterface({ input, crlfDelay: Infinity });
      let first: string | undefined;
      lines.once('line', (line) => {
        first = line;
        lines.close();
      });
      lines.once('close', () => {
        input.destroy(); // let the process exit though the writer may not have closed
        resolve(first ?? '');
      });
    });
  }
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt);
    let typed = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += char;
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}
