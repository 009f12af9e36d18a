// A host's vulnerabilities and its package inventory; the host is chosen by server-side search and kept in the URL.
import { useState } from "react";
import { Anchor, Group, Loader, SegmentedControl, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { Link, useNavigate } from "react-router-dom";
import { useOrgId } from "../auth/session";
import { HostSelect } from "../components/HostSelect";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { formatDate } from "../components/format";
import { useHostNames } from "../components/lookups";
import { KevBadge, SeverityBadge, StateBadge } from "./Badges";
import { formatCvss } from "./format";
import { useHostPackages, useHostVulnerabilities } from "./queries";
import { vulnPath } from "./tabs";

export function HostsTab({ hostId }: { hostId: string | null }) {
  const orgId = useOrgId();
  const navigate = useNavigate();
  const hostName = useHostNames(orgId, hostId ? [hostId] : []);
  return (
    <Stack>
      <HostSelect
        orgId={orgId}
        label="Host"
        value={hostId}
        onChange={(id) => navigate(id ? vulnPath("hosts", id) : vulnPath("hosts"))}
      />
      {hostId ? (
        <>
          <Title order={2} size="h3">
            {hostName(hostId)}
          </Title>
          <HostVulnerabilities hostId={hostId} />
          <HostPackages hostId={hostId} />
        </>
      ) : (
        <Text c="dimmed">Choose a host to see its vulnerabilities and installed packages.</Text>
      )}
    </Stack>
  );
}

function HostVulnerabilities({ hostId }: { hostId: string }) {
  const [status, setStatus] = useState<"open" | "resolved">("open");
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(25);
  const rows = useHostVulnerabilities(hostId, status, page, pageSize);
  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Title order={3} size="h4">
          Vulnerabilities
        </Title>
        <SegmentedControl
          aria-label="Vulnerability status"
          data={[
            { value: "open", label: "Open" },
            { value: "resolved", label: "Resolved" },
          ]}
          value={status}
          onChange={(v) => (setStatus(v as "open" | "resolved"), setPage(1))}
        />
      </Group>
      {rows.isError ? (
        <ListError what="the host's vulnerabilities" error={rows.error} onRetry={() => rows.refetch()} />
      ) : rows.isPending ? (
        <Loader role="status" aria-label="Loading host vulnerabilities" />
      ) : (
        <>
          <Table striped aria-label="Host vulnerabilities">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>CVE</Table.Th>
                <Table.Th>Severity</Table.Th>
                <Table.Th>CVSS</Table.Th>
                <Table.Th>KEV</Table.Th>
                <Table.Th>Package</Table.Th>
                <Table.Th>Installed</Table.Th>
                <Table.Th>Fixed in</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>First seen</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.data.items.map((v) => (
                <Table.Tr key={v.id}>
                  <Table.Td>
                    <Anchor component={Link} to={vulnPath("cves", v.cve_id)}>
                      {v.cve_id}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <SeverityBadge severity={v.severity} />
                  </Table.Td>
                  <Table.Td>{formatCvss(v.cvss_score)}</Table.Td>
                  <Table.Td>
                    <KevBadge kev={v.kev} />
                  </Table.Td>
                  <Table.Td>{v.package}</Table.Td>
                  <Table.Td>{v.installed_version}</Table.Td>
                  <Table.Td>{v.fixed_version ?? "no fix yet"}</Table.Td>
                  <Table.Td>
                    <StateBadge status={v.status} />
                  </Table.Td>
                  <Table.Td>{formatDate(v.first_seen)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {rows.data.items.length === 0 && <Text c="dimmed">No {status} vulnerability on this host.</Text>}
          <Pager page={page} pageSize={pageSize} total={rows.data.total} onPage={setPage} onPageSize={(s) => (setPageSize(s), setPage(1))} label="vulnerabilities" />
        </>
      )}
    </Stack>
  );
}

function HostPackages({ hostId }: { hostId: string }) {
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search, 300);
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(25);
  const packages = useHostPackages(hostId, debounced, page, pageSize);
  return (
    <Stack gap="xs">
      <Group justify="space-between" align="end">
        <Title order={3} size="h4">
          Installed packages
        </Title>
        <TextInput
          label="Search packages"
          placeholder="name or source package"
          value={search}
          onChange={(e) => (setSearch(e.currentTarget.value), setPage(1))}
          w={280}
        />
      </Group>
      {packages.isError ? (
        <ListError what="the host's packages" error={packages.error} onRetry={() => packages.refetch()} />
      ) : packages.isPending ? (
        <Loader role="status" aria-label="Loading packages" />
      ) : (
        <>
          <Table striped aria-label="Installed packages">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Package</Table.Th>
                <Table.Th>Version</Table.Th>
                <Table.Th>Source package</Table.Th>
                <Table.Th>Source version</Table.Th>
                <Table.Th>Architecture</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {packages.data.items.map((p) => (
                <Table.Tr key={`${p.name}/${p.arch ?? ""}/${p.version}`}>
                  <Table.Td>{p.name}</Table.Td>
                  <Table.Td>{p.version}</Table.Td>
                  <Table.Td>{p.source_name ?? "—"}</Table.Td>
                  <Table.Td>{p.source_version ?? "—"}</Table.Td>
                  <Table.Td>{p.arch ?? "—"}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {packages.data.items.length === 0 && (
            <Text c="dimmed">{debounced ? "No package matches." : "No inventory yet: the host answers the next matching run."}</Text>
          )}
          <Pager page={page} pageSize={pageSize} total={packages.data.total} onPage={setPage} onPageSize={(s) => (setPageSize(s), setPage(1))} label="packages" />
        </>
      )}
    </Stack>
  );
}
