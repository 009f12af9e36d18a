// Security > Vulnerabilities: CVEs, hosts, patch deployments, policy and ring sets, feeds — deep links
// /vulnerabilities/<tab>[/<id>] that survive a reload.
import type { ReactNode } from "react";
import { Tabs } from "@mantine/core";
import { Navigate, useNavigate, useParams } from "react-router-dom";
import { CveDetail } from "./CveDetail";
import { CvesTab } from "./CvesTab";
import { DeploymentDetail } from "./DeploymentDetail";
import { DeploymentsTab } from "./DeploymentsTab";
import { FeedsTab } from "./FeedsTab";
import { HostsTab } from "./HostsTab";
import { PolicyTab } from "./PolicyTab";
import { VULN_TABS, isVulnTab, vulnPath, type VulnTabPath } from "./tabs";

function content(tab: VulnTabPath, id: string | undefined): ReactNode {
  switch (tab) {
    case "cves":
      return id ? <CveDetail cveId={id} /> : <CvesTab />;
    case "hosts":
      return <HostsTab hostId={id ?? null} />;
    case "deployments":
      return id ? <DeploymentDetail deploymentId={id} /> : <DeploymentsTab />;
    case "policy":
      return <PolicyTab />;
    case "feeds":
      return <FeedsTab />;
  }
}

export default function VulnerabilitiesArea() {
  const { tab, id } = useParams();
  const navigate = useNavigate();
  if (!isVulnTab(tab)) return <Navigate to={vulnPath("cves")} replace />;
  return (
    <Tabs value={tab} onChange={(value) => value && navigate(vulnPath(value as VulnTabPath))} keepMounted>
      <Tabs.List aria-label="Vulnerabilities">
        {VULN_TABS.map((t) => (
          <Tabs.Tab key={t.path} value={t.path}>
            {t.label}
          </Tabs.Tab>
        ))}
      </Tabs.List>
      {VULN_TABS.map((t) => (
        <Tabs.Panel key={t.path} value={t.path} pt="md">
          {tab === t.path ? content(t.path, id) : null}
        </Tabs.Panel>
      ))}
    </Tabs>
  );
}
