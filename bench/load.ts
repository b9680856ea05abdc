import { request } from "node:http";
import { connect, type Socket } from "node:net";
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

/** Sends one signed request on its own connection and returns the status and the whole body. */
export function sendSigned(url: string, signed: SignedRequest): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method: "POST", path: "/", headers: signed.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(signed.body);
  });
}

/** What one load run sends; plain JSON, so it can be handed to a load process. */
export interface LoadJob {
  readonly url: string;
  /** The one request replayed, unless `signEach` is given. */
  readonly request?: SignedRequest;
  /**
   * Many requests instead of one: the load process signs one per input before the run (not
   * measured) and sends a randomly chosen one each time, e.g. to spread load over many keys.
   */
  readonly signEach?: { readonly target: Target; readonly operation: string; readonly inputs: readonly unknown[] };
  readonly connections: number;
  /** Sent and not measured first, in the same load process, to warm up both ends. */
  readonly warmUpMs?: number;
  /** Requests are issued for this long, then each connection finishes the one it has in flight. */
  readonly durationMs: number;
  /** Stop issuing after this many requests, if that comes first. */
  readonly maxRequests?: number;
  /** Requests still unanswered this long after `durationMs` are abandoned and counted as `cut`. */
  readonly graceMs: number;
}

export interface LoadResult {
  /** Answered with status 200. */
  readonly requests: number;
  /** Answered with another status, or failed on the connection. */
  readonly errors: number;
  /** Abandoned unanswered at the end of the grace period. */
  readonly cut: number;
  /** Connections opened, counting reconnections after the server closed one. */
  readonly connectionsOpened: number;
  readonly elapsedMs: number;
  readonly perSecond: number;
  /** Latencies of the successful requests, in milliseconds. */
  readonly p50: number | null;
  readonly p99: number | null;
  /** Status and start of the body of the first error, to say why a run failed. */
  readonly firstError: string | null;
}

/** The whole HTTP/1.1 request, serialized once and written as is for every send. */
function serialize(url: URL, signed: SignedRequest): Buffer {
  const headers = new Map(Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), value]));
  headers.set("host", headers.get("host") ?? url.host);
  headers.set("content-length", String(Buffer.byteLength(signed.body)));
  const head = [...headers].map(([name, value]) => `${name}: ${value}\r\n`).join("");
  return Buffer.from(`POST / HTTP/1.1\r\n${head}\r\n${signed.body}`);
}

interface Response {
  readonly status: number;
  readonly body: Buffer;
  /** The server closes the connection after this response. */
  readonly close: boolean;
}

const HEAD_END = Buffer.from("\r\n\r\n");
const LAST_CHUNK = Buffer.from("\r\n0\r\n\r\n");

/**
 * One response at the start of `buffered`, and what follows it; null while incomplete. Only what a
 * load generator needs: the status, where the body ends (Content-Length, chunked, or the end of the
 * connection), and whether the server closes the connection.
 */
function parseResponse(buffered: Buffer, ended: boolean): { response: Response; rest: Buffer } | null {
  const headEnd = buffered.indexOf(HEAD_END);
  if (headEnd < 0) return null;
  const head = buffered.toString("latin1", 0, headEnd).toLowerCase();
  const status = Number(head.slice(9, 12));
  const close =
    /\r\nconnection: *close/.test(head) || (head.startsWith("http/1.0") && !/\r\nconnection: *keep-alive/.test(head));
  const bodyStart = headEnd + HEAD_END.length;
  const length = /\r\ncontent-length: *(\d+)/.exec(head)?.[1];
  let bodyEnd: number;
  if (length !== undefined) {
    bodyEnd = bodyStart + Number(length);
    if (buffered.length < bodyEnd) return null;
  } else if (/\r\ntransfer-encoding: *chunked/.test(head)) {
    // JSON bodies never hold a raw CRLF, so the last-chunk marker cannot occur inside a chunk.
    const last = buffered.indexOf(LAST_CHUNK, bodyStart - 2);
    if (last < 0) return null;
    bodyEnd = last + LAST_CHUNK.length;
  } else {
    if (!ended) return null;
    bodyEnd = buffered.length;
  }
  return {
    response: { status, body: buffered.subarray(bodyStart, bodyEnd), close },
    rest: buffered.subarray(bodyEnd),
  };
}

/** The job's requests, serialized once: its one `request`, or one signed request per `signEach` input. */
export async function prepareRequests(job: LoadJob): Promise<Buffer[]> {
  const url = new URL(job.url);
  if (job.signEach !== undefined) {
    const { target, operation, inputs } = job.signEach;
    const requests: Buffer[] = [];
    for (const input of inputs) requests.push(serialize(url, await signKmsRequest(target, operation, input)));
    return requests;
  }
  if (job.request === undefined) throw new Error("a load job needs a request or signEach");
  return [serialize(url, job.request)];
}

/** A keep-alive connection that hands out responses one at a time, in order. */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private waiting: { resolve: (response: Response) => void; reject: (error: Error) => void } | null = null;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.deliver();
    });
    socket.on("error", () => {}); // "close" follows.
    socket.on("close", () => {
      this.ended = true;
      this.deliver();
    });
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new Connection(socket));
      });
    });
  }

  get usable(): boolean {
    return !this.ended && !this.socket.destroyed;
  }

  send(request: Buffer): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
      this.deliver();
    });
  }

  private deliver(): void {
    const waiting = this.waiting;
    if (waiting === null) return;
    const parsed = parseResponse(this.buffered, this.ended);
    if (parsed !== null) {
      this.waiting = null;
      this.buffered = parsed.rest;
      waiting.resolve(parsed.response);
    } else if (this.ended) {
      this.waiting = null;
      waiting.reject(new Error("the server closed the connection before answering"));
    }
  }
}

/**
 * Replays `job.request` over `job.connections` keep-alive connections, one request in flight per
 * connection, for `job.durationMs` (or `job.maxRequests`), and never longer than
 * `durationMs + graceMs`. The request is serialized once and responses are parsed only as far as
 * status and length, so the generator costs far less CPU per request than the servers it drives
 * (node:http's own client costs about twice what node:http's server does). A server that closes
 * connections is reconnected to, and the connect time counts in that request's latency.
 * Runs in the load process (load-worker.ts), never beside a server.
 */
export async function runLoad(job: LoadJob, prepared?: readonly Buffer[]): Promise<LoadResult> {
  const url = new URL(job.url);
  const host = url.hostname;
  const port = Number(url.port);
  const requests = prepared ?? (await prepareRequests(job));
  const pick =
    requests.length === 1
      ? () => requests[0] as Buffer
      : () => requests[Math.floor(Math.random() * requests.length)] as Buffer;
  const latencies: number[] = [];
  const open = new Set<Connection>();
  let errors = 0;
  let cut = 0;
  let issued = 0;
  let connectionsOpened = 0;
  let firstError: string | null = null;
  let abandoned = false;
  const started = performance.now();
  const end = started + job.durationMs;
  const maxRequests = job.maxRequests ?? Number.POSITIVE_INFINITY;
  const failed = (reason: string) => {
    errors++;
    firstError ??= reason;
  };

  const deadline = setTimeout(() => {
    abandoned = true;
    for (const connection of open) connection.socket.destroy();
  }, job.durationMs + job.graceMs);

  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      let connection: Connection | null = null;
      while (!abandoned && performance.now() < end && issued < maxRequests) {
        issued++;
        const start = performance.now();
        try {
          if (connection === null || !connection.usable) {
            if (connection) open.delete(connection);
            connection = await Connection.open(host, port);
            connectionsOpened++;
            open.add(connection);
          }
          const response = await connection.send(pick());
          if (response.status === 200) latencies.push(performance.now() - start);
          else failed(`HTTP ${response.status}: ${response.body.toString("utf8", 0, 300)}`);
          if (response.close) connection.socket.destroy();
        } catch (error) {
          if (abandoned) cut++;
          else {
            failed(error instanceof Error ? error.message : String(error));
            // A refused connection fails at once; do not spin on it.
            if (connection === null) await new Promise((resolve) => setTimeout(resolve, 10));
          }
          connection?.socket.destroy();
        }
      }
      connection?.socket.destroy();
    }),
  );
  clearTimeout(deadline);
  const elapsedMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? null;
  return {
    requests: latencies.length,
    errors,
    cut,
    connectionsOpened,
    elapsedMs,
    perSecond: latencies.length / (elapsedMs / 1000),
    p50: at(0.5),
    p99: at(0.99),
    firstError,
  };
}
