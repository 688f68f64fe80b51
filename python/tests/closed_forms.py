"""Exact references: the seven standardised smoothing distributions (density and CDF, as in
Sources/GSSCore/Distributions/Distribution.swift) and the smoothed functions built from them."""

from __future__ import annotations

import math

DISTRIBUTIONS = ("gaussian", "logistic", "gumbel", "cauchy", "laplace", "triangular", "wigner")


def density(dist: str, e: float) -> float:
    if dist == "gaussian":
        return math.exp(-0.5 * e * e) / math.sqrt(2 * math.pi)
    if dist == "logistic":
        t = math.exp(-abs(e))
        return t / (1 + t) ** 2
    if dist == "gumbel":
        return math.exp(-e - math.exp(-e))
    if dist == "cauchy":
        return 1 / (math.pi * (1 + e * e))
    if dist == "laplace":
        return 0.5 * math.exp(-abs(e))
    if dist == "triangular":
        return max(0.0, 1 - abs(e))
    if dist == "wigner":
        return 2 / math.pi * math.sqrt((1 - e) * (1 + e)) if abs(e) < 1 else 0.0
    raise ValueError(dist)


def cdf(dist: str, e: float) -> float:
    if dist == "gaussian":
        return 0.5 * math.erfc(-e / math.sqrt(2))
    if dist == "logistic":
        return 1 / (1 + math.exp(-e))
    if dist == "gumbel":
        return math.exp(-math.exp(-e))
    if dist == "cauchy":
        return 0.5 + math.atan(e) / math.pi
    if dist == "laplace":
        return 0.5 * math.exp(e) if e < 0 else 1 - 0.5 * math.exp(-e)
    if dist == "triangular":
        if e <= -1:
            return 0.0
        if e >= 1:
            return 1.0
        return 0.5 * (1 + e) ** 2 if e < 0 else 1 - 0.5 * (1 - e) ** 2
    if dist == "wigner":
        if e <= -1:
            return 0.0
        if e >= 1:
            return 1.0
        return 0.5 + (e * math.sqrt(1 - e * e) + math.asin(e)) / math.pi
    raise ValueError(dist)


def heaviside(dist: str, x: float, gamma: float) -> tuple[float, float, float]:
    """f(x) = 1[x > 0] smoothed: (value, d/dx, d/dgamma) of P(x + gamma eps > 0) = 1 - F(-x/gamma)."""
    t = -x / gamma
    return 1 - cdf(dist, t), density(dist, t) / gamma, -density(dist, t) * x / gamma**2


def difference_cdf(dist: str, d: float) -> float:
    """P(eps0 - eps1 <= d) for independent standard eps0, eps1 (gaussian or logistic)."""
    if dist == "gaussian":
        return 0.5 * math.erfc(-d / 2)  # eps0 - eps1 ~ N(0, 2)
    if dist == "logistic":
        if abs(d) < 1e-6:
            return 0.5 + d / 6
        e = math.exp(d)
        return e * (e - 1 - d) / (e - 1) ** 2
    raise ValueError(dist)


def difference_density(dist: str, d: float) -> float:
    if dist == "gaussian":
        return math.exp(-d * d / 4) / math.sqrt(4 * math.pi)
    if dist == "logistic":
        if abs(d) < 1e-4:
            return 1 / 6 - d * d / 60
        e = math.exp(d)
        return e * ((d - 2) * e + d + 2) / (e - 1) ** 3
    raise ValueError(dist)


def sorter2(dist: str, x0: float, x1: float, gamma: float) -> tuple[list[float], list[list[float]]]:
    """The sorter's smoothed permutation matrix for n = 2 (y[i*2 + j] = 1 iff x_i has rank j)
    and its Jacobian: p = P(x0 + g e0 < x1 + g e1) = P(e0 - e1 < (x1 - x0)/g)."""
    d = (x1 - x0) / gamma
    p = difference_cdf(dist, d)
    dp = difference_density(dist, d) / gamma  # d p / d x1; d p / d x0 = -dp
    value = [p, 1 - p, 1 - p, p]
    jacobian = [[-dp, dp], [dp, -dp], [dp, -dp], [-dp, dp]]
    return value, jacobian
