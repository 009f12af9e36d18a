// A manual patch deployment: which patches, through which ring set. It runs even while automation is paused, and
// waits for a second person's approval when a patch is below the organization's auto-approve severity.
import { useState } from "react";
import { Alert, Button, Group, Modal, MultiSelect, Select, Stack, Text } from "@mantine/core";
import { useNavigate } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useOrgId } from "../auth/session";
import { useApiMutation } from "../components/mutations";
import { usePatches, useRingSets, type Patch } from "./queries";
import { vulnPath } from "./tabs";

const patchLabel = (p: Patch) =>
  `${p.package} ${p.fixed_version} (${p.ecosystem}${p.hosts ? `, ${p.hosts} host${p.hosts === 1 ? "" : "s"}` : ""})`;

export function CreateDeploymentModal({ initialPatches = [], onClose }: { initialPatches?: Patch[]; onClose: () => void }) {
  const orgId = useOrgId();
  const navigate = useNavigate();
  const patches = usePatches(orgId);
  const ringSets = useRingSets(orgId);
  const [patchIds, setPatchIds] = useState<string[]>(initialPatches.map((p) => p.id));
  const [ringSetId, setRingSetId] = useState<string | null>(null);
  const known = new Map<string, Patch>();
  [...initialPatches, ...(patches.data?.items ?? [])].forEach((p) => known.set(p.id, p));
  const create = useApiMutation({
    run: () => unwrap(api.POST("/api/v1/patch-deployments", { body: { org_id: orgId, patch_ids: patchIds, ring_set_id: ringSetId! } })),
    success: (d) => `Deployment created (${d.status.replace(/_/g, " ")})`,
    invalidate: [["vuln", "deployments"]],
    onSuccess: (d) => {
      onClose();
      navigate(vulnPath("deployments", d.id));
    },
  });

  return (
    <Modal opened onClose={onClose} title="New patch deployment" size="lg">
      <Stack>
        {(patches.isError || ringSets.isError) && (
          <Alert color="orange" role="alert" title="Could not load patches or ring sets">
            <Button size="xs" variant="white" onClick={() => (patches.refetch(), ringSets.refetch())}>
              Retry
            </Button>
          </Alert>
        )}
        <MultiSelect
          label="Patches"
          placeholder="Choose the fixed versions to install"
          searchable
          data={[...known.values()].map((p) => ({ value: p.id, label: patchLabel(p) }))}
          value={patchIds}
          onChange={setPatchIds}
          nothingFoundMessage={patches.isPending ? "Loading…" : "No patch fixes anything open"}
          required
        />
        <Select
          label="Ring set"
          placeholder="Rings the deployment runs through"
          data={(ringSets.data?.items ?? []).map((r) => ({ value: r.id, label: `${r.name} (${r.rings.length} ring${r.rings.length === 1 ? "" : "s"})` }))}
          value={ringSetId}
          onChange={setRingSetId}
          nothingFoundMessage="No ring set yet: create one under Policy & Rings"
          required
        />
        <Text size="sm" c="dimmed">
          Each ring's hosts that need a patch get a patch_install job; the next ring starts after the soak time, and the rollout halts
          above a ring's failure limit.
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Close
          </Button>
          <Button onClick={() => create.mutate(undefined)} loading={create.isPending} disabled={patchIds.length === 0 || !ringSetId}>
            Create deployment
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
