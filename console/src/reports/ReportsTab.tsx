// Reports (lazy-loaded with Recharts): daily trend, the compliance report by framework and host, CSV download.
import { useState } from "react";
import { Button, Card, Group, Loader, SegmentedControl, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQuery } from "@tanstack/react-query";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, download, unwrap } from "../api/client";
import { useOrgId } from "../auth/session";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { formatDate, formatScore } from "../components/format";
import { useHostReport } from "../hosts/HostComplianceTab";

const DAYS = ["7", "14", "30", "90"] as const;

export default function ReportsTab() {
  const orgId = useOrgId();
  const [days, setDays] = useState<(typeof DAYS)[number]>("30");
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(10);
  const [downloading, setDownloading] = useState(false);
  const trends = useQuery({
    queryKey: ["trends", orgId, days],
    queryFn: () => unwrap(api.GET("/api/v1/compliance/trends", { params: { query: { org_id: orgId, days: Number(days) } } })),
  });
  const report = useHostReport(orgId, "", page, pageSize);

  async function downloadCsv() {
    setDownloading(true);
    try {
      await download(`/api/v1/compliance/export.csv?org_id=${encodeURIComponent(orgId)}`, "compliance-report.csv");
      notifications.show({ color: "green", title: "Done", message: "CSV report downloaded" });
    } catch (e) {
      notifications.show({ color: "red", title: "Failed", message: (e as Error).message });
    } finally {
      setDownloading(false);
    }
  }

  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <Stack gap={4}>
          <Text size="sm" fw={500} id="trend-days-label">
            Period
          </Text>
          <SegmentedControl
            aria-labelledby="trend-days-label"
            data={DAYS.map((d) => ({ value: d, label: `${d} days` }))}
            value={days}
            onChange={(v) => setDays(v as (typeof DAYS)[number])}
          />
        </Stack>
        <Button onClick={downloadCsv} loading={downloading}>
          Download CSV
        </Button>
      </Group>
      <Card withBorder>
        <Title order={2} size="h5" mb="sm">
          Daily compliance score
        </Title>
        {trends.isError ? (
          <ListError what="trends" error={trends.error} onRetry={() => trends.refetch()} />
        ) : trends.isPending ? (
          <Loader role="status" aria-label="Loading trends" />
        ) : (
          <>
            <Text size="sm" c="dimmed" mb="xs">
              {trends.data.summary.scans} scans · average {formatScore(trends.data.summary.average_score)} · min{" "}
              {formatScore(trends.data.summary.min_score)} · max {formatScore(trends.data.summary.max_score)}
            </Text>
            <div role="img" aria-label={`Line chart of daily average, minimum and maximum scores over ${days} days`} style={{ width: "100%", height: 280 }}>
              <ResponsiveContainer>
                <LineChart data={trends.data.points} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="date" />
                  <YAxis domain={[0, 100]} />
                  <Tooltip />
                  <Legend />
                  <Line type="monotone" dataKey="average_score" name="average" stroke="#1c7ed6" connectNulls isAnimationActive={false} />
                  <Line type="monotone" dataKey="min_score" name="minimum" stroke="#e03131" connectNulls isAnimationActive={false} />
                  <Line type="monotone" dataKey="max_score" name="maximum" stroke="#2f9e44" connectNulls isAnimationActive={false} />
                </LineChart>
              </ResponsiveContainer>
            </div>
          </>
        )}
      </Card>
      {report.isError ? (
        <ListError what="the compliance report" error={report.error} onRetry={() => report.refetch()} />
      ) : report.isPending ? (
        <Loader role="status" aria-label="Loading report" />
      ) : (
        <>
          <SimpleGrid cols={{ base: 2, md: 4 }}>
            {[
              ["Hosts", String(report.data.report.summary.total_hosts)],
              ["Average score", formatScore(report.data.report.summary.avg_score)],
              ["Hosts at 80% or more", String(report.data.report.summary.hosts_above_80)],
              ["Hosts below 50%", String(report.data.report.summary.hosts_below_50)],
            ].map(([label, value]) => (
              <Card withBorder key={label}>
                <Text size="sm" c="dimmed">
                  {label}
                </Text>
                <Text fw={700} size="lg">
                  {value}
                </Text>
              </Card>
            ))}
          </SimpleGrid>
          <Card withBorder>
            <Title order={2} size="h5" mb="sm">
              By framework
            </Title>
            <Table aria-label="Report by framework">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Framework</Table.Th>
                  <Table.Th>Average score</Table.Th>
                  <Table.Th>Hosts</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {report.data.report.by_framework.map((f) => (
                  <Table.Tr key={f.framework}>
                    <Table.Td>{f.framework}</Table.Td>
                    <Table.Td>{formatScore(f.average_score)}</Table.Td>
                    <Table.Td>{f.hosts}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Card>
          <Card withBorder>
            <Title order={2} size="h5" mb="sm">
              Host details
            </Title>
            <Table striped aria-label="Report host details">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Host</Table.Th>
                  <Table.Th>Framework</Table.Th>
                  <Table.Th>Score</Table.Th>
                  <Table.Th>Passed</Table.Th>
                  <Table.Th>Failed</Table.Th>
                  <Table.Th>Errors</Table.Th>
                  <Table.Th>Skipped</Table.Th>
                  <Table.Th>Waived</Table.Th>
                  <Table.Th>Last scan</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {report.data.report.hosts.map((h) => (
                  <Table.Tr key={`${h.host_id}-${h.policy_id}`}>
                    <Table.Td>{h.hostname}</Table.Td>
                    <Table.Td>{h.framework}</Table.Td>
                    <Table.Td>{formatScore(h.score)}</Table.Td>
                    <Table.Td>{h.passed}</Table.Td>
                    <Table.Td>{h.failed}</Table.Td>
                    <Table.Td>{h.errors}</Table.Td>
                    <Table.Td>{h.skipped}</Table.Td>
                    <Table.Td>{h.waived}</Table.Td>
                    <Table.Td>{formatDate(h.last_scan_at)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <Pager page={page} pageSize={pageSize} total={report.data.total} onPage={setPage} onPageSize={(s) => (setPageSize(s), setPage(1))} label="hosts" />
          </Card>
        </>
      )}
    </Stack>
  );
}
