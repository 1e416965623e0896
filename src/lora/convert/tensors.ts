import { DanluError } from "../../errors.ts";
import { encodeValues } from "../dtypes.ts";
import type { TensorToWrite } from "../safetensors.ts";
import type { LoraModule } from "./modules.ts";

type Role = "down" | "up" | "alpha";

/**
 * Tensors grouped by module: a key is `{module}.{suffix}` with one of the layout's suffixes. A key that
 * fits none is an error (a layout's file must convert whole, or not at all).
 */
export function groupBySuffix(
  tensors: Record<string, TensorToWrite>,
  suffixes: Partial<Record<Role, string>>,
): Map<string, Partial<Record<Role, TensorToWrite>>> {
  const modules = new Map<string, Partial<Record<Role, TensorToWrite>>>();
  for (const [key, tensor] of Object.entries(tensors)) {
    const found = (Object.entries(suffixes) as [Role, string][]).find(([, suffix]) =>
      key.endsWith(`.${suffix}`),
    );
    if (!found) {
      throw new DanluError(`${key}: not a LoRA down/up/alpha tensor; only plain LoRA/LoCon modules convert`, {
        code: "BAD_LORA",
        hint: "LyCORIS (LoHa, LoKr), DoRA and IA3 files cannot change layout",
      });
    }
    const [role, suffix] = found;
    const name = key.slice(0, key.length - suffix.length - 1);
    const entry = modules.get(name) ?? {};
    entry[role] = tensor;
    modules.set(name, entry);
  }
  return new Map([...modules].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

export function requirePair(
  name: string,
  t: Partial<Record<Role, TensorToWrite>>,
): { down: TensorToWrite; up: TensorToWrite } {
  if (!t.down || !t.up) {
    throw new DanluError(`${name}: has ${t.down ? "down" : "up"} weights but no ${t.down ? "up" : "down"}`, {
      code: "BAD_LORA",
    });
  }
  return { down: t.down, up: t.up };
}

/** The module's alpha as a tensor: the stored one, or one made from alphaValue in the weights' dtype. */
export function alphaTensor(module: LoraModule): TensorToWrite | null {
  if (module.alpha) return module.alpha;
  if (module.alphaValue === null) return null;
  return { dtype: module.down.dtype, shape: [], data: encodeValues(module.down.dtype, [module.alphaValue]) };
}

export function rankOf(module: LoraModule): number {
  return module.down.shape[0] ?? 0;
}
