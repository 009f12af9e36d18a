// Patch deployments: the list with a status filter and server-side pages; a row opens its rings and host jobs.
import { useState } from "react";
import { Anchor, Button, Group, Loader, Select, Stack, Table, Text } from "@mantine/core";
import { Link } from "react-router-dom";
import { useOrgId, useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { formatDate, humanize } from "../components/format";
import { StateBadge } from "./Badges";
import { CreateDeploymentModal } from "./CreateDeploymentModal";
import { DEPLOYMENT_STATUSES, useDeployments, type DeploymentStatus } from "./queries";
import { vulnPath } from "./tabs";

export function DeploymentsTab() {
  const orgId = useOrgId();
  const { canManage } = useSession();
  const [status, setStatus] = useState<DeploymentStatus | null>(null);
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(25);
  const [creating, setCreating] = useState(false);
  const deployments = useDeployments(orgId, status, page, pageSize);

  return (
    <Stack>
      <Group justify="space-between" align="end">
        <Select
          label="Status"
          placeholder="Any status"
          clearable
          data={DEPLOYMENT_STATUSES.map((s) => ({ value: s, label: humanize(s) }))}
          value={status}
          onChange={(v) => (setStatus(v as DeploymentStatus | null), setPage(1))}
          w={200}
        />
        {canManage && <Button onClick={() => setCreating(true)}>New deployment</Button>}
      </Group>
      {deployments.isError ? (
        <ListError what="patch deployments" error={deployments.error} onRetry={() => deployments.refetch()} />
      ) : deployments.isPending ? (
        <Loader role="status" aria-label="Loading patch deployments" />
      ) : (
        <>
          <Table striped highlightOnHover aria-label="Patch deployments">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Deployment</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Started by</Table.Th>
                <Table.Th>Ring set</Table.Th>
                <Table.Th>Current ring</Table.Th>
                <Table.Th>Approval</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Finished</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {deployments.data.items.map((d) => (
                <Table.Tr key={d.id}>
                  <Table.Td>
                    <Anchor component={Link} to={vulnPath("deployments", d.id)} aria-label={`Open deployment ${d.id.slice(0, 8)}`}>
                      {d.id.slice(0, 8)}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <StateBadge status={d.status} />
                  </Table.Td>
                  <Table.Td>{d.automatic ? "policy (automatic)" : "operator (manual)"}</Table.Td>
                  <Table.Td>{d.ring_set_name}</Table.Td>
                  <Table.Td>{d.current_ring === null || d.current_ring === undefined ? "—" : d.current_ring + 1}</Table.Td>
                  <Table.Td>{d.needs_approval ? humanize(d.change_status ?? "pending_approval") : "auto-approved"}</Table.Td>
                  <Table.Td>{formatDate(d.created_at)}</Table.Td>
                  <Table.Td>{formatDate(d.finished_at)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {deployments.data.items.length === 0 && <Text c="dimmed">No deployment yet.</Text>}
          <Pager page={page} pageSize={pageSize} total={deployments.data.total} onPage={setPage} onPageSize={(s) => (setPageSize(s), setPage(1))} label="deployments" />
        </>
      )}
      {creating && <CreateDeploymentModal onClose={() => setCreating(false)} />}
    </Stack>
  );
}
