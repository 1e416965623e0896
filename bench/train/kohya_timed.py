"""Run kohya sd-scripts' train_network.py unchanged, reporting when each optimizer step ends.

The benchmark needs the same figures from sd-scripts as danlu's engine gives in its progress events,
without editing sd-scripts: a global optimizer step post-hook (torch.optim.optimizer.
register_optimizer_step_post_hook) fires after every optimizer step sd-scripts takes, and this script
writes one line per step to stderr:

    DANLU_BENCH {"event": "ready", "pid": ...}                       after sd-scripts' imports (torch, diffusers, ...)
    DANLU_BENCH {"event": "step", "step": k, "t": seconds, "memory_mb": ..., "loss": ...}
    DANLU_BENCH {"event": "exit", "max_rss_mb": ...}

``t`` is time.perf_counter() in this process (step intervals; its origin is arbitrary), memory_mb is
torch.cuda.max_memory_allocated in MiB on a GPU and null on the CPU (as in danlu's progress events),
loss the last micro-batch loss that `NetworkTrainer.process_batch` returned (wrapped, not edited; read
with .item() here, as sd-scripts itself reads it right after the step for its progress bar),
max_rss_mb the process's peak resident memory (getrusage).

Run with sd-scripts' venv python: KOHYA_PY bench/train/kohya_timed.py SD_SCRIPTS_DIR [train_network.py args...]
SDXL: KOHYA_PY bench/train/kohya_timed.py SD_SCRIPTS_DIR --script sdxl_train_network.py [its args...]
(its parser and SdxlNetworkTrainer, a NetworkTrainer subclass that keeps the base class's process_batch).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

PREFIX = "DANLU_BENCH "


def report(event: str, **fields) -> None:
    sys.stderr.write(PREFIX + json.dumps({"event": event, **fields}) + "\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: kohya_timed.py SD_SCRIPTS_DIR [train_network.py args...]", file=sys.stderr)
        return 2
    scripts_dir = os.path.abspath(argv[0])
    script, rest = "train_network.py", argv[1:]
    if rest[:1] == ["--script"]:
        script, rest = rest[1], rest[2:]
    if script not in ("train_network.py", "sdxl_train_network.py"):
        print(f"--script: train_network.py or sdxl_train_network.py, not {script}", file=sys.stderr)
        return 2
    sys.path.insert(0, scripts_dir)  # sd-scripts imports `library`, `networks` from its own folder
    sys.argv = [os.path.join(scripts_dir, script), *rest]

    import torch
    import torch.optim.optimizer as torch_optimizer
    import train_network
    from library import train_util

    if script == "sdxl_train_network.py":
        import sdxl_train_network as chosen
        trainer_class = chosen.SdxlNetworkTrainer
    else:
        chosen, trainer_class = train_network, train_network.NetworkTrainer

    steps = 0
    last_loss: list = [None]
    process_batch = train_network.NetworkTrainer.process_batch

    def keep_loss(self, *args, **kwargs):
        loss = process_batch(self, *args, **kwargs)
        last_loss[0] = loss
        return loss

    train_network.NetworkTrainer.process_batch = keep_loss

    def after_step(optimizer, args, kwargs) -> None:
        nonlocal steps
        steps += 1
        loss = float(last_loss[0].detach().item()) if last_loss[0] is not None else None
        memory = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        report("step", step=steps, t=time.perf_counter(), memory_mb=memory, loss=loss)

    torch_optimizer.register_optimizer_step_post_hook(after_step)
    report("ready", pid=os.getpid())
    try:
        # The body of train_network.py's (sdxl_train_network.py's) `if __name__ == "__main__":` block.
        parser = chosen.setup_parser()
        args = parser.parse_args()
        train_util.verify_command_line_training_args(args)
        args = train_util.read_config_from_file(args, parser)
        trainer_class().train(args)
    finally:
        report("exit", max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux: KiB
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
