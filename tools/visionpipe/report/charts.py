"""The report's charts (matplotlib, Agg backend: no display, no network), each as PNG bytes."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PALETTE = (
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#C44E52",
    "#8172B3",
    "#937860",
    "#DA8BC3",
    "#8C8C8C",
    "#CCB974",
    "#64B5CD",
)
OUTCOME_COLOURS = {"normal": "#55A868", "anomalous": "#C44E52", "failed": "#8C8C8C"}
ROUND_COLOURS = {"adopted": "#55A868", "kept": "#4C72B0", "failed": "#C44E52", "running": "#CCB974"}
MAX_SERIES = 10  # stacked series beyond this are summed as "others"
MAX_SMALL_MULTIPLES = 12
DPI = 100

plt.rcParams.update(
    {
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "y",
        "grid.alpha": 0.3,
        "legend.fontsize": 8,
        "legend.frameon": False,
    }
)


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _empty(ax, text: str = "nothing in this window") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#888")
    ax.set_xticks([])
    ax.set_yticks([])


def _day_ticks(ax, days: list[str], rotate: bool = True) -> None:
    step = max(1, len(days) // 15)
    positions = list(range(0, len(days), step))
    ax.set_xticks(positions)
    ax.set_xticklabels(
        [date.fromisoformat(days[i]).strftime("%a %d %b") for i in positions],
        rotation=45 if rotate else 0,
        ha="right" if rotate else "center",
    )


def _top_series(series: dict[str, list[int]]) -> dict[str, list[int]]:
    """At most MAX_SERIES series (largest first); the rest summed as `others`."""
    ordered = sorted(series.items(), key=lambda kv: -sum(kv[1]))
    kept = dict(ordered[: MAX_SERIES - 1] if len(ordered) > MAX_SERIES else ordered)
    rest = ordered[len(kept) :]
    if rest:
        kept[f"{len(rest)} others"] = [sum(v) for v in zip(*(s for _, s in rest), strict=True)]
    return kept


def stacked_bars(
    ax, x: list[int], series: dict[str, list[int]], colours: dict[str, str] | None = None, width: float = 0.8
) -> None:
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no half detections
    bottom = [0] * len(x)
    for i, (name, values) in enumerate(series.items()):
        colour = (colours or {}).get(name, PALETTE[i % len(PALETTE)])
        ax.bar(x, values, width, bottom=bottom, label=name, color=colour)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]


def detections_per_day(days: list[str], per_device: dict[str, list[int]], title: str) -> bytes:
    figure, ax = plt.subplots(figsize=(10.8, 3.4))
    if not any(sum(v) for v in per_device.values()):
        _empty(ax)
    else:
        stacked_bars(ax, list(range(len(days))), _top_series(per_device))
        _day_ticks(ax, days)
        ax.set_ylabel("detections")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title)
    return png(figure)


def detections_per_hour(per_device: dict[str, list[int]], title: str) -> bytes:
    figure, ax = plt.subplots(figsize=(10.8, 3.2))
    if not any(sum(v) for v in per_device.values()):
        _empty(ax)
    else:
        stacked_bars(ax, list(range(24)), _top_series(per_device))
        ax.set_xticks(range(24))
        ax.set_xlabel("hour of day (UTC)")
        ax.set_ylabel("detections")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title)
    return png(figure)


def device_small_multiples(days: list[str], devices: list[str], per_day: dict, per_hour: dict) -> bytes:
    """One row per device: detections per day (left) and per hour of day (right), shared scales."""
    shown = devices[:MAX_SMALL_MULTIPLES]
    rows = max(1, len(shown))
    figure, axes = plt.subplots(rows, 2, figsize=(11, 1.55 * rows + 0.6), squeeze=False, sharey="col")
    for row, device in enumerate(shown):
        colour = PALETTE[row % len(PALETTE)]
        left, right = axes[row]
        left.bar(range(len(days)), per_day[device], color=colour)
        for ax in (left, right):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        right.bar(range(24), per_hour[device], color=colour)
        left.set_ylabel(device, rotation=0, ha="right", va="center", fontweight="bold")
        for ax in (left, right):
            ax.tick_params(labelbottom=row == rows - 1)
        right.set_xticks(range(0, 24, 3))
    if not shown:
        _empty(axes[0][0])
        _empty(axes[0][1])
    else:
        _day_ticks(axes[-1][0], days)
        axes[-1][1].set_xlabel("hour of day (UTC)")
    axes[0][0].set_title("detections per day")
    axes[0][1].set_title("per hour of day")
    if len(devices) > len(shown):
        figure.text(
            0.01, 0.0, f"{len(devices) - len(shown)} more device(s) in the tables and CSV", color="#666"
        )
    figure.tight_layout()
    return png(figure)


def labels_per_day(days: list[str], per_label: dict[str, list[int]]) -> bytes:
    figure, ax = plt.subplots(figsize=(10.8, 3.2))
    if not any(sum(v) for v in per_label.values()):
        _empty(ax)
    else:
        stacked_bars(ax, list(range(len(days))), _top_series(per_label))
        _day_ticks(ax, days)
        ax.set_ylabel("detections")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Detections per day, by label")
    return png(figure)


def confidence_boxes(groups: dict[str, dict[str, Any]], threshold: float, title: str) -> bytes:
    """Box per group from the exact histograms: box p25..p75, line median, whiskers p05..p95, ◆ mean."""
    names = [name for name, s in groups.items() if s["count"]][: MAX_SMALL_MULTIPLES * 2]
    figure, ax = plt.subplots(figsize=(10.8, 0.42 * max(3, len(names)) + 1.0))
    if not names:
        _empty(ax)
    else:
        stats = [
            {
                "label": f"{name} (n={groups[name]['count']:,})",
                "med": groups[name]["median"],
                "q1": groups[name]["p25"],
                "q3": groups[name]["p75"],
                "whislo": groups[name]["p05"],
                "whishi": groups[name]["p95"],
                "mean": groups[name]["mean"],
                "fliers": [],
            }
            for name in reversed(names)
        ]
        ax.bxp(
            stats,
            orientation="horizontal",
            showmeans=True,
            patch_artist=True,
            boxprops={"facecolor": "#C8D6EA", "edgecolor": "#4C72B0"},
            medianprops={"color": "#1f3b66", "linewidth": 2},
            meanprops={
                "marker": "D",
                "markerfacecolor": "#DD8452",
                "markeredgecolor": "#DD8452",
                "markersize": 5,
            },
        )
        ax.axvline(threshold, color="#C44E52", linestyle="--", linewidth=1)
        ax.text(
            threshold,
            1.0,
            f" threshold {threshold:g}",
            color="#C44E52",
            transform=ax.get_xaxis_transform(),
            va="bottom",
        )
        ax.set_xlim(0, 1.02)
        ax.set_xlabel("confidence")
        ax.grid(axis="x", alpha=0.3)
        ax.grid(axis="y", visible=False)
    ax.set_title(title, pad=14)
    return png(figure)


def confidence_per_day(days: list[str], per_day: dict[str, dict[str, Any]], threshold: float) -> bytes:
    figure, ax = plt.subplots(figsize=(10.8, 3.2))
    shown = [i for i, d in enumerate(days) if d in per_day and per_day[d]["count"]]
    if not shown:
        _empty(ax)
    else:
        x = list(range(len(days)))
        share = [(per_day[d]["share_at_or_above_threshold"] or 0) if d in per_day else 0 for d in days]
        ax.bar(x, share, color="#C8D6EA", label=f"share ≥ {threshold:g}")
        for name, colour in (("mean", "#DD8452"), ("median", "#1f3b66")):
            ax.plot(
                shown,
                [per_day[days[i]][name] for i in shown],
                marker="o",
                markersize=3,
                color=colour,
                label=name,
            )
        ax.set_ylim(0, 1.05)
        _day_ticks(ax, days)
        ax.set_ylabel("confidence / share")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Confidence per day: mean, median and share at or above the threshold")
    return png(figure)


def confidence_distribution(per_device_counts: dict[str, list[int]], threshold: float) -> bytes:
    figure, ax = plt.subplots(figsize=(10.8, 3.0))
    series = _top_series(per_device_counts)
    if not any(sum(v) for v in series.values()):
        _empty(ax)
    else:
        bins = len(next(iter(series.values())))
        width = 1 / bins
        x = [i * width + width / 2 for i in range(bins)]
        stacked_bars(ax, x, series, width=width * 0.92)
        ax.axvline(threshold, color="#C44E52", linestyle="--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("detections")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Confidence distribution (stacked by device)")
    return png(figure)


def verdicts_per_day(days: list[str], per_day: dict[str, dict[str, Any]], title: str) -> bytes:
    figure, ax = plt.subplots(figsize=(10.8, 3.4))
    normal = [per_day[d]["processed"] - per_day[d]["anomalies"] for d in days]
    anomalous = [per_day[d]["anomalies"] for d in days]
    failed = [per_day[d]["failures"] for d in days]
    if not any(normal) and not any(anomalous) and not any(failed):
        _empty(ax)
    else:
        x = list(range(len(days)))
        stacked_bars(ax, x, {"normal": normal, "anomalous": anomalous, "failed": failed}, OUTCOME_COLOURS)
        ax.set_ylabel("images")
        _day_ticks(ax, days)
        ratio_axis = ax.twinx()
        points = [
            (i, per_day[d]["anomaly_ratio"])
            for i, d in enumerate(days)
            if per_day[d]["anomaly_ratio"] is not None
        ]
        ratio_axis.plot(
            [p[0] for p in points], [p[1] for p in points], color="#1f1f1f", marker="o", markersize=3
        )
        ratio_axis.set_ylim(0, 1.05)
        ratio_axis.set_ylabel("anomaly ratio (line)")
        ratio_axis.grid(False)
        ratio_axis.spines["right"].set_visible(True)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.07, 1.0))
    ax.set_title(title)
    return png(figure)


def failures_by_reason(reasons: dict[str, int]) -> bytes:
    items = list(reasons.items())[:15]
    figure, ax = plt.subplots(figsize=(10.8, 0.35 * max(3, len(items)) + 0.8))
    if not items:
        _empty(ax, "no failures in this window")
    else:
        names = [name if len(name) <= 70 else name[:67] + "…" for name, _ in reversed(items)]
        ax.barh(names, [n for _, n in reversed(items)], color="#8C8C8C")
        ax.set_xlabel("failed uploads")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="x", alpha=0.3)
        ax.grid(axis="y", visible=False)
    ax.set_title("Failures by reason")
    return png(figure)


def latency_per_day(days: list[str], per_day: dict[str, dict[str, Any]]) -> bytes:
    figure, ax = plt.subplots(figsize=(10.8, 3.0))
    shown = [i for i, d in enumerate(days) if d in per_day and per_day[d]["count"]]
    if not shown:
        _empty(ax)
    else:
        for name, colour in (("p50", "#4C72B0"), ("p95", "#C44E52")):
            ax.plot(
                shown,
                [per_day[days[i]][name] for i in shown],
                marker="o",
                markersize=3,
                color=colour,
                label=name,
            )
        _day_ticks(ax, days)
        ax.set_ylabel("ms")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Detector latency per day (DetectLatencyMs)")
    return png(figure)


def retraining_rounds(rounds: list[dict[str, Any]]) -> bytes:
    figure, ax = plt.subplots(figsize=(10.8, 3.0))
    if not rounds:
        _empty(ax, "no retraining round in this window")
    else:
        x = list(range(len(rounds)))
        values = [r["validation_map"] or 0 for r in rounds]
        ax.bar(x, values, width=0.6, color=[ROUND_COLOURS.get(r["outcome"], "#888") for r in rounds])
        ax.set_xlim(-0.8, max(len(rounds), 6) - 0.2)  # a lone round is not a wall of colour
        for i, r in enumerate(rounds):
            text = f"{r['validation_map']:.3f}" if r["validation_map"] is not None else "no mAP"
            ax.text(i, values[i], f"{text}\n{r['outcome']}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels([f"round {r['round']}" if r["round"] is not None else r["name"] for r in rounds])
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("validation mAP")
    ax.set_title("Retraining rounds: validation mAP (green adopted, blue kept, red failed)")
    return png(figure)
