"""Classification metrics from integer labels and predictions (numpy, no sklearn)."""

from __future__ import annotations

import numpy as np

__all__ = ["confusion_matrix", "classification_report"]


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of samples with true class i predicted as j."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    predictions = np.asarray(predictions, dtype=np.int64).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in length")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got [{values.min()}, {values.max()}]")
    flat = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def classification_report(labels, predictions, num_classes: int) -> dict:
    """Top-1 accuracy, macro-F1 (over classes present in labels or predictions),
    per-class accuracy (recall; NaN for a class absent from labels) and the confusion matrix."""
    cm = confusion_matrix(labels, predictions, num_classes).astype(np.float64)
    total = cm.sum()
    true_pos = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, true_pos / support, np.nan)
        precision = np.where(predicted > 0, true_pos / predicted, 0.0)
        f1 = np.where(precision + np.nan_to_num(recall) > 0,
                      2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)), 0.0)
    present = (support > 0) | (predicted > 0)
    return {
        "accuracy": float(true_pos.sum() / total) if total else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "per_class_accuracy": recall.tolist(),
        "confusion_matrix": cm.astype(np.int64).tolist(),
        "num_samples": int(total),
    }
