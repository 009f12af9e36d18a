// One CVE: NVD and KEV facts, this organization's affected hosts and the patches that fix it.
import { useState } from "react";
import { Alert, Anchor, Button, Group, Loader, Stack, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router-dom";
import { useOrgId, useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { formatDate } from "../components/format";
import { KevBadge, SeverityBadge, StateBadge } from "./Badges";
import { CreateDeploymentModal } from "./CreateDeploymentModal";
import { formatCvss, nvdUrl } from "./format";
import { useCve, type Patch } from "./queries";
import { vulnPath } from "./tabs";

export function CveDetail({ cveId }: { cveId: string }) {
  const orgId = useOrgId();
  const { canManage } = useSession();
  const cve = useCve(orgId, cveId);
  const [deploy, setDeploy] = useState<Patch[] | null>(null);

  return (
    <Stack>
      <Group>
        <Anchor component={Link} to={vulnPath("cves")}>
          ‹ All CVEs
        </Anchor>
      </Group>
      {cve.isError ? (
        <ListError what={cveId} error={cve.error} onRetry={() => cve.refetch()} />
      ) : cve.isPending ? (
        <Loader role="status" aria-label={`Loading ${cveId}`} />
      ) : (
        <>
          <Group gap="sm">
            <Title order={2} size="h3">
              {cve.data.cve_id}
            </Title>
            <SeverityBadge severity={cve.data.severity} />
            <KevBadge kev={cve.data.kev} ransomware={cve.data.known_ransomware} />
          </Group>
          <Text>{cve.data.description ?? "NVD has not described this CVE yet."}</Text>
          <Group gap="xl">
            <Text size="sm">
              CVSS {formatCvss(cve.data.cvss_score, cve.data.cvss_version)}
            </Text>
            <Text size="sm">Published {formatDate(cve.data.published)}</Text>
            <Text size="sm">Last modified {formatDate(cve.data.last_modified)}</Text>
            <Anchor href={nvdUrl(cve.data.cve_id)} target="_blank" rel="noreferrer" size="sm">
              {cve.data.cve_id} at NVD
            </Anchor>
          </Group>
          {cve.data.kev && (
            <Alert color="red" title="Known exploited (CISA KEV)">
              Added {cve.data.kev_date_added ?? "—"}, due {cve.data.kev_due_date ?? "—"}
              {cve.data.known_ransomware ? "; used in ransomware campaigns" : ""}. {cve.data.kev_required_action ?? ""}
            </Alert>
          )}
          <Title order={3} size="h4">
            Affected hosts
          </Title>
          <Table striped aria-label="Affected hosts">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Host</Table.Th>
                <Table.Th>Package</Table.Th>
                <Table.Th>Installed</Table.Th>
                <Table.Th>Fixed in</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>First seen</Table.Th>
                <Table.Th>Last seen</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(cve.data.hosts ?? []).map((h) => (
                <Table.Tr key={h.id}>
                  <Table.Td>
                    <Anchor component={Link} to={vulnPath("hosts", h.host_id)}>
                      {h.hostname ?? h.host_id.slice(0, 8)}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{h.package}</Table.Td>
                  <Table.Td>{h.installed_version}</Table.Td>
                  <Table.Td>{h.fixed_version ?? "no fix yet"}</Table.Td>
                  <Table.Td>
                    <StateBadge status={h.status} />
                  </Table.Td>
                  <Table.Td>{formatDate(h.first_seen)}</Table.Td>
                  <Table.Td>{formatDate(h.resolved_at ?? h.last_seen)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {(cve.data.hosts ?? []).length === 0 && <Text c="dimmed">No host of this organization has it.</Text>}
          <Title order={3} size="h4">
            Patches
          </Title>
          <Table striped aria-label="Patches">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Ecosystem</Table.Th>
                <Table.Th>Package</Table.Th>
                <Table.Th>Fixed version</Table.Th>
                {canManage && <Table.Th>Deploy</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(cve.data.patches ?? []).map((p) => (
                <Table.Tr key={p.id}>
                  <Table.Td>{p.ecosystem}</Table.Td>
                  <Table.Td>{p.package}</Table.Td>
                  <Table.Td>{p.fixed_version}</Table.Td>
                  {canManage && (
                    <Table.Td>
                      <Button size="compact-xs" variant="light" onClick={() => setDeploy([p])} aria-label={`Deploy ${p.package} ${p.fixed_version}`}>
                        Deploy
                      </Button>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {(cve.data.patches ?? []).length === 0 && <Text c="dimmed">No fixed version is known yet.</Text>}
        </>
      )}
      {deploy && <CreateDeploymentModal initialPatches={deploy} onClose={() => setDeploy(null)} />}
    </Stack>
  );
}
