import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The studio is served by the bridge daemon at /studio; the build goes into the Python
// package so the wheel ships it. Monaco's workers are bundled (no CDN, works offline).
export default defineConfig({
  base: "/studio/",
  plugins: [react()],
  build: {
    outDir: "../bridge/encounters_bridge/studio_dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
  },
});
