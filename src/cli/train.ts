import type { Command } from "commander";

// Placeholder: the `danlu train` command is registered here by the work that builds it.
export function registerTrain(_program: Command): void {}
