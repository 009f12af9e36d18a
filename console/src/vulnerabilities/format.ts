// Pure helpers of the Vulnerabilities area (unit-tested in format.test.ts).
import type { DeploymentDetail, Feed, RingIn } from "./queries";

export function formatCvss(score: number | null | undefined, version?: string | null): string {
  if (score === null || score === undefined) return "—";
  return version ? `${score.toFixed(1)} (v${version})` : score.toFixed(1);
}

/** NVD's detail page of a CVE: where an operator reads the references. */
export function nvdUrl(cveId: string): string {
  return `https://nvd.nist.gov/vuln/detail/${encodeURIComponent(cveId)}`;
}

/** A feed imported from the bundled sample (make run) says so: its data is not the real source's. */
export function isSampleFeed(feed: Pick<Feed, "status">): boolean {
  return feed.status === "sample";
}

export function feedLabel(source: Feed["source"]): string {
  return { nvd: "NVD CVE API 2.0", kev: "CISA KEV catalog", osv: "OSV (distribution advisories)" }[source] ?? source;
}

export interface RingProgress {
  done: number;
  total: number;
  percent: number;
}

/** Host jobs finished (succeeded or failed) over the hosts a ring has. */
export function ringProgress(ring: NonNullable<DeploymentDetail["rings"]>[number]): RingProgress {
  const total = ring.hosts ?? 0;
  const done = (ring.succeeded ?? 0) + (ring.failed ?? 0);
  return { done, total, percent: total === 0 ? (ring.status === "done" ? 100 : 0) : Math.round((done / total) * 100) };
}

export function formatRate(rate: number): string {
  return `${Math.round(rate * 1000) / 10}%`;
}

/** Client-side checks of a ring set before it is sent (the API checks again). */
export function ringSetProblems(name: string, rings: RingIn[]): string[] {
  const problems: string[] = [];
  if (!name.trim()) problems.push("The ring set needs a name.");
  if (rings.length === 0) problems.push("Add at least one ring.");
  rings.forEach((ring, index) => {
    if (!ring.name.trim()) problems.push(`Ring ${index + 1} needs a name.`);
    const rate = ring.max_failure_rate ?? 0;
    if (rate < 0 || rate > 1) problems.push(`Ring ${index + 1}: the failure limit is between 0 % and 100 %.`);
    if ((ring.soak_minutes ?? 0) < 0) problems.push(`Ring ${index + 1}: the soak time cannot be negative.`);
  });
  const catchAll = rings.findIndex((r) => !r.host_group_id);
  if (catchAll !== -1 && catchAll < rings.length - 1) {
    problems.push(`Ring ${catchAll + 1} takes every remaining host, so it must be the last ring.`);
  }
  return problems;
}
