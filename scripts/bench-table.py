#!/usr/bin/env python3
"""Prints eventgate's benchmark figures beside its peers', as ratios, from one criterion run.

Reads the point estimates criterion wrote under target/criterion (or $CARGO_TARGET_DIR/criterion)
for the benches in benches/, so run `cargo bench` first (one run: the ratios only hold when both
sides were measured on the same loaded machine at the same time). Each row is one comparison:
eventgate's figure, the peer's figure, their ratio and the issue's target for it.

The dispatch and publish benches also run their rows in interleaved rounds after criterion's
(benches/support/rounds.rs) and write each round's figures to target/criterion/interleaved/.
Those give a second table (the only one after a rounds-only run such as
`cargo bench --bench dispatch -- rounds-only`): each ratio is taken within one round, where both sides ran seconds
apart, and the median over rounds is shown. On a shared machine, where one peer's speed can
change by half between two criterion rows, that table is the one to read for the targets.
The exit status is 0 whatever the figures; the tables say which targets were met.
"""

import json
import os
import sys
from pathlib import Path

# (label, eventgate id, peer id, divide both by, target ratio or None)
ROWS = [
    ("dispatch to 1, gate off / mpsc", "dispatch/ungated/1", "dispatch/tokio_mpsc/1", 1, 1.5),
    ("dispatch to 1, gate on / mpsc", "dispatch/at_most_once/1", "dispatch/tokio_mpsc/1", 1, 2.5),
    ("dispatch to 1, gate off / broadcast 1", "dispatch/ungated/1", "dispatch/tokio_broadcast/1", 1, None),
    ("fan-out to 4, gate off / broadcast, per delivery", "dispatch/ungated/4", "dispatch/tokio_broadcast/4", 4, None),
    ("fan-out to 16, gate off / broadcast, per delivery", "dispatch/ungated/16", "dispatch/tokio_broadcast/16", 16, 1.5),
    ("fan-out to 4, gate on / broadcast, per delivery", "dispatch/at_most_once/4", "dispatch/tokio_broadcast/4", 4, None),
    ("fan-out to 16, gate on / broadcast, per delivery", "dispatch/at_most_once/16", "dispatch/tokio_broadcast/16", 16, None),
    ("dispatch to 1, gate off / direct call", "dispatch/ungated/1", "dispatch/direct_call", 1, None),
    ("publish, one of 4 hung / all healthy", "publish/one_hung/4", "publish/all_healthy/4", 1, 1.2),
    ("gate claim+complete / Mutex<HashMap> update", "gate/memory_store/one_thread", "gate/std_mutex_hashmap/one_thread", 1, None),
    ("gate via boxed futures / direct calls", "gate/memory_store_boxed_futures/one_thread", "gate/memory_store/one_thread", 1, None),
    ("gate, two threads same keys / one thread", "gate/memory_store/two_threads_same_keys", "gate/memory_store/one_thread", 1, None),
    ("simulator steady seed, history on / off", "simulator/steady/history_on", "simulator/steady/history_off", 1, None),
]


def criterion_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    root = Path(target) if target else Path(__file__).resolve().parent.parent / "target"
    return root / "criterion"


def estimates(root: Path) -> dict:
    """Maps each benchmark's full id to its time per iteration, in ns: criterion's headline
    figure, the slope of time over iterations (the mean when a run has no slope)."""
    found = {}
    # Oldest first, so that when two directories hold one id (criterion names a directory
    # after how the id was spelled), the newest measurement wins.
    for benchmark in sorted(root.glob("**/new/benchmark.json"), key=lambda p: p.stat().st_mtime):
        full_id = json.loads(benchmark.read_text())["full_id"]
        estimate = json.loads((benchmark.parent / "estimates.json").read_text())
        headline = estimate.get("slope") or estimate["mean"]
        found[full_id] = headline["point_estimate"]
    return found


def interleaved(root: Path) -> dict:
    """Maps each row id to its per-round figures (ns per iteration), from every bench that
    wrote interleaved rounds."""
    rounds = {}
    for path in sorted((root / "interleaved").glob("*.json")):
        rounds.update(json.loads(path.read_text()))
    return rounds


def median(values: list) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def print_row(label: str, ours_ns: float, peer_ns: float, ratio: float, target) -> None:
    goal = f"≤ {target}" if target else ""
    met = ("yes" if ratio <= target else "NO") if target else ""
    print(f"{label:<52} {nanos(ours_ns):>10} {nanos(peer_ns):>10} {ratio:>6.2f} {goal:>7}  {met}")


def print_interleaved(rounds: dict) -> None:
    if not rounds:
        return
    count = min(len(figures) for figures in rounds.values())
    print()
    print(f"interleaved rounds ({count} rounds; medians; each ratio taken within a round):")
    print(HEADER)
    print("-" * len(HEADER))
    for label, ours, peer, per, target in ROWS:
        if ours not in rounds or peer not in rounds:
            continue
        pairs = list(zip(rounds[ours], rounds[peer]))
        ratio = median([a / b for a, b in pairs])
        print_row(label, median(rounds[ours]) / per, median(rounds[peer]) / per, ratio, target)


HEADER = f"{'comparison':<52} {'eventgate':>10} {'peer':>10} {'ratio':>6} {'target':>7}  met"


def nanos(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f} ms"
    if value >= 1e3:
        return f"{value / 1e3:.2f} µs"
    return f"{value:.1f} ns"


def main() -> int:
    root = criterion_dir()
    found = estimates(root)
    rounds = interleaved(root)
    if not found and not rounds:
        print(f"no criterion estimates under {root}: run `cargo bench` first", file=sys.stderr)
        return 1
    if found:
        print_criterion(found)
    print_interleaved(rounds)
    if found:
        print()
        print("absolute figures (per iteration: one event, one publish, one key):")
        for full_id in sorted(found):
            print(f"  {full_id:<48} {nanos(found[full_id]):>10}")
    return 0


def print_criterion(found: dict) -> None:
    print("criterion (rows measured one after another):")
    print(HEADER)
    print("-" * len(HEADER))
    for label, ours, peer, per, target in ROWS:
        if ours not in found or peer not in found:
            print(f"{label:<52} {'(not measured)':>29}")
            continue
        ours_ns, peer_ns = found[ours] / per, found[peer] / per
        print_row(label, ours_ns, peer_ns, ours_ns / peer_ns, target)


if __name__ == "__main__":
    sys.exit(main())
