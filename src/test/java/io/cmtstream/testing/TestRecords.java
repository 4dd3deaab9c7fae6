package io.cmtstream.testing;

import io.cmtstream.avro.DeadLetter;
import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;
import io.cmtstream.avro.Query;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.ingest.InvalidRecordException;

import java.time.Instant;

/** The end-to-end tests' records: documents, deletes and queries as a producer writes them, dead letters read back. */
public final class TestRecords {
    private TestRecords() {}

    public static Document document(String tenant, String id, String text) {
        return document(tenant, id, text, Instant.now());
    }

    public static Document document(String tenant, String id, String text, Instant publishedAt) {
        return Document.newBuilder().setTenant(tenant).setId(id).setText(text).setOp(DocumentOp.UPSERT)
                .setPublishedAt(publishedAt).build();
    }

    public static Document delete(String tenant, String id) {
        return Document.newBuilder().setTenant(tenant).setId(id).setText("").setOp(DocumentOp.DELETE)
                .setPublishedAt(Instant.now()).build();
    }

    public static Query query(String tenant, String id, String question, Integer topK) {
        return Query.newBuilder().setTenant(tenant).setId(id).setQuestion(question).setTopK(topK)
                .setAskedAt(Instant.now()).build();
    }

    public static DeadLetter decodeDeadLetter(byte[] bytes) {
        try {
            return new AvroDecoder<>(DeadLetter.class).decode(bytes);
        } catch (InvalidRecordException e) {
            throw new AssertionError("dead letter is not an Avro DeadLetter: " + e.getMessage(), e);
        }
    }
}
