// Scan History: every scan, server-side pages and filters, with the detail modal.
import { useState } from "react";
import { Button, Group, Loader, Select, Stack, Table, Text } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrapPage, type Schemas } from "../api/client";
import { useOrgId } from "../auth/session";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { StatusBadge } from "../components/StatusBadge";
import { formatDate, formatScore, humanize } from "../components/format";
import { useHostNames, usePolicyNames } from "../components/lookups";
import { ScanDetailModal } from "./ScanDetailModal";

type Status = Schemas["ScanOut"]["status"];
type ScanType = Schemas["ScanOut"]["scan_type"];

export function ScanHistoryTab() {
  const orgId = useOrgId();
  const [status, setStatus] = useState<Status | null>(null);
  const [scanType, setScanType] = useState<ScanType | null>(null);
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(25);
  const [open, setOpen] = useState<string | null>(null);
  const policyName = usePolicyNames(orgId);
  const scans = useQuery({
    queryKey: ["scans", orgId, status, scanType, page, pageSize],
    queryFn: () =>
      unwrapPage(
        api.GET("/api/v1/compliance/scans", {
          params: { query: { org_id: orgId, status: status ?? undefined, scan_type: scanType ?? undefined, page, page_size: pageSize } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (query.state.data?.items.some((s) => s.status === "queued" || s.status === "running") ? 3000 : false),
  });

  const hostName = useHostNames(orgId, scans.data?.items.map((s) => s.host_id));

  return (
    <Stack>
      <Group>
        <Select
          label="Status"
          placeholder="Any status"
          clearable
          data={["queued", "running", "completed", "error"]}
          value={status}
          onChange={(v) => (setStatus(v as Status | null), setPage(1))}
          w={180}
        />
        <Select
          label="Scan type"
          placeholder="Any type"
          clearable
          data={[
            { value: "scheduled", label: "scheduled" },
            { value: "on_demand", label: "on demand" },
            { value: "verify", label: "verify" },
          ]}
          value={scanType}
          onChange={(v) => (setScanType(v as ScanType | null), setPage(1))}
          w={180}
        />
      </Group>
      {scans.isError ? (
        <ListError what="scans" error={scans.error} onRetry={() => scans.refetch()} />
      ) : scans.isPending ? (
        <Loader role="status" aria-label="Loading scans" />
      ) : (
        <>
          <Table striped highlightOnHover aria-label="Scans">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Host</Table.Th>
                <Table.Th>Policy</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Score</Table.Th>
                <Table.Th>Passed / failed / total</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Completed</Table.Th>
                <Table.Th>Detail</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {scans.data.items.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>{hostName(s.host_id)}</Table.Td>
                  <Table.Td>{policyName(s.policy_id)}</Table.Td>
                  <Table.Td>{humanize(s.scan_type)}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={s.status} />
                  </Table.Td>
                  <Table.Td>{formatScore(s.score)}</Table.Td>
                  <Table.Td>
                    {s.passed} / {s.failed} / {s.total}
                  </Table.Td>
                  <Table.Td>{formatDate(s.created_at)}</Table.Td>
                  <Table.Td>{formatDate(s.completed_at)}</Table.Td>
                  <Table.Td>
                    <Button size="compact-xs" variant="subtle" onClick={() => setOpen(s.id)} aria-label={`Open scan of ${hostName(s.host_id)} at ${formatDate(s.created_at)}`}>
                      Open
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {scans.data.items.length === 0 && <Text c="dimmed">No scan matches.</Text>}
          <Pager page={page} pageSize={pageSize} total={scans.data.total} onPage={setPage} onPageSize={(s) => (setPageSize(s), setPage(1))} label="scans" />
        </>
      )}
      <ScanDetailModal scanId={open} onClose={() => setOpen(null)} />
    </Stack>
  );
}
