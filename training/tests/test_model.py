"""The cmt-model/3 heads of model.py on a tiny random configuration: shapes, weight-only int8 quantisation, the
de-quantised weight vector, and TorchScript trace parity exactly as train.py's export traces and checks them."""
import io
import unittest

import torch

from training.bundle import LIKE, check_traces, trace_all
from training.model import (NEG, Aggregator, Compressor, Embeddings, QLinear, Reader, key_bias, quantize_all,
                            quantize_rows, token_grid)

# tiny widths; the vocabulary stays real-sized because trace_heads draws ids up to 30000
H, M, C, P, V = 48, 4, 4, 5, 30522


def tiny_heads(seed=0):
    torch.manual_seed(seed)
    comp = Compressor(d=H, m=M, c=C, vocab=V)
    agg = Aggregator(d=H, m=M, c=C, p=P, att=16, q_tokens=8)
    reader = Reader(d=H, heads=6, ffn=32, layers=1, p=P, vocab=V)
    # zero-initialised output matrices would hide any difference between eager and traced; make them random
    for m in (agg.co, reader.layers[0].o, reader.layers[0].b):
        m.weight.data.normal_(0, 0.1)
    emb = Embeddings(torch.randn(V, H))
    return comp, agg, reader, emb


def frozen(*mods):
    for m in mods:
        quantize_all(m)
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
    return mods


class ShapesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.comp, cls.agg, cls.reader, emb = tiny_heads()
        cls.E = emb(LIKE)

    @torch.no_grad()
    def test_compressor_memory_and_key(self):
        """hidden [B, L, H] -> memory [B, M, H] and an L2-normalised key [B, H]; slots past the text (and padded
        tokens) code to exact zeros, which is how key_bias tells them from the memory."""
        B, L = 2, 7
        h, ids, mask = torch.randn(B, L, H), torch.randint(0, V, (B, L)), torch.ones(B, L)
        mask[1, 3:] = 0
        mem, key = self.comp(h, ids, mask, self.E)
        self.assertEqual(tuple(mem.shape), (B, M, H))
        self.assertEqual(tuple(key.shape), (B, H))
        torch.testing.assert_close(key.norm(dim=-1), torch.ones(B))
        codes = mem.reshape(B, M * C, H // C)
        self.assertTrue(bool((codes[:, L:] == 0).all()))          # grid positions past the text
        self.assertTrue(bool((codes[1, 3:] == 0).all()))          # padded tokens of the second row
        self.assertTrue(bool((codes[0, :L].abs().sum(-1) > 0).all()))
        bias = key_bias(codes)
        self.assertEqual(tuple(bias.shape), (B, 1, 1, M * C))
        self.assertEqual(float(bias[0, 0, 0, L]), NEG)
        self.assertEqual(float(bias[0, 0, 0, 0]), 0.0)

    @torch.no_grad()
    def test_aggregator_prompt(self):
        """query [B, M, H] and k memories [B, k, M, H] -> a soft prompt [B, P, H], also in closed book (no memory
        present), and the span distribution it is built from sums to 1 over every span and the null option."""
        B, k = 3, 2
        q, mems, sc = torch.randn(B, M, H), torch.randn(B, k, M, H), torch.rand(B, k)
        for present in (torch.ones(B, k), torch.zeros(B, k)):
            prompt = self.agg(q, mems, sc, present)
            self.assertEqual(tuple(prompt.shape), (B, P, H))
            self.assertTrue(bool(torch.isfinite(prompt).all()))
        logp, v, qp = self.agg.spans(q, mems, sc, torch.ones(B, k))
        self.assertEqual(tuple(logp.shape), (B, k * M * C * (P - 1) + 1))
        torch.testing.assert_close(logp.exp().sum(1), torch.ones(B))
        self.assertEqual(tuple(v.shape), (B, k, M * C, H))
        # closed book: only the null option is left
        logp0, _, _ = self.agg.spans(q, mems, sc, torch.zeros(B, k))
        torch.testing.assert_close(logp0[:, -1].exp(), torch.ones(B))

    @torch.no_grad()
    def test_reader_forward_step_and_cache(self):
        """forward reads prompt + answer prefix -> next-token logits [B, V] and a cache [2*layers, B, heads, P+T,
        dh]; step adds one position; decoding with the cache gives the logits of reading the whole prefix."""
        B, T = 2, 4
        prompt, ans = torch.randn(B, P, H), torch.randint(1000, 5000, (B, T))
        full, cache = self.reader(prompt, ans, self.E)
        self.assertEqual(tuple(full.shape), (B, V))
        self.assertEqual(tuple(cache.shape), (2, B, 6, P + T, H // 6))
        logits, cache = self.reader(prompt, ans[:, :1], self.E)
        for t in range(1, T):
            logits, cache = self.reader.step(prompt, ans[:, t:t + 1], torch.tensor([t]), cache, self.E)
        self.assertEqual(tuple(cache.shape), (2, B, 6, P + T, H // 6))
        torch.testing.assert_close(logits, full, atol=1e-4, rtol=1e-4)
        among = torch.randint(0, V, (B, 9))
        some, _ = self.reader.forward_among(prompt, ans, among, self.E)
        torch.testing.assert_close(some, full.gather(1, among), atol=1e-4, rtol=1e-4)


class QuantisationTest(unittest.TestCase):
    def test_rows_round_trip(self):
        """quantize_rows keeps each row within half a step of its scale, maps each row's largest magnitude to
        +-127, and stores int8."""
        torch.manual_seed(1)
        w = torch.randn(7, 13) * torch.linspace(0.01, 3, 7)[:, None]
        q, s = quantize_rows(w)
        self.assertEqual(q.dtype, torch.int8)
        self.assertEqual(tuple(s.shape), (7, 1))
        back = q.float() * s
        self.assertTrue(bool(((back - w).abs() <= s / 2 + 1e-6).all()))
        self.assertTrue(bool((q.abs().amax(1) == 127).all()))

    @torch.no_grad()
    def test_qlinear_after_quantize(self):
        """A QLinear quantised for export computes with q * s in place of its float weight (and keeps no float
        copy), within the rounding of its rows."""
        torch.manual_seed(2)
        lin = QLinear(16, 8)
        x = torch.randn(5, 16)
        before = lin(x)
        lin.quantize()
        self.assertNotIn("weight", dict(lin.named_parameters()))
        torch.testing.assert_close(lin(x), x @ (lin.wq.float() * lin.ws).t() + lin.bias)
        step = (lin.ws.t() / 2 * x.abs().sum(1, keepdim=True))       # |x| . (s / 2) bounds the rounding
        self.assertTrue(bool(((lin(x) - before).abs() <= step + 1e-5).all()))

    @torch.no_grad()
    def test_given_weights_are_the_heads_own(self):
        """A head called with its own `weights(like)` vector (as the Java runtime calls it) gives exactly what it
        gives with its own matrices: the flat vector slices back into every QLinear in module order."""
        comp, agg, reader, emb = frozen(*tiny_heads(3))
        E = emb(LIKE)
        self.assertEqual(comp.weights(LIKE).numel(), comp.weights_size())
        h, ids, m = torch.randn(2, 6, H), torch.randint(0, V, (2, 6)), torch.ones(2, 6)
        for a, b in zip(comp(h, ids, m, E), comp(h, ids, m, E, comp.weights(LIKE))):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
        q, mems, sc, pr = torch.randn(2, M, H), torch.randn(2, 3, M, H), torch.rand(2, 3), torch.ones(2, 3)
        torch.testing.assert_close(agg(q, mems, sc, pr), agg(q, mems, sc, pr, agg.weights(LIKE)), atol=0, rtol=0)
        p, a = torch.randn(2, P, H), torch.randint(1000, 5000, (2, 3))
        torch.testing.assert_close(reader(p, a, E)[0], reader(p, a, E, reader.weights(LIKE))[0], atol=0, rtol=0)
        self.assertTrue(all(m.given is None for m in reader.qlinears()))      # unbound after the call


class TraceParityTest(unittest.TestCase):
    def test_traced_heads_match_eager(self):
        """Traced as train.py's export traces them (trace_all) and checked as it checks them (check_traces: other
        batch sizes, lengths and k than the tracing example, cached decoding against the whole prefix), the
        tiny heads agree with the eager ones within the export's bound, also after a save / load round trip."""
        comp, agg, reader, emb = frozen(*tiny_heads(4))
        te, tc, ta, tr = trace_all(comp, agg, reader, emb, M, P, H)
        E = te(LIKE)
        torch.testing.assert_close(E, emb(LIKE), atol=0, rtol=0)
        worst = check_traces(comp, agg, reader, tc, ta, tr, E, M, P, H)
        self.assertLess(worst, 1e-3)
        buf = io.BytesIO()
        torch.jit.save(tr, buf)
        buf.seek(0)
        loaded = torch.jit.load(buf)
        p, a = torch.randn(3, P, H), torch.randint(1000, 5000, (3, 5))
        with torch.no_grad():
            eager, _ = reader(p, a, E)
            traced, _ = loaded(p, a, E, loaded.weights(LIKE))
        torch.testing.assert_close(traced, eager, atol=1e-4, rtol=1e-4)

    def test_traced_compressor_makes_no_tensor_on_a_fixed_device(self):
        """A tensor made inside the trace (ones_like, arange) gets the tracing device as a constant and meets the
        inputs' device at run time: on a GPU that fails. The traced compressor makes none, and its memory grid
        still drops tokens past it."""
        comp, agg, reader, emb = frozen(*tiny_heads(5))
        _, tc, _, _ = trace_all(comp, agg, reader, emb, M, P, H)
        self.assertNotIn('torch.device("cpu")', tc.forward.code)
        self.assertNotIn('torch.device("cpu")', tc.weights.code)
        x = torch.randn(2, M * C + 3, H)
        mask = torch.ones(2, M * C + 3)
        grid = token_grid(x, mask, M * C)
        torch.testing.assert_close(grid, x[:, :M * C], atol=0, rtol=0)


if __name__ == "__main__":
    unittest.main()
