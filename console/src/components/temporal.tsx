// Links from scans and remediations to their workflow in the Temporal Web UI.
import { Anchor } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

export function useConsoleConfig() {
  return useQuery({
    queryKey: ["console-config"],
    queryFn: () => unwrap(api.GET("/api/v1/console/config")),
    staleTime: Infinity,
  });
}

export function workflowUrl(base: string, namespace: string, workflowId: string): string {
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function TemporalLink({ workflowId, label }: { workflowId: string | null | undefined; label?: string }) {
  const config = useConsoleConfig();
  if (!workflowId || !config.data) return null;
  return (
    <Anchor href={workflowUrl(config.data.temporal_ui_url, config.data.namespace, workflowId)} target="_blank" rel="noreferrer" size="sm">
      {label ?? "Open workflow in Temporal UI"}
    </Anchor>
  );
}
