import type { Command } from "commander";

// Placeholder: the `danlu data` command is registered here by the work that builds it.
export function registerData(_program: Command): void {}
