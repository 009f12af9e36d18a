// One scan: its counts, per-check results with actual values and remediation, Apply Fix, and Temporal links.
import { Badge, Button, Group, Loader, Modal, ScrollArea, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, unwrapPage, type Schemas } from "../api/client";
import { useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { StatusBadge } from "../components/StatusBadge";
import { TemporalLink } from "../components/temporal";
import { formatDate, formatScore, humanize } from "../components/format";
import { useApiMutation } from "../components/mutations";

type CheckResult = Schemas["CheckResultOut"];
const FIXABLE = new Set(["script", "workflow"]);

export function canApplyFix(result: CheckResult): boolean {
  const remediation = result.remediation as { status?: string } | null | undefined;
  const inFlight = remediation && !["failed", "rejected", "expired", "completed"].includes(remediation.status ?? "");
  return result.status === "fail" && FIXABLE.has(result.remediation_type) && !inFlight;
}

export function ScanDetailModal({ scanId, title, onClose }: { scanId: string | null; title?: string; onClose: () => void }) {
  return (
    <Modal opened={scanId !== null} onClose={onClose} title={title ?? "Scan detail"} size="90%">
      {scanId && <ScanDetail scanId={scanId} />}
    </Modal>
  );
}

function ScanDetail({ scanId }: { scanId: string }) {
  const { canManage } = useSession();
  const scan = useQuery({
    queryKey: ["scan", scanId],
    queryFn: () => unwrap(api.GET("/api/v1/compliance/scans/{scan_id}", { params: { path: { scan_id: scanId } } })),
    refetchInterval: (query) => (query.state.data && ["queued", "running"].includes(query.state.data.status) ? 2000 : false),
  });
  const remediations = useQuery({
    queryKey: ["remediations", "scan", scanId],
    queryFn: () =>
      unwrapPage(api.GET("/api/v1/compliance/remediations", { params: { query: { scan_id: scanId, page_size: 100 } } })),
  });
  const fix = useApiMutation({
    run: (checkId: string) =>
      unwrap(
        api.POST("/api/v1/compliance/scans/{scan_id}/checks/{check_id}/fix", {
          params: { path: { scan_id: scanId, check_id: checkId } },
        }),
      ),
    success: (result) =>
      result.change
        ? `Fix requested: change record "${result.change.title}" waits for approval`
        : `Fix started (${humanize(result.remediation.status)})`,
    invalidate: [["scan", scanId], ["remediations"], ["changes"]],
  });

  if (scan.isPending) return <Loader role="status" aria-label="Loading scan" />;
  if (scan.isError) return <ListError what="the scan" error={scan.error} onRetry={() => scan.refetch()} />;
  const s = scan.data;
  return (
    <Stack>
      <Group>
        <StatusBadge status={s.status} />
        <Badge variant="outline">{humanize(s.scan_type)}</Badge>
        <Text size="sm">Score {formatScore(s.score)}</Text>
        <Text size="sm" c="dimmed">
          Started {formatDate(s.started_at)} · completed {formatDate(s.completed_at)}
        </Text>
        <TemporalLink workflowId={s.workflow_id} label="Scan workflow in Temporal UI" />
      </Group>
      {s.error_reason && <Text c="red">Error: {s.error_reason}</Text>}
      <SimpleGrid cols={6}>
        {(["total", "passed", "failed", "errors", "skipped", "waived"] as const).map((k) => (
          <Stack key={k} gap={0}>
            <Text size="xs" c="dimmed" tt="capitalize">
              {k}
            </Text>
            <Text fw={600}>{s[k]}</Text>
          </Stack>
        ))}
      </SimpleGrid>
      {remediations.isError && (
        <ListError what="remediations" error={remediations.error} onRetry={() => remediations.refetch()} />
      )}
      {(remediations.data?.items.length ?? 0) > 0 && (
        <Stack gap="xs">
          <Title order={3} size="h5">
            Remediations
          </Title>
          {remediations.data!.items.map((r) => (
            <Group key={r.id} gap="sm">
              <Text size="sm" ff="monospace">
                {r.rule_id}
              </Text>
              <StatusBadge status={r.status} />
              <Text size="sm" c="dimmed">
                {r.trigger}
              </Text>
              <TemporalLink workflowId={r.workflow_id} label="Remediation workflow in Temporal UI" />
            </Group>
          ))}
        </Stack>
      )}
      <ScrollArea h={460}>
        <Table striped stickyHeader aria-label="Check results">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Rule</Table.Th>
              <Table.Th>Title</Table.Th>
              <Table.Th>Severity</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Actual value</Table.Th>
              <Table.Th>Remediation</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {s.results.map((r) => {
              const remediation = r.remediation as { status?: string; change_status?: string | null } | null;
              return (
                <Table.Tr key={r.check_id}>
                  <Table.Td ff="monospace">{r.rule_id}</Table.Td>
                  <Table.Td>{r.title}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={r.severity} />
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={r.status} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs" ff="monospace" lineClamp={2}>
                      {r.actual ?? "—"}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Text size="xs">{r.remediation_type}</Text>
                      {remediation?.status && <StatusBadge status={remediation.status} />}
                      {remediation?.change_status && <Text size="xs">change {humanize(remediation.change_status)}</Text>}
                      {canManage && canApplyFix(r) && (
                        <Button
                          size="compact-xs"
                          loading={fix.isPending && fix.variables === r.check_id}
                          onClick={() => fix.mutate(r.check_id)}
                          aria-label={`Apply Fix for ${r.rule_id}`}
                        >
                          Apply Fix
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </ScrollArea>
    </Stack>
  );
}
