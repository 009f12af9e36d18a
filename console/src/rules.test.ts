import { describe, expect, it } from "vitest";
import { APPROVE_CHANGES, MANAGE, holds } from "./auth/session";
import { canApplyFix } from "./scans/ScanDetailModal";
import { parseRule } from "./templates/CheckForm";
import { scopeName } from "./exceptions/ExceptionsTab";
import { toInstant, toLocalInput } from "./exceptions/ExceptionForms";
import type { Schemas } from "./api/client";

const result = (overrides: Partial<Schemas["CheckResultOut"]>): Schemas["CheckResultOut"] => ({
  check_id: "c",
  rule_id: "5.2.8",
  title: "t",
  severity: "high",
  status: "fail",
  actual: null,
  remediation_type: "script",
  exception_id: null,
  remediation: null,
  ...overrides,
});

describe("what the console lets a user do", () => {
  it("lets the user do what their permissions in the organization name, and nothing without one", () => {
    const viewer = { id: "o", name: "O", role: "viewer" as const, permissions: ["compliance.view"] };
    const operator = { ...viewer, role: "operator" as const, permissions: ["compliance.view", MANAGE, APPROVE_CHANGES] };
    expect(holds(viewer, MANAGE)).toBe(false);
    expect(holds(viewer, APPROVE_CHANGES)).toBe(false);
    expect(holds(operator, MANAGE)).toBe(true);
    expect(holds(operator, APPROVE_CHANGES)).toBe(true);
    expect(holds(null, MANAGE)).toBe(false);
  });
  it("offers Apply Fix only on failed checks with a script or workflow and no fix in flight", () => {
    expect(canApplyFix(result({}))).toBe(true);
    expect(canApplyFix(result({ remediation_type: "workflow" }))).toBe(true);
    expect(canApplyFix(result({ remediation_type: "manual" }))).toBe(false);
    expect(canApplyFix(result({ status: "pass" }))).toBe(false);
    expect(canApplyFix(result({ remediation: { status: "pending_approval" } }))).toBe(false);
    expect(canApplyFix(result({ remediation: { status: "failed" } }))).toBe(true);
  });
});

describe("forms", () => {
  it("accepts only a JSON object as a check rule", () => {
    expect(parseRule('{"type": "sysctl", "key": "net.ipv4.ip_forward", "expect": "0"}')).toEqual({
      type: "sysctl",
      key: "net.ipv4.ip_forward",
      expect: "0",
    });
    expect(parseRule("[1, 2]")).toBeNull();
    expect(parseRule("{not json")).toBeNull();
  });
  it("round-trips an expiry through the datetime-local field", () => {
    const iso = toInstant("2027-01-31T17:30");
    expect(iso).not.toBeNull();
    expect(toLocalInput(iso)).toBe("2027-01-31T17:30");
    expect(toInstant("")).toBeNull();
  });
  it("shows an exception's scope by name", () => {
    const none = { host_id: null, host_group_id: null, hostname: null, host_group_name: null };
    expect(scopeName({ ...none, host_id: "h", hostname: "web-01" })).toBe("Host web-01");
    expect(scopeName({ ...none, host_group_id: "g", host_group_name: "DMZ" })).toBe("Group DMZ");
    expect(scopeName(none)).toBe("Whole organization");
  });
});
