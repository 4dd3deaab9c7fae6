"""The model's speed on a GPU (or the CPU), measured on the bundle's TorchScript files, without Java.

A GPU machine lent to this project has PyTorch but no Java runtime and no network, and takes at most 64 MiB of
files that git does not track; the backbone's 133 MB ONNX file cannot go there. So, in two steps:

    # here, where the ONNX file is (target/backbone, see training/train.sh): bge-small's weights for backbone.pt,
    # fp16, without the word embeddings (the bundle's embeddings.pt has them), about 43 MB
    /usr/bin/python3 -m training.gpu_bench pack

    # there (or here): documents/s and per-question latency, on cuda when there is one, in under 5 minutes
    python3 -m training.gpu_bench run [--device cuda|cpu] [--json OUT]

`run` loads the bundle's backbone.pt (fed with the packed weights, as float32), compressor.pt, reader.pt and
embeddings.pt as the Java runtime does (docs/MODEL-CONTRACT.md) and times:
  * documents/s: a batch of documents of --doc-tokens tokens (random word pieces) through the backbone and the
    compressor, the memory-layer states and keys copied back to the host (what compressing a document costs the
    job's model runtime, without tokenising and int8-quantising, which the job does in Java); and through the
    backbone alone;
  * per-question latency: one question of --question-tokens tokens through the backbone and the compressor (its
    key and states), then read with k memories of --memory-tokens tokens by reader.pt, for each k of --ks; the
    start/end logits copied back to the host. p50 and p99 over the calls. Also without the compressor (the key is
    not needed to read), so that a compressor that fails on the device still leaves the rest measured.
A part that fails is reported under "failures" (exit status 1), the others are still measured. Before timing, each
file's code is searched for tensors made on a device fixed at trace time ("bakedCpuDevices"), which fail on cuda; a
compressor.pt with such tensors is re-traced in memory, weights unchanged (training/retrace_compressor.py; the
report says so), unless --compressor-as-is.
The weights differ from the job's in two ways that do not change the work done: the layers are fp16 upcast to
float32, and the word embeddings are embeddings.pt's int8 de-quantised rows. Uses only PyTorch (1.13 or later).
"""
import argparse
import json
import math
import os
import re
import sys
import time

import torch

PACKED = "target/gpu-bench/backbone-fp16.pt"
MODEL = "models/cmt-bge-small-squad"


def pack(args):
    """Writes the backbone's weights in the script's input order, fp16, the word embeddings left out."""
    import onnx
    from onnx import numpy_helper
    script = torch.jit.load(os.path.join(args.model, "backbone.pt"))
    names = list(script.weight_names())
    init = {i.name: i for i in onnx.load(args.onnx).graph.initializer}
    weights = {}
    for n in names[1:]:
        weights[n] = torch.from_numpy(numpy_helper.to_array(init[n]).copy()).half()
    os.makedirs(os.path.dirname(args.packed) or ".", exist_ok=True)
    torch.save({"names": names, "weights": weights, "from": os.path.basename(args.onnx)}, args.packed)
    print(f"wrote {args.packed} ({os.path.getsize(args.packed) / 2**20:.1f} MiB, {len(weights)} weights; "
          f"{names[0]} comes from embeddings.pt)")


def baked_cpu_devices(module):
    """Lines of a TorchScript file's methods that make tensors on a device fixed at trace time: on another device
    they meet tensors of the inputs' device and fail."""
    found = []
    for name in ("forward", "weights"):
        if hasattr(module, name):
            for line in getattr(module, name).code.split("\n"):
                if 'torch.device("cpu")' in line:
                    found.append(name + ": " + re.sub(r"\s+", " ", line.strip())[:140])
    return found


class Model:
    """The bundle's files on one device, called as the Java runtime calls them."""

    def __init__(self, model_dir, packed, device, compressor_as_is):
        self.device = device
        load = lambda n: torch.jit.load(os.path.join(model_dir, n + ".pt"), map_location=device)  # noqa: E731
        with open(os.path.join(model_dir, "model.json")) as f:
            info = json.load(f)
        self.memory_layer = info["backbone"]["memoryLayer"]
        like = torch.zeros(1, device=device)
        self.backbone = load("backbone")
        self.compressor = load("compressor")
        self.reader = load("reader")
        self.baked = {n: baked_cpu_devices(m) for n, m in
                      (("backbone", self.backbone), ("compressor", self.compressor), ("reader", self.reader))}
        self.emb = load("embeddings")(like)
        self.compressor_retraced = False
        if self.baked["compressor"] and device.type != "cpu" and not compressor_as_is:
            # the same function traced again without the pinned tensors (training/retrace_compressor.py)
            from training.retrace_compressor import retrace
            cpu = lambda n: torch.jit.load(os.path.join(model_dir, n + ".pt"))  # noqa: E731
            self.compressor = retrace(cpu("compressor"), cpu("embeddings")(torch.zeros(1))).to(device)
            self.compressor_retraced = True
        self.wc = self.compressor.weights(like)
        self.wr = self.reader.weights(like)
        stored = torch.load(packed, map_location="cpu")
        names = list(self.backbone.weight_names())
        if stored["names"] != names:
            raise SystemExit(f"{packed} was packed for another backbone.pt; run `pack` again")
        self.weights = [self.emb] + [stored["weights"][n].float().to(device) for n in names[1:]]
        for n, w, shape in zip(names, self.weights, self.backbone.weight_shapes()):
            if list(w.shape) != list(shape):
                raise SystemExit(f"weight {n} is {list(w.shape)}, backbone.pt takes {shape}")

    def encode(self, ids, mask):
        """(memory-layer states, key): the backbone and the compressor."""
        last, memory = self.backbone(ids, mask, self.weights, self.memory_layer)
        _, key = self.compressor(last, ids, mask.float(), self.emb, self.wc)
        return memory, key

    def read(self, q, m):
        """Start and end logits of question states q [1, Lq, H] read with each of the memories m [k, Lm, H]."""
        k = m.shape[0]
        qq = q.expand(k, -1, -1)
        qmask = torch.ones(qq.shape[:2], device=self.device)
        mmask = torch.ones(m.shape[:2], device=self.device)
        return self.reader(qq, qmask, m, mmask, self.wr)


def texts(batch, length, device, generator):
    ids = torch.randint(1000, 29000, (batch, length), generator=generator)
    ids[:, 0], ids[:, -1] = 101, 102
    return ids.to(device), torch.ones(batch, length, dtype=torch.int64, device=device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(call, device, seconds, max_calls, warmup=2):
    """Wall seconds of each call (after `warmup` untimed ones), until `seconds` or `max_calls` have passed."""
    for _ in range(warmup):
        call()
    sync(device)
    times = []
    started = time.perf_counter()
    while len(times) < max_calls and (time.perf_counter() - started < seconds or len(times) < 3):
        t0 = time.perf_counter()
        call()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def run(args):
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = Model(args.model, args.packed, device, args.compressor_as_is)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    report = {"device": name, "torch": torch.__version__, "precision": "float32",
              "loadSeconds": round(time.perf_counter() - started, 1), "bakedCpuDevices": model.baked,
              "compressorRetracedInMemory": model.compressor_retraced}
    for n, lines in model.baked.items():
        for line in lines:
            print(f"warning: {n}.pt makes tensors on a device fixed at trace time: {line}")
    g = torch.Generator().manual_seed(20261202)
    failures = {}

    with torch.no_grad():
        batch = args.doc_batch or (64 if device.type == "cuda" else 8)
        ids, mask = texts(batch, args.doc_tokens, device, g)

        def backbone():
            last, memory = model.backbone(ids, mask, model.weights, model.memory_layer)
            last.cpu(), memory.cpu()

        def documents():
            memory, key = model.encode(ids, mask)
            memory.cpu(), key.cpu()

        report["documents"] = {"batch": batch, "tokens": args.doc_tokens}
        for part, call in (("backbone", backbone), ("backbone+compressor", documents)):
            try:
                times = timed(call, device, args.seconds / 2, args.max_calls)
                report["documents"][part] = {"calls": len(times),
                                             "secondsPerBatchP50": round(percentile(times, 50), 4),
                                             "documentsPerSecond": round(batch * len(times) / sum(times), 1)}
            except RuntimeError as e:
                failures[f"documents {part}"] = str(e).strip().split("\n")[-1][:300]

        memories = torch.randn(max(args.ks), args.memory_tokens, 384, generator=g).to(device)
        q_ids, q_mask = texts(1, args.question_tokens, device, g)
        report["questions"] = {"tokens": args.question_tokens, "memoryTokens": args.memory_tokens}
        for k in args.ks:
            def read(states):
                start, end = model.read(states, memories[:k])
                start.cpu(), end.cpu()

            def question():
                states, key = model.encode(q_ids, q_mask)
                key.cpu()
                read(states)

            def without_key():
                read(model.backbone(q_ids, q_mask, model.weights, model.memory_layer)[1])

            for part, call in ((f"k{k}", question), (f"k{k} backbone+reader", without_key)):
                try:
                    times = timed(call, device, args.seconds / 4, args.max_calls * 10)
                    report["questions"][part] = {"calls": len(times),
                                                 "p50Millis": round(1000 * percentile(times, 50), 2),
                                                 "p99Millis": round(1000 * percentile(times, 99), 2)}
                except RuntimeError as e:
                    failures[f"questions {part}"] = str(e).strip().split("\n")[-1][:300]
    if failures:
        report["failures"] = failures
    report["totalSeconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 1 if failures else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("pack", help="write the backbone's weights for `run` (needs python3-onnx and the ONNX file)")
    p.add_argument("--onnx", default="target/backbone/bge-small-en-v1.5.onnx")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--packed", default=PACKED)
    r = sub.add_parser("run", help="time the model (PyTorch only)")
    r.add_argument("--model", default=MODEL)
    r.add_argument("--packed", default=PACKED)
    r.add_argument("--device", default="auto", help="auto (cuda when available), cuda, cuda:N or cpu")
    r.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    r.add_argument("--doc-batch", type=int, default=0, help="documents per call (0: 64 on cuda, 8 on the CPU)")
    r.add_argument("--doc-tokens", type=int, default=256)
    r.add_argument("--question-tokens", type=int, default=16)
    r.add_argument("--memory-tokens", type=int, default=152, help="the bundle's average paragraph: 152 tokens")
    r.add_argument("--ks", type=lambda s: [int(k) for k in s.split(",")], default=[1, 3])
    r.add_argument("--seconds", type=float, default=40.0,
                   help="time spent timing documents (half with, half without the compressor), and each k")
    r.add_argument("--max-calls", type=int, default=200)
    r.add_argument("--compressor-as-is", action="store_true",
                   help="time compressor.pt as it is even where it pins tensors to the CPU (by default it is then "
                        "re-traced in memory on a GPU, weights unchanged: training/retrace_compressor.py)")
    r.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    if args.mode == "pack":
        pack(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
