export function formatScore(score: number | null | undefined): string {
  return score === null || score === undefined ? "—" : `${score.toFixed(1)}%`;
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

export function scoreColor(score: number | null | undefined): string {
  if (score === null || score === undefined) return "gray";
  if (score >= 80) return "green";
  if (score >= 50) return "yellow";
  return "red";
}

const STATUS_COLORS: Record<string, string> = {
  pass: "green",
  fail: "red",
  error: "orange",
  skip: "gray",
  waived: "violet",
  completed: "green",
  running: "blue",
  queued: "gray",
  published: "green",
  draft: "yellow",
  active: "green",
  pending_approval: "yellow",
  approved: "teal",
  rejected: "red",
  expired: "gray",
  revoked: "gray",
  implementing: "blue",
  failed: "red",
  critical: "red",
  high: "orange",
  medium: "yellow",
  low: "gray",
};

export function statusColor(status: string): string {
  return STATUS_COLORS[status] ?? "gray";
}

export function humanize(value: string): string {
  return value.replace(/_/g, " ");
}
