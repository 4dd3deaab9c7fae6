package io.cmtstream.answer;

import io.cmtstream.avro.Query;
import io.cmtstream.avro.ReadOrder;
import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.compress.ModelCallGuard;
import io.cmtstream.ingest.AvroDecoder;
import io.cmtstream.memory.MemoryHit;
import io.cmtstream.model.ModelSpec;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** What a MODEL_ERROR dead letter of the read stage carries: the query as it was asked, rebuilt. */
class ReadAnswersTest {
    private final ReadAnswers read = new ReadAnswers(ModelSpec.of("models/none"),
            new ModelCallGuard.Settings(3, 1000, 100, 10), "queries");

    private static RetrievedContext context(String[] restrictTo) {
        EncodedQuery q = new EncodedQuery();
        q.tenant = "acme";
        q.queryId = "q-7";
        q.question = "Who lit the lamp?";
        q.askedAt = 1_732_000_000_123L;
        q.topK = 3;
        q.restrictTo = restrictTo;
        q.key = new float[] {1f};
        RetrievedContext c = new RetrievedContext();
        c.query = q;
        c.hits = new MemoryHit[0];
        return c;
    }

    @Test
    void aDeadLetterOfTheReadStageCarriesTheQueryAsItWasAsked() throws Exception {
        RetrievedContext c = context(new String[] {"doc-1", "doc-2"});
        Query q = new AvroDecoder<>(Query.class).decode(read.payload(c));
        assertEquals("acme", q.getTenant());
        assertEquals("q-7", q.getId());
        assertEquals("Who lit the lamp?", q.getQuestion());
        assertEquals(Instant.ofEpochMilli(1_732_000_000_123L), q.getAskedAt());
        assertEquals(3, q.getTopK());
        assertEquals(List.of("doc-1", "doc-2"), q.getRestrictTo());
        assertNull(q.getReadOrder(), "read by match score, as asked");
        assertEquals("acme/q-7", read.deadLetterKey(c));
    }

    @Test
    void aDeadLetterOfAQueryReadInListedOrderStillAsksForIt() throws Exception {
        RetrievedContext c = context(new String[] {"doc-2", "doc-1"});
        c.query.readInListedOrder = true;
        Query q = new AvroDecoder<>(Query.class).decode(read.payload(c));
        assertEquals(ReadOrder.LISTED, q.getReadOrder());
        assertEquals(List.of("doc-2", "doc-1"), q.getRestrictTo());
    }

    @Test
    void aQueryOverTheWholeBankStaysUnrestricted() throws Exception {
        Query q = new AvroDecoder<>(Query.class).decode(read.payload(context(null)));
        assertNull(q.getRestrictTo());
    }
}
