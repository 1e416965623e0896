"""Apply LoRA and LyCORIS files (kohya names; LoHa, LoKr, IA3, DoRA, LoCon) to a loaded model at runtime."""
from .apply import FileReport, LoraApplier, read_lora
from .formulas import module_delta

__all__ = ["FileReport", "LoraApplier", "module_delta", "read_lora"]
