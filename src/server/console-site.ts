import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where `npm run build` puts the console (scripts/build-console.mjs), beside the compiled server. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL("../../console/", import.meta.url));

export const CONSOLE_PATH = "/console/";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Every console answer carries these: the console runs only its own script and styles from this
 * origin, is never framed, and sends no referrer (its URLs carry key ids).
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

/** A browser asks for a page with `Accept: text/html,…`; SDKs and probes do not. */
export function isBrowserNavigation(accept: string | undefined): boolean {
  return accept?.includes("text/html") === true;
}

/** What the sign-in page may know before anyone signs in: nothing secret. */
export interface ConsoleConfig {
  readonly region: string;
  readonly features: readonly string[];
}

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  /** Names with a content hash never change; index.html and config.json are always revalidated. */
  readonly immutable: boolean;
}

/**
 * Trent's web console as static files: index.html, one script and one stylesheet (their names
 * carry a content hash), read once at start from `dir`, plus `config.json`. Nothing is fetched
 * from elsewhere, so the console works with no internet access.
 */
export class ConsoleSite {
  private readonly assets = new Map<string, Asset>();

  constructor(dir: string, config: ConsoleConfig) {
    if (existsSync(join(dir, "index.html"))) {
      for (const name of readdirSync(dir)) {
        const file = join(dir, name);
        if (!statSync(file).isFile()) continue;
        this.assets.set(name, {
          body: readFileSync(file),
          contentType: CONTENT_TYPES[extname(name)] ?? "application/octet-stream",
          immutable: /\.[0-9A-Z]{8,}\.(js|css)$/.test(name),
        });
      }
    }
    this.assets.set("config.json", {
      body: Buffer.from(JSON.stringify(config)),
      contentType: CONTENT_TYPES[".json"] as string,
      immutable: false,
    });
  }

  /** Whether the built console was found (else /console/ explains how to build it). */
  get built(): boolean {
    return this.assets.has("index.html");
  }

  /**
   * Answers GET or HEAD of `/console/...`, and of `/` from a browser (a redirect); false for any
   * other request. A GET of `/` from an SDK or a probe keeps its KMS error, as before the console.
   */
  serve(path: string, method: string, accept: string | undefined, response: ServerResponse): boolean {
    if (path === "/" && isBrowserNavigation(accept)) {
      this.send(response, method, 302, { location: CONSOLE_PATH, "cache-control": "no-store" }, "");
      return true;
    }
    if (path === "/console") {
      this.send(response, method, 301, { location: CONSOLE_PATH, "cache-control": "no-store" }, "");
      return true;
    }
    if (!path.startsWith(CONSOLE_PATH)) return false;
    const name = path.slice(CONSOLE_PATH.length) || "index.html";
    const asset = name.includes("/") ? undefined : this.assets.get(name);
    if (asset === undefined) {
      const body = this.built
        ? "Not found.\n"
        : "The web console is not built: run `npm run build` (scripts/build-console.mjs).\n";
      this.send(
        response,
        method,
        404,
        { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
        body,
      );
      return true;
    }
    this.send(
      response,
      method,
      200,
      {
        "content-type": asset.contentType,
        "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      },
      asset.body,
    );
    return true;
  }

  private send(
    response: ServerResponse,
    method: string,
    status: number,
    headers: Record<string, string>,
    body: string | Buffer,
  ): void {
    response.writeHead(status, { ...CONSOLE_SECURITY_HEADERS, ...headers, "content-length": Buffer.byteLength(body) });
    response.end(method === "HEAD" ? undefined : body);
  }
}
