"""The package's shape: one import root, no path hacks, no import cycles, and train.sh calls modules that exist."""
import ast
import importlib
import importlib.util
import pathlib
import re
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "training"


def modules():
    """{dotted name: path} of every module of the package (a package's __init__.py under the package's name)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name, path, known):
    """The package modules that `name` imports, anywhere in the file (imports inside functions count too: they
    run, only later), resolved to dotted names (bare sibling names too, as a sys.path hack would resolve them);
    plus the packages above it, which Python runs first."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]      # `from pkg import module` too
        else:
            continue
        for t in targets:
            if here and f"{here}.{t}" in known:     # a bare sibling name (`from common import x`, via sys.path)
                t = f"{here}.{t}"
            parts = t.split(".")
            for i in range(1, len(parts) + 1):      # `import training.a.b` runs training, training.a, training.a.b
                prefix = ".".join(parts[:i])
                if prefix in known:
                    out.add(prefix)
    parts = name.split(".")
    out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    out.discard(name)
    return out


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = "done"
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def path_problems(source, siblings):
    """Lines of `source` that touch sys.path or import a package module by its bare name (`from common import x`),
    which works only with training/ itself on the path."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "path" and \
                isinstance(node.value, ast.Name) and node.value.id == "sys":
            out.append((node.lineno, "sys.path"))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] in siblings)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module.split(".")[0] in siblings:
            out.append((node.lineno, node.module))
    return sorted(out)


class PackageTest(unittest.TestCase):
    def setUp(self):
        self.modules = modules()
        self.graph = {n: imports(n, p, self.modules) for n, p in self.modules.items()}

    def test_no_import_cycle(self):
        """No module imports a module that, directly or through others, imports it back: the whole package, tests
        and analyses included, with no allow-list."""
        self.assertIsNone(find_cycle(self.graph))

    def test_the_cycle_check_sees_imports_and_cycles(self):
        """The graph above holds the imports that are there (top-level, inside functions, of parent packages),
        and find_cycle finds a cycle where there is one, so the pass above means something."""
        g = self.graph
        self.assertIn("training.span_stage", g["training.train"])
        self.assertIn("training.late_reader", g["training.late_fixture"])
        self.assertIn("training.lexical", g["training.late_reader"])         # imported inside match_scores
        self.assertIn("training.bundle", g["training.analysis.key_mixture"])
        self.assertIn("training.analysis", g["training.analysis.key_mixture"])
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}), ["a", "b", "c", "a"])
        self.assertIsNone(find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}))

    def test_shared_modules_import_no_pipeline_step(self):
        """The shared modules import only each other, so a step can use them without pulling in another step."""
        shared = {"training", "training.backbone", "training.wordpiece", "training.model", "training.common",
                  "training.bundle"}
        for name in shared:
            self.assertLessEqual(self.graph[name], shared, name)

    def test_no_path_hacks_and_no_bare_sibling_imports(self):
        """No module touches sys.path, and every import of a package module names it from the package root
        (training.x), so the package imports the same way from any entry point started at the repository root."""
        siblings = {n.rpartition(".")[2] for n in self.modules} - {"training"}
        for name, path in self.modules.items():
            self.assertEqual(path_problems(path.read_text(encoding="utf-8"), siblings), [], str(path))
        old = "import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\nfrom common import em_f1\nimport model\n"
        self.assertEqual(path_problems(old, siblings), [(2, "sys.path"), (3, "common"), (4, "model")])

    def test_every_module_imports_without_running(self):
        """Every module imports (its dependencies resolve), and its top level makes no bare call: a step's work
        is in main(), behind `if __name__ == "__main__"`."""
        for name, path in self.modules.items():
            with self.subTest(module=name):
                importlib.import_module(name)
                for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
                    if isinstance(node, ast.Expr):
                        self.assertIsInstance(node.value, ast.Constant, f"{path}:{node.lineno}: a call at import")
                    elif isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                        self.assertIsInstance(node, ast.If, f"{path}:{node.lineno}")
                        self.assertIn("__name__", ast.unparse(node.test), f"{path}:{node.lineno}")

    def test_train_sh_runs_modules_of_the_package(self):
        """Every Python call in train.sh is `$PY -m training.<module>` of a module that exists and has a main(),
        and train.sh sets no PYTHONPATH."""
        text = (PACKAGE / "train.sh").read_text(encoding="utf-8")
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        self.assertNotIn("PYTHONPATH", code)
        calls = re.findall(r"\$PY\b\s+(\S+)\s+(\S+)", code)
        self.assertEqual(len(calls), len(re.findall(r"\$PY\b", code)))
        self.assertGreaterEqual(len(calls), 6)
        for flag, module in calls:
            self.assertEqual(flag, "-m", module)
            self.assertTrue(module.startswith("training."), module)
            self.assertIsNotNone(importlib.util.find_spec(module), module)
            self.assertTrue(callable(getattr(importlib.import_module(module), "main", None)), module)


if __name__ == "__main__":
    unittest.main()
