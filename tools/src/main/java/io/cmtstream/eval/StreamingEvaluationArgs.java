package io.cmtstream.eval;

import io.cmtstream.app.JobArgs;
import io.cmtstream.squad.SquadFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;

/** The command line of {@link StreamingEvaluation#main}; {@code --help} lists it. */
@Command(name = "StreamingEvaluation", sortOptions = false,
        description = "The paper's streaming QA protocol on the running job: streams the articles, asks their "
                + "questions, scores the answers; writes report.md and plots to --out. Exits 2 when answers "
                + "are missing.")
final class StreamingEvaluationArgs {
    @Option(names = "--set", paramLabel = "NAME", defaultValue = "test",
            description = "Split of --split whose articles are evaluated (default: ${DEFAULT-VALUE}).")
    String set;
    @Option(names = "--articles", paramLabel = "TITLE", split = ",",
            description = "These articles instead of a split (comma-separated titles).")
    List<String> articles = List.of();
    @Option(names = "--limit-articles", paramLabel = "N", defaultValue = "0",
            description = "Only the first N articles (0: all).")
    int limitArticles;
    @Option(names = "--questions-per-article", paramLabel = "N", defaultValue = "0",
            description = "Questions asked per article (0: all).")
    int questionsPerArticle;
    @Option(names = "--k", paramLabel = "K", defaultValue = "3",
            description = "Memories the reader reads per question (default: ${DEFAULT-VALUE}).")
    int k;
    @Option(names = "--out", paramLabel = "DIR", defaultValue = "target/eval",
            description = "Where report.md and the plots go (default: ${DEFAULT-VALUE}).")
    Path out;
    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Use the running job behind these brokers instead of an embedded one.")
    String bootstrapServers;
    @Option(names = "--timeout-seconds", paramLabel = "N", defaultValue = "3600",
            description = "Longest wait for the answers (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;
    @Mixin
    SquadFiles data = new SquadFiles();
    @Mixin
    JobArgs job = new JobArgs();
}
