"""LoRA file tools that need linear algebra: resize, merge, bake into a checkpoint, extract from two.

Facts about dynamic rank choice (sv_ratio, sv_fro, sv_cumulative) and the alpha a resized module gets
come from kohya-ss/sd-scripts networks/resize_lora.py (read for the facts, not copied).
"""
