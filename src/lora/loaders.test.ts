import { describe, expect, it } from "vitest";
import { loadersFor, loadersLine } from "./loaders.ts";

describe("loadersFor", () => {
  it("LoRA and LoCon files load in all three", () => {
    expect(loadersFor(["lora", "locon"]).loads).toEqual(["A1111/Forge", "ComfyUI", "diffusers"]);
    expect(loadersLine(["lora"])).toBe("loads in: A1111/Forge, ComfyUI, diffusers");
  });
  it("LoHa and LoKr files do not load in diffusers, and the line says why", () => {
    expect(loadersFor(["loha"]).loads).toEqual(["A1111/Forge", "ComfyUI"]);
    expect(loadersLine(["lokr", "lora"])).toBe(
      "loads in: A1111/Forge, ComfyUI; not diffusers (it does not read LoKr modules)",
    );
  });
  it("IA3 loads in A1111/Forge only", () => {
    expect(loadersFor(["ia3"]).loads).toEqual(["A1111/Forge"]);
  });
});
