package io.cmtstream.app;

import io.cmtstream.client.CmtClient;
import io.cmtstream.memory.CompressedDocument;
import io.cmtstream.model.ModelConfig;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.CheckpointStatsSnapshot;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.util.FileUtils;
import org.apache.kafka.clients.CommonClientConfigs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static io.cmtstream.app.CmtStreamOptions.*;

/**
 * The whole system in one JVM: a real Kafka broker (KRaft) with the job's topics, and a Flink MiniCluster on which
 * jobs run with the RocksDB backend. The one harness of the embedded default, the evaluation, the bench and the
 * end-to-end tests: {@link #start(Map, boolean)} starts both and submits the job; {@link #start(Setup)} starts
 * the cluster alone (any number of task managers, a restartable broker, or no Flink at all) and
 * {@link #submit} runs jobs on it, from savepoints too.
 */
public final class EmbeddedCluster implements AutoCloseable {
    /** The job's parallelism unless the options set {@code parallelism.default}. */
    private static final int DEFAULT_PARALLELISM = 2;
    /** How long a job may take to reach a state this class waits for. */
    private static final Duration PATIENCE = Duration.ofSeconds(90);

    private final EmbeddedKafka kafka;
    /** Null for a broker alone ({@link Setup#flink}). */
    private final MiniCluster flink;
    /** Checkpoints and savepoints of this run: nothing restores from them once the cluster is gone. */
    private final Path work;
    /** The job {@link #start(Map, boolean)} submitted, with its configuration and model; else null. */
    private JobID job;
    private Configuration conf;
    private ModelConfig model;

    /**
     * What to start.
     *
     * @param partitions partitions of every topic
     * @param topics the topics to create
     * @param restartableBroker a broker on a fixed port that {@link EmbeddedKafka#stopBroker} and
     *                          {@link EmbeddedKafka#startBroker} can restart
     * @param flink whether to start a MiniCluster (false: the broker alone, for Flink run elsewhere)
     * @param taskManagers task managers of the MiniCluster
     * @param slots slots per task manager
     * @param clusterSettings the MiniCluster's configuration (Flink keys; free ports unless they name some)
     */
    public record Setup(int partitions, List<String> topics, boolean restartableBroker, boolean flink,
                        int taskManagers, int slots, Map<String, String> clusterSettings) {
        /** The job's four default topics, 2 partitions each, and a MiniCluster of one task manager with 2 slots. */
        public static Setup defaults() {
            return new Setup(2, List.of(DOCUMENTS_TOPIC.defaultValue(), QUERIES_TOPIC.defaultValue(),
                    ANSWERS_TOPIC.defaultValue(), DEAD_LETTERS_TOPIC.defaultValue()), false, true, 1, 2, Map.of());
        }

        public Setup withTopics(String... more) {
            List<String> all = new ArrayList<>(topics);
            all.addAll(List.of(more));
            return new Setup(partitions, List.copyOf(all), restartableBroker, flink, taskManagers, slots,
                    clusterSettings);
        }

        public Setup withRestartableBroker() {
            return new Setup(partitions, topics, true, flink, taskManagers, slots, clusterSettings);
        }

        public Setup brokerOnly() {
            return new Setup(partitions, topics, restartableBroker, false, 0, 0, clusterSettings);
        }

        public Setup withTaskManagers(int count, int slotsEach) {
            return new Setup(partitions, topics, restartableBroker, true, count, slotsEach, clusterSettings);
        }

        public Setup withClusterSettings(Map<String, String> settings) {
            Map<String, String> all = new LinkedHashMap<>(clusterSettings);
            all.putAll(settings);
            return new Setup(partitions, topics, restartableBroker, flink, taskManagers, slots, Map.copyOf(all));
        }
    }

    private EmbeddedCluster(EmbeddedKafka kafka, MiniCluster flink, Path work) {
        this.kafka = kafka;
        this.flink = flink;
        this.work = work;
    }

    /** Starts the broker and the cluster {@code setup} describes; no job yet. */
    public static EmbeddedCluster start(Setup setup) throws Exception {
        String[] topics = setup.topics().toArray(new String[0]);
        EmbeddedKafka kafka = setup.restartableBroker() ? EmbeddedKafka.restartable(setup.partitions(), topics)
                : new EmbeddedKafka(setup.partitions(), topics);
        Path work = null;
        MiniCluster flink = null;
        try {
            work = Files.createTempDirectory("cmt-embedded");
            if (setup.flink()) {
                Configuration conf = new Configuration();
                conf.setString("execution.checkpointing.dir", work.resolve("checkpoints").toUri().toString());
                conf.setString("execution.checkpointing.savepoint-dir", work.resolve("savepoints").toUri().toString());
                setup.clusterSettings().forEach(conf::setString);
                flink = new MiniCluster(new MiniClusterConfiguration.Builder()
                        .setConfiguration(conf)
                        .setNumTaskManagers(setup.taskManagers())
                        .setNumSlotsPerTaskManager(setup.slots())
                        // Free ports where the settings name none: tests and a demo can run side by side.
                        .withRandomPorts()
                        .build());
                flink.start();
            }
            return new EmbeddedCluster(kafka, flink, work);
        } catch (Exception | Error e) {
            closeQuietly(flink);
            kafka.close();
            if (work != null) {
                FileUtils.deleteDirectoryQuietly(work.toFile());
            }
            throw e;
        }
    }

    /**
     * Starts broker and cluster and submits the job.
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
        Map<String, String> cluster = new LinkedHashMap<>(overrides);
        if (webUi) {
            cluster.putIfAbsent("rest.bind-port", overrides.getOrDefault("rest.port", "8081"));
        }
        Configuration given = JobConfig.fromMap(overrides);
        int parallelism = given.getOptional(CoreOptions.DEFAULT_PARALLELISM).orElse(DEFAULT_PARALLELISM);
        // One task manager with a slot per parallel task, unless the overrides size it.
        int slots = given.getOptional(TaskManagerOptions.NUM_TASK_SLOTS).orElse(parallelism);
        EmbeddedCluster c = start(Setup.defaults().withTaskManagers(1, slots).withClusterSettings(cluster)
                .withTopics(topicsBeyondDefaults(given)));
        try {
            Configuration conf = c.jobConfiguration(overrides);
            c.model = StartupChecks.modelLoads(conf);
            StartupChecks.kafkaTransactionsFit(conf);
            c.conf = conf;
            c.job = c.submit(conf, parallelism, null, preloaded);
            return c;
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
    }

    /** Topics the job's options name other than the four defaults, which the broker must hold too. */
    private static String[] topicsBeyondDefaults(Configuration conf) {
        List<String> defaults = Setup.defaults().topics();
        return List.of(conf.get(DOCUMENTS_TOPIC), conf.get(QUERIES_TOPIC), conf.get(ANSWERS_TOPIC),
                conf.get(DEAD_LETTERS_TOPIC)).stream().filter(t -> !defaults.contains(t)).distinct()
                .toArray(String[]::new);
    }

    /**
     * The job's configuration on this cluster: this broker, earliest offsets, 2 s checkpoints into this run's
     * directory, parallelism 2; then {@code overrides}.
     */
    public Configuration jobConfiguration(Map<String, String> overrides) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put(BOOTSTRAP_SERVERS.key(), kafka.bootstrapServers());
        settings.put(STARTING_OFFSETS.key(), "EARLIEST");
        settings.put(CHECKPOINT_INTERVAL.key(), "2 s");
        settings.put(CoreOptions.DEFAULT_PARALLELISM.key(), Integer.toString(DEFAULT_PARALLELISM));
        settings.put("execution.checkpointing.dir", work.resolve("checkpoints").toUri().toString());
        settings.putAll(overrides);
        return JobConfig.fromMap(settings);
    }

    /** Builds the job of {@code conf} and submits it at {@code parallelism}, from {@code savepoint} unless null. */
    public JobID submit(Configuration conf, int parallelism, String savepoint) throws Exception {
        return submit(conf, parallelism, savepoint, env -> null);
    }

    /** As {@link #submit(Configuration, int, String)}, with memories preloaded into the bank. */
    public JobID submit(Configuration conf, int parallelism, String savepoint,
                        Function<StreamExecutionEnvironment, DataStream<CompressedDocument>> preloaded)
            throws Exception {
        JobGraph graph = jobGraph(conf, parallelism, preloaded);
        if (savepoint != null) {
            graph.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(savepoint, false));
        }
        return requireFlink().submitJob(graph).get().getJobID();
    }

    /** The job graph of the job of {@code conf} at {@code parallelism}, as a client submits it. */
    public JobGraph jobGraph(Configuration conf, int parallelism,
                             Function<StreamExecutionEnvironment, DataStream<CompressedDocument>> preloaded) {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        env.setParallelism(parallelism);
        CmtStreamJob.build(env, conf, preloaded.apply(env));
        StreamGraph graph = env.getStreamGraph();
        graph.setJobName(conf.get(JOB_NAME));
        return graph.getJobGraph();
    }

    public JobStatus status(JobID id) {
        try {
            return requireFlink().getJobStatus(id).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the status of job " + id, e);
        }
    }

    public CheckpointStatsSnapshot checkpoints(JobID id) throws Exception {
        return requireFlink().getExecutionGraph(id).get(10, TimeUnit.SECONDS).getCheckpointStatsSnapshot();
    }

    /** Stops {@code id} with a savepoint in {@code format}, waits for the job to end, and returns its path. */
    public String stopWithSavepoint(JobID id, SavepointFormatType format) throws Exception {
        String path = requireFlink().stopWithSavepoint(id, work.resolve("savepoints").toUri().toString(), false,
                format).get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        awaitTerminal(id);
        return path;
    }

    private void awaitTerminal(JobID id) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!status(id).isGloballyTerminalState()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("job " + id + " did not end within " + PATIENCE);
            }
            Thread.sleep(50);
        }
    }

    /** The MiniCluster; null for a broker alone. */
    public MiniCluster flink() {
        return flink;
    }

    private MiniCluster requireFlink() {
        if (flink == null) {
            throw new IllegalStateException("this cluster is a broker alone: it runs no Flink jobs");
        }
        return flink;
    }

    public EmbeddedKafka kafka() {
        return kafka;
    }

    /** This run's directory (checkpoints, savepoints), deleted on close. */
    public Path work() {
        return work;
    }

    /** The configuration of the job {@link #start(Map, boolean)} submitted. */
    public Configuration configuration() {
        return conf;
    }

    public ModelConfig model() {
        return model;
    }

    /** The job {@link #start(Map, boolean)} submitted. */
    public JobID job() {
        return job;
    }

    /** The port Flink's REST API (and web UI, when on the classpath) listens on. */
    public int restPort() throws Exception {
        return requireFlink().getRestAddress().get(10, TimeUnit.SECONDS).getPort();
    }

    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    /** A client on the topics of the job {@link #start(Map, boolean)} submitted. */
    public CmtClient client() {
        Properties props = new Properties();
        props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        return new CmtClient(props, conf.get(DOCUMENTS_TOPIC), conf.get(QUERIES_TOPIC), conf.get(ANSWERS_TOPIC));
    }

    @Override
    public void close() throws Exception {
        try {
            if (flink != null) {
                try {
                    // Cancel first: a MiniCluster closed under a running job logs every task's failure.
                    for (var j : flink.listJobs().get(10, TimeUnit.SECONDS)) {
                        if (!j.getJobState().isGloballyTerminalState()) {
                            flink.cancelJob(j.getJobId()).get(10, TimeUnit.SECONDS);
                            awaitTerminal(j.getJobId());
                        }
                    }
                } finally {
                    flink.close();
                }
            }
        } finally {
            try {
                kafka.close();
            } finally {
                FileUtils.deleteDirectoryQuietly(work.toFile());
            }
        }
    }

    private static void closeQuietly(MiniCluster flink) {
        if (flink == null) {
            return;
        }
        try {
            flink.close();
        } catch (Exception e) {
            // already failing: the first error is the one to report
        }
    }
}
