// Approve and reject exceptions and change records (the API enforces four-eyes: the requester never decides).
import { api, unwrap } from "../api/client";
import { useApiMutation } from "../components/mutations";

const EXCEPTION_KEYS = [["exceptions"], ["dashboard"], ["report"], ["approvals"]];

export function useExceptionDecisions() {
  const approve = useApiMutation({
    run: (id: string) =>
      unwrap(api.POST("/api/v1/compliance/exceptions/{exception_id}/approve", { params: { path: { exception_id: id } }, body: {} })),
    success: (e) => `Exception for ${e.rule_id} approved`,
    invalidate: EXCEPTION_KEYS,
  });
  const reject = useApiMutation({
    run: ({ id, reason }: { id: string; reason: string }) =>
      unwrap(
        api.POST("/api/v1/compliance/exceptions/{exception_id}/reject", {
          params: { path: { exception_id: id } },
          body: { reason: reason || null },
        }),
      ),
    success: (e) => `Exception for ${e.rule_id} rejected`,
    invalidate: EXCEPTION_KEYS,
  });
  return { approve, reject };
}

export function useChangeDecisions() {
  const keys = [["changes"], ["approvals"], ["scan"], ["remediations"]];
  const approve = useApiMutation({
    run: (id: string) => unwrap(api.POST("/api/v1/changes/{change_id}/approve", { params: { path: { change_id: id } }, body: {} })),
    success: (c) => `Change "${c.title}" approved`,
    invalidate: keys,
  });
  const reject = useApiMutation({
    run: ({ id, reason }: { id: string; reason: string }) =>
      unwrap(api.POST("/api/v1/changes/{change_id}/reject", { params: { path: { change_id: id } }, body: { reason: reason || "Rejected in the console" } })),
    success: (c) => `Change "${c.title}" rejected`,
    invalidate: keys,
  });
  return { approve, reject };
}
