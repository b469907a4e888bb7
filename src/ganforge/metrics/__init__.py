"""Judges of sample quality, by role: `features/` (feature networks), `scores/` (one module per score), and here the
orchestration (evaluate, reference statistics, the copy check, paired and super-resolution scoring).

    from ganforge.metrics import evaluate, score_images, classify
    scores = evaluate(generator, info, n=10000)          # {"fd": ..., "kid": ..., "is": ..., ...}
    scores = score_images(images, data="mnist")          # any images in [-1, 1] or uint8
    labels = classify(images)                            # the shipped digit classifier's predictions
    acc = conditional_accuracy(cgan_generator, 1000)     # {"overall", "per_class", "n"}

The functions are bound here after their modules are imported, so `ganforge.metrics.evaluate` is the function
even though a module of the same name holds it.
"""
from __future__ import annotations

from ganforge.metrics.evaluate import evaluate, score_images
from ganforge.metrics.features.digit_classifier import classify, load_classifier
from ganforge.metrics.features.extractors import FeatureExtractor, get_extractor
from ganforge.metrics.reference import reference_stats
from ganforge.metrics.scores.conditional_accuracy import conditional_accuracy
from ganforge.metrics.scores.frechet import frechet_distance
from ganforge.metrics.scores.inception_score import inception_score
from ganforge.metrics.scores.kid import kernel_inception_distance
from ganforge.metrics.scores.precision_recall import precision_recall

__all__ = ["EvalCallback", "FeatureExtractor", "classify", "conditional_accuracy", "evaluate", "frechet_distance",
           "get_extractor", "inception_score", "kernel_inception_distance", "load_classifier", "precision_recall",
           "reference_stats", "score_images"]


def __getattr__(name: str):
    """EvalCallback on first use (it imports the training package)."""
    if name == "EvalCallback":
        from ganforge.metrics.training_eval import EvalCallback

        return EvalCallback
    raise AttributeError(f"module 'ganforge.metrics' has no attribute {name!r}")
