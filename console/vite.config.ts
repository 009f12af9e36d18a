/// <reference types="vitest" />
import { gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

const INITIAL_JS_BUDGET_KB = 350;

/** Prints the gzipped size of the JavaScript the browser loads before any lazy chunk, and fails over budget. */
function initialBundleBudget(): Plugin {
  return {
    name: "initial-bundle-budget",
    apply: "build",
    generateBundle(_options, bundle) {
      const chunks = Object.values(bundle).filter((c) => c.type === "chunk");
      const byName = new Map(chunks.map((c) => [c.fileName, c]));
      const initial = new Set<string>();
      const visit = (name: string) => {
        const chunk = byName.get(name);
        if (!chunk || chunk.type !== "chunk" || initial.has(name)) return;
        initial.add(name);
        chunk.imports.forEach(visit);
      };
      chunks.filter((c) => c.type === "chunk" && c.isEntry).forEach((c) => visit(c.fileName));
      let bytes = 0;
      for (const name of initial) {
        const chunk = byName.get(name);
        if (chunk && chunk.type === "chunk") bytes += gzipSync(chunk.code, { level: 9 }).length;
      }
      const kb = bytes / 1024;
      console.log(`\ninitial JavaScript: ${kb.toFixed(1)} KB gzipped (budget ${INITIAL_JS_BUDGET_KB} KB)`);
      if (kb > INITIAL_JS_BUDGET_KB) this.error(`initial JavaScript ${kb.toFixed(1)} KB exceeds ${INITIAL_JS_BUDGET_KB} KB`);
    },
  };
}

export default defineConfig({
  plugins: [react(), initialBundleBudget()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 1200 },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    css: false,
  },
});
