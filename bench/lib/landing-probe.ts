/**
 * Where a NEW connection to a Service lands, as kube-proxy routes it: one TCP connection per probe
 * to the ClusterIP, `AUTH` and `CLIENT INFO` pipelined, and the server's own address read from the
 * reply's `laddr` field (the pod IP the connection reached after kube-proxy's DNAT).
 */
import { connect } from "node:net";

export interface Landing {
  /** performance.now() when the connection was opened. */
  startedAt: number;
  /** The pod IP that answered, or undefined when the probe failed (refused, timed out). */
  host: string | undefined;
}

/** `laddr=<ip>:<port>` of a CLIENT INFO line; undefined when there is none. */
export function laddrHost(clientInfo: string): string | undefined {
  const m = /(?:^|\s)laddr=(\S+):\d+(?:\s|$)/.exec(clientInfo);
  return m?.[1];
}

const resp = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;

/** One probe: a new connection to host:port; the pod IP behind it. */
export function probeLanding(host: string, port: number, password: string, timeoutMs = 500): Promise<Landing> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    let buffered = "";
    const socket = connect({ host, port });
    let settled = false;
    const done = (landed: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve({ startedAt, host: landed });
    };
    // A deadline of its own, not the socket's idle timeout: a server closing the connection before
    // it answers (a master demoted by SENTINEL FAILOVER drops its clients) must end the probe too.
    const deadline = setTimeout(() => done(undefined), timeoutMs);
    socket.on("error", () => done(undefined));
    socket.on("close", () => done(undefined));
    socket.on("connect", () => socket.write(resp("AUTH", password) + resp("CLIENT", "INFO")));
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      if (buffered.startsWith("-")) return done(undefined);
      const landed = laddrHost(buffered);
      if (landed) done(landed);
    });
  });
}

/** Probes one after another (a pause of `intervalMs` between) until stopped; every landing kept. */
export class LandingProber {
  readonly landings: Landing[] = [];
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #host: string;
  readonly #port: number;
  readonly #password: string;
  readonly #intervalMs: number;

  constructor(o: { host: string; port: number; password: string; intervalMs?: number }) {
    this.#host = o.host;
    this.#port = o.port;
    this.#password = o.password;
    this.#intervalMs = o.intervalMs ?? 2;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        this.landings.push(await probeLanding(this.#host, this.#port, this.#password));
        await new Promise((r) => setTimeout(r, this.#intervalMs));
      }
    })();
  }

  /** The first probe opened at or after `t` that landed on `host`. */
  firstOn(host: string, t: number): Landing | undefined {
    return this.landings.find((l) => l.startedAt >= t && l.host === host);
  }

  /** The median time between two probes' starts (the measurement's resolution). */
  medianIntervalMs(): number {
    const gaps = this.landings
      .slice(1)
      .map((l, i) => l.startedAt - this.landings[i]!.startedAt)
      .sort((a, b) => a - b);
    return gaps.length ? Math.round(gaps[Math.floor(gaps.length / 2)]! * 10) / 10 : Number.NaN;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}
