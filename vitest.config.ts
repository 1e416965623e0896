import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // End-to-end tests start the real Python engine (torch import alone is several seconds on two cores).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: "forks",
  },
});
