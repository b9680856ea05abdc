import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Logger } from "pino";
import {
  MAX_BODY_BYTES as DKMS_MAX_BODY_BYTES,
  type DkmsEdge,
  DkmsError,
  type DkmsResponse,
  dkmsErrorResponse,
} from "../protocol/alibaba/dkms-edge.js";
import type { AwsJsonEdge, EdgeRequest } from "../protocol/aws/aws-json-edge.js";

export interface HttpServerOptions {
  /** Requests with a larger body are refused with 413 before they are read further. */
  readonly maxBodyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

export const DEFAULT_HTTP_OPTIONS: HttpServerOptions = {
  maxBodyBytes: 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

class BodyTooLarge extends Error {}

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

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners("data");
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks, size)));
    request.on("error", reject);
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
 * The HTTP listener (HTTPS when given a certificate): reads bounded bodies, serves /health, hands
 * requests carrying `x-kms-apiname` to the Alibaba instance-API edge when there is one, and
 * everything else to the AWS edge.
 */
export function createHttpServer(
  edge: AwsJsonEdge,
  logger: Logger,
  options: HttpServerOptions,
  metrics: () => string,
  tls?: { readonly cert: string; readonly key: string },
  dkms?: DkmsEdge,
): Server {
  // Every answer on this route is the protobuf Error the Alibaba SDKs parse, never JSON.
  const handleDkms = async (dkmsEdge: DkmsEdge, request: IncomingMessage, response: ServerResponse) => {
    try {
      if (request.method !== "POST") {
        response.setHeader("allow", "POST");
        sendDkms(
          response,
          dkmsErrorResponse(new DkmsError(405, "UnsupportedHTTPMethod", "This http method is not supported.")),
        );
        return;
      }
      const target = request.url ?? "/";
      if (!target.startsWith("/") || !URL.canParse(target, "http://trent.invalid")) {
        response.setHeader("connection", "close");
        sendDkms(response, dkmsErrorResponse(new DkmsError(400, "InvalidParam", "The Param Path is invalid.")));
        return;
      }
      const body = await readBody(request, DKMS_MAX_BODY_BYTES);
      sendDkms(response, await dkmsEdge.handle(edgeRequest(request, new URL(target, "http://trent.invalid"), body)));
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        response.setHeader("connection", "close");
        sendDkms(response, dkmsEdge.tooLarge(DKMS_MAX_BODY_BYTES));
        return;
      }
      logger.error({ err: error }, "unexpected failure in the HTTP layer");
      if (!response.headersSent) {
        sendDkms(response, dkmsErrorResponse(new DkmsError(500, "InternalFailure", "Internal Failure.")));
      } else {
        response.destroy();
      }
    }
  };
  // Host is checked by SigV4 (it must be signed); Node's own bare 400 would not be a KMS error.
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (dkms !== undefined && isDkmsRequest(request)) {
      await handleDkms(dkms, request, response);
      return;
    }
    try {
      if (request.method === "GET" && (request.url === "/health" || request.url === "/ready")) {
        send(response, 200, { "content-type": "application/json" }, '{"status":"ok"}');
        return;
      }
      if (request.method === "GET" && request.url === "/metrics") {
        send(response, 200, { "content-type": "text/plain; version=0.0.4" }, metrics());
        return;
      }
      if (request.method !== "POST") {
        response.setHeader("allow", "POST");
        sendKmsError(response, 405, "UnknownOperationException", "KMS operations are sent as POST requests.");
        return;
      }
      const target = request.url ?? "/";
      if (!target.startsWith("/") || !URL.canParse(target, "http://trent.invalid")) {
        response.setHeader("connection", "close");
        sendKmsError(response, 400, "SerializationException", "The request target must be an absolute path such as /.");
        return;
      }
      const body = await readBody(request, options.maxBodyBytes);
      const result = await edge.handle(edgeRequest(request, new URL(target, "http://trent.invalid"), body));
      send(response, result.status, result.headers, result.body);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        response.setHeader("connection", "close");
        const message = `The request body is larger than ${options.maxBodyBytes} bytes.`;
        sendKmsError(response, 413, "RequestEntityTooLargeException", message);
        return;
      }
      logger.error({ err: error }, "unexpected failure in the HTTP layer");
      if (!response.headersSent) {
        sendKmsError(response, 500, "KMSInternalException", "An internal error occurred.");
      } else {
        response.destroy();
      }
    }
  };
  const server: Server =
    tls === undefined
      ? createServer({ requireHostHeader: false }, handle)
      : (createHttpsServer({ requireHostHeader: false, cert: tls.cert, key: tls.key }, handle) as unknown as Server);
  server.headersTimeout = options.headersTimeoutMs;
  server.requestTimeout = options.requestTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(
      error.code === "HPE_HEADER_OVERFLOW"
        ? rawKmsError(
            "431 Request Header Fields Too Large",
            "SerializationException",
            "The request headers are too large.",
          )
        : rawKmsError("400 Bad Request", "SerializationException", "The HTTP request is malformed."),
    );
  });
  server.on("checkExpectation", (request: IncomingMessage, response: ServerResponse) => {
    response.setHeader("connection", "close");
    if (dkms !== undefined && isDkmsRequest(request)) {
      const message = "Only 'Expect: 100-continue' is supported.";
      sendDkms(response, dkmsErrorResponse(new DkmsError(417, "InvalidParam", message)));
      return;
    }
    sendKmsError(response, 417, "SerializationException", "Only 'Expect: 100-continue' is supported.");
  });
  server.on("connect", (_request, socket) => {
    socket.end(
      rawKmsError("405 Method Not Allowed", "UnknownOperationException", "KMS operations are sent as POST requests."),
    );
  });
  return server;
}
