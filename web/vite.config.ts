import { defineConfig } from "vite";

// The UI is built into web/dist by `npm run setup`; `danlu serve` serves it at /. In development,
// `npx vite web` proxies /api to a running `danlu serve` on :7860.
export default defineConfig({
  root: new URL(".", import.meta.url).pathname,
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: { alias: { react: "preact/compat", "react-dom": "preact/compat" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 200 },
  server: { proxy: { "/api": "http://127.0.0.1:7860" } },
});
