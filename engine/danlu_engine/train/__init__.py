"""The LoRA training loop, in small named steps (see commands/train.py for the order):
setup (device, dtypes, freeze, add the network), latents and text caches, optimizer and lr schedule,
the per-micro-batch loss, the loop with its saves and samples, and the resumable state."""
