/**
 * The small HTTP server every long-running component exposes: `/healthz` (the process is alive),
 * `/readyz` (its dependencies are there: the caller's check) and `/metrics` (Prometheus).
 */
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface ProbeServerOptions {
  host?: string;
  port: number;
  registry: Registry;
  /** Ready when this returns ok: true; `detail` is shown either way. */
  ready: () => { ok: boolean; detail: Record<string, unknown> };
}

export interface ProbeServer {
  server: Server;
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz" || path === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const { ok, detail } = options.ready();
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(`${JSON.stringify({ ready: ok, ...detail })}\n`);
    } else if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": options.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${String(err)}\n`),
      );
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
