// Exceptions: waivers with four-eyes approval, scoped to a host, a host group or the whole organization.
import { useState } from "react";
import { Button, Group, Loader, Select, Stack, Table, Text } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap, unwrapPage, type Schemas } from "../api/client";
import { useOrgId, useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { StatusBadge } from "../components/StatusBadge";
import { formatDate } from "../components/format";
import { useApiMutation } from "../components/mutations";
import { CreateExceptionModal, EditExceptionModal, RejectModal } from "./ExceptionForms";
import { useExceptionDecisions } from "./decisions";

type Exception = Schemas["ExceptionOut"];
type Status = Exception["status"];

export function scopeName(e: Pick<Exception, "hostname" | "host_group_name" | "host_id" | "host_group_id">): string {
  if (e.host_id) return `Host ${e.hostname ?? e.host_id}`;
  if (e.host_group_id) return `Group ${e.host_group_name ?? e.host_group_id}`;
  return "Whole organization";
}

export function ExceptionsTab() {
  const orgId = useOrgId();
  const { canManage, me } = useSession();
  const [status, setStatus] = useState<Status | null>(null);
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(25);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Exception | null>(null);
  const [rejecting, setRejecting] = useState<Exception | null>(null);
  const exceptions = useQuery({
    queryKey: ["exceptions", orgId, status, page, pageSize],
    queryFn: () =>
      unwrapPage(api.GET("/api/v1/compliance/exceptions", { params: { query: { org_id: orgId, status: status ?? undefined, page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
  });
  const { approve, reject } = useExceptionDecisions();
  const revoke = useApiMutation({
    run: (e: Exception) => unwrap(api.DELETE("/api/v1/compliance/exceptions/{exception_id}", { params: { path: { exception_id: e.id } } })),
    success: (e) => `Exception for ${e.rule_id} revoked`,
    invalidate: [["exceptions"], ["dashboard"], ["report"], ["approvals"]],
  });

  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <Select
          label="Status"
          placeholder="Any status"
          clearable
          data={[
            { value: "pending_approval", label: "pending approval" },
            { value: "active", label: "active" },
            { value: "rejected", label: "rejected" },
            { value: "expired", label: "expired" },
            { value: "revoked", label: "revoked" },
          ]}
          value={status}
          onChange={(v) => (setStatus(v as Status | null), setPage(1))}
          w={200}
        />
        {canManage && <Button onClick={() => setCreating(true)}>Create exception</Button>}
      </Group>
      {exceptions.isError ? (
        <ListError what="exceptions" error={exceptions.error} onRetry={() => exceptions.refetch()} />
      ) : exceptions.isPending ? (
        <Loader role="status" aria-label="Loading exceptions" />
      ) : (
        <>
          <Table striped aria-label="Exceptions">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Rule</Table.Th>
                <Table.Th>Scope</Table.Th>
                <Table.Th>Reason</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Created by</Table.Th>
                <Table.Th>Approved by</Table.Th>
                <Table.Th>Expires</Table.Th>
                {canManage && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {exceptions.data.items.map((e) => {
                const mine = e.created_by === me.id;
                return (
                  <Table.Tr key={e.id}>
                    <Table.Td ff="monospace">{e.rule_id}</Table.Td>
                    <Table.Td>{scopeName(e)}</Table.Td>
                    <Table.Td>
                      <Text size="sm" lineClamp={2}>
                        {e.reason}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <StatusBadge status={e.status} />
                    </Table.Td>
                    <Table.Td>{e.created_by_name ?? "—"}</Table.Td>
                    <Table.Td>{e.approved_by_name ?? "—"}</Table.Td>
                    <Table.Td>{e.expires_at ? formatDate(e.expires_at) : "never"}</Table.Td>
                    {canManage && (
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          {e.status === "pending_approval" && !mine && (
                            <>
                              <Button size="compact-xs" color="green" onClick={() => approve.mutate(e.id)} aria-label={`Approve exception for ${e.rule_id}`}>
                                Approve
                              </Button>
                              <Button size="compact-xs" color="red" variant="light" onClick={() => setRejecting(e)} aria-label={`Reject exception for ${e.rule_id}`}>
                                Reject
                              </Button>
                            </>
                          )}
                          {e.status === "pending_approval" && mine && (
                            <Text size="xs" c="dimmed">
                              awaiting another approver
                            </Text>
                          )}
                          {e.status === "active" && (
                            <Button size="compact-xs" variant="subtle" onClick={() => setEditing(e)} aria-label={`Edit exception for ${e.rule_id}`}>
                              Edit
                            </Button>
                          )}
                          {(e.status === "active" || e.status === "pending_approval") && (
                            <Button
                              size="compact-xs"
                              variant="subtle"
                              color="red"
                              onClick={() => window.confirm(`Revoke the exception for ${e.rule_id}?`) && revoke.mutate(e)}
                              aria-label={`Revoke exception for ${e.rule_id}`}
                            >
                              Revoke
                            </Button>
                          )}
                        </Group>
                      </Table.Td>
                    )}
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
          {exceptions.data.items.length === 0 && <Text c="dimmed">No exception.</Text>}
          <Pager page={page} pageSize={pageSize} total={exceptions.data.total} onPage={setPage} onPageSize={(s) => (setPageSize(s), setPage(1))} label="exceptions" />
        </>
      )}
      <CreateExceptionModal opened={creating} onClose={() => setCreating(false)} />
      <EditExceptionModal exception={editing} onClose={() => setEditing(null)} />
      <RejectModal
        title={`Reject exception for ${rejecting?.rule_id ?? ""}`}
        opened={rejecting !== null}
        onClose={() => setRejecting(null)}
        onReject={(reason) => rejecting && reject.mutate({ id: rejecting.id, reason })}
      />
    </Stack>
  );
}
