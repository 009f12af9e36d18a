// The organization's vulnerability policy and its ring sets. Viewers read both; changing needs compliance.manage.
import { useEffect, useState } from "react";
import { Alert, Button, Group, Loader, Select, Stack, Switch, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, unwrapPage } from "../api/client";
import { useOrgId, useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { useApiMutation } from "../components/mutations";
import { formatDate } from "../components/format";
import { RingSetEditor } from "./RingSetEditor";
import { formatRate } from "./format";
import { SEVERITIES, usePolicy, useRingSets, type Policy, type RingSet, type Severity } from "./queries";

type PolicyFields = Omit<Policy, "org_id" | "updated_at">;

export function PolicyTab() {
  return (
    <Stack gap="xl">
      <PolicyForm />
      <RingSets />
    </Stack>
  );
}

function PolicyForm() {
  const orgId = useOrgId();
  const { canManage } = useSession();
  const policy = usePolicy(orgId);
  const ringSets = useRingSets(orgId);
  const [fields, setFields] = useState<PolicyFields | null>(null);
  useEffect(() => {
    if (policy.data) {
      const { org_id: _org, updated_at: _updated, ...rest } = policy.data;
      setFields(rest);
    }
  }, [policy.data]);
  const save = useApiMutation({
    run: (body: PolicyFields) => unwrap(api.PUT("/api/v1/orgs/{org_id}/vulnerability-policy", { params: { path: { org_id: orgId } }, body })),
    success: "Vulnerability policy saved",
    invalidate: [["vuln", "policy", orgId]],
  });
  const set = (patch: Partial<PolicyFields>) => setFields((f) => (f ? { ...f, ...patch } : f));

  return (
    <Stack gap="xs" component="section" aria-label="Vulnerability policy">
      <Title order={2} size="h4">
        Vulnerability policy
      </Title>
      {policy.isError ? (
        <ListError what="the vulnerability policy" error={policy.error} onRetry={() => policy.refetch()} />
      ) : !fields || policy.isPending ? (
        <Loader role="status" aria-label="Loading vulnerability policy" />
      ) : (
        <>
          <Text size="sm" c="dimmed">
            An open vulnerability qualifies at or above the minimum severity, or when it is in KEV and "KEV always" is on. Qualifying
            ones raise alerts; with auto-deploy a deployment starts after matching, without approval for patches at or above the
            auto-approve severity. {policy.data?.updated_at ? `Saved ${formatDate(policy.data.updated_at)}.` : "Defaults (never saved)."}
          </Text>
          <Group align="end">
            <Select
              label="Minimum severity"
              data={SEVERITIES}
              value={fields.min_severity}
              onChange={(v) => v && set({ min_severity: v as Severity })}
              allowDeselect={false}
              disabled={!canManage}
              w={170}
            />
            <Select
              label="Auto-approve from severity"
              data={SEVERITIES}
              value={fields.auto_approve_min_severity}
              onChange={(v) => v && set({ auto_approve_min_severity: v as Severity })}
              allowDeselect={false}
              disabled={!canManage}
              w={210}
            />
            <Select
              label="Ring set for automatic deployments"
              placeholder={ringSets.isError ? "Ring sets failed to load" : "None"}
              data={(ringSets.data?.items ?? []).map((r) => ({ value: r.id, label: r.name }))}
              value={fields.ring_set_id ?? null}
              onChange={(v) => set({ ring_set_id: v })}
              clearable
              disabled={!canManage}
              w={280}
            />
          </Group>
          <Group>
            <Switch label="KEV always qualifies" checked={fields.kev_always} onChange={(e) => set({ kev_always: e.currentTarget.checked })} disabled={!canManage} />
            <Switch label="Auto-deploy patches" checked={fields.auto_deploy} onChange={(e) => set({ auto_deploy: e.currentTarget.checked })} disabled={!canManage} />
          </Group>
          {fields.auto_deploy && !fields.ring_set_id && (
            <Alert color="yellow">Auto-deploy needs a ring set: without one, no automatic deployment is made.</Alert>
          )}
          {canManage && (
            <Group>
              <Button onClick={() => save.mutate(fields)} loading={save.isPending}>
                Save policy
              </Button>
            </Group>
          )}
        </>
      )}
    </Stack>
  );
}

function RingSets() {
  const orgId = useOrgId();
  const { canManage } = useSession();
  const ringSets = useRingSets(orgId);
  const groups = useQuery({
    queryKey: ["host-groups", orgId],
    queryFn: () => unwrapPage(api.GET("/api/v1/host-groups", { params: { query: { org_id: orgId, page_size: 100 } } })),
  });
  const groupName = (id: string | null | undefined) =>
    id ? (groups.data?.items.find((g) => g.id === id)?.name ?? id.slice(0, 8)) : "every remaining host";
  const [editing, setEditing] = useState<RingSet | "new" | null>(null);
  const remove = useApiMutation({
    run: (ringSet: RingSet) =>
      unwrap(api.DELETE("/api/v1/orgs/{org_id}/ring-sets/{ring_set_id}", { params: { path: { org_id: orgId, ring_set_id: ringSet.id } } })),
    success: (_r, ringSet) => `Ring set ${ringSet.name} deleted`,
    invalidate: [["vuln", "ring-sets", orgId], ["vuln", "policy", orgId]],
  });

  return (
    <Stack gap="xs" component="section" aria-label="Ring sets">
      <Group justify="space-between">
        <Title order={2} size="h4">
          Ring sets
        </Title>
        {canManage && <Button onClick={() => setEditing("new")}>New ring set</Button>}
      </Group>
      {ringSets.isError ? (
        <ListError what="ring sets" error={ringSets.error} onRetry={() => ringSets.refetch()} />
      ) : ringSets.isPending ? (
        <Loader role="status" aria-label="Loading ring sets" />
      ) : (
        <>
          <Table striped aria-label="Ring sets">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Rings, in order</Table.Th>
                <Table.Th>Updated</Table.Th>
                {canManage && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {ringSets.data.items.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td>{r.name}</Table.Td>
                  <Table.Td>
                    {r.rings.map((ring, i) => (
                      <Text key={i} size="sm">
                        {i + 1}. {ring.name}: {groupName(ring.host_group_id)}, soak {ring.soak_minutes} min, halts above {formatRate(ring.max_failure_rate)}
                      </Text>
                    ))}
                  </Table.Td>
                  <Table.Td>{formatDate(r.updated_at)}</Table.Td>
                  {canManage && (
                    <Table.Td>
                      <Group gap="xs" wrap="nowrap">
                        <Button size="compact-xs" variant="light" onClick={() => setEditing(r)} aria-label={`Edit ring set ${r.name}`}>
                          Edit
                        </Button>
                        <Button size="compact-xs" variant="subtle" color="red" onClick={() => remove.mutate(r)} aria-label={`Delete ring set ${r.name}`}>
                          Delete
                        </Button>
                      </Group>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {ringSets.data.items.length === 0 && <Text c="dimmed">No ring set yet.</Text>}
        </>
      )}
      {editing && <RingSetEditor ringSet={editing === "new" ? null : editing} onClose={() => setEditing(null)} />}
    </Stack>
  );
}
