// Builds Trent's web console (console/) into dist/console/ (or the directory given): one
// minified script and one stylesheet, their names carrying a content hash, and index.html
// naming them. Everything the console needs is in those files: no CDN, no external URL.
// The console is type-checked first with its own tsconfig (DOM, JSX), apart from the server's.
// Run: node scripts/build-console.mjs [outDir] [--no-check]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const outDir = resolve(root, args.find((arg) => !arg.startsWith("--")) ?? "dist/console");

if (!args.includes("--no-check")) {
  try {
    execFileSync(
      process.execPath,
      [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "console/tsconfig.json")],
      {
        stdio: "inherit",
      },
    );
  } catch {
    console.error("the web console does not type-check (console/tsconfig.json)");
    process.exit(1);
  }
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const result = await build({
  entryPoints: { app: join(root, "console/src/main.tsx") },
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["chrome120", "firefox115"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: outDir,
  entryNames: "[name].[hash]",
  metafile: true,
  legalComments: "linked",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = outputs.find((file) => file.endsWith(".js"));
const style = outputs.find((file) => file.endsWith(".css"));
if (script === undefined || style === undefined)
  throw new Error(`expected one script and one stylesheet, got ${outputs}`);
const html = readFileSync(join(root, "console/index.html"), "utf8")
  .replace("{{script}}", script)
  .replace("{{style}}", style);
if (/https?:\/\//.test(html)) throw new Error("console/index.html must not name an external URL");
writeFileSync(join(outDir, "index.html"), html);
writeFileSync(join(outDir, "favicon.svg"), readFileSync(join(root, "console/favicon.svg")));
console.log(`built the web console into ${outDir}: ${[script, style].join(", ")}`);
