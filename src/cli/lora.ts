import type { Command } from "commander";

// Placeholder: the `danlu lora` command is registered here by the work that builds it.
export function registerLora(_program: Command): void {}
