// Create or edit a ring set: named rings in order, each a host group (or every remaining host), a soak time and
// the failure share above which the rollout halts.
import { useState } from "react";
import { ActionIcon, Alert, Button, Card, Group, Modal, NumberInput, Stack, Text, TextInput } from "@mantine/core";
import { api, unwrap } from "../api/client";
import { useOrgId } from "../auth/session";
import { HostGroupSelect } from "../components/HostSelect";
import { useApiMutation } from "../components/mutations";
import { ringSetProblems } from "./format";
import type { RingIn, RingSet } from "./queries";

const NEW_RING: RingIn = { name: "", host_group_id: null, soak_minutes: 60, max_failure_rate: 0.1 };

export function RingSetEditor({ ringSet, onClose }: { ringSet: RingSet | null; onClose: () => void }) {
  const orgId = useOrgId();
  const [name, setName] = useState(ringSet?.name ?? "");
  const [rings, setRings] = useState<RingIn[]>(
    ringSet?.rings.map((r) => ({ ...r })) ?? [
      { ...NEW_RING, name: "Canary" },
      { ...NEW_RING, name: "Everyone else" },
    ],
  );
  const [tried, setTried] = useState(false);
  const problems = ringSetProblems(name, rings);
  const save = useApiMutation({
    run: () =>
      ringSet
        ? unwrap(api.PATCH("/api/v1/orgs/{org_id}/ring-sets/{ring_set_id}", { params: { path: { org_id: orgId, ring_set_id: ringSet.id } }, body: { name, rings } }))
        : unwrap(api.POST("/api/v1/orgs/{org_id}/ring-sets", { params: { path: { org_id: orgId } }, body: { name, rings } })),
    success: (r) => `Ring set ${r.name} saved`,
    invalidate: [["vuln", "ring-sets", orgId]],
    onSuccess: onClose,
  });
  const update = (index: number, patch: Partial<RingIn>) => setRings((all) => all.map((r, i) => (i === index ? { ...r, ...patch } : r)));

  return (
    <Modal opened onClose={onClose} title={ringSet ? `Edit ring set ${ringSet.name}` : "New ring set"} size="lg">
      <Stack>
        <TextInput label="Ring set name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
        {rings.map((ring, index) => (
          <Card key={index} withBorder component="fieldset" aria-label={`Ring ${index + 1}`} style={{ margin: 0 }}>
            <Group justify="space-between" mb="xs">
              <Text fw={600}>Ring {index + 1}</Text>
              <Group gap={4}>
                <ActionIcon variant="subtle" aria-label={`Move ring ${index + 1} up`} disabled={index === 0} onClick={() => setRings((all) => swap(all, index, index - 1))}>
                  ↑
                </ActionIcon>
                <ActionIcon variant="subtle" aria-label={`Move ring ${index + 1} down`} disabled={index === rings.length - 1} onClick={() => setRings((all) => swap(all, index, index + 1))}>
                  ↓
                </ActionIcon>
                <Button size="compact-xs" variant="subtle" color="red" aria-label={`Remove ring ${index + 1}`} disabled={rings.length === 1} onClick={() => setRings((all) => all.filter((_, i) => i !== index))}>
                  Remove
                </Button>
              </Group>
            </Group>
            <Group align="start" grow>
              <TextInput label={`Ring ${index + 1} name`} value={ring.name} onChange={(e) => update(index, { name: e.currentTarget.value })} required />
              <HostGroupSelect orgId={orgId} label={`Ring ${index + 1} host group`} value={ring.host_group_id ?? null} onChange={(id) => update(index, { host_group_id: id })} />
            </Group>
            <Group grow mt="xs">
              <NumberInput label={`Ring ${index + 1} soak (minutes)`} min={0} max={43200} value={ring.soak_minutes ?? 0} onChange={(v) => update(index, { soak_minutes: Number(v) || 0 })} />
              <NumberInput
                label={`Ring ${index + 1} failure limit (%)`}
                min={0}
                max={100}
                decimalScale={1}
                value={Math.round((ring.max_failure_rate ?? 0) * 1000) / 10}
                onChange={(v) => update(index, { max_failure_rate: (Number(v) || 0) / 100 })}
              />
            </Group>
            <Text size="xs" c="dimmed" mt={4}>
              No host group: every host of the organization not in an earlier ring.
            </Text>
          </Card>
        ))}
        <Group>
          <Button variant="light" onClick={() => setRings((all) => [...all, { ...NEW_RING, name: `Ring ${all.length + 1}` }])}>
            Add ring
          </Button>
        </Group>
        {tried && problems.length > 0 && (
          <Alert color="red" role="alert" title="Cannot save yet">
            {problems.map((p) => (
              <Text key={p} size="sm">
                {p}
              </Text>
            ))}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Close
          </Button>
          <Button
            loading={save.isPending}
            onClick={() => {
              setTried(true);
              if (problems.length === 0) save.mutate(undefined);
            }}
          >
            Save ring set
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

function swap<T>(items: T[], a: number, b: number): T[] {
  const copy = [...items];
  [copy[a], copy[b]] = [copy[b], copy[a]];
  return copy;
}
