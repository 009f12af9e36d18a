export const TABS = [
  { path: "dashboard", label: "Dashboard" },
  { path: "templates", label: "Templates" },
  { path: "policies", label: "Policies" },
  { path: "hosts", label: "Host Compliance" },
  { path: "scans", label: "Scan History" },
  { path: "exceptions", label: "Exceptions" },
  { path: "reports", label: "Reports" },
] as const;

export type TabPath = (typeof TABS)[number]["path"];

export function isTab(value: string | undefined): value is TabPath {
  return TABS.some((t) => t.path === value);
}
