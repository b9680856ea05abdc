import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

export interface Target {
  readonly url: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface SignedRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Signs one KMS request. SigV4 has no nonce, so the same signed request may be sent again for the
 * 5 minutes its date stays valid: a load generator can replay it without signing per request,
 * which keeps the client's own cost out of the server's figures.
 */
export async function signKmsRequest(target: Target, operation: string, input: unknown): Promise<SignedRequest> {
  const url = new URL(target.url);
  const body = JSON.stringify(input);
  const signer = new SignatureV4({
    credentials: target.credentials,
    region: target.region,
    service: "kms",
    sha256: Hash.bind(null, "sha256"),
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: "POST",
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: "/",
      headers: {
        host: url.host,
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `TrentService.${operation}`,
      },
      body,
    }),
  );
  return { headers: signed.headers as Record<string, string>, body };
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Sends `signed` over `connections` keep-alive connections for `durationMs`; bounded in time. */
export async function runLoad(
  target: Target,
  signed: SignedRequest,
  connections: number,
  durationMs: number,
): Promise<LoadResult> {
  const url = new URL(target.url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + durationMs;
  const once = () =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const req = request(
        { host: url.hostname, port: url.port, method: "POST", path: "/", headers: signed.headers, agent },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) latencies.push(performance.now() - start);
            else errors++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(signed.body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) await once();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  return { requests: latencies.length, errors, perSecond: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}
