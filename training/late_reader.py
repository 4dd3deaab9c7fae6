"""The late-interaction span reader: bge-small's top layers, tuned, read [question states; memory states] with
full attention and point at the answer's first and last token in the memory.

A memory is the document's states after the frozen lower `split` layers (computed once, when the document
arrives, int8 per token: training/late_extract.py) plus its WordPiece ids and space flags, which are copy
targets only (the network never takes them as input). A question goes through the same lower layers (the same
compressor); at question time the reader runs the upper layers over the question's states followed by one
memory's states and scores every memory token as answer start and end. With k memories, each is read with the
question separately and the spans of all k compete under one softmax ("shared normalisation"), so a memory's
rank has no effect on what is read from it, and more memories only add candidates.

    /usr/bin/python3 -m training.late_reader train [--minutes 60] [--negatives 1]
    /usr/bin/python3 -m training.late_reader eval [--k 1,3]

Checkpoints (model, optimiser, step, data order) go to `--ckpt` every few minutes; `train` resumes from it, and
`--init` starts a later stage from an earlier checkpoint's weights. Every choice is made on the validation split.
"""
import argparse
import copy
import json
import math
import os
import random
import time
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.backbone import Bert
from training.common import em_f1
from training.model import Head, QLinear, quantize_all

NEG = -1.0e4
MAX_ANSWER = 30


class Layer(nn.Module):
    """One post-LN BERT layer (exact GELU, eps 1e-12), its matrices as QLinear (int8 at export)."""

    def __init__(self, w, p, heads=12):
        super().__init__()
        d = w[p + "attention.self.query.weight"].shape[0]
        self.heads, self.dh = heads, d // heads

        def lin(name):
            m = QLinear(w[p + name + ".weight"].shape[0], w[p + name + ".weight"].shape[1])
            m.weight.data.copy_(w[p + name + ".weight"].t())     # ONNX MatMul weights are [in, out]
            m.bias.data.copy_(w[p + name + ".bias"])
            return m

        def ln(name):
            m = nn.LayerNorm(d, eps=1e-12)
            m.weight.data.copy_(w[p + name + ".weight"])
            m.bias.data.copy_(w[p + name + ".bias"])
            return m

        self.q, self.k, self.v = (lin("attention.self." + n) for n in ("query", "key", "value"))
        self.o = lin("attention.output.dense")
        self.ln1 = ln("attention.output.LayerNorm")
        self.f1, self.f2 = lin("intermediate.dense"), lin("output.dense")
        self.ln2 = ln("output.LayerNorm")

    def split(self, x):
        return x.reshape(x.size(0), x.size(1), self.heads, self.dh).transpose(1, 2)

    def forward(self, x, bias):
        a = torch.softmax(self.split(self.q(x)) @ self.split(self.k(x)).transpose(-1, -2) / math.sqrt(self.dh) + bias, -1)
        c = (a @ self.split(self.v(x))).transpose(1, 2).reshape(x.size(0), x.size(1), -1)
        x = self.ln1(x + self.o(c))
        return self.ln2(x + self.f2(F.gelu(self.f1(x))))


class LateReader(Head):
    """question [B, Lq, H] and memory [B, Lm, H] states after the split layer, their masks [B, Lq], [B, Lm]
    -> span logits (start, end) [B, Lq + Lm] over the concatenated positions (the caller reads the memory's part,
    positions Lq ..; masked positions get NEG)."""

    def __init__(self, bert_w, first, layers):
        super().__init__()
        self.first = first
        self.layers = nn.ModuleList([Layer(bert_w, f"encoder.layer.{i}.") for i in range(first, layers)])
        self.span = nn.Linear(self.layers[0].q.din, 2)
        nn.init.normal_(self.span.weight, std=0.02)
        nn.init.zeros_(self.span.bias)

    def forward(self, q, qmask, m, mmask, w=None):
        with self.bound(w):
            x = torch.cat([q, m], 1)
            mask = torch.cat([qmask, mmask], 1)
            bias = (1.0 - mask)[:, None, None, :] * NEG
            for layer in self.layers:
                x = layer(x, bias)
            logits = self.span(x) + ((1.0 - mask) * NEG)[..., None]
            return logits[..., 0], logits[..., 1]


MATRICES = ("q", "k", "v", "o", "f1", "f2")


class Smoothed(nn.Module):
    """x -> linear(x / s), the linear's input columns multiplied by s at construction: the same product, but the
    input's outlier channels shrink before the input is quantised per call, and the weights, quantised per output
    channel, take the scale instead (SmoothQuant, Xiao et al. 2023). s = 1 leaves the linear as it was."""

    def __init__(self, linear, s):
        super().__init__()
        self.register_buffer("inv", (1.0 / s).detach().clone())
        self.linear = linear

    def forward(self, x):
        return self.linear(x * self.inv)


class Int8Reader(nn.Module):
    """The reader with int8 matrix products, not only int8 storage: PyTorch's dynamic quantisation (weights int8
    per output channel, activations quantised per call), reads in half the time inside the job on this CPU
    (docs/BENCHMARKS.md); CPU only. `smooth` ((layer, matrix) -> per-input-channel scales, from `smoothing`) moves
    the activations' outliers into the weights first. `forward` takes no weight vector: the matrices are packed
    inside."""

    def __init__(self, model, smooth=None):
        super().__init__()
        model = copy.deepcopy(model).eval()
        for i, layer in enumerate(model.layers):
            for name in MATRICES:
                q = getattr(layer, name)
                s = smooth[(i, name)] if smooth else torch.ones(q.din)
                linear = nn.Linear(q.din, q.dout)
                linear.weight.data.copy_(q.dequantized().detach() * s[None, :])
                linear.bias.data.copy_(q.bias.detach())
                setattr(layer, name, Smoothed(linear, s))
        spec = {f"layers.{i}.{n}.linear": torch.quantization.per_channel_dynamic_qconfig
                for i in range(len(model.layers)) for n in MATRICES}
        self.inner = torch.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)

    def forward(self, q, qmask, m, mmask, w=None):
        return self.inner(q, qmask, m, mmask)


def smoothing(model, cache, alpha, n=256, seed=20261202):
    """Per matrix of the float reader `model` the SmoothQuant scales of its input channels, max|x_j|^alpha /
    max|W[:, j]|^(1 - alpha), with max|x_j| over the inputs it gets reading `n` train questions, each with its gold
    memory alone (no padding)."""
    rows = [i for i, q in enumerate(cache.qs) if q["split"] == "train" and q["spans"]]
    random.Random(seed).shuffle(rows)
    amax, hooks = {}, []
    for i, layer in enumerate(model.layers):
        for name in MATRICES:
            def hook(module, inputs, output, key=(i, name)):
                x = inputs[0].detach().abs().reshape(-1, inputs[0].size(-1)).amax(0)
                amax[key] = torch.maximum(amax[key], x) if key in amax else x
            hooks.append(getattr(layer, name).register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        for qi in rows[:n]:
            p = cache.qs[qi]["para"]
            read_rows(model, cache, [(qi, p, (0, len(cache.paras[p]["ids"])))])
    for h in hooks:
        h.remove()
    out = {}
    for (i, name), a in amax.items():
        w = getattr(model.layers[i], name).dequantized().detach().abs().amax(0)
        out[(i, name)] = (a.clamp(min=1e-5) ** alpha / w.clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)
    return out


class Unpacked(nn.Module):
    """The float [dout, din] matrices of `Smoothed` packed int8 linears (their smoothing undone), flattened and
    concatenated in order. Scripted, not traced: unpacking returns an optional bias, which a trace cannot record."""

    def __init__(self, smoothed):
        super().__init__()
        self.smoothed = nn.ModuleList(smoothed)

    def forward(self, like):
        parts: List[torch.Tensor] = []
        for m in self.smoothed:
            w, _ = m.linear._packed_params._weight_bias()
            # packed weights stay on the CPU wherever the file is loaded; `inv` and `like` are on its device
            parts.append((w.dequantize().to(like.device) * m.inv).reshape(-1))
        return torch.cat(parts).to(like.dtype)


class DualReader(nn.Module):
    """reader.pt with int8 reads (export --int8-compute): `forward_int8` reads with int8 matrix products (the CPU
    runtime's call, model.json `reader.int8Method`); `weights` de-quantises the same packed matrices for `forward`,
    the contract's float path (a GPU has no int8 kernels for them). The file holds one copy of the matrices."""

    def __init__(self, model, smooth=None):
        super().__init__()
        self.int8 = Int8Reader(model, smooth)
        self.unpacked = torch.jit.script(Unpacked([getattr(layer, n) for layer in self.int8.inner.layers
                                                   for n in MATRICES]))
        self.reader = copy.deepcopy(model).eval()
        for q in self.reader.qlinears():          # the float path's matrices are the `w` it is given
            del q.weight

    def forward(self, q, qmask, m, mmask, w):
        return self.reader(q, qmask, m, mmask, w)

    def forward_int8(self, q, qmask, m, mmask):
        return self.int8(q, qmask, m, mmask)

    def weights(self, like):
        return self.unpacked(like)


def int8_engine():
    """The quantised engine for Python-side reads: Debian's torch has onednn (fast here) and qnnpack, no fbgemm;
    the Java runtime's libtorch re-packs the int8 weights for its own engine at load."""
    engines = torch.backends.quantized.supported_engines
    torch.backends.quantized.engine = next(e for e in ("fbgemm", "x86", "onednn", "qnnpack") if e in engines)


# ---------------------------------------------------------------- data
class Cache:
    def __init__(self, path):
        d = torch.load(path)
        self.split_layer = d["split_layer"]
        self.paras, self.qs = d["paras"], d["qs"]
        self.p_mid, self.p_scale, self.q_mid = d["p_mid"], d["p_scale"], d["q_mid"]
        self.p_last, self.q_last = d["p_last"], d["q_last"]

    def memory(self, i):
        return self.p_mid[i].float() * self.p_scale[i][:, None]

    @staticmethod
    def pad(rows):
        L = max(r.size(0) for r in rows)
        x = torch.zeros(len(rows), L, rows[0].size(1))
        m = torch.zeros(len(rows), L)
        for j, r in enumerate(rows):
            x[j, :r.size(0)] = r
            m[j, :r.size(0)] = 1.0
        return x, m

    def answerable(self, i):
        """Memory positions that may start or end an answer: real tokens except [CLS] and [SEP]."""
        n = len(self.paras[i]["ids"])
        ok = torch.zeros(n, dtype=torch.bool)
        ok[1:n - 1] = True
        return ok


def span_text(vocab, ids, space, s, e):
    out = ""
    for i in range(s, e + 1):
        piece = vocab[ids[i]]
        if piece.startswith("##"):
            out += piece[2:]
        else:
            out += (" " if i > s and space[i] else "") + piece
    return out


def best_spans(start, end, ok, max_len=MAX_ANSWER):
    """Per row the best (score, s, e) with s <= e < s + max_len among allowed positions."""
    st = start.masked_fill(~ok, -1e9)
    en = end.masked_fill(~ok, -1e9)
    L = st.size(1)
    sc = st[:, :, None] + en[:, None, :]
    band = torch.ones(L, L, dtype=torch.bool).triu().tril(max_len - 1)
    sc = sc.masked_fill(~band, -2e9)
    flat = sc.reshape(sc.size(0), -1)
    v, ix = flat.max(1)
    return v, ix // L, ix % L


# ---------------------------------------------------------------- training
def window(n, width, rng, must=None):
    """[a, b) of at most `width` positions of 0..n-1, random, containing `must` (s, e) when given."""
    if n <= width:
        return 0, n
    if must is None:
        a = rng.randrange(0, n - width + 1)
    else:
        lo, hi = max(0, must[1] - width + 1), min(must[0], n - width)
        a = rng.randint(lo, hi) if lo <= hi else max(0, min(must[0], n - width))
    return a, a + width


def read_rows(model, cache, rows):
    """Span logits at the memory positions of (question, paragraph, window) rows, masked where no answer may be,
    and that mask (True where a span may start or end)."""
    qx, qm = cache.pad([cache.q_mid[qi].float() for qi, _, _ in rows])
    mx, mm = cache.pad([cache.memory(p)[a:b] for _, p, (a, b) in rows])
    start, end = model(qx, qm, mx, mm)
    Lq = qx.size(1)
    ok = torch.zeros_like(mm, dtype=torch.bool)
    for j, (_, p, (a, b)) in enumerate(rows):
        ok[j, :b - a] = cache.answerable(p)[a:b]
    return start[:, Lq:].masked_fill(~ok, NEG), end[:, Lq:].masked_fill(~ok, NEG), ok


def batch_loss(model, cache, qrows, negatives, rng, by_article, width=128, neg_width=64, hard=None):
    """Shared-normalisation loss: each question reads a window of its gold memory that holds the answer and
    `negatives` windows of other memories, and the gold start / end compete with every allowed position of all of
    them. The other memories are the question's best-matching ones when `hard` lists them (question -> paragraphs,
    best first: what a top-k read puts beside the gold), otherwise random paragraphs of its article. Windows keep
    the step cheap on a CPU: the states already carry the whole paragraph's context from the lower layers."""
    gold, neg, spans = [], [], []
    for qi in qrows:
        q = cache.qs[qi]
        n = len(cache.paras[q["para"]]["ids"])
        a, b = window(n, width, rng, rng.choice(q["spans"]))
        gold.append((qi, q["para"], (a, b)))
        spans.append([(s - a, e - a) for s, e in q["spans"] if a <= s and e < b])
        if hard is not None:
            picked = hard[qi][:negatives]
        else:
            others = [p for p in by_article[cache.paras[q["para"]]["article"]] if p != q["para"]]
            picked = rng.sample(others, negatives)
        for p in picked:
            neg.append((qi, p, window(len(cache.paras[p]["ids"]), neg_width, rng)))
    gs, ge, _ = read_rows(model, cache, gold)
    if neg:
        ns, ne, _ = read_rows(model, cache, neg)
        ns, ne = ns.reshape(len(qrows), -1), ne.reshape(len(qrows), -1)
        alls, alle = torch.cat([gs, ns], 1), torch.cat([ge, ne], 1)
    else:
        alls, alle = gs, ge
    loss = 0.0
    for r, sp in enumerate(spans):
        ss = torch.tensor(sorted({s for s, _ in sp}))
        es = torch.tensor(sorted({e for _, e in sp}))
        loss = loss + (torch.logsumexp(alls[r], 0) - torch.logsumexp(gs[r, ss], 0)
                       + torch.logsumexp(alle[r], 0) - torch.logsumexp(ge[r, es], 0)) / 2
    return loss / len(spans)


def place(model, state, first):
    """A complete state dict for `model` from `state`, a reader's weights whose layers start at backbone layer
    `first`: each layer goes to the same backbone layer of `model`, whose layers below `first` keep their
    pretrained weights. With a lower split than the source's, the model then computes what the source did, and
    tuning goes on from there."""
    shift = first - model.first
    if shift < 0:
        raise ValueError(f"the source reader starts at layer {first}, above none of this model's layers "
                         f"({model.first}..)")
    out = {}
    for name, mine in model.state_dict().items():
        src = name
        if name.startswith("layers."):
            j, rest = name[len("layers."):].split(".", 1)
            if int(j) < shift:
                out[name] = mine
                continue
            src = f"layers.{int(j) - shift}.{rest}"
        out[name] = state[src]
    return out


def checkpoint_weights(path, model):
    """`model`'s weights from a training checkpoint, possibly of a higher split (see `place`)."""
    state = torch.load(path)["model"]
    layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("layers."))
    return place(model, state, model.first + len(model.layers) - layers)


def bundle_weights(model_dir, model):
    """A float state dict for `model` from a bundle's exported reader (int8 matrices de-quantised): a later stage
    can start from the shipped weights when the training checkpoints are gone (they live outside git), also at a
    lower split than the bundle's (see `place`)."""
    with open(os.path.join(model_dir, "model.json")) as f:
        info = json.load(f)
    reader = torch.jit.load(os.path.join(model_dir, info["files"]["reader"]))
    got = reader.state_dict()
    if any(name.startswith("int8.") for name in got):      # a DualReader: its matrices are packed in modules
        int8_engine()
        full = got
        got = {name[len("reader."):]: v for name, v in full.items() if name.startswith("reader.")}
        for name, module in reader.named_modules():
            if name.startswith("int8.inner.") and name.endswith(".linear"):
                base = name[len("int8.inner."):-len(".linear")]
                w = module._packed_params._weight_bias()[0].dequantize()
                got[base + ".weight"] = w * full[f"int8.inner.{base}.inv"]
    state = {}
    for name in got:
        if name.endswith(".wq"):
            state[name[:-len(".wq")] + ".weight"] = got[name].float() * got[name[:-len(".wq")] + ".ws"]
        elif not name.endswith(".ws") and not (name.endswith(".weight") and name[:-len(".weight")] + ".wq" in got):
            state[name] = got[name]
    return place(model, state, info["backbone"]["memoryLayer"])


def holds(ids, pieces):
    """Whether the id sequence `ids` contains any of the id tuples `pieces`."""
    for piece in pieces:
        n = len(piece)
        if any(tuple(ids[i:i + n]) == piece for i in range(len(ids) - n + 1)):
            return True
    return False


def hardest_others(cache, model_dir, qrows, keep=4, chunk=8000):
    """Per question its best-matching paragraphs of its split other than its own, best first (`keep` of them):
    the bundled key head's match scores, as the memory bank ranks memories. A paragraph that holds one of the
    question's reference answers (its tokens) is passed over: reading the answer there is not a mistake (unless
    too few are left)."""
    split = cache.qs[qrows[0]]["split"]
    prows = [i for i, p in enumerate(cache.paras) if p["split"] == split]
    out = {}
    for s in range(0, len(qrows), chunk):
        part = qrows[s:s + chunk]
        S = match_scores(cache, model_dir, part, prows)
        for r, qi in enumerate(part):
            q = cache.qs[qi]
            ids = cache.paras[q["para"]]["ids"]
            answers = {tuple(ids[s_:e + 1]) for s_, e in q["spans"]}
            best = [prows[int(j)] for j in S[r].topk(keep + 8).indices]
            best = [p for p in best if p != q["para"]]
            clean = [p for p in best if not holds(cache.paras[p]["ids"], answers)]
            out[qi] = (clean + [p for p in best if p not in clean])[:keep]      # short of clean ones: the best
    print(f"hard negatives for {len(out)} questions", flush=True)
    return out


def train(a):
    torch.manual_seed(a.seed)
    cache = Cache(a.cache)
    bert = Bert(os.path.join(a.backbone, "bge-small-en-v1.5.onnx"))
    model = LateReader(bert.w, cache.split_layer, bert.layers)
    del bert
    train_q = [i for i, q in enumerate(cache.qs) if q["split"] == "train" and q["spans"]]
    by_article = {}
    for i, p in enumerate(cache.paras):
        by_article.setdefault(p["article"], []).append(i)
    head = list(model.span.parameters())
    body = [p for n, p in model.named_parameters() if not n.startswith("span.")]
    opt = torch.optim.AdamW([{"params": body, "lr": a.lr}, {"params": head, "lr": a.lr * 10}], weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train_q) / a.batch)
    total = a.epochs * steps_per_epoch
    if a.max_steps:
        total = min(total, a.max_steps)
    hard = hardest_others(cache, a.model, train_q) if a.hard_negatives else None
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / a.warmup) * max(0.0, 1.0 - s / total))
    step, order, spent = 0, None, 0
    ckpt = a.ckpt
    if a.init and (a.fresh or not os.path.exists(ckpt)):
        # a later stage: the weights of an earlier run, a new optimiser and schedule
        model.load_state_dict(checkpoint_weights(a.init, model))
        print(f"initialised from {a.init}", flush=True)
    elif a.init_bundle and (a.fresh or not os.path.exists(ckpt)):
        model.load_state_dict(bundle_weights(a.init_bundle, model))
        a.prior_stages = json.load(open(os.path.join(a.init_bundle, "model.json")))["training"]["reader"]["stages"]
        print(f"initialised from the exported reader in {a.init_bundle}", flush=True)
    if os.path.exists(ckpt) and not a.fresh:
        c = torch.load(ckpt)
        model.load_state_dict(c["model"])
        opt.load_state_dict(c["opt"])
        sched.load_state_dict(c["sched"])
        step, order = c["step"], c["order"]
        spent = c.get("seconds", 0)
        print(f"resumed at step {step}/{total}", flush=True)
    rng = random.Random(a.seed + step)
    if order is None:
        order = []
        r = random.Random(a.seed)
        for _ in range(a.epochs):
            e = list(train_q)
            r.shuffle(e)
            order.extend(e)
    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "step": step, "order": order, "args": vars(a), "seconds": round(spent + time.time() - t0)},
                   ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    model.train()
    t0 = last_save = time.time()
    run_loss = None
    while step < total and time.time() - t0 < a.minutes * 60:
        rows = order[step * a.batch:(step + 1) * a.batch]
        if not rows:
            break
        loss = batch_loss(model, cache, rows, a.negatives, rng, by_article, a.width, a.neg_width, hard)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        run_loss = loss.item() if run_loss is None else 0.95 * run_loss + 0.05 * loss.item()
        if step % 10 == 0:
            print(f"step {step}/{total} loss {run_loss:.3f} {time.time() - t0:.0f}s", flush=True)
        if time.time() - last_save > a.save_minutes * 60:
            save()
            last_save = time.time()
    save()
    print(f"stopped at step {step}/{total} after {time.time() - t0:.0f}s", flush=True)
    return model, cache


# ---------------------------------------------------------------- evaluation
@torch.no_grad()
def read_each(model, cache, qrows, memories, bs=24):
    """Each question read with each of its memories alone (paragraph indices): per question {memory: (best span
    score, span text)}. Which memories answer, and how their spans compete, is `choose`'s business."""
    vocab = read_each.vocab
    flat = [(r, p) for r, ms in enumerate(memories) for p in ms]
    out = [dict() for _ in qrows]
    flat.sort(key=lambda x: len(cache.paras[x[1]]["ids"]))
    for s in range(0, len(flat), bs):
        chunk = flat[s:s + bs]
        st, en, ok = read_rows(model, cache, [(qrows[r], p, (0, len(cache.paras[p]["ids"]))) for r, p in chunk])
        v, bs_, be = best_spans(st, en, ok)
        for j, (r, p) in enumerate(chunk):
            para = cache.paras[p]
            out[r][p] = (float(v[j]), span_text(vocab, para["ids"], para["space"], int(bs_[j]), int(be[j])))
    return out


def choose(reads, memories, match, weight):
    """Per question the answer read from its memories: the span whose score plus `weight` x its memory's match
    score is highest (weight 0: the spans alone compete, shared normalisation). Of equal ones the first wins, as
    in the Java SpanChooser."""
    out = []
    for got, ms, sc in zip(reads, memories, match):
        best, text = -float("inf"), ""
        for p in ms:
            v = got[p][0] + weight * sc[p]
            if v > best:
                best, text = v, got[p][1]
        out.append(text)
    return out


def listed_order(memories, scores):
    """Match scores for reading `memories` in the listed order: each clamped to at most the one before it, so the
    prior cannot lift a later memory above an earlier one (ties go to the earlier, as in `choose`)."""
    out, cap = {}, float("inf")
    for p in memories:
        cap = min(cap, scores[p])
        out[p] = cap
    return out


@torch.no_grad()
def match_scores(cache, model_dir, qrows, prows):
    """Question x paragraph match scores of the bundled key head on the cached last-layer states (dense key plus
    the lexical half, as the memory bank scores them)."""
    info = json.load(open(os.path.join(model_dir, "model.json")))
    comp = torch.jit.load(os.path.join(model_dir, info["files"]["compressor"]))
    emb = torch.jit.load(os.path.join(model_dir, info["files"]["embeddings"]))(torch.zeros(1))
    w = comp.weights(torch.zeros(1))

    def keys(states, ids_list):
        out = []
        for s in range(0, len(states), 64):
            x, m = Cache.pad([h.float() for h in states[s:s + 64]])
            ids = torch.zeros(x.size(0), x.size(1), dtype=torch.long)
            for j, i in enumerate(ids_list[s:s + 64]):
                ids[j, :len(i)] = torch.tensor(i)
            out.append(comp(x, ids, m, emb, w)[1])
        return torch.cat(out)

    pk = keys([cache.p_last[i] for i in prows], [cache.paras[i]["ids"] for i in prows])
    qk = keys([cache.q_last[i] for i in qrows], [cache.qs[i]["ids"] for i in qrows])
    S = qk @ pk.t()
    lex = info.get("lexical")
    if lex:
        # the memory bank's match score: the keys' cosine plus queryWeight x BM25 over WordPiece ids
        from training.lexical import lexical_scores, load_idf
        S += lex["queryWeight"] * lexical_scores(cache, prows, qrows, load_idf(model_dir, lex), lex["averageLength"])
    return S


def evaluate(model, cache, a, split="validation"):
    """Oracle, recall@1, CMT top-k and the gold memory behind the two best-matching others, from one read of each
    question with its top max(k) memories and its gold one; the match-score weight is chosen on the largest k."""
    model.eval()
    qrows = [i for i, q in enumerate(cache.qs) if q["split"] == split]
    if a.limit:
        qrows = qrows[:a.limit]
    prows = [i for i, p in enumerate(cache.paras) if p["split"] == split]
    refs = [cache.qs[i]["answers"] for i in qrows]
    gold = [cache.qs[i]["para"] for i in qrows]
    ks = [int(x) for x in a.k.split(",")]
    t0 = time.time()
    S = match_scores(cache, a.model, qrows, prows)
    rank = S.argsort(1, descending=True)
    top = [[prows[int(j)] for j in rank[r, :max(ks + [3])]] for r in range(len(qrows))]
    match = [{prows[int(j)]: float(S[r, j]) for j in rank[r, :max(ks + [3]) + 1]} for r in range(len(qrows))]
    for r, g in enumerate(gold):
        match[r].setdefault(g, float(S[r, prows.index(g)]))
    behind = [[p for p in top[r] if p != gold[r]][:2] + [gold[r]] for r in range(len(qrows))]
    # int8 reads one row at a time, as the job does: activations are quantised per call, so batch mates would
    # change each other's logits
    reads = read_each(model, cache, qrows, [sorted(set(top[r]) | {gold[r]}) for r in range(len(qrows))],
                      bs=1 if isinstance(model, Int8Reader) else 24)
    res = {"questions": len(qrows), "oracle": em_f1([reads[r][g][1] for r, g in enumerate(gold)], refs)}
    res["recall@1"] = 100.0 * sum(top[r][0] == gold[r] for r in range(len(qrows))) / len(qrows)
    weights = [float(x) for x in a.match_weights.split(",")]
    kmax = max(ks)
    by_weight = {w: em_f1(choose(reads, [t[:kmax] for t in top], match, w), refs) for w in weights}
    weight = max(weights, key=lambda w: (round(by_weight[w][1], 2), -w))
    res["matchWeight"] = weight
    res["cmt_k%d_by_weight" % kmax] = {str(w): round(v[1], 2) for w, v in by_weight.items()}
    for k in ks:
        res[f"cmt_k{k}"] = em_f1(choose(reads, [t[:k] for t in top], match, weight), refs)
    # the gold read third: its match score no higher than the two before it (as the job's listed-order read)
    res["gold_rank3"] = em_f1(choose(reads, behind, [listed_order(b, m) for b, m in zip(behind, match)], weight),
                              refs)
    res["closed_book"] = {"EM": 0.0, "F1": 0.0, "note": "no memory: no span to point at, the answer is empty"}
    res["seconds"] = round(time.time() - t0)
    print(json.dumps({k: (v if not isinstance(v, tuple) else [round(x, 1) for x in v]) for k, v in res.items()}),
          flush=True)
    return res


# ---------------------------------------------------------------- export
def trace(model, int8=False, smooth=None):
    """The reader traced in the contract's form (docs/MODEL-CONTRACT.md, cmt-model/4): int8 matrices, `weights`
    made once by the caller and passed as the last input of `forward`; with `int8` the matrix products are int8 too
    (`Int8Reader`, which needs no weight vector). Checked against the eager module on shapes other than the tracing
    example's."""
    if int8:
        int8_engine()
        model = DualReader(model, smooth)
    else:
        quantize_all(model)
    model.eval()
    like = torch.zeros(1)
    w = model.weights(like)
    g = torch.Generator().manual_seed(7)

    def inputs(b, lq, lm):
        q, m = torch.randn(b, lq, 384, generator=g), torch.randn(b, lm, 384, generator=g)
        qm, mm = torch.ones(b, lq), torch.ones(b, lm)
        qm[0, lq - 1:] = 0
        mm[-1, lm // 2:] = 0
        return q, qm, m, mm

    methods = {"forward": inputs(2, 9, 13) + (w,), "weights": (like,)}
    if int8:
        methods["forward_int8"] = inputs(2, 9, 13)
    traced = torch.jit.trace_module(model, methods, check_trace=False)
    worst = 0.0
    with torch.no_grad():
        wt = traced.weights(like)
        for shape in ((1, 5, 40), (3, 17, 7), (4, 30, 120)):
            x = inputs(*shape)
            pairs = list(zip(model(*x, w), traced(*x, wt)))
            if int8:
                pairs += list(zip(model.forward_int8(*x), traced.forward_int8(*x)))
            mask = torch.cat([x[1], x[3]], 1).bool()
            for a, b in pairs:
                worst = max(worst, float((a - b).abs()[mask].max()))
    assert worst < 1e-3, worst
    return traced, worst


def stages(ckpt):
    """The training runs that made a checkpoint, first first: each one's hyperparameters and steps, followed back
    through `--init`."""
    c = torch.load(ckpt)
    run = {k: v for k, v in c["args"].items()
           if k in ("epochs", "batch", "lr", "warmup", "negatives", "hard_negatives", "max_steps", "width", "neg_width",
                    "seed", "threads")}
    run.update(steps=c["step"], seconds=c.get("seconds"))
    layers = 1 + max(int(k.split(".")[1]) for k in c["model"] if k.startswith("layers."))
    run["tuned_layers"] = f"{12 - layers}..11"
    init = c["args"].get("init")
    before = stages(init) if init else c["args"].get("prior_stages") or []
    if c["args"].get("init_bundle"):
        run["init"] = "the exported reader of the previous bundle (int8 matrices de-quantised)"
    return before + [run]


def write_model_json(model_dir, reader_path, split_layer, args, figures, max_answer=MAX_ANSWER):
    """model.json of the cmt-model/4 bundle: the key head's and the lexical half's sections are kept from the
    directory's current model.json (whatever its format); the reader's are written anew."""
    import datetime
    import hashlib
    path = os.path.join(model_dir, "model.json")
    old = json.load(open(path))
    h = hashlib.sha256()
    for name in ("compressor.pt", "embeddings.pt", os.path.basename(reader_path)):
        with open(os.path.join(model_dir, name), "rb") as f:
            h.update(f.read())
    old_training = old.get("training", {})
    key_head = old_training.get("keyHead") or {k: old_training[k] for k in ("data", "split", "seed", "command")
                                               if k in old_training}
    info = {
        "format": "cmt-model/4",
        "name": old["name"],
        "version": f"{datetime.date.today().isoformat()}-{h.hexdigest()[:8]}",
        "backbone": dict(old["backbone"], memoryOutput=f"/encoder/layer.{split_layer - 1}/output/LayerNorm/Add_1_output_0",
                         memoryLayer=split_layer),
        "dims": {"hidden": old["dims"]["hidden"], "key": old["dims"]["key"], "vocab": old["dims"]["vocab"]},
        "maxDocumentTokens": old["maxDocumentTokens"],
        "maxQueryTokens": old["maxQueryTokens"],
        "maxAnswerTokens": max_answer,
        "tokens": {"pad": 0, "cls": 101, "sep": 102},
        "memory": {"kind": "token-states", "storage": "int8-per-token"},
        "files": dict({"embeddings": "embeddings.pt", "compressor": "compressor.pt",
                       "reader": os.path.basename(reader_path)},
                      **{k: v for k, v in old["files"].items() if k == "backbone"}),
        "defaultTopK": args.default_k or figures["defaultTopK"],
        "reader": dict({"matchWeight": figures["validation"].get("matchWeight", 0.0)},
                       **({"int8Method": "forward_int8"} if args.int8_compute else {})),
        "lexical": {k: v for k, v in old["lexical"].items() if k != "answerVocabulary"},
        "training": {
            "keyHead": key_head,
            "lexical": old_training.get("lexical"),
            "reader": {
                "what": f"bge-small's layers {split_layer}..11, tuned, over [question states; memory states] after "
                        f"the frozen layers 0..{split_layer - 1}; start/end pointer into the memory's tokens",
                "data": "SQuAD v1.1 dev set, 38 open articles; trained on the 28 train articles only, every choice "
                        "on the 4 validation articles",
                "command": "bash training/train.sh (training/late_extract.py, training/late_reader.py)",
                "stages": (old_training["reader"]["stages"] if args.from_bundle else stages(args.ckpt)),
                "weights": ("weight matrices int8 per output channel, int8 matrix products (PyTorch dynamic "
                            "quantisation: activations quantised per call"
                            + (f"; SmoothQuant alpha {args.smooth}, scales from 256 train questions" if args.smooth else "")
                            + "), biases/norms float32" if args.int8_compute
                            else "weight matrices int8 per-row (weight-only), biases/norms float32"),
                "machine": "2 CPU cores, PyTorch 1.13.1 (Debian), no GPU",
                "figures": {"validation": figures["validation"]},
                "defaultTopK": ({"chosen": args.default_k, "validationPrefers": figures["defaultTopK"],
                                 "why": args.default_k_why} if args.default_k else
                                {"chosen": figures["defaultTopK"], "by": "validation F1"}),
            },
        },
    }
    with open(path, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    return info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["train", "eval", "export"])
    ap.add_argument("--out", default="models/cmt-bge-small-squad/reader.pt")
    ap.add_argument("--untrained", action="store_true", help="export the initial weights (format checks only)")
    ap.add_argument("--figures", default="", help="validation figures (eval --report) to write model.json with")
    ap.add_argument("--cache", default="training/cache/late.pt")
    ap.add_argument("--backbone", default="training/cache/backbone")
    ap.add_argument("--model", default="models/cmt-bge-small-squad")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--negatives", type=int, default=1)
    ap.add_argument("--hard-negatives", action="store_true",
                    help="train: the other memories are each question's best-matching ones, not random ones of its article")
    ap.add_argument("--max-steps", type=int, default=0, help="train: stop the schedule after this many steps")
    ap.add_argument("--width", type=int, default=128, help="training window of the gold memory (tokens)")
    ap.add_argument("--neg-width", type=int, default=64, help="training window of the other memories (tokens)")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--save-minutes", type=float, default=3)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--ckpt", default="training/cache/late_ckpt.pt", help="checkpoint to resume, evaluate, export")
    ap.add_argument("--init", default="", help="train: start from this checkpoint's weights (a later stage)")
    ap.add_argument("--init-bundle", default="",
                    help="train: start from the reader exported in this model directory (when no checkpoint is left)")
    ap.add_argument("--k", default="1,3")
    ap.add_argument("--match-weights", default="0,0.5,1,2,4,8,16",
                    help="eval: weights of the match score added to a span's score, chosen at the largest k")
    ap.add_argument("--report", default="", help="eval: write the validation figures and chosen k here (JSON)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--default-k", type=int, default=0,
                    help="export: the bundle's defaultTopK instead of validation's choice (say why in --default-k-why)")
    ap.add_argument("--default-k-why", default="")
    ap.add_argument("--split-layer", type=int, default=8)
    ap.add_argument("--no-eval", action="store_true", help="train: stop after training (evaluate separately)")
    ap.add_argument("--int8-compute", action="store_true",
                    help="eval, export: int8 matrix products (Int8Reader) instead of float ones over int8 weights")
    ap.add_argument("--smooth", type=float, default=0.0,
                    help="eval, export with --int8-compute: SmoothQuant's alpha (0: no smoothing), scales from --cache")
    ap.add_argument("--from-bundle", action="store_true",
                    help="eval, export: the weights of --model's exported reader instead of --ckpt's")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tj = json.load(open(os.path.join(a.backbone, "bge-small-en-v1.5-tokenizer.json"), encoding="utf-8"))
    read_each.vocab = {i: s for s, i in tj["model"]["vocab"].items()}
    if a.what == "export":
        bert = Bert(os.path.join(a.backbone, "bge-small-en-v1.5.onnx"))
        model = LateReader(bert.w, a.split_layer, bert.layers)
        if a.from_bundle:
            model.load_state_dict(bundle_weights(a.model, model))
        elif not a.untrained:
            model.load_state_dict(torch.load(a.ckpt)["model"])
        smooth = smoothing(model, Cache(a.cache), a.smooth) if a.int8_compute and a.smooth else None
        traced, worst = trace(model, a.int8_compute, smooth)
        traced.save(a.out)
        print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes), trace check {worst:.2e}", flush=True)
        if a.figures:
            info = write_model_json(os.path.dirname(a.out), a.out, a.split_layer, a, json.load(open(a.figures)))
            print(f"wrote model.json version {info['version']}", flush=True)
        return
    if a.what == "train":
        model, cache = train(a)
        if a.no_eval:
            return
    else:
        cache = Cache(a.cache)
        bert = Bert(os.path.join(a.backbone, "bge-small-en-v1.5.onnx"))
        model = LateReader(bert.w, cache.split_layer, bert.layers)
        del bert
        model.load_state_dict(bundle_weights(a.model, model) if a.from_bundle else torch.load(a.ckpt)["model"])
    if a.int8_compute:
        int8_engine()
        model = Int8Reader(model, smoothing(model, cache, a.smooth) if a.smooth else None)
    res = evaluate(model, cache, a)
    if a.report:
        c = {"step": None} if a.from_bundle else torch.load(a.ckpt)
        ks = [int(x) for x in a.k.split(",")]
        best_k = max(ks, key=lambda k: (round(res[f"cmt_k{k}"][1], 2), -k))
        out = {"validation": {n: ({"EM": round(v[0], 2), "F1": round(v[1], 2)} if isinstance(v, tuple) else v)
                              for n, v in res.items()},
               "defaultTopK": best_k, "steps": c["step"], "trainSeconds": c.get("seconds")}
        with open(a.report, "w") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {a.report}: default k {best_k}", flush=True)


if __name__ == "__main__":
    main()
