/** nats-server with JetStream, on its own sandbox address; its store survives stop/start. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ManagedProcess } from "./process.ts";
import { binaryPath } from "./paths.ts";
import { NATS_IP, NATS_MONITOR_PORT, NATS_PORT } from "./addresses.ts";
import { assertFree } from "./net.ts";

export interface NatsSpec {
  dir: string;
  user: string | undefined;
  password: string | undefined;
}

export class NatsInstance {
  readonly spec: NatsSpec;
  readonly process: ManagedProcess;

  constructor(spec: NatsSpec) {
    this.spec = spec;
    mkdirSync(join(spec.dir, "jetstream"), { recursive: true });
    const args = [
      "-a",
      NATS_IP,
      "-p",
      String(NATS_PORT),
      "-m",
      String(NATS_MONITOR_PORT),
      "-js",
      "-sd",
      join(spec.dir, "jetstream"),
      "-n",
      "sandbox-nats",
    ];
    if (spec.user && spec.password) args.push("--user", spec.user, "--pass", spec.password);
    this.process = new ManagedProcess({
      name: `nats-server (${NATS_IP})`,
      command: binaryPath("nats-server"),
      args,
      logFile: join(spec.dir, "nats.log"),
      ready: async () => (await fetch(`${this.monitorUrl}/healthz?js-enabled-only=true`)).ok,
      readyTimeoutMs: 15_000,
    });
  }

  /** `nats://host:port` (credentials are separate: see user/password). */
  get url(): string {
    return `nats://${NATS_IP}:${NATS_PORT}`;
  }

  get monitorUrl(): string {
    return `http://${NATS_IP}:${NATS_MONITOR_PORT}`;
  }

  async start(): Promise<void> {
    await assertFree(this.process.name, NATS_IP, NATS_PORT);
    await this.process.start();
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}
