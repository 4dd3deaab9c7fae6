package io.cmtstream.eval;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Command-line options of {@link ModelEvaluation}, each {@code --name value} (or {@code --name=value}).
 *
 * <p>Invariants: {@code k >= 1}, {@code limit >= 0} (0 = every question of the set); an unknown option or a
 * missing value fails parsing with the option's name. Immutable.
 *
 * @param squad the SQuAD v1.1 JSON file
 * @param split the by-article split file
 * @param set the split whose articles are evaluated (e.g. test)
 * @param model the CMT model directory
 * @param untunedModel optional retrieval-only model directory: the untuned backbone's [CLS] keys as a baseline
 * @param k how many memories CMT top-k gives the reader
 * @param limit evaluate only this many questions, spread evenly over the set (0 = all)
 * @param out directory for report.md and the predictions files
 * @param device where the model runs: auto, cpu or gpu (as the model runtime's ModelSpec)
 */
public record EvaluationOptions(
        Path squad,
        Path split,
        String set,
        Path model,
        Optional<Path> untunedModel,
        int k,
        int limit,
        Path out,
        String device) {

    public EvaluationOptions {
        if (k < 1) {
            throw new IllegalArgumentException("--k must be >= 1, was " + k);
        }
        if (limit < 0) {
            throw new IllegalArgumentException("--limit must be >= 0, was " + limit);
        }
    }

    public static final String USAGE = """
            usage: ModelEvaluation [--squad data/squad/squad-v1.1-dev-open.json] [--split data/squad/split.json]
                                   [--set test] [--model models/cmt-bge-small-squad] [--untuned-model DIR]
                                   [--k 5] [--limit N] [--out docs/eval] [--device auto|cpu|gpu]""";

    /** Parses the arguments over the defaults shown in {@link #USAGE}. */
    public static EvaluationOptions parse(String... args) {
        Path squad = Path.of("data/squad/squad-v1.1-dev-open.json");
        Path split = Path.of("data/squad/split.json");
        String set = "test";
        Path model = Path.of("models/cmt-bge-small-squad");
        Optional<Path> untuned = Optional.empty();
        int k = 5;
        int limit = 0;
        Path out = Path.of("docs/eval");
        String device = "auto";
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            String value;
            int equals = name.indexOf('=');
            if (equals > 0) {
                value = name.substring(equals + 1);
                name = name.substring(0, equals);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException("option " + name + " needs a value\n" + USAGE);
            }
            switch (name) {
                case "--squad" -> squad = Path.of(value);
                case "--split" -> split = Path.of(value);
                case "--set" -> set = value;
                case "--model" -> model = Path.of(value);
                case "--untuned-model" -> untuned = Optional.of(Path.of(value));
                case "--k" -> k = parseInt(name, value);
                case "--limit" -> limit = parseInt(name, value);
                case "--out" -> out = Path.of(value);
                case "--device" -> device = value;
                default -> throw new IllegalArgumentException("unknown option " + name + "\n" + USAGE);
            }
        }
        return new EvaluationOptions(squad, split, set, model, untuned, k, limit, out, device);
    }

    private static int parseInt(String name, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " needs an integer, got '" + value + "'");
        }
    }
}
