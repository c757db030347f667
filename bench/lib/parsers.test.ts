import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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
});
