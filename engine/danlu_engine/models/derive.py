"""Component configs for a single-file checkpoint: the shipped config of its variant, with every size that
varies between models read from the tensors' shapes (so a tiny file and a real one go through one path).

Hyperparameters that no tensor records follow the rules in configs.py: 8 UNet heads for SD1.x and 64-wide
heads for SD2.x/SDXL and all text towers; GroupNorm groups 32 (fewer only when tiny widths need it).
"""
from __future__ import annotations

import re

from ..protocol import EngineError
from . import configs
from .detect import TEXT_ENCODERS, UNET, VAE

Shapes = dict[str, tuple[int, ...]]


def _indices(shapes: Shapes, pattern: str) -> list[int]:
    """Distinct integers captured by ``pattern`` (one group) at the start of any key, sorted."""
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in shapes if (m := rx.match(k))})


def _shape(shapes: Shapes, key: str, path: str) -> tuple[int, ...]:
    if key not in shapes:
        raise EngineError("BAD_MODEL", f"{path}: tensor {key} is missing; the checkpoint is incomplete or damaged")
    return shapes[key]


def unet_config(arch: str, variant: str, shapes: Shapes, path: str) -> dict:
    p = UNET
    downsamplers = [i for i in _indices(shapes, re.escape(p) + r"input_blocks\.(\d+)\.0\.op\.") if i > 0]
    last_input = max(_indices(shapes, re.escape(p) + r"input_blocks\.(\d+)\."), default=0)
    if not downsamplers or last_input == 0:
        raise EngineError("BAD_MODEL", f"{path}: the UNet has no recognisable input_blocks; damaged checkpoint?")
    per_level = downsamplers[0]  # the first downsampler follows layers_per_block resnets
    levels = (last_input + 1) // per_level
    first = [1 + i * per_level for i in range(levels)]  # input block index of each level's first resnet
    widths = [_shape(shapes, f"{p}input_blocks.{b}.0.out_layers.3.weight", path)[0] for b in first]
    attention = [any(k.startswith(f"{p}input_blocks.{b}.1.") for k in shapes) for b in first]
    depths = [len(_indices(shapes, re.escape(f"{p}input_blocks.{b}.1.transformer_blocks.") + r"(\d+)\.")) or 1 for b in first]
    attn_block = first[attention.index(True)] if any(attention) else None
    if attn_block is None:
        raise EngineError("UNSUPPORTED_ARCH", f"{path}: the UNet has no cross-attention blocks; not a text-to-image SD model")
    attn = f"{p}input_blocks.{attn_block}.1."
    cfg = configs.shipped(variant, "unet")
    cfg.update(
        in_channels=_shape(shapes, f"{p}input_blocks.0.0.weight", path)[1],
        out_channels=_shape(shapes, f"{p}out.2.weight", path)[0],
        block_out_channels=widths,
        layers_per_block=per_level - 1,
        down_block_types=["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attention],
        up_block_types=["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)],
        cross_attention_dim=_shape(shapes, attn + "transformer_blocks.0.attn2.to_k.weight", path)[1],
        use_linear_projection=len(_shape(shapes, attn + "proj_in.weight", path)) == 2,
        attention_head_dim=configs.unet_heads(arch, widths),
        norm_num_groups=configs.norm_groups(widths),
    )
    if arch == "sdxl":
        cfg["transformer_layers_per_block"] = depths
        cfg["projection_class_embeddings_input_dim"] = _shape(shapes, f"{p}label_emb.0.0.weight", path)[1]
    elif any(d != 1 for d in depths):
        raise EngineError("UNSUPPORTED_ARCH", f"{path}: {arch} UNet with transformer depths {depths} is not a known model")
    return cfg


def vae_config(variant: str, shapes: Shapes, path: str, prefix: str = VAE) -> dict:
    levels = _indices(shapes, re.escape(prefix) + r"encoder\.down\.(\d+)\.")
    if not levels:
        raise EngineError("BAD_MODEL", f"{path}: no VAE weights ({prefix}encoder.*); pass a VAE with vae_path")
    widths = [_shape(shapes, f"{prefix}encoder.down.{i}.block.0.conv2.weight", path)[0] for i in levels]
    cfg = configs.shipped(variant, "vae")
    cfg.update(
        block_out_channels=widths,
        down_block_types=["DownEncoderBlock2D"] * len(widths),
        up_block_types=["UpDecoderBlock2D"] * len(widths),
        layers_per_block=len(_indices(shapes, re.escape(prefix) + r"encoder\.down\.0\.block\.(\d+)\.")),
        latent_channels=_shape(shapes, f"{prefix}post_quant_conv.weight", path)[0],
        in_channels=_shape(shapes, f"{prefix}encoder.conv_in.weight", path)[1],
        out_channels=_shape(shapes, f"{prefix}decoder.conv_out.weight", path)[0],
        norm_num_groups=configs.norm_groups(widths),
    )
    return cfg


def text_config(arch: str, variant: str, index: int, shapes: Shapes, path: str) -> dict:
    prefix, layout = TEXT_ENCODERS[arch][index]
    cfg = configs.shipped(variant, "text_encoder" if index == 0 else "text_encoder_2")
    if layout == "clip":
        body = prefix + "text_model."
        vocab, hidden = _shape(shapes, body + "embeddings.token_embedding.weight", path)
        positions = _shape(shapes, body + "embeddings.position_embedding.weight", path)[0]
        layers = len(_indices(shapes, re.escape(body) + r"encoder\.layers\.(\d+)\."))
        mlp = _shape(shapes, body + "encoder.layers.0.mlp.fc1.weight", path)[0]
        projection = hidden  # CLIPTextModel has no projection weights; the config value is unused
    else:
        vocab, hidden = _shape(shapes, prefix + "token_embedding.weight", path)
        positions = _shape(shapes, prefix + "positional_embedding", path)[0]
        layers = len(_indices(shapes, re.escape(prefix) + r"transformer\.resblocks\.(\d+)\."))
        if arch == "sd2":
            layers -= 1  # SD2.x conditions on the penultimate layer; diffusers drops the last one
        mlp = _shape(shapes, prefix + "transformer.resblocks.0.mlp.c_fc.weight", path)[0]
        projection = shapes.get(prefix + "text_projection", (hidden, cfg["projection_dim"]))[1]
    cfg.update(vocab_size=vocab, hidden_size=hidden, max_position_embeddings=positions, num_hidden_layers=layers,
               intermediate_size=mlp, num_attention_heads=configs.text_heads(hidden), projection_dim=projection)
    return cfg
