// Templates: system and custom, copy into an organization, edit, publish, new versions, delete, export/import.
import { useState } from "react";
import { Badge, Button, Group, Loader, Modal, Select, Stack, Table, Text, Textarea, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap, unwrapPage, type Schemas } from "../api/client";
import { useOrgId, useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { Pager } from "../components/Pager";
import { StatusBadge } from "../components/StatusBadge";
import { useApiMutation } from "../components/mutations";
import { TemplateEditor } from "./TemplateEditor";

type Template = Schemas["TemplateSummaryOut"];

export function TemplatesTab() {
  const { canManage } = useSession();
  const [copying, setCopying] = useState<Template | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [importing, setImporting] = useState(false);
  const actions = { onCopy: setCopying, onEdit: setEditing };
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} size="h5">
          Organization templates
        </Title>
        {canManage && (
          <Button variant="light" onClick={() => setImporting(true)}>
            Import template
          </Button>
        )}
      </Group>
      <TemplateTable kind="organization" label="Organization templates" {...actions} onVersion={setEditing} />
      <Title order={2} size="h5">
        System templates
      </Title>
      <Text c="dimmed" size="sm">
        System templates are read-only: copy one into your organization to tailor it.
      </Text>
      <TemplateTable kind="system" label="System templates" {...actions} onVersion={setEditing} />
      <CopyModal template={copying} onClose={() => setCopying(null)} onCopied={(id) => setEditing(id)} />
      <ImportModal opened={importing} onClose={() => setImporting(false)} />
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title="Template" size="90%">
        {editing && <TemplateEditor templateId={editing} onClose={() => setEditing(null)} onSwitch={setEditing} />}
      </Modal>
    </Stack>
  );
}

function TemplateTable(props: {
  kind: "system" | "organization";
  label: string;
  onCopy: (t: Template) => void;
  onEdit: (id: string) => void;
  onVersion: (id: string) => void;
}) {
  const { kind, label, onCopy, onEdit, onVersion } = props;
  const orgId = useOrgId();
  const { canManage } = useSession();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(kind === "system" ? 10 : 25);
  const templates = useQuery({
    queryKey: ["templates", kind, orgId, page, pageSize],
    queryFn: () =>
      unwrapPage(
        api.GET("/api/v1/compliance/templates", {
          params: { query: kind === "system" ? { is_system: true, page, page_size: pageSize } : { org_id: orgId, page, page_size: pageSize } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const newVersion = useApiMutation({
    run: (t: Template) =>
      unwrap(api.POST("/api/v1/compliance/templates/{template_id}/versions", { params: { path: { template_id: t.id } } })),
    success: (t) => `Draft version ${t.version} of ${t.name} created`,
    invalidate: [["templates"]],
    onSuccess: (t) => onVersion(t.id),
  });
  const remove = useApiMutation({
    run: (t: Template) =>
      unwrap(api.DELETE("/api/v1/compliance/templates/{template_id}", { params: { path: { template_id: t.id } } })),
    success: (_r, t) => `Template ${t.name} v${t.version} deleted`,
    invalidate: [["templates"]],
  });

  async function exportTemplate(t: Template) {
    try {
      const document = await unwrap(
        api.GET("/api/v1/compliance/templates/{template_id}/export", { params: { path: { template_id: t.id } } }),
      );
      const blob = new Blob([JSON.stringify(document, null, 2)], { type: "application/json" });
      const href = URL.createObjectURL(blob);
      const link = Object.assign(window.document.createElement("a"), { href, download: `${t.name}-v${t.version}.json` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(href), 1000);
      notifications.show({ color: "green", title: "Done", message: `${t.name} v${t.version} exported` });
    } catch (e) {
      notifications.show({ color: "red", title: "Failed", message: (e as Error).message });
    }
  }

  if (templates.isError) return <ListError what={label.toLowerCase()} error={templates.error} onRetry={() => templates.refetch()} />;
  if (templates.isPending) return <Loader role="status" aria-label={`Loading ${label.toLowerCase()}`} />;
  return (
    <>
      <Table striped highlightOnHover aria-label={label}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>OS</Table.Th>
            <Table.Th>Framework</Table.Th>
            <Table.Th>Version</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>Checks</Table.Th>
            <Table.Th>Actions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {templates.data.items.map((t) => {
            const editable = canManage && !t.is_system && t.status === "draft";
            return (
              <Table.Tr key={t.id}>
                <Table.Td>{t.name}</Table.Td>
                <Table.Td>{t.os_type}</Table.Td>
                <Table.Td>{t.framework}</Table.Td>
                <Table.Td>v{t.version}</Table.Td>
                <Table.Td>
                  <StatusBadge status={t.status} />
                </Table.Td>
                <Table.Td>
                  <Badge variant="filled" color={t.is_system ? "blue" : "grape"}>
                    {t.is_system ? "system" : "custom"}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  {t.enabled_check_count}/{t.check_count}
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button size="compact-xs" variant="subtle" onClick={() => onEdit(t.id)} aria-label={`${editable ? "Edit" : "View"} ${t.name} v${t.version}`}>
                      {editable ? "Edit" : "View"}
                    </Button>
                    {canManage && (
                      <Button size="compact-xs" variant="subtle" onClick={() => onCopy(t)} aria-label={`Copy ${t.name} v${t.version}`}>
                        Copy
                      </Button>
                    )}
                    {canManage && !t.is_system && t.status === "published" && (
                      <Button size="compact-xs" variant="subtle" onClick={() => newVersion.mutate(t)} aria-label={`New Version of ${t.name} v${t.version}`}>
                        New Version
                      </Button>
                    )}
                    <Button size="compact-xs" variant="subtle" onClick={() => exportTemplate(t)} aria-label={`Export ${t.name} v${t.version}`}>
                      Export
                    </Button>
                    {canManage && !t.is_system && (
                      <Button
                        size="compact-xs"
                        variant="subtle"
                        color="red"
                        onClick={() => window.confirm(`Delete ${t.name} v${t.version}?`) && remove.mutate(t)}
                        aria-label={`Delete ${t.name} v${t.version}`}
                      >
                        Delete
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {templates.data.items.length === 0 && (
        <Text c="dimmed" size="sm">
          {kind === "system" ? "No system template." : "No template in this organization yet: copy a system template or import one."}
        </Text>
      )}
      <Pager
        page={page}
        pageSize={pageSize}
        total={templates.data.total}
        onPage={setPage}
        onPageSize={(s) => (setPageSize(s), setPage(1))}
        label={label.toLowerCase()}
      />
    </>
  );
}

function CopyModal({ template, onClose, onCopied }: { template: Template | null; onClose: () => void; onCopied: (id: string) => void }) {
  const session = useSession();
  const targets = session.orgs.filter((o) => session.me.is_admin || o.role !== "viewer");
  const [orgId, setOrgId] = useState<string | null>(session.org?.id ?? null);
  const [name, setName] = useState("");
  const copy = useApiMutation({
    run: () =>
      unwrap(
        api.POST("/api/v1/compliance/templates/{template_id}/copy", {
          params: { path: { template_id: template!.id } },
          body: { org_id: orgId!, name: name || `${template!.name} (copy)` },
        }),
      ),
    success: (t) => `Copied as draft "${t.name}"`,
    invalidate: [["templates"]],
    onSuccess: (t) => {
      onClose();
      setName("");
      onCopied(t.id);
    },
  });
  return (
    <Modal opened={template !== null} onClose={onClose} title={`Copy ${template?.name ?? ""}`}>
      <Stack>
        <Select
          label="Target organization"
          data={targets.map((o) => ({ value: o.id, label: o.name }))}
          value={orgId}
          onChange={setOrgId}
          allowDeselect={false}
        />
        <TextInput
          label="Name"
          placeholder={`${template?.name ?? ""} (copy)`}
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <Button onClick={() => copy.mutate(undefined)} loading={copy.isPending} disabled={!orgId}>
          Copy template
        </Button>
      </Stack>
    </Modal>
  );
}

function ImportModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const orgId = useOrgId();
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const importDoc = useApiMutation({
    run: (document: Record<string, unknown>) =>
      unwrap(api.POST("/api/v1/compliance/templates/import", { body: { org_id: orgId, document } })),
    success: (t) => `Imported "${t.name}" as a draft`,
    invalidate: [["templates"]],
    onSuccess: () => {
      setText("");
      onClose();
    },
  });
  function submit() {
    try {
      const document = JSON.parse(text) as Record<string, unknown>;
      setProblem(null);
      importDoc.mutate(document);
    } catch {
      setProblem("The document is not valid JSON");
    }
  }
  async function readFile(file: File | undefined) {
    if (file) setText(await file.text());
  }
  return (
    <Modal opened={opened} onClose={onClose} title="Import template">
      <Stack>
        <input type="file" accept="application/json,.json" aria-label="Portability document file" onChange={(e) => readFile(e.currentTarget.files?.[0])} />
        <Textarea
          label="Portability document (JSON)"
          autosize
          minRows={6}
          maxRows={16}
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          error={problem}
        />
        <Button onClick={submit} loading={importDoc.isPending} disabled={!text.trim()}>
          Import
        </Button>
      </Stack>
    </Modal>
  );
}
