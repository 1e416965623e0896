import type { Command } from "commander";

// Placeholder: the `danlu tag` command is registered here by the work that builds it.
export function registerTag(_program: Command): void {}
