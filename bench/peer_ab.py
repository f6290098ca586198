#!/usr/bin/env python3
"""Forms of the PyTorch peer (bench/dcgan_torch.py's models) compared in one process, iterations alternated.

    /usr/bin/python3 bench/peer_ab.py --size 64 --gf 64 --pairs 8

Each pair runs one iteration (1 D + 1 G update) of every form; a form's figure is the median of its per-pair ratios
to the first form and how many pairs it was cheaper. Forms: plain (D's weight gradients computed in G steps too),
freeze (D's parameters frozen during G steps: the peer), freeze+cl (also channels_last).
"""
import argparse
import statistics
import sys
import time

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--size", type=int, default=64)
p.add_argument("--gf", type=int, default=64, help="gf = df")
p.add_argument("--pairs", type=int, default=8)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--forms", default="plain,freeze,freeze+cl")
a = p.parse_args()
# dcgan_torch parses its own arguments at import (and sets the thread variables before importing torch).
sys.argv = [sys.argv[0], "--size", str(a.size), "--gf", str(a.gf), "--df", str(a.gf), "--threads", str(a.threads)]
import dcgan_torch as m  # noqa: E402
import torch  # noqa: E402


def form(freeze, fmt):
    torch.manual_seed(0)
    G, D, opt_g, opt_d = m.build(a.size, a.gf, a.gf, fmt)
    real = (torch.rand(64, 3, a.size, a.size) * 2 - 1).contiguous(memory_format=fmt)
    return lambda: m.update(G, D, opt_g, opt_d, real, 1, freeze)


known = {"plain": (False, torch.contiguous_format), "freeze": (True, torch.contiguous_format),
         "freeze+cl": (True, torch.channels_last)}
names = a.forms.split(",")
its = {n: form(*known[n]) for n in names}
for n in names:
    for _ in range(2):
        its[n]()
times = {n: [] for n in names}
for _ in range(a.pairs):
    for n in names:
        t0 = time.perf_counter()
        its[n]()
        times[n].append(time.perf_counter() - t0)
for n in names:
    r = [x / y for x, y in zip(times[n], times[names[0]])]
    print(f"{n:10s} median {statistics.median(times[n]):.4f} s  ratio to {names[0]} {statistics.median(r):.3f}  "
          f"cheaper {sum(x < 1 for x in r)}/{len(r)}")
