package io.cmtstream.app;

import kafka.server.BrokerServer;
import org.springframework.kafka.test.EmbeddedKafkaKraftBroker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.util.Map;

/**
 * A real Kafka broker (KRaft, no ZooKeeper, no Docker) in this JVM, for the embedded default and the tests.
 * Single broker, so internal topics use replication factor 1.
 *
 * <p>One made by {@link #restartable} listens on a fixed port, so its broker can be stopped and started again
 * ({@link #stopBroker}, {@link #startBroker}) on the same port and log directories, while the KRaft controller
 * keeps running: to clients, a broker restart.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private final EmbeddedKafkaKraftBroker broker;
    private final boolean fixedPort;

    public EmbeddedKafka(int partitions, String... topics) {
        this(0, partitions, topics);
    }

    /** A broker on a free port chosen now, which {@link #stopBroker} and {@link #startBroker} keep. */
    public static EmbeddedKafka restartable(int partitions, String... topics) {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return new EmbeddedKafka(socket.getLocalPort(), partitions, topics);
        } catch (IOException e) {
            throw new UncheckedIOException("no free port for the broker", e);
        }
    }

    private EmbeddedKafka(int port, int partitions, String... topics) {
        broker = new EmbeddedKafkaKraftBroker(1, partitions, topics);
        if (port > 0) {
            broker.kafkaPorts(port);
        }
        this.fixedPort = port > 0;
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

    /** Shuts the broker down (clients see connection refused); its controller, port and log dirs stay. */
    public void stopBroker() {
        requireFixedPort();
        for (BrokerServer server : broker.getCluster().brokers().values()) {
            server.shutdown();
        }
    }

    /** Starts the broker stopped by {@link #stopBroker} again, on its port, from its log directories. */
    public void startBroker() {
        requireFixedPort();
        for (BrokerServer server : broker.getCluster().brokers().values()) {
            server.startup();
        }
        try {
            broker.getCluster().waitForReadyBrokers();
        } catch (Exception e) {
            throw new IllegalStateException("the restarted broker did not become ready", e);
        }
    }

    private void requireFixedPort() {
        if (!fixedPort) {
            throw new IllegalStateException("only a broker made by EmbeddedKafka.restartable can be restarted");
        }
    }

    @Override
    public void close() {
        broker.destroy();
    }
}
