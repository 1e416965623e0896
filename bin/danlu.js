#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step in a checkout): `npx danlu ...`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
await main(process.argv);
