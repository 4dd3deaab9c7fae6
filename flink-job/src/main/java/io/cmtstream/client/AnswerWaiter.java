package io.cmtstream.client;

import io.cmtstream.avro.Answer;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Completes the futures of {@link CmtClient#ask}: one thread reads the answers topic with read_committed from the
 * end offsets it found when it started (so it never reads the topic's history, whatever tenants wrote there) and
 * completes the future waiting for each answer's (tenant, queryId); answers nobody waits for are skipped.
 */
final class AnswerWaiter implements AutoCloseable {
    private static final SpecificDatumReader<Answer> READER = new SpecificDatumReader<>(Answer.class);

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Map<String, CompletableFuture<Answer>> waiting = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean closed;

    private AnswerWaiter(KafkaConsumer<byte[], byte[]> consumer) {
        this.consumer = consumer;
        this.thread = new Thread(this::run, "cmt-client-answers");
        this.thread.setDaemon(true);
    }

    /** Positions a consumer at the end of every partition of {@code topic} before returning, then reads on. */
    static AnswerWaiter start(Properties clientProperties, String topic) {
        KafkaConsumer<byte[], byte[]> consumer = consumer(clientProperties, "latest");
        try {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) {
                throw new IllegalStateException("answers topic " + topic + " does not exist");
            }
            List<TopicPartition> partitions = infos.stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            // position() resolves the end now: an answer committed after ask() returns is always read.
            partitions.forEach(tp -> consumer.position(tp, Duration.ofSeconds(30)));
        } catch (RuntimeException e) {
            consumer.close(Duration.ofSeconds(5));
            throw e;
        }
        AnswerWaiter waiter = new AnswerWaiter(consumer);
        waiter.thread.start();
        return waiter;
    }

    static KafkaConsumer<byte[], byte[]> consumer(Properties clientProperties, String reset) {
        return new KafkaConsumer<>(CmtClient.consumerProperties(clientProperties, reset));
    }

    CompletableFuture<Answer> expect(String tenant, String queryId) {
        if (closed) {
            throw new IllegalStateException("the client is closed");
        }
        CompletableFuture<Answer> future = new CompletableFuture<>();
        if (waiting.putIfAbsent(key(tenant, queryId), future) != null) {
            throw new IllegalStateException("already waiting for query " + queryId + " of tenant " + tenant);
        }
        // A caller that gives up (orTimeout, cancel) frees its place.
        future.whenComplete((a, e) -> waiting.remove(key(tenant, queryId), future));
        return future;
    }

    void fail(String tenant, String queryId, Throwable error) {
        CompletableFuture<Answer> future = waiting.remove(key(tenant, queryId));
        if (future != null) {
            future.completeExceptionally(error);
        }
    }

    private void run() {
        try {
            while (!closed) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (waiting.isEmpty()) {
                        continue;
                    }
                    Answer answer = decode(record);
                    CompletableFuture<Answer> future = waiting.remove(key(answer.getTenant(), answer.getQueryId()));
                    if (future != null) {
                        future.complete(answer);
                    }
                }
            }
        } catch (WakeupException e) {
            // close()
        } catch (RuntimeException e) {
            waiting.values().forEach(f -> f.completeExceptionally(e));
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    static Answer decode(ConsumerRecord<byte[], byte[]> record) {
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(record.value(), null);
        try {
            return READER.read(null, decoder);
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("answer at " + record.topic() + "/" + record.partition() + "@"
                    + record.offset() + " is not an Avro Answer: " + e.getMessage(), e);
        }
    }

    private static String key(String tenant, String queryId) {
        return tenant + "/" + queryId;
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        IllegalStateException closedFirst = new IllegalStateException("the client closed before the answer came");
        waiting.values().forEach(f -> f.completeExceptionally(closedFirst));
    }
}
