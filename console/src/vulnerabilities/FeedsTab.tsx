// Where the CVE data comes from: each source's status, a clear label on the bundled sample feed, and (platform
// administrators) sync, match and the air-gapped import of a source's own document.
import { useState } from "react";
import { Alert, Button, Code, FileInput, Group, Loader, Select, Stack, Table, Text, Title } from "@mantine/core";
import { api, unwrap } from "../api/client";
import { useSession } from "../auth/session";
import { ListError } from "../components/ListError";
import { useApiMutation } from "../components/mutations";
import { formatDate } from "../components/format";
import { StateBadge } from "./Badges";
import { feedLabel, isSampleFeed } from "./format";
import { useFeeds, type Feed } from "./queries";

export function FeedsTab() {
  const { me } = useSession();
  const feeds = useFeeds();
  const sample = feeds.data?.items.some(isSampleFeed) ?? false;
  return (
    <Stack>
      {feeds.isError ? (
        <ListError what="feed status" error={feeds.error} onRetry={() => feeds.refetch()} />
      ) : feeds.isPending ? (
        <Loader role="status" aria-label="Loading feed status" />
      ) : (
        <>
          {sample && (
            <Alert color="grape" title="Sample feed" role="note">
              These CVEs come from the small sample bundled with <Code>make run</Code> (stack/sample_feed): real CVEs and fixed versions,
              but not the real sources and far from complete. Sync the real feeds, or import their documents, to see this fleet's real
              exposure (README, "Vulnerabilities").
            </Alert>
          )}
          <Table striped aria-label="Feed status">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Source</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Last success</Table.Th>
                <Table.Th>Last attempt</Table.Th>
                <Table.Th>Records written</Table.Th>
                <Table.Th>Stored</Table.Th>
                <Table.Th>Last error</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {feeds.data.items.map((f) => (
                <Table.Tr key={f.source}>
                  <Table.Td>{feedLabel(f.source)}</Table.Td>
                  <Table.Td>
                    <StateBadge status={f.status} />
                  </Table.Td>
                  <Table.Td>{formatDate(f.last_success_at)}</Table.Td>
                  <Table.Td>{formatDate(f.last_attempt_at)}</Table.Td>
                  <Table.Td>{f.records}</Table.Td>
                  <Table.Td>{f.stored ?? 0}</Table.Td>
                  <Table.Td>
                    <Text size="sm" c={f.last_error ? "red" : "dimmed"} lineClamp={2} maw={360}>
                      {f.last_error ?? "—"}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </>
      )}
      {me.is_admin ? <FeedActions /> : <Text size="sm" c="dimmed">Platform administrators sync and import the feeds.</Text>}
    </Stack>
  );
}

function FeedActions() {
  const [source, setSource] = useState<Feed["source"] | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const sync = useApiMutation({
    run: () => unwrap(api.POST("/api/v1/vulnerabilities/feeds/sync")),
    success: "Feed sync started; matching follows it",
    invalidate: [["vuln", "feeds"]],
  });
  const match = useApiMutation({
    run: () => unwrap(api.POST("/api/v1/vulnerabilities/match")),
    success: "Matching started: hosts are asked for fresh inventories",
    invalidate: [["vuln"]],
  });
  const upload = useApiMutation({
    run: ({ source, file }: { source: Feed["source"]; file: File }) =>
      unwrap(
        api.POST("/api/v1/vulnerabilities/feeds/{source}/import", {
          params: { path: { source } },
          body: file as never,
          bodySerializer: (body: unknown) => body as BodyInit,
          headers: { "Content-Type": file.name.endsWith(".zip") ? "application/zip" : "application/json" },
        }),
      ),
    success: (r) => `${r.source}: ${r.written} records written`,
    invalidate: [["vuln"]],
    onSuccess: () => setFile(null),
  });
  return (
    <Stack gap="xs">
      <Title order={3} size="h4">
        Feed actions
      </Title>
      <Group>
        <Button onClick={() => sync.mutate(undefined)} loading={sync.isPending}>
          Sync feeds
        </Button>
        <Button variant="light" onClick={() => match.mutate(undefined)} loading={match.isPending}>
          Match now
        </Button>
      </Group>
      <Group align="end">
        <Select
          label="Source to import"
          data={[
            { value: "nvd", label: "NVD (a CVE API 2.0 response page)" },
            { value: "kev", label: "KEV (the catalog JSON)" },
            { value: "osv", label: "OSV (all.zip or a JSON array)" },
          ]}
          value={source}
          onChange={(v) => setSource(v as Feed["source"] | null)}
          w={300}
        />
        <FileInput label="Document" placeholder="Choose the file as published" value={file} onChange={setFile} accept=".json,.zip" w={280} clearable />
        <Button variant="light" disabled={!source || !file} loading={upload.isPending} onClick={() => source && file && upload.mutate({ source, file })}>
          Import document
        </Button>
      </Group>
    </Stack>
  );
}
