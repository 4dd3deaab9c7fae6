"""The late-interaction span reader (late_reader.py, contract cmt-model/4) on one random BERT layer: shapes and
masking, span decoding and detokenisation, the export's trace parity, and starting from an exported bundle."""
import json
import os
import random
import tempfile
import unittest

import torch

from training.late_reader import (NEG, LateReader, best_spans, bundle_weights, choose, holds, listed_order, span_text,
                                  stages, trace, window)

H, FFN = 384, 32            # trace() feeds 384-wide states, the backbone's width; one layer with a narrow FFN


def bert_layer_weights(seed, layers=1):
    """Random weights under the ONNX initializer names LateReader reads ([in, out] matrices)."""
    g = torch.Generator().manual_seed(seed)
    w = {}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, (din, dout) in {"attention.self.query": (H, H), "attention.self.key": (H, H),
                                  "attention.self.value": (H, H), "attention.output.dense": (H, H),
                                  "intermediate.dense": (H, FFN), "output.dense": (FFN, H)}.items():
            w[p + name + ".weight"] = torch.randn(din, dout, generator=g) / din ** 0.5
            w[p + name + ".bias"] = torch.randn(dout, generator=g) * 0.1
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + name + ".weight"] = 1 + 0.1 * torch.randn(H, generator=g)
            w[p + name + ".bias"] = 0.1 * torch.randn(H, generator=g)
    return w


def tiny_reader(seed=0):
    torch.manual_seed(seed)
    model = LateReader(bert_layer_weights(seed), 0, 1)
    torch.nn.init.normal_(model.span.weight, std=0.5)       # the real head starts near 0; spread the logits
    return model.eval()


class ReaderTest(unittest.TestCase):
    @torch.no_grad()
    def test_forward_shapes_and_masking(self):
        """[question; memory] states -> start and end logits [B, Lq + Lm] over the concatenated positions; every
        padded position gets NEG, and the real ones do not depend on what the padding holds."""
        model = tiny_reader()
        B, Lq, Lm = 2, 5, 9
        q, m = torch.randn(B, Lq, H), torch.randn(B, Lm, H)
        qm, mm = torch.ones(B, Lq), torch.ones(B, Lm)
        qm[0, 3:] = 0
        mm[1, 6:] = 0
        st, en = model(q, qm, m, mm)
        self.assertEqual(tuple(st.shape), (B, Lq + Lm))
        self.assertEqual(tuple(en.shape), (B, Lq + Lm))
        pad = torch.cat([qm, mm], 1) == 0
        self.assertTrue(bool((st[pad] < NEG / 2).all()) and bool((en[pad] < NEG / 2).all()))
        self.assertTrue(bool((st[~pad] > NEG / 2).all()))
        q2, m2 = q.clone(), m.clone()
        q2[0, 3:] = 100.0
        m2[1, 6:] = -100.0
        st2, _ = model(q2, qm, m2, mm)
        torch.testing.assert_close(st2[~pad], st[~pad], atol=1e-4, rtol=1e-4)

    def test_best_spans(self):
        """best_spans picks per row the highest start + end with start <= end < start + max_len among allowed
        positions, first of equals."""
        start = torch.tensor([[0.0, 5.0, 0.0, 0.0, 0.0, 0.0]])
        end = torch.tensor([[0.0, 0.0, 0.0, 4.0, 0.0, 3.5]])
        ok = torch.ones(1, 6, dtype=torch.bool)
        v, s, e = best_spans(start, end, ok, max_len=3)
        self.assertEqual((float(v), int(s), int(e)), (9.0, 1, 3))
        # the same logits with a span of at most 2 tokens: (1, 3) is out, (1, 1) and (1, 2) tie at 5, first wins
        v, s, e = best_spans(start, end, ok, max_len=2)
        self.assertEqual((float(v), int(s), int(e)), (5.0, 1, 1))
        # start 1 not allowed (as [CLS] is not): end 3 from start 2, the first allowed start that reaches it
        ok[0, 1] = False
        v, s, e = best_spans(start, end, ok, max_len=3)
        self.assertEqual((float(v), int(s), int(e)), (4.0, 2, 3))
        # rows are independent: a batch of 3 gives 3 answers
        v, s, e = best_spans(torch.randn(3, 8), torch.randn(3, 8), torch.ones(3, 8, dtype=torch.bool))
        self.assertEqual((v.shape, s.shape, e.shape), ((3,), (3,), (3,)))
        self.assertTrue(bool((s <= e).all()))

    def test_span_text(self):
        """A span's pieces are joined as the Java PieceText joins them: '##' pieces glue on, others get a space
        only where the text had one (the space flags), so 'cat,' keeps its comma."""
        vocab = {0: "[CLS]", 1: "the", 2: "un", 3: "##aff", 4: "##able", 5: "cat", 6: ",", 7: "[SEP]"}
        ids = [0, 1, 2, 3, 4, 5, 6, 7]
        space = [0, 1, 1, 0, 0, 1, 0, 0]
        self.assertEqual(span_text(vocab, ids, space, 1, 5), "the unaffable cat")
        self.assertEqual(span_text(vocab, ids, space, 2, 6), "unaffable cat,")
        self.assertEqual(span_text(vocab, ids, space, 3, 4), "affable")

    def test_window(self):
        """A training window has `width` positions inside the text and holds the answer span it must hold."""
        rng = random.Random(0)
        self.assertEqual(window(50, 128, rng, (3, 9)), (0, 50))
        for _ in range(200):
            n = rng.randint(30, 256)
            s = rng.randrange(0, n - 5)
            e = s + rng.randint(0, 4)
            a, b = window(n, 24, rng, (s, e))
            self.assertEqual(b - a, 24)
            self.assertTrue(0 <= a and b <= n and a <= s and e < b, (n, s, e, a, b))


class ExportTest(unittest.TestCase):
    def test_trace_parity(self):
        """trace() (what `late_reader.py export` writes) quantises the reader, traces it in the contract's form
        and checks it on other shapes; the saved and reloaded file, given its own weights(like), reads new inputs
        as the eager int8 module does."""
        model = tiny_reader(1)
        traced, worst = trace(model)
        self.assertLess(worst, 1e-3)
        with tempfile.TemporaryDirectory() as d:
            traced.save(os.path.join(d, "reader.pt"))
            loaded = torch.jit.load(os.path.join(d, "reader.pt"))
        g = torch.Generator().manual_seed(3)
        q, m = torch.randn(2, 11, H, generator=g), torch.randn(2, 23, H, generator=g)
        qm, mm = torch.ones(2, 11), torch.ones(2, 23)
        mm[0, 17:] = 0
        with torch.no_grad():
            want = model(q, qm, m, mm)
            got = loaded(q, qm, m, mm, loaded.weights(torch.zeros(1)))
        real = torch.cat([qm, mm], 1).bool()
        for a, b in zip(want, got):
            torch.testing.assert_close(b[real], a[real], atol=1e-4, rtol=1e-4)

    def test_bundle_weights_start_from_an_exported_reader(self):
        """--init-bundle: bundle_weights turns an exported reader.pt (int8 matrices, per-row scales) back into a
        complete float state dict for a fresh LateReader, which then reads exactly as the exported file does."""
        exported = tiny_reader(2)
        traced, _ = trace(exported)
        with tempfile.TemporaryDirectory() as d:
            traced.save(os.path.join(d, "reader.pt"))
            with open(os.path.join(d, "model.json"), "w") as f:
                json.dump({"files": {"reader": "reader.pt"}, "backbone": {"memoryLayer": 0}}, f)
            fresh = tiny_reader(5)                       # other random weights, float matrices
            state = bundle_weights(d, fresh)
        self.assertEqual(set(state), set(fresh.state_dict()))
        fresh.load_state_dict(state)                     # strict: nothing missing, nothing left over
        for name, lin in (("layers.0.q", exported.layers[0].q), ("layers.0.f2", exported.layers[0].f2)):
            torch.testing.assert_close(state[name + ".weight"], lin.wq.float() * lin.ws)
        g = torch.Generator().manual_seed(4)
        x = (torch.randn(1, 6, H, generator=g), torch.ones(1, 6), torch.randn(1, 14, H, generator=g), torch.ones(1, 14))
        with torch.no_grad():
            for a, b in zip(fresh.eval()(*x), traced(*x, traced.weights(torch.zeros(1)))):
                torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)

    def test_bundle_weights_into_a_lower_split(self):
        """A bundle whose reader starts at layer 1 seeds a reader starting at layer 0: the bundle's layer goes to
        backbone layer 1, layer 0 keeps the pretrained weights it was built with."""
        exported = LateReader(bert_layer_weights(3, layers=2), 1, 2)
        torch.nn.init.normal_(exported.span.weight, std=0.5)
        traced, _ = trace(exported.eval())
        with tempfile.TemporaryDirectory() as d:
            traced.save(os.path.join(d, "reader.pt"))
            with open(os.path.join(d, "model.json"), "w") as f:
                json.dump({"files": {"reader": "reader.pt"}, "backbone": {"memoryLayer": 1}}, f)
            lower = LateReader(bert_layer_weights(3, layers=2), 0, 2)
            pretrained = {k: v.clone() for k, v in lower.state_dict().items()}
            state = bundle_weights(d, lower)
            higher = LateReader(bert_layer_weights(3, layers=3), 2, 3)
            with self.assertRaises(ValueError):
                bundle_weights(d, higher)
        lower.load_state_dict(state)
        torch.testing.assert_close(state["layers.0.q.weight"], pretrained["layers.0.q.weight"])
        torch.testing.assert_close(state["layers.1.q.weight"], exported.layers[0].q.wq.float() * exported.layers[0].q.ws)
        torch.testing.assert_close(state["span.weight"], exported.span.weight)

    def test_listed_order_clamps_later_memories(self):
        """The gold read third: its match score is capped by the memories before it, and an equal total goes to
        the earlier memory, so the prior cannot lift it."""
        scores = {7: 0.5, 3: 0.6, 9: 0.9}
        self.assertEqual(listed_order([7, 3, 9], scores), {7: 0.5, 3: 0.5, 9: 0.5})
        self.assertEqual(listed_order([9, 3, 7], scores), {9: 0.9, 3: 0.6, 7: 0.5})
        reads = [{7: (1.0, "a"), 3: (1.0, "b"), 9: (1.0, "gold")}]
        self.assertEqual(choose(reads, [[7, 3, 9]], [scores], 10.0), ["gold"])
        self.assertEqual(choose(reads, [[7, 3, 9]], [listed_order([7, 3, 9], scores)], 10.0), ["a"])

    def test_holds_finds_an_answer_in_another_paragraph(self):
        self.assertTrue(holds([101, 5, 6, 7, 102], {(6, 7)}))
        self.assertTrue(holds([101, 5, 6, 7, 102], {(9,), (5,)}))
        self.assertFalse(holds([101, 5, 6, 7, 102], {(7, 6), (8,)}))
        self.assertFalse(holds([101, 5], {(5, 102)}))

    def test_stages_name_the_layers_each_one_tuned(self):
        """A later stage at a lower split (more layers tuned) follows its --init back to the earlier one."""
        with tempfile.TemporaryDirectory() as d:
            def ckpt(name, layers, init):
                path = os.path.join(d, name)
                torch.save({"model": {f"layers.{i}.w": torch.zeros(1) for i in range(layers)},
                            "args": {"lr": 1e-4, "init": init}, "step": 7}, path)
                return path
            first = ckpt("a.pt", 4, "")
            second = ckpt("b.pt", 6, first)
            got = stages(second)
        self.assertEqual([s["tuned_layers"] for s in got], ["8..11", "6..11"])
        self.assertEqual([s["steps"] for s in got], [7, 7])


if __name__ == "__main__":
    unittest.main()
