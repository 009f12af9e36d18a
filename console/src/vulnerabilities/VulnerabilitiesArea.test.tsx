import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MantineProvider } from "@mantine/core";
import { QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { api, setAccessToken } from "../api/client";
import { makeQueryClient } from "../api/queryClient";
import { SessionProvider } from "../auth/session";
import VulnerabilitiesArea from "./VulnerabilitiesArea";

const ORG = "00000000-0000-0000-0000-000000000001";
const HOST = "00000000-0000-0000-0000-0000000000aa";
const DEPLOYMENT = "00000000-0000-0000-0000-0000000000dd";
const VIEW = ["compliance.view"];
const MANAGE = ["compliance.view", "compliance.manage"];

const me = (permissions: string[]) => ({
  id: "u1",
  username: "pat",
  is_admin: false,
  permissions_everywhere: [],
  memberships: [{ org_id: ORG, org_name: "Demo", role: permissions.length > 1 ? "operator" : "viewer", permissions }],
});
const cve = {
  cve_id: "CVE-2023-4911",
  description: "A buffer overflow in ld.so",
  severity: "high",
  cvss_score: 7.8,
  cvss_version: "3.1",
  kev: true,
  known_ransomware: false,
  affected_hosts: 3,
  resolved_hosts: 1,
  published: null,
  last_modified: null,
};
const hostRow = {
  id: "hv1",
  org_id: ORG,
  host_id: HOST,
  hostname: "web-01",
  cve_id: "CVE-2023-4911",
  package: "glibc",
  installed_version: "2.36-9+deb12u1",
  fixed_version: "2.36-9+deb12u3",
  patch_id: "p1",
  status: "open",
  first_seen: "2026-11-30T10:00:00Z",
  last_seen: "2026-11-30T10:00:00Z",
  resolved_at: null,
};
const deployment = {
  id: DEPLOYMENT,
  org_id: ORG,
  status: "soaking",
  automatic: true,
  ring_set_id: "rs1",
  ring_set_name: "Default rings",
  current_ring: 0,
  needs_approval: false,
  reason: null,
  workflow_id: `patch-deployment-${DEPLOYMENT}`,
  created_by: null,
  started_at: null,
  soak_until: null,
  finished_at: null,
  created_at: "2026-11-30T10:00:00Z",
  updated_at: "2026-11-30T10:00:00Z",
  patches: [{ id: "p1", ecosystem: "Debian:12", package: "glibc", fixed_version: "2.36-9+deb12u3" }],
  rings: [
    { index: 0, name: "Canary", host_group_id: "g1", soak_minutes: 30, max_failure_rate: 0.1, status: "soaking", hosts: 2, succeeded: 2, failed: 0,
      host_jobs: [{ host_id: HOST, hostname: "web-01", ring_index: 0, job_id: "j1", status: "succeeded", packages: [{ name: "libc6", version: "2.36-9+deb12u3" }], installed: [{ name: "libc6", version: "2.36-9+deb12u3" }], output: null, completed_at: null }] },
    { index: 1, name: "Everyone else", host_group_id: null, soak_minutes: 0, max_failure_rate: 0.2, status: "pending", hosts: 5, succeeded: 0, failed: 0, host_jobs: [] },
  ],
};

const ANSWERS: Record<string, unknown> = {
  "/api/v1/vulnerabilities": [cve],
  "/api/v1/vulnerabilities/{cve_id}": { ...cve, hosts: [hostRow], patches: deployment.patches },
  "/api/v1/patch-deployments": [deployment],
  "/api/v1/patch-deployments/{deployment_id}": deployment,
  "/api/v1/orgs/{org_id}/vulnerability-policy": { org_id: ORG, min_severity: "high", kev_always: true, auto_deploy: false, auto_approve_min_severity: "critical", ring_set_id: null, updated_at: null },
  "/api/v1/orgs/{org_id}/ring-sets": [],
  "/api/v1/host-groups": [],
  "/api/v1/console/config": { temporal_ui_url: "http://temporal", namespace: "default" },
};

function mockApi(permissions: string[]) {
  vi.spyOn(api, "GET").mockImplementation(((path: string) => {
    const body = path === "/api/v1/auth/me" ? me(permissions) : ANSWERS[path];
    const headers: Record<string, string> = Array.isArray(body) ? { "X-Total-Count": String(body.length === 1 && path === "/api/v1/vulnerabilities" ? 137 : body.length) } : {};
    return Promise.resolve({ data: body, response: new Response(JSON.stringify(body ?? null), { status: body === undefined ? 404 : 200, headers }) });
  }) as never);
}

function renderAt(path: string) {
  return render(
    <MantineProvider>
      <QueryClientProvider client={makeQueryClient()}>
        <MemoryRouter initialEntries={[path]}>
          <SessionProvider fallback={<p>loading</p>}>
            <Routes>
              <Route path="/vulnerabilities/:tab/:id?" element={<VulnerabilitiesArea />} />
            </Routes>
          </SessionProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

beforeEach(() => setAccessToken("token"));
afterEach(() => {
  vi.restoreAllMocks();
  setAccessToken(null);
});

describe("the Vulnerabilities area", () => {
  it("lists CVEs with KEV badges, affected-host counts and the server's total, and opens a CVE's hosts and patches", async () => {
    mockApi(VIEW);
    renderAt("/vulnerabilities/cves");
    const table = await screen.findByRole("table", { name: "Vulnerabilities" }, { timeout: 5000 });
    const row = within(table).getByRole("row", { name: /CVE-2023-4911/ });
    expect(within(row).getByText("KEV")).toBeInTheDocument();
    expect(within(table).getByLabelText("3 affected hosts")).toBeInTheDocument();
    expect(screen.getByText("137 CVEs")).toBeInTheDocument();
    expect(screen.getByRole("tab", { name: "CVEs" })).toHaveAttribute("aria-selected", "true");
    await userEvent.click(within(table).getByRole("link", { name: "CVE-2023-4911" }));
    const hosts = await screen.findByRole("table", { name: "Affected hosts" });
    expect(within(hosts).getByRole("link", { name: "web-01" })).toBeInTheDocument();
    expect(within(hosts).getByText("2.36-9+deb12u3")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Deploy glibc/ })).not.toBeInTheDocument();
  });

  it("shows a deployment's rings with their progress and host jobs", async () => {
    mockApi(MANAGE);
    renderAt(`/vulnerabilities/deployments/${DEPLOYMENT}`);
    expect(await screen.findByRole("progressbar", { name: "Ring 1 progress" })).toBeInTheDocument();
    expect(screen.getByText("2 of 2 hosts done: 2 succeeded, 0 failed")).toBeInTheDocument();
    expect(screen.getByRole("progressbar", { name: "Ring 2 progress" })).toBeInTheDocument();
    expect(within(screen.getByRole("table", { name: "Ring 1 host jobs" })).getByText("succeeded")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Cancel deployment" })).toBeInTheDocument();
  });

  it("gives a viewer no mutation control and an operator every one", async () => {
    mockApi(VIEW);
    const viewer = renderAt("/vulnerabilities/policy");
    expect(await screen.findByRole("table", { name: "Ring sets" })).toBeInTheDocument();
    expect(await screen.findByRole("textbox", { name: "Minimum severity" })).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Save policy" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "New ring set" })).not.toBeInTheDocument();
    viewer.unmount();
    vi.restoreAllMocks();

    mockApi(MANAGE);
    renderAt("/vulnerabilities/policy");
    expect(await screen.findByRole("button", { name: "Save policy" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "New ring set" }));
    expect(await screen.findByRole("textbox", { name: "Ring 1 name" })).toHaveValue("Canary");
  });
});
