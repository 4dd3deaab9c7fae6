package io.cmtstream.bench;

import io.cmtstream.app.CmtStreamOptions;
import io.cmtstream.app.EmbeddedCluster;
import io.cmtstream.avro.Answer;
import io.cmtstream.avro.DeadLetter;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;
import io.cmtstream.avro.Query;
import io.cmtstream.client.CmtClient;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.ingest.InvalidRecordException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.utils.Utils;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A query flood through the whole job (issue 17, item 9): the document watermark is held back (no document, a long
 * idle timeout), one tenant publishes {@code queries} questions at once, then one document on every partition of
 * the documents topic moves the watermark past them all. Counts, per query, its one outcome (an answer or an
 * {@code OVERLOADED} dead letter) and the heap while the flood is held and after it has drained.
 */
final class FloodBench {
    static final String TENANT = "flood";

    record Result(int sent, int cap, int overloaded, int answered, int otherDeadLetters, int withoutOutcome,
                  int withTwoOutcomes, double publishSeconds, double refusedSeconds, double drainSeconds,
                  long heapBeforeMiB, long heapHeldMiB, long heapAfterMiB) {
        String toMarkdown() {
            return String.format("%n## Query flood through the job%n%n"
                            + "One tenant publishes %d questions while the document watermark is held back, then one "
                            + "document per documents partition releases it (docs/RELIABILITY.md, section 13).%n%n"
                            + "| measure | value |%n|---|---:|%n"
                            + "| queries published | %d |%n| cap (`cmt.query.max-pending`) | %d |%n"
                            + "| OVERLOADED dead letters | %d |%n| answered after the release | %d |%n"
                            + "| other dead letters | %d |%n| queries with no outcome | %d |%n"
                            + "| queries with two outcomes | %d |%n| publishing the flood (s) | %.1f |%n"
                            + "| until every refusal was out (s, from the first query) | %.1f |%n"
                            + "| drain: release to the last answer (s) | %.1f |%n"
                            + "| heap after GC: before / flood held / drained (MiB) | %d / %d / %d |%n",
                    sent, sent, cap, overloaded, answered, otherDeadLetters, withoutOutcome, withTwoOutcomes,
                    publishSeconds, refusedSeconds, drainSeconds, heapBeforeMiB, heapHeldMiB, heapAfterMiB);
        }
    }

    private FloodBench() {}

    static Result run(Map<String, String> options, int queries, List<String> questions, PrintStream out)
            throws Exception {
        Map<String, String> o = new HashMap<>(options);
        // Held back: no document arrives, and a partition counts as quiet only after this long.
        o.put("cmt.watermark.idle-timeout", "60 min");
        o.put("cmt.watermark.out-of-orderness", "0 ms");
        try (EmbeddedCluster cluster = EmbeddedCluster.start(o, false); CmtClient client = cluster.client();
             KafkaConsumer<byte[], byte[]> deadLetters = consumer(cluster)) {
            int cap = cluster.configuration().get(CmtStreamOptions.MAX_PENDING);
            String documentsTopic = cluster.configuration().get(CmtStreamOptions.DOCUMENTS_TOPIC);
            deadLetters.subscribe(List.of(cluster.configuration().get(CmtStreamOptions.DEAD_LETTERS_TOPIC)));
            long heapBefore = heapAfterGcMiB();

            long started = System.nanoTime();
            Instant askedAt = Instant.now();
            for (int i = 0; i < queries; i++) {
                client.publish(Query.newBuilder().setTenant(TENANT).setId("f-" + i)
                        .setQuestion(questions.get(i % questions.size())).setAskedAt(askedAt).build());
            }
            client.flush();
            double publishSeconds = (System.nanoTime() - started) / 1e9;
            out.printf("flood: %d queries published in %.1f s%n", queries, publishSeconds);

            Tally tally = new Tally();
            int expectRefused = Math.max(0, queries - cap);
            long deadline = System.nanoTime() + Duration.ofMinutes(20).toNanos();
            while (tally.overloaded < expectRefused && System.nanoTime() < deadline) {
                tally.deadLetters(deadLetters.poll(Duration.ofMillis(500)));
            }
            double refusedSeconds = (System.nanoTime() - started) / 1e9;
            int answeredWhileHeld = tally.answers(client.pollAnswers(Duration.ofSeconds(1)));
            long heapHeld = heapAfterGcMiB();
            out.printf("flood: %d OVERLOADED after %.1f s, %d answered while held, heap %d MiB%n", tally.overloaded,
                    refusedSeconds, answeredWhileHeld, heapHeld);

            long released = System.nanoTime();
            int partitions = deadLetters.partitionsFor(documentsTopic).size();
            for (int p = 0; p < partitions; p++) {
                Document d = Document.newBuilder().setTenant(TENANT).setId("release-" + p)
                        .setText("The flood is released by this document.").setOp(DocumentOp.UPSERT)
                        .setPublishedAt(Instant.now().plusSeconds(1)).build();
                client.send(documentsTopic, keyOnPartition(TENANT + "/release-", p, partitions),
                        AvroBytes.encode(d));
            }
            client.flush();
            long lastAnswer = released;
            deadline = System.nanoTime() + Duration.ofMinutes(60).toNanos();
            while (tally.outcomes.size() < queries && System.nanoTime() < deadline) {
                if (tally.answers(client.pollAnswers(Duration.ofMillis(500))) > 0) {
                    lastAnswer = System.nanoTime();
                }
                tally.deadLetters(deadLetters.poll(Duration.ofMillis(500)));
            }
            // Later duplicates would show here.
            tally.answers(client.pollAnswers(Duration.ofSeconds(5)));
            tally.deadLetters(deadLetters.poll(Duration.ofMillis(500)));
            long heapAfter = heapAfterGcMiB();
            int withoutOutcome = queries - tally.outcomes.size();
            int twice = (int) tally.outcomes.values().stream().filter(n -> n > 1).count();
            Result r = new Result(queries, cap, tally.overloaded, tally.answered, tally.otherDeadLetters,
                    withoutOutcome, twice,
                    publishSeconds, refusedSeconds, (lastAnswer - released) / 1e9, heapBefore, heapHeld, heapAfter);
            out.println("flood: " + r);
            return r;
        }
    }

    /** Each flood query's outcomes, by query id: its answers and its OVERLOADED dead letters. */
    private static final class Tally {
        final Map<String, Integer> outcomes = new HashMap<>();
        final AvroDecoder<DeadLetter> letters = new AvroDecoder<>(DeadLetter.class);
        final AvroDecoder<Query> refusedQueries = new AvroDecoder<>(Query.class);
        int answered;
        int overloaded;
        int otherDeadLetters;

        /** Counts the answers of the flood's tenant; returns how many there were. */
        int answers(List<Answer> answers) {
            int n = 0;
            for (Answer a : answers) {
                if (TENANT.equals(a.getTenant()) && a.getQueryId().startsWith("f-")) {
                    outcomes.merge(a.getQueryId(), 1, Integer::sum);
                    n++;
                }
            }
            answered += n;
            return n;
        }

        void deadLetters(Iterable<ConsumerRecord<byte[], byte[]>> records) throws InvalidRecordException {
            for (ConsumerRecord<byte[], byte[]> r : records) {
                DeadLetter d = letters.decode(r.value());
                if (d.getReason().startsWith("OVERLOADED") && d.getPayload() != null) {
                    byte[] payload = new byte[d.getPayload().remaining()];
                    d.getPayload().duplicate().get(payload);
                    outcomes.merge(refusedQueries.decode(payload).getId(), 1, Integer::sum);
                    overloaded++;
                } else {
                    otherDeadLetters++;
                }
            }
        }
    }

    /** A key that Kafka's default partitioner puts on {@code partition}. */
    static String keyOnPartition(String prefix, int partition, int partitions) {
        for (int i = 0; ; i++) {
            String key = prefix + i;
            byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
            if (Utils.toPositive(Utils.murmur2(bytes)) % partitions == partition) {
                return key;
            }
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer(EmbeddedCluster cluster) {
        Map<String, Object> c = new HashMap<>();
        c.put("bootstrap.servers", cluster.bootstrapServers());
        c.put("group.id", "flood-bench-" + System.nanoTime());
        c.put("auto.offset.reset", "earliest");
        c.put("isolation.level", "read_committed");
        return new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private static long heapAfterGcMiB() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20;
    }
}
