// A TCP relay for port-forwarding to the current master (see kustomization.yaml): every client
// connection gets its own new connection to Service redis-master, so a forward started before a
// failover reaches the new master on its next connection. Dev only; plain Node, no dependencies.
import { connect, createServer } from "node:net";

const port = Number(process.env.LISTEN_PORT ?? 6379);
const target = { host: process.env.TARGET_HOST ?? "redis-master", port: Number(process.env.TARGET_PORT ?? 6379) };

const server = createServer((client) => {
  const upstream = connect(target);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close).on("close", close);
  upstream.on("error", close).on("close", close);
  client.pipe(upstream).pipe(client);
});
server.listen(port, () => console.log(JSON.stringify({ msg: "relaying", port, target })));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
