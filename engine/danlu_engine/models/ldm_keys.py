"""diffusers/transformers parameter names <-> the original LDM ("single file") names.

One mapping serves both directions: ``unet_ldm_path`` / ``vae_ldm_key`` / ``*_text_ldm_key`` name, for
every parameter of a diffusers module, the LDM tensor it comes from and how (a ``Source``). Loading reads
those tensors; ``make_tiny(single_file=True)`` writes them. Written from the layout of the LDM/SGM
UNet (input_blocks / middle_block / output_blocks), the LDM VAE and the OpenCLIP text tower.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# diffusers ResnetBlock2D child -> LDM ResBlock child (in_layers = [GroupNorm, SiLU, Conv], ...)
RESNET_CHILDREN = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}


@dataclass(frozen=True)
class Source:
    """Where a diffusers parameter lives in an LDM checkpoint.

    kind: "same" (identical tensor), "conv1x1" (LDM stores a Linear weight as a 1x1 conv), "qkv" (row block
    ``part`` of OpenCLIP's fused in_proj), "transpose" (OpenCLIP's text_projection is x @ P, not a Linear).
    """

    key: str
    kind: str = "same"
    part: int = 0


@dataclass(frozen=True)
class UnetLayout:
    """The two facts the UNet index arithmetic needs (from the config or the checkpoint's shapes)."""

    layers_per_block: int
    up_block_has_attention: tuple[bool, ...]

    @classmethod
    def from_config(cls, config: dict) -> UnetLayout:
        return cls(config["layers_per_block"], tuple("CrossAttn" in t for t in config["up_block_types"]))


def _resnet_child(rest: str) -> str | None:
    """'.conv1.weight' -> '.in_layers.2.weight'; '' -> ''; None for children LDM has no name for."""
    if not rest:
        return ""
    head, _, tail = rest[1:].partition(".")
    mapped = RESNET_CHILDREN.get(head)
    if mapped is None:
        return None
    return "." + mapped + ("." + tail if tail else "")


def unet_ldm_path(path: str, layout: UnetLayout) -> str | None:
    """A diffusers UNet module path or parameter key -> its LDM name (None when LDM has no such module).

    ``down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q`` -> ``input_blocks.4.1.transformer_blocks.0.attn1.to_q``
    """
    per_level = layout.layers_per_block + 1  # LDM input_blocks per level: the resnets, then the downsampler
    containers = {"time_embedding": "time_embed", "add_embedding": "label_emb.0"}  # children differ: below
    if path in containers:
        return containers[path]
    simple = (
        (r"conv_in", "input_blocks.0.0"),
        (r"time_embedding\.linear_1", "time_embed.0"),
        (r"time_embedding\.linear_2", "time_embed.2"),
        (r"add_embedding\.linear_1", "label_emb.0.0"),
        (r"add_embedding\.linear_2", "label_emb.0.2"),
        (r"conv_norm_out", "out.0"),
        (r"conv_out", "out.2"),
        (r"mid_block\.attentions\.0", "middle_block.1"),
    )
    for pattern, target in simple:
        m = re.fullmatch(pattern + r"((?:\..+)?)", path)
        if m:
            return target + m.group(1)
    m = re.fullmatch(r"mid_block\.resnets\.([01])((?:\..+)?)", path)
    if m:
        rest = _resnet_child(m.group(2))
        return None if rest is None else f"middle_block.{2 * int(m.group(1))}{rest}"
    m = re.fullmatch(r"(down|up)_blocks\.(\d+)\.(resnets|attentions)\.(\d+)((?:\..+)?)", path)
    if m:
        side, level, kind, j, rest = m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), m.group(5)
        index = 1 + level * per_level + j if side == "down" else level * per_level + j
        blocks = "input_blocks" if side == "down" else "output_blocks"
        if kind == "attentions":
            return f"{blocks}.{index}.1{rest}"
        rest = _resnet_child(rest)
        return None if rest is None else f"{blocks}.{index}.0{rest}"
    m = re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0((?:\.conv)?)((?:\..+)?)", path)
    if m:  # Downsample2D -> input_blocks.N.0, its conv -> .op
        return f"input_blocks.{(int(m.group(1)) + 1) * per_level}.0" + (".op" + m.group(3) if m.group(2) else m.group(3))
    m = re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0((?:\..+)?)", path)
    if m:
        level = int(m.group(1))
        slot = 2 if layout.up_block_has_attention[level] else 1  # after the resnet (and the attention)
        return f"output_blocks.{level * per_level + layout.layers_per_block}.{slot}{m.group(2)}"
    return None


VAE_ATTENTION_CHILDREN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def vae_ldm_key(key: str, num_levels: int) -> Source:
    """A diffusers AutoencoderKL parameter key -> its LDM source (decoder levels are numbered in reverse)."""
    m = re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)", key)
    if m:
        child = VAE_ATTENTION_CHILDREN.get(m.group(2), m.group(2))
        kind = "conv1x1" if child != "norm" and m.group(3) == "weight" else "same"
        return Source(f"{m.group(1)}.mid.attn_1.{child}.{m.group(3)}", kind)
    m = re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.([01])\.(.+)", key)
    if m:
        return Source(f"{m.group(1)}.mid.block_{int(m.group(2)) + 1}.{_vae_resnet(m.group(3))}")
    m = re.fullmatch(r"encoder\.down_blocks\.(\d+)\.(resnets\.(\d+)|downsamplers\.0)\.(.+)", key)
    if m:
        part = f"block.{m.group(3)}.{_vae_resnet(m.group(4))}" if m.group(3) else f"downsample.{m.group(4)}"
        return Source(f"encoder.down.{m.group(1)}.{part}")
    m = re.fullmatch(r"decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0)\.(.+)", key)
    if m:
        level = num_levels - 1 - int(m.group(1))
        part = f"block.{m.group(3)}.{_vae_resnet(m.group(4))}" if m.group(3) else f"upsample.{m.group(4)}"
        return Source(f"decoder.up.{level}.{part}")
    m = re.fullmatch(r"(encoder|decoder)\.conv_norm_out\.(.+)", key)
    if m:
        return Source(f"{m.group(1)}.norm_out.{m.group(2)}")
    return Source(key)  # conv_in, conv_out, quant_conv, post_quant_conv keep their names


def _vae_resnet(rest: str) -> str:
    return rest.replace("conv_shortcut", "nin_shortcut")


def clip_text_ldm_key(key: str) -> Source:
    """transformers CLIPTextModel(WithProjection) key -> the LDM name under the encoder's prefix (the HF
    model is stored as is, with its ``text_model.`` level)."""
    return Source(key if key.startswith("text_model.") or key == "text_projection.weight" else "text_model." + key)


def open_clip_text_ldm_key(key: str) -> Source:
    """transformers CLIP key -> the OpenCLIP name (SD2.x ``cond_stage_model.model.*``, SDXL embedder 1)."""
    body = key.removeprefix("text_model.")
    fixed = {
        "embeddings.token_embedding.weight": Source("token_embedding.weight"),
        "embeddings.position_embedding.weight": Source("positional_embedding"),
        "final_layer_norm.weight": Source("ln_final.weight"),
        "final_layer_norm.bias": Source("ln_final.bias"),
        "text_projection.weight": Source("text_projection", "transpose"),
    }
    if body in fixed:
        return fixed[body]
    m = re.fullmatch(r"encoder\.layers\.(\d+)\.(.+)\.(weight|bias)", body)
    if not m:
        raise KeyError(f"no OpenCLIP name for text encoder parameter {key}")
    block, child, suffix = f"transformer.resblocks.{m.group(1)}", m.group(2), m.group(3)
    qkv = {"self_attn.q_proj": 0, "self_attn.k_proj": 1, "self_attn.v_proj": 2}
    if child in qkv:
        return Source(f"{block}.attn.in_proj_{suffix}", "qkv", qkv[child])
    names = {"self_attn.out_proj": "attn.out_proj", "layer_norm1": "ln_1", "layer_norm2": "ln_2",
             "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
    return Source(f"{block}.{names[child]}.{suffix}")
