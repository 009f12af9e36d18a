// The create, edit and reject dialogs of exceptions.
import { useState } from "react";
import { Button, Modal, SegmentedControl, Stack, Text, Textarea, TextInput } from "@mantine/core";
import { api, unwrap, type Schemas } from "../api/client";
import { useOrgId } from "../auth/session";
import { HostGroupSelect, HostSelect } from "../components/HostSelect";
import { useApiMutation } from "../components/mutations";

type Exception = Schemas["ExceptionOut"];
type Scope = "host" | "group" | "org";

/** `datetime-local` value (local time) → ISO instant, or null when empty. */
export function toInstant(local: string): string | null {
  if (!local) return null;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function CreateExceptionModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const orgId = useOrgId();
  const [ruleId, setRuleId] = useState("");
  const [scope, setScope] = useState<Scope>("host");
  const [hostId, setHostId] = useState<string | null>(null);
  const [groupId, setGroupId] = useState<string | null>(null);
  const [reason, setReason] = useState("");
  const [expires, setExpires] = useState("");
  const create = useApiMutation({
    run: () =>
      unwrap(
        api.POST("/api/v1/compliance/exceptions", {
          body: {
            org_id: orgId,
            rule_id: ruleId.trim(),
            host_id: scope === "host" ? hostId : null,
            host_group_id: scope === "group" ? groupId : null,
            reason,
            expires_at: toInstant(expires),
          },
        }),
      ),
    success: (e) => `Exception for ${e.rule_id} created: it waits for approval by another user`,
    invalidate: [["exceptions"], ["approvals"]],
    onSuccess: () => {
      setRuleId("");
      setHostId(null);
      setGroupId(null);
      setReason("");
      setExpires("");
      onClose();
    },
  });
  const scopeReady = scope === "org" || (scope === "host" ? hostId : groupId);
  return (
    <Modal opened={opened} onClose={onClose} title="Create exception" size="lg">
      <Stack>
        <TextInput label="Rule id" placeholder="e.g. 5.2.8" required value={ruleId} onChange={(e) => setRuleId(e.currentTarget.value)} />
        <Stack gap={4}>
          <Text size="sm" fw={500} id="exception-scope-label">
            Scope
          </Text>
          <SegmentedControl
            aria-labelledby="exception-scope-label"
            value={scope}
            onChange={(v) => setScope(v as Scope)}
            data={[
              { value: "host", label: "One host" },
              { value: "group", label: "Host group" },
              { value: "org", label: "Whole organization" },
            ]}
          />
        </Stack>
        {scope === "host" && <HostSelect orgId={orgId} label="Host" value={hostId} onChange={setHostId} required />}
        {scope === "group" && <HostGroupSelect orgId={orgId} label="Host group" value={groupId} onChange={setGroupId} />}
        <Textarea label="Reason" required value={reason} onChange={(e) => setReason(e.currentTarget.value)} autosize minRows={2} />
        <TextInput label="Expires at (optional)" type="datetime-local" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} />
        <Button onClick={() => create.mutate(undefined)} loading={create.isPending} disabled={!ruleId.trim() || !reason.trim() || !scopeReady}>
          Request exception
        </Button>
      </Stack>
    </Modal>
  );
}

export function EditExceptionModal({ exception, onClose }: { exception: Exception | null; onClose: () => void }) {
  return (
    <Modal opened={exception !== null} onClose={onClose} title="Edit exception">
      {exception && <EditForm exception={exception} onClose={onClose} />}
    </Modal>
  );
}

function EditForm({ exception, onClose }: { exception: Exception; onClose: () => void }) {
  const [reason, setReason] = useState(exception.reason);
  const [expires, setExpires] = useState(toLocalInput(exception.expires_at));
  const save = useApiMutation({
    run: () =>
      unwrap(
        api.PATCH("/api/v1/compliance/exceptions/{exception_id}", {
          params: { path: { exception_id: exception.id } },
          body: { reason, expires_at: toInstant(expires) },
        }),
      ),
    success: (e) => `Exception for ${e.rule_id} updated`,
    invalidate: [["exceptions"]],
    onSuccess: onClose,
  });
  return (
    <Stack>
      <Textarea label="Reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)} autosize minRows={2} />
      <TextInput label="Expires at" type="datetime-local" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} />
      <Button onClick={() => save.mutate(undefined)} loading={save.isPending} disabled={!reason.trim()}>
        Save exception
      </Button>
    </Stack>
  );
}

export function RejectModal({ title, opened, onReject, onClose, reasonRequired }: { title: string; opened: boolean; onReject: (reason: string) => void; onClose: () => void; reasonRequired?: boolean }) {
  const [reason, setReason] = useState("");
  return (
    <Modal opened={opened} onClose={onClose} title={title}>
      <Stack>
        <Textarea
          label={reasonRequired ? "Reason" : "Reason (optional)"}
          required={reasonRequired}
          value={reason}
          onChange={(e) => setReason(e.currentTarget.value)}
          autosize
          minRows={2}
        />
        <Button
          color="red"
          disabled={reasonRequired && !reason.trim()}
          onClick={() => {
            onReject(reason);
            setReason("");
            onClose();
          }}
        >
          Reject
        </Button>
      </Stack>
    </Modal>
  );
}
