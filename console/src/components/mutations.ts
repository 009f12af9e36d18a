// Every change goes through here: it toasts the outcome (or the API's detail) and refreshes what it touched.
import { useMutation, useQueryClient, type QueryKey } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { ApiError, explainError } from "../api/client";

export function useApiMutation<TArgs, TResult>(options: {
  run: (args: TArgs) => Promise<TResult>;
  success: string | ((result: TResult, args: TArgs) => string);
  invalidate: QueryKey[];
  onSuccess?: (result: TResult, args: TArgs) => void;
}) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: options.run,
    onSuccess: async (result, args) => {
      const message = typeof options.success === "function" ? options.success(result, args) : options.success;
      notifications.show({ color: "green", title: "Done", message });
      options.onSuccess?.(result, args);
      await Promise.all(options.invalidate.map((queryKey) => queryClient.invalidateQueries({ queryKey })));
    },
    onError: (error) => {
      const forbidden = error instanceof ApiError && error.status === 403;
      notifications.show({ color: "red", title: forbidden ? "Not allowed" : "Failed", message: explainError(error), autoClose: 8000 });
    },
  });
}
