package io.cmtstream.app;

import io.cmtstream.avro.Answer;
import io.cmtstream.client.CmtClient;
import io.cmtstream.model.ModelConfig;
import io.cmtstream.squad.SquadDataset;
import io.cmtstream.squad.SquadFiles;
import io.cmtstream.squad.SquadSplit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * The embedded default: an in-process Kafka broker (KRaft), a Flink MiniCluster with the RocksDB backend and the
 * web UI, the bundled model, and a stream of SQuAD test articles with their questions. Ends by itself with a
 * one-line summary. {@code --help} lists its flags and the job options ({@code --cmt.key value}).
 */
@Command(name = "EmbeddedMain", sortOptions = false,
        description = "The embedded default: in-process Kafka, a Flink MiniCluster and the bundled model; streams "
                + "SQuAD articles and their questions, prints answers and EM/F1, then exits.")
public final class EmbeddedMain implements Callable<Integer> {
    @Option(names = "--articles", paramLabel = "N", defaultValue = "2",
            description = "Articles of the split to stream (default: ${DEFAULT-VALUE}).")
    int articles;
    @Option(names = "--questions-per-article", paramLabel = "N", defaultValue = "20",
            description = "Questions asked per article (default: ${DEFAULT-VALUE}).")
    int questionsPerArticle;
    @Option(names = "--set", paramLabel = "NAME", defaultValue = "test",
            description = "Split of data/squad/split.json: train, validation or test (default: ${DEFAULT-VALUE}).")
    String set;
    @Option(names = "--timeout-seconds", paramLabel = "N", defaultValue = "600",
            description = "Longest wait for the answers (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;
    @Mixin
    SquadFiles data = new SquadFiles();
    @Mixin
    JobArgs job = new JobArgs();

    public static void main(String[] args) {
        // Exits the JVM either way: the MiniCluster and the broker leave threads behind.
        System.exit(Cli.execute(new EmbeddedMain(), args));
    }

    @Override
    public Integer call() throws Exception {
        SquadDataset all = SquadDataset.load(data.squad);
        List<String> titles = SquadSplit.load(data.split).titles(set);
        SquadDataset sample = all.select(titles.subList(0, Math.min(articles, titles.size())));

        System.out.println("cmt-stream embedded default: starting an in-process Kafka broker (KRaft) and a Flink "
                + "MiniCluster with RocksDB...");
        try (EmbeddedCluster cluster = EmbeddedCluster.start(job.settings(), true)) {
            ModelConfig model = cluster.model();
            System.out.printf("Kafka at %s; model %s (%s); Flink web UI: http://localhost:%s (job %s)%n",
                    cluster.bootstrapServers(), model.name(), model.hasReader()
                            ? "compressor, span reader" : "retrieval only",
                    cluster.restPort(), cluster.job());
            StreamingDemo.Result r;
            try (CmtClient client = cluster.client()) {
                r = new StreamingDemo(client, System.out, "demo").run(sample, questionsPerArticle,
                        Duration.ofSeconds(timeoutSeconds));
            }
            printSamples(sample, r);
            System.out.printf("SUMMARY: %d/%d questions answered over %d documents from %d '%s' articles in %.1f s: "
                            + "EM %.1f F1 %.1f, gold paragraph in evidence %d/%d (top-1 %d); model %s%n",
                    r.answered(), r.questions(), r.documents(), sample.articles().size(), set,
                    r.elapsed().toMillis() / 1000.0, r.score().exactMatch(), r.score().f1(), r.goldInEvidence(),
                    r.answered(), r.goldFirst(), model.name());
        }
        return 0;
    }

    private static void printSamples(SquadDataset sample, StreamingDemo.Result r) {
        int shown = 0;
        for (SquadDataset.Question q : sample.questions()) {
            Answer a = r.answers().get(q.id());
            if (a == null || shown >= 8) {
                continue;
            }
            shown++;
            System.out.printf("Q: %s%n   answer: %s [%s]  reference: %s  evidence: %s%n", q.question(),
                    a.getAnswer().isEmpty() ? "-" : a.getAnswer(), a.getStatus(), q.answers().get(0),
                    a.getEvidence().isEmpty() ? "-" : a.getEvidence().get(0).getDocId()
                            + (a.getEvidence().get(0).getDocId().equals(q.paragraphId()) ? " (gold)" : ""));
        }
    }
}
