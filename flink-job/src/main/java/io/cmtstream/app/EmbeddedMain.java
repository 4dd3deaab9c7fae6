package io.cmtstream.app;

import io.cmtstream.avro.Answer;
import io.cmtstream.client.CmtClient;
import io.cmtstream.eval.SquadDataset;
import io.cmtstream.eval.SquadSplit;
import io.cmtstream.model.ModelConfig;
import org.apache.flink.configuration.RestOptions;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The embedded default: an in-process Kafka broker (KRaft), a Flink MiniCluster with the RocksDB backend and the
 * web UI, the bundled model, and a stream of SQuAD test articles with their questions. Ends by itself with a
 * one-line summary.
 *
 * <p>Flags: {@code --articles N} (default 2), {@code --questions-per-article N} (default 20), {@code --set NAME}
 * (split, default test), {@code --timeout-seconds N} (default 600), plus any job option as {@code --cmt.key value}.
 */
public final class EmbeddedMain {
    private EmbeddedMain() {}

    public static void main(String[] args) throws Exception {
        Flags flags = Flags.parse(args, Map.of(
                "articles", "2", "questions-per-article", "20", "set", "test", "timeout-seconds", "600",
                "squad", "data/squad/squad-v1.1-dev-open.json", "split", "data/squad/split.json"));
        SquadDataset all = SquadDataset.load(Path.of(flags.get("squad")));
        SquadSplit split = SquadSplit.load(Path.of(flags.get("split")));
        List<String> titles = split.titles(flags.get("set"));
        SquadDataset sample = all.select(titles.subList(0, Math.min(flags.getInt("articles"),
                titles.size())));

        System.out.println("cmt-stream embedded default: starting an in-process Kafka broker (KRaft) and a Flink "
                + "MiniCluster with RocksDB...");
        try (EmbeddedCluster cluster = EmbeddedCluster.start(flags.jobOptions(), true)) {
            ModelConfig model = cluster.model();
            System.out.printf("Kafka at %s; model %s (%s); Flink web UI: http://localhost:%s (job %s)%n",
                    cluster.bootstrapServers(), model.name(), model.hasReader()
                            ? "compressor, span reader" : "retrieval only",
                    cluster.configuration().get(RestOptions.PORT), cluster.job().getJobID());
            StreamingDemo.Result r;
            try (CmtClient client = cluster.client()) {
                r = new StreamingDemo(client, System.out, "demo").run(sample,
                        flags.getInt("questions-per-article"),
                        Duration.ofSeconds(flags.getInt("timeout-seconds")));
            }
            printSamples(sample, r);
            System.out.printf("SUMMARY: %d/%d questions answered over %d documents from %d '%s' articles in %.1f s: "
                            + "EM %.1f F1 %.1f, gold paragraph in evidence %d/%d (top-1 %d); model %s%n",
                    r.answered(), r.questions(), r.documents(), sample.articles().size(), flags.get("set"),
                    r.elapsed().toMillis() / 1000.0, r.score().exactMatch(), r.score().f1(), r.goldInEvidence(),
                    r.answered(), r.goldFirst(), model.name());
        }
        System.exit(0);
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
