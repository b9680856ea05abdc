/** Socket errors: the server is down, restarting or unreachable. */
const SOCKET_ERRORS: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** SQLSTATEs outside class 08 (connection exception) that mean "not now" rather than "not so". */
const UNAVAILABLE_STATES: ReadonlySet<string> = new Set([
  "57P01", // admin_shutdown: the server is stopping (pg_ctl stop -m fast)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: the server is starting or in recovery
  "57014", // query_canceled: statement_timeout
  "53300", // too_many_connections
]);

// pg and pg-pool report their own timeouts and dropped connections only by message.
const DRIVER_MESSAGES =
  /^(timeout expired|timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|Client was closed)/;

/** Whether an error from pg means the database is unreachable or too slow, not that the request is wrong. */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    return SOCKET_ERRORS.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith("08");
  }
  return DRIVER_MESSAGES.test(error.message);
}
