// Names for ids the list endpoints return bare (scans and change records carry host_id and policy_id only).
import { useQueries, useQuery } from "@tanstack/react-query";
import { api, unwrap, unwrapPage } from "../api/client";

/** Hostnames for the hosts on screen: one page of the organization's hosts, then GET /hosts/{id} for the rest. */
export function useHostNames(orgId: string, hostIds: string[] = []): (hostId: string) => string {
  const hosts = useQuery({
    queryKey: ["hosts", "names", orgId],
    queryFn: () => unwrapPage(api.GET("/api/v1/hosts", { params: { query: { org_id: orgId, page_size: 100 } } })),
    staleTime: 60_000,
  });
  const names = new Map((hosts.data?.items ?? []).map((h) => [h.id, h.hostname]));
  const missing = hosts.data ? [...new Set(hostIds)].filter((id) => !names.has(id)) : [];
  const extra = useQueries({
    queries: missing.map((id) => ({
      queryKey: ["host", id],
      queryFn: () => unwrap(api.GET("/api/v1/hosts/{host_id}", { params: { path: { host_id: id } } })),
      staleTime: 300_000,
    })),
  });
  extra.forEach((q) => q.data && names.set(q.data.id, q.data.hostname));
  return (hostId) => names.get(hostId) ?? hostId.slice(0, 8);
}

export function usePolicyNames(orgId: string): (policyId: string) => string {
  const policies = useQuery({
    queryKey: ["policies", orgId, "names"],
    queryFn: () => unwrapPage(api.GET("/api/v1/compliance/policies", { params: { query: { org_id: orgId, page_size: 100 } } })),
    staleTime: 60_000,
  });
  const names = new Map((policies.data?.items ?? []).map((p) => [p.id, p.name ?? `${p.os_type} policy`]));
  return (policyId) => names.get(policyId) ?? policyId.slice(0, 8);
}
