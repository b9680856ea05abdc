/**
 * The ceiling: a bare `node:http` server that reads each POST body and answers 200 with one fixed
 * JSON body, as large as Trent's response to the operation being measured. No crypto, no
 * authentication, no storage: what Node's HTTP stack alone costs on this machine, for the bench to
 * divide Trent's figures by.
 *
 * `node ceiling-server.js BYTES` listens on a free loopback port and prints
 * `{"url": "http://127.0.0.1:PORT"}` on stdout.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const size = Number(process.argv[2]);
if (!Number.isInteger(size) || size < 0) throw new RangeError("usage: ceiling-server.js BYTES");

const prefix = '{"Filler":"';
const suffix = '"}';
const body = Buffer.from(`${prefix}${"A".repeat(Math.max(0, size - prefix.length - suffix.length))}${suffix}`);
// Trent sends a fresh request id per response; a fixed one of the same length keeps the headers alike.
const requestId = "00000000-0000-4000-8000-000000000000";

const server = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    response.writeHead(200, {
      "content-type": "application/x-amz-json-1.1",
      "x-amzn-requestid": requestId,
      "content-length": body.length,
    });
    response.end(body);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.once("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
