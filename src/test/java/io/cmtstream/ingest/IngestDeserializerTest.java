package io.cmtstream.ingest;

import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;
import io.cmtstream.avro.Query;
import io.cmtstream.client.AvroBytes;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IngestDeserializerTest {
    private static final IngestLimits LIMITS = new IngestLimits(1000, 100, 10);

    private final IngestDeserializer<Document> documents = new IngestDeserializer<>(Document.class,
            new DocumentValidator(LIMITS), d -> d.getPublishedAt().toEpochMilli(),
            TypeInformation.of(new TypeHint<Ingested<Document>>() {}));
    private final IngestDeserializer<Query> queries = new IngestDeserializer<>(Query.class,
            new QueryValidator(LIMITS), q -> q.getAskedAt().toEpochMilli(),
            TypeInformation.of(new TypeHint<Ingested<Query>>() {}));

    static Document.Builder doc() {
        return Document.newBuilder().setTenant("acme").setId("d1").setText("Some text.")
                .setPublishedAt(Instant.ofEpochMilli(1234)).setOp(DocumentOp.UPSERT);
    }

    static Query.Builder query() {
        return Query.newBuilder().setTenant("acme").setId("q1").setQuestion("Why?")
                .setAskedAt(Instant.ofEpochMilli(99));
    }

    private String reasonFor(Document d) {
        Ingested<Document> in = documents.ingest("documents", 0, 7, null, AvroBytes.encode(d));
        assertFalse(in.isValid(), "expected a dead letter");
        return in.deadLetter.getReason();
    }

    private String reasonFor(Query q) {
        Ingested<Query> in = queries.ingest("queries", 0, 7, null, AvroBytes.encode(q));
        assertFalse(in.isValid(), "expected a dead letter");
        return in.deadLetter.getReason();
    }

    @Test
    void validDocumentPassesWithItsPublishTimeAsEventTime() {
        Ingested<Document> in = documents.ingest("documents", 1, 2, null, AvroBytes.encode(doc().build()));
        assertTrue(in.isValid());
        assertEquals("d1", in.value.getId());
        assertEquals(1234, in.eventTime);
    }

    private static final long NOW = Instant.parse("2026-12-01T06:00:00Z").toEpochMilli();
    private static final long SKEW = 5 * 60_000L;
    private final IngestDeserializer<Document> clockedDocuments = new IngestDeserializer<>(Document.class,
            new DocumentValidator(new IngestLimits(1000, 100, 10, SKEW), () -> NOW),
            d -> d.getPublishedAt().toEpochMilli(), TypeInformation.of(new TypeHint<Ingested<Document>>() {}));
    private final IngestDeserializer<Query> clockedQueries = new IngestDeserializer<>(Query.class,
            new QueryValidator(new IngestLimits(1000, 100, 10, SKEW), () -> NOW),
            q -> q.getAskedAt().toEpochMilli(), TypeInformation.of(new TypeHint<Ingested<Query>>() {}));

    private Ingested<Document> publishedAt(long millis) {
        return clockedDocuments.ingest("documents", 0, 1, null,
                AvroBytes.encode(doc().setPublishedAt(Instant.ofEpochMilli(millis)).build()));
    }

    private Ingested<Query> askedAt(long millis) {
        return clockedQueries.ingest("queries", 0, 1, null,
                AvroBytes.encode(query().setAskedAt(Instant.ofEpochMilli(millis)).build()));
    }

    @Test
    void eventTimesBeyondTheAllowedSkewAreDeadLettersInTheFuture() {
        assertTrue(publishedAt(NOW + SKEW).isValid());
        assertTrue(askedAt(NOW + SKEW).isValid());
        assertEquals(NOW + SKEW, askedAt(NOW + SKEW).eventTime);
        for (long late : new long[] {NOW + SKEW + 1, NOW + 365L * 86_400_000L}) {
            Ingested<Document> d = publishedAt(late);
            assertFalse(d.isValid());
            assertTrue(d.deadLetter.getReason().startsWith("EVENT_TIME_IN_FUTURE: publishedAt"),
                    d.deadLetter.getReason());
            assertEquals(Long.MIN_VALUE, d.eventTime, "a refused document must not move the watermark");
            Ingested<Query> q = askedAt(late);
            assertFalse(q.isValid());
            assertTrue(q.deadLetter.getReason().startsWith("EVENT_TIME_IN_FUTURE: askedAt"), q.deadLetter.getReason());
        }
    }

    @Test
    void hostileEventTimesBecomeOneOutcomeAndNeverThrow() {
        // Long.MAX_VALUE is Flink's end of time; the past, however far, is a legal publication date.
        for (long t : new long[] {Long.MIN_VALUE, Long.MIN_VALUE + 1, -1, 0, Long.MAX_VALUE - 1, Long.MAX_VALUE}) {
            Ingested<Document> d = publishedAt(t);
            Ingested<Query> q = askedAt(t);
            assertEquals(t < NOW, d.isValid(), "publishedAt " + t);
            assertEquals(t < NOW, q.isValid(), "askedAt " + t);
            if (t < NOW) {
                assertEquals(t, d.eventTime);
                assertEquals(t, q.eventTime);
            } else {
                assertTrue(d.deadLetter.getReason().startsWith("EVENT_TIME_IN_FUTURE"), d.deadLetter.getReason());
                assertTrue(q.deadLetter.getReason().startsWith("EVENT_TIME_IN_FUTURE"), q.deadLetter.getReason());
            }
        }
    }

    @Test
    void hugeSkewSaturatesInsteadOfOverflowing() {
        IngestDeserializer<Query> lenient = new IngestDeserializer<>(Query.class,
                new QueryValidator(new IngestLimits(1000, 100, 10, Long.MAX_VALUE), () -> NOW),
                q -> q.getAskedAt().toEpochMilli(), TypeInformation.of(new TypeHint<Ingested<Query>>() {}));
        assertTrue(lenient.ingest("queries", 0, 1, null, AvroBytes.encode(
                query().setAskedAt(Instant.ofEpochMilli(Long.MAX_VALUE - 1)).build())).isValid());
        assertFalse(lenient.ingest("queries", 0, 1, null, AvroBytes.encode(
                query().setAskedAt(Instant.ofEpochMilli(Long.MAX_VALUE)).build())).isValid());
    }

    @Test
    void aCheckOrEventTimeThatThrowsBecomesADeadLetterNotAFailedSource() {
        IngestDeserializer<Query> throwingCheck = new IngestDeserializer<>(Query.class,
                q -> { throw new IllegalStateException("bug in a check"); },
                q -> q.getAskedAt().toEpochMilli(), TypeInformation.of(new TypeHint<Ingested<Query>>() {}));
        byte[] bytes = AvroBytes.encode(query().build());
        Ingested<Query> in = throwingCheck.ingest("queries", 1, 5, null, bytes);
        assertFalse(in.isValid());
        assertEquals("VALIDATION_ERROR: IllegalStateException: bug in a check", in.deadLetter.getReason());
        assertEquals(5, in.deadLetter.getOffset());
        assertArrayEquals(bytes, in.deadLetter.getPayload().array());

        IngestDeserializer<Query> throwingTime = new IngestDeserializer<>(Query.class, q -> q,
                q -> { throw new ArithmeticException("long overflow"); },
                TypeInformation.of(new TypeHint<Ingested<Query>>() {}));
        assertEquals("VALIDATION_ERROR: ArithmeticException: long overflow",
                throwingTime.ingest("queries", 0, 0, null, bytes).deadLetter.getReason());
    }

    @Test
    void garbageBytesBecomeADeadLetterWithTheirOriginAndRawBytes() {
        byte[] garbage = "not avro at all".getBytes(StandardCharsets.UTF_8);
        byte[] key = "k".getBytes(StandardCharsets.UTF_8);
        Ingested<Document> in = documents.ingest("documents", 3, 42, key, garbage);
        assertFalse(in.isValid());
        assertEquals(Long.MIN_VALUE, in.eventTime);
        assertEquals("documents", in.deadLetter.getTopic());
        assertEquals(3, in.deadLetter.getPartition());
        assertEquals(42, in.deadLetter.getOffset());
        assertTrue(in.deadLetter.getReason().startsWith("MALFORMED_AVRO"), in.deadLetter.getReason());
        assertArrayEquals(garbage, in.deadLetter.getPayload().array());
        assertArrayEquals(key, in.deadLetter.getKey().array());
    }

    @Test
    void emptyValueIsMalformed() {
        assertTrue(documents.ingest("documents", 0, 0, null, new byte[0]).deadLetter.getReason()
                .startsWith("MALFORMED_AVRO"));
        assertTrue(documents.ingest("documents", 0, 0, null, null).deadLetter.getReason()
                .startsWith("MALFORMED_AVRO"));
    }

    @Test
    void recordOfAnotherSchemaIsRefused() {
        // A Query on the documents topic: it either fails to parse or leaves bytes over; both are dead letters.
        Ingested<Document> in = documents.ingest("documents", 0, 0, null, AvroBytes.encode(query().build()));
        assertFalse(in.isValid());
        assertTrue(in.deadLetter.getReason().matches("(MALFORMED_AVRO|WRONG_SCHEMA|MISSING_FIELD|EMPTY_TEXT|BAD_TENANT).*"),
                in.deadLetter.getReason());
    }

    @Test
    void aDocumentOnTheQueriesTopicIsRefused() {
        // Neither title nor source: had Query.readOrder been appended, the UPSERT would read as a valid Query.
        for (DocumentOp op : DocumentOp.values()) {
            Ingested<Query> in = queries.ingest("queries", 0, 0, null,
                    AvroBytes.encode(doc().setPublishedAt(Instant.ofEpochMilli(1_700_000_000_000L)).setOp(op).build()));
            assertFalse(in.isValid(), op.name());
            assertTrue(in.deadLetter.getReason().startsWith("MALFORMED_AVRO"), in.deadLetter.getReason());
        }
    }

    @Test
    void aQueryWrittenWithoutReadOrderIsADeadLetterNotAnotherQuery() {
        // Plain Avro carries no writer schema: a client on the schema before readOrder is refused, never misread.
        byte[] old = new HostileRecords.Out().string("acme").string("q1").string("Why?").varint(1_700_000_000_000L)
                .varint(0).varint(0).bytes();
        Ingested<Query> in = queries.ingest("queries", 0, 0, null, old);
        assertFalse(in.isValid());
        String reason = in.deadLetter.getReason();
        assertTrue(reason.startsWith("MALFORMED_AVRO") && reason.contains("readOrder"), reason);
    }

    @Test
    void documentFieldRulesEachHaveTheirReason() {
        assertTrue(reasonFor(doc().setText("  ").build()).startsWith("EMPTY_TEXT"));
        assertTrue(reasonFor(doc().setText("x".repeat(1001)).build()).startsWith("TEXT_TOO_LONG"));
        assertTrue(reasonFor(doc().setTenant("").build()).startsWith("MISSING_FIELD"));
        assertTrue(reasonFor(doc().setTenant("a/b").build()).startsWith("BAD_TENANT"));
        assertTrue(reasonFor(doc().setId("").build()).startsWith("MISSING_FIELD"));
        assertTrue(reasonFor(doc().setText("bad \uFFFD bytes").build()).startsWith("INVALID_UTF8"));
    }

    @Test
    void deleteNeedsNoText() {
        Ingested<Document> in = documents.ingest("documents", 0, 0, null,
                AvroBytes.encode(doc().setText("").setOp(DocumentOp.DELETE).build()));
        assertTrue(in.isValid());
    }

    @Test
    void bytesThatAreNotUtf8AreRefused() {
        byte[] good = AvroBytes.encode(doc().setText("caf\u00e9 text").build());
        // Replace the two UTF-8 bytes of 'é' with a lone continuation byte pair that is not valid UTF-8.
        String hex = java.util.HexFormat.of().formatHex(good);
        byte[] bad = java.util.HexFormat.of().parseHex(hex.replace("c3a9", "ff80"));
        Ingested<Document> in = documents.ingest("documents", 0, 0, null, bad);
        assertFalse(in.isValid());
        assertTrue(in.deadLetter.getReason().startsWith("INVALID_UTF8"), in.deadLetter.getReason());
    }

    @Test
    void queryTopKMustBeWithinBounds() {
        assertTrue(reasonFor(query().setTopK(0).build()).startsWith("BAD_TOP_K"));
        assertTrue(reasonFor(query().setTopK(11).build()).startsWith("BAD_TOP_K"));
        assertTrue(reasonFor(query().setQuestion("").build()).startsWith("EMPTY_TEXT"));
        assertTrue(reasonFor(query().setRestrictTo(java.util.List.of("")).build()).startsWith("BAD_RESTRICTION"));
        assertTrue(queries.ingest("queries", 0, 0, null,
                AvroBytes.encode(query().setRestrictTo(java.util.List.of()).build())).isValid());
        assertTrue(queries.ingest("queries", 0, 0, null, AvroBytes.encode(query().setTopK(10).build())).isValid());
    }
}
