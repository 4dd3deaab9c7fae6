"""Splits the SQuAD articles into train / validation / test by article (never by question).

The split is drawn once with a fixed seed and written to data/squad/split.json; every training,
evaluation and benchmark program reads that file so no figure is ever measured on training articles.
"""
import json
import random
import sys

SEED = 20261125
N_TEST, N_VALIDATION = 6, 4


def main(squad_path="data/squad/squad-v1.1-dev-open.json", out_path="data/squad/split.json"):
    with open(squad_path, encoding="utf-8") as f:
        titles = sorted(a["title"] for a in json.load(f)["data"])
    random.Random(SEED).shuffle(titles)
    split = {
        "seed": SEED,
        "source": squad_path,
        "test": sorted(titles[:N_TEST]),
        "validation": sorted(titles[N_TEST:N_TEST + N_VALIDATION]),
        "train": sorted(titles[N_TEST + N_VALIDATION:]),
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(split, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
