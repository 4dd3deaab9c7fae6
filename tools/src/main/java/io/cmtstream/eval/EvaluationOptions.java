package io.cmtstream.eval;

import io.cmtstream.app.Cli;
import io.cmtstream.squad.SquadFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Command-line options of {@link ModelEvaluation}, each {@code --name value} (or {@code --name=value}), parsed by
 * picocli ({@code --help} lists them).
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

    /** The command line of {@link ModelEvaluation}; {@code --help} lists it. */
    @Command(name = "ModelEvaluation", sortOptions = false,
            description = "The model alone (no Kafka, no Flink): retrieval recall and EM/F1 of closed book, CMT, "
                    + "oracle and BM25 on a split; writes report.md and the predictions to --out.")
    static final class Args {
        @Mixin
        SquadFiles data = new SquadFiles();
        @Option(names = "--set", paramLabel = "NAME", defaultValue = "test",
                description = "The split whose articles are evaluated (default: ${DEFAULT-VALUE}).")
        String set;
        @Option(names = "--model", paramLabel = "DIR", defaultValue = "models/cmt-bge-small-squad",
                description = "The CMT model directory (default: ${DEFAULT-VALUE}).")
        Path model;
        @Option(names = "--untuned-model", paramLabel = "DIR",
                description = "A retrieval-only model directory: the untuned backbone's keys as a baseline.")
        Path untunedModel;
        @Option(names = "--k", paramLabel = "K", defaultValue = "5",
                description = "Memories CMT top-k gives the reader (default: ${DEFAULT-VALUE}).")
        int k;
        @Option(names = "--limit", paramLabel = "N", defaultValue = "0",
                description = "Only this many questions, spread evenly over the set (0: all).")
        int limit;
        @Option(names = "--out", paramLabel = "DIR", defaultValue = "docs/eval",
                description = "Where report.md and the predictions go (default: ${DEFAULT-VALUE}).")
        Path out;
        @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto",
                description = "auto, cpu or gpu (default: ${DEFAULT-VALUE}).")
        String device;

        EvaluationOptions options() {
            return new EvaluationOptions(data.squad, data.split, set, model, Optional.ofNullable(untunedModel), k, limit, out,
                    device);
        }
    }

    /**
     * Parses the arguments over the defaults {@code --help} shows.
     *
     * @return empty when {@code --help} was asked (the usage is printed): nothing to run
     * @throws IllegalArgumentException naming the option at fault
     */
    public static Optional<EvaluationOptions> parseOrHelp(String... args) {
        Args a = new Args();
        return Cli.parse(a, args) ? Optional.of(a.options()) : Optional.empty();
    }

    /** As {@link #parseOrHelp}, for arguments that do not ask for help. */
    public static EvaluationOptions parse(String... args) {
        return parseOrHelp(args).orElseThrow(() -> new IllegalArgumentException("--help is not an evaluation"));
    }
}
