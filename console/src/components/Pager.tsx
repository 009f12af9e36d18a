import { Group, Pagination, Select, Text } from "@mantine/core";

export const PAGE_SIZES = ["10", "25", "50", "100"];

/** "1 policy", "25 policies": `plural` is the English plural of a regular noun. */
export function countLabel(total: number, plural: string): string {
  if (total !== 1) return `${total} ${plural}`;
  return `1 ${plural.endsWith("ies") ? `${plural.slice(0, -3)}y` : plural.replace(/s$/, "")}`;
}

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(total / pageSize));
}

/** Server-side paging: the page, "Rows per page" and the total from X-Total-Count. */
export function Pager(props: {
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
  onPageSize: (size: number) => void;
  label: string;
}) {
  const { page, pageSize, total, onPage, onPageSize, label } = props;
  return (
    <Group justify="space-between" mt="sm">
      <Group gap="xs">
        <Select
          label="Rows per page"
          data={PAGE_SIZES}
          value={String(pageSize)}
          onChange={(v) => v && onPageSize(Number(v))}
          allowDeselect={false}
          w={110}
          size="xs"
        />
        <Text size="sm" c="dimmed" mt="lg">
          {countLabel(total, label)}
        </Text>
      </Group>
      <Pagination
        total={pageCount(total, pageSize)}
        value={page}
        onChange={onPage}
        size="sm"
        getControlProps={(control) => ({ "aria-label": `${control} page` })}
        getItemProps={(p) => ({ "aria-label": `Page ${p}` })}
      />
    </Group>
  );
}
