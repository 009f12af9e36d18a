export const VULN_TABS = [
  { path: "cves", label: "CVEs" },
  { path: "hosts", label: "Hosts" },
  { path: "deployments", label: "Deployments" },
  { path: "policy", label: "Policy & Rings" },
  { path: "feeds", label: "Feeds" },
] as const;

export type VulnTabPath = (typeof VULN_TABS)[number]["path"];

export function isVulnTab(value: string | undefined): value is VulnTabPath {
  return VULN_TABS.some((t) => t.path === value);
}

export const vulnPath = (tab: VulnTabPath, id?: string) => `/vulnerabilities/${tab}${id ? `/${encodeURIComponent(id)}` : ""}`;
