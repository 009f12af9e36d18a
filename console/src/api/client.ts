// The one door to the API: a typed client generated from the OpenAPI document, the bearer token, and errors.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The API's `detail`: a sentence, or FastAPI's list of validation errors. */
export function describeDetail(body: unknown, status: number): string {
  const detail = (body as { detail?: unknown } | null | undefined)?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => {
        const field = (d.loc ?? []).filter((p) => p !== "body" && p !== "query").join(".");
        return field ? `${field}: ${d.msg}` : String(d.msg);
      })
      .join("; ");
  }
  if (status === 403) return "You do not have permission to do this in this organization.";
  return `The server answered ${status}`;
}

/** A sentence for a failure; a 403 says plainly that the action is not allowed, and the API's reason. */
export function explainError(error: unknown): string {
  if (error instanceof ApiError && error.status === 403) return `Not allowed: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

let accessToken: string | null = sessionStorage.getItem("cops.token");
let onUnauthorized: (() => void) | null = null;

export function setAccessToken(token: string | null): void {
  accessToken = token;
  if (token) sessionStorage.setItem("cops.token", token);
  else sessionStorage.removeItem("cops.token");
}

export function getAccessToken(): string | null {
  return accessToken;
}

export function onSessionExpired(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (accessToken) request.headers.set("Authorization", `Bearer ${accessToken}`);
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !request.url.endsWith("/auth/token") && accessToken) onUnauthorized?.();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The body of a successful answer, or an ApiError carrying the API's detail. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, describeDetail(error, response.status));
  return data as T;
}

export interface Page<T> {
  items: T[];
  total: number;
}

/** A list endpoint's page and its X-Total-Count. */
export async function unwrapPage<T>(call: Promise<Result<T[]>>): Promise<Page<T>> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, describeDetail(error, response.status));
  const items = (data ?? []) as T[];
  const header = response.headers.get("X-Total-Count");
  return { items, total: header === null ? items.length : Number(header) };
}

/** Downloads an authenticated file (the CSV export) through a temporary object URL. */
export async function download(url: string, filename: string): Promise<void> {
  const response = await fetch(url, { headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {} });
  if (response.status === 401) onUnauthorized?.();
  if (!response.ok) {
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.status, describeDetail(body, response.status));
  }
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 1000);
}
