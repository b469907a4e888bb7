"""Inception Score: exp of the mean KL divergence between p(y|x) and p(y) (Salimans et al. 2016)."""
from __future__ import annotations

import torch
from torch import Tensor


def split_bounds(n: int, splits: int) -> list[int]:
    """Inner boundaries i·n // splits (i = 1 … splits−1) of the paper's splits of n samples.

    These are the boundaries of the original Inception Score code: `splits` parts whose sizes
    differ by at most one, so 10 splits exist for any n >= 10 (torch.chunk gives fewer below ~90).
    """
    return [i * n // splits for i in range(1, splits)]


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of exp(E_x KL(p(y|x) || p(y))) over `splits` consecutive parts of the logits (N, classes).

    Ranges from 1 (every sample gets the same prediction) to the number of classes
    (confident predictions spread evenly over all classes). Fewer samples than `splits` give
    one split per sample.
    """
    log_p = torch.log_softmax(logits.detach().double(), dim=1)
    splits = max(1, min(splits, len(log_p)))
    scores = []
    for part in torch.tensor_split(log_p, split_bounds(len(log_p), splits), dim=0):
        log_marginal = torch.logsumexp(part, dim=0) - torch.log(torch.tensor(float(len(part)), dtype=torch.float64))
        kl = (part.exp() * (part - log_marginal)).sum(1).mean()
        scores.append(kl.exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False)) if len(scores) > 1 else 0.0
