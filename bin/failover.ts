#!/usr/bin/env node
/**
 * `failover <command>`: the one entry point of the image. Each command lives in its own module and
 * exports `main(args): Promise<number | void>` (the exit code). Only what the image ships is
 * reachable from here (bin, shared, functions, init); the sandbox and the demo are run as their own
 * scripts (`npm run sandbox`, `npm run demo`), and ESLint refuses an import of them from here.
 */
interface CommandModule {
  main(args: string[]): Promise<number | void>;
}

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  run: {
    summary: "run functions: failover run label-master master-endpoints ... | ./dist/my-hook.js | @acme/hook",
    load: () => import("./run.ts"),
  },
  relay: {
    summary: "sentinel-relay: every Sentinel announcement to JetStream as a CloudEvent",
    load: () => import("../functions/sentinel-relay/main.ts"),
  },
  new: { summary: "scaffold a hook in its own folder: failover new hook <name> [--dir <parent>]", load: () => import("./new.ts") },
  manifests: {
    summary:
      "a function's Deployment + ServiceAccount + Role from its declaration: failover manifests [--out dir] [--image img] [--module path] <fn | ./module.js>",
    load: () => import("./manifests.ts"),
  },
  init: {
    summary: "init containers: failover init redis | failover init sentinel (start-up rules of docs/design.md)",
    load: () => import("../init/main.ts"),
  },
};

const usage = () =>
  `usage: failover <command> [args]\n\n${Object.entries(commands)
    .map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`)
    .join("\n")}`;

const [name, ...args] = process.argv.slice(2);
if (name === "--help" || name === "-h" || name === "help") {
  console.log(usage());
} else {
  const command = name === undefined ? undefined : commands[name];
  if (!command) {
    console.error(`${name ? `unknown command: ${name}\n` : ""}${usage()}`);
    process.exit(2);
  }
  const code = await command.load().then((m) => m.main(args));
  if (typeof code === "number") process.exitCode = code;
}
