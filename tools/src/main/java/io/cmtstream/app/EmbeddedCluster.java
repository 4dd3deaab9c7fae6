package io.cmtstream.app;

import io.cmtstream.client.CmtClient;
import io.cmtstream.memory.CompressedDocument;
import io.cmtstream.model.ModelConfig;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.FileUtils;
import org.apache.kafka.clients.CommonClientConfigs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;

import static io.cmtstream.app.CmtStreamOptions.*;

/**
 * The whole system in one JVM: a real Kafka broker (KRaft) with the job's topics, and the job running on a Flink
 * MiniCluster with the RocksDB backend. Used by the embedded default, the evaluation and the end-to-end tests.
 */
public final class EmbeddedCluster implements AutoCloseable {
    private final EmbeddedKafka kafka;
    private final Configuration conf;
    private final ModelConfig model;
    private final JobClient job;
    /** Checkpoints of this run: nothing restores from them once the MiniCluster is gone, so close() deletes them. */
    private final Path work;

    private EmbeddedCluster(EmbeddedKafka kafka, Configuration conf, ModelConfig model, JobClient job, Path work) {
        this.kafka = kafka;
        this.conf = conf;
        this.model = model;
        this.job = job;
        this.work = work;
    }

    /**
     * Starts broker and job.
     *
     * @param overrides job and Flink options over the embedded defaults
     * @param webUi whether to serve the Flink web UI (on rest.port, 8081 unless overridden)
     */
    public static EmbeddedCluster start(Map<String, String> overrides, boolean webUi) throws Exception {
        return start(overrides, webUi, env -> null);
    }

    /** As {@link #start(Map, boolean)}, with memories preloaded into the bank (see {@link CmtStreamJob#build}). */
    public static EmbeddedCluster start(Map<String, String> overrides, boolean webUi,
                                        Function<StreamExecutionEnvironment, DataStream<CompressedDocument>> preloaded)
            throws Exception {
        Path work = Files.createTempDirectory("cmt-embedded");
        EmbeddedKafka kafka = new EmbeddedKafka(2, DOCUMENTS_TOPIC.defaultValue(), QUERIES_TOPIC.defaultValue(),
                ANSWERS_TOPIC.defaultValue(), DEAD_LETTERS_TOPIC.defaultValue());
        try {
            Configuration conf = configuration(kafka.bootstrapServers(), overrides, work, webUi);
            ModelConfig model = StartupChecks.modelLoads(conf);
            StartupChecks.kafkaTransactionsFit(conf);
            StreamExecutionEnvironment env = webUi
                    ? StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf)
                    : StreamExecutionEnvironment.createLocalEnvironment(conf);
            CmtStreamJob.build(env, conf, preloaded.apply(env));
            JobClient job = env.executeAsync(conf.get(JOB_NAME));
            return new EmbeddedCluster(kafka, conf, model, job, work);
        } catch (Exception | Error e) {
            kafka.close();
            FileUtils.deleteDirectoryQuietly(work.toFile());
            throw e;
        }
    }

    static Configuration configuration(String bootstrapServers, Map<String, String> overrides, Path work,
                                       boolean webUi) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put(BOOTSTRAP_SERVERS.key(), bootstrapServers);
        settings.put(STARTING_OFFSETS.key(), "EARLIEST");
        settings.put(CHECKPOINT_INTERVAL.key(), "2 s");
        settings.put("parallelism.default", "2");
        settings.put("taskmanager.numberOfTaskSlots", "2");
        // A MiniCluster serves REST even without the UI; a free port lets tests and a demo run side by side.
        settings.put("rest.port", webUi ? "8081" : "0");
        settings.put("execution.checkpointing.dir", work.resolve("checkpoints").toUri().toString());
        settings.putAll(overrides);
        return JobConfig.fromMap(settings);
    }

    public Configuration configuration() {
        return conf;
    }

    public ModelConfig model() {
        return model;
    }

    public JobClient job() {
        return job;
    }

    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    /** A client on this cluster's topics. */
    public CmtClient client() {
        Properties props = new Properties();
        props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        return new CmtClient(props, conf.get(DOCUMENTS_TOPIC), conf.get(QUERIES_TOPIC), conf.get(ANSWERS_TOPIC));
    }

    @Override
    public void close() throws Exception {
        try {
            job.cancel().get();
        } finally {
            try {
                kafka.close();
            } finally {
                FileUtils.deleteDirectoryQuietly(work.toFile());
            }
        }
    }
}
