"""Writes src/test/resources/parity/parity.json for a cmt-model/4 model (format: src/test/resources/parity/README.md).

Everything is recomputed from text: tokenizer (training/wordpiece.py, with the space flags of
training/late_extract.py) -> backbone (training/backbone.py Bert, checked against the ONNX graph runner) -> the
exported compressor.pt and reader.pt loaded with torch.jit.load and given the weights their `weights` methods
return, as the Java runtime does it; with `reader.int8Method` the reader's int8 logits too, from which the span is
chosen (the CPU runtime's path). Inputs: two paragraphs of the first test article and the first question of
each (parity only: nothing is chosen on them).

    /usr/bin/python3 -m training.late_fixture [--model models/cmt-bge-small-squad]
"""
import argparse
import json
import os

import torch

from training.backbone import Bert, OnnxGraphRunner
from training.late_extract import encode_with_spaces, quantize_tokens
from training.late_reader import best_spans, int8_engine, span_text
from training.lexical import document_weights, load_idf, query_terms
from training.wordpiece import WordPiece


def r(t, nd=6):
    return [float(f"{v:.{nd}g}") for v in t.reshape(-1).tolist()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/cmt-bge-small-squad")
    ap.add_argument("--backbone", default="training/cache/backbone")
    ap.add_argument("--squad", default="data/squad/squad-v1.1-dev-open.json")
    ap.add_argument("--split", default="data/squad/split.json")
    ap.add_argument("--out", default="src/test/resources/parity/parity.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    info = json.load(open(os.path.join(a.model, "model.json")))
    tok = WordPiece(os.path.join(a.backbone, info["backbone"]["tokenizerResource"]))
    vocab = tok.inv
    onnx_path = os.path.join(a.backbone, info["backbone"]["onnxResource"])
    bert, ref = Bert(onnx_path), OnnxGraphRunner(onnx_path)
    split_layer = info["backbone"]["memoryLayer"]
    load = lambda n: torch.jit.load(os.path.join(a.model, info["files"][n]))  # noqa: E731
    like = torch.zeros(1)
    emb = load("embeddings")(like)
    comp, reader = load("compressor"), load("reader")
    wc, wr = comp.weights(like), reader.weights(like)

    test = set(json.load(open(a.split))["test"])
    art = next(x for x in json.load(open(a.squad, encoding="utf-8"))["data"] if x["title"] in test)
    paras = art["paragraphs"][:2]
    lex = info.get("lexical")
    idf = None if lex is None else load_idf(a.model, lex)

    worst = 0.0
    docs, qs = [], []
    with torch.no_grad():
        for kind, texts, max_len, dst in (
                ("document", [p["context"] for p in paras], info["maxDocumentTokens"], docs),
                ("question", [p["qas"][0]["question"] for p in paras], info["maxQueryTokens"], qs)):
            for text in texts:
                ids, space = encode_with_spaces(tok, text, max_len)
                assert ids == tok.encode(text, max_len)
                x = torch.tensor([ids])
                m = torch.ones_like(x)
                mid, last = bert(x, m, split=split_layer)
                worst = max(worst, float((last - ref(x, m, torch.zeros_like(x))).abs().max()))
                key = comp(last, x, m.float(), emb, wc)[1][0]
                e = {"text": text, "ids": ids, "backboneCls": r(last[0, 0]), "backboneMean": r(last[0].mean(0)),
                     "key": r(key), "statesCls": r(mid[0, 0]), "statesMean": r(mid[0].mean(0)),
                     "_key": key, "_mid": mid[0]}
                if kind == "document":
                    q8, scale = quantize_tokens(mid[0])
                    e["pieces"] = [i | (0x8000 if s else 0) for i, s in zip(ids, space)]
                    e["stateScales"] = r(scale)
                    e["stateCodes"] = q8.reshape(-1).tolist()
                    e["_states"] = q8.float() * scale[:, None]
                    e["_space"] = space
                    if lex is not None:
                        w = document_weights(ids, idf, lex["averageLength"])
                        e["lexical"] = {"terms": list(w), "weights": r(torch.tensor(list(w.values())))}
                elif lex is not None:
                    terms = query_terms(ids, idf)
                    e["lexical"] = {"terms": terms, "weights": [lex["queryWeight"]] * len(terms)}
                dst.append(e)

        q = qs[0]
        scores = torch.stack([q["_key"] @ d["_key"] for d in docs])
        order = scores.argsort(descending=True).tolist()
        starts, ends, starts8, ends8, best = [], [], [], [], (-float("inf"), 0, 0, 0)
        int8 = info.get("reader", {}).get("int8Method")
        if int8:
            int8_engine()
        for j, di in enumerate(order):
            d = docs[di]
            Lq = q["_mid"].size(0)
            x = (q["_mid"][None], torch.ones(1, Lq), d["_states"][None], torch.ones(1, d["_states"].size(0)))
            st, en = reader(*x, wr)
            starts.append(r(st[0, Lq:]))
            ends.append(r(en[0, Lq:]))
            if int8:                        # what the CPU runtime reads with; the span is chosen from these
                st, en = getattr(reader, int8)(*x)
                starts8.append(r(st[0, Lq:]))
                ends8.append(r(en[0, Lq:]))
            st, en = st[0, Lq:], en[0, Lq:]
            ok = torch.zeros(1, st.size(0), dtype=torch.bool)
            ok[0, 1:-1] = True
            v, s, e = best_spans(st[None], en[None], ok, info["maxAnswerTokens"])
            if float(v) > best[0]:
                best = (float(v), j, int(s), int(e))
        _, j, s, e = best
        d = docs[order[j]]
        answer = span_text(vocab, d["ids"], d["_space"], s, e)

    out = {"model": info["name"], "version": info["version"],
           "tolerance": {"relative": 1e-3, "backboneVsOnnxGraph": worst},
           "documents": [{k: v for k, v in d.items() if not k.startswith("_")} for d in docs],
           "questions": [{k: v for k, v in x.items() if not k.startswith("_")} for x in qs],
           "reading": dict({"question": 0, "memories": order, "start": starts, "end": ends,
                            "best": {"memory": j, "start": s, "end": e}, "answerText": answer,
                            "references": [x["text"] for x in paras[0]["qas"][0]["answers"]]},
                           **({"int8": {"method": int8, "engine": torch.backends.quantized.engine,
                                        "start": starts8, "end": ends8}} if int8 else {})),
           "closedBook": {"answerText": ""}}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {a.out}: answer {answer!r} (references {out['reading']['references']}), backbone vs ONNX graph {worst:.2e}")


if __name__ == "__main__":
    main()
