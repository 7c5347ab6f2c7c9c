#!/usr/bin/env node
// npm run demo:browser [-- --port N]: builds the browser demo and serves it on
// 127.0.0.1 until Ctrl-C. See demo/index.html and scripts/demo_server.mjs.
import { DEFAULT_DEMO_PORT, serveDemo } from "./demo_server.mjs";

const args = process.argv.slice(2);
let port;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = arg === "--port" ? args[++i] : arg.startsWith("--port=") ? arg.slice("--port=".length) : undefined;
  if (value !== undefined) {
    port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`demo:browser: --port must be an integer in [0, 65535], got ${JSON.stringify(value)}`);
      process.exit(1);
    }
  } else if (arg === "--help" || arg === "-h") {
    console.log(`usage: npm run demo:browser [-- --port N]   (default ${DEFAULT_DEMO_PORT}, or a free port when taken)`);
    process.exit(0);
  } else {
    console.error(`demo:browser: unknown argument ${JSON.stringify(arg)}; usage: npm run demo:browser [-- --port N]`);
    process.exit(1);
  }
}

try {
  const { url } = await serveDemo(port === undefined ? {} : { port });
  console.log(`relearn browser demo: ${url}`);
  if (port === undefined && !url.endsWith(`:${DEFAULT_DEMO_PORT}/`)) {
    console.log(`(port ${DEFAULT_DEMO_PORT} was taken; the demo's saved progress lives per port, so it starts fresh here)`);
  }
  console.log("Open it in Chromium or Firefox; Ctrl-C stops the server.");
} catch (error) {
  console.error(`demo:browser: ${error.code === "EADDRINUSE" ? `port ${port} is in use; pick another with --port N` : error.message}`);
  process.exit(1);
}
