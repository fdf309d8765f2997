"""The two pictures that show why the threshold is what it is.

Built on ``matplotlib.figure.Figure`` directly (no pyplot): no global backend or figure state, so
the CLI, the notebook kernel and the tests can all draw without interfering.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from evaluation.metrics import DistanceSamples
from evaluation.runner import KEEP_ALL, Mode
from evaluation.sweep import Recommendation, SweepPoint, fmt_threshold

HIT_PLOT = "hit_at_k_vs_threshold.png"
DISTANCE_PLOT = "distance_distributions.png"


def hit_vs_threshold(
    points: Sequence[SweepPoint],
    modes: Sequence[Mode],
    recommended: float,
    configured: float,
    model: str,
    top_k: int,
) -> Figure:
    """Right page kept (solid, per top_k) and not-covered rejected (dashed) against the cut."""
    fig = Figure(figsize=(6.0 * len(modes), 4.4), layout="constrained")
    axes = fig.subplots(1, len(modes), squeeze=False)[0]
    for ax, mode in zip(axes, modes, strict=True):
        mine = [p for p in points if p.mode == mode and p.threshold < KEEP_ALL]
        for k in sorted({p.top_k for p in mine}):
            line = sorted((p for p in mine if p.top_k == k), key=lambda p: p.threshold)
            xs = [p.threshold for p in line]
            ax.plot(xs, [p.right_kept for p in line], marker=".", label=f"right page kept, k={k}")
        line = sorted((p for p in mine if p.top_k == top_k), key=lambda p: p.threshold)
        ax.plot(
            [p.threshold for p in line],
            [p.rejected for p in line],
            "k--",
            label=f"not covered: nothing kept, k={top_k}",
        )
        ax.axvline(
            recommended, color="tab:green", lw=1, label=f"recommended {fmt_threshold(recommended)}"
        )
        ax.axvline(
            configured,
            color="tab:red",
            lw=1,
            ls=":",
            label=f"configured {fmt_threshold(configured)}",
        )
        ax.set(
            title=f"{mode} ({model})",
            xlabel="RAG_DISTANCE_THRESHOLD (cosine distance)",
            ylabel="share of questions",
            ylim=(-0.02, 1.02),
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center right")
    return fig


def distance_distributions(samples: DistanceSamples, configured: float, model: str) -> Figure:
    """Closest right chunk vs closest wrong chunk vs top-1 of not-covered questions."""
    fig = Figure(figsize=(7.5, 4.4), layout="constrained")
    ax = fig.subplots()
    series = [
        ("right page (closest)", samples.right, "tab:green"),
        ("best wrong page", samples.best_wrong, "tab:orange"),
        ("not covered: top-1", samples.not_covered, "tab:gray"),
    ]
    everything = [v for _, values, _ in series for v in values] or [0.0, 0.3]
    low, high = min(everything), max(everything)
    bins = [low + (high - low) * i / 30 for i in range(31)] if high > low else 10
    for label, values, color in series:
        if values:
            ax.hist(
                values,
                bins=bins,
                density=True,
                histtype="step",
                lw=1.8,
                color=color,
                label=f"{label} (n={len(values)})",
            )
    ax.axvline(
        configured, color="tab:red", ls=":", lw=1, label=f"configured {fmt_threshold(configured)}"
    )
    ax.set(
        title=f"Cosine distance to the question ({model}, dense)",
        xlabel="cosine distance",
        ylabel="density",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def write_plots(
    out_dir: Path,
    points: Sequence[SweepPoint],
    modes: Sequence[Mode],
    samples: DistanceSamples,
    recommendation: Recommendation,
    configured: float,
    model: str,
) -> list[Path]:
    return [
        save(
            hit_vs_threshold(
                points, modes, recommendation.threshold, configured, model, recommendation.top_k
            ),
            out_dir / HIT_PLOT,
        ),
        save(distance_distributions(samples, configured, model), out_dir / DISTANCE_PLOT),
    ]
