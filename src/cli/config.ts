import type { Command } from "commander";

// Placeholder: the `danlu config` command is registered here by the work that builds it.
export function registerConfig(_program: Command): void {}
