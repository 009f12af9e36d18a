// Searchable host and host-group pickers that ask the server as the user types.
import { useEffect, useState } from "react";
import { Select, Stack } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import { api, unwrapPage } from "../api/client";
import { ListError } from "./ListError";

interface PickerProps {
  orgId: string;
  label: string;
  value: string | null;
  onChange: (id: string | null) => void;
  required?: boolean;
  error?: string;
}

export function HostSelect({ orgId, label, value, onChange, required, error }: PickerProps) {
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search, 250);
  useEffect(() => {
    if (value === null) setSearch("");
  }, [value]);
  const hosts = useQuery({
    queryKey: ["hosts", "search", orgId, debounced],
    queryFn: () =>
      unwrapPage(api.GET("/api/v1/hosts", { params: { query: { org_id: orgId, search: debounced || undefined, page_size: 20 } } })),
    enabled: Boolean(orgId),
    placeholderData: (previous) => previous,
  });
  const data = (hosts.data?.items ?? []).map((h) => ({
    value: h.id,
    label: h.ip_address ? `${h.hostname} (${h.ip_address})` : h.hostname,
  }));
  return (
    <Stack gap={4}>
      <Select
        label={label}
        placeholder="Type to search hosts"
        searchable
        clearable
        required={required}
        data={data}
        value={value}
        onChange={onChange}
        searchValue={search}
        onSearchChange={setSearch}
        filter={({ options }) => options}
        nothingFoundMessage={hosts.isFetching ? "Searching…" : hosts.isError ? "Host search failed" : "No host found"}
        error={error}
        comboboxProps={{ withinPortal: true }}
      />
      {hosts.isError && <ListError what="hosts" error={hosts.error} onRetry={() => hosts.refetch()} />}
    </Stack>
  );
}

export function HostGroupSelect({ orgId, label, value, onChange, error }: PickerProps) {
  const [search, setSearch] = useState("");
  const groups = useQuery({
    queryKey: ["host-groups", orgId],
    queryFn: () => unwrapPage(api.GET("/api/v1/host-groups", { params: { query: { org_id: orgId, page_size: 100 } } })),
    enabled: Boolean(orgId),
  });
  const data = (groups.data?.items ?? []).map((g) => ({ value: g.id, label: g.name }));
  return (
    <Select
      label={label}
      placeholder="Type to search groups"
      searchable
      clearable
      data={data}
      value={value}
      onChange={onChange}
      searchValue={search}
      onSearchChange={setSearch}
      nothingFoundMessage={groups.isError ? "Host groups failed to load" : "No group found"}
      error={error ?? (groups.isError ? `Host groups failed to load: ${(groups.error as Error).message}` : undefined)}
    />
  );
}
