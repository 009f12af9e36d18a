// Security > Compliance | Vulnerabilities: the header (areas, organization, user, approvals, sign-out), then the
// seven compliance tabs or the Vulnerabilities area.
import { lazy, Suspense, type ReactNode } from "react";
import { AppShell, Badge, Button, Center, Group, Loader, Select, Tabs, Text, Title } from "@mantine/core";
import { Navigate, useNavigate, useParams } from "react-router-dom";
import { useSession } from "../auth/session";
import { TABS, isTab, type TabPath } from "./tabs";
import { DashboardTab } from "../dashboard/DashboardTab";
import { TemplatesTab } from "../templates/TemplatesTab";
import { PoliciesTab } from "../policies/PoliciesTab";
import { HostComplianceTab } from "../hosts/HostComplianceTab";
import { ScanHistoryTab } from "../scans/ScanHistoryTab";
import { ExceptionsTab } from "../exceptions/ExceptionsTab";
import { ApprovalsView } from "../approvals/ApprovalsView";

// Recharts is only needed on Reports, and the Vulnerabilities area only when opened: keep both out of the initial
// bundle.
const ReportsTab = lazy(() => import("../reports/ReportsTab"));
const VulnerabilitiesArea = lazy(() => import("../vulnerabilities/VulnerabilitiesArea"));

export type Area = "compliance" | "vulnerabilities";
const AREAS: { area: Area; label: string; path: string }[] = [
  { area: "compliance", label: "Compliance", path: "/compliance/dashboard" },
  { area: "vulnerabilities", label: "Vulnerabilities", path: "/vulnerabilities/cves" },
];

const CONTENT: Record<TabPath, () => ReactNode> = {
  dashboard: () => <DashboardTab />,
  templates: () => <TemplatesTab />,
  policies: () => <PoliciesTab />,
  hosts: () => <HostComplianceTab />,
  scans: () => <ScanHistoryTab />,
  exceptions: () => <ExceptionsTab />,
  reports: () => (
    <Suspense fallback={<Loader role="status" aria-label="Loading reports" />}>
      <ReportsTab />
    </Suspense>
  ),
};

export function Shell({ area = "compliance" }: { area?: Area }) {
  const { tab } = useParams();
  const navigate = useNavigate();
  const session = useSession();
  const approvals = area === "compliance" && tab === "approvals";
  if (area === "compliance" && !approvals && !isTab(tab)) return <Navigate to="/compliance/dashboard" replace />;

  return (
    <AppShell header={{ height: 64 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="xs">
            <Text c="dimmed" size="sm">
              Security ›
            </Text>
            <Title order={1} size="h4">
              {area === "compliance" ? "Compliance" : "Vulnerabilities"}
            </Title>
            <Group gap={4} ml="md" component="nav" aria-label="Areas">
              {AREAS.map((a) => (
                <Button
                  key={a.area}
                  size="xs"
                  variant={a.area === area && !approvals ? "light" : "subtle"}
                  aria-current={a.area === area && !approvals ? "page" : undefined}
                  onClick={() => navigate(a.path)}
                >
                  {a.label}
                </Button>
              ))}
            </Group>
          </Group>
          <Group gap="sm">
            {session.orgs.length > 1 ? (
              <Select
                label="Organization"
                aria-label="Organization"
                size="xs"
                w={220}
                data={session.orgs.map((o) => ({ value: o.id, label: o.name }))}
                value={session.org?.id ?? null}
                onChange={(v) => v && session.selectOrg(v)}
                allowDeselect={false}
                searchable
              />
            ) : (
              <Text size="sm" aria-label="Organization">
                {session.org?.name ?? "No organization"}
              </Text>
            )}
            <Button
              variant={approvals ? "filled" : "light"}
              size="xs"
              onClick={() => navigate("/compliance/approvals")}
              aria-current={approvals ? "page" : undefined}
            >
              Approvals
            </Button>
            <Text size="sm">{session.me.username}</Text>
            <Badge variant="outline">{session.me.is_admin ? "platform admin" : (session.org?.role ?? "no role")}</Badge>
            <Button variant="subtle" size="xs" onClick={() => session.signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main>
        {!session.org ? (
          <Center>
            <Text>You are not a member of any organization yet. Ask an administrator to add you.</Text>
          </Center>
        ) : area === "vulnerabilities" ? (
          <Suspense fallback={<Loader role="status" aria-label="Loading vulnerabilities" />}>
            <VulnerabilitiesArea key={session.org.id} />
          </Suspense>
        ) : (
          <Tabs
            value={approvals ? null : tab}
            onChange={(value) => value && navigate(`/compliance/${value}`)}
            keepMounted
            key={session.org.id}
          >
            <Tabs.List aria-label="Compliance">
              {TABS.map((t) => (
                <Tabs.Tab key={t.path} value={t.path}>
                  {t.label}
                </Tabs.Tab>
              ))}
            </Tabs.List>
            {TABS.map((t) => (
              <Tabs.Panel key={t.path} value={t.path} pt="md">
                {tab === t.path ? CONTENT[t.path]() : null}
              </Tabs.Panel>
            ))}
            {approvals && <ApprovalsView />}
          </Tabs>
        )}
      </AppShell.Main>
    </AppShell>
  );
}
