// WCAG AA contrast everywhere: darker filled shades, text colour chosen by luminance, darker text on light and
// subtle variants, and a darker "dimmed" text.
import {
  createTheme,
  defaultVariantColorsResolver,
  Modal,
  Notification,
  parseThemeColor,
  type CSSVariablesResolver,
  type VariantColorsResolver,
} from "@mantine/core";

const variantColorResolver: VariantColorsResolver = (input) => {
  const colors = defaultVariantColorsResolver(input);
  if (input.variant === "light" || input.variant === "subtle") {
    const parsed = parseThemeColor({ color: input.color || input.theme.primaryColor, theme: input.theme });
    if (parsed.isThemeColor) return { ...colors, color: `var(--mantine-color-${parsed.color}-9)` };
  }
  return colors;
};

export const theme = createTheme({
  primaryShade: 8,
  autoContrast: true,
  luminanceThreshold: 0.18,
  variantColorResolver,
  // Icon-only close buttons need an accessible name.
  components: {
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { "aria-label": "Close dialog" } } }),
    Notification: Notification.extend({
      defaultProps: { closeButtonProps: { "aria-label": "Close notification" } },
      styles: { description: { color: "var(--mantine-color-gray-8)" } },
    }),
  },
});

export const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  light: { "--mantine-color-dimmed": "var(--mantine-color-gray-7)" },
  dark: {},
});
