"""backbone.pt's script on a tiny random BERT: the same states as training/backbone.py's Bert, saved and loaded."""
import io
import unittest

import torch

from training.backbone import Bert
from training.backbone_script import ScriptedBert, bert_names, sample_batch


def tiny(layers=3, hidden=24, vocab=30000, inner=48):
    torch.manual_seed(1)
    shapes = {"embeddings.word_embeddings.weight": [vocab, hidden],
              "embeddings.position_embeddings.weight": [64, hidden],
              "embeddings.token_type_embeddings.weight": [2, hidden]}
    weights = {}
    for name in bert_names(layers):
        if name in shapes:
            shape = shapes[name]
        elif "intermediate.dense.weight" in name:
            shape = [hidden, inner]
        elif "intermediate.dense.bias" in name:
            shape = [inner]
        elif name.endswith("output.dense.weight") and "attention" not in name:
            shape = [inner, hidden]
        elif name.endswith(".weight") and "LayerNorm" not in name:
            shape = [hidden, hidden]
        else:
            shape = [hidden]
        weights[name] = torch.randn(shape) * 0.3 + (1.0 if "LayerNorm.weight" in name else 0.0)
    return weights


class ScriptedBertTest(unittest.TestCase):

    def test_script_gives_berts_last_and_memory_layer_states(self):
        layers, hidden = 3, 24
        w = tiny(layers, hidden)
        names = bert_names(layers)
        module = torch.jit.script(ScriptedBert(names, [list(w[n].shape) for n in names], layers, 12, hidden))
        buffer = io.BytesIO()
        torch.jit.save(module, buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
        self.assertEqual(names, loaded.weight_names())
        self.assertEqual([list(w[n].shape) for n in names], loaded.weight_shapes())

        bert = Bert.__new__(Bert)
        torch.nn.Module.__init__(bert)
        bert.w, bert.layers, bert.hidden, bert.heads = w, layers, hidden, 12
        ids, mask = sample_batch()
        real = mask[..., None].float()
        for memory_layer in range(layers):
            want_memory, want_last = bert(ids, mask, split=memory_layer)
            last, memory = loaded(ids, mask, [w[n] for n in names], memory_layer)
            self.assertLess(float(((last - want_last).abs() * real).max()), 1e-5)
            self.assertLess(float(((memory - want_memory).abs() * real).max()), 1e-5)
        last, memory = loaded(ids, mask, [w[n] for n in names], layers)
        self.assertTrue(torch.equal(last, memory))


if __name__ == "__main__":
    unittest.main()
