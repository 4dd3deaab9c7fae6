"""Writes src/test/resources/parity/parity.json: reference outputs of the exported model for the Java parity test.

Everything is recomputed from text: tokenizer (training/wordpiece.py) -> backbone (training/backbone.py Bert, checked
against the ONNX graph runner) -> the exported TorchScript files loaded with torch.jit.load, each head given the
de-quantised weights its `weights` method returns (as the Java runtime does it).
"""
import json
import os
import sys

import torch

from training.backbone import Bert, OnnxGraphRunner
from training.common import BOS, EOS, NEG_LOGIT, load_heads
from training.lexical import answer_vocabulary, document_weights, load_idf, query_terms
from training.wordpiece import WordPiece


def r(t, nd=6):
    return [float(f"{v:.{nd}g}") for v in t.reshape(-1).tolist()]


def main(model_dir="models/cmt-bge-small-squad", backbone="target/backbone",
         squad="data/squad/squad-v1.1-dev-open.json", split="data/squad/split.json",
         out="src/test/resources/parity/parity.json"):
    torch.set_num_threads(2)
    info = json.load(open(os.path.join(model_dir, "model.json")))
    tok = WordPiece(os.path.join(backbone, info["backbone"]["tokenizerResource"]))
    onnx_path = os.path.join(backbone, info["backbone"]["onnxResource"])
    bert, ref = Bert(onnx_path), OnnxGraphRunner(onnx_path)
    E, comp, agg, reader = load_heads(model_dir, info)
    test = set(json.load(open(split))["test"])
    art = next(a for a in json.load(open(squad, encoding="utf-8"))["data"] if a["title"] in test)
    p0, p1 = art["paragraphs"][0], art["paragraphs"][1]
    docs = [p0["context"], p1["context"]]
    questions = [p0["qas"][0]["question"], p1["qas"][0]["question"]]
    answers = [[a["text"] for a in p0["qas"][0]["answers"]], [a["text"] for a in p1["qas"][0]["answers"]]]

    def run(text, max_len):
        ids = tok.encode(text, max_len)
        x = torch.tensor([ids])
        m = torch.ones_like(x)
        h = bert(x, m)
        h_ref = ref(x, m, torch.zeros_like(x))
        diff = float((h - h_ref).abs().max())
        mem, key = comp(h, x, m.float(), E)
        return ids, h[0], mem[0], key[0], diff

    lex = info.get("lexical")
    idf = None if lex is None else load_idf(model_dir, lex)

    def lexical(kind, ids):
        """The sparse half of the key (training/lexical.py), as the memory bank stores / matches it."""
        if kind == "document":
            w = document_weights(ids, idf, lex["averageLength"])
            return {"terms": list(w), "weights": r(torch.tensor(list(w.values())))}
        terms = query_terms(ids, idf)
        return {"terms": terms, "weights": [lex["queryWeight"]] * len(terms)}

    out_docs, out_qs, worst = [], [], 0.0
    for kind, texts, max_len, dst in (("document", docs, info["maxDocumentTokens"], out_docs),
                                      ("question", questions, info["maxQueryTokens"], out_qs)):
        for t in texts:
            ids, h, mem, key, diff = run(t, max_len)
            worst = max(worst, diff)
            dst.append({"text": t, "ids": ids, "backboneCls": r(h[0]), "backboneMean": r(h.mean(0)),
                        "key": r(key), "memory": r(mem), "memoryShape": list(mem.shape),
                        "_mem": mem, "_key": key})
            if lex is not None:
                dst[-1]["lexical"] = lexical(kind, ids)
    q = out_qs[0]
    scores = torch.stack([q["_key"] @ d["_key"] for d in out_docs])
    order = scores.argsort(descending=True)
    memories = torch.stack([out_docs[i]["_mem"] for i in order.tolist()])[None]
    sc = scores[order][None]
    prompt = agg(q["_mem"][None], memories, sc, torch.ones(1, 2))
    def decode(allowed=None, prompt=prompt):
        """Cached greedy decoding, as the Java loop does it: forward on [bos], then step per token; `allowed`
        [vocab] bool restricts the tokens (the answer vocabulary of training/lexical.py)."""
        logits, cache = reader(prompt, torch.tensor([[BOS]]), E)
        first = logits[0]
        gen = []
        for t in range(1, info["maxAnswerTokens"] + 1):
            row = logits[0] if allowed is None else logits[0].masked_fill(~allowed, NEG_LOGIT)
            nxt = int(row.argmax())
            if nxt in (EOS, 0):
                break
            gen.append(nxt)
            if t == info["maxAnswerTokens"]:
                break
            logits, cache = reader.step(prompt, torch.tensor([[nxt]]), torch.tensor([t]), cache, E)
        return gen, first

    gen, first = decode()
    top_v, top_i = first.topk(20)
    constrained = single = None
    if lex is not None:
        # the union of both memories' terms and the ids of idf 0, what the Java runtime allows when model.json's
        # lexical.answerVocabulary is "memory-terms"
        constrained, _ = decode(answer_vocabulary(idf, *(d["ids"] for d in out_docs)))
        # one more paragraph of the article and its first question, read alone, where the restriction changes
        # the answer (the first such paragraph), so the Java test sees it take effect, not only agree where it
        # does not matter
        for para in art["paragraphs"][2:]:
            doc, question = para["context"], para["qas"][0]["question"]
            ids_d, _, mem_d, key_d, _ = run(doc, info["maxDocumentTokens"])
            _, _, mem_q, key_q, _ = run(question, info["maxQueryTokens"])
            s1 = (key_q @ key_d).reshape(1, 1)
            p1 = agg(mem_q[None], mem_d[None, None], s1, torch.ones(1, 1))
            single = {"document": doc, "question": question, "answerIds": decode(prompt=p1)[0],
                      "memoryTermsAnswerIds": decode(answer_vocabulary(idf, ids_d), p1)[0]}
            if single["answerIds"] != single["memoryTermsAnswerIds"]:
                break
        assert single["answerIds"] != single["memoryTermsAnswerIds"], "no paragraph where the restriction matters"
        single["answerText"] = tok.decode(single["answerIds"])
        single["memoryTermsAnswerText"] = tok.decode(single["memoryTermsAnswerIds"])
    closed = agg(q["_mem"][None], torch.zeros(1, 1, *q["_mem"].shape), torch.zeros(1, 1), torch.zeros(1, 1))
    for d in out_docs + out_qs:
        d.pop("_mem"), d.pop("_key")
    fixture = {
        "model": info["name"], "version": info["version"],
        "note": "float values rounded to 6 significant digits; backbone = bge-small-en-v1.5 ONNX from the Maven jar, "
                "run in PyTorch (max |diff| vs the ONNX graph executed op by op: %.2e)" % worst,
        "tolerance": {"backbone": 1e-3, "heads": 1e-3, "logits": 1e-2},
        "documents": out_docs,
        "questions": out_qs,
        "aggregation": {
            "question": 0, "k": 2, "documentOrder": order.tolist(), "scores": r(sc[0]), "present": [1.0, 1.0],
            "prompt": r(prompt[0]), "promptShape": list(prompt[0].shape),
            "closedBookPrompt": r(closed[0]),
        },
        "decoding": {
            "question": 0, "answerIds": gen, "answerText": tok.decode(gen), "references": answers[0],
            "firstStepTop20Ids": top_i.tolist(), "firstStepTop20Logits": r(top_v),
            "firstStepLogitsShape": [1, int(first.numel())],
            "memoryTermsAnswerIds": constrained,
            "memoryTermsAnswerText": None if constrained is None else tok.decode(constrained),
            "singleMemory": single,
        },
    }
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(fixture, f)
    print(f"wrote {out} ({os.path.getsize(out) / 1024:.0f} KiB); backbone max diff vs ONNX graph {worst:.2e}; "
          f"answer {tok.decode(gen)!r}, from the memories' terms "
          f"{None if constrained is None else tok.decode(constrained)!r}; refs {answers[0]}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
