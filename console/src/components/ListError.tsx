import { Alert, Button, Group, Text } from "@mantine/core";
import { explainError } from "../api/client";

/** The inline warning every list shows when it fails to load: never a silently empty table. */
export function ListError({ what, error, onRetry }: { what: string; error: unknown; onRetry: () => void }) {
  return (
    <Alert color="orange" title={`Could not load ${what}`} role="alert">
      <Group justify="space-between" wrap="nowrap">
        <Text size="sm">{explainError(error)}</Text>
        <Button size="xs" variant="white" color="orange" onClick={onRetry}>
          Retry
        </Button>
      </Group>
    </Alert>
  );
}
