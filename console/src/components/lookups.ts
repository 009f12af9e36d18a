// Names for ids the list endpoints return bare (scans carry host_id and policy_id only).
import { useQuery } from "@tanstack/react-query";
import { api, unwrapPage } from "../api/client";

export function useHostNames(orgId: string): (hostId: string) => string {
  const hosts = useQuery({
    queryKey: ["hosts", "names", orgId],
    queryFn: () => unwrapPage(api.GET("/api/v1/hosts", { params: { query: { org_id: orgId, page_size: 100 } } })),
    staleTime: 60_000,
  });
  const names = new Map((hosts.data?.items ?? []).map((h) => [h.id, h.hostname]));
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
