import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      ".venv/",
      "dist/",
      "engine/",
      "demo-output/",
      "web/dist/",
      "tmp/",
      "bench/out/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        performance: "readonly",
        AbortController: "readonly",
        fetch: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-process-exit": "off",
    },
  },
  {
    // the browser UI (web/, built by Vite)
    files: ["web/**/*.{ts,tsx}"],
    languageOptions: {
      globals: {
        window: "readonly",
        document: "readonly",
        navigator: "readonly",
        localStorage: "readonly",
        EventSource: "readonly",
        FormData: "readonly",
        XMLHttpRequest: "readonly",
        Headers: "readonly",
        Blob: "readonly",
        File: "readonly",
        Event: "readonly",
        MessageEvent: "readonly",
        HTMLElement: "readonly",
        HTMLInputElement: "readonly",
        HTMLSelectElement: "readonly",
        HTMLTextAreaElement: "readonly",
        ResizeObserver: "readonly",
        requestAnimationFrame: "readonly",
        TextDecoder: "readonly",
      },
    },
  },
  {
    // Library code throws; only the CLI entry exits (STYLE.md).
    files: ["src/**/*.ts"],
    ignores: ["src/cli/**"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "process", property: "exit", message: "Library code throws; only src/cli exits." },
      ],
    },
  },
);
