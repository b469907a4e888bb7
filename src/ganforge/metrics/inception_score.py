"""Inception Score: exp of the mean KL divergence between p(y|x) and p(y) (Salimans et al. 2016)."""
from __future__ import annotations

import torch
from torch import Tensor


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of exp(E_x KL(p(y|x) || p(y))) over `splits` consecutive chunks of the logits (N, classes).

    Ranges from 1 (every sample gets the same prediction) to the number of classes
    (confident predictions spread evenly over all classes).
    """
    log_p = torch.log_softmax(logits.detach().double(), dim=1)
    splits = max(1, min(splits, len(log_p)))
    scores = []
    for chunk in log_p.chunk(splits, dim=0):
        log_marginal = torch.logsumexp(chunk, dim=0) - torch.log(torch.tensor(float(len(chunk)), dtype=torch.float64))
        kl = (chunk.exp() * (chunk - log_marginal)).sum(1).mean()
        scores.append(kl.exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False)) if len(scores) > 1 else 0.0
