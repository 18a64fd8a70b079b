"""The learners' matrix products on this CPU: float32 and bfloat16, at 1 and 2 threads.

Times ``torch.mm`` / ``torch.bmm`` at the shapes of the reference learner (batch 256, two
hidden layers of 256, twin critics as one batched product) and of twice the batch, each
thread count in a process of its own. It shows where a second thread pays off: float32
products split well, while a bfloat16 product of 256 rows costs about the same on one
thread or two (the library's fixed cost per call is most of it). Prints a table and writes
bench/results/matmul.json.

    python bench/matmul.py [--repeats 2000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
# (label, batch of the product (None: a plain mm), rows, inner, columns)
SHAPES = [
    ("hidden layer, 256 rows", None, 256, 256, 256),
    ("hidden layer, 512 rows", None, 512, 256, 256),
    ("twin critics' hidden layer", 2, 256, 256, 256),
    ("first layer (17 inputs)", None, 256, 17, 256),
    ("last layer (6 outputs)", None, 256, 256, 6),
]


def _time_us(fn, repeats: int) -> float:
    for _ in range(repeats // 10):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e6


def _measure(threads: int, repeats: int, out: mp.Queue) -> None:
    torch.set_num_threads(threads)
    rows = []
    for label, batch, m, k, n in SHAPES:
        row = {"shape": label, "threads": threads}
        for dtype in (torch.float32, torch.bfloat16):
            lead = () if batch is None else (batch,)
            a, b = torch.randn(*lead, m, k).to(dtype), torch.randn(*lead, k, n).to(dtype)
            product = torch.mm if batch is None else torch.bmm
            row[str(dtype).removeprefix("torch.")] = _time_us(lambda: product(a, b), repeats)
        rows.append(row)
    out.put(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2000, help="products timed per shape and dtype")
    args = parser.parse_args()
    context = mp.get_context("spawn")
    results = []
    for threads in (1, 2):
        queue = context.Queue()
        process = context.Process(target=_measure, args=(threads, args.repeats, queue))
        process.start()
        results += queue.get()
        process.join()
    print(f"{'product':<28} {'threads':>7} {'float32 us':>11} {'bfloat16 us':>12}")
    for row in results:
        print(f"{row['shape']:<28} {row['threads']:>7} {row['float32']:>11.1f} {row['bfloat16']:>12.1f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "matmul.json"
    out.write_text(json.dumps({"repeats": args.repeats, "torch": torch.__version__, "rows": results}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
