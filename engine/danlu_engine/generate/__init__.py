"""Image generation (``python -m danlu_engine generate``): the spec, A1111 samplers, A1111-style weighted
prompt conditioning, textual-inversion embeddings and PNG ``parameters`` text. LoRAs: danlu_engine.lora_apply."""
