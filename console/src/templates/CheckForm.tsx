// Add or modify one check of a draft template; the rule is the agent-evaluated JSON document (§6).
import { useState } from "react";
import { Button, Group, Paper, Select, Stack, Textarea, TextInput, Title } from "@mantine/core";
import { api, unwrap, type Schemas } from "../api/client";
import { useApiMutation } from "../components/mutations";

type Check = Schemas["CheckOut"];
type Severity = Check["severity"];
const SEVERITIES: Severity[] = ["critical", "high", "medium", "low"];
const EXAMPLE_RULE = '{"type": "file_exists", "path": "/etc/issue.net", "expect": "present"}';

export function parseRule(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function CheckForm({ templateId, check, onDone }: { templateId: string; check: Check | null; onDone: () => void }) {
  const [ruleId, setRuleId] = useState(check?.rule_id ?? "");
  const [title, setTitle] = useState(check?.title ?? "");
  const [severity, setSeverity] = useState<Severity>(check?.severity ?? "medium");
  const [rule, setRule] = useState(check ? JSON.stringify(check.rule, null, 2) : EXAMPLE_RULE);
  const parsed = parseRule(rule);
  const invalidate = [["template", templateId], ["templates"]];
  const saveCheck = useApiMutation({
    run: () =>
      check
        ? unwrap(
            api.PATCH("/api/v1/compliance/templates/{template_id}/checks/{check_id}", {
              params: { path: { template_id: templateId, check_id: check.id } },
              body: { rule_id: ruleId, title, severity, rule: parsed! },
            }),
          )
        : unwrap(
            api.POST("/api/v1/compliance/templates/{template_id}/checks", {
              params: { path: { template_id: templateId } },
              body: { rule_id: ruleId, title, severity, rule: parsed!, frameworks: {}, enabled: true, remediation_type: "none", remediation_requires_change: false },
            }),
          ),
    success: (c) => `${c.rule_id} ${check ? "updated" : "added"}`,
    invalidate,
    onSuccess: onDone,
  });
  return (
    <Paper withBorder p="md">
      <Stack>
        <Title order={3} size="h5">
          {check ? `Modify ${check.rule_id}` : "Add check"}
        </Title>
        <Group grow>
          <TextInput label="Rule id" required value={ruleId} onChange={(e) => setRuleId(e.currentTarget.value)} />
          <Select label="Severity" data={SEVERITIES} value={severity} onChange={(v) => v && setSeverity(v as Severity)} allowDeselect={false} />
        </Group>
        <TextInput label="Check title" required value={title} onChange={(e) => setTitle(e.currentTarget.value)} />
        <Textarea
          label="Rule (JSON)"
          autosize
          minRows={3}
          ff="monospace"
          value={rule}
          onChange={(e) => setRule(e.currentTarget.value)}
          error={parsed ? undefined : "The rule must be a JSON object"}
        />
        <Group>
          <Button onClick={() => saveCheck.mutate(undefined)} loading={saveCheck.isPending} disabled={!parsed || !ruleId || !title}>
            {check ? "Save check" : "Add"}
          </Button>
          <Button variant="subtle" onClick={onDone}>
            Cancel
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}
