"""Model configurations: the small and full-size architectures built offline, and resizing.

The configs here build the real transformers model classes (with random
weights, see :mod:`.random`), so every code path is exercised offline.
"""

from __future__ import annotations

from ..errors import InputError

__all__ = ["tiny_config", "tiny_edgetam_config", "tiny_sam3_config", "sam2_tiny_config", "edgetam_config",
           "resize_config", "apply_memory_frames"]


def resize_config(config, image_size: int) -> None:
    """Set every size-dependent field of a SAM2-family config for ``image_size`` input, in place.

    Parameters
    ----------
    config : Sam2VideoConfig or EdgeTamVideoConfig
        (a ``Sam3TrackerVideoConfig`` is left as it is: the presets keep SAM3's input size).
    image_size : int
        A multiple of 32.
    """
    if config.model_type.startswith("sam3"):
        return  # SAM3's ViT works on 14-pixel patches: it keeps its own input size (1008 px)
    if image_size % 32:
        raise InputError(f"the model input size must be a multiple of 32, got {image_size}")
    config.image_size = image_size
    vision = config.vision_config
    backbone = getattr(vision, "backbone_config", None)
    if backbone is not None and hasattr(backbone, "image_size"):
        backbone.image_size = [image_size, image_size]
    if getattr(vision, "backbone_feature_sizes", None) is not None:
        vision.backbone_feature_sizes = [[image_size // s] * 2 for s in (4, 8, 16)]
    config.prompt_encoder_config.image_size = image_size
    config.memory_attention_rope_feat_sizes = [image_size // 16] * 2


def apply_memory_frames(model, memory_frames: int) -> None:
    """Use at most ``memory_frames`` mask memories (fewer than trained is fine: their
    temporal encodings are indexed by offset)."""
    model.num_maskmem = min(int(memory_frames), int(model.config.num_maskmem))


def tiny_config(image_size: int = 128):
    """A very small ``Sam2VideoConfig`` (about 1.3M parameters) for fast tests.

    Parameters
    ----------
    image_size : int
        Model input size; a multiple of 32.
    """
    from transformers import Sam2VideoConfig

    size = image_size
    return Sam2VideoConfig(
        vision_config=dict(
            model_type="sam2_vision_model",
            backbone_config=dict(
                model_type="sam2_hiera_det_model", hidden_size=16, image_size=[size, size],
                blocks_per_stage=[1, 1, 2, 1], embed_dim_per_stage=[16, 32, 64, 128],
                num_attention_heads_per_stage=[1, 1, 1, 1], window_size_per_stage=[4, 4, 4, 4],
                global_attention_blocks=[3], window_positional_embedding_background_size=[2, 2],
            ),
            backbone_channel_list=[128, 64, 32, 16],
            backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
            fpn_hidden_size=128,
        ),
        prompt_encoder_config=dict(hidden_size=128, image_size=size, patch_size=16),
        mask_decoder_config=dict(hidden_size=128, mlp_dim=64, num_attention_heads=2,
                                 iou_head_hidden_dim=32),
        image_size=size,
        memory_attention_hidden_size=128,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_num_layers=1,
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=64,
    )


def tiny_edgetam_config(image_size: int = 128):
    """A very small ``EdgeTamVideoConfig``: EdgeTAM's perceiver memory, a tiny Hiera encoder.

    The real EdgeTAM uses timm's RepViT encoder; this config keeps the
    transformers Hiera encoder so it builds offline without timm.
    """
    from transformers import EdgeTamVideoConfig

    fields = EdgeTamVideoConfig().to_dict()
    shared = {k: v for k, v in tiny_config(image_size).to_dict().items() if k in fields}
    side = image_size // 32  # the perceiver's 2D latents form a side x side grid
    shared.update(perceiver_resampler_num_latents=side * side,
                  perceiver_resampler_num_latents_2d=side * side,
                  memory_attention_rope_k_sizes=[side, side],
                  memory_attention_mlp_hidden_size=64, memory_attention_num_layers=1)
    return EdgeTamVideoConfig(**shared)


def tiny_sam3_config(image_size: int = 112):
    """A very small ``Sam3TrackerVideoConfig``: SAM3's ViT encoder (14-pixel patches), SAM2-style memory.

    Parameters
    ----------
    image_size : int
        Model input size; a multiple of 14.
    """
    from transformers import Sam3TrackerVideoConfig

    side = image_size // 14
    return Sam3TrackerVideoConfig(
        vision_config=dict(
            model_type="sam3_vision_model", fpn_hidden_size=128,
            backbone_config=dict(model_type="sam3_vit_model", hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=2, image_size=image_size,
                                 patch_size=14, window_size=4, pretrain_image_size=56),
            backbone_feature_sizes=[[side * 4] * 2, [side * 2] * 2, [side] * 2],
        ),
        prompt_encoder_config=dict(hidden_size=128, image_size=image_size, patch_size=14),
        mask_decoder_config=dict(hidden_size=128, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32),
        image_size=image_size,
        memory_attention_hidden_size=128,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_num_layers=1,
        memory_attention_rope_feat_sizes=[side, side],
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=64,
    )


def sam2_tiny_config():
    """The SAM2.1 Hiera-tiny architecture at 1024 px (transformers' defaults)."""
    from transformers import Sam2VideoConfig

    return Sam2VideoConfig()


def edgetam_config():
    """The EdgeTAM architecture at 1024 px: timm's RepViT-M1 encoder, the 2D perceiver memory.

    Needs ``timm`` (and a torchvision built for the installed torch). The
    encoder is built from timm's architecture definition, no download.
    """
    from transformers import EdgeTamVideoConfig, EdgeTamVisionConfig, TimmWrapperConfig

    backbone = TimmWrapperConfig(architecture="repvit_m1.dist_in1k", do_pooling=False, model_args={
        "in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]})
    return EdgeTamVideoConfig(vision_config=EdgeTamVisionConfig(backbone_config=backbone))
