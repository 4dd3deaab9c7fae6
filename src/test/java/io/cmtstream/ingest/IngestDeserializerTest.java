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
