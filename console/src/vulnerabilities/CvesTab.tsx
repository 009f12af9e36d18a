// CVEs that concern the organization's hosts: search, severity, KEV and status filters, server-side pages.
import { useState } from "react";
import { Alert, Anchor, Group, Loader, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { Link } from "react-router-dom";
import { useOrgId } from "../auth/session";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { KevBadge, SeverityBadge } from "./Badges";
import { formatCvss, isSampleFeed } from "./format";
import { SEVERITIES, useCves, useFeeds, type CveFilters, type Severity } from "./queries";
import { vulnPath } from "./tabs";

const KEV_CHOICES = [
  { value: "yes", label: "In KEV" },
  { value: "no", label: "Not in KEV" },
];

export function CvesTab() {
  const orgId = useOrgId();
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search, 300);
  const [filters, setFilters] = useState<Omit<CveFilters, "search">>({
    severity: null,
    kev: null,
    status: "open",
    page: 1,
    pageSize: 25,
  });
  const change = (patch: Partial<CveFilters>) => setFilters((f) => ({ ...f, page: 1, ...patch }));
  const cves = useCves(orgId, { ...filters, search: debounced });
  const sample = useFeeds().data?.items.some(isSampleFeed) ?? false;

  return (
    <Stack>
      {sample && (
        <Alert color="grape" role="note" title="Sample feed">
          The CVE data is the small sample bundled with make run, not the real sources: see the Feeds tab.
        </Alert>
      )}
      <Group align="end">
        <TextInput
          label="Search CVEs"
          placeholder="CVE id or words of the description"
          value={search}
          onChange={(e) => {
            setSearch(e.currentTarget.value);
            change({});
          }}
          w={320}
        />
        <Select
          label="Severity"
          placeholder="Any severity"
          clearable
          data={SEVERITIES}
          value={filters.severity}
          onChange={(v) => change({ severity: v as Severity | null })}
          w={160}
        />
        <Select
          label="KEV"
          placeholder="KEV or not"
          clearable
          data={KEV_CHOICES}
          value={filters.kev === null ? null : filters.kev ? "yes" : "no"}
          onChange={(v) => change({ kev: v === null ? null : v === "yes" })}
          w={160}
        />
        <Select
          label="Status"
          placeholder="Open or resolved"
          clearable
          data={[
            { value: "open", label: "Open somewhere" },
            { value: "resolved", label: "Resolved everywhere" },
          ]}
          value={filters.status}
          onChange={(v) => change({ status: v as CveFilters["status"] })}
          w={200}
        />
      </Group>
      {cves.isError ? (
        <ListError what="vulnerabilities" error={cves.error} onRetry={() => cves.refetch()} />
      ) : cves.isPending ? (
        <Loader role="status" aria-label="Loading vulnerabilities" />
      ) : (
        <>
          <Table striped highlightOnHover aria-label="Vulnerabilities">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>CVE</Table.Th>
                <Table.Th>Severity</Table.Th>
                <Table.Th>CVSS</Table.Th>
                <Table.Th>KEV</Table.Th>
                <Table.Th>Affected hosts</Table.Th>
                <Table.Th>Resolved hosts</Table.Th>
                <Table.Th>Description</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {cves.data.items.map((c) => (
                <Table.Tr key={c.cve_id}>
                  <Table.Td>
                    <Anchor component={Link} to={vulnPath("cves", c.cve_id)} fw={600} style={{ whiteSpace: "nowrap" }}>
                      {c.cve_id}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <SeverityBadge severity={c.severity} />
                  </Table.Td>
                  <Table.Td>{formatCvss(c.cvss_score)}</Table.Td>
                  <Table.Td>
                    <KevBadge kev={c.kev} ransomware={c.known_ransomware} />
                  </Table.Td>
                  <Table.Td aria-label={`${c.affected_hosts} affected hosts`}>{c.affected_hosts}</Table.Td>
                  <Table.Td>{c.resolved_hosts}</Table.Td>
                  <Table.Td>
                    <Text size="sm" lineClamp={2} maw={520}>
                      {c.description ?? "—"}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {cves.data.items.length === 0 && (
            <Text c="dimmed">No CVE matches on this organization's hosts. See the Feeds tab for what the feeds hold.</Text>
          )}
          <Pager
            page={filters.page}
            pageSize={filters.pageSize}
            total={cves.data.total}
            onPage={(page) => setFilters((f) => ({ ...f, page }))}
            onPageSize={(pageSize) => change({ pageSize })}
            label="CVEs"
          />
        </>
      )}
    </Stack>
  );
}
