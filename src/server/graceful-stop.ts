import type { Server, ServerResponse } from "node:http";
import type { Logger } from "pino";

/** How long a stopping Trent lets requests in flight finish before it closes their connections. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/**
 * Lets a listener stop without cutting off a request: it stops accepting connections, answers
 * every request already received (with `Connection: close`, so no client sends another on that
 * connection), and closes idle kept-alive connections at once rather than after their timeout.
 * Node's own `server.close()` would keep a kept-alive connection open, and serving, until it
 * idles out.
 */
export class ListenerDrain {
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;

  constructor(private readonly server: Server) {
    server.on("request", (_request, response: ServerResponse) => {
      this.inFlight.add(response);
      if (this.draining) this.lastOnItsConnection(response);
      response.once("close", () => {
        this.inFlight.delete(response);
        if (this.draining) setImmediate(() => server.closeIdleConnections());
      });
    });
  }

  /** Requests received and not yet answered. */
  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /**
   * Resolves true once every connection has closed, every request answered; false when
   * `deadlineMs` passed first, after closing the connections still open.
   */
  drain(deadlineMs: number): Promise<boolean> {
    this.draining = true;
    for (const response of this.inFlight) this.lastOnItsConnection(response);
    return new Promise((resolve) => {
      const deadline = setTimeout(() => {
        this.server.closeAllConnections();
        resolve(false);
      }, deadlineMs);
      this.server.close(() => {
        clearTimeout(deadline);
        resolve(true);
      });
      this.server.closeIdleConnections();
    });
  }

  private lastOnItsConnection(response: ServerResponse): void {
    if (!response.headersSent) response.setHeader("connection", "close");
  }
}

/**
 * Stops the process on the first SIGTERM or SIGINT: `stop` drains and closes, and the exit code
 * says whether every request in flight was answered (0) or the drain deadline cut some off (1).
 * Later signals are only logged, so a supervisor that signals the whole process group (and a
 * cluster primary that forwards the signal as well) cannot interrupt a drain; its deadline bounds it.
 */
export function exitOnStopSignals(logger: Logger, stop: () => Promise<boolean>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.info({ signal }, "already stopping");
      return;
    }
    stopping = true;
    logger.info({ signal }, "stopping: answering the requests in flight");
    stop().then(
      (drained) => process.exit(drained ? 0 : 1),
      (error: unknown) => {
        logger.error({ err: error }, "stopping failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
