import type { Command } from "commander";

// Placeholder: the `danlu demo` command is registered here by the work that builds it.
export function registerDemo(_program: Command): void {}
