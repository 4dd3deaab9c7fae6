"""Runs the frozen bge-small once over the SQuAD paragraphs and questions of the given splits, keeping the states
after layer `split_layer` (the memory tokens of the late-interaction reader) and after the last layer (what the
key head reads), plus everything a span reader needs to learn and to answer from a memory:

  * ids: the WordPiece ids ([CLS] .. [SEP], paragraphs <= 256, questions <= 64),
  * space: 1 where the token starts a whitespace-separated chunk of the text (how answers are detokenised),
  * spans: per question the (start, end) token positions of each reference answer found in its paragraph.

Paragraph states after the split layer are stored as the Java bank stores them (int8 per token with one float
scale per token), so training reads exactly what a memory holds.
"""
import argparse
import json
import os
import time

import torch

from training.backbone import Bert
from training.wordpiece import WordPiece, _is_whitespace

MAX_DOC, MAX_Q = 256, 64


def quantize_tokens(h):
    """[L, H] float -> (int8 [L, H], scale [L]) with one scale per token (the memory's storage)."""
    s = h.abs().amax(dim=-1).clamp_min(1e-8) / 127.0
    return torch.round(h / s[:, None]).clamp(-127, 127).to(torch.int8), s


def encode_with_spaces(tok, text, max_len):
    """(ids, space) of [CLS] text [SEP]: space[i] = 1 when token i is the first of a whitespace chunk."""
    ids, space = [tok.cls], [0]
    chunk = []
    norm = tok.normalize(text)
    for c in norm + " ":
        if _is_whitespace(c):
            if chunk:
                piece = tok.tokenize("".join(chunk))
                ids.extend(piece)
                space.extend([1] + [0] * (len(piece) - 1))
                chunk = []
        else:
            chunk.append(c)
    ids, space = ids[: max_len - 1] + [tok.sep], space[: max_len - 1] + [0]
    return ids, space


def answer_span(tok, context, ids, text, start_char):
    """Token (start, end) of an answer in the paragraph's ids, preferring the occurrence at its character offset;
    None when it is not there (truncated, or a tokenisation that splits differently)."""
    want = tok.tokenize(text)
    if not want:
        return None
    guess = 1 + len(tok.tokenize(context[:start_char]))
    n = len(want)
    found = [i for i in range(1, len(ids) - n) if ids[i:i + n] == want]
    if not found:
        return None
    i = min(found, key=lambda j: abs(j - guess))
    return i, i + n - 1


def run(bert, seqs, splits, batch_tokens=6144, label=""):
    """Per split layer the states after it, and the last hidden states, of every sequence (one pass)."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    mids, lasts = [[None] * len(seqs) for _ in splits], [None] * len(seqs)
    t0, i = time.time(), 0
    while i < len(order):
        j = i + 1
        while j < len(order) and (j - i + 1) * len(seqs[order[j]]) <= batch_tokens:
            j += 1
        idx = order[i:j]
        L = max(len(seqs[k]) for k in idx)
        ids = torch.zeros(len(idx), L, dtype=torch.int64)
        mask = torch.zeros(len(idx), L, dtype=torch.int64)
        for r, k in enumerate(idx):
            ids[r, :len(seqs[k])] = torch.tensor(seqs[k])
            mask[r, :len(seqs[k])] = 1
        mid, last = bert(ids, mask, split=tuple(splits))
        for r, k in enumerate(idx):
            for s, m in enumerate(mid):
                mids[s][k] = m[r, :len(seqs[k])].clone()
            lasts[k] = last[r, :len(seqs[k])].half()
        i = j
        print(f"  {label} {j}/{len(seqs)} {time.time() - t0:.0f}s", flush=True)
    return mids, lasts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", default="data/squad/squad-v1.1-dev-open.json")
    ap.add_argument("--split", default="data/squad/split.json")
    ap.add_argument("--backbone", default="training/cache/backbone")
    ap.add_argument("--out", default="training/cache/late.pt",
                    help="with several split layers, a name with {} for the layer (late{}.pt)")
    ap.add_argument("--split-layer", default="8", help="one layer, or several separated by commas")
    ap.add_argument("--sets", default="train,validation")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = WordPiece(os.path.join(a.backbone, "bge-small-en-v1.5-tokenizer.json"))
    bert = Bert(os.path.join(a.backbone, "bge-small-en-v1.5.onnx"))
    split = json.load(open(a.split))
    sets = a.sets.split(",")
    which = {t: s for s in sets for t in split[s]}
    paras, qs = [], []
    for art in json.load(open(a.squad, encoding="utf-8"))["data"]:
        if art["title"] not in which:
            continue
        for p in art["paragraphs"]:
            pid = len(paras)
            ids, space = encode_with_spaces(tok, p["context"], MAX_DOC)
            paras.append({"article": art["title"], "split": which[art["title"]], "text": p["context"],
                          "ids": ids, "space": space})
            for q in p["qas"]:
                spans = [answer_span(tok, p["context"], ids, x["text"], x["answer_start"]) for x in q["answers"]]
                qs.append({"id": q["id"], "question": q["question"], "para": pid, "split": which[art["title"]],
                           "answers": [x["text"] for x in q["answers"]], "spans": [s for s in spans if s],
                           "ids": tok.encode(q["question"], MAX_Q)})
    found = sum(1 for q in qs if q["spans"])
    print(f"{len(paras)} paragraphs, {len(qs)} questions ({found} with an answer span in the tokens)", flush=True)
    splits = [int(x) for x in a.split_layer.split(",")]
    if len(splits) > 1 and "{}" not in a.out:
        ap.error("several split layers need an --out with {} for the layer")
    pm, pl = run(bert, [p["ids"] for p in paras], splits, label="paragraphs")
    qm, ql = run(bert, [q["ids"] for q in qs], splits, label="questions")
    for s, layer in enumerate(splits):
        pq = [quantize_tokens(h) for h in pm[s]]
        out = a.out.format(layer)
        torch.save({"split_layer": layer, "paras": paras, "qs": qs,
                    "p_mid": [x[0] for x in pq], "p_scale": [x[1] for x in pq], "p_last": pl,
                    "q_mid": [h.half() for h in qm[s]], "q_last": ql}, out)
        print("saved", out, flush=True)


if __name__ == "__main__":
    main()
