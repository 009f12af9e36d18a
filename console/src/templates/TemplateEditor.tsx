// The edit modal's body: template fields, Publish (saves edits first), New Version, and the check editor.
import { useEffect, useRef, useState } from "react";
import { Alert, Button, Checkbox, Group, Loader, NumberInput, Stack, Switch, Table, Text, Textarea, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { StatusBadge } from "../components/StatusBadge";
import { useApiMutation } from "../components/mutations";
import { CheckForm } from "./CheckForm";

type Check = Schemas["CheckOut"];

export function TemplateEditor({ templateId, onClose, onSwitch }: { templateId: string; onClose: () => void; onSwitch: (id: string) => void }) {
  const { canManage } = useSession();
  const template = useQuery({
    queryKey: ["template", templateId],
    queryFn: () => unwrap(api.GET("/api/v1/compliance/templates/{template_id}", { params: { path: { template_id: templateId } } })),
  });
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [interval, setInterval] = useState<number>(24);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [checkForm, setCheckForm] = useState<Check | "new" | null>(null);

  // Fill the form once per template: refetches after check edits must not overwrite unsaved field edits.
  const loadedFor = useRef<string | null>(null);
  useEffect(() => {
    if (template.data && loadedFor.current !== template.data.id) {
      loadedFor.current = template.data.id;
      setName(template.data.name);
      setDescription(template.data.description ?? "");
      setInterval(template.data.scan_interval_hours);
    }
  }, [template.data]);

  const invalidate = [["template", templateId], ["templates"]];
  const save = useApiMutation({
    run: (publish: boolean) =>
      unwrap(
        api.PATCH("/api/v1/compliance/templates/{template_id}", {
          params: { path: { template_id: templateId } },
          body: { name, description: description || null, scan_interval_hours: interval, ...(publish ? { status: "published" } : {}) },
        }),
      ),
    success: (t, publish) => (publish ? `${t.name} v${t.version} published` : `${t.name} saved`),
    invalidate,
  });
  const newVersion = useApiMutation({
    run: () => unwrap(api.POST("/api/v1/compliance/templates/{template_id}/versions", { params: { path: { template_id: templateId } } })),
    success: (t) => `Draft version ${t.version} created`,
    invalidate: [["templates"]],
    onSuccess: (t) => onSwitch(t.id),
  });
  const toggle = useApiMutation({
    run: (c: Check) =>
      unwrap(
        api.PATCH("/api/v1/compliance/templates/{template_id}/checks/{check_id}", {
          params: { path: { template_id: templateId, check_id: c.id } },
          body: { enabled: !c.enabled },
        }),
      ),
    success: (c) => `${c.rule_id} ${c.enabled ? "enabled" : "disabled"}`,
    invalidate,
  });
  const bulk = useApiMutation({
    run: (enabled: boolean) =>
      unwrap(
        api.POST("/api/v1/compliance/templates/{template_id}/checks/bulk-toggle", {
          params: { path: { template_id: templateId } },
          body: { check_ids: [...selected], enabled },
        }),
      ),
    success: (_t, enabled) => `${selected.size} ${selected.size === 1 ? "check" : "checks"} ${enabled ? "enabled" : "disabled"}`,
    invalidate,
    onSuccess: () => setSelected(new Set()),
  });
  const removeCheck = useApiMutation({
    run: (c: Check) =>
      unwrap(
        api.DELETE("/api/v1/compliance/templates/{template_id}/checks/{check_id}", {
          params: { path: { template_id: templateId, check_id: c.id } },
        }),
      ),
    success: (_r, c) => `${c.rule_id} removed`,
    invalidate,
  });

  if (template.isPending) return <Loader role="status" aria-label="Loading template" />;
  if (template.isError) return <ListError what="the template" error={template.error} onRetry={() => template.refetch()} />;
  const t = template.data;
  const checks = t.checks ?? [];
  const editable = canManage && !t.is_system && t.status === "draft";
  const allSelected = checks.length > 0 && selected.size === checks.length;

  return (
    <Stack>
      <Group>
        <Text fw={600}>
          {t.name} v{t.version}
        </Text>
        <StatusBadge status={t.status} />
        <Text size="sm" c="dimmed">
          {t.os_type} · {t.framework} · {t.enabled_check_count}/{t.check_count} checks enabled
        </Text>
      </Group>
      {!editable && (
        <Alert color="blue" role="status">
          {t.is_system
            ? "System templates are read-only: copy this one into your organization to change it."
            : t.status === "published"
              ? "Published templates are immutable: create a new version to change it."
              : "You can view this template but not change it."}
        </Alert>
      )}
      <Group grow align="flex-start">
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} disabled={!editable} />
        <NumberInput
          label="Scan Interval (hours)"
          min={24}
          max={168}
          clampBehavior="strict"
          value={interval}
          onChange={(v) => setInterval(Number(v) || 24)}
          disabled={!editable}
        />
      </Group>
      <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} disabled={!editable} autosize maxRows={4} />
      <Group>
        {editable && (
          <>
            <Button variant="light" onClick={() => save.mutate(false)} loading={save.isPending && save.variables === false}>
              Save
            </Button>
            <Button onClick={() => save.mutate(true)} loading={save.isPending && save.variables === true}>
              Publish
            </Button>
            <Button variant="default" onClick={() => setCheckForm("new")}>
              Add check
            </Button>
            <Button variant="default" disabled={selected.size === 0} onClick={() => bulk.mutate(true)}>
              Enable selected
            </Button>
            <Button variant="default" disabled={selected.size === 0} onClick={() => bulk.mutate(false)}>
              Disable selected
            </Button>
          </>
        )}
        {canManage && !t.is_system && t.status === "published" && (
          <Button onClick={() => newVersion.mutate(undefined)} loading={newVersion.isPending}>
            New Version
          </Button>
        )}
        <Button variant="subtle" onClick={onClose}>
          Close
        </Button>
      </Group>
      {checkForm !== null && (
        <CheckForm templateId={templateId} check={checkForm === "new" ? null : checkForm} onDone={() => setCheckForm(null)} />
      )}
      <Table striped aria-label="Checks">
        <Table.Thead>
          <Table.Tr>
            {editable && (
              <Table.Th>
                <Checkbox
                  aria-label="Select all checks"
                  checked={allSelected}
                  indeterminate={selected.size > 0 && !allSelected}
                  onChange={() => setSelected(allSelected ? new Set() : new Set(checks.map((c) => c.id)))}
                />
              </Table.Th>
            )}
            <Table.Th>Rule</Table.Th>
            <Table.Th>Title</Table.Th>
            <Table.Th>Severity</Table.Th>
            <Table.Th>Remediation</Table.Th>
            <Table.Th>Enabled</Table.Th>
            {editable && <Table.Th>Actions</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {checks.map((c) => (
            <Table.Tr key={c.id}>
              {editable && (
                <Table.Td>
                  <Checkbox
                    aria-label={`Select ${c.rule_id}`}
                    checked={selected.has(c.id)}
                    onChange={() => {
                      const next = new Set(selected);
                      if (next.has(c.id)) next.delete(c.id);
                      else next.add(c.id);
                      setSelected(next);
                    }}
                  />
                </Table.Td>
              )}
              <Table.Td ff="monospace">{c.rule_id}</Table.Td>
              <Table.Td>{c.title}</Table.Td>
              <Table.Td>
                <StatusBadge status={c.severity} />
              </Table.Td>
              <Table.Td>{c.remediation_type}</Table.Td>
              <Table.Td>
                <Switch
                  aria-label={`Enabled ${c.rule_id}`}
                  checked={c.enabled}
                  disabled={!editable}
                  onChange={() => toggle.mutate(c)}
                />
              </Table.Td>
              {editable && (
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button size="compact-xs" variant="subtle" onClick={() => setCheckForm(c)} aria-label={`Modify ${c.rule_id}`}>
                      Modify
                    </Button>
                    <Button size="compact-xs" variant="subtle" color="red" onClick={() => removeCheck.mutate(c)} aria-label={`Remove ${c.rule_id}`}>
                      Remove
                    </Button>
                  </Group>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
