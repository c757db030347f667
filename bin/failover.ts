#!/usr/bin/env node
/**
 * `failover <command>`: the one entry point of the image. Each command lives in its own module and
 * exports `main(args): Promise<number | void>` (the exit code).
 */
interface CommandModule {
  main(args: string[]): Promise<number | void>;
}

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  demo: { summary: "the whole mission on this machine: sandbox, relay, functions, a client, a failover, a timeline", load: () => import("../demo/main.ts") },
  run: { summary: "run functions: failover run label-master master-endpoints master-configmap ...", load: () => import("../shared/runtime/main.ts") },
  relay: { summary: "sentinel-relay: every Sentinel announcement to JetStream as a CloudEvent", load: () => import("../functions/sentinel-relay/main.ts") },
  init: { summary: "init containers: failover init redis | failover init sentinel (start-up rules of DESIGN.md)", load: () => import("../init/main.ts") },
  sandbox: { summary: "start the local stack (real redis/sentinel/nats/kube-apiserver) until Ctrl-C", load: () => import("../sandbox/cli.ts") },
};

const [name, ...args] = process.argv.slice(2);
const command = name === undefined ? undefined : commands[name];
if (!command) {
  const list = Object.entries(commands)
    .map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`)
    .join("\n");
  console.error(`${name ? `unknown command: ${name}\n` : ""}usage: failover <command> [args]\n\n${list}`);
  process.exit(2);
}
const code = await (await command.load()).main(args);
if (typeof code === "number") process.exitCode = code;
