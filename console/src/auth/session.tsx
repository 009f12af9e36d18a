// Who is signed in, which organization they work in, and what their permissions let them do there.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router-dom";
import { api, getAccessToken, onSessionExpired, setAccessToken, unwrap, unwrapPage, type Schemas } from "../api/client";

export type Role = Schemas["MembershipOut"]["role"];

export interface OrgChoice {
  id: string;
  name: string;
  role: Role;
  permissions: string[];
}

export const MANAGE = "compliance.manage";
export const APPROVE_CHANGES = "changes.approve";

export interface Session {
  me: Schemas["MeOut"];
  orgs: OrgChoice[];
  org: OrgChoice | null;
  selectOrg: (orgId: string) => void;
  canManage: boolean;
  canApproveChanges: boolean;
  signOut: (message?: string) => void;
}

const SessionContext = createContext<Session | null>(null);
export const SESSION_EXPIRED = "Your session expired, sign in again";
const ORG_KEY = "cops.org";

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

/** The organization every tab works in (null only for a user with no organization). */
export function useOrgId(): string {
  return useSession().org?.id ?? "";
}

/** What the API lets the user do in the organization: permissions by name, as GET /auth/me lists them. */
export function holds(org: OrgChoice | null, permission: string): boolean {
  return org?.permissions.includes(permission) ?? false;
}

export async function signIn(username: string, password: string): Promise<void> {
  const body = new URLSearchParams({ username, password });
  const response = await fetch("/api/v1/auth/token", {
    method: "POST",
    body,
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (!response.ok) {
    const detail = response.status === 401 ? "Incorrect username or password" : `Sign-in failed (${response.status})`;
    throw new Error(detail);
  }
  const token = (await response.json()) as Schemas["TokenOut"];
  setAccessToken(token.access_token);
}

export function SessionProvider({ children, fallback }: { children: ReactNode; fallback: ReactNode }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [orgId, setOrgId] = useState<string | null>(() => sessionStorage.getItem(ORG_KEY));

  const signOut = useCallback(
    (message?: string) => {
      setAccessToken(null);
      queryClient.clear();
      navigate("/login", { replace: true, state: message ? { message } : undefined });
    },
    [navigate, queryClient],
  );

  useEffect(() => {
    onSessionExpired(() => signOut(SESSION_EXPIRED));
    return () => onSessionExpired(null);
  }, [signOut]);

  const me = useQuery({
    queryKey: ["me"],
    queryFn: () => unwrap(api.GET("/api/v1/auth/me")),
    enabled: getAccessToken() !== null,
    staleTime: 60_000,
  });
  const platformAdmin = me.data?.is_admin ?? false;
  const allOrgs = useQuery({
    queryKey: ["orgs", "all"],
    queryFn: () => unwrapPage(api.GET("/api/v1/orgs", { params: { query: { page_size: 100 } } })),
    enabled: platformAdmin,
  });

  const orgs = useMemo<OrgChoice[]>(() => {
    const mine = (me.data?.memberships ?? []).map((m) => ({
      id: m.org_id,
      name: m.org_name,
      role: m.role,
      permissions: m.permissions,
    }));
    if (!platformAdmin) return mine;
    const everywhere = me.data?.permissions_everywhere ?? [];
    const known = new Set(mine.map((o) => o.id));
    const others = (allOrgs.data?.items ?? [])
      .filter((o) => !known.has(o.id))
      .map((o) => ({ id: o.id, name: o.name, role: "admin" as Role, permissions: everywhere }));
    return [...mine, ...others].sort((a, b) => a.name.localeCompare(b.name));
  }, [me.data, platformAdmin, allOrgs.data]);

  const org = orgs.find((o) => o.id === orgId) ?? orgs[0] ?? null;
  const selectOrg = useCallback(
    (id: string) => {
      sessionStorage.setItem(ORG_KEY, id);
      setOrgId(id);
    },
    [],
  );

  if (getAccessToken() === null) {
    return <NavigateToLogin />;
  }
  if (!me.data || (platformAdmin && allOrgs.isPending)) return <>{fallback}</>;
  const session: Session = {
    me: me.data,
    orgs,
    org,
    selectOrg,
    canManage: holds(org, MANAGE),
    canApproveChanges: holds(org, APPROVE_CHANGES),
    signOut,
  };
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

function NavigateToLogin() {
  const navigate = useNavigate();
  useEffect(() => navigate("/login", { replace: true }), [navigate]);
  return null;
}
