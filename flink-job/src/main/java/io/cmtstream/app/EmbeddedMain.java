package io.cmtstream.app;

import io.cmtstream.avro.Answer;
import io.cmtstream.client.CmtClient;
import io.cmtstream.eval.SquadDataset;
import io.cmtstream.eval.SquadSplit;
import io.cmtstream.model.ModelConfig;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.CommonClientConfigs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static io.cmtstream.app.CmtStreamOptions.*;

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
        Map<String, String> demoFlags = new LinkedHashMap<>(Map.of(
                "articles", "2", "questions-per-article", "20", "set", "test", "timeout-seconds", "600",
                "squad", "data/squad/squad-v1.1-dev-open.json", "split", "data/squad/split.json"));
        List<String> jobArgs = new ArrayList<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            String key = args[i].replaceFirst("^--", "");
            if (demoFlags.containsKey(key)) {
                demoFlags.put(key, args[i + 1]);
            } else {
                jobArgs.add(args[i]);
                jobArgs.add(args[i + 1]);
            }
        }

        SquadDataset all = SquadDataset.load(Path.of(demoFlags.get("squad")));
        SquadSplit split = SquadSplit.load(Path.of(demoFlags.get("split")));
        List<String> titles = split.titles(demoFlags.get("set"));
        SquadDataset sample = all.select(titles.subList(0, Math.min(Integer.parseInt(demoFlags.get("articles")),
                titles.size())));

        System.out.println("cmt-stream embedded default: starting an in-process Kafka broker (KRaft)...");
        try (EmbeddedKafka kafka = new EmbeddedKafka(2, DOCUMENTS_TOPIC.defaultValue(),
                QUERIES_TOPIC.defaultValue(), ANSWERS_TOPIC.defaultValue(), DEAD_LETTERS_TOPIC.defaultValue())) {
            Configuration conf = embeddedConfiguration(kafka.bootstrapServers(), jobArgs);
            ModelConfig model = StartupChecks.modelLoads(conf);
            System.out.printf("Kafka at %s; model %s (%s); starting Flink MiniCluster with RocksDB...%n",
                    kafka.bootstrapServers(), model.name(), model.hasReader() ? "compressor, aggregator, reader"
                            : "retrieval only");

            StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf);
            CmtStreamJob.build(env, conf);
            JobClient job = env.executeAsync(conf.get(JOB_NAME));
            System.out.printf("Flink web UI: http://localhost:%s (job %s)%n", conf.get(RestOptions.PORT),
                    job.getJobID());

            Properties clientProps = new Properties();
            clientProps.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
            StreamingDemo.Result r;
            try (CmtClient client = new CmtClient(clientProps, conf.get(DOCUMENTS_TOPIC), conf.get(QUERIES_TOPIC),
                    conf.get(ANSWERS_TOPIC))) {
                r = new StreamingDemo(client, System.out, "demo").run(sample,
                        Integer.parseInt(demoFlags.get("questions-per-article")),
                        Duration.ofSeconds(Long.parseLong(demoFlags.get("timeout-seconds"))));
            } finally {
                job.cancel().get();
            }
            printSamples(sample, r);
            System.out.printf("SUMMARY: %d/%d questions answered over %d documents from %d '%s' articles in %.1f s: "
                            + "EM %.1f F1 %.1f, gold paragraph in evidence %d/%d (top-1 %d); model %s%n",
                    r.answered(), r.questions(), r.documents(), sample.articles().size(), demoFlags.get("set"),
                    r.elapsed().toMillis() / 1000.0, r.score().exactMatch(), r.score().f1(), r.goldInEvidence(),
                    r.answered(), r.goldFirst(), model.name());
        }
        System.exit(0);
    }

    static Configuration embeddedConfiguration(String bootstrapServers, List<String> jobArgs) throws Exception {
        Path work = Files.createTempDirectory("cmt-embedded");
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put(BOOTSTRAP_SERVERS.key(), bootstrapServers);
        settings.put(STARTING_OFFSETS.key(), "EARLIEST");
        settings.put(CHECKPOINT_INTERVAL.key(), "2 s");
        settings.put("parallelism.default", "2");
        settings.put("taskmanager.numberOfTaskSlots", "2");
        settings.put("rest.port", "8081");
        settings.put("state.checkpoints.dir", work.resolve("checkpoints").toUri().toString());
        settings.put("taskmanager.memory.managed.size", "256m");
        Configuration overrides = JobConfig.fromArgs(jobArgs.toArray(new String[0]));
        settings.putAll(overrides.toMap());
        return JobConfig.fromMap(settings);
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
