package io.cmtstream.app;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The transaction-timeout rule of {@link StartupChecks}, without a broker (KafkaSettingsITCase asks a real one). */
class StartupChecksTest {
    private static final long MINUTE = 60_000;

    @Test
    void theDefaultsFitTheBrokersDefaultMaximumAndFlinksDefaultCheckpointTimeout() {
        long timeout = StartupChecks.transactionTimeoutMillis(JobConfig.fromMap(Map.of()));
        assertEquals(15 * MINUTE, timeout);
        // Broker default transaction.max.timeout.ms 15 min; checkpoints every 10 s with Flink's 10 min timeout.
        StartupChecks.checkTransactionTimeout(timeout, OptionalLong.of(15 * MINUTE), 10_000, 10 * MINUTE);
    }

    @Test
    void aTimeoutAboveTheBrokersMaximumFailsNamingBothSettings() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                StartupChecks.checkTransactionTimeout(60 * MINUTE, OptionalLong.of(15 * MINUTE), 10_000, MINUTE));
        assertTrue(e.getMessage().startsWith("the sinks' transaction timeout "
                + "'cmt.kafka.properties.transaction.timeout.ms' (3600000 ms) is above the brokers' "
                + "'transaction.max.timeout.ms' (900000 ms)"), e.getMessage());
    }

    @Test
    void aTimeoutShorterThanACheckpointAtItsTimeoutFailsNamingTheCheckpointSettings() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                StartupChecks.checkTransactionTimeout(5 * MINUTE, OptionalLong.of(15 * MINUTE), 10_000, 10 * MINUTE));
        assertTrue(e.getMessage().contains("is shorter than 'cmt.checkpoint.interval' plus "
                + "'execution.checkpointing.timeout' (610000 ms)"), e.getMessage());
    }

    @Test
    void anUnknownBrokerMaximumLeavesOnlyTheCheckpointRule() {
        StartupChecks.checkTransactionTimeout(60 * MINUTE, OptionalLong.empty(), 10_000, 10 * MINUTE);
        assertThrows(IllegalArgumentException.class, () ->
                StartupChecks.checkTransactionTimeout(MINUTE, OptionalLong.empty(), 10_000, 10 * MINUTE));
    }

    @Test
    void thePassThroughTimeoutIsTheOneChecked() {
        assertEquals(123_456, StartupChecks.transactionTimeoutMillis(JobConfig.fromMap(
                Map.of("cmt.kafka.properties.transaction.timeout.ms", "123456"))));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                StartupChecks.transactionTimeoutMillis(JobConfig.fromMap(
                        Map.of("cmt.kafka.properties.transaction.timeout.ms", "15min"))));
        assertTrue(e.getMessage().contains("'cmt.kafka.properties.transaction.timeout.ms'"), e.getMessage());
    }
}
