#!/usr/bin/env python3
"""PyTorch peer for ganc's benchmark: the base DCGAN of shared/SEED.md, timed per iteration.

One iteration = 1 D update + g_steps G updates, each with a fresh G forward. Without --data, real data
is a pre-generated random batch in [-1, 1] (the bare iteration). With --data DIR it is a training loop
over that image folder, the peer of `ganc run`: images decoded once into memory, a DataLoader that
shuffles and prefetches batches (--workers), fresh noise, losses read back and logged every step.

Run with Debian's interpreter (/usr/bin/python3), which is the one python3-torch installs into.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", type=int, default=64, help="image size, a multiple of 16")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--gf", type=int, default=64)
    p.add_argument("--df", type=int, default=64)
    p.add_argument("--zdim", type=int, default=100)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--g-steps", type=int, default=1, help="G updates per D update (carpedm20: 2)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deconv", choices=("native", "conv-adjoint"), default="conv-adjoint",
                   help="conv-adjoint (the peer): the transposed conv as conv backward-data, on oneDNN, as current "
                        "PyTorch releases run nn.ConvTranspose2d; native: nn.ConvTranspose2d of Debian's torch 1.13, "
                        "which runs on a slow non-oneDNN path")
    p.add_argument("--freeze-d", type=int, default=1,
                   help="1 (the peer): D's parameters stop requiring gradients during G steps, so its weight "
                        "gradients are not computed there (as StyleGAN2-ADA and BigGAN-PyTorch do); 0: plain loop")
    p.add_argument("--channels-last", type=int, default=0, help="1: models and batches in channels_last memory format")
    p.add_argument("--data", help="train on this image folder (end-to-end loop) instead of a fixed random batch")
    p.add_argument("--steps", type=int, default=40, help="with --data: iterations to run")
    p.add_argument("--workers", type=int, default=1, help="with --data: DataLoader worker processes (0: no prefetch)")
    p.add_argument("--metrics", help="with --data: write one JSON line per iteration here (as ganc run does)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (scripts/check-cuda.ts)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--check", action="store_true", help="verify the SAME deconv against the conv adjoint, then exit")
    return p.parse_args()


args = parse_args()
# Thread pools read these at load time, so set them before importing torch.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)

K = 5
# TF "SAME" for k5 s2 on an even size: 1 before, 2 after (F.pad order: left, right, top, bottom).
SAME_PAD = (1, 2, 1, 2)


def deconv_same(x, weight, bias):
    """TF conv2d_transpose "SAME" (k5 s2, output 2H): the adjoint of conv(F.pad(x, SAME_PAD)).

    The full transposed conv is 2H+3 wide; SAME crops 1 at the start and 2 at the end. PyTorch's
    padding crops symmetrically, so crop 1 with padding=1 and drop the last row/column by slicing.
    (padding=2, output_padding=1 also gives 2H but is shifted by one pixel.)
    """
    h, w = x.shape[-2:]
    return F.conv_transpose2d(x, weight, bias, stride=2, padding=1)[..., : 2 * h, : 2 * w]


class DeconvSameAdjoint(torch.autograd.Function):
    """deconv_same computed as the backward-data of a stride-2 conv on the padded size 2H+3,
    with its gradients as the forward conv (input) and the conv weight gradient (weight)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        n, _, h, w = x.shape
        full = (n, weight.shape[1], 2 * h + 3, 2 * w + 3)
        y = torch.nn.grad.conv2d_input(full, weight, x, stride=2)[..., 1 : 2 * h + 1, 1 : 2 * w + 1]
        ctx.save_for_backward(x, weight)
        return y + bias.view(1, -1, 1, 1)

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        gfull = F.pad(gy, SAME_PAD)
        gx = F.conv2d(gfull, weight, stride=2)
        gw = torch.nn.grad.conv2d_weight(gfull, weight.shape, x, stride=2)
        return gx, gw, gy.sum((0, 2, 3))


def check_deconv():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=g)
    w = torch.randn(4, 3, K, K, dtype=torch.float64, generator=g)
    y = F.conv2d(F.pad(x, SAME_PAD), w, stride=2)
    u = torch.randn(y.shape, dtype=torch.float64, generator=g)
    lhs = (y * u).sum().item()
    ours = deconv_same(u, w, None)
    rhs = (x * ours).sum().item()
    # The autograd input-gradient of the padded conv is the adjoint by definition.
    xg = x.clone().requires_grad_()
    (F.conv2d(F.pad(xg, SAME_PAD), w, stride=2) * u).sum().backward()
    naive_pt = F.conv_transpose2d(u, w, stride=2, padding=2, output_padding=1)
    # The conv-adjoint variant: same values, and gradients that pass gradcheck.
    b = torch.randn(3, dtype=torch.float64, generator=g)
    alt = DeconvSameAdjoint.apply(u, w, b)
    ws = torch.randn(2, 3, K, K, dtype=torch.float64, generator=g).requires_grad_()
    gradcheck_ok = torch.autograd.gradcheck(
        DeconvSameAdjoint.apply,
        (torch.randn(1, 2, 3, 3, dtype=torch.float64, generator=g).requires_grad_(), ws,
         torch.randn(3, dtype=torch.float64, generator=g).requires_grad_()))
    return {
        "conv_adjoint_max_abs_diff": (alt - deconv_same(u, w, b)).abs().max().item(),
        "conv_adjoint_gradcheck": gradcheck_ok,
        "adjoint_lhs": lhs,
        "adjoint_rhs": rhs,
        "max_abs_vs_autograd": (ours - xg.grad).abs().max().item(),
        "pytorch_p2_op1_max_abs_diff": (naive_pt - xg.grad).abs().max().item(),
        "ok": abs(lhs - rhs) < 1e-9 * max(1.0, abs(lhs)) and torch.allclose(ours, xg.grad)
        and gradcheck_ok and torch.allclose(alt, deconv_same(u, w, b)),
    }


class DeconvSame(nn.ConvTranspose2d):
    def __init__(self, cin, cout):
        super().__init__(cin, cout, K, stride=2)

    def forward(self, x):
        if args.deconv == "conv-adjoint":
            return DeconvSameAdjoint.apply(x, self.weight, self.bias)
        return deconv_same(x, self.weight, self.bias)


class ConvSame(nn.Conv2d):
    def __init__(self, cin, cout):
        super().__init__(cin, cout, K, stride=2, padding=0)

    def forward(self, x):
        return super().forward(F.pad(x, SAME_PAD))


def bn(c):
    # TF decay 0.9 == PyTorch momentum 0.1; in train mode BN uses batch statistics.
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)


class Generator(nn.Module):
    def __init__(self, size, gf, zdim, channels):
        super().__init__()
        self.s = size // 16
        self.c0 = 8 * gf
        self.lin = nn.Linear(zdim, self.c0 * self.s * self.s)
        self.bn0 = bn(self.c0)
        chans = [8 * gf, 4 * gf, 2 * gf, gf, channels]
        self.deconvs = nn.ModuleList(DeconvSame(a, b) for a, b in zip(chans, chans[1:]))
        self.bns = nn.ModuleList(bn(c) for c in chans[1:4])

    def forward(self, z):
        # Channel-major reshape of the linear output, as in the TS reference.
        h = F.relu(self.bn0(self.lin(z).view(-1, self.c0, self.s, self.s)))
        for i, d in enumerate(self.deconvs):
            h = d(h)
            h = F.relu(self.bns[i](h)) if i < 3 else torch.tanh(h)
        return h


class Discriminator(nn.Module):
    def __init__(self, size, df, channels):
        super().__init__()
        chans = [channels, df, 2 * df, 4 * df, 8 * df]
        self.convs = nn.ModuleList(ConvSame(a, b) for a, b in zip(chans, chans[1:]))
        self.bns = nn.ModuleList(bn(c) for c in chans[2:])
        s = size // 16
        self.lin = nn.Linear(8 * df * s * s, 1)

    def forward(self, x):
        h = F.leaky_relu(self.convs[0](x), 0.2)
        for conv, b in zip(self.convs[1:], self.bns):
            h = F.leaky_relu(b(conv(h)), 0.2)
        return self.lin(h.flatten(1))  # NCHW flatten


def init_weights(m):
    # SEED.md: conv weights truncated normal (TF cuts at 2σ), linear N(0, 0.02), biases 0.
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)


def load_folder(folder, size):
    """Every image under `folder` as uint8 [N, 3, size, size]: alpha on white, centre crop, resize (as ganc)."""
    from PIL import Image
    import numpy as np
    images = []
    for root, _, files in sorted(os.walk(folder)):
        for f in sorted(files):
            if not f.lower().endswith((".png", ".jpg", ".jpeg", ".bmp", ".gif")):
                continue
            try:
                im = Image.open(os.path.join(root, f)).convert("RGBA")
            except OSError:
                continue
            side = min(im.size)
            x0, y0 = (im.size[0] - side) // 2, (im.size[1] - side) // 2
            im = im.crop((x0, y0, x0 + side, y0 + side))
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, im).convert("RGB")
            if side != size:
                im = im.resize((size, size), Image.BOX)
            images.append(np.asarray(im).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(images))


def to_float(batch):
    """DataLoader collate: uint8 images → float in [-1, 1]."""
    return torch.stack([b[0] for b in batch]).float().div_(127.5).sub_(1)


def build(size, gf, df, fmt=torch.contiguous_format, dev="cpu"):
    """G, D (initialized as SEED.md says, train mode, in memory format fmt) and their Adam optimizers."""
    G = Generator(size, gf, args.zdim, args.channels)
    D = Discriminator(size, df, args.channels)
    G.apply(init_weights)
    D.apply(init_weights)
    G.to(dev, memory_format=fmt)
    D.to(dev, memory_format=fmt)
    G.train()
    D.train()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    return G, D, opt_g, opt_d


BCE = nn.BCEWithLogitsLoss()


def update(G, D, opt_g, opt_d, real, g_steps=1, freeze_d=True):
    """One iteration: a D update on real and G(z), then g_steps G updates, each with a fresh G forward (the
    non-saturating loss). freeze_d: D's parameters stop requiring gradients during G updates, so autograd skips D's
    weight gradients there (the peer's form). Returns the last D and G losses as tensors."""
    B, dev = real.shape[0], real.device
    ones, zeros = torch.ones(B, 1, device=dev), torch.zeros(B, 1, device=dev)

    def z():
        return torch.rand(B, args.zdim, device=dev) * 2 - 1

    with torch.no_grad():  # D update: G forward only, no graph needed through G
        fake = G(z())
    loss_d = BCE(D(real), ones) + BCE(D(fake), zeros)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    D.requires_grad_(not freeze_d)
    for _ in range(g_steps):
        loss_g = BCE(D(G(z())), ones)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    D.requires_grad_(True)
    return loss_d, loss_g


def train_loop(G, D, opt_g, opt_d, dev, fmt):
    """The end-to-end peer of `ganc run`: per-iteration wall times over a real image folder."""
    t_load = time.perf_counter()
    pixels = load_folder(args.data, args.size)
    load_s = time.perf_counter() - t_load
    B = args.batch
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(pixels), batch_size=B, shuffle=True, drop_last=True,
        num_workers=args.workers, collate_fn=to_float, persistent_workers=args.workers > 0,
        generator=torch.Generator().manual_seed(args.seed))
    log = open(args.metrics, "w") if args.metrics else None
    stamps, step, t0 = [], 0, time.perf_counter()
    while step < args.steps:
        for real in loader:
            real = real.to(dev, non_blocking=True, memory_format=fmt)
            loss_d, loss_g = update(G, D, opt_g, opt_d, real, args.g_steps, args.freeze_d)
            step += 1
            row = {"step": step, "time": time.perf_counter() - t0, "d_loss": loss_d.item(), "g_loss": loss_g.item()}
            stamps.append(row["time"])
            if log:
                log.write(json.dumps(row) + "\n")
                log.flush()
            if step >= args.steps:
                break
    return stamps, load_s, pixels.shape[0]


def main():
    if args.check:
        print(json.dumps(check_deconv()))
        return
    if args.size % 16:
        sys.exit("--size must be a multiple of 16")
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    G, D, opt_g, opt_d = build(args.size, args.gf, args.df, fmt, dev)
    if args.data:
        stamps, load_s, count = train_loop(G, D, opt_g, opt_d, dev, fmt)
        w = min(args.warmup, len(stamps) - 1)
        result = {
            "steady_s_per_it": (stamps[-1] - stamps[w - 1 if w else 0]) / (len(stamps) - max(w, 1)),
            "total_s": stamps[-1], "load_s": load_s, "images": count, "steps": len(stamps), "workers": args.workers,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
        }
        print(json.dumps(result) if args.json else result)
        return
    B = args.batch
    real = (torch.rand(B, args.channels, args.size, args.size, device=dev) * 2 - 1).contiguous(memory_format=fmt)

    def iteration():
        loss_d, loss_g = update(G, D, opt_g, opt_d, real, args.g_steps, args.freeze_d)
        return loss_d.item(), loss_g.item()

    times, cpu, faults = [], [], 0
    for i in range(args.warmup + args.iters):
        t0, c0 = time.perf_counter(), time.process_time()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        losses = iteration()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i >= args.warmup:
            times.append(dt)
            cpu.append(dc)
            faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

    result = {
        "median_s": statistics.median(times),
        "min_s": min(times),  # the least disturbed iteration on a shared machine
        "times_s": [round(t, 4) for t in times],
        # CPU seconds of all threads; a sanity check when the machine is shared (≈ threads × wall if undisturbed).
        "median_cpu_s": round(statistics.median(cpu), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # Minor page faults per timed iteration: memory the iteration touched afresh (freed and handed back between).
        "minor_faults_per_iter": round(faults / args.iters),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "config": {k: getattr(args, k) for k in ("size", "batch", "gf", "df", "zdim", "channels", "g_steps", "deconv", "freeze_d", "channels_last")},
        "final_losses": {"d": losses[0], "g": losses[1]},
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"median {result['median_s']:.3f} s/iter over {args.iters} iters "
              f"(torch {result['torch']}, {result['threads']} threads, peak RSS {result['peak_rss_mb']} MB)")


if __name__ == "__main__":
    main()
