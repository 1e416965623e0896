import { OPTIMIZER_TYPES } from "./optimizer-args.ts";

/**
 * sd-scripts keys (train_network.py, library/train_util.py) that have no danlu key of the same name:
 * those with no effect on the trained file in danlu, each with the reason the import warning gives.
 * Any other key danlu does not know is reported as unsupported (with a did-you-mean for typos).
 */
export const KOHYA_IGNORED_KEYS: Record<string, string> = {
  xformers: "danlu always uses PyTorch SDPA attention",
  sdpa: "danlu always uses PyTorch SDPA attention",
  mem_eff_attn: "danlu always uses PyTorch SDPA attention",
  max_data_loader_n_workers: "danlu plans the batches itself; there are no data loader workers",
  persistent_data_loader_workers: "danlu plans the batches itself; there are no data loader workers",
  logging_dir: "danlu keeps its log and loss history in output_dir",
  log_with: "danlu keeps its log and loss history in output_dir",
  log_prefix: "danlu keeps its log and loss history in output_dir",
  log_tracker_name: "danlu keeps its log and loss history in output_dir",
  log_tracker_config: "danlu keeps its log and loss history in output_dir",
  log_config: "danlu keeps its log and loss history in output_dir",
  wandb_api_key: "danlu does not report to wandb",
  wandb_run_name: "danlu does not report to wandb",
  save_model_as: "danlu always writes .safetensors",
  use_safetensors: "danlu always writes .safetensors",
  lowram: "memory placement is automatic",
  highvram: "memory placement is automatic",
  vae_batch_size: "latents are cached one batch at a time",
  text_encoder_batch_size: "text encoder batches are sized automatically",
  tokenizer_cache_dir: "danlu builds the tokenizers offline from bundled files",
  skip_cache_check: "cached latents are checked against the images and settings",
  cache_text_encoder_outputs_to_disk:
    "danlu keeps text encoder outputs in memory (cache_text_encoder_outputs)",
  output_config: "not a training setting",
  config_file: "not a training setting",
  debug_dataset: "danlu prints the plan before training",
  huggingface_repo_id: "danlu does not upload",
  huggingface_repo_type: "danlu does not upload",
  huggingface_path_in_repo: "danlu does not upload",
  huggingface_token: "danlu does not upload",
  huggingface_repo_visibility: "danlu does not upload",
  save_state_to_huggingface: "danlu does not upload",
  resume_from_huggingface: "danlu does not upload",
  async_upload: "danlu does not upload",
  ddp_timeout: "one process per run",
  ddp_gradient_as_bucket_view: "one process per run",
  ddp_static_graph: "one process per run",
  dynamo_backend: "not used",
  torch_compile: "not used",
  disable_mmap_load_safetensors: "not used",
  resume: "pass --resume STATE to danlu train",
  dim_from_weights: "with network_weights, danlu always takes the dims from the file",
  save_last_n_epochs: "danlu keeps every saved file",
  save_last_n_epochs_state: "danlu keeps every saved file",
  save_last_n_steps: "danlu keeps every saved file",
  save_last_n_steps_state: "danlu keeps every saved file",
};

/**
 * sd-scripts' own defaults where danlu's differ, applied to an imported file for the keys it leaves out,
 * so the import trains what sd-scripts would have trained (library/train_util.py, networks/lora.py).
 */
export const KOHYA_DEFAULTS = {
  caption_extension: ".caption",
  enable_bucket: false,
  network_dim: 4,
  network_alpha: 1,
  learning_rate: 2e-6,
  save_every_n_epochs: 0,
  save_precision: "float",
} as const;

/** Keys where an empty string in a kohya_ss GUI file means "not set". */
export const KOHYA_EMPTY_MEANS_UNSET = new Set([
  "vae",
  "reg_data_dir",
  "train_data_dir",
  "sample_prompts",
  "output_name",
  "training_comment",
  "caption_extension",
  "dataset_config",
  "save_precision",
  "optimizer_type",
  "network_module",
  "network_weights",
  "lr_scheduler",
  "sample_sampler",
]);

/** sd-scripts accepts optimizer names in any case ("AdaFactor", "lion"); "" means AdamW. */
export function kohyaOptimizerType(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const lower = value.trim().toLowerCase();
  if (lower === "") return "AdamW";
  return OPTIMIZER_TYPES.find((name) => name.toLowerCase() === lower) ?? value;
}
