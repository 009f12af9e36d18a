// Approvals: what waits for the signed-in user — pending exceptions created by someone else and pending changes.
import { useState } from "react";
import { Button, Group, Loader, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, unwrapPage, type Schemas } from "../api/client";
import { useOrgId, useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { StatusBadge } from "../components/StatusBadge";
import { TemporalLink } from "../components/temporal";
import { formatDate } from "../components/format";
import { useHostNames } from "../components/lookups";
import { RejectModal } from "../exceptions/ExceptionForms";
import { scopeName } from "../exceptions/ExceptionsTab";
import { useChangeDecisions, useExceptionDecisions } from "../exceptions/decisions";

type Change = Schemas["ChangeOut"];
type Exception = Schemas["ExceptionOut"];

export function ApprovalsView() {
  const orgId = useOrgId();
  const { me, canManage, canApproveChanges } = useSession();
  const exceptions = useQuery({
    queryKey: ["approvals", "exceptions", orgId],
    queryFn: () =>
      unwrapPage(api.GET("/api/v1/compliance/exceptions", { params: { query: { org_id: orgId, status: "pending_approval", page_size: 100 } } })),
  });
  const changes = useQuery({
    queryKey: ["changes", "pending", orgId],
    queryFn: () => unwrapPage(api.GET("/api/v1/changes", { params: { query: { org_id: orgId, status: "pending_approval", page_size: 100 } } })),
  });
  const exceptionDecisions = useExceptionDecisions();
  const changeDecisions = useChangeDecisions();
  const [rejectingException, setRejectingException] = useState<Exception | null>(null);
  const [rejectingChange, setRejectingChange] = useState<Change | null>(null);

  const waitingExceptions = (exceptions.data?.items ?? []).filter((e) => e.created_by !== me.id);
  const waitingChanges = changes.data?.items ?? [];
  const hostName = useHostNames(orgId, waitingChanges.flatMap((c) => (c.host_id ? [c.host_id] : [])));

  return (
    <Stack pt="md">
      <Title order={2} size="h4">
        Approvals
      </Title>
      {!canManage && !canApproveChanges && (
        <Text c="dimmed" size="sm">
          Your role can view what waits for approval but not decide it.
        </Text>
      )}
      <Title order={3} size="h5">
        Exceptions waiting for you
      </Title>
      {exceptions.isError ? (
        <ListError what="pending exceptions" error={exceptions.error} onRetry={() => exceptions.refetch()} />
      ) : exceptions.isPending ? (
        <Loader role="status" aria-label="Loading pending exceptions" />
      ) : waitingExceptions.length === 0 ? (
        <Text c="dimmed">No exception waits for your approval.</Text>
      ) : (
        <Table aria-label="Pending exceptions">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Rule</Table.Th>
              <Table.Th>Scope</Table.Th>
              <Table.Th>Reason</Table.Th>
              <Table.Th>Requested by</Table.Th>
              <Table.Th>Expires</Table.Th>
              {canManage && <Table.Th>Decision</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {waitingExceptions.map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td ff="monospace">{e.rule_id}</Table.Td>
                <Table.Td>{scopeName(e)}</Table.Td>
                <Table.Td>{e.reason}</Table.Td>
                <Table.Td>{e.created_by_name ?? "—"}</Table.Td>
                <Table.Td>{e.expires_at ? formatDate(e.expires_at) : "never"}</Table.Td>
                {canManage && (
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button size="compact-xs" color="green" onClick={() => exceptionDecisions.approve.mutate(e.id)} aria-label={`Approve exception for ${e.rule_id}`}>
                        Approve
                      </Button>
                      <Button size="compact-xs" color="red" variant="light" onClick={() => setRejectingException(e)} aria-label={`Reject exception for ${e.rule_id}`}>
                        Reject
                      </Button>
                    </Group>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Title order={3} size="h5">
        Change records waiting for approval
      </Title>
      {changes.isError ? (
        <ListError what="pending change records" error={changes.error} onRetry={() => changes.refetch()} />
      ) : changes.isPending ? (
        <Loader role="status" aria-label="Loading pending change records" />
      ) : waitingChanges.length === 0 ? (
        <Text c="dimmed">No change record waits for approval.</Text>
      ) : (
        <Table aria-label="Pending change records">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Change</Table.Th>
              <Table.Th>Host</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Requested</Table.Th>
              <Table.Th>Workflow</Table.Th>
              {canApproveChanges && <Table.Th>Decision</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {waitingChanges.map((c) => {
              const mine = c.requested_by === me.id;
              return (
                <Table.Tr key={c.id}>
                  <Table.Td>{c.title}</Table.Td>
                  <Table.Td>{c.host_id ? hostName(c.host_id) : "—"}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={c.status} />
                  </Table.Td>
                  <Table.Td>{formatDate(c.created_at)}</Table.Td>
                  <Table.Td>
                    <TemporalLink workflowId={`remediation-${c.scan_id}-${c.check_id}`} label="Temporal UI" />
                  </Table.Td>
                  {canApproveChanges && (
                    <Table.Td>
                      {mine ? (
                        <Text size="xs" c="dimmed">
                          you requested it: another user decides
                        </Text>
                      ) : (
                        <Group gap={4} wrap="nowrap">
                          <Button size="compact-xs" color="green" onClick={() => changeDecisions.approve.mutate(c.id)} aria-label={`Approve change ${c.title}`}>
                            Approve
                          </Button>
                          <Button size="compact-xs" color="red" variant="light" onClick={() => setRejectingChange(c)} aria-label={`Reject change ${c.title}`}>
                            Reject
                          </Button>
                        </Group>
                      )}
                    </Table.Td>
                  )}
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      )}
      <RejectModal
        title="Reject exception"
        opened={rejectingException !== null}
        onClose={() => setRejectingException(null)}
        onReject={(reason) => rejectingException && exceptionDecisions.reject.mutate({ id: rejectingException.id, reason })}
      />
      <RejectModal
        title="Reject change record"
        reasonRequired
        opened={rejectingChange !== null}
        onClose={() => setRejectingChange(null)}
        onReject={(reason) => rejectingChange && changeDecisions.reject.mutate({ id: rejectingChange.id, reason })}
      />
    </Stack>
  );
}
