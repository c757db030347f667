import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cpuPerRound, processCpuMs } from "./cpu-share.ts";
import { apiserverWrites } from "./apiserver-writes.ts";
import { parseCpuStat, phaseFigures, throttling } from "./function-pods.ts";
import { jsonLogCounts, sentinelLogCounts } from "./log-counts.ts";
import { counterDelta, histogram, histogramDelta, parsePrometheusText, quantileBound, sums } from "./prom-scrape.ts";

describe("prom-scrape", () => {
  const text = [
    "# HELP failover_events_handled_total Events handled",
    'failover_events_handled_total{fn="label-master",result="ok"} 5',
    'failover_events_handled_total{fn="label-master",result="retry"} 2',
    'lat_bucket{le="0.1"} 1',
    'lat_bucket{le="1"} 3',
    'lat_bucket{le="+Inf"} 4',
    "lat_sum 7.5",
    "lat_count 4",
  ].join("\n");

  it("sums counters by label and takes deltas", () => {
    const s = sums(parsePrometheusText(text), ["failover_events_handled_total"], ["result"]);
    expect(s).toEqual({ "failover_events_handled_total{result=ok}": 5, "failover_events_handled_total{result=retry}": 2 });
    expect(counterDelta({ a: 1, b: 2 }, { a: 1, b: 5, c: 1 })).toEqual({ b: 3, c: 1 });
  });

  it("reads histograms and their nearest-bucket quantiles", () => {
    const h = histogram(parsePrometheusText(text), "lat");
    expect(h).toEqual({
      buckets: [
        [0.1, 1],
        [1, 3],
        [Number.POSITIVE_INFINITY, 4],
      ],
      count: 4,
      sum: 7.5,
    });
    expect(quantileBound(h, 0.5)).toBe(1);
    expect(quantileBound(h, 0.99)).toBe(Number.POSITIVE_INFINITY);
    expect(histogramDelta(h, h).count).toBe(0);
    expect(quantileBound(histogramDelta(h, h), 0.5)).toBeNaN();
  });
});

describe("log-counts", () => {
  const dir = mkdtempSync(join(tmpdir(), "bench-log-counts-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("counts Sentinel events after an offset, +sdown by instance kind", () => {
    const before = "1:X 25 Nov 2026 12:18:40.000 # +sdown master master-0 198.18.1.10 6379\n";
    const path = join(dir, "sentinel.log");
    writeFileSync(
      path,
      before +
        "1:X 25 Nov 2026 12:18:48.457 # +sdown sentinel abc 198.18.0.12 26379 @ master-124 198.18.125.11 6379\n" +
        "1:X 25 Nov 2026 12:18:48.458 # +switch-master master-0 198.18.1.10 6379 198.18.1.11 6379\n" +
        "1:X 25 Nov 2026 12:18:48.459 * Sentinel new configuration saved on disk\n" +
        "1:X 25 Nov 2026 12:18:48.460 # Executing user requested FAILOVER of 'master-0'\n",
    );
    expect(sentinelLogCounts(path, Buffer.byteLength(before))).toEqual({
      "+sdown sentinel": 1,
      "+switch-master": 1,
      "config saved": 1,
      "user requested failover": 1,
    });
  });

  it("counts JSON log lines by message, keeping short error texts", () => {
    const path = join(dir, "fn.log");
    writeFileSync(
      path,
      [
        JSON.stringify({ level: 30, msg: "pod relabelled" }),
        JSON.stringify({ level: 30, msg: "nats status" }),
        JSON.stringify({ level: 40, msg: "informer error, restarting", err: { message: "Too Many Requests" } }),
        JSON.stringify({
          level: 40,
          msg: "resync reconcile failed",
          err: { message: "no Sentinel quorum for master master-147: 0 of 3 agree, 2 needed" },
        }),
        "not json",
      ].join("\n"),
    );
    expect(jsonLogCounts(path, 0, ["nats status"])).toEqual({
      "pod relabelled": 1,
      "informer error, restarting (Too Many Requests)": 1,
      "resync reconcile failed": 1,
    });
  });

  it("counts one function's lines of a functions host's shared log", () => {
    const path = join(dir, "host.log");
    writeFileSync(
      path,
      [
        JSON.stringify({ level: 30, fn: "label-master", msg: "pod relabelled" }),
        JSON.stringify({ level: 30, fn: "master-configmap", msg: "configmap records the master" }),
        JSON.stringify({ level: 30, component: "runtime", msg: "runtime started" }),
      ].join("\n"),
    );
    expect(jsonLogCounts(path, 0, [], "label-master")).toEqual({ "pod relabelled": 1 });
    expect(jsonLogCounts(path, 0, [])).toEqual({ "pod relabelled": 1, "configmap records the master": 1, "runtime started": 1 });
  });
});

describe("function-pods", () => {
  it("reads cgroup v1 cpu.stat (throttled_time in ns)", () => {
    expect(parseCpuStat("nr_periods 120\nnr_throttled 7\nthrottled_time 350000000\n")).toEqual({
      periods: 120,
      throttledPeriods: 7,
      throttledMs: 350,
    });
  });

  it("takes each function's phase figures and throttling between two snapshots, per label set", () => {
    const phase = (p: string, counts: [string, number][], sum: number) => [
      ...counts.map(([le, v]) => `failover_event_phase_seconds_bucket{le="${le}",fn="label-master",phase="${p}"} ${v}`),
      `failover_event_phase_seconds_sum{fn="label-master",phase="${p}"} ${sum}`,
      `failover_event_phase_seconds_count{fn="label-master",phase="${p}"} ${counts.at(-1)![1]}`,
    ];
    const pods = [{ pod: "lm-0", fn: "label-master", ip: "198.19.0.9", uid: "u" }];
    const at = (verify: [string, number][], verifySum: number, cpu: [number, number, number]) =>
      new Map([
        [
          "lm-0",
          {
            metrics: parsePrometheusText(
              [
                ...phase("verify", verify, verifySum),
                ...phase(
                  "converge",
                  [
                    ["0.01", 5],
                    ["+Inf", 5],
                  ],
                  0.02,
                ),
              ].join("\n"),
            ),
            cpu: { periods: cpu[0], throttledPeriods: cpu[1], throttledMs: cpu[2] },
          },
        ],
      ]);
    const before = at(
      [
        ["0.01", 1],
        ["0.05", 2],
        ["+Inf", 2],
      ],
      0.03,
      [10, 1, 5],
    );
    const after = at(
      [
        ["0.01", 1],
        ["0.05", 4],
        ["+Inf", 6],
      ],
      1.23,
      [40, 4, 125.5],
    );
    // 4 new verify samples: 2 in (0.01, 0.05], 2 above; converge unchanged
    expect(phaseFigures(pods, before, after)).toEqual({
      "label-master": { verify: { n: 4, meanMs: 300, p50BoundMs: 50, p99BoundMs: Number.POSITIVE_INFINITY } },
    });
    expect(throttling(pods, before, after)).toEqual({ "label-master": { periods: 30, throttledPeriods: 3, throttledMs: 120.5 } });
  });

  it("splits a functions host's one pod by each series' fn label", () => {
    const series = (fn: string, n: number, sum: number) => [
      `failover_event_phase_seconds_bucket{le="0.01",fn="${fn}",phase="converge"} ${n}`,
      `failover_event_phase_seconds_bucket{le="+Inf",fn="${fn}",phase="converge"} ${n}`,
      `failover_event_phase_seconds_sum{fn="${fn}",phase="converge"} ${sum}`,
      `failover_event_phase_seconds_count{fn="${fn}",phase="converge"} ${n}`,
    ];
    const pods = [{ pod: "host-0", fn: "functions-host", ip: "198.19.0.9", uid: "u" }];
    const at = (a: number, b: number) =>
      new Map([
        [
          "host-0",
          {
            metrics: parsePrometheusText([...series("label-master", a, a * 0.005), ...series("kube-events", b, b * 0.002)].join("\n")),
            cpu: undefined,
          },
        ],
      ]);
    expect(phaseFigures(pods, at(1, 1), at(3, 2))).toEqual({
      "label-master": { converge: { n: 2, meanMs: 5, p50BoundMs: 10, p99BoundMs: 10 } },
      "kube-events": { converge: { n: 1, meanMs: 2, p50BoundMs: 10, p99BoundMs: 10 } },
    });
  });
});

describe("cpu-share", () => {
  it("reads a process's CPU from /proc (this one has used some) and 0 for a pid that is gone", () => {
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += i;
    expect(x).toBeGreaterThan(0);
    expect(processCpuMs(process.pid)).toBeGreaterThan(0);
    expect(processCpuMs(2 ** 22 + 1)).toBe(0);
    expect(processCpuMs(undefined)).toBe(0);
  });

  it("gives CPU ms per round by component, largest first", () => {
    expect(cpuPerRound({ a: 100, b: 10 }, { a: 300, b: 1010, c: 50 }, 4)).toEqual([
      ["b", 250],
      ["a", 50],
      ["c", 12.5],
    ]);
  });
});

describe("apiserver-writes", () => {
  it("takes the server-side applies of the functions' resources between two scrapes, and nothing else", () => {
    const at = (pods: number, podSum: number, patches: number) =>
      parsePrometheusText(
        [
          `apiserver_request_duration_seconds_bucket{group="",resource="pods",verb="APPLY",version="v1",le="0.025"} ${pods - 1}`,
          `apiserver_request_duration_seconds_bucket{group="",resource="pods",verb="APPLY",version="v1",le="+Inf"} ${pods}`,
          `apiserver_request_duration_seconds_sum{group="",resource="pods",verb="APPLY",version="v1"} ${podSum}`,
          `apiserver_request_duration_seconds_count{group="",resource="pods",verb="APPLY",version="v1"} ${pods}`,
          // the kubelet's status patches: not the functions'
          `apiserver_request_duration_seconds_bucket{group="",resource="pods",verb="PATCH",version="v1",le="+Inf"} ${patches}`,
          `apiserver_request_duration_seconds_sum{group="",resource="pods",verb="PATCH",version="v1"} ${patches}`,
          `apiserver_request_duration_seconds_count{group="",resource="pods",verb="PATCH",version="v1"} ${patches}`,
        ].join("\n"),
      );
    expect(apiserverWrites(at(2, 0.05, 10), at(6, 0.17, 50))).toEqual({
      pods: { n: 4, meanMs: 30, p50BoundMs: 25, p99BoundMs: 25 },
    });
  });
});
