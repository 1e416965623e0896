"""``python -m danlu_engine.launch N [GPU_IDS] <command> <spec.json>``: one engine run on N processes.

Starts ``accelerate launch --multi_gpu --num_processes N -m danlu_engine <command> <spec.json>`` (its
multi-process launcher is torch.distributed.run; each process joins with gloo on the CPU, nccl on CUDA:
train/distributed.py) and stands between it and the driver for two reasons:
- the exit code: on SIGTERM torch's launcher exits 1 even when the ranks saved a state and rank 0 wrote
  ``cancelled``; the driver needs the engine's codes (0 done, 1 error, 3 cancelled), so this process
  passes every stdout line through and exits with the code the last ``done``/``cancelled``/``error`` says;
- the rendezvous port: a free one per run (accelerate's default 29500 would clash between two runs).
SIGTERM/SIGINT are forwarded to the launcher, which sends SIGTERM to every rank (they agree to stop at
the same step) and kills them 30 s later if they have not exited.
"""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

from .protocol import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, EXIT_USAGE

EXIT_BY_EVENT = {"done": EXIT_OK, "cancelled": EXIT_CANCELLED, "error": EXIT_ERROR}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate_command(processes: int, gpu_ids: str | None, engine_args: list[str]) -> list[str]:
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port())]
    if gpu_ids:
        command += ["--gpu_ids", gpu_ids]
    return [*command, "-m", "danlu_engine", *engine_args]


def _last_outcome(lines) -> str | None:
    """Pass every line through to stdout; return the last terminal event's name."""
    outcome = None
    for line in lines:
        sys.stdout.write(line)
        sys.stdout.flush()
        try:
            event = json.loads(line).get("event")
        except (ValueError, AttributeError):
            continue  # the driver reports a line that is not an event
        if event in EXIT_BY_EVENT:
            outcome = event
    return outcome


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or not argv[0].isdigit() or int(argv[0]) < 1:
        sys.stderr.write("usage: python -m danlu_engine.launch N [GPU_IDS] COMMAND SPEC.json\n")
        return EXIT_USAGE
    gpu_ids = argv[1] if len(argv) == 4 else None
    child = subprocess.Popen(accelerate_command(int(argv[0]), gpu_ids, argv[-2:]), stdout=subprocess.PIPE,
                             text=True, encoding="utf-8")
    forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    outcome = _last_outcome(child.stdout)
    code = child.wait()
    if outcome == "done" and code != EXIT_OK:
        return EXIT_ERROR  # rank 0 finished but another rank failed (its traceback is on stderr)
    return EXIT_BY_EVENT[outcome] if outcome else code or EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
