"""Routing: which endpoint, and which body of its payload set, a request number goes to.

The split by weight is nginx's smooth weighted round-robin: over one period (the sum of
the weights, reduced by their gcd) every endpoint gets exactly its weight, interleaved as
evenly as possible (weights 3:1 give a, a, b, a — never a burst of a's then b's). Tickets
carry run-wide numbers (control.Ticket.slot), so any prefix of whole periods is split
exactly, and so is each endpoint's own sequence over its payload set in round-robin
order, across all workers.
"""

from __future__ import annotations

import math


def smooth_weighted(weights: list[int]) -> list[int]:
    """One period of the smooth weighted round-robin sequence of endpoint indices."""
    divisor = math.gcd(*weights)
    reduced = [w // divisor for w in weights]
    total = sum(reduced)
    current = [0] * len(reduced)
    sequence = []
    for _ in range(total):
        for i, weight in enumerate(reduced):
            current[i] += weight
        best = max(range(len(reduced)), key=current.__getitem__)  # the first of equals: stable order
        current[best] -= total
        sequence.append(best)
    return sequence


class Route:
    """Maps a request number to (endpoint index, that endpoint's own request number)."""

    def __init__(self, weights: list[int]) -> None:
        sequence = smooth_weighted(weights)
        self.period = len(sequence)
        self.weights = [sequence.count(i) for i in range(len(weights))]
        """Requests per period for each endpoint (the weights over their gcd)."""
        seen = [0] * len(weights)
        self.table: list[tuple[int, int]] = []
        """Per position in the period: (endpoint index, how many of its requests came before in the period)."""
        for index in sequence:
            self.table.append((index, seen[index]))
            seen[index] += 1

    def __call__(self, number: int) -> tuple[int, int]:
        index, before = self.table[number % self.period]
        return index, (number // self.period) * self.weights[index] + before
