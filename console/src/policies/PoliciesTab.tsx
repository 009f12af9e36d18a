// Policies: one per organization and OS; each row expands to its host overrides and an on-demand scan.
import { Fragment, useState } from "react";
import { ActionIcon, Badge, Button, Group, Loader, Paper, Select, Stack, Table, Text, Title, VisuallyHidden } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap, unwrapPage, type Schemas } from "../api/client";
import { useOrgId, useSession } from "../auth/session";
import { HostSelect } from "../components/HostSelect";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { useApiMutation } from "../components/mutations";
import { PolicyForm } from "./PolicyForm";

type Policy = Schemas["PolicyOut"];
type Template = Schemas["TemplateSummaryOut"];

/** Published templates a policy can use: the system ones and the organization's own. */
export function usePublishedTemplates(orgId: string) {
  return useQuery({
    queryKey: ["templates", "published", orgId],
    queryFn: async () => {
      const [system, own] = await Promise.all([
        unwrapPage(api.GET("/api/v1/compliance/templates", { params: { query: { is_system: true, status: "published", page_size: 100 } } })),
        unwrapPage(api.GET("/api/v1/compliance/templates", { params: { query: { org_id: orgId, status: "published", page_size: 100 } } })),
      ]);
      return { items: [...own.items, ...system.items], total: own.total + system.total };
    },
  });
}

export function PoliciesTab() {
  const orgId = useOrgId();
  const { canManage } = useSession();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(25);
  const [expanded, setExpanded] = useState<string | null>(null);
  const [form, setForm] = useState<{ policy: Policy | null } | null>(null);
  const policies = useQuery({
    queryKey: ["policies", orgId, page, pageSize],
    queryFn: () => unwrapPage(api.GET("/api/v1/compliance/policies", { params: { query: { org_id: orgId, page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
  });
  const templates = usePublishedTemplates(orgId);
  const remove = useApiMutation({
    run: (p: Policy) => unwrap(api.DELETE("/api/v1/compliance/policies/{policy_id}", { params: { path: { policy_id: p.id } } })),
    success: (_r, p) => `Policy ${p.name ?? p.os_type} deleted`,
    invalidate: [["policies"]],
  });
  const templateName = (id: string | null | undefined) => {
    const t = templates.data?.items.find((x) => x.id === id);
    return t ? `${t.name} v${t.version}` : id ?? "—";
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          One policy per operating system decides which template scans its hosts and how fixes are approved.
        </Text>
        {canManage && (
          <Button onClick={() => setForm({ policy: null })} disabled={!templates.data}>
            Create policy
          </Button>
        )}
      </Group>
      {templates.isError && <ListError what="templates" error={templates.error} onRetry={() => templates.refetch()} />}
      {policies.isError ? (
        <ListError what="policies" error={policies.error} onRetry={() => policies.refetch()} />
      ) : policies.isPending ? (
        <Loader role="status" aria-label="Loading policies" />
      ) : (
        <>
          <Table aria-label="Policies">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>
                  <VisuallyHidden>Expand</VisuallyHidden>
                </Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>OS</Table.Th>
                <Table.Th>Template</Table.Th>
                <Table.Th>Version</Table.Th>
                <Table.Th>Interval</Table.Th>
                <Table.Th>Batch</Table.Th>
                <Table.Th>Approval</Table.Th>
                <Table.Th>Auto-remediate</Table.Th>
                <Table.Th>Enabled</Table.Th>
                {canManage && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {policies.data.items.map((p) => (
                <Fragment key={p.id}>
                  <Table.Tr>
                    <Table.Td>
                      <ActionIcon
                        variant="subtle"
                        aria-label={`${expanded === p.id ? "Collapse" : "Expand"} ${p.name ?? p.os_type}`}
                        aria-expanded={expanded === p.id}
                        onClick={() => setExpanded(expanded === p.id ? null : p.id)}
                      >
                        {expanded === p.id ? "▾" : "▸"}
                      </ActionIcon>
                    </Table.Td>
                    <Table.Td>{p.name ?? "—"}</Table.Td>
                    <Table.Td>{p.os_type}</Table.Td>
                    <Table.Td>{templateName(p.template_id)}</Table.Td>
                    <Table.Td>{p.pinned_template_version ? `pinned v${p.pinned_template_version}` : `latest (v${p.effective_template_version ?? "?"})`}</Table.Td>
                    <Table.Td>{p.scan_interval_hours} h</Table.Td>
                    <Table.Td>{p.batch_size}</Table.Td>
                    <Table.Td>{p.approval_mode}</Table.Td>
                    <Table.Td>
                      <Group gap={2}>
                        {(["critical", "high", "medium", "low"] as const)
                          .filter((s) => p[`auto_remediate_${s}`])
                          .map((s) => (
                            <Badge key={s} size="xs" variant="light">
                              {s}
                            </Badge>
                          ))}
                      </Group>
                    </Table.Td>
                    <Table.Td>{p.enabled ? "yes" : "no"}</Table.Td>
                    {canManage && (
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          <Button size="compact-xs" variant="subtle" onClick={() => setForm({ policy: p })} aria-label={`Edit policy ${p.name ?? p.os_type}`}>
                            Edit
                          </Button>
                          <Button
                            size="compact-xs"
                            variant="subtle"
                            color="red"
                            onClick={() => window.confirm("Delete this policy?") && remove.mutate(p)}
                            aria-label={`Delete policy ${p.name ?? p.os_type}`}
                          >
                            Delete
                          </Button>
                        </Group>
                      </Table.Td>
                    )}
                  </Table.Tr>
                  {expanded === p.id && (
                    <Table.Tr>
                      <Table.Td colSpan={canManage ? 11 : 10}>
                        <PolicyDetail policy={p} templates={templates.data?.items ?? []} />
                      </Table.Td>
                    </Table.Tr>
                  )}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
          {policies.data.items.length === 0 && <Text c="dimmed">No policy yet.</Text>}
          <Pager page={page} pageSize={pageSize} total={policies.data.total} onPage={setPage} onPageSize={(s) => (setPageSize(s), setPage(1))} label="policies" />
        </>
      )}
      {form && templates.data && <PolicyForm policy={form.policy} templates={templates.data.items} opened onClose={() => setForm(null)} />}
    </Stack>
  );
}

function PolicyDetail({ policy, templates }: { policy: Policy; templates: Template[] }) {
  const orgId = useOrgId();
  const { canManage } = useSession();
  const [hostId, setHostId] = useState<string | null>(null);
  const [templateId, setTemplateId] = useState<string | null>(null);
  const [scanHost, setScanHost] = useState<string | null>(null);
  const overrides = useQuery({
    queryKey: ["overrides", policy.id],
    queryFn: () =>
      unwrapPage(api.GET("/api/v1/compliance/policies/{policy_id}/overrides", { params: { path: { policy_id: policy.id }, query: { page_size: 100 } } })),
  });
  const add = useApiMutation({
    run: () =>
      unwrap(
        api.POST("/api/v1/compliance/policies/{policy_id}/overrides", {
          params: { path: { policy_id: policy.id } },
          body: { host_id: hostId!, template_id: templateId! },
        }),
      ),
    success: (o) => `Override added for ${o.hostname ?? o.host_id}`,
    invalidate: [["overrides", policy.id]],
    onSuccess: () => {
      setHostId(null);
      setTemplateId(null);
    },
  });
  const remove = useApiMutation({
    run: (overrideId: string) =>
      unwrap(
        api.DELETE("/api/v1/compliance/policies/{policy_id}/overrides/{override_id}", {
          params: { path: { policy_id: policy.id, override_id: overrideId } },
        }),
      ),
    success: "Override deleted",
    invalidate: [["overrides", policy.id]],
  });
  const scan = useApiMutation({
    run: () =>
      unwrap(api.POST("/api/v1/compliance/policies/{policy_id}/scan", { params: { path: { policy_id: policy.id } }, body: { host_id: scanHost! } })),
    success: (s) => `Scan ${s.status}: open it in Scan History`,
    invalidate: [["scans"]],
  });
  const choices = templates.filter((t) => t.os_type === policy.os_type);

  return (
    <Paper p="sm" bg="gray.0">
      <Stack gap="sm">
        <Title order={3} size="h6">
          Host overrides
        </Title>
        {overrides.isError ? (
          <ListError what="host overrides" error={overrides.error} onRetry={() => overrides.refetch()} />
        ) : overrides.isPending ? (
          <Loader size="sm" role="status" aria-label="Loading overrides" />
        ) : overrides.data.items.length === 0 ? (
          <Text size="sm" c="dimmed">
            No host override: every host uses the policy's template.
          </Text>
        ) : (
          <Table aria-label="Host overrides">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Host</Table.Th>
                <Table.Th>Template</Table.Th>
                {canManage && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {overrides.data.items.map((o) => (
                <Table.Tr key={o.id}>
                  <Table.Td>{o.hostname ?? o.host_id}</Table.Td>
                  <Table.Td>
                    {o.template_name} v{o.template_version}
                  </Table.Td>
                  {canManage && (
                    <Table.Td>
                      <Button size="compact-xs" color="red" variant="subtle" onClick={() => remove.mutate(o.id)} aria-label={`Delete override for ${o.hostname}`}>
                        Delete
                      </Button>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {canManage && (
          <Group align="flex-end">
            <HostSelect orgId={orgId} label="Override host" value={hostId} onChange={setHostId} />
            <Select
              label="Override template"
              data={choices.map((t) => ({ value: t.id, label: `${t.name} v${t.version}` }))}
              value={templateId}
              onChange={setTemplateId}
              searchable
            />
            <Button onClick={() => add.mutate(undefined)} disabled={!hostId || !templateId} loading={add.isPending}>
              Add override
            </Button>
          </Group>
        )}
        {canManage && (
          <Group align="flex-end">
            <HostSelect orgId={orgId} label="Host to scan" value={scanHost} onChange={setScanHost} />
            <Button onClick={() => scan.mutate(undefined)} disabled={!scanHost} loading={scan.isPending}>
              Scan now
            </Button>
          </Group>
        )}
      </Stack>
    </Paper>
  );
}
