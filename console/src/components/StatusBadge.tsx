import { Badge } from "@mantine/core";
import { humanize, statusColor } from "./format";

export function StatusBadge({ status }: { status: string }) {
  return (
    <Badge color={statusColor(status)} variant="filled">
      {humanize(status)}
    </Badge>
  );
}
