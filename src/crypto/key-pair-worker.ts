import { parentPort } from "node:worker_threads";
import { type DataKeyPairSpec, generateKeyPairDerSync, isDataKeyPairSpec } from "./data-key-pair-spec.js";

/** One request at a time: the pool sends the next only after this one is answered. */
export interface KeyPairRequest {
  spec: DataKeyPairSpec;
}

export type KeyPairResponse = { publicKey: Uint8Array; privateKey: Uint8Array } | { error: string };

const port = parentPort;
if (!port) throw new Error("key-pair-worker must be started as a worker thread");

port.on("message", ({ spec }: KeyPairRequest) => {
  let response: KeyPairResponse;
  let privateKey: Buffer | undefined;
  try {
    if (!isDataKeyPairSpec(spec)) throw new Error(`Unsupported key pair spec: ${String(spec)}`);
    const pair = generateKeyPairDerSync(spec);
    privateKey = pair.privateKey;
    response = pair;
  } catch (error) {
    response = { error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response);
  // postMessage has cloned it; the pool now holds the only copy.
  privateKey?.fill(0);
});
