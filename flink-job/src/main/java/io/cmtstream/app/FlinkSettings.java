package io.cmtstream.app;

import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.StateBackendOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static io.cmtstream.app.CmtStreamOptions.BUFFER_TIMEOUT;
import static io.cmtstream.app.CmtStreamOptions.CHECKPOINT_INTERVAL;
import static io.cmtstream.app.CmtStreamOptions.WATERMARK_INTERVAL;

/**
 * The Flink settings the job needs, resolved so that Flink's own keys win: a {@code cmt.*} option that duplicates
 * a Flink option only applies where the Flink key is absent, from the job's configuration and from the cluster's
 * alike (a Flink key in the job's configuration goes before the cluster's). The job's defaults for Flink's own
 * state backend keys, which no {@code cmt.*} option duplicates, apply the same way.
 *
 * <table>
 *   <caption>Which key governs</caption>
 *   <tr><th>Flink key (governs when set)</th><th>else</th></tr>
 *   <tr><td>{@code execution.checkpointing.interval}</td><td>{@code cmt.checkpoint.interval}</td></tr>
 *   <tr><td>{@code execution.buffer-timeout.interval} (or {@code execution.buffer-timeout}),
 *       {@code execution.buffer-timeout.enabled}</td>
 *       <td>{@code cmt.network.buffer-timeout}</td></tr>
 *   <tr><td>{@code pipeline.auto-watermark-interval}</td><td>{@code cmt.watermark.interval}</td></tr>
 *   <tr><td>{@code state.backend.type} (rocksdb or forst; others fail at start)</td><td>rocksdb</td></tr>
 *   <tr><td>{@code execution.checkpointing.incremental}</td><td>true</td></tr>
 *   <tr><td>{@code execution.checkpointing.unaligned.enabled}</td><td>true</td></tr>
 *   <tr><td>{@code execution.checkpointing.aligned-checkpoint-timeout}</td><td>{@link #ALIGNED_FOR} (1 s)</td></tr>
 * </table>
 *
 * <p>Stateless; the result is a fresh configuration for {@code StreamExecutionEnvironment.configure}.
 */
public final class FlinkSettings {
    private static final Logger LOG = LoggerFactory.getLogger(FlinkSettings.class);

    /** A job option and the Flink options that, when any is set, govern instead of it. */
    record Overlap(ConfigOption<Duration> jobOption, ConfigOption<Duration> flinkOption,
                   List<ConfigOption<?>> alsoFlink) {}

    /** Every job option that duplicates a Flink option. */
    static final List<Overlap> OVERLAPS = List.of(
            new Overlap(CHECKPOINT_INTERVAL, CheckpointingOptions.CHECKPOINTING_INTERVAL, List.of()),
            new Overlap(BUFFER_TIMEOUT, ExecutionOptions.BUFFER_TIMEOUT,
                    List.of(ExecutionOptions.BUFFER_TIMEOUT_ENABLED)),
            new Overlap(WATERMARK_INTERVAL, PipelineOptions.AUTO_WATERMARK_INTERVAL, List.of()));

    /**
     * How long a checkpoint barrier may wait aligned before it overtakes the records queued ahead of it. Under load
     * the compressor and the reader take a fraction of a second a record, so a few network buffers ahead of them
     * hold minutes of work: an aligned barrier behind them made checkpoints expire (docs/RELIABILITY.md section 17).
     * Unaligned, it stores those records in the checkpoint instead; idle or lightly loaded, checkpoints stay aligned.
     */
    static final Duration ALIGNED_FOR = Duration.ofSeconds(1);

    private FlinkSettings() {}

    /**
     * The Flink settings for the job.
     *
     * @param cluster the environment's configuration (the cluster's, on a cluster; what the local environment
     *     was created with, embedded)
     * @param job the job's own configuration ({@code --config} file and flags)
     * @throws IllegalArgumentException naming {@code state.backend.type} if it names a backend that keeps the
     *     memory bank on the heap
     */
    public static Configuration resolve(ReadableConfig cluster, Configuration job) {
        Configuration out = new Configuration();
        for (Overlap overlap : OVERLAPS) {
            Optional<Duration> flink = first(overlap.flinkOption(), job, cluster);
            boolean flinkGoverns = flink.isPresent();
            for (ConfigOption<?> also : overlap.alsoFlink()) {
                flinkGoverns |= copyIfSet(also, job, cluster, out);
            }
            if (flinkGoverns) {
                flink.ifPresent(value -> out.set(overlap.flinkOption(), value));
                if (job.contains(overlap.jobOption())) {
                    LOG.warn("{} is ignored: Flink's own {} is set and governs", overlap.jobOption().key(),
                            flink.isPresent() ? overlap.flinkOption().key() : overlap.alsoFlink().get(0).key());
                }
            } else {
                out.set(overlap.flinkOption(), job.get(overlap.jobOption()));
            }
        }
        String type = first(StateBackendOptions.STATE_BACKEND, job, cluster).orElse("rocksdb").trim();
        if (!type.equals("rocksdb") && !type.equals("forst")) {
            throw new IllegalArgumentException("invalid value '" + type + "' for '"
                    + StateBackendOptions.STATE_BACKEND.key() + "': the memory bank runs on 'rocksdb' (the default)"
                    + " or 'forst'");
        }
        out.set(StateBackendOptions.STATE_BACKEND, type);
        out.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS,
                first(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, job, cluster).orElse(true));
        out.set(CheckpointingOptions.ENABLE_UNALIGNED,
                first(CheckpointingOptions.ENABLE_UNALIGNED, job, cluster).orElse(true));
        out.set(CheckpointingOptions.ALIGNED_CHECKPOINT_TIMEOUT,
                first(CheckpointingOptions.ALIGNED_CHECKPOINT_TIMEOUT, job, cluster).orElse(ALIGNED_FOR));
        return out;
    }

    private static <T> Optional<T> first(ConfigOption<T> option, ReadableConfig job, ReadableConfig cluster) {
        Optional<T> value = job.getOptional(option);
        return value.isPresent() ? value : cluster.getOptional(option);
    }

    private static <T> boolean copyIfSet(ConfigOption<T> option, ReadableConfig job, ReadableConfig cluster,
                                         Configuration out) {
        Optional<T> value = first(option, job, cluster);
        value.ifPresent(v -> out.set(option, v));
        return value.isPresent();
    }
}
