import { Card, Center, Loader, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { useOrgId } from "../auth/session";
import { ListError } from "../components/ListError";
import { StatusBadge } from "../components/StatusBadge";
import { formatDate, formatScore } from "../components/format";

export function DashboardTab() {
  const orgId = useOrgId();
  const dashboard = useQuery({
    queryKey: ["dashboard", orgId],
    queryFn: () => unwrap(api.GET("/api/v1/compliance/dashboard", { params: { query: { org_id: orgId } } })),
  });
  if (dashboard.isPending)
    return (
      <Center p="xl">
        <Loader role="status" aria-label="Loading dashboard" />
      </Center>
    );
  if (dashboard.isError) return <ListError what="the dashboard" error={dashboard.error} onRetry={() => dashboard.refetch()} />;
  const d = dashboard.data;
  const totals = [
    ["Total policies", String(d.total_policies)],
    ["Total scans", String(d.total_scans)],
    ["Average score", formatScore(d.average_score)],
    ["Hosts scanned", String(d.hosts_scanned)],
  ];
  return (
    <Stack>
      <SimpleGrid cols={{ base: 2, md: 4 }}>
        {totals.map(([label, value]) => (
          <Card withBorder key={label} aria-label={label}>
            <Text size="sm" c="dimmed">
              {label}
            </Text>
            <Text size="xl" fw={700}>
              {value}
            </Text>
          </Card>
        ))}
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, lg: 3 }}>
        <Card withBorder>
          <Title order={2} size="h5" mb="sm">
            Scores by framework
          </Title>
          <Table aria-label="Scores by framework">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Framework</Table.Th>
                <Table.Th>Average score</Table.Th>
                <Table.Th>Hosts</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {d.frameworks.map((f) => (
                <Table.Tr key={f.framework}>
                  <Table.Td>{f.framework}</Table.Td>
                  <Table.Td>{formatScore(f.average_score)}</Table.Td>
                  <Table.Td>{f.hosts}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {d.frameworks.length === 0 && <Text c="dimmed">No scans yet.</Text>}
        </Card>
        <Card withBorder>
          <Title order={2} size="h5" mb="sm">
            Worst 10 hosts
          </Title>
          <Table aria-label="Worst hosts">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Host</Table.Th>
                <Table.Th>Score</Table.Th>
                <Table.Th>Last scan</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {d.worst_hosts.map((h) => (
                <Table.Tr key={`${h.host_id}-${h.policy_id}`}>
                  <Table.Td>{h.hostname}</Table.Td>
                  <Table.Td>{formatScore(h.score)}</Table.Td>
                  <Table.Td>{formatDate(h.last_scan_at)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
        <Card withBorder>
          <Title order={2} size="h5" mb="sm">
            Top failing checks
          </Title>
          <Table aria-label="Top failing checks">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Check</Table.Th>
                <Table.Th>Severity</Table.Th>
                <Table.Th>Failing hosts</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {d.top_failing_checks.map((c) => (
                <Table.Tr key={c.check_id}>
                  <Table.Td>
                    <Text size="xs" ff="monospace">
                      {c.rule_id}
                    </Text>
                    <Text size="sm">{c.title}</Text>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={c.severity} />
                  </Table.Td>
                  <Table.Td>{c.failing_hosts}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      </SimpleGrid>
    </Stack>
  );
}
