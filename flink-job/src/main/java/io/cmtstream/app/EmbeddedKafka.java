package io.cmtstream.app;

import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

import java.util.Map;

/**
 * A real Kafka broker (KRaft, no ZooKeeper, no Docker) in this JVM, for the embedded default and the tests.
 * Single broker, so internal topics use replication factor 1.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private final EmbeddedKafkaKraftBroker broker;

    public EmbeddedKafka(int partitions, String... topics) {
        broker = new EmbeddedKafkaKraftBroker(1, partitions, topics);
        broker.brokerProperties(Map.of(
                "transaction.state.log.replication.factor", "1",
                "transaction.state.log.min.isr", "1",
                "offsets.topic.replication.factor", "1",
                "auto.create.topics.enable", "false",
                "log.dirs", System.getProperty("java.io.tmpdir") + "/cmt-kafka-" + System.nanoTime()));
        broker.afterPropertiesSet();
    }

    public String bootstrapServers() {
        return broker.getBrokersAsString();
    }

    @Override
    public void close() {
        broker.destroy();
    }
}
