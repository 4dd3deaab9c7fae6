package io.cmtstream.app;

import io.cmtstream.memory.BankLayout;
import io.cmtstream.model.MemorySpace;
import io.cmtstream.model.ModelConfig;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.StateBackendLoader;
import org.apache.flink.state.forst.ForStStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Flink settings the job makes: Flink's own keys win over the job's {@code cmt.*} options that duplicate them
 * (checked on the environment the job is built on), and the memory bank's state backend (Flink 2 has no
 * {@code env.setStateBackend}, so the job puts it into its own configuration, where it takes precedence over the
 * cluster's; resolved here the way a task manager does).
 */
class CmtStreamJobTest {
    private static final Configuration HASHMAP_CLUSTER =
            Configuration.fromMap(Map.of(StateBackendOptions.STATE_BACKEND.key(), "hashmap"));

    @Test
    void memoryBankRunsOnRocksDbWithIncrementalCheckpointsWhateverTheClustersDefault() throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        CmtStreamJob.build(env, JobConfig.fromMap(Map.of()));
        Configuration job = env.getStreamGraph().getJobConfiguration();

        StateBackend backend = resolve(job, HASHMAP_CLUSTER);
        assertInstanceOf(EmbeddedRocksDBStateBackend.class, backend);
        assertTrue(((EmbeddedRocksDBStateBackend) backend).isIncrementalCheckpointsEnabled());
    }

    @Test
    void forstWhenTheJobsConfigurationNamesIt() throws Exception {
        Configuration job = CmtStreamJob.stateBackend(JobConfig.fromMap(Map.of("state.backend.type", "forst")));
        StateBackend backend = resolve(job, new Configuration());
        assertInstanceOf(ForStStateBackend.class, backend);
    }

    @Test
    void aBackendThatKeepsTheBankOnTheHeapFailsAtStartNamingTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CmtStreamJob.stateBackend(JobConfig.fromMap(Map.of("state.backend.type", "hashmap"))));
        assertTrue(e.getMessage().contains("state.backend.type"), e.getMessage());
        assertEquals("rocksdb", CmtStreamJob.stateBackend(new Configuration()).get(StateBackendOptions.STATE_BACKEND));
    }

    @Test
    void flinksOwnKeysGovernOverTheJobsOptionsThatDuplicateThem() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(Configuration.fromMap(Map.of(
                "execution.checkpointing.interval", "30 s",
                "execution.buffer-timeout.interval", "50 ms",
                "pipeline.auto-watermark-interval", "200 ms")));
        CmtStreamJob.build(env, JobConfig.fromMap(Map.of(
                "cmt.checkpoint.interval", "10 s",
                "cmt.network.buffer-timeout", "0 ms",
                "cmt.watermark.interval", "5 ms")));
        assertEquals(30_000, env.getCheckpointConfig().getCheckpointInterval());
        assertEquals(50, env.getBufferTimeout());
        assertEquals(200, env.getConfig().getAutoWatermarkInterval());
    }

    @Test
    void theJobsOptionsApplyWhereFlinksKeysAreAbsent() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        CmtStreamJob.build(env, JobConfig.fromMap(Map.of("cmt.checkpoint.interval", "3 s")));
        assertEquals(3_000, env.getCheckpointConfig().getCheckpointInterval());
        assertTrue(env.getCheckpointConfig().isCheckpointingEnabled());
        // The job's defaults, not Flink's (100 ms and 200 ms).
        assertEquals(0, env.getBufferTimeout());
        assertEquals(5, env.getConfig().getAutoWatermarkInterval());
    }

    @Test
    void aFlinkKeyInTheJobsConfigurationGoesBeforeTheClusters() {
        Configuration cluster = Configuration.fromMap(Map.of("execution.checkpointing.interval", "30 s",
                "execution.buffer-timeout.enabled", "false"));
        Configuration settings = FlinkSettings.resolve(cluster, JobConfig.fromMap(Map.of(
                "execution.checkpointing.interval", "20 s", "cmt.checkpoint.interval", "1 s",
                "cmt.network.buffer-timeout", "0 ms")));
        assertEquals(Duration.ofSeconds(20), settings.get(CheckpointingOptions.CHECKPOINTING_INTERVAL));
        // Flink's switch governs the buffer timeout too: disabled stays disabled.
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.configure(settings);
        assertEquals(ExecutionOptions.DISABLED_NETWORK_BUFFER_TIMEOUT, env.getBufferTimeout());
    }

    @Test
    void theClustersStateBackendKeysGovernWithinWhatTheBankCanRunOn() {
        Configuration job = JobConfig.fromMap(Map.of());
        Configuration forst = FlinkSettings.resolve(Configuration.fromMap(Map.of("state.backend.type", "forst",
                "execution.checkpointing.incremental", "false")), job);
        assertEquals("forst", forst.get(StateBackendOptions.STATE_BACKEND));
        assertEquals(false, forst.get(CheckpointingOptions.INCREMENTAL_CHECKPOINTS));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FlinkSettings.resolve(HASHMAP_CLUSTER, job));
        assertTrue(e.getMessage().contains("state.backend.type"), e.getMessage());
        // The job's own configuration goes first, so it can still pick RocksDB on such a cluster.
        assertEquals("rocksdb", FlinkSettings.resolve(HASHMAP_CLUSTER,
                JobConfig.fromMap(Map.of("state.backend.type", "rocksdb"))).get(StateBackendOptions.STATE_BACKEND));
    }

    @Test
    void checkpointsGoUnalignedAfterASecondUnlessFlinksKeysSayOtherwise() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        CmtStreamJob.build(env, JobConfig.fromMap(Map.of()));
        assertTrue(env.getCheckpointConfig().isUnalignedCheckpointsEnabled());
        assertEquals(Duration.ofSeconds(1), env.getCheckpointConfig().getAlignedCheckpointTimeout());
        Configuration aligned = FlinkSettings.resolve(Configuration.fromMap(Map.of(
                "execution.checkpointing.unaligned.enabled", "false")), JobConfig.fromMap(Map.of(
                "execution.checkpointing.aligned-checkpoint-timeout", "30 s")));
        assertEquals(false, aligned.get(CheckpointingOptions.ENABLE_UNALIGNED));
        assertEquals(Duration.ofSeconds(30), aligned.get(CheckpointingOptions.ALIGNED_CHECKPOINT_TIMEOUT));
    }

    private static StateBackend resolve(Configuration job, Configuration cluster) throws Exception {
        return StateBackendLoader.fromApplicationOrConfigOrDefault(null, job, cluster,
                CmtStreamJobTest.class.getClassLoader(), null);
    }

    @Test
    void sourcesReadOnlyCommittedRecordsUnlessToldOtherwise() {
        assertEquals("read_committed", CmtStreamJob.sourceProperties(JobConfig.fromMap(Map.of()))
                .getProperty("isolation.level"));
        assertEquals("read_uncommitted", CmtStreamJob.sourceProperties(JobConfig.fromMap(
                Map.of("cmt.kafka.properties.isolation.level", "read_uncommitted"))).getProperty("isolation.level"));
    }

    @Test
    void aModelErrorsDeadLetterIsKeyedByItsRecordNotByAnOffsetItNoLongerHas() {
        io.cmtstream.avro.DeadLetter.Builder d = io.cmtstream.avro.DeadLetter.newBuilder().setTopic("documents")
                .setReason("MODEL_ERROR: x").setFailedAt(java.time.Instant.EPOCH)
                .setKey(java.nio.ByteBuffer.wrap("t/doc-1".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertEquals("documents/t/doc-1", new String(CmtStreamJob.deadLetterKey(
                d.setPartition(-1).setOffset(-1L).build()), java.nio.charset.StandardCharsets.UTF_8));
        assertEquals("documents/1/42", new String(CmtStreamJob.deadLetterKey(
                d.setPartition(1).setOffset(42L).build()), java.nio.charset.StandardCharsets.UTF_8));
    }

    @Test
    void aDeadLetterCarriesItsStableReasonCodeAsAKafkaHeader() {
        io.cmtstream.avro.DeadLetter d = io.cmtstream.avro.DeadLetter.newBuilder().setTopic("queries")
                .setPartition(0).setOffset(7L).setReason("EMPTY_TEXT: question is empty")
                .setFailedAt(java.time.Instant.EPOCH).build();
        org.apache.kafka.common.header.Headers headers = CmtStreamJob.deadLetterHeaders(d);
        assertEquals(1, headers.toArray().length);
        assertEquals("EMPTY_TEXT", new String(headers.lastHeader("cmt.reason").value(),
                java.nio.charset.StandardCharsets.UTF_8));
    }

    @Test
    void theBankRecordsTheShardCountAndTheModelsMemorySpaceUnderTheOptionsItNames() {
        Configuration conf = JobConfig.fromMap(Map.of("cmt.memory.shards", "3"));
        BankLayout layout = CmtStreamJob.bankLayout(conf);
        assertEquals(3, layout.shards());
        assertEquals(MemorySpace.of(ModelConfig.read(Path.of(conf.get(CmtStreamOptions.MODEL_DIR)))),
                layout.memorySpace());
        assertEquals(CmtStreamOptions.SHARDS.key(), BankLayout.SHARDS_OPTION);
        assertEquals(CmtStreamOptions.MODEL_DIR.key(), BankLayout.MODEL_OPTION);
        assertEquals(PipelineOptions.MAX_PARALLELISM.key(), BankLayout.MAX_PARALLELISM_OPTION);

        BankLayout noModel = CmtStreamJob.bankLayout(JobConfig.fromMap(Map.of("cmt.model.dir", "no/such/model")));
        assertEquals(null, noModel.memorySpace(), "the task managers report a missing model, not the bank");
    }

    @Test
    void plainAvroIsTheDefaultAndTheRegistryFormatNeedsAUrl() {
        assertEquals(null, JobConfig.registrySettings(JobConfig.fromMap(Map.of())));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JobConfig.registrySettings(
                JobConfig.fromMap(Map.of("cmt.kafka.value-format", "AVRO_REGISTRY"))));
        assertTrue(e.getMessage().contains("cmt.registry.url"), e.getMessage());
        var settings = JobConfig.registrySettings(JobConfig.fromMap(Map.of(
                "cmt.kafka.value-format", "AVRO_REGISTRY", "cmt.registry.url", "http://registry:8081/",
                "cmt.registry.auto-register", "false", "cmt.registry.bearer-token-file", "/secrets/token")));
        assertEquals("http://registry:8081", settings.url);
        assertEquals(false, settings.autoRegister);
        assertEquals("/secrets/token", settings.bearerTokenFile);
        assertEquals(Duration.ofMinutes(5).toMillis(), settings.unknownIdTtlMillis);
    }
}
