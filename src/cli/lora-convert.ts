import { Option, type Command } from "commander";
import { convertLora } from "../lora/convert/convert.ts";
import { LORA_LAYOUTS, type ConvertArch, type LoraLayout } from "../lora/convert/modules.ts";

const CONVERT_HELP = `
Layouts:
  kohya      lora_unet_* / lora_te_* (lora_te1_/lora_te2_ for SDXL) with lora_down/lora_up/alpha: sd-scripts,
             A1111/Forge, ComfyUI. SD1.x/SD2.x UNet names are diffusers paths, SDXL's the original LDM paths.
  diffusers  unet.* / text_encoder.* / text_encoder_2.* with lora_A/lora_B, alphas in the PEFT config
             (lora_adapter_metadata), as diffusers' save_lora_weights writes them; pipe.load_lora_weights reads it.
  comfyui    diffusion_model.{LDM path} / text_encoders.clip_l|clip_g|clip_h.transformer.* with
             lora_down/lora_up/alpha, as ComfyUI saves LoRAs.
Only names change: the weights are copied byte for byte, so converting there and back gives the same file
contents (and the same sshs_model_hash). Plain LoRA/LoCon only (not LoHa/LoKr/DoRA/IA3).

Example:
  danlu lora convert my_lora.safetensors my_lora-diffusers.safetensors --to diffusers`;

export function registerLoraConvert(lora: Command): void {
  lora
    .command("convert")
    .description("rewrite a LoRA in the kohya, diffusers/PEFT or ComfyUI layout (SD1.x, SD2.x, SDXL)")
    .argument("<input>", "a LoRA .safetensors (layout detected from its keys)")
    .argument("<output>", "the new .safetensors file")
    .addOption(new Option("--to <layout>", "the layout to write").choices(LORA_LAYOUTS).makeOptionMandatory())
    .addOption(
      new Option("--arch <arch>", "the base model family, when the file does not tell").choices([
        "sd15",
        "sd2",
        "sdxl",
      ]),
    )
    .addHelpText("after", CONVERT_HELP)
    .action(async (input: string, output: string, options: { to: LoraLayout; arch?: ConvertArch }) => {
      const report = await convertLora(input, output, options);
      process.stdout.write(
        `${report.output}: ${report.modules} modules, ${report.from} -> ${report.to} layout (${report.arch})\n`,
      );
    });
}
