// Create or edit a policy: OS, template, pinned version or latest, interval, batch size, approval, severity gates.
import { useMemo, useState } from "react";
import { Button, Group, Modal, NumberInput, SegmentedControl, Select, Stack, Switch, Text, TextInput } from "@mantine/core";
import { api, unwrap, type Schemas } from "../api/client";
import { useOrgId } from "../auth/session";
import { useApiMutation } from "../components/mutations";

type Policy = Schemas["PolicyOut"];
type Template = Schemas["TemplateSummaryOut"];
type Os = Policy["os_type"];
const SEVERITY_GATES = ["critical", "high", "medium", "low"] as const;
const LATEST = "latest";

export function PolicyForm({ policy, templates, opened, onClose }: { policy: Policy | null; templates: Template[]; opened: boolean; onClose: () => void }) {
  const orgId = useOrgId();
  const [name, setName] = useState(policy?.name ?? "");
  const [os, setOs] = useState<Os>(policy?.os_type ?? "linux");
  const [templateId, setTemplateId] = useState<string | null>(policy?.template_id ?? null);
  const [pinned, setPinned] = useState<string>(policy?.pinned_template_version ? String(policy.pinned_template_version) : LATEST);
  const [interval, setInterval] = useState<number>(policy?.scan_interval_hours ?? 24);
  const [batch, setBatch] = useState<number>(policy?.batch_size ?? 100);
  const [approval, setApproval] = useState<Policy["approval_mode"]>(policy?.approval_mode ?? "auto");
  const [gates, setGates] = useState<Record<string, boolean>>({
    critical: policy?.auto_remediate_critical ?? false,
    high: policy?.auto_remediate_high ?? false,
    medium: policy?.auto_remediate_medium ?? false,
    low: policy?.auto_remediate_low ?? false,
  });
  const [enabled, setEnabled] = useState(policy?.enabled ?? true);

  const choices = templates.filter((t) => t.os_type === os && t.status === "published");
  const chosen = templates.find((t) => t.id === templateId);
  const versions = useMemo(
    () =>
      chosen
        ? templates.filter((t) => t.lineage_id === chosen.lineage_id && t.status === "published").map((t) => t.version).sort((a, b) => b - a)
        : [],
    [chosen, templates],
  );

  const save = useApiMutation({
    run: () => {
      const fields = {
        name: name || null,
        template_id: templateId!,
        pinned_template_version: pinned === LATEST ? null : Number(pinned),
        scan_interval_hours: interval,
        batch_size: batch,
        approval_mode: approval,
        auto_remediate_critical: gates.critical,
        auto_remediate_high: gates.high,
        auto_remediate_medium: gates.medium,
        auto_remediate_low: gates.low,
        enabled,
      };
      return policy
        ? unwrap(api.PATCH("/api/v1/compliance/policies/{policy_id}", { params: { path: { policy_id: policy.id } }, body: fields }))
        : unwrap(api.POST("/api/v1/compliance/policies", { body: { ...fields, org_id: orgId, os_type: os } }));
    },
    success: (p) => `Policy ${p.name ?? p.os_type} ${policy ? "saved" : "created"}`,
    invalidate: [["policies"]],
    onSuccess: onClose,
  });

  return (
    <Modal opened={opened} onClose={onClose} title={policy ? "Edit policy" : "Create policy"} size="lg">
      <Stack>
        <TextInput label="Policy name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <Select
          label="Operating system"
          data={[
            { value: "linux", label: "Linux" },
            { value: "windows", label: "Windows" },
            { value: "bsd", label: "BSD" },
          ]}
          value={os}
          onChange={(v) => {
            if (v) {
              setOs(v as Os);
              setTemplateId(null);
            }
          }}
          disabled={policy !== null}
          allowDeselect={false}
        />
        <Select
          label="Template"
          placeholder="Choose a published template"
          searchable
          data={choices.map((t) => ({ value: t.id, label: `${t.name} v${t.version}${t.is_system ? " (system)" : ""}` }))}
          value={templateId}
          onChange={(v) => {
            setTemplateId(v);
            setPinned(LATEST);
          }}
          nothingFoundMessage="No published template for this OS"
        />
        <Select
          label="Template version"
          data={[{ value: LATEST, label: "Latest published" }, ...versions.map((v) => ({ value: String(v), label: `Pinned to v${v}` }))]}
          value={pinned}
          onChange={(v) => v && setPinned(v)}
          allowDeselect={false}
        />
        <Group grow>
          <NumberInput label="Scan interval (hours)" min={1} max={8760} value={interval} onChange={(v) => setInterval(Number(v) || 24)} />
          <NumberInput label="Batch size" min={1} max={10000} value={batch} onChange={(v) => setBatch(Number(v) || 100)} />
        </Group>
        <Stack gap={4}>
          <Text size="sm" fw={500} id="approval-mode-label">
            Approval mode
          </Text>
          <SegmentedControl
            aria-labelledby="approval-mode-label"
            data={[
              { value: "auto", label: "Auto" },
              { value: "manual", label: "Manual" },
            ]}
            value={approval}
            onChange={(v) => setApproval(v as Policy["approval_mode"])}
          />
        </Stack>
        <Text size="sm" fw={500}>
          Automatic remediation by severity
        </Text>
        <Group>
          {SEVERITY_GATES.map((s) => (
            <Switch key={s} label={`Auto-remediate ${s}`} checked={gates[s]} onChange={(e) => setGates({ ...gates, [s]: e.currentTarget.checked })} />
          ))}
        </Group>
        <Switch label="Policy enabled" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
        <Button onClick={() => save.mutate(undefined)} loading={save.isPending} disabled={!templateId}>
          {policy ? "Save policy" : "Create policy"}
        </Button>
      </Stack>
    </Modal>
  );
}
