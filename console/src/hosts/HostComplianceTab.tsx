// Host Compliance: the server-side paginated host report; a row opens the host's latest scan.
import { useState } from "react";
import { Badge, Group, Loader, Stack, Table, Text, TextInput, UnstyledButton } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, ApiError, describeDetail } from "../api/client";
import { useOrgId } from "../auth/session";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { formatDate, formatScore, scoreColor } from "../components/format";
import { ScanDetailModal } from "../scans/ScanDetailModal";

export function useHostReport(orgId: string, search: string, page: number, pageSize: number) {
  return useQuery({
    queryKey: ["report", orgId, search, page, pageSize],
    queryFn: async () => {
      const { data, error, response } = await api.GET("/api/v1/compliance/report", {
        params: { query: { org_id: orgId, search: search || undefined, page, page_size: pageSize } },
      });
      if (!response.ok || !data) throw new ApiError(response.status, describeDetail(error, response.status));
      return { report: data, total: Number(response.headers.get("X-Total-Count") ?? data.hosts.length) };
    },
    placeholderData: keepPreviousData,
  });
}

export function HostComplianceTab() {
  const orgId = useOrgId();
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search, 300);
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(25);
  const [open, setOpen] = useState<{ scanId: string; hostname: string } | null>(null);
  const report = useHostReport(orgId, debounced, page, pageSize);

  return (
    <Stack>
      <TextInput
        label="Search by hostname"
        placeholder="hostname contains…"
        value={search}
        onChange={(e) => {
          setSearch(e.currentTarget.value);
          setPage(1);
        }}
        w={320}
      />
      {report.isError ? (
        <ListError what="host compliance" error={report.error} onRetry={() => report.refetch()} />
      ) : report.isPending ? (
        <Loader role="status" aria-label="Loading host compliance" />
      ) : (
        <>
          <Table striped highlightOnHover aria-label="Host compliance">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Host</Table.Th>
                <Table.Th>IP address</Table.Th>
                <Table.Th>Policy</Table.Th>
                <Table.Th>Template</Table.Th>
                <Table.Th>Score</Table.Th>
                <Table.Th>Passed</Table.Th>
                <Table.Th>Failed</Table.Th>
                <Table.Th>Waived</Table.Th>
                <Table.Th>Last scan</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {report.data.report.hosts.map((h) => (
                <Table.Tr key={`${h.host_id}-${h.policy_id}`}>
                  <Table.Td>
                    <UnstyledButton
                      onClick={() => setOpen({ scanId: h.scan_id, hostname: h.hostname })}
                      aria-label={`Open latest scan of ${h.hostname}`}
                      c="blue.9"
                      fz="sm"
                    >
                      {h.hostname}
                    </UnstyledButton>
                  </Table.Td>
                  <Table.Td>{h.ip_address ?? "—"}</Table.Td>
                  <Table.Td>{h.policy_name ?? "—"}</Table.Td>
                  <Table.Td>
                    {h.template_name} v{h.template_version}
                  </Table.Td>
                  <Table.Td>
                    <Badge color={scoreColor(h.score)} variant="filled">
                      {formatScore(h.score)}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{h.passed}</Table.Td>
                  <Table.Td>{h.failed}</Table.Td>
                  <Table.Td>{h.waived}</Table.Td>
                  <Table.Td>{formatDate(h.last_scan_at)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {report.data.report.hosts.length === 0 && (
            <Group>
              <Text c="dimmed">{debounced ? "No host matches this search." : "No host has been scanned yet."}</Text>
            </Group>
          )}
          <Pager
            page={page}
            pageSize={pageSize}
            total={report.data.total}
            onPage={setPage}
            onPageSize={(s) => (setPageSize(s), setPage(1))}
            label="hosts"
          />
        </>
      )}
      <ScanDetailModal scanId={open?.scanId ?? null} title={open ? `Latest scan of ${open.hostname}` : undefined} onClose={() => setOpen(null)} />
    </Stack>
  );
}
