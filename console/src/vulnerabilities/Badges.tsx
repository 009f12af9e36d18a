import { Badge, Tooltip } from "@mantine/core";
import { humanize, statusColor } from "../components/format";

export function SeverityBadge({ severity }: { severity: string | null | undefined }) {
  if (!severity) return <Badge color="gray" variant="filled">unscored</Badge>;
  return (
    <Badge color={statusColor(severity)} variant="filled">
      {severity}
    </Badge>
  );
}

/** CISA's Known Exploited Vulnerabilities catalog lists this CVE. */
export function KevBadge({ kev, ransomware }: { kev: boolean | undefined; ransomware?: boolean }) {
  if (!kev) return null;
  return (
    <Tooltip label={ransomware ? "Known exploited; used in ransomware campaigns" : "Known exploited (CISA KEV)"}>
      <Badge color="red.9" variant="filled">
        KEV{ransomware ? " · ransomware" : ""}
      </Badge>
    </Tooltip>
  );
}

const DEPLOYMENT_COLORS: Record<string, string> = {
  pending_approval: "yellow",
  running: "blue",
  soaking: "cyan",
  completed: "green",
  halted: "red",
  cancelled: "gray",
  skipped_paused: "gray",
  done: "green",
  pending: "gray",
  dispatched: "blue",
  succeeded: "green",
  failed: "red",
  timed_out: "orange",
  skipped: "gray",
  open: "red",
  resolved: "green",
  sample: "grape",
  ok: "green",
  imported: "green",
  not_modified: "green",
  never: "gray",
  error: "red",
};

export function StateBadge({ status }: { status: string }) {
  return (
    <Badge color={DEPLOYMENT_COLORS[status] ?? "gray"} variant="light" style={{ flexShrink: 0 }}>
      {humanize(status)}
    </Badge>
  );
}
