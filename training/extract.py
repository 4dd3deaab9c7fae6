"""Tokenises every SQuAD paragraph and question of the split and runs the frozen backbone over them once.

Writes <cache>/features.pt: packed last_hidden_state (float32) of all paragraphs and questions (real tokens only,
[CLS] .. [SEP]) with offsets, token ids, and the data tables (article, split, paragraph index, answers).
"""
import json
import os
import sys
import time

import torch

from training.backbone import Bert
from training.wordpiece import WordPiece

MAX_DOC, MAX_Q = 256, 64


def run(bert, seqs, batch_tokens=8192, label=""):
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = [None] * len(seqs)
    t0, done, i = time.time(), 0, 0
    while i < len(order):
        L = len(seqs[order[i]])
        j = i
        while j < len(order) and (j - i + 1) * len(seqs[order[j]]) <= batch_tokens:
            j += 1
        j = max(j, i + 1)
        idx = order[i:j]
        L = max(len(seqs[k]) for k in idx)
        ids = torch.zeros(len(idx), L, dtype=torch.int64)
        mask = torch.zeros(len(idx), L, dtype=torch.int64)
        for r, k in enumerate(idx):
            ids[r, :len(seqs[k])] = torch.tensor(seqs[k])
            mask[r, :len(seqs[k])] = 1
        h = bert(ids, mask)
        for r, k in enumerate(idx):
            out[k] = h[r, :len(seqs[k])].clone()
        done += len(idx)
        i = j
        print(f"  {label} {done}/{len(seqs)} {time.time() - t0:.0f}s", flush=True)
    return out


def main(squad, split_path, backbone_dir, cache):
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    tok = WordPiece(os.path.join(backbone_dir, "bge-small-en-v1.5-tokenizer.json"))
    bert = Bert(os.path.join(backbone_dir, "bge-small-en-v1.5.onnx"))
    split = json.load(open(split_path))
    which = {t: s for s in ("train", "validation", "test") for t in split[s]}
    data = json.load(open(squad, encoding="utf-8"))["data"]
    paras, qs = [], []
    for art in data:
        for p in art["paragraphs"]:
            pid = len(paras)
            paras.append({"article": art["title"], "split": which[art["title"]], "text": p["context"],
                          "ids": tok.encode(p["context"], MAX_DOC)})
            for q in p["qas"]:
                qs.append({"id": q["id"], "question": q["question"], "para": pid, "split": which[art["title"]],
                           "answers": [a["text"] for a in q["answers"]], "ids": tok.encode(q["question"], MAX_Q)})
    print(f"{len(paras)} paragraphs, {len(qs)} questions", flush=True)
    t0 = time.time()
    ph = run(bert, [p["ids"] for p in paras], label="paragraphs")
    qh = run(bert, [q["ids"] for q in qs], label="questions")
    print(f"backbone time {time.time() - t0:.0f}s", flush=True)

    def pack(hs):
        off = [0]
        for h in hs:
            off.append(off[-1] + h.shape[0])
        return torch.cat(hs, 0), torch.tensor(off)

    P, Poff = pack(ph)
    Q, Qoff = pack(qh)
    os.makedirs(cache, exist_ok=True)
    torch.save({"paras": paras, "qs": qs, "P": P, "Poff": Poff, "Q": Q, "Qoff": Qoff}, os.path.join(cache, "features.pt"))
    print("saved", os.path.join(cache, "features.pt"), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
