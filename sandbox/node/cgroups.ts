/**
 * The node's own cgroup tree, on this machine's cgroup v1 (hybrid) hierarchies. Everything of the
 * node (containerd, its shims, the kubelet, every pod) lives under one root that the sandbox
 * creates beneath the cgroup it was itself put in, so the machine's accounting still covers it,
 * and nothing outside that root is touched. `remove()` kills what is left inside (only processes
 * of this tree) and removes the directories it created, deepest first.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ProcessStartError } from "../../shared/errors.ts";

const CGROUP_FS = "/sys/fs/cgroup";

export interface Hierarchy {
  /** Mount point, e.g. /sys/fs/cgroup/memory. */
  mount: string;
  /** The hierarchy's key in /proc/self/cgroup ("memory", "cpu,cpuacct", "name=systemd", "" for v2). */
  key: string;
}

/** The cgroup hierarchies mounted under /sys/fs/cgroup (v1 controllers, name=systemd, the v2 `unified`). */
export function hierarchies(): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mount = pre.split(" ")[4]!;
    const [fstype, , superOptions = ""] = post.split(" ");
    if (!mount.startsWith(`${CGROUP_FS}/`)) continue;
    if (fstype === "cgroup2") out.push({ mount, key: "" });
    else if (fstype === "cgroup") {
      const opts = superOptions
        .split(",")
        .filter(
          (o) =>
            !["rw", "ro", "relatime", "noexec", "nosuid", "nodev", "clone_children", "noprefix", "xattr"].includes(o) &&
            !o.startsWith("release_agent"),
        );
      out.push({ mount, key: opts.sort().join(",") });
    }
  }
  return out;
}

/** True when the machine runs cgroup v1 controllers (hybrid); false on a pure cgroup v2 machine. */
export function isCgroupV1(): boolean {
  return hierarchies().some((h) => h.key === "memory");
}

/** This process's cgroup path in the memory hierarchy (where the machine accounts it). */
function ownMemoryPath(): string {
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers?.split(",").includes("memory")) return path ?? "/";
  }
  return "/";
}

const NODE_PREFIX = "failover-node-";

/** Pids in one cgroup directory (none when it is gone). */
function procsIn(dir: string): number[] {
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // removed while we looked
  }
}

/** Directories below `dir` (itself included), deepest first. */
function treeOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return; // removed while we looked
    }
    for (const entry of entries) {
      const sub = join(d, entry);
      try {
        if (statSync(sub).isDirectory()) walk(sub);
      } catch {
        // removed while we looked
      }
    }
    out.push(d);
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** Every node cgroup tree (`failover-node-*`) beside our own memory cgroup or at a hierarchy's top. */
export function nodeCgroupTrees(): string[] {
  const parent = ownMemoryPath();
  const out: string[] = [];
  for (const h of hierarchies()) {
    for (const base of new Set([join(h.mount, parent), h.mount])) {
      try {
        for (const e of readdirSync(base)) if (e.startsWith(NODE_PREFIX)) out.push(join(base, e));
      } catch {
        // no such level in this hierarchy
      }
    }
  }
  return out;
}

/**
 * Removes node cgroup trees that an earlier run left (its PID namespace was killed before it could
 * clean up): only trees named by this sandbox (`failover-node-*`), beside our own memory cgroup or
 * at a hierarchy's top, and only when no process is in them. Call it holding the node lock.
 */
export function sweepStaleNodeCgroups(): string[] {
  const removed: string[] = [];
  for (const top of nodeCgroupTrees()) {
    const tree = treeOf(top);
    if (tree.some((d) => procsIn(d).length > 0)) continue;
    for (const d of tree) {
      try {
        rmdirSync(d);
        removed.push(d);
      } catch {
        // still busy: leave it
      }
    }
  }
  return removed;
}

export class NodeCgroups {
  /** The kubelet's `cgroupRoot`: the same path in every hierarchy. */
  readonly root: string;
  readonly #hierarchies: Hierarchy[];
  /** Directories this object created, in creation order. */
  readonly #created: string[] = [];

  /** `suffix` makes the root's name unique: `failover-node-<suffix>`. */
  constructor(suffix: string) {
    this.#hierarchies = hierarchies();
    this.root = join(ownMemoryPath(), `${NODE_PREFIX}${suffix}`);
  }

  /** Creates the root (and any missing ancestor) in every hierarchy; cpuset levels get their parent's cpus and mems. */
  create(): void {
    if (!this.#hierarchies.some((h) => h.key === "memory")) {
      throw new ProcessStartError(
        "cgroups",
        "the node needs the cgroup v1 memory controller under /sys/fs/cgroup (this sandbox supports the machine's v1 hierarchies)",
        "",
      );
    }
    for (const h of this.#hierarchies) {
      let path = h.mount;
      for (const part of this.root.split("/").filter(Boolean)) {
        path = this.#mkdir(h, path, part);
      }
    }
  }

  /** `parent/part`, created if missing (and remembered); a cpuset level gets its parent's cpus and mems. */
  #mkdir(h: Hierarchy, parent: string, part: string): string {
    const path = join(parent, part);
    if (existsSync(path)) return path;
    mkdirSync(path);
    this.#created.push(path);
    if (h.key.split(",").includes("cpuset")) {
      for (const file of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(join(path, file), readFileSync(join(parent, file)));
    }
    return path;
  }

  /** Moves process `pid` (one the sandbox started) into `<root>/<leaf>` in every hierarchy. */
  enter(pid: number, leaf: string): void {
    for (const h of this.#hierarchies) {
      writeFileSync(join(this.#mkdir(h, join(h.mount, this.root), leaf), "cgroup.procs"), String(pid));
    }
  }

  /** Every directory below (and including) the root in one hierarchy, deepest first. */
  #tree(h: Hierarchy): string[] {
    return treeOf(join(h.mount, this.root));
  }

  /** Pids still inside the node's tree (any hierarchy). */
  pids(): number[] {
    return [...new Set(this.#hierarchies.flatMap((h) => this.#tree(h).flatMap(procsIn)))];
  }

  /**
   * SIGKILLs every process left in the tree (all of them the node's: containers, shims), waits for
   * them to go, and removes the tree (what the kubelet made below the root too), deepest first.
   * Returns what could not be removed (empty when clean).
   */
  async remove(timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = this.pids();
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      if (Date.now() > deadline) break;
      await sleep(50);
    }
    const failed: string[] = [];
    for (const h of this.#hierarchies) {
      for (const dir of this.#tree(h)) {
        for (let attempt = 0; ; attempt++) {
          try {
            rmdirSync(dir);
            break;
          } catch (err) {
            // EBUSY while the kernel still frees the last task of a cgroup.
            if (attempt >= 40) {
              failed.push(`${dir} (${(err as Error).message})`);
              break;
            }
            await sleep(50);
          }
        }
      }
    }
    // Ancestors of the root that this object created (the root's own tree is gone by now).
    for (const dir of [...this.#created].reverse()) {
      if (!existsSync(dir)) continue;
      try {
        rmdirSync(dir);
      } catch (err) {
        failed.push(`${dir} (${(err as Error).message})`);
      }
    }
    return failed;
  }
}
