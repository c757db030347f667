/** Small network probes for the sandbox. */
import { connect } from "node:net";
import { ProcessStartError } from "../shared/errors.ts";

export function tcpOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Fails with a clear message when an address:port is already taken (something else listens). */
export async function assertFree(name: string, host: string, port: number): Promise<void> {
  if (await tcpOpen(host, port, 200)) {
    throw new ProcessStartError(name, `${host}:${port} is already in use by another process`, "");
  }
}
