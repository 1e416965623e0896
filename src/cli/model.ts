import type { Command } from "commander";

// Placeholder: the `danlu model` command is registered here by the work that builds it.
export function registerModel(_program: Command): void {}
