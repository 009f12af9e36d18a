import { describe, expect, it } from "vitest";
import { feedLabel, formatCvss, formatRate, isSampleFeed, nvdUrl, ringProgress, ringSetProblems } from "./format";

const ring = (over: Record<string, unknown> = {}) =>
  ({ index: 0, name: "Canary", host_group_id: null, soak_minutes: 60, max_failure_rate: 0.1, status: "running", hosts: 4, succeeded: 2, failed: 1, host_jobs: [], ...over }) as never;

describe("ringProgress", () => {
  it("counts finished host jobs, succeeded or failed, over the ring's hosts", () => {
    expect(ringProgress(ring())).toEqual({ done: 3, total: 4, percent: 75 });
  });
  it("shows an empty ring that is done as complete, and one still pending as not started", () => {
    expect(ringProgress(ring({ hosts: 0, succeeded: 0, failed: 0, status: "done" })).percent).toBe(100);
    expect(ringProgress(ring({ hosts: 0, succeeded: 0, failed: 0, status: "pending" })).percent).toBe(0);
  });
});

describe("ringSetProblems", () => {
  const good = { name: "Canary", host_group_id: "g1", soak_minutes: 30, max_failure_rate: 0.2 };
  it("accepts named rings whose catch-all ring comes last", () => {
    expect(ringSetProblems("Default", [good, { ...good, name: "Rest", host_group_id: null }])).toEqual([]);
  });
  it("names what is missing or out of range", () => {
    expect(ringSetProblems(" ", [])).toEqual(["The ring set needs a name.", "Add at least one ring."]);
    expect(ringSetProblems("x", [{ ...good, name: "", max_failure_rate: 1.5 }])).toEqual([
      "Ring 1 needs a name.",
      "Ring 1: the failure limit is between 0 % and 100 %.",
    ]);
  });
  it("refuses a ring after the one that takes every remaining host", () => {
    expect(ringSetProblems("x", [{ ...good, host_group_id: null }, good])).toEqual([
      "Ring 1 takes every remaining host, so it must be the last ring.",
    ]);
  });
});

describe("feeds and scores", () => {
  it("recognises the bundled sample feed by its status", () => {
    expect(isSampleFeed({ status: "sample" })).toBe(true);
    expect(isSampleFeed({ status: "ok" })).toBe(false);
    expect(feedLabel("kev")).toBe("CISA KEV catalog");
  });
  it("formats CVSS, failure rates and NVD links", () => {
    expect(formatCvss(9.8, "3.1")).toBe("9.8 (v3.1)");
    expect(formatCvss(null)).toBe("—");
    expect(formatRate(0.125)).toBe("12.5%");
    expect(nvdUrl("CVE-2023-4911")).toBe("https://nvd.nist.gov/vuln/detail/CVE-2023-4911");
  });
});
