package io.cmtstream.client;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.Query;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.ingest.InvalidRecordException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

/**
 * What a user of cmt-stream does from outside the job: publish documents and queries, read answers. Used by the
 * embedded default, the evaluation and the end-to-end tests, so they all go through the real topics.
 *
 * <p>Not thread-safe; one per thread.
 */
public final class CmtClient implements AutoCloseable {
    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaConsumer<byte[], byte[]> answers;
    private final String documentsTopic;
    private final String queriesTopic;
    private final AvroDecoder<Answer> answerDecoder = new AvroDecoder<>(Answer.class);

    /**
     * @param clientProperties Kafka client settings (bootstrap.servers, security) shared by producer and consumer
     */
    public CmtClient(Properties clientProperties, String documentsTopic, String queriesTopic, String answersTopic) {
        this.documentsTopic = documentsTopic;
        this.queriesTopic = queriesTopic;
        Properties p = new Properties();
        p.putAll(clientProperties);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        this.producer = new KafkaProducer<>(p);
        Properties c = new Properties();
        c.putAll(clientProperties);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "cmt-client-" + UUID.randomUUID());
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // Exactly-once answers are visible only once their transaction commits.
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.answers = new KafkaConsumer<>(c);
        this.answers.subscribe(List.of(answersTopic));
    }

    public void publish(Document document) {
        send(documentsTopic, document.getTenant() + "/" + document.getId(), AvroBytes.encode(document));
    }

    public void publish(Query query) {
        send(queriesTopic, query.getTenant() + "/" + query.getId(), AvroBytes.encode(query));
    }

    /** Sends raw bytes, e.g. to see a malformed record become a dead letter. */
    public void send(String topic, String key, byte[] value) {
        producer.send(new ProducerRecord<>(topic, key == null ? null : key.getBytes(StandardCharsets.UTF_8), value));
    }

    public void flush() {
        producer.flush();
    }

    /** Answers that arrived within {@code timeout}; an answer that cannot be decoded is an error of the job. */
    public List<Answer> pollAnswers(Duration timeout) {
        List<Answer> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> record : answers.poll(timeout)) {
            try {
                out.add(answerDecoder.decode(record.value()));
            } catch (InvalidRecordException e) {
                throw new IllegalStateException("answer at " + record.topic() + "/" + record.partition() + "@"
                        + record.offset() + " is not an Avro Answer: " + e.getMessage(), e);
            }
        }
        return out;
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
        answers.close(Duration.ofSeconds(5));
    }
}
