"""Last training stage: the reader's copy path, with compressor and aggregator frozen, on an exported bundle.

Why: with the hard span prompt the aggregator lays the answer out token by token (prompt vector t holds the t-th
decompressed token of the chosen span), yet the reader garbles some of the word pieces it should copy. On
validation, answering with the exact tokens of the chosen span gives F1 14.3 where the reader gives 11.4
(docs/MODEL.md). The reader sees prompt vector t beside answer position t only as an input, two transformer layers
before its output. The copy path adds a gated linear map of prompt vector t to the reader's output vector at
position t (model.Reader `copy`, `gate`), before the one product with the word embeddings, so a copy costs no
second vocabulary-sized product per decoding step. It starts at zero, so the stage starts from the bundled reader.

What is trained: the reader only (its old weights at a small rate, the copy path at a larger one), on the answer
cross-entropy of the 28 train articles' questions, with prompts that the frozen aggregator makes as at inference
(hard prompt from the top-1 matched memory, with the bundle's matching: dense key plus the lexical half when the
model has one), from the gold paragraph's memory, from the gold span itself, and closed book (so the closed-book
baseline stays the same weights with no memory). The reader kept is the one with the best validation CMT top-1 F1
among checks every `--eval_every` steps; the test split is evaluated once, after the choice.

    /usr/bin/python3 training/reader_stage.py [--model models/cmt-bge-small-squad] [--minutes 6]
Rewrites reader.pt and model.json (version, figures, `training.readerStage`) in place. Needs
training/cache/features.pt (training/extract.py) and target/backbone (train.sh).
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from common import BOS, EOS, Bound, Features, em_f1, encode, greedy, recall_at  # noqa: E402
from lexical import lexical_scores, load_idf  # noqa: E402
from model import QLinear, quantize_all  # noqa: E402
from reexport import eager_heads, load_state  # noqa: E402
from train import LIKE, locate_span, pick_answer  # noqa: E402
from wordpiece import WordPiece  # noqa: E402

# share of training rows whose prompt comes from: closed book, top-1 match, gold paragraph (arg-max span), gold span
MIX = "0.10,0.40,0.20,0.30"


def trainable(reader):
    """The bundled (int8) reader made trainable again, float copies of its matrices, plus a zero copy path."""
    for m in reader.modules():
        if isinstance(m, QLinear) and m.quantized:
            w = m.wq.float() * m.ws
            del m.wq, m.ws
            m.weight = torch.nn.Parameter(w)
            m.quantized = False
    d = reader.out.dout
    reader.copy, reader.gate = QLinear(d, d, zero=True), QLinear(d, 1)
    for p in reader.parameters():
        p.requires_grad_(True)
    return reader


class Split:
    """What the frozen compressor and aggregator give one split's questions: the prompts the reader reads."""

    @torch.no_grad()
    def __init__(self, comp, agg, E, feats, tok, split, lexical, spans=None, bs=128):
        self.qidx = [i for i, q in enumerate(feats.qs) if q["split"] == split]
        pidx = [i for i, p in enumerate(feats.paras) if p["split"] == split]
        pos = {p: r for r, p in enumerate(pidx)}
        self.gold = torch.tensor([pos[feats.qs[i]["para"]] for i in self.qidx])
        pm, pk = encode(comp, E, feats, "p", pidx)
        qm, qk = encode(comp, E, feats, "q", self.qidx)
        dense = qk @ pk.t()
        match = dense
        if lexical is not None:
            idf, avg, weight = lexical
            match = dense + weight * lexical_scores(feats, pidx, self.qidx, idf, avg)
        self.recall = recall_at(match, self.gold)
        top = match.argmax(1)
        self.refs = [feats.qs[i]["answers"] for i in self.qidx]
        n, N, S = len(self.qidx), agg.n, agg.s
        self.closed, self.matched, self.oracle = [], [], []
        self.span = []
        one = torch.ones(1, 1)
        for s in range(0, n, bs):
            b = slice(s, s + bs)
            B = len(self.qidx[b])
            q = qm[b]
            for rows, out in ((top[b], self.matched), (self.gold[b], self.oracle)):
                logp, v, qp = agg.spans(q, pm[rows][:, None], dense[b].gather(1, rows[:, None]), one.expand(B, 1))
                hard = torch.zeros_like(logp).scatter(1, logp.argmax(1, keepdim=True), 1.0)
                out.append(agg.prompt_from_probs(hard, v, qp))
                if out is self.oracle and spans is not None:
                    gold_pi = hard.clone()
                    for r, qi in enumerate(self.qidx[b]):
                        if qi in spans:
                            j, length = spans[qi]
                            gold_pi[r].zero_()
                            gold_pi[r, j * S + length - 1] = 1.0
                    self.span.append(agg.prompt_from_probs(gold_pi, v, qp))
            self.closed.append(agg(q, torch.zeros_like(pm[:B])[:, None], torch.zeros(B, 1), torch.zeros(B, 1)))
        self.closed, self.matched, self.oracle = (torch.cat(x) for x in (self.closed, self.matched, self.oracle))
        self.span = torch.cat(self.span) if self.span else None
        assert N * S > 0


def scores(reader, E, prompts, refs, tok, max_tokens, bs=128):
    preds = []
    for s in range(0, prompts.size(0), bs):
        preds.extend(tok.decode(x) for x in greedy(reader, E, prompts[s:s + bs], max_tokens))
    em, f1 = em_f1(preds, refs)
    return {"EM": round(em, 2), "F1": round(f1, 2)}, preds


def figures(reader, E, split, tok, max_tokens):
    out = {"questions": len(split.qidx), "matching": {k: round(v, 4) for k, v in split.recall.items()}}
    texts = {}
    for name, prompts in (("closed_book", split.closed), ("cmt_k1", split.matched), ("oracle", split.oracle)):
        out[name], texts[name] = scores(reader, E, prompts, split.refs, tok, max_tokens)
    return out, texts


def train(reader, E, data, targets, val, tok, args, log=print):
    MIX = [float(x) for x in args.mix.split(",")]
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    new = [p for n, p in reader.named_parameters() if n.startswith(("copy.", "gate."))]
    old = [p for n, p in reader.named_parameters() if not n.startswith(("copy.", "gate."))]
    if args.lr == 0:                 # the copy path alone
        for p in old:
            p.requires_grad_(False)
    groups = [{"params": new, "lr": args.copy_lr}] + ([{"params": old, "lr": args.lr}] if args.lr > 0 else [])
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    base = [g["lr"] for g in opt.param_groups]
    rows = list(range(len(data.qidx)))
    budget, t0, step = args.minutes * 60, time.time(), 0
    reader.eval()
    first, _ = scores(reader, E, val.matched, val.refs, tok, args.max_answer)
    log(f"reader stage: validation CMT top-1 {first} before (the bundled reader, copy path zero)")
    best, best_state = (first["F1"], first["EM"]), {n: t.detach().clone() for n, t in reader.state_dict().items()}
    while True:
        reader.train()
        batch = rng.sample(rows, args.batch)
        prompts = []
        for r in batch:
            u = rng.random()
            if u < MIX[0]:
                prompts.append(data.closed[r])
            elif u < MIX[0] + MIX[1]:
                prompts.append(data.matched[r])
            elif u < MIX[0] + MIX[1] + MIX[2] or data.span is None:
                prompts.append(data.oracle[r])
            else:
                prompts.append(data.span[r])
        prompt = torch.stack(prompts)
        T = max(len(targets[data.qidx[r]]) for r in batch)
        inp = torch.zeros(len(batch), T, dtype=torch.long)
        tgt = torch.full((len(batch), T), -100, dtype=torch.long)
        for j, r in enumerate(batch):
            t = targets[data.qidx[r]]
            inp[j, :len(t)] = torch.tensor([BOS] + t[:-1])
            tgt[j, :len(t)] = torch.tensor(t)
        sel = tgt >= 0
        loss = F.cross_entropy(reader.logits_at(prompt, inp, sel, E), tgt[sel])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in reader.parameters() if p.requires_grad], 1.0)
        opt.step()
        elapsed = time.time() - t0
        for g, lr in zip(opt.param_groups, base):      # warm-up, then cosine decay over the time budget
            g["lr"] = lr * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget)))
        last = elapsed > budget
        if step % 50 == 0:
            log(f"reader step {step} loss {loss.item():.3f} {elapsed:.0f}s")
        if (step and step % args.eval_every == 0) or last:
            reader.eval()
            r, _ = scores(reader, E, val.matched, val.refs, tok, args.max_answer)
            log(f"  validation CMT top-1 {r} at step {step}")
            if (r["F1"], r["EM"]) > best:
                best = (r["F1"], r["EM"])
                best_state = {n: t.detach().clone() for n, t in reader.state_dict().items()}
        step += 1
        if last:
            break
    reader.load_state_dict(best_state)
    reader.eval()
    return {"steps": step, "seconds": round(time.time() - t0), "validationBefore": first,
            "validationChosenF1": best[0]}


def trace_reader(reader, E, P, H=384):
    """The reader traced as train.trace_heads traces it, checked: cached decoding against the whole prefix, on
    batch sizes and lengths other than the tracing example."""
    torch.manual_seed(0)
    p, a = torch.randn(2, P, H), torch.randint(1000, 5000, (2, 1))
    wr = reader.weights(LIKE)
    _, cache = reader(p, a, E, wr)
    tr = torch.jit.trace_module(reader, {"forward": (p, a, E, wr), "step": (p, a, torch.tensor([1]), cache, E, wr),
                                         "weights": (LIKE,)}, check_trace=False)
    torch.manual_seed(1)
    wr, worst = tr.weights(LIKE), 0.0
    for B, T in ((1, 1), (3, 7), (2, 12), (2, 20)):
        p, a = torch.randn(B, P, H), torch.randint(1000, 5000, (B, T))
        full, _ = reader(p, a, E)
        logits, cache = tr(p, a[:, :1], E, wr)
        for t in range(1, T):
            logits, cache = tr.step(p, a[:, t:t + 1], torch.tensor([t]), cache, E, wr)
        worst = max(worst, float((full - logits).abs().max()))
    return tr, worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/cmt-bge-small-squad")
    ap.add_argument("--cache", default="training/cache")
    ap.add_argument("--backbone", default="target/backbone")
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--copy_lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--eval_every", type=int, default=150)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--mix", default=MIX, help="shares of training prompts: closed book, top-1 match, gold "
                                                "paragraph, gold span")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dry", action="store_true", help="train and report, but write nothing")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.time()
    log = lambda s: print(s, flush=True)  # noqa: E731

    path = os.path.join(args.model, "model.json")
    info = json.load(open(path))
    assert info["training"].get("readerStage") is None, "this bundle's reader already has its copy path"
    heads, hard = eager_heads(info)
    assert hard, "the copy path reads the hard (single-span) prompt"
    for n in heads:
        load_state(heads[n], torch.jit.load(os.path.join(args.model, info["files"][n])), n)
    comp, agg, reader = heads["compressor"], heads["aggregator"], trainable(heads["reader"])
    E = torch.jit.load(os.path.join(args.model, info["files"]["embeddings"]))(LIKE)
    feats = Features(os.path.join(args.cache, "features.pt"))
    tok = WordPiece(os.path.join(args.backbone, info["backbone"]["tokenizerResource"]))
    args.max_answer = info["maxAnswerTokens"]
    lexical = None
    if "lexical" in info:
        lx = info["lexical"]
        lexical = (load_idf(args.model, lx), lx["averageLength"], lx["queryWeight"])

    targets, spans = {}, {}
    for qi, q in enumerate(feats.qs):
        if q["split"] == "train":
            ans = tok.tokenize(pick_answer(q["answers"]))
            targets[qi] = ans[:args.max_answer - 1] + [EOS]
            span = locate_span(feats.paras[q["para"]]["ids"], ans, agg.s, agg.n)
            if span:
                spans[qi] = span
    t0 = time.time()
    saved = os.path.join(args.cache, "reader-stage-" + info["version"] + ".pt")
    if os.path.exists(saved):       # the frozen parts' prompts, kept between runs of the same bundle
        data, val = torch.load(saved)
    else:
        data = Split(comp, agg, E, feats, tok, "train", lexical, spans)
        val = Split(comp, agg, E, feats, tok, "validation", lexical)
        torch.save((data, val), saved)
    log(f"reader stage: prompts of {len(data.qidx)} train and {len(val.qidx)} validation questions in "
        f"{time.time() - t0:.0f}s ({len(spans)} with a gold span); validation matching {val.recall}")
    stage = train(reader, E, data, targets, val, tok, args, log)
    log(f"reader stage: {stage}")
    if args.dry:
        return

    quantize_all(reader)
    for p in reader.parameters():
        p.requires_grad_(False)
    tr, worst = trace_reader(reader, E, agg.p)
    log(f"trace check max |eager - traced| = {worst:.2e}")
    assert worst < 1e-3, worst
    tr.save(os.path.join(args.model, info["files"]["reader"]))
    # figures of exactly the written file, called as the Java runtime calls it
    lr = Bound(torch.jit.load(os.path.join(args.model, info["files"]["reader"])))
    val_fig, _ = figures(lr, E, val, tok, args.max_answer)
    test = Split(comp, agg, E, feats, tok, "test", lexical)
    test_fig, _ = figures(lr, E, test, tok, args.max_answer)
    log(f"validation {val_fig}\ntest {test_fig}")

    h = hashlib.sha256()
    for n in ("embeddings", "compressor", "aggregator", "reader"):
        h.update(open(os.path.join(args.model, info["files"][n]), "rb").read())
    old = info["version"]
    info["version"] = time.strftime("%Y-%m-%d-") + h.hexdigest()[:8] + "-reader" + (old[old.index("-lexical-"):] if "-lexical-" in old else "")
    info["training"]["readerStage"] = {
        "command": "/usr/bin/python3 training/reader_stage.py --model " + args.model,
        "what": "reader fine-tuned with a copy path (prompt vector t, gated, added to the output vector at answer "
                "position t), compressor and aggregator frozen; reader chosen by validation CMT top-1 F1",
        "hyperparameters": {k: v for k, v in vars(args).items() if k not in ("model", "cache", "backbone", "dry")},
        "promptMix": dict(zip(("closedBook", "top1Match", "goldParagraph", "goldSpan"),
                              (float(x) for x in args.mix.split(",")))),
        **stage,
        "matching": "dense key + lexical half (the bundle's matching)" if lexical else "dense key",
        "figures": {"validation": val_fig, "test": test_fig},
        "wallSeconds": round(time.time() - t_start),
    }
    info["training"]["bundleBytes"] = sum(os.path.getsize(os.path.join(args.model, f))
                                          for f in os.listdir(args.model))
    with open(path, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    log(f"wrote {info['files']['reader']} and {path} (version {info['version']})")


if __name__ == "__main__":
    main()
