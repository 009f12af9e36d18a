import { Badge } from "@mantine/core";
import { humanize, statusColor } from "./format";

export function StatusBadge({ status }: { status: string }) {
  return (
    <Badge color={statusColor(status)} variant="filled" style={{ flexShrink: 0, overflow: "visible" }}>
      {humanize(status)}
    </Badge>
  );
}
