package io.cmtstream.app;

import io.cmtstream.model.ModelConfig;
import io.cmtstream.model.ModelLoadException;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.config.ConfigResource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Checks made before a job is submitted, so a bad setup fails in seconds with a message naming its cause. */
public final class StartupChecks {
    private static final Logger LOG = LoggerFactory.getLogger(StartupChecks.class);

    /** The broker setting that caps a producer's transaction timeout. */
    static final String BROKER_MAX_TRANSACTION_TIMEOUT = "transaction.max.timeout.ms";

    private StartupChecks() {}

    /**
     * Reads and validates the model directory (model.json and the files it names).
     *
     * @throws ModelLoadException naming the missing or corrupt file
     */
    public static ModelConfig modelLoads(Configuration conf) {
        return ModelConfig.read(Path.of(conf.get(CmtStreamOptions.MODEL_DIR)));
    }

    /**
     * With EXACTLY_ONCE delivery, checks the sinks' transaction timeout against the brokers'
     * {@code transaction.max.timeout.ms} (read with the AdminClient's describeConfigs) and against the checkpoints
     * (see {@link #checkTransactionTimeout}). When the brokers' configuration cannot be read (no DESCRIBE_CONFIGS
     * right on the cluster, or no broker answers within a minute) it logs a warning and makes only the checkpoint
     * check: a timeout above the brokers' maximum then fails the sinks' producers at their first transaction
     * (Kafka's InvalidTxnTimeoutException), later and less plainly.
     *
     * @throws IllegalArgumentException naming the settings that do not fit
     */
    public static void kafkaTransactionsFit(Configuration conf) {
        if (conf.get(CmtStreamOptions.DELIVERY) != CmtStreamOptions.Delivery.EXACTLY_ONCE) {
            return;
        }
        long timeout = transactionTimeoutMillis(conf);
        long interval = conf.get(CmtStreamOptions.CHECKPOINT_INTERVAL).toMillis();
        long checkpointTimeout = conf.get(CheckpointingOptions.CHECKPOINTING_TIMEOUT).toMillis();
        OptionalLong brokerMax = brokerMaxTransactionTimeoutMillis(conf);
        checkTransactionTimeout(timeout, brokerMax, interval, checkpointTimeout);
    }

    /** The sinks' {@code transaction.timeout.ms}: the pass-through setting, else the job's default. */
    static long transactionTimeoutMillis(Configuration conf) {
        String value = CmtStreamJob.sinkProperties(conf).getProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG);
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid value '" + value + "' for '"
                    + CmtStreamOptions.KAFKA_PROPERTIES_PREFIX + ProducerConfig.TRANSACTION_TIMEOUT_CONFIG
                    + "': not a number of milliseconds", e);
        }
    }

    /**
     * The rule, without Kafka: the transaction timeout must not exceed the brokers' maximum (the producer would be
     * refused), and must cover a checkpoint interval plus a checkpoint that takes its whole timeout (an answer is
     * written in a transaction that is committed only when the checkpoint after it completes; a transaction the
     * broker aborted first is lost without an error).
     *
     * @param brokerMax the smallest {@code transaction.max.timeout.ms} of the brokers, empty when unknown
     * @throws IllegalArgumentException naming the settings that do not fit
     */
    static void checkTransactionTimeout(long transactionTimeout, OptionalLong brokerMax, long checkpointInterval,
                                        long checkpointTimeout) {
        String setting = CmtStreamOptions.KAFKA_PROPERTIES_PREFIX + ProducerConfig.TRANSACTION_TIMEOUT_CONFIG;
        if (brokerMax.isPresent() && transactionTimeout > brokerMax.getAsLong()) {
            throw new IllegalArgumentException("the sinks' transaction timeout '" + setting + "' (" + transactionTimeout
                    + " ms) is above the brokers' '" + BROKER_MAX_TRANSACTION_TIMEOUT + "' (" + brokerMax.getAsLong()
                    + " ms): the brokers would refuse the sinks' transactions. Lower '" + setting
                    + "' or raise '" + BROKER_MAX_TRANSACTION_TIMEOUT + "' on the brokers.");
        }
        long needed = checkpointInterval + checkpointTimeout;
        if (transactionTimeout < needed) {
            throw new IllegalArgumentException("the sinks' transaction timeout '" + setting + "' (" + transactionTimeout
                    + " ms) is shorter than '" + CmtStreamOptions.CHECKPOINT_INTERVAL.key() + "' plus '"
                    + CheckpointingOptions.CHECKPOINTING_TIMEOUT.key() + "' (" + needed + " ms): a slow checkpoint"
                    + " would commit transactions the broker has already aborted, and their answers would be lost."
                    + " Raise '" + setting + "' (up to the brokers' '" + BROKER_MAX_TRANSACTION_TIMEOUT
                    + "') or lower the checkpoint timeout.");
        }
    }

    /** The smallest {@code transaction.max.timeout.ms} among the brokers; empty when they may not be asked. */
    static OptionalLong brokerMaxTransactionTimeoutMillis(Configuration conf) {
        Properties props = JobConfig.kafkaProperties(conf);
        props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, conf.get(CmtStreamOptions.BOOTSTRAP_SERVERS));
        props.putIfAbsent(CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, "30000");
        props.putIfAbsent(CommonClientConfigs.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
        try (Admin admin = Admin.create(props)) {
            List<ConfigResource> brokers = new ArrayList<>();
            for (Node node : admin.describeCluster().nodes().get(60, TimeUnit.SECONDS)) {
                brokers.add(new ConfigResource(ConfigResource.Type.BROKER, node.idString()));
            }
            Map<ConfigResource, Config> configs = admin.describeConfigs(brokers).all().get(60, TimeUnit.SECONDS);
            OptionalLong min = OptionalLong.empty();
            for (Config config : configs.values()) {
                ConfigEntry entry = config.get(BROKER_MAX_TRANSACTION_TIMEOUT);
                if (entry != null && entry.value() != null) {
                    long value = Long.parseLong(entry.value());
                    min = OptionalLong.of(min.isPresent() ? Math.min(min.getAsLong(), value) : value);
                }
            }
            return min;
        } catch (ExecutionException e) {
            // The job's own clients retry an unreachable broker; only a setting that cannot work fails here.
            LOG.warn("Cannot read the brokers' configuration at {} ({}); the sinks' transaction timeout is not checked "
                    + "against their {}", conf.get(CmtStreamOptions.BOOTSTRAP_SERVERS), e.getCause().toString(),
                    BROKER_MAX_TRANSACTION_TIMEOUT);
            return OptionalLong.empty();
        } catch (java.util.concurrent.TimeoutException e) {
            LOG.warn("No Kafka broker answered at {} within 60 s; the sinks' transaction timeout is not checked "
                    + "against their {}", conf.get(CmtStreamOptions.BOOTSTRAP_SERVERS), BROKER_MAX_TRANSACTION_TIMEOUT);
            return OptionalLong.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted reading the brokers' configuration", e);
        }
    }
}
