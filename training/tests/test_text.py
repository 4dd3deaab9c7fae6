"""Text-side pieces on known strings and a tiny vocabulary: the SQuAD metric, answer targets, the WordPiece
tokenizer, the space flags and per-token int8 storage of late_extract.py, and the lexical half's BM25 weights."""
import json
import math
import os
import tempfile
import unittest

import torch

from training.common import em_f1, find_span, locate_span, normalize_answer, pick_answer, recall_at
from training.late_extract import encode_with_spaces, quantize_tokens
from training.lexical import B, K1, answer_vocabulary, document_weights, query_terms
from training.wordpiece import WordPiece

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", ",", "hello", "world", "cafe", "the", "."]


def tiny_tokenizer(directory):
    """A tokenizer.json in the backbone's format with the 13 pieces of VOCAB."""
    path = os.path.join(directory, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"model": {"vocab": {p: i for i, p in enumerate(VOCAB)}, "unk_token": "[UNK]",
                             "continuing_subword_prefix": "##", "max_input_chars_per_word": 100},
                   "added_tokens": [{"id": i, "content": VOCAB[i], "special": True} for i in range(4)]}, f)
    return WordPiece(path)


class MetricTest(unittest.TestCase):
    def test_normalize_answer(self):
        """The official normalisation: lower case, no punctuation, no articles, single spaces."""
        self.assertEqual(normalize_answer("The  Cat, an apple!"), "cat apple")
        self.assertEqual(normalize_answer("Theatre"), "theatre")             # 'the' only as a word

    def test_em_f1(self):
        """EM and F1 in percent, each question scored against its best reference: an exact match after
        normalisation, a partial overlap (P 1, R 1/2, F1 2/3) and a miss."""
        preds = ["The cat!", "dog", "nothing"]
        refs = [["a cat", "cats"], ["a dog barked", "puppy"], ["something"]]
        em, f1 = em_f1(preds, refs)
        self.assertAlmostEqual(em, 100.0 / 3)
        self.assertAlmostEqual(f1, 100.0 * (1 + 2 / 3) / 3)

    def test_recall_at(self):
        """recall@k counts a question when fewer than k paragraphs score strictly above its gold one."""
        scores = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.5], [0.7, 0.3, 0.1]])
        r = recall_at(scores, torch.tensor([0, 2, 1]), ks=(1, 2))
        self.assertAlmostEqual(r["recall@1"], 1 / 3)
        self.assertAlmostEqual(r["recall@2"], 1.0)


class AnswerTargetTest(unittest.TestCase):
    def test_pick_answer(self):
        """The training target is the reference given most often once normalised (ties: the shorter), as first
        written."""
        self.assertEqual(pick_answer(["Denver Broncos", "the Denver Broncos", "Broncos"]), "Denver Broncos")
        self.assertEqual(pick_answer(["Carolina Panthers", "Panthers"]), "Panthers")

    def test_locate_span(self):
        """An answer's tokens are found after [CLS]; the span is kept only when the aggregator can name it (at
        most max_len tokens, inside the memory's grid)."""
        para = [101, 7, 8, 9, 7, 8, 102]
        self.assertEqual(find_span(para, [7, 8]), 1)                         # the first occurrence
        self.assertEqual(find_span(para, [8, 9]), 2)
        self.assertEqual(find_span(para, [101, 7]), -1)                      # never the [CLS] position
        self.assertEqual(find_span(para, [8, 102]), -1)                      # nor the [SEP] one
        self.assertEqual(locate_span(para, [9, 7], 3, 8), (3, 2))
        self.assertIsNone(locate_span(para, [7, 8, 9], 2, 8))               # longer than max_len
        self.assertIsNone(locate_span(para, [9, 7], 3, 4))                  # ends past the grid
        self.assertIsNone(locate_span(para, [5], 3, 8))                     # not in the paragraph
        self.assertIsNone(locate_span(para, [], 3, 8))


class TokenizerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.tok = tiny_tokenizer(cls.dir.name)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_tokenize_encode_decode(self):
        """Lower case, accents stripped, punctuation split off, greedy longest-match pieces with '##', [UNK]
        for a word with no pieces; encode adds [CLS] / [SEP] and truncates; decode drops specials and glues."""
        v = {p: i for i, p in enumerate(VOCAB)}
        ids = self.tok.tokenize("Unaffable, HELLO  Café world!")
        self.assertEqual(ids, [v["un"], v["##aff"], v["##able"], v[","], v["hello"], v["cafe"], v["world"],
                               v["[UNK]"]])
        self.assertEqual(self.tok.encode("Unaffable, HELLO", 4), [v["[CLS]"], v["un"], v["##aff"], v["[SEP]"]])
        self.assertEqual(self.tok.decode([v["[CLS]"], v["un"], v["##aff"], v["##able"], v[","], v["hello"],
                                          v["."], v["[SEP]"]]), "unaffable, hello.")

    def test_space_flags(self):
        """encode_with_spaces gives the ids of encode and flags the first piece of each whitespace chunk (what
        span_text and the Java Pieces use to put spaces back)."""
        text = "Unaffable, hello\tworld"
        ids, space = encode_with_spaces(self.tok, text, 64)
        self.assertEqual(ids, self.tok.encode(text, 64))
        self.assertEqual(space, [0, 1, 0, 0, 0, 1, 1, 0])
        ids, space = encode_with_spaces(self.tok, text, 4)                 # truncated as encode truncates
        self.assertEqual((ids, space), (self.tok.encode(text, 4), [0, 1, 0, 0]))


class StorageTest(unittest.TestCase):
    def test_quantize_tokens(self):
        """A memory's states are stored int8 with one scale per token; de-quantised they are within half a step
        of the float states."""
        torch.manual_seed(0)
        h = torch.randn(9, 16) * torch.linspace(0.1, 5, 9)[:, None]
        q, s = quantize_tokens(h)
        self.assertEqual((q.dtype, tuple(q.shape), tuple(s.shape)), (torch.int8, (9, 16), (9,)))
        self.assertTrue(bool(((q.float() * s[:, None] - h).abs() <= s[:, None] / 2 + 1e-6).all()))
        self.assertTrue(bool((q.abs().amax(1) == 127).all()))


class LexicalTest(unittest.TestCase):
    def test_bm25_weights(self):
        """A document's term weights are BM25 of its own ids (specials and idf-0 terms left out, as the Java
        LexicalWeighting does); a question's terms are its distinct ids of positive idf; the answer vocabulary
        is the documents' terms plus every id of idf 0."""
        idf = torch.tensor([0.0, 0.0, 2.0, 1.5, 0.0, 3.0] + [0.0] * 97)
        idf[101] = idf[102] = 0.0
        doc = [101, 2, 2, 3, 4, 102]
        w = document_weights(doc, idf, avg=5.0)
        length = 4                                                           # 2, 2, 3, 4: specials not counted
        norm = K1 * (1 - B + B * length / 5.0)
        self.assertEqual(list(w), [2, 3])
        self.assertAlmostEqual(w[2], 2.0 * 2 * (K1 + 1) / (2 + norm), places=6)
        self.assertAlmostEqual(w[3], 1.5 * 1 * (K1 + 1) / (1 + norm), places=6)
        self.assertEqual(query_terms([101, 5, 3, 5, 4, 102], idf), [3, 5])
        allowed = answer_vocabulary(idf, doc)
        self.assertTrue(bool(allowed[[2, 3, 0, 4, 101]].all()))
        self.assertFalse(bool(allowed[5]))                                   # a term of no read memory
        self.assertFalse(math.isnan(sum(w.values())))


if __name__ == "__main__":
    unittest.main()
