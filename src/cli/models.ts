import type { Command } from "commander";

// Placeholder: the `danlu models` command is registered here by the work that builds it.
export function registerModels(_program: Command): void {}
