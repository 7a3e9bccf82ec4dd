/**
 * Sends a task's state without piling up: one send in flight at a time, the latest value
 * waiting behind it (values in between are skipped). Each caller's promise settles with the
 * first send that carries its value or a newer one.
 */
export class StateSender {
  private inFlight = false;
  private next:
    { value: unknown; waiters: Array<[() => void, (error: unknown) => void]> } | undefined;

  constructor(private readonly send: (value: unknown) => Promise<void>) {}

  push(value: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.next === undefined) this.next = { value, waiters: [] };
      else this.next.value = value;
      this.next.waiters.push([resolve, reject]);
      if (!this.inFlight) this.flush();
    });
  }

  private flush(): void {
    const batch = this.next;
    if (batch === undefined) return;
    this.next = undefined;
    this.inFlight = true;
    this.send(batch.value).then(
      () => this.settled(batch.waiters, undefined),
      (error: unknown) => this.settled(batch.waiters, { error }),
    );
  }

  private settled(
    waiters: Array<[() => void, (error: unknown) => void]>,
    failure: { error: unknown } | undefined,
  ): void {
    this.inFlight = false;
    for (const [resolve, reject] of waiters) {
      if (failure === undefined) resolve();
      else reject(failure.error);
    }
    this.flush();
  }
}
