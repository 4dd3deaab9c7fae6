package io.cmtstream.testing;

import io.cmtstream.avro.Answer;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.ingest.InvalidRecordException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An answers topic as the consumer given sees it (the tests give a read_committed one): every answer kept per
 * (tenant, queryId), with the wall-clock time it first became visible. Not thread-safe.
 */
public final class AnswerLog implements AutoCloseable {
    /** How long {@link #await} waits. */
    public static final Duration TIMEOUT = Duration.ofSeconds(90);

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final AvroDecoder<Answer> decoder = new AvroDecoder<>(Answer.class);
    public final Map<String, List<Answer>> byQuery = new LinkedHashMap<>();
    public final Map<String, Long> visibleAt = new LinkedHashMap<>();

    public AnswerLog(KafkaConsumer<byte[], byte[]> consumer) {
        this.consumer = consumer;
    }

    public static String key(String tenant, String queryId) {
        return tenant + "/" + queryId;
    }

    public void poll(Duration timeout) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(timeout)) {
            long now = System.currentTimeMillis();
            Answer a;
            try {
                a = decoder.decode(r.value());
            } catch (InvalidRecordException e) {
                throw new AssertionError("not an Answer at offset " + r.offset() + ": " + e.getMessage());
            }
            String k = key(a.getTenant(), a.getQueryId());
            byQuery.computeIfAbsent(k, x -> new ArrayList<>()).add(a);
            visibleAt.putIfAbsent(k, now);
        }
    }

    /** Polls until every one of {@code keys} has an answer; returns the first answer of each. */
    public Map<String, Answer> await(List<String> keys) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!byQuery.keySet().containsAll(keys) && System.nanoTime() < deadline) {
            poll(Duration.ofMillis(100));
        }
        List<String> missing = keys.stream().filter(k -> !byQuery.containsKey(k)).toList();
        if (!missing.isEmpty()) {
            throw new AssertionError("no answer within " + TIMEOUT + " for " + missing);
        }
        Map<String, Answer> out = new LinkedHashMap<>();
        keys.forEach(k -> out.put(k, byQuery.get(k).get(0)));
        return out;
    }

    public Answer await(String tenant, String queryId) {
        return await(List.of(key(tenant, queryId))).get(key(tenant, queryId));
    }

    /** Keeps polling for {@code duration}, so that a duplicate committed later would be seen. */
    public void drain(Duration duration) {
        long end = System.nanoTime() + duration.toNanos();
        while (System.nanoTime() < end) {
            poll(Duration.ofMillis(100));
        }
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}
