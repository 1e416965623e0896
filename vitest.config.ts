import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // End-to-end tests start the real Python engine (torch import alone is several seconds on two cores).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: "forks",
    // expect.poll waits for the UI or a queue to reach a state; its default 1 s is too short on a loaded
    // 2-core CI machine (a poll that succeeds returns at once, so passing runs are no slower)
    expect: { poll: { timeout: 30_000, interval: 100 } },
  },
});
