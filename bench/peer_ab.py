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

B, Z = 64, 100
bce = torch.nn.BCEWithLogitsLoss()
ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)


def form(freeze, fmt):
    torch.manual_seed(0)
    G, D = m.Generator(a.size, a.gf, Z, 3), m.Discriminator(a.size, a.gf, 3)
    G.apply(m.init_weights)
    D.apply(m.init_weights)
    G.to(memory_format=fmt)
    D.to(memory_format=fmt)
    og = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = (torch.rand(B, 3, a.size, a.size) * 2 - 1).contiguous(memory_format=fmt)

    def iteration():
        with torch.no_grad():
            fake = G(torch.rand(B, Z) * 2 - 1)
        ld = bce(D(real), ones) + bce(D(fake), zeros)
        od.zero_grad(set_to_none=True)
        ld.backward()
        od.step()
        D.requires_grad_(not freeze)
        lg = bce(D(G(torch.rand(B, Z) * 2 - 1)), ones)
        og.zero_grad(set_to_none=True)
        lg.backward()
        og.step()
        D.requires_grad_(True)
    return iteration


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
