import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";

/**
 * A raw HTTP/1.1 client for the fuzzer. node:http refuses to send most of what the fuzzer needs
 * (repeated or malformed headers, a Content-Length that does not match the body, bytes that are
 * not a valid header), so requests are serialized by hand and written to the socket as they are.
 */
export interface WireRequest {
  readonly method: string;
  readonly target: string;
  /** In the order sent; a name may repeat. Content-Length is one of them, possibly wrong. */
  readonly headers: readonly (readonly [string, string])[];
  /** Exactly the bytes written after the header block (already chunk-encoded when chunked). */
  readonly body: Buffer;
}

/**
 * How a request is sent. One whose framing leaves bytes the server reads as a further request
 * goes on a connection of its own; one that declares more body than it has is also half-closed
 * after writing, so the server sees the end of the body instead of waiting for it. A complete
 * request is never half-closed: node:http drops the answer to a request whose client half-closed
 * before it was answered (`httpAllowHalfOpen` is false).
 */
export type Delivery = "keepAlive" | "ownConnection" | "halfClosed";

export function deliveryOf(request: WireRequest): Delivery {
  const values = (name: string) =>
    request.headers.filter(([header]) => header.toLowerCase() === name).map(([, value]) => value.trim());
  const lengths = values("content-length");
  const encodings = values("transfer-encoding");
  if (encodings.length > 0) {
    const chunkedOnly = encodings.length === 1 && encodings[0]?.toLowerCase() === "chunked" && lengths.length === 0;
    return chunkedOnly && request.body.subarray(-5).toString("latin1") === "0\r\n\r\n" ? "keepAlive" : "halfClosed";
  }
  if (lengths.length === 0) return request.body.length === 0 ? "keepAlive" : "ownConnection";
  if (lengths.length > 1 || !/^\d+$/.test(lengths[0] as string)) return "halfClosed";
  const declared = Number(lengths[0]);
  if (declared > request.body.length) return "halfClosed";
  return declared === request.body.length ? "keepAlive" : "ownConnection";
}

export interface WireResponse {
  readonly status: number;
  /** Header name (lower case) → values, in order. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly body: Buffer;
  /** The server said it closes the connection after this response. */
  readonly close: boolean;
}

/** No response within the fuzzer's timeout. */
export class ResponseTimeout extends Error {}

/** The connection ended (or failed) before a whole response arrived. */
export class NoResponse extends Error {
  constructor(
    message: string,
    /** The connection was reset (EPIPE, ECONNRESET), typically while the request was still being written. */
    readonly reset = false,
  ) {
    super(message);
  }
}

export function serializeRequest(request: WireRequest): Buffer {
  const head = request.headers.map(([name, value]) => `${name}: ${value}\r\n`).join("");
  return Buffer.concat([
    Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\n${head}\r\n`, "utf8"),
    request.body,
  ]);
}

/** A request printed so that it can be sent again byte for byte (JSON string escaping). */
export function describeRequest(request: WireRequest): string {
  const bytes = serializeRequest(request);
  const shown = bytes.length > 4096 ? bytes.subarray(0, 4096) : bytes;
  const text = JSON.stringify(shown.toString("latin1"));
  const delivery = deliveryOf(request);
  const how =
    delivery === "keepAlive" ? "" : delivery === "ownConnection" ? ", own connection" : ", own half-closed connection";
  return `${bytes.length} bytes${how}: ${text}${shown === bytes ? "" : " …"}`;
}

const HEAD_END = Buffer.from("\r\n\r\n");

interface Parsed {
  readonly response: WireResponse;
  readonly rest: Buffer;
}

/**
 * One whole response at the start of `buffered` (null while incomplete); `ended` once the peer
 * closed. The answer to HEAD has no body, whatever its Content-Length says.
 */
function parseResponse(buffered: Buffer, ended: boolean, head: boolean): Parsed | null {
  const headEnd = buffered.indexOf(HEAD_END);
  if (headEnd < 0) return null;
  const lines = buffered.toString("latin1", 0, headEnd).split("\r\n");
  const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!statusLine) throw new NoResponse(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const values = headers.get(name);
    if (values) values.push(value);
    else headers.set(name, [value]);
  }
  const close = headers.get("connection")?.some((value) => value.toLowerCase() === "close") ?? false;
  const bodyStart = headEnd + HEAD_END.length;
  const status = Number(statusLine[1]);
  const response = (body: Buffer) => ({ status, headers, body, close });
  if (head || status < 200 || status === 204 || status === 304) {
    return { response: response(Buffer.alloc(0)), rest: buffered.subarray(bodyStart) };
  }
  const length = headers.get("content-length")?.[0];
  if (length !== undefined) {
    const bodyEnd = bodyStart + Number(length);
    if (buffered.length < bodyEnd) return null;
    return { response: response(buffered.subarray(bodyStart, bodyEnd)), rest: buffered.subarray(bodyEnd) };
  }
  if (headers.get("transfer-encoding")?.[0]?.toLowerCase() === "chunked") {
    const chunks: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const lineEnd = buffered.indexOf("\r\n", at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(buffered.toString("latin1", at, lineEnd), 16);
      if (Number.isNaN(size)) throw new NoResponse("malformed chunked response");
      const chunkEnd = lineEnd + 2 + size;
      if (buffered.length < chunkEnd + 2) return null;
      if (size === 0) {
        const trailerEnd = buffered.indexOf(HEAD_END, lineEnd);
        if (trailerEnd < 0) return null;
        return { response: response(Buffer.concat(chunks)), rest: buffered.subarray(trailerEnd + HEAD_END.length) };
      }
      chunks.push(buffered.subarray(lineEnd + 2, chunkEnd));
      at = chunkEnd + 2;
    }
  }
  if (!ended) return null;
  return { response: response(buffered.subarray(bodyStart)), rest: Buffer.alloc(0) };
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** The CA to trust for HTTPS; absent for plain HTTP. */
  readonly ca?: string;
}

export function endpointOf(url: string, ca?: string): Endpoint {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port), ...(ca === undefined ? {} : { ca }) };
}

function open(endpoint: Endpoint): Socket {
  return endpoint.ca === undefined
    ? connectTcp({ host: endpoint.host, port: endpoint.port })
    : connectTls({ host: endpoint.host, port: endpoint.port, ca: endpoint.ca });
}

/** One connection carrying one request at a time. */
class Exchange {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private failure: NodeJS.ErrnoException | null = null;
  private waiting: ((settled: WireResponse | Error) => void) | null = null;
  private head = false;

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.deliver();
    });
    socket.on("error", (error) => {
      this.failure = error;
    });
    socket.on("close", () => {
      this.ended = true;
      this.deliver();
    });
  }

  get usable(): boolean {
    return !this.ended && !this.socket.destroyed;
  }

  send(bytes: Buffer, head: boolean, halfClose: boolean, timeoutMs: number): Promise<WireResponse> {
    this.head = head;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.socket.destroy();
        reject(new ResponseTimeout(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (settled) => {
        clearTimeout(timer);
        if (settled instanceof Error) reject(settled);
        else resolve(settled);
      };
      if (halfClose) this.socket.end(bytes);
      else this.socket.write(bytes);
      this.deliver();
    });
  }

  private deliver(): void {
    const waiting = this.waiting;
    if (waiting === null) return;
    let parsed: Parsed | null;
    try {
      parsed = parseResponse(this.buffered, this.ended, this.head);
      // An interim 100 Continue precedes the answer.
      while (parsed !== null && parsed.response.status >= 100 && parsed.response.status < 200) {
        this.buffered = parsed.rest;
        parsed = parseResponse(this.buffered, this.ended, this.head);
      }
    } catch (error) {
      this.waiting = null;
      this.socket.destroy();
      waiting(error as Error);
      return;
    }
    if (parsed !== null) {
      this.waiting = null;
      this.buffered = parsed.rest;
      waiting(parsed.response);
    } else if (this.ended) {
      this.waiting = null;
      const reason = this.failure === null ? "" : ` (${this.failure.message})`;
      waiting(
        new NoResponse(
          `the connection closed before a whole response${reason}`,
          ["EPIPE", "ECONNRESET"].includes(this.failure?.code ?? ""),
        ),
      );
    }
  }
}

/** The server's keep-alive timeout is 5 s: an idle connection older than this is not reused. */
const MAX_IDLE_MS = 4_000;

/** A keep-alive connection to one endpoint, reopened when the server closes it. */
export class FuzzConnection {
  private current: Exchange | null = null;
  private lastUsed = 0;

  constructor(private readonly endpoint: Endpoint) {}

  async send(request: WireRequest, timeoutMs: number): Promise<WireResponse> {
    const bytes = serializeRequest(request);
    const delivery = deliveryOf(request);
    if (delivery !== "keepAlive") {
      const exchange = new Exchange(open(this.endpoint));
      try {
        return await exchange.send(bytes, request.method === "HEAD", delivery === "halfClosed", timeoutMs);
      } finally {
        exchange.socket.destroy();
      }
    }
    if (this.current !== null && performance.now() - this.lastUsed > MAX_IDLE_MS) this.close();
    if (this.current === null || !this.current.usable) this.current = new Exchange(open(this.endpoint));
    const exchange = this.current;
    this.lastUsed = performance.now();
    try {
      const response = await exchange.send(bytes, request.method === "HEAD", false, timeoutMs);
      this.lastUsed = performance.now();
      if (response.close) this.close();
      return response;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  close(): void {
    this.current?.socket.destroy();
    this.current = null;
  }
}
