import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import {
  MAX_BODY_BYTES as DKMS_MAX_BODY_BYTES,
  type DkmsEdge,
  DkmsError,
  type DkmsResponse,
  dkmsErrorResponse,
} from "../protocol/alibaba/dkms-edge.js";
import type { AwsJsonEdge, EdgeRequest } from "../protocol/aws/aws-json-edge.js";
import { type CloudTrailEdge, isCloudTrailTarget } from "../protocol/aws/cloudtrail-edge.js";
import { CONSOLE_SECURITY_HEADERS, type ConsoleSite, isBrowserNavigation } from "./console-site.js";
import { type ConnectionMetrics, METRICS_CONTENT_TYPE, type RequestMetrics } from "./metrics.js";
import type { ReadinessReport } from "./readiness.js";

export interface HttpServerOptions {
  /** AWS-edge requests with a larger body are refused with 413 before they are read further. */
  readonly maxBodyBytes: number;
  /** From a connection's first byte (or a kept-alive connection's next request) to the end of its headers. */
  readonly headersTimeoutMs: number;
  /** From the end of the headers to the end of the body, however steadily it trickles. */
  readonly bodyTimeoutMs: number;
  /** How long a kept-alive connection may sit idle between requests. */
  readonly keepAliveTimeoutMs: number;
  /** Connections open at once on this listener (per process); more are closed as they arrive. */
  readonly maxConnections: number;
}

export const DEFAULT_HTTP_OPTIONS: HttpServerOptions = {
  maxBodyBytes: 1024 * 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 20_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_000,
};

/** What the listener reports to, and asks, besides the edges; each part is optional. */
export interface ListenerHooks {
  /** Answers GET /ready; without it /ready answers like /health. */
  readonly ready?: () => Promise<ReadinessReport>;
  /** Told of the requests the listener answers itself (too large, too slow, not a POST). */
  readonly requests?: RequestMetrics;
  readonly connections?: ConnectionMetrics;
  /** Serves the web console under /console/ (and redirects / there); without it those paths are 404. */
  readonly console?: ConsoleSite;
  /** Answers CloudTrail's LookupEvents (and VerifyAuditTrail) on the AWS route, by X-Amz-Target. */
  readonly cloudTrail?: CloudTrailEdge;
}

class BodyTooLarge extends Error {}
class BodyTimedOut extends Error {}
/** The connection closed (the client went away, or the listener closed it) before the body ended. */
class RequestAborted extends Error {}

function headerMap(raw: string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const values = headers.get(name);
    if (values) values.push(raw[i + 1] as string);
    else headers.set(name, [raw[i + 1] as string]);
  }
  return headers;
}

/** Reads the whole body, up to `limit` bytes, within `timeoutMs` of being called. */
function readBody(request: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | null) => {
      clearTimeout(timer);
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onAbort);
      request.off("close", onAbort);
      if (error === null) resolve(Buffer.concat(chunks, size));
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(new BodyTooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onAbort = () => finish(new RequestAborted());
    const timer = setTimeout(() => finish(new BodyTimedOut()), timeoutMs);
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onAbort);
    request.on("close", onAbort);
  });
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  response.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) });
  response.end(body);
}

/** An error answered by the listener itself, shaped as the AWS edge shapes its errors. */
function sendKmsError(response: ServerResponse, status: number, code: string, message: string): void {
  send(
    response,
    status,
    { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": randomUUID() },
    JSON.stringify({ __type: code, message }),
  );
}

function sendDkms(response: ServerResponse, reply: DkmsResponse): void {
  send(response, reply.status, reply.headers, reply.body);
}

/** The Alibaba instance API asks with an `x-kms-apiname` header; everything else is AWS. */
function isDkmsRequest(request: IncomingMessage): boolean {
  return request.headers["x-kms-apiname"] !== undefined;
}

function edgeRequest(request: IncomingMessage, url: URL, body: Buffer): EdgeRequest {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const existing = query[name];
    query[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return {
    method: "POST",
    path: url.pathname,
    query,
    headers: headerMap(request.rawHeaders),
    body,
    remoteAddress: request.socket.remoteAddress ?? null,
    secure: "encrypted" in request.socket && request.socket.encrypted === true,
  };
}

function rawKmsError(status: string, code: string, message: string): string {
  const body = JSON.stringify({ __type: code, message });
  return `HTTP/1.1 ${status}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-requestid: ${randomUUID()}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/**
 * Answers on a connection the HTTP parser gave up on, then closes it once the answer is written,
 * without waiting for the client to close its side: a client that never does must not hold it.
 */
function answerAndClose(socket: Duplex, answer: string, linger: boolean): void {
  const closing = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  closing.unref();
  socket.end(answer, () => {
    clearTimeout(closing);
    if (linger) lingerAndClose(socket);
    else socket.destroy();
  });
}

/**
 * Closing a connection while the client is still sending would reset it, and the client would
 * lose the answer just written. So what still arrives is read and discarded, briefly and up to a
 * bound, before the connection is closed.
 */
function lingerAndClose(socket: Duplex): void {
  let discarded = 0;
  const close = () => {
    clearTimeout(deadline);
    socket.destroy();
  };
  const deadline = setTimeout(close, LINGER_MS);
  deadline.unref();
  socket.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_MAX_BYTES) close();
  });
  socket.once("end", close);
  socket.once("error", close);
  socket.resume();
}

const LINGER_MS = 2_000;
const LINGER_MAX_BYTES = 16 * 1024 * 1024;

/** How long a refused connection's answer may take to leave before the connection is dropped. */
const CLOSE_GRACE_MS = 1_000;

/**
 * The HTTP listener (HTTPS when given a certificate): reads bounded bodies within a deadline,
 * serves /health, /ready and /metrics, hands requests carrying `x-kms-apiname` to the Alibaba
 * instance-API edge when there is one, and everything else to the AWS edge. A client that is slow
 * to send its headers or body, or idles on a kept-alive connection, is cut off by the timeouts of
 * `options`; at most `options.maxConnections` connections are open at once.
 */
export function createHttpServer(
  edge: AwsJsonEdge,
  logger: Logger,
  options: HttpServerOptions,
  metrics: () => string | Promise<string>,
  tls?: { readonly cert: string; readonly key: string },
  dkms?: DkmsEdge,
  hooks: ListenerHooks = {},
): Server {
  const answered = (
    edgeName: "aws" | "alibaba",
    started: number,
    status: number,
    errorCode: string,
    operation: string | null = null,
  ) =>
    hooks.requests?.answered({
      edge: edgeName,
      operation,
      errorCode,
      status,
      seconds: (performance.now() - started) / 1000,
    });
  // Every answer on this route is the protobuf Error the Alibaba SDKs parse, never JSON.
  const handleDkms = async (dkmsEdge: DkmsEdge, request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    const refuse = (error: DkmsError) => {
      sendDkms(response, dkmsErrorResponse(error));
      answered("alibaba", started, error.status, error.code, request.headers["x-kms-apiname"] as string);
    };
    try {
      if (request.method !== "POST") {
        response.setHeader("allow", "POST");
        refuse(new DkmsError(405, "UnsupportedHTTPMethod", "This http method is not supported."));
        return;
      }
      const target = request.url ?? "/";
      if (!target.startsWith("/") || !URL.canParse(target, "http://trent.invalid")) {
        response.setHeader("connection", "close");
        refuse(new DkmsError(400, "InvalidParam", "The Param Path is invalid."));
        return;
      }
      const body = await readBody(request, DKMS_MAX_BODY_BYTES, options.bodyTimeoutMs);
      sendDkms(response, await dkmsEdge.handle(edgeRequest(request, new URL(target, "http://trent.invalid"), body)));
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        // No `connection: close`: Node then reads and discards the rest of the body, so the
        // client, still sending it, receives this answer instead of a reset (requestTimeout bounds it).
        const reply = dkmsEdge.tooLarge(DKMS_MAX_BODY_BYTES);
        sendDkms(response, reply);
        answered(
          "alibaba",
          started,
          reply.status,
          reply.errorCode ?? "error",
          request.headers["x-kms-apiname"] as string,
        );
        return;
      }
      if (error instanceof BodyTimedOut) {
        hooks.connections?.timedOut("body");
        response.setHeader("connection", "close");
        refuse(
          new DkmsError(408, "RequestTimeout", `The request body did not arrive within ${options.bodyTimeoutMs} ms.`),
        );
        return;
      }
      if (error instanceof RequestAborted) {
        response.destroy();
        return;
      }
      logger.error({ err: error }, "unexpected failure in the HTTP layer");
      if (!response.headersSent) {
        refuse(new DkmsError(500, "InternalFailure", "Internal Failure."));
      } else {
        response.destroy();
      }
    }
  };
  const serveProbe = async (path: string, response: ServerResponse): Promise<void> => {
    const json = { "content-type": "application/json", "cache-control": "no-store" };
    if (path === "/health") {
      send(response, 200, json, '{"status":"ok"}');
    } else if (path === "/ready") {
      const report = hooks.ready === undefined ? { ready: true, checks: {} } : await hooks.ready();
      const body = JSON.stringify({ status: report.ready ? "ready" : "not ready", checks: report.checks });
      send(response, report.ready ? 200 : 503, json, body);
    } else {
      send(response, 200, { "content-type": METRICS_CONTENT_TYPE, "cache-control": "no-store" }, await metrics());
    }
  };
  // Host is checked by SigV4 (it must be signed); Node's own bare 400 would not be a KMS error.
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (dkms !== undefined && isDkmsRequest(request)) {
      await handleDkms(dkms, request, response);
      return;
    }
    const started = performance.now();
    const refuse = (status: number, code: string, message: string) => {
      sendKmsError(response, status, code, message);
      answered("aws", started, status, code);
    };
    try {
      const path = request.url?.split("?", 1)[0];
      if (request.method === "GET" && (path === "/health" || path === "/ready" || path === "/metrics")) {
        await serveProbe(path, response);
        return;
      }
      if ((request.method === "GET" || request.method === "HEAD") && path !== undefined) {
        if (hooks.console?.serve(path, request.method, request.headers.accept, response)) return;
        if (
          (path === "/" && isBrowserNavigation(request.headers.accept)) ||
          path === "/console" ||
          path.startsWith("/console/")
        ) {
          send(
            response,
            404,
            { ...CONSOLE_SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" },
            "The web console is switched off.\n",
          );
          return;
        }
      }
      if (request.method !== "POST") {
        response.setHeader("allow", "POST");
        refuse(405, "UnknownOperationException", "KMS operations are sent as POST requests.");
        return;
      }
      const target = request.url ?? "/";
      if (!target.startsWith("/") || !URL.canParse(target, "http://trent.invalid")) {
        response.setHeader("connection", "close");
        refuse(400, "SerializationException", "The request target must be an absolute path such as /.");
        return;
      }
      const body = await readBody(request, options.maxBodyBytes, options.bodyTimeoutMs);
      const url = new URL(target, "http://trent.invalid");
      const targets = request.headers["x-amz-target"];
      const result =
        hooks.cloudTrail !== undefined && isCloudTrailTarget(typeof targets === "string" ? targets : undefined)
          ? await hooks.cloudTrail.handle(edgeRequest(request, url, body))
          : await edge.handle(edgeRequest(request, url, body));
      send(response, result.status, result.headers, result.body);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        // As above: the rest of the body is read and discarded, not reset.
        refuse(413, "RequestEntityTooLargeException", `The request body is larger than ${options.maxBodyBytes} bytes.`);
        return;
      }
      if (error instanceof BodyTimedOut) {
        hooks.connections?.timedOut("body");
        response.setHeader("connection", "close");
        refuse(408, "RequestTimeoutException", `The request body did not arrive within ${options.bodyTimeoutMs} ms.`);
        return;
      }
      if (error instanceof RequestAborted) {
        response.destroy();
        return;
      }
      logger.error({ err: error }, "unexpected failure in the HTTP layer");
      if (!response.headersSent) {
        refuse(500, "KMSInternalException", "An internal error occurred.");
      } else {
        response.destroy();
      }
    }
  };
  const limits = {
    requireHostHeader: false,
    headersTimeout: options.headersTimeoutMs,
    // Node's own deadline for a whole request, a backstop behind readBody's: it also covers
    // bodies nobody reads (a GET answered at once while its body still trickles).
    requestTimeout: options.headersTimeoutMs + options.bodyTimeoutMs + CLOSE_GRACE_MS,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // Node looks for expired requests only this often (30 s by default), which would stretch every timeout.
    connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(options.headersTimeoutMs / 4))),
  };
  const server: Server =
    tls === undefined
      ? createServer(limits, handle)
      : (createHttpsServer(
          // A TLS handshake precedes the headers; it gets the same time as they do.
          { ...limits, handshakeTimeout: options.headersTimeoutMs, cert: tls.cert, key: tls.key },
          handle,
        ) as unknown as Server);
  server.maxConnections = options.maxConnections;
  // A client that half-closes after sending a complete request still gets its answer.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on("connection", (socket: Duplex) => {
    hooks.connections?.opened();
    socket.once("close", () => hooks.connections?.closed());
  });
  server.on("drop", () => hooks.connections?.dropped());
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    const timedOut = error.code === "ERR_HTTP_REQUEST_TIMEOUT";
    if (timedOut) hooks.connections?.timedOut("headers");
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    answerAndClose(
      socket,
      error.code === "HPE_HEADER_OVERFLOW"
        ? rawKmsError(
            "431 Request Header Fields Too Large",
            "SerializationException",
            "The request headers are too large.",
          )
        : timedOut
          ? rawKmsError(
              "408 Request Timeout",
              "RequestTimeoutException",
              `The request did not arrive within ${options.headersTimeoutMs} ms.`,
            )
          : rawKmsError("400 Bad Request", "SerializationException", "The HTTP request is malformed."),
      // A client cut off for slowness is not mid-send; one refused for what it sent may be.
      !timedOut,
    );
  });
  server.on("checkExpectation", (request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    response.setHeader("connection", "close");
    if (dkms !== undefined && isDkmsRequest(request)) {
      const message = "Only 'Expect: 100-continue' is supported.";
      sendDkms(response, dkmsErrorResponse(new DkmsError(417, "InvalidParam", message)));
      answered("alibaba", started, 417, "InvalidParam", request.headers["x-kms-apiname"] as string);
      return;
    }
    sendKmsError(response, 417, "SerializationException", "Only 'Expect: 100-continue' is supported.");
    answered("aws", started, 417, "SerializationException");
  });
  server.on("connect", (_request, socket) => {
    answerAndClose(
      socket,
      rawKmsError("405 Method Not Allowed", "UnknownOperationException", "KMS operations are sent as POST requests."),
      false,
    );
  });
  return server;
}
