// One deployment: its patches, each ring's progress and host jobs, Cancel while it can still change.
import { Alert, Anchor, Button, Card, Group, Loader, Progress, Stack, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { useApiMutation } from "../components/mutations";
import { TemporalLink } from "../components/temporal";
import { formatDate, humanize } from "../components/format";
import { StateBadge } from "./Badges";
import { formatRate, ringProgress } from "./format";
import { ACTIVE_DEPLOYMENT, useDeployment, type DeploymentDetail as Detail } from "./queries";
import { vulnPath } from "./tabs";

const packagesText = (items: { [key: string]: unknown }[] | null | undefined) =>
  (items ?? []).map((p) => `${String(p.name)} ${String(p.version)}`).join(", ") || "—";

export function DeploymentDetail({ deploymentId }: { deploymentId: string }) {
  const { canManage } = useSession();
  const deployment = useDeployment(deploymentId);
  const cancel = useApiMutation({
    run: () => unwrap(api.POST("/api/v1/patch-deployments/{deployment_id}/cancel", { params: { path: { deployment_id: deploymentId } } })),
    success: "Cancel requested: the deployment stops before its next step",
    invalidate: [["vuln", "deployment", deploymentId], ["vuln", "deployments"]],
  });

  return (
    <Stack>
      <Anchor component={Link} to={vulnPath("deployments")}>
        ‹ All deployments
      </Anchor>
      {deployment.isError ? (
        <ListError what="the deployment" error={deployment.error} onRetry={() => deployment.refetch()} />
      ) : deployment.isPending ? (
        <Loader role="status" aria-label="Loading deployment" />
      ) : (
        <DeploymentView d={deployment.data} canCancel={canManage && ACTIVE_DEPLOYMENT.includes(deployment.data.status)} onCancel={() => cancel.mutate(undefined)} cancelling={cancel.isPending} />
      )}
    </Stack>
  );
}

function DeploymentView({ d, canCancel, onCancel, cancelling }: { d: Detail; canCancel: boolean; onCancel: () => void; cancelling: boolean }) {
  return (
    <>
      <Group justify="space-between">
        <Group gap="sm">
          <Title order={2} size="h3">
            Deployment {d.id.slice(0, 8)}
          </Title>
          <StateBadge status={d.status} />
          <Text size="sm" c="dimmed">
            {d.automatic ? "automatic (vulnerability policy)" : "manual"} · ring set {d.ring_set_name}
          </Text>
        </Group>
        {canCancel && (
          <Button color="red" variant="light" onClick={onCancel} loading={cancelling}>
            Cancel deployment
          </Button>
        )}
      </Group>
      {d.needs_approval && (
        <Alert color={d.change_status === "approved" ? "teal" : "yellow"} title="Change approval">
          A patch is below the organization's auto-approve severity: change record {d.change_id?.slice(0, 8) ?? "—"} is{" "}
          {humanize(d.change_status ?? "pending_approval")}. A second person approves it under Compliance › Approvals.
        </Alert>
      )}
      {d.reason && <Text size="sm">Reason: {d.reason}</Text>}
      <Group gap="xl">
        <Text size="sm">Created {formatDate(d.created_at)}</Text>
        <Text size="sm">Started {formatDate(d.started_at)}</Text>
        {d.soak_until && <Text size="sm">Soaking until {formatDate(d.soak_until)}</Text>}
        <Text size="sm">Finished {formatDate(d.finished_at)}</Text>
        <TemporalLink workflowId={d.workflow_id} />
      </Group>
      <Title order={3} size="h4">
        Patches
      </Title>
      <Table striped aria-label="Deployment patches">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Ecosystem</Table.Th>
            <Table.Th>Package</Table.Th>
            <Table.Th>Fixed version</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(d.patches ?? []).map((p) => (
            <Table.Tr key={p.id}>
              <Table.Td>{p.ecosystem}</Table.Td>
              <Table.Td>{p.package}</Table.Td>
              <Table.Td>{p.fixed_version}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Title order={3} size="h4">
        Rings
      </Title>
      {(d.rings ?? []).map((ring) => {
        const progress = ringProgress(ring);
        return (
          <Card key={ring.index} withBorder aria-label={`Ring ${ring.index + 1}: ${ring.name}`} component="section">
            <Group justify="space-between" mb="xs">
              <Group gap="sm">
                <Text fw={600}>
                  Ring {ring.index + 1}: {ring.name}
                </Text>
                <StateBadge status={ring.status} />
              </Group>
              <Text size="sm" c="dimmed">
                soak {ring.soak_minutes} min · halts above {formatRate(ring.max_failure_rate)} failed
              </Text>
            </Group>
            <Progress.Root size="lg">
              <Progress.Section
                value={ring.hosts ? ((ring.succeeded ?? 0) / ring.hosts) * 100 : progress.percent}
                color="green"
                aria-label={`Ring ${ring.index + 1} progress`}
              />
              <Progress.Section value={ring.hosts ? ((ring.failed ?? 0) / ring.hosts) * 100 : 0} color="red" aria-label={`Ring ${ring.index + 1} failures`} />
            </Progress.Root>
            <Text size="sm" mt={4}>
              {progress.done} of {progress.total} hosts done: {ring.succeeded ?? 0} succeeded, {ring.failed ?? 0} failed
            </Text>
            {(ring.host_jobs ?? []).length > 0 && (
              <Table mt="xs" aria-label={`Ring ${ring.index + 1} host jobs`}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Host</Table.Th>
                    <Table.Th>Job</Table.Th>
                    <Table.Th>Packages</Table.Th>
                    <Table.Th>Installed</Table.Th>
                    <Table.Th>Completed</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {(ring.host_jobs ?? []).map((job) => (
                    <Table.Tr key={job.host_id}>
                      <Table.Td>
                        <Anchor component={Link} to={vulnPath("hosts", job.host_id)}>
                          {job.hostname ?? job.host_id.slice(0, 8)}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>
                        <StateBadge status={job.status} />
                      </Table.Td>
                      <Table.Td>{packagesText(job.packages)}</Table.Td>
                      <Table.Td title={job.output ?? undefined}>{packagesText(job.installed)}</Table.Td>
                      <Table.Td>{formatDate(job.completed_at)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Card>
        );
      })}
    </>
  );
}
