import type { Command } from "commander";

// Placeholder: the `danlu tags` command is registered here by the work that builds it.
export function registerTags(_program: Command): void {}
