import { describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MantineProvider } from "@mantine/core";
import type { ReactNode } from "react";
import { ListError } from "./ListError";
import { countLabel, Pager, pageCount } from "./Pager";

const wrap = (node: ReactNode) => render(<MantineProvider>{node}</MantineProvider>);

describe("ListError", () => {
  it("shows what failed and retries on demand", async () => {
    const onRetry = vi.fn();
    wrap(<ListError what="scans" error={new Error("database unavailable")} onRetry={onRetry} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Could not load scans");
    expect(screen.getByRole("alert")).toHaveTextContent("database unavailable");
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(onRetry).toHaveBeenCalledOnce();
  });
});

describe("Pager", () => {
  it("labels the page size select and counts pages from the server total", () => {
    wrap(<Pager page={2} pageSize={25} total={10000} onPage={() => undefined} onPageSize={() => undefined} label="hosts" />);
    expect(screen.getByRole("textbox", { name: "Rows per page" })).toHaveValue("25");
    expect(screen.getByText("10000 hosts")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Page 400" })).toBeInTheDocument();
  });
  it("counts in words", () => {
    expect(countLabel(1, "policies")).toBe("1 policy");
    expect(countLabel(1, "organization templates")).toBe("1 organization template");
    expect(countLabel(0, "hosts")).toBe("0 hosts");
  });
  it("always has at least one page", () => {
    expect(pageCount(0, 10)).toBe(1);
    expect(pageCount(101, 100)).toBe(2);
  });
});
