import type { Command } from "commander";

// Placeholder: `danlu data layout` is registered here (called from src/cli/data.ts).
export function registerDataLayout(_data: Command): void {}
