import { Worker } from "node:worker_threads";
import {
  DATA_KEY_PAIR_SPECS,
  type DataKeyPairSpec,
  type DerKeyPair,
  generateKeyPairDer,
} from "./data-key-pair-spec.js";
import type { KeyPairRequest, KeyPairResponse } from "./key-pair-worker.js";

export interface KeyPairPoolOptions {
  /** Pairs kept ready per spec; 0 generates that spec only on demand. */
  depth: Record<DataKeyPairSpec, number>;
  workers: number;
}

interface Slot {
  worker: Worker;
  /** The spec this worker is refilling, if busy. */
  spec: DataKeyPairSpec | undefined;
}

const MAX_RESPAWN_DELAY_MS = 30_000;

function perSpec<T>(make: () => T): Record<DataKeyPairSpec, T> {
  return Object.fromEntries(DATA_KEY_PAIR_SPECS.map((spec) => [spec, make()])) as Record<DataKeyPairSpec, T>;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Keeps freshly generated data key pairs ready in memory so GenerateDataKeyPair does not wait for
 * RSA generation. Background refills run synchronously on dedicated worker threads, one job per
 * worker at a time. A request that finds no pooled pair generates one at once on libuv's threadpool,
 * so it never queues behind refills. Workers are unref'd: they never keep the process alive.
 */
export class KeyPairPool {
  private readonly depth: Record<DataKeyPairSpec, number>;
  private readonly workerCount: number;
  private readonly pairs = perSpec<DerKeyPair[]>(() => []);
  private readonly refilling = perSpec(() => 0);
  private readonly refills: DataKeyPairSpec[] = [];
  private readonly slots = new Set<Slot>();
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private state: "new" | "running" | "closed" = "new";
  private consecutiveCrashes = 0;

  constructor(options: KeyPairPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new RangeError("KeyPairPool needs at least one worker");
    }
    this.depth = { ...options.depth };
    this.workerCount = options.workers;
  }

  start(): void {
    if (this.state !== "new") return;
    this.state = "running";
    for (let i = 0; i < this.workerCount; i++) this.spawn();
    for (const spec of DATA_KEY_PAIR_SPECS) this.refill(spec);
  }

  /** Each pair is handed out once and exists nowhere else: the caller owns it. */
  take(spec: DataKeyPairSpec): Promise<DerKeyPair> {
    if (this.state !== "running") return Promise.reject(new Error(`KeyPairPool is ${this.state}`));
    const pooled = this.pairs[spec].shift();
    this.refill(spec);
    return pooled ? Promise.resolve(pooled) : generateKeyPairDer(spec);
  }

  available(spec: DataKeyPairSpec): number {
    return this.pairs[spec].length;
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    for (const timer of this.respawnTimers) clearTimeout(timer);
    this.refills.length = 0;
    for (const spec of DATA_KEY_PAIR_SPECS) {
      for (const pair of this.pairs[spec].splice(0)) pair.privateKey.fill(0);
    }
    await Promise.all([...this.slots].map((slot) => slot.worker.terminate()));
  }

  private refill(spec: DataKeyPairSpec): void {
    while (this.pairs[spec].length + this.refilling[spec] < this.depth[spec]) {
      this.refilling[spec]++;
      this.refills.push(spec);
    }
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.spec) continue;
      const spec = this.refills.shift();
      if (!spec) return;
      slot.spec = spec;
      slot.worker.postMessage({ spec } satisfies KeyPairRequest);
    }
  }

  private spawn(): void {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./key-pair-worker.js", import.meta.url));
    } catch {
      this.consecutiveCrashes++;
      this.respawnLater();
      return;
    }
    const slot: Slot = { worker, spec: undefined };
    worker.on("message", (response: KeyPairResponse) => this.complete(slot, response));
    worker.on("error", () => {}); // Followed by "exit", which recovers.
    worker.on("exit", () => this.died(slot));
    worker.unref(); // After on("message"), which would ref the worker again.
    this.slots.add(slot);
  }

  private complete(slot: Slot, response: KeyPairResponse): void {
    const spec = slot.spec;
    slot.spec = undefined;
    if (this.state === "closed" || !spec) {
      if ("privateKey" in response) response.privateKey.fill(0);
      return;
    }
    this.refilling[spec]--;
    // A failed refill is not retried until the next take() of its spec, so it cannot spin.
    if ("privateKey" in response) {
      this.consecutiveCrashes = 0;
      this.pairs[spec].push({ publicKey: toBuffer(response.publicKey), privateKey: toBuffer(response.privateKey) });
    }
    this.dispatch();
  }

  private died(slot: Slot): void {
    this.slots.delete(slot);
    if (this.state === "closed") return;
    this.consecutiveCrashes++;
    if (this.consecutiveCrashes === 1) this.spawn();
    else this.respawnLater();
    if (slot.spec) {
      this.refilling[slot.spec]--;
      this.refill(slot.spec);
    }
  }

  // Back off so that a worker that cannot start (or always crashes) does not spin the CPU.
  private respawnLater(): void {
    const delay = Math.min(MAX_RESPAWN_DELAY_MS, 100 * 2 ** this.consecutiveCrashes);
    const timer = setTimeout(() => {
      this.respawnTimers.delete(timer);
      this.spawn();
      this.dispatch();
    }, delay);
    timer.unref();
    this.respawnTimers.add(timer);
  }
}
