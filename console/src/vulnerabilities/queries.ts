// Server state of the Vulnerabilities area: one hook per endpoint of DESIGN §7, keyed under "vuln".
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap, unwrapPage, type Schemas } from "../api/client";

export type Cve = Schemas["CveOut"];
export type CveDetail = Schemas["CveDetailOut"];
export type Severity = NonNullable<Cve["severity"]>;
export type HostVulnerability = Schemas["HostVulnerabilityOut"];
export type Deployment = Schemas["PatchDeploymentOut"];
export type DeploymentDetail = Schemas["PatchDeploymentDetailOut"];
export type DeploymentStatus = Deployment["status"];
export type RingSet = Schemas["RingSetOut"];
export type RingIn = Schemas["RingIn"];
export type Policy = Schemas["VulnerabilityPolicyOut"];
export type Patch = Schemas["PatchOut"];
export type Feed = Schemas["FeedStatusOut"];

export const SEVERITIES: Severity[] = ["critical", "high", "medium", "low"];
export const DEPLOYMENT_STATUSES: DeploymentStatus[] = [
  "pending_approval",
  "running",
  "soaking",
  "completed",
  "halted",
  "cancelled",
  "skipped_paused",
];
/** Deployments that can still change: polled, and the ones Cancel applies to. */
export const ACTIVE_DEPLOYMENT: DeploymentStatus[] = ["pending_approval", "running", "soaking"];

export interface CveFilters {
  search: string;
  severity: Severity | null;
  kev: boolean | null;
  status: "open" | "resolved" | null;
  page: number;
  pageSize: number;
}

export function useCves(orgId: string, f: CveFilters) {
  return useQuery({
    queryKey: ["vuln", "cves", orgId, f],
    queryFn: () =>
      unwrapPage(
        api.GET("/api/v1/vulnerabilities", {
          params: {
            query: {
              org_id: orgId,
              search: f.search || undefined,
              severity: f.severity ?? undefined,
              kev: f.kev ?? undefined,
              status: f.status ?? undefined,
              page: f.page,
              page_size: f.pageSize,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useCve(orgId: string, cveId: string | null) {
  return useQuery({
    queryKey: ["vuln", "cve", orgId, cveId],
    queryFn: () => unwrap(api.GET("/api/v1/vulnerabilities/{cve_id}", { params: { path: { cve_id: cveId! }, query: { org_id: orgId } } })),
    enabled: Boolean(cveId),
  });
}

export function useHostVulnerabilities(hostId: string | null, status: "open" | "resolved" | null, page: number, pageSize: number) {
  return useQuery({
    queryKey: ["vuln", "host-vulnerabilities", hostId, status, page, pageSize],
    queryFn: () =>
      unwrapPage(
        api.GET("/api/v1/hosts/{host_id}/vulnerabilities", {
          params: { path: { host_id: hostId! }, query: { status: status ?? undefined, page, page_size: pageSize } },
        }),
      ),
    enabled: Boolean(hostId),
    placeholderData: keepPreviousData,
  });
}

export function useHostPackages(hostId: string | null, search: string, page: number, pageSize: number) {
  return useQuery({
    queryKey: ["vuln", "host-packages", hostId, search, page, pageSize],
    queryFn: () =>
      unwrapPage(
        api.GET("/api/v1/hosts/{host_id}/packages", {
          params: { path: { host_id: hostId! }, query: { search: search || undefined, page, page_size: pageSize } },
        }),
      ),
    enabled: Boolean(hostId),
    placeholderData: keepPreviousData,
  });
}

export function useFeeds() {
  return useQuery({
    queryKey: ["vuln", "feeds"],
    queryFn: () => unwrapPage(api.GET("/api/v1/vulnerabilities/feeds")),
  });
}

export function usePatches(orgId: string) {
  return useQuery({
    queryKey: ["vuln", "patches", orgId],
    queryFn: () => unwrapPage(api.GET("/api/v1/patches", { params: { query: { org_id: orgId, page_size: 100 } } })),
  });
}

export function useDeployments(orgId: string, status: DeploymentStatus | null, page: number, pageSize: number) {
  return useQuery({
    queryKey: ["vuln", "deployments", orgId, status, page, pageSize],
    queryFn: () =>
      unwrapPage(
        api.GET("/api/v1/patch-deployments", {
          params: { query: { org_id: orgId, status: status ?? undefined, page, page_size: pageSize } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (query.state.data?.items.some((d) => ACTIVE_DEPLOYMENT.includes(d.status)) ? 5000 : false),
  });
}

export function useDeployment(deploymentId: string | null) {
  return useQuery({
    queryKey: ["vuln", "deployment", deploymentId],
    queryFn: () => unwrap(api.GET("/api/v1/patch-deployments/{deployment_id}", { params: { path: { deployment_id: deploymentId! } } })),
    enabled: Boolean(deploymentId),
    refetchInterval: (query) => (query.state.data && ACTIVE_DEPLOYMENT.includes(query.state.data.status) ? 3000 : false),
  });
}

export function useRingSets(orgId: string) {
  return useQuery({
    queryKey: ["vuln", "ring-sets", orgId],
    queryFn: () => unwrapPage(api.GET("/api/v1/orgs/{org_id}/ring-sets", { params: { path: { org_id: orgId }, query: { page_size: 100 } } })),
  });
}

export function usePolicy(orgId: string) {
  return useQuery({
    queryKey: ["vuln", "policy", orgId],
    queryFn: () => unwrap(api.GET("/api/v1/orgs/{org_id}/vulnerability-policy", { params: { path: { org_id: orgId } } })),
  });
}
