package io.cmtstream.client;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.Query;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;

/**
 * What a user of cmt-stream does from outside the job: publish documents and queries, ask a question and get its
 * answer. It needs only Kafka's clients, Avro and the generated schema classes (the {@code client} jar of the
 * build), not the Flink job.
 *
 * <ul>
 *   <li>{@link #publish(Document)} and {@link #publish(Query)} return the send future (acknowledged by all
 *       in-sync replicas);</li>
 *   <li>{@link #ask(Query)} publishes a query and returns a future completed by its own answer (matched by tenant
 *       and queryId, read with read_committed by a consumer of this client that starts at the answers topic's end,
 *       see {@link AnswerWaiter});</li>
 *   <li>{@link #pollAnswers(Duration)} reads every answer of the topic from its earliest offset, for tools and
 *       tests that account for all of them (the embedded default, the evaluation).</li>
 * </ul>
 *
 * <p>{@code publish} and {@code ask} are thread-safe; {@code pollAnswers} is for one thread.
 */
public final class CmtClient implements AutoCloseable {
    private final Properties clientProperties;
    private final KafkaProducer<byte[], byte[]> producer;
    private final String documentsTopic;
    private final String queriesTopic;
    private final String answersTopic;
    private KafkaConsumer<byte[], byte[]> allAnswers;
    private AnswerWaiter waiter;
    private boolean closed;

    /**
     * @param clientProperties Kafka client settings (bootstrap.servers, security) shared by producer and consumers
     */
    public CmtClient(Properties clientProperties, String documentsTopic, String queriesTopic, String answersTopic) {
        this.clientProperties = clientProperties;
        this.documentsTopic = documentsTopic;
        this.queriesTopic = queriesTopic;
        this.answersTopic = answersTopic;
        Properties p = new Properties();
        p.putAll(clientProperties);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        this.producer = new KafkaProducer<>(p);
    }

    public Future<RecordMetadata> publish(Document document) {
        return send(documentsTopic, document.getTenant() + "/" + document.getId(), AvroBytes.encode(document));
    }

    public Future<RecordMetadata> publish(Query query) {
        return send(queriesTopic, query.getTenant() + "/" + query.getId(), AvroBytes.encode(query));
    }

    /**
     * Publishes {@code query} and returns a future completed by its answer; it fails if the query cannot be sent
     * or this client closes first. It never times out by itself: bound the wait with
     * {@link CompletableFuture#orTimeout}. A query whose id this client is still waiting for is refused (the job
     * would make the second a dead letter, DUPLICATE_QUERY_ID).
     */
    public CompletableFuture<Answer> ask(Query query) {
        CompletableFuture<Answer> answer = waiter().expect(query.getTenant(), query.getId());
        producer.send(new ProducerRecord<>(queriesTopic, key(query.getTenant() + "/" + query.getId()),
                AvroBytes.encode(query)), (metadata, error) -> {
                    if (error != null) {
                        waiter.fail(query.getTenant(), query.getId(), error);
                    }
                });
        return answer;
    }

    /** Sends raw bytes, e.g. to see a malformed record become a dead letter. */
    public Future<RecordMetadata> send(String topic, String key, byte[] value) {
        return producer.send(new ProducerRecord<>(topic, key == null ? null : key(key), value));
    }

    public void flush() {
        producer.flush();
    }

    /**
     * Answers that arrived within {@code timeout}, read from the answers topic's earliest offset on; an answer that
     * cannot be decoded is an error of the job.
     */
    public List<Answer> pollAnswers(Duration timeout) {
        if (allAnswers == null) {
            allAnswers = AnswerWaiter.consumer(clientProperties, "earliest");
            allAnswers.subscribe(List.of(answersTopic));
        }
        List<Answer> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> record : allAnswers.poll(timeout)) {
            out.add(AnswerWaiter.decode(record));
        }
        return out;
    }

    private synchronized AnswerWaiter waiter() {
        if (closed) {
            throw new IllegalStateException("the client is closed");
        }
        if (waiter == null) {
            waiter = AnswerWaiter.start(clientProperties, answersTopic);
        }
        return waiter;
    }

    private static byte[] key(String key) {
        return key.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
        if (allAnswers != null) {
            allAnswers.close(Duration.ofSeconds(5));
        }
        synchronized (this) {
            closed = true;
            if (waiter != null) {
                waiter.close();
            }
        }
    }

    /** A consumer group id of its own for each consumer of a client: no client reads another's offsets. */
    static String groupId() {
        return "cmt-client-" + UUID.randomUUID();
    }

    static Properties consumerProperties(Properties clientProperties, String reset) {
        Properties c = new Properties();
        c.putAll(clientProperties);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, groupId());
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, reset);
        // Exactly-once answers are visible only once their transaction commits.
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return c;
    }
}
