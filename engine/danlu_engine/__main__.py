"""``python -m danlu_engine <command> <spec.json>``: the entry point (driven by the danlu CLI); ``serve``
runs many commands in one process (serve.py).

Commands: make-tiny, info, doctor, train, lora-resize/-merge/-bake/-extract (spec files described in
src/engine/spec.ts and spec-lora.ts), and ``protocol``
(prints the event definitions, no spec). Exit codes: 0 ok, 1 error (an ``error`` event was written),
2 bad usage, 3 cancelled (state saved).
"""
from __future__ import annotations

import importlib
import json
import signal
import sys
import traceback

from . import cancel
from .protocol import EVENTS, EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, EXIT_USAGE, EngineError, emit

# command -> module with a ``run(spec: dict) -> None`` function (imported lazily: torch is slow to import)
COMMANDS = {
    "make-tiny": "danlu_engine.commands.make_tiny",
    "info": "danlu_engine.commands.info",
    "train": "danlu_engine.commands.train",
    "train-many": "danlu_engine.commands.train_many",
    "lora-resize": "danlu_engine.commands.lora_resize",
    "lora-merge": "danlu_engine.commands.lora_merge",
    "lora-bake": "danlu_engine.commands.lora_bake",
    "lora-extract": "danlu_engine.commands.lora_extract",
    "generate": "danlu_engine.commands.generate",
    "doctor": "danlu_engine.commands.doctor",
}


def _usage(message: str) -> int:
    sys.stderr.write(f"danlu_engine: {message}\nusage: python -m danlu_engine {{{'|'.join(COMMANDS)}|protocol}} SPEC.json"
                     "\n       python -m danlu_engine serve [OPTIONS.json]\n")
    return EXIT_USAGE


def main(argv: list[str]) -> int:
    if argv[:1] == ["protocol"]:
        print(json.dumps({"events": EVENTS}))
        return EXIT_OK
    if argv[:1] == ["serve"] and len(argv) <= 2:
        from .serve import serve

        return serve(argv[1] if len(argv) == 2 else None, tuple(COMMANDS), run_command)
    if len(argv) != 2 or argv[0] not in COMMANDS:
        return _usage("expected a command and a spec file")
    try:
        with open(argv[1], encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        return _usage(f"cannot read spec {argv[1]}: {e}")

    # SIGTERM/SIGINT only set a flag; the training loop checks it between steps, saves state, and
    # raises cancel.Cancelled.
    signal.signal(signal.SIGTERM, cancel.request)
    signal.signal(signal.SIGINT, cancel.request)
    return run_command(argv[0], spec)


def run_command(command: str, spec: dict) -> int:
    """Run one command's ``run(spec)``; its outcome as an event (done is the command's own) and an exit code."""
    try:
        importlib.import_module(COMMANDS[command]).run(spec)
        return EXIT_OK
    except cancel.Cancelled as c:
        emit("cancelled", state_dir=c.state_dir, step=c.step)
        return EXIT_CANCELLED
    except EngineError as e:
        emit("error", code=e.code, message=e.message, detail=e.detail)
        return EXIT_ERROR
    except FileNotFoundError as e:
        emit("error", code="FILE_NOT_FOUND", message=str(e), detail=None)
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - the last line of defence: report, never a bare traceback
        if _is_oom(e):
            emit("error", code="OUT_OF_MEMORY", message=str(e).split("\n")[0], detail=None)
        else:
            emit("error", code="INTERNAL", message=f"{type(e).__name__}: {e}", detail=traceback.format_exc())
        return EXIT_ERROR


def _is_oom(e: BaseException) -> bool:
    name = type(e).__name__
    return name == "OutOfMemoryError" or isinstance(e, MemoryError) or "out of memory" in str(e).lower()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
