/**
 * Module names across LoRA layouts. kohya joins a module path with "_" (`lora_unet_` + path); the path is
 * the diffusers UNet path for SD1.x/SD2.x and the original LDM path for SDXL (sd-scripts trains SDXL on its
 * own LDM-layout UNet). Undoing the "_" needs the names that contain "_" themselves (COMPOUNDS).
 * The diffusers <-> LDM arithmetic is engine/danlu_engine/models/ldm_keys.py's (a test compares the two).
 */

/** Names with "_" inside, in diffusers, LDM and CLIP module paths; longest first wins. */
const COMPOUNDS = [
  "conv_norm_out",
  "time_emb_proj",
  "final_layer_norm",
  "down_blocks",
  "up_blocks",
  "mid_block",
  "transformer_blocks",
  "proj_in",
  "proj_out",
  "to_q",
  "to_k",
  "to_v",
  "to_out",
  "conv_shortcut",
  "conv_in",
  "conv_out",
  "time_embedding",
  "linear_1",
  "linear_2",
  "add_embedding",
  "input_blocks",
  "middle_block",
  "output_blocks",
  "in_layers",
  "out_layers",
  "emb_layers",
  "skip_connection",
  "time_embed",
  "label_emb",
  "text_model",
  "self_attn",
  "q_proj",
  "k_proj",
  "v_proj",
  "out_proj",
  "layer_norm1",
  "layer_norm2",
  "text_projection",
].map((name) => name.split("_"));
COMPOUNDS.sort((a, b) => b.length - a.length);

/** "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q" -> "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q" */
export function underscoredToPath(name: string): string {
  const tokens = name.split("_");
  const out: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    const compound = COMPOUNDS.find((parts) => parts.every((part, k) => tokens[i + k] === part));
    const take = compound?.length ?? 1;
    out.push(tokens.slice(i, i + take).join("_"));
    i += take;
  }
  return out.join(".");
}

/** The UNet shape facts the index arithmetic needs (SD1.x/SD2.x and SDXL both have 2 layers per block). */
export type UnetFamily = "sd" | "sdxl";
const LAYERS_PER_BLOCK = 2;
const PER_LEVEL = LAYERS_PER_BLOCK + 1;
const UP_HAS_ATTENTION: Record<UnetFamily, boolean[]> = {
  sd: [false, true, true, true],
  sdxl: [true, true, false],
};

const RESNET_TO_LDM: Record<string, string> = {
  norm1: "in_layers.0",
  conv1: "in_layers.2",
  time_emb_proj: "emb_layers.1",
  norm2: "out_layers.0",
  conv2: "out_layers.3",
  conv_shortcut: "skip_connection",
};
const RESNET_FROM_LDM = Object.fromEntries(Object.entries(RESNET_TO_LDM).map(([d, l]) => [l, d]));
const SIMPLE_TO_LDM: [string, string][] = [
  ["conv_in", "input_blocks.0.0"],
  ["time_embedding.linear_1", "time_embed.0"],
  ["time_embedding.linear_2", "time_embed.2"],
  ["add_embedding.linear_1", "label_emb.0.0"],
  ["add_embedding.linear_2", "label_emb.0.2"],
  ["conv_norm_out", "out.0"],
  ["conv_out", "out.2"],
  ["mid_block.attentions.0", "middle_block.1"],
];

function mapPrefix(path: string, pairs: [string, string][]): string | null {
  for (const [from, to] of pairs) {
    if (path === from || path.startsWith(`${from}.`)) return to + path.slice(from.length);
  }
  return null;
}

function resnetChild(rest: string, table: Record<string, string>): string | null {
  if (rest === "") return "";
  for (const [from, to] of Object.entries(table).sort((a, b) => b[0].length - a[0].length)) {
    if (rest === `.${from}` || rest.startsWith(`.${from}.`)) return `.${to}${rest.slice(from.length + 1)}`;
  }
  return null;
}

/** A diffusers UNet module path -> its LDM path; null where LDM has no such module. */
export function diffusersToLdm(path: string, family: UnetFamily): string | null {
  const simple = mapPrefix(path, SIMPLE_TO_LDM);
  if (simple !== null) return simple;
  let m = /^mid_block\.resnets\.([01])(.*)$/.exec(path);
  if (m) {
    const rest = resnetChild(m[2] ?? "", RESNET_TO_LDM);
    return rest === null ? null : `middle_block.${2 * Number(m[1])}${rest}`;
  }
  m = /^(down|up)_blocks\.(\d+)\.(resnets|attentions)\.(\d+)(.*)$/.exec(path);
  if (m) {
    const [, side, level, kind, j, rest = ""] = m;
    const index =
      side === "down" ? 1 + Number(level) * PER_LEVEL + Number(j) : Number(level) * PER_LEVEL + Number(j);
    const blocks = side === "down" ? "input_blocks" : "output_blocks";
    if (kind === "attentions") return `${blocks}.${index}.1${rest}`;
    const child = resnetChild(rest, RESNET_TO_LDM);
    return child === null ? null : `${blocks}.${index}.0${child}`;
  }
  m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv(.*)$/.exec(path);
  if (m) return `input_blocks.${(Number(m[1]) + 1) * PER_LEVEL}.0.op${m[2]}`;
  m = /^up_blocks\.(\d+)\.upsamplers\.0(.*)$/.exec(path);
  if (m) {
    const level = Number(m[1]);
    const slot = UP_HAS_ATTENTION[family][level] ? 2 : 1;
    return `output_blocks.${level * PER_LEVEL + LAYERS_PER_BLOCK}.${slot}${m[2]}`;
  }
  return null;
}

/** An LDM UNet module path -> its diffusers path; null where diffusers has no such module. */
export function ldmToDiffusers(path: string, family: UnetFamily): string | null {
  const simple = mapPrefix(
    path,
    SIMPLE_TO_LDM.map(([d, l]) => [l, d]),
  );
  if (simple !== null) return simple;
  let m = /^middle_block\.([02])(.*)$/.exec(path);
  if (m) {
    const rest = resnetChild(m[2] ?? "", RESNET_FROM_LDM);
    return rest === null ? null : `mid_block.resnets.${Number(m[1]) / 2}${rest}`;
  }
  m = /^input_blocks\.(\d+)\.([01])(.*)$/.exec(path);
  if (m) {
    const index = Number(m[1]) - 1;
    const [level, j] = [Math.floor(index / PER_LEVEL), index % PER_LEVEL];
    const rest = m[3] ?? "";
    if (j === LAYERS_PER_BLOCK) {
      return m[2] === "0" && rest.startsWith(".op")
        ? `down_blocks.${level}.downsamplers.0.conv${rest.slice(3)}`
        : null;
    }
    if (m[2] === "1") return `down_blocks.${level}.attentions.${j}${rest}`;
    const child = resnetChild(rest, RESNET_FROM_LDM);
    return child === null ? null : `down_blocks.${level}.resnets.${j}${child}`;
  }
  m = /^output_blocks\.(\d+)\.([012])(.*)$/.exec(path);
  if (m) {
    const [level, j] = [Math.floor(Number(m[1]) / PER_LEVEL), Number(m[1]) % PER_LEVEL];
    const slot = Number(m[2]);
    const rest = m[3] ?? "";
    const upsamplerSlot = UP_HAS_ATTENTION[family][level] ? 2 : 1;
    if (j === LAYERS_PER_BLOCK && slot === upsamplerSlot) return `up_blocks.${level}.upsamplers.0${rest}`;
    if (slot === 1) return `up_blocks.${level}.attentions.${j}${rest}`;
    if (slot !== 0) return null;
    const child = resnetChild(rest, RESNET_FROM_LDM);
    return child === null ? null : `up_blocks.${level}.resnets.${j}${child}`;
  }
  return null;
}
