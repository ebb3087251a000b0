// The pages are built into dist/ and embedded into keywardd at build time
// (scripts/embed_web.py): hashed file names under assets/, no inline script
// or style (the Content-Security-Policy forbids them), nothing fetched from
// elsewhere at run time.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2020",
    chunkSizeWarningLimit: 2048,
    rollupOptions: {
      // libsodium (its WebAssembly inside) in a chunk of its own: cached
      // across releases of the app code, and measured apart (bench/RESULTS.md).
      output: { manualChunks: { sodium: ["libsodium-wrappers-sumo"] } },
    },
  },
});
