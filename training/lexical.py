"""Fits the lexical part of self-matching to an exported model and writes it into the model directory.

Self-matching scores a question against a memory by the dot product of their dense keys (the compressor's) plus
the dot product of two sparse vectors over WordPiece ids (docs/MODEL-CONTRACT.md, "Lexical matching"):
  * the memory's: BM25 term weights of the document's own tokens (the tokens the compressor read, truncation
    included), idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / averageLength));
  * the question's: `queryWeight` for each distinct token of the question.
So the added score is queryWeight * BM25(question, document). Nothing here is trained by gradient: the idf table and
the average length come from the 28 train articles' paragraphs (a shard cannot know the corpus it will see, so the
statistics are fixed with the model rather than counted per shard), k1 and b are the BM25 baseline's (0.9, 0.4),
and queryWeight alone is chosen on the validation split by recall@1. The test split is not read.

Why: the dense key misses questions that share a rare word with their paragraph but little of its meaning
(training/analysis/lexical_bound.py measures this). A 384-d key is a poor store of exact token identity; an
inverted index over ids is the standard way to keep it (dense + lexical hybrid retrieval).

Punctuation and symbol tokens weigh 0 (every question ends in "?"; the BM25 baseline counts words only). Terms
whose idf is below `minIdf` (about the 40% most common tokens: "the", "of", "what") get weight 0 in the table:
they change recall@1 by less than 0.005 on validation but make up most of the inverted index's entries.

The same terms can bound what the reader writes ("answerVocabulary"). Reading a memory, the reader garbles word
pieces that the memory tokens do not pin down (a validation paragraph's "waste heat" came out "waste husband"):
the compressor's 48 numbers per token keep the identity of rare pieces of unseen text only approximately. With
"memory-terms", greedy decoding takes only ids that the memories being read hold (the terms the memory bank
stores with each memory) or ids of idf 0 (specials, punctuation, the commonest words); closed book (no memory)
stays free. The choice between that and "all" is made here, on validation CMT top-1 F1, and so is maxAnswerTokens
with the memory's terms: an answer longer than the longest span the aggregator lays out (softPrompt - 1 tokens)
is a run-on (the reader, kept from a garbled piece, goes on to the token limit), and the cut is taken when it costs
no validation F1.

    /usr/bin/python3 -m training.lexical [models/cmt-bge-small-squad [target/backbone]]
Needs training/cache/features.pt (training/extract.py).
"""
import collections
import hashlib
import json
import os
import sys
import unicodedata

import numpy as np
import torch

from training.common import Features, answer, em_f1, encode, load_heads, recall_at
from training.wordpiece import WordPiece

SPECIAL = (0, 101, 102)
K1, B, MIN_IDF = 0.9, 0.4, 1.0
IDF_FILE = "lexical-idf.f32"
WEIGHTS = (0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04)


def punctuation_ids(tokenizer_json):
    """Ids of tokens made of punctuation and symbols only: a question's "?" says nothing about its paragraph."""
    vocab = json.load(open(tokenizer_json, encoding="utf-8"))["model"]["vocab"]
    text = lambda t: t[2:] if t.startswith("##") else t  # noqa: E731
    return [i for t, i in vocab.items()
            if text(t) and all(unicodedata.category(c)[0] in "PS" for c in text(t))]


def idf_table(feats, vocab, ignored=()):
    """(idf [vocab] with 0 for specials, `ignored` and common terms, average paragraph length) from the train
    paragraphs."""
    docs = [collections.Counter(t for t in p["ids"] if t not in SPECIAL) for p in feats.paras if p["split"] == "train"]
    n = len(docs)
    df = torch.zeros(vocab)
    for c in docs:
        df[list(c)] += 1
    idf = torch.log(1 + (n - df + 0.5) / (df + 0.5))
    idf[list(SPECIAL) + list(ignored)] = 0.0
    idf[idf < MIN_IDF] = 0.0
    return idf, sum(sum(c.values()) for c in docs) / n, n


def load_idf(model_dir, lexical):
    """The idf table a model.json's lexical section names."""
    return torch.from_numpy(np.fromfile(os.path.join(model_dir, lexical["idf"]), dtype="<f4").copy())


def document_weights(ids, idf, avg):
    """{term: weight} of one document's token ids: what the Java runtime stores with the memory."""
    tf = collections.Counter(t for t in ids if t not in SPECIAL)
    length = sum(tf.values())
    norm = K1 * (1 - B + B * length / avg)
    return {t: float(idf[t]) * n * (K1 + 1) / (n + norm) for t, n in sorted(tf.items()) if idf[t] > 0}


def query_terms(ids, idf):
    return sorted({t for t in ids if t not in SPECIAL and idf[t] > 0})


def lexical_scores(feats, P, Q, idf, avg):
    """BM25 [questions, paragraphs] as the memory bank computes it (before the query weight)."""
    W = torch.zeros(len(P), idf.numel())
    for r, i in enumerate(P):
        for t, w in document_weights(feats.paras[i]["ids"], idf, avg).items():
            W[r, t] = w
    QM = torch.zeros(len(Q), idf.numel())
    for r, i in enumerate(Q):
        QM[r, query_terms(feats.qs[i]["ids"], idf)] = 1.0
    return QM @ W.t()


def answer_vocabulary(idf, *documents):
    """[vocab] bool: the ids an answer may use when memories of these documents' token ids are read, their terms
    (the ids the memory bank stores with each memory) plus every id of idf 0 (specials, punctuation, the commonest
    words); what the Java runtime's AnswerVocabulary allows."""
    allowed = idf == 0
    for ids in documents:
        allowed[[t for t in set(ids) if idf[t] > 0]] = True
    return allowed


def memory_vocabulary(feats, P, idf):
    """[paragraphs, vocab] bool: `answer_vocabulary` of each paragraph's memory read alone."""
    return torch.stack([answer_vocabulary(idf, feats.paras[i]["ids"]) for i in P])


def choose_answer_vocabulary(feats, P, Q, match, dense, idf, heads, tok, max_tokens, span_tokens):
    """(answer vocabulary, most answer tokens, validation figures): answers from all ids, or only from the ids of
    the memories read, as CMT top-1 F1 on validation decides. An answer from the memory's terms that runs past the
    longest span the aggregator lays out (`span_tokens`, P - 1) has lost its way: when cutting it there costs no
    validation F1, maxAnswerTokens becomes that (a run-on answer is the slowest read of the query path)."""
    E, comp, agg, reader = heads
    pm, _ = encode(comp, E, feats, "p", P)
    qm, _ = encode(comp, E, feats, "q", Q)
    top = match.argmax(1)
    refs = [feats.qs[i]["answers"] for i in Q]
    inputs = (agg, reader, E, qm, pm[top][:, None], dense.gather(1, top[:, None]), torch.ones(len(Q), 1))
    terms = memory_vocabulary(feats, P, idf)[top]
    figures = {}
    for name, allowed, most in (("all", None, max_tokens), ("memory-terms", terms, max_tokens),
                                (f"memory-terms, at most {span_tokens} tokens", terms, span_tokens)):
        ids = answer(*inputs, most, allowed=allowed)
        em, f1 = em_f1([tok.decode(x) for x in ids], refs)
        figures[name] = {"EM": round(em, 2), "F1": round(f1, 2), "maxAnswerTokens": most,
                         "longestAnswer": max(len(x) for x in ids),
                         f"answersOver{span_tokens}Tokens": sum(len(x) > span_tokens for x in ids)}
        print(f"answer vocabulary {name:<30} validation CMT top-1 {figures[name]}", flush=True)
    if figures["all"]["F1"] >= figures["memory-terms"]["F1"]:
        return "all", max_tokens, figures
    capped = figures[f"memory-terms, at most {span_tokens} tokens"]
    return "memory-terms", span_tokens if capped["F1"] >= figures["memory-terms"]["F1"] else max_tokens, figures


def main(model_dir="models/cmt-bge-small-squad", backbone="target/backbone"):
    torch.set_num_threads(2)
    root = os.path.join(os.path.dirname(__file__), "..")
    path = os.path.join(model_dir, "model.json")
    info = json.load(open(path))
    feats = Features(os.path.join(root, "training", "cache", "features.pt"))
    punctuation = punctuation_ids(os.path.join(backbone, info["backbone"]["tokenizerResource"]))
    idf, avg, n = idf_table(feats, info["dims"]["vocab"], punctuation)

    heads = load_heads(model_dir, info)
    E, comp = heads[0], heads[1]
    P = [i for i, p in enumerate(feats.paras) if p["split"] == "validation"]
    Q = [i for i, q in enumerate(feats.qs) if q["split"] == "validation"]
    pos = {p: r for r, p in enumerate(P)}
    gold = torch.tensor([pos[feats.qs[q]["para"]] for q in Q])
    _, pk = encode(comp, E, feats, "p", P)
    _, qk = encode(comp, E, feats, "q", Q)
    dense, lexical = qk @ pk.t(), lexical_scores(feats, P, Q, idf, avg)
    sweep = {}
    for w in WEIGHTS:
        r = recall_at(dense + w * lexical, gold)
        sweep[str(w)] = {k: round(v, 4) for k, v in r.items()}
        print(f"queryWeight {w:<6} " + " ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)
    best = max(WEIGHTS, key=lambda w: (sweep[str(w)]["recall@1"], sweep[str(w)]["recall@5"], -w))
    print(f"chosen queryWeight {best} on validation ({len(Q)} questions, {len(P)} paragraphs)", flush=True)
    tok = WordPiece(os.path.join(backbone, info["backbone"]["tokenizerResource"]))
    trained_max = info["training"]["hyperparameters"]["max_answer"]      # train.py's, before any cut made here
    vocabulary, most, vocabulary_f1 = choose_answer_vocabulary(
        feats, P, Q, dense + best * lexical, dense, idf, heads, tok, trained_max, info["dims"]["softPrompt"] - 1)
    print(f"chosen answer vocabulary {vocabulary!r}, maxAnswerTokens {most} on validation", flush=True)
    info["maxAnswerTokens"] = most

    idf.numpy().astype("<f4").tofile(os.path.join(model_dir, IDF_FILE))
    info["lexical"] = {"kind": "bm25-wordpiece", "idf": IDF_FILE, "k1": K1, "b": B,
                       "averageLength": round(avg, 4), "queryWeight": best, "answerVocabulary": vocabulary}
    # Answers name the model version: matching changed, so the version does, though the weights did not.
    h = hashlib.sha256(idf.numpy().astype("<f4").tobytes())
    h.update(json.dumps(info["lexical"], sort_keys=True).encode())
    h.update(json.dumps({"maxAnswerTokens": info["maxAnswerTokens"]}).encode())
    info["version"] = info["version"].split("-lexical-")[0] + "-lexical-" + h.hexdigest()[:6]
    info.setdefault("training", {})["lexical"] = {
        "command": "/usr/bin/python3 -m training.lexical " + model_dir,
        "idfFrom": f"train split: {n} paragraphs; weight 0 for the special tokens, the {len(punctuation)} "
                   f"punctuation and symbol tokens and the "
                   f"{int((idf == 0).sum()) - len(SPECIAL) - len(punctuation)} most common terms (idf < {MIN_IDF})",
        "queryWeightChosenOn": f"validation split: {len(Q)} questions, {len(P)} paragraphs, recall@1",
        "validationRecallByQueryWeight": sweep,
        "answerVocabularyChosenOn": "validation split: CMT top-1 EM / F1 (the chosen queryWeight's matching, greedy "
                                    "decoding) with answers from all ids or from the memory's terms; from the "
                                    "memory's terms maxAnswerTokens is cut to the longest span the aggregator lays "
                                    "out (softPrompt - 1) when that costs no validation F1",
        "validationAnswersByVocabulary": vocabulary_f1,
    }
    with open(path, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(f"wrote {IDF_FILE} and the lexical section of {path}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
