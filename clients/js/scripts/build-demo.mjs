// Assembles the demo web app (clients/demo) into clients/demo/build, the folder `make run` serves through
// Gateway:StaticFiles:Path: the page's own files, the built client package, and @msgpack/msgpack's ES modules for
// ?format=msgpack. Run after `npm run build`.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const demo = resolve(pkg, "..", "demo");
const out = join(demo, "build");
if (!existsSync(join(pkg, "dist", "index.js"))) throw new Error("build the client first: npm run build");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "lib"), { recursive: true });
for (const name of readdirSync(demo)) {
  if (name === "build" || name.startsWith(".")) continue;
  cpSync(join(demo, name), join(out, name), { recursive: true });
}
cpSync(join(pkg, "dist"), join(out, "lib", "client"), { recursive: true });
cpSync(join(pkg, "node_modules", "@msgpack", "msgpack", "dist.esm"), join(out, "lib", "msgpack"), { recursive: true });
console.log(`demo built into ${out}`);
