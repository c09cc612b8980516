"""Agentic trajectories: sequences of turns (appended tokens a_i, generated tokens o_i).

Turn ``i`` of a trajectory sees the cached context ``sum_{j<i} (a_j + o_j)`` (everything before
it), appends ``a_i`` new tokens and generates ``o_i``. A trajectory is truncated at the maximum
agent length (MAL): the first turn whose context + append + generation would exceed it is dropped
with everything after it (the first turn is always kept).

Statistics follow the paper's Table 2 weighting (see README, "Table 2 weighting"): per-turn
columns (Append, Gen, Context, Turns) are averages over *all turns pooled* — turn-weighted — while
Total is the plain mean over trajectories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import WorkloadError


@dataclass(frozen=True)
class TrajectorySet:
    """Many trajectories in flat arrays: turns of trajectory ``j`` are ``offsets[j]:offsets[j+1]``."""

    offsets: np.ndarray  # (N + 1,) int64
    append_tokens: np.ndarray  # (T,) int64
    generated_tokens: np.ndarray  # (T,) int64
    max_agent_length_tokens: int

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or self.offsets[0] != 0 or np.any(np.diff(self.offsets) < 1):
            raise WorkloadError("trajectory offsets must start at 0 and give every trajectory at least one turn")
        if self.append_tokens.shape != self.generated_tokens.shape or self.offsets[-1] != len(self.append_tokens):
            raise WorkloadError("trajectory arrays disagree in length")
        if len(self.append_tokens) and (self.append_tokens.min() < 0 or self.generated_tokens.min() < 0):
            raise WorkloadError("token counts must be >= 0")

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def from_lists(cls, appends: list, generated: list, max_agent_length_tokens: int, truncate: bool = True) -> TrajectorySet:
        lens = [len(a) for a in appends]
        if any(n == 0 for n in lens) or lens != [len(g) for g in generated]:
            raise WorkloadError("every trajectory needs >= 1 turn with as many generated as appended counts")
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        a = np.concatenate([np.asarray(x, np.int64) for x in appends]) if appends else np.zeros(0, np.int64)
        g = np.concatenate([np.asarray(x, np.int64) for x in generated]) if generated else np.zeros(0, np.int64)
        ts = cls(offsets, a, g, int(max_agent_length_tokens))
        return ts.truncated() if truncate else ts

    @property
    def agents_count(self) -> int:
        return len(self.offsets) - 1

    @property
    def turns_count(self) -> int:
        return int(self.offsets[-1])

    def turns_per_trajectory(self) -> np.ndarray:
        return np.diff(self.offsets)

    def trajectory_index(self) -> np.ndarray:
        """For every turn, the index of its trajectory."""
        return np.repeat(np.arange(self.agents_count), self.turns_per_trajectory())

    def context_tokens(self) -> np.ndarray:
        """Cached context of every turn: all appended and generated tokens before it in its trajectory."""
        step = self.append_tokens + self.generated_tokens
        cum = np.cumsum(step)
        start = np.repeat(cum[self.offsets[:-1]] - step[self.offsets[:-1]], self.turns_per_trajectory())
        return cum - step - start

    def total_tokens(self) -> np.ndarray:
        """Final length of every trajectory."""
        step = self.append_tokens + self.generated_tokens
        return np.add.reduceat(step, self.offsets[:-1]) if self.turns_count else np.zeros(0)

    def trajectory(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        s, e = self.offsets[j], self.offsets[j + 1]
        return self.append_tokens[s:e], self.generated_tokens[s:e]

    # ---- transformations -------------------------------------------------------------------
    def truncated(self) -> TrajectorySet:
        """Drop every turn whose end (context + a + o) exceeds MAL; the first turn always stays."""
        end = self.context_tokens() + self.append_tokens + self.generated_tokens
        first = np.zeros(self.turns_count, bool)
        first[self.offsets[:-1]] = True
        over = end > self.max_agent_length_tokens
        # a turn stays if no turn at or before it (in its trajectory) is over, or it is the first
        idx = self.trajectory_index()
        over_cum = np.maximum.accumulate(np.where(over, np.arange(self.turns_count), -1))
        started = self.offsets[:-1][idx]
        keep = (over_cum < started) | first
        if keep.all():
            return self
        counts = np.bincount(idx[keep], minlength=self.agents_count)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return TrajectorySet(offsets, self.append_tokens[keep], self.generated_tokens[keep], self.max_agent_length_tokens)

    def scaled(self, *, append_factor: float = 1.0, generated_factor: float = 1.0) -> TrajectorySet:
        """The paper's knob: scale every turn's append (and/or generation) and re-truncate at MAL."""
        if append_factor <= 0 or generated_factor <= 0:
            raise WorkloadError("scale factors must be > 0")
        a = np.maximum(1, np.rint(self.append_tokens * append_factor)).astype(np.int64)
        g = np.maximum(1, np.rint(self.generated_tokens * generated_factor)).astype(np.int64)
        return TrajectorySet(self.offsets.copy(), a, g, self.max_agent_length_tokens).truncated()

    def with_extra_agents(self, extra: int, *, seed: int = 0, first_round_tokens: int | None = None) -> TrajectorySet:
        """The paper's knob for more agents: sample existing trajectories and prepend a random first
        round (one generated token), re-truncated. The paper does not give the round's length:
        ``first_round_tokens`` tokens, or by default the sampled trajectory's own first-append length."""
        if extra < 0:
            raise WorkloadError("extra agents must be >= 0")
        if first_round_tokens is not None and (
            isinstance(first_round_tokens, bool) or not isinstance(first_round_tokens, int | np.integer) or first_round_tokens < 1
        ):
            raise WorkloadError(
                f"first_round_tokens = {first_round_tokens!r}: must be an integer >= 1 (or None: the trajectory's own first append)"
            )
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, self.agents_count, extra)
        appends, gens = [], []
        for j in range(self.agents_count):
            a, g = self.trajectory(j)
            appends.append(a)
            gens.append(g)
        for j in picks:
            a, g = self.trajectory(int(j))
            appends.append(np.concatenate([[a[0] if first_round_tokens is None else first_round_tokens], a]))
            gens.append(np.concatenate([[1], g]))
        return TrajectorySet.from_lists(appends, gens, self.max_agent_length_tokens)

    # ---- statistics ------------------------------------------------------------------------
    def stats(self) -> dict[str, float]:
        """Table 2 columns with its weighting: per-turn columns pooled over turns, Total per trajectory."""
        n = self.turns_per_trajectory().astype(float)
        ctx = self.context_tokens()
        return {
            "agents": float(self.agents_count),
            "turns_mean": float(n.mean()),
            "turns_turn_weighted": float((n**2).sum() / n.sum()),
            "append_tokens_per_turn": float(self.append_tokens.mean()),
            "generated_tokens_per_turn": float(self.generated_tokens.mean()),
            "context_tokens_per_turn": float(ctx.mean()),
            "total_tokens_mean": float(self.total_tokens().mean()),
            "hit_frac_tokens": float(ctx.sum() / (ctx.sum() + self.append_tokens.sum())),
        }
