"""Training losses of SAM2 (focal + dice on masks, L1 on predicted IoU, BCE on presence).

All functions take low-resolution mask logits as the mask decoder returns
them and upsample them (bilinear) to the target masks' resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LossWeights", "focal_loss", "dice_loss", "mask_iou", "frame_loss"]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (SAM2's defaults: 20, 1, 1, 1)."""

    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    presence: float = 1.0


def focal_loss(logits, target, alpha: float = 0.25, gamma: float = 2.0):
    """Sigmoid focal loss averaged over pixels.

    Parameters
    ----------
    logits, target : Tensor (..., H, W)
        Mask logits and a binary float target of the same shape.
    alpha, gamma : float
        Class balance and focusing parameters (RetinaNet's defaults).

    Returns
    -------
    Tensor (...)
    """
    import torch.nn.functional as F

    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.flatten(-2).mean(-1)


def dice_loss(logits, target, smooth: float = 1.0):
    """Soft dice loss ``1 - (2|p t| + s) / (|p| + |t| + s)`` per mask.

    Parameters
    ----------
    logits, target : Tensor (..., H, W)

    Returns
    -------
    Tensor (...)
    """
    prob = logits.sigmoid().flatten(-2)
    target = target.flatten(-2)
    inter = (prob * target).sum(-1)
    return 1 - (2 * inter + smooth) / (prob.sum(-1) + target.sum(-1) + smooth)


def mask_iou(logits, target):
    """IoU of ``logits > 0`` with a binary target (1 when both are empty), without gradient."""
    import torch

    with torch.no_grad():
        pred = (logits > 0).flatten(-2)
        truth = (target > 0.5).flatten(-2)
        inter = (pred & truth).sum(-1).float()
        union = (pred | truth).sum(-1).float()
        return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def frame_loss(masks, iou_pred, presence_logits, target, weights: LossWeights = LossWeights()) -> dict:
    """SAM2's loss on one frame for a batch of objects.

    Parameters
    ----------
    masks : Tensor (B, M, h, w)
        Raw mask logits of the decoder's M outputs (1 or 3).
    iou_pred : Tensor (B, M)
        Predicted IoU of each output.
    presence_logits : Tensor (B,)
        Object presence logits.
    target : Tensor (B, H, W)
        Binary target masks; an empty one means the object is absent.
    weights : LossWeights

    Returns
    -------
    dict
        ``total`` (a tensor, summed over the batch) and the float terms
        ``focal``, ``dice``, ``iou``, ``presence`` (also summed).

    Notes
    -----
    Where the object is present, only the output with the lowest mask loss is
    trained on the mask (SAM's multimask rule) and every output's IoU
    prediction is trained. Where it is absent, every output is trained towards
    an empty mask, and the presence logit towards "absent".
    """
    import torch
    import torch.nn.functional as F

    up = F.interpolate(masks.float(), size=target.shape[-2:], mode="bilinear", align_corners=False)
    target = target.float()[:, None].expand_as(up)
    focal = focal_loss(up, target)
    dice = dice_loss(up, target)
    per_mask = weights.focal * focal + weights.dice * dice
    present = target.flatten(1).amax(1) > 0.5
    best = per_mask.argmin(dim=1)
    rows = torch.arange(len(up), device=up.device)
    mask_term = torch.where(present, per_mask[rows, best], per_mask.mean(1))
    iou_err = (iou_pred.float() - mask_iou(up, target)).abs().mean(1)
    iou_term = torch.where(present, iou_err, torch.zeros_like(iou_err))
    presence_term = F.binary_cross_entropy_with_logits(
        presence_logits.float().reshape(-1), present.float(), reduction="none"
    )
    total = mask_term + weights.iou * iou_term + weights.presence * presence_term
    pick = torch.where(present, best, torch.zeros_like(best))
    return {
        "total": total.sum(),
        "focal": float(focal[rows, pick].detach().sum()),
        "dice": float(dice[rows, pick].detach().sum()),
        "iou": float(iou_term.detach().sum()),
        "presence": float(presence_term.detach().sum()),
    }
