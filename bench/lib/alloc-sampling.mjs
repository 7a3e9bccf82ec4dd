// Preloaded (`node --import`) into a process bench/alloc.ts measures: V8's sampling heap
// profiler, counting objects the garbage collector already took too (allocation volume, not
// what stays), started when the file `start` appears in ALLOC_DIR and written to
// ALLOC_DIR/<pid>.heapprofile when `stop` appears. Plain JavaScript: it loads before tsx.
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';

const dir = process.env.ALLOC_DIR;
if (dir !== undefined) {
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  let phase = 'waiting';
  const timer = setInterval(() => {
    if (phase === 'waiting' && existsSync(path.join(dir, 'start'))) {
      phase = 'sampling';
      void post('HeapProfiler.enable').then(() =>
        post('HeapProfiler.startSampling', {
          samplingInterval: 1024,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        }),
      );
    } else if (phase === 'sampling' && existsSync(path.join(dir, 'stop'))) {
      phase = 'done';
      clearInterval(timer);
      void post('HeapProfiler.stopSampling').then(({ profile }) => {
        // Written aside, then renamed: the reader never sees half a file.
        const file = path.join(dir, `${process.pid}.heapprofile`);
        writeFileSync(`${file}.part`, JSON.stringify(profile));
        renameSync(`${file}.part`, file);
      });
    }
  }, 50);
  timer.unref();
}
