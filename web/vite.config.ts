import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { studioCatalogs } from "./vite-plugin-po";

// The studio is served by the bridge daemon at /studio; the build goes into the Python
// package so the wheel ships it. Monaco's workers are bundled (no CDN, works offline).
// The texts come from the gettext catalogs in src/i18n/locale (vite-plugin-po.ts).
export default defineConfig({
  base: "/studio/",
  plugins: [react(), studioCatalogs(fileURLToPath(new URL("./src/i18n/locale", import.meta.url)))],
  build: {
    outDir: "../bridge/encounters_bridge/studio_dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
  },
});
