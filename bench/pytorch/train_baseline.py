"""PyTorch baseline for `Minnow.Benchmarks train`: the same two models, batches and step (zero grads, forward,
mean cross-entropy, backward, clip to 1.0, AdamW), timed the same way (median step after 2 warm-up steps).

  python3 bench/pytorch/train_baseline.py [baby|llama15m|all] [threads...] [--steps N]

The baby GPT is nanoGPT's CPU configuration (4 layers, 4 heads, 128 wide, block 64, batch 12, vocab 65) with
GPT-2's biases and tanh GELU, as Minnow's GPT-2; the Llama 15M is llama2.c's stories15M (dim 288, 6 layers, 6 heads,
hidden 768, vocab 32000, tied embeddings), seq 256, batch 8. Needs Debian's python3-torch; not used by any test.
"""
import math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Gpt(nn.Module):
    def __init__(s, vocab, block, dim, layers, heads):
        super().__init__()
        s.heads = heads
        s.wte, s.wpe = nn.Embedding(vocab, dim), nn.Embedding(block, dim)
        s.blocks = nn.ModuleList(nn.ModuleDict(dict(
            ln1=nn.LayerNorm(dim), qkv=nn.Linear(dim, 3 * dim), proj=nn.Linear(dim, dim),
            ln2=nn.LayerNorm(dim), fc=nn.Linear(dim, 4 * dim), out=nn.Linear(4 * dim, dim))) for _ in range(layers))
        s.lnf = nn.LayerNorm(dim)

    def forward(s, idx):
        b, t = idx.shape
        x = s.wte(idx) + s.wpe(torch.arange(t))
        for blk in s.blocks:
            q, k, v = blk.qkv(blk.ln1(x)).split(x.shape[-1], dim=2)
            q, k, v = (z.view(b, t, s.heads, -1).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") else _attention(q, k, v)
            x = x + blk.proj(y.transpose(1, 2).reshape(b, t, -1))
            x = x + blk.out(F.gelu(blk.fc(blk.ln2(x)), approximate="tanh"))
        return s.lnf(x) @ s.wte.weight.t()


def _attention(q, k, v):
    t = q.shape[-2]
    att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    return F.softmax(att, dim=-1) @ v


class Llama(nn.Module):
    def __init__(s, vocab, seq, dim, layers, heads, hidden):
        super().__init__()
        s.heads = heads
        s.emb = nn.Embedding(vocab, dim)
        s.blocks = nn.ModuleList(nn.ModuleDict(dict(
            n1=RmsNorm(dim), wq=nn.Linear(dim, dim, bias=False), wk=nn.Linear(dim, dim, bias=False),
            wv=nn.Linear(dim, dim, bias=False), wo=nn.Linear(dim, dim, bias=False), n2=RmsNorm(dim),
            w1=nn.Linear(dim, hidden, bias=False), w2=nn.Linear(hidden, dim, bias=False), w3=nn.Linear(dim, hidden, bias=False))) for _ in range(layers))
        s.norm = RmsNorm(dim)
        hd = dim // heads
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        angles = torch.outer(torch.arange(seq).float(), freqs)
        s.cos, s.sin = angles.cos(), angles.sin()

    def rope(s, x):  # x (b, t, h, hd), interleaved pairs as llama2.c
        a, b = x[..., 0::2], x[..., 1::2]
        c, sn = s.cos[: x.shape[1], None, :], s.sin[: x.shape[1], None, :]
        return torch.stack((a * c - b * sn, a * sn + b * c), dim=-1).flatten(3)

    def forward(s, idx):
        b, t = idx.shape
        x = s.emb(idx)
        for blk in s.blocks:
            h = blk.n1(x)
            q, k, v = (w(h).view(b, t, s.heads, -1) for w in (blk.wq, blk.wk, blk.wv))
            q, k = s.rope(q), s.rope(k)
            q, k, v = (z.transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") else _attention(q, k, v)
            x = x + blk.wo(y.transpose(1, 2).reshape(b, t, -1))
            h = blk.n2(x)
            x = x + blk.w2(F.silu(blk.w1(h)) * blk.w3(h))
        return s.norm(x) @ s.emb.weight.t()


class RmsNorm(nn.Module):
    def __init__(s, dim):
        super().__init__()
        s.weight = nn.Parameter(torch.ones(dim))

    def forward(s, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * s.weight


def measure(name, model, vocab, batch, seq, threads, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95))
    data = [torch.randint(vocab, (batch, seq + 1)) for _ in range(4)]
    times, cpu = [], 0.0
    for i in range(steps + 2):
        d = data[i % 4]
        if i == 2:
            cpu = time.process_time()
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(d[:, :-1]).view(-1, vocab), d[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu) / steps
    times.sort()
    median = times[len(times) // 2]
    # With one thread, CPU time per step excludes time the machine gave to other processes.
    print(f"{name} threads={threads}: {batch * seq / median:.0f} tokens/s (median step {median * 1000:.1f} ms over {steps} steps; "
          f"fastest step {times[0] * 1000:.1f} ms = {batch * seq / times[0]:.0f} tokens/s; CPU {cpu * 1000:.1f} ms/step; torch {torch.__version__})")


def main(args):
    which, threads, steps = "all", [], 10
    i = 0
    while i < len(args):
        if args[i] == "--steps":
            steps = int(args[i + 1]); i += 1
        elif args[i].isdigit():
            threads.append(int(args[i]))
        else:
            which = args[i]
        i += 1
    for t in threads or [1, 2]:
        if which in ("all", "baby"):
            measure("baby-gpt", Gpt(65, 64, 128, 4, 4), 65, 12, 64, t, steps)
        if which in ("all", "llama15m"):
            measure("llama-15m", Llama(32000, 256, 288, 6, 6, 768), 32000, 8, 256, t, steps)


if __name__ == "__main__":
    main(sys.argv[1:])
