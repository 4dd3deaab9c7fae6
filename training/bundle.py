"""The cmt-model/3 bundle (compressor, aggregator, reader) as the trainer writes it and the tools read it back.

What train.py, reexport.py, span_stage.py and the analyses share: the format name, the trainer's command line (its
defaults are the hyperparameters a model.json leaves out), tracing the heads in the contract's form and checking the
traces against the eager modules, and loading an exported bundle back into the eager modules of model.py.
Imports no pipeline step (only model.py), so that none of those modules has to import another to get these.
"""
import argparse
import json
import os

import torch

from training.model import Aggregator, Compressor, Reader, quantize_all

FORMAT = "cmt-model/3"      # docs/MODEL-CONTRACT.md


def parse_args(argv=None):
    """train.py's command line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="training/cache")
    ap.add_argument("--backbone", default="target/backbone")
    ap.add_argument("--out", default="models/cmt-bge-small-squad")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=37.0, help="stop the first stage early after this many minutes")
    ap.add_argument("--memory", type=int, default=32)
    ap.add_argument("--chunk", type=int, default=8)
    ap.add_argument("--prompt", type=int, default=12)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--key_lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--paras_per_article", type=int, default=12)
    ap.add_argument("--q_per_para", type=int, default=2)
    ap.add_argument("--p_closed", type=float, default=0.15)
    ap.add_argument("--max_answer", type=int, default=16)
    ap.add_argument("--val_ks", default="1,3,5")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--max_k", type=int, default=3)
    ap.add_argument("--recon_positions", type=int, default=1024)
    ap.add_argument("--gold_span_forcing", type=float, default=0.5)
    ap.add_argument("--key_eval_every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--span_minutes", type=float, default=0.0,
                    help="second stage: train the question-aware span scorer this long (0: none, the first stage's "
                         "scorer stays; docs/MODEL.md says why the bundle has none)")
    ap.add_argument("--eval_limit", type=int, default=0, help="evaluate on the first N questions only (smoke runs)")
    return ap.parse_args(argv)


LIKE = torch.zeros(1)       # the dtype carrier of the `weights` methods


def trace_heads(comp, agg, reader, E, M, P, H=384):
    """The heads traced in the contract's form: forward (and the reader's step) take the de-quantised weights as
    their last input, which the traced `weights` method makes once (docs/MODEL-CONTRACT.md)."""
    torch.manual_seed(0)
    h, ids, m = torch.randn(3, 11, H), torch.randint(1000, 5000, (3, 11)), torch.ones(3, 11)
    m[1, 7:] = 0
    wc = comp.weights(LIKE)
    tc = torch.jit.trace_module(comp, {"forward": (h, ids, m, E, wc), "weights": (LIKE,)}, check_trace=False)
    ta = trace_aggregator(agg, M, H)
    p, a, among = torch.randn(2, P, H), torch.randint(1000, 5000, (2, 1)), torch.randint(0, 30000, (2, 7))
    wr = reader.weights(LIKE)
    _, cache = reader(p, a, E, wr)
    tr = torch.jit.trace_module(reader, {"forward": (p, a, E, wr), "step": (p, a, torch.tensor([1]), cache, E, wr),
                                         "forward_among": (p, a, among, E, wr),
                                         "step_among": (p, a, torch.tensor([1]), cache, among, E, wr),
                                         "weights": (LIKE,)}, check_trace=False)
    return tc, ta, tr


def trace_aggregator(agg, M, H=384):
    torch.manual_seed(0)
    q, mem, sc, pr = torch.randn(2, M, H), torch.randn(2, 3, M, H), torch.randn(2, 3), torch.ones(2, 3)
    return torch.jit.trace_module(agg, {"forward": (q, mem, sc, pr, agg.weights(LIKE)), "weights": (LIKE,)},
                                  check_trace=False)


def trace_all(comp, agg, reader, embeddings, M, P, H=384):
    torch.manual_seed(0)
    te = torch.jit.trace(embeddings, (LIKE,), check_trace=False)
    E = embeddings(LIKE)
    return (te,) + trace_heads(comp, agg, reader, E, M, P, H)


def check_traces(comp, agg, reader, tc, ta, tr, E, M, P, H=384):
    """The traced modules (given their own `weights`) must agree with the eager ones on shapes other than the
    tracing example, and cached decoding must agree with reading the whole prefix at once."""
    torch.manual_seed(1)
    wc, wa, wr = tc.weights(LIKE), ta.weights(LIKE), tr.weights(LIKE)
    worst = 0.0
    for B, L in ((1, 5), (5, 40), (2, 256)):
        h, ids, m = torch.randn(B, L, H), torch.randint(1000, 5000, (B, L)), torch.ones(B, L)
        m[0, L // 2 + 1:] = 0
        for x, y in zip(comp(h, ids, m, E), tc(h, ids, m, E, wc)):
            worst = max(worst, float((x - y).abs().max()))
    for B, k in ((1, 1), (4, 5), (3, 2)):
        q, mem, sc, pr = torch.randn(B, M, H), torch.randn(B, k, M, H), torch.rand(B, k), torch.ones(B, k)
        pr[0, -1] = 0
        worst = max(worst, float((agg(q, mem, sc, pr) - ta(q, mem, sc, pr, wa)).abs().max()))
        pr = torch.zeros(B, k)
        worst = max(worst, float((agg(q, mem, sc, pr) - ta(q, mem, sc, pr, wa)).abs().max()))
    for B, T in ((1, 1), (3, 7), (2, 12)):
        p, a = torch.randn(B, P, H), torch.randint(1000, 5000, (B, T))
        among = torch.randint(0, E.size(0), (B, 3 * T + 2))
        full, _ = reader(p, a, E)
        logits, cache = tr(p, a[:, :1], E, wr)
        some, _ = tr.forward_among(p, a[:, :1], among, E, wr)
        for t in range(1, T):
            some, _ = tr.step_among(p, a[:, t:t + 1], torch.tensor([t]), cache, among, E, wr)
            logits, cache = tr.step(p, a[:, t:t + 1], torch.tensor([t]), cache, E, wr)
        worst = max(worst, float((full - logits).abs().max()), float((full.gather(1, among) - some).abs().max()))
    return worst


def eager_heads(info):
    """The eager modules with the exported hyper-parameters (train.py's defaults where model.json has none)."""
    hp = dict(vars(parse_args([])))
    hp.update(info.get("training", {}).get("hyperparameters", {}))
    dims = info["dims"]
    assert (dims["memoryTokens"], dims["tokensPerMemory"], dims["softPrompt"]) == (
        hp["memory"], hp["chunk"], hp["prompt"]), (dims, hp)
    # train.py keeps the hard (arg-max span) aggregator when it does better on validation and records that choice
    hard = info["training"]["figures"]["validation"]["decoding"] == "hard"
    comp = Compressor(m=hp["memory"], c=hp["chunk"], vocab=dims["vocab"])
    agg = Aggregator(m=hp["memory"], c=hp["chunk"], p=hp["prompt"], hard=hard,
                     scorer=info["training"].get("spanScorer"))
    reader = Reader(p=hp["prompt"], vocab=dims["vocab"])
    return {"compressor": comp, "aggregator": agg, "reader": reader}, hard


def load_state(module, traced, name):
    quantize_all(module)
    sd = traced.state_dict()
    want = module.state_dict()
    assert set(sd) == set(want), (name, sorted(set(sd) ^ set(want)))
    for k, v in sd.items():
        assert v.shape == want[k].shape and v.dtype == want[k].dtype, (name, k, v.shape, want[k].shape)
    result = module.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys, result
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return len(sd)


def bundled_compressor(model_dir):
    """(eager compressor with the bundle's weights, de-quantised word embeddings) of an exported model, for the
    analysis scripts that look inside the key (analysis/key_mixture.py, analysis/lexical_bound.py)."""
    info = json.load(open(os.path.join(model_dir, "model.json")))
    comp = eager_heads(info)[0]["compressor"]
    load_state(comp, torch.jit.load(os.path.join(model_dir, info["files"]["compressor"])), "compressor")
    return comp, torch.jit.load(os.path.join(model_dir, info["files"]["embeddings"]))(torch.zeros(1))
