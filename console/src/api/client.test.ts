import { describe, expect, it } from "vitest";
import { ApiError, describeDetail, explainError, unwrap, unwrapPage } from "./client";
import { shouldRetry } from "./queryClient";

const answer = <T,>(status: number, body: T, headers: Record<string, string> = {}) => ({
  data: status < 400 ? body : undefined,
  error: status >= 400 ? body : undefined,
  response: new Response(JSON.stringify(body), { status, headers }),
});

describe("describeDetail", () => {
  it("passes the API's sentence through", () => {
    expect(describeDetail({ detail: "a draft version of this template already exists" }, 409)).toBe(
      "a draft version of this template already exists",
    );
  });
  it("names the fields of a validation error", () => {
    const detail = [{ loc: ["body", "scan_interval_hours"], msg: "Input should be less than or equal to 168" }];
    expect(describeDetail({ detail }, 422)).toBe("scan_interval_hours: Input should be less than or equal to 168");
  });
  it("explains a 403 without a detail", () => {
    expect(describeDetail(null, 403)).toMatch(/permission/);
  });
});

describe("unwrap and unwrapPage", () => {
  it("reads the total from X-Total-Count, not from the page length", async () => {
    const page = await unwrapPage(Promise.resolve(answer(200, [{ id: 1 }, { id: 2 }], { "X-Total-Count": "10000" })));
    expect(page).toEqual({ items: [{ id: 1 }, { id: 2 }], total: 10000 });
  });
  it("throws the API's detail with its status", async () => {
    const failing = unwrap(Promise.resolve(answer(403, { detail: "missing permission compliance.manage" })));
    await expect(failing).rejects.toEqual(new ApiError(403, "missing permission compliance.manage"));
    await expect(failing).rejects.toHaveProperty("status", 403);
  });
});

describe("shouldRetry", () => {
  it("retries a server or network failure once", () => {
    expect(shouldRetry(0, new ApiError(503, "down"))).toBe(true);
    expect(shouldRetry(0, new TypeError("Failed to fetch"))).toBe(true);
    expect(shouldRetry(1, new ApiError(503, "down"))).toBe(false);
  });
  it("never retries a client error", () => {
    expect(shouldRetry(0, new ApiError(404, "not found"))).toBe(false);
    expect(shouldRetry(0, new ApiError(401, "expired"))).toBe(false);
  });
});

describe("explainError", () => {
  it("says plainly when the role does not allow an action", () => {
    expect(explainError(new ApiError(403, "missing permission compliance.manage"))).toBe(
      "Not allowed: missing permission compliance.manage",
    );
    expect(explainError(new ApiError(409, "a draft version of this template already exists"))).toBe(
      "a draft version of this template already exists",
    );
  });
});
