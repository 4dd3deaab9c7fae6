package io.cmtstream.answer;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.AnswerStatus;
import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.memory.MemoryHit;
import io.cmtstream.model.AnswerRequest;
import io.cmtstream.model.Float16;
import io.cmtstream.model.ModelInfo;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReaderTest {
    private static final ModelInfo WITH_READER = new ModelInfo("m", "1", 2, 2, 1, true, 256);
    private static final ModelInfo RETRIEVAL_ONLY = new ModelInfo("m", "1", 2, 2, 0, false, 256);

    static RetrievedContext context(MemoryHit... hits) {
        EncodedQuery q = new EncodedQuery();
        q.tenant = "acme";
        q.queryId = "q1";
        q.askedAt = 1000;
        q.tokens = new float[] {0.5f, -1f};
        RetrievedContext c = new RetrievedContext();
        c.query = q;
        c.hits = hits;
        return c;
    }

    /** A reader whose model answers "Tesla" and records the requests it was given into {@code seen}. */
    private static Reader recording(List<AnswerRequest> seen) {
        return new Reader(WITH_READER, r -> {
            seen.add(r);
            return CompletableFuture.completedFuture("Tesla");
        });
    }

    @Test
    void readerGetsTheQuestionAndTheTopKMemoriesInOrder() {
        List<AnswerRequest> seen = new ArrayList<>();
        Reader reader = recording(seen);
        Answer a = reader.read(context(new MemoryHit("d1", 0.9f, Float16.pack(new float[] {1f, 2f})),
                new MemoryHit("d2", 0.4f, Float16.pack(new float[] {3f, 4f})))).join();
        assertEquals("Tesla", a.getAnswer());
        assertEquals(AnswerStatus.ANSWERED, a.getStatus());
        assertEquals(List.of("d1", "d2"), a.getEvidence().stream().map(e -> e.getDocId()).toList());
        assertArrayEquals(new float[] {3f, 4f}, seen.get(0).memories().get(1));
        assertArrayEquals(new float[] {0.9f, 0.4f}, seen.get(0).scores());
        assertEquals("m@1", a.getModelVersion());
    }

    @Test
    void theRequestCarriesEachMemorysTermsInOrderUnknownOnesAsNull() {
        List<AnswerRequest> seen = new ArrayList<>();
        recording(seen).read(context(new MemoryHit("d1", 1.3f, 0.7f, Float16.pack(new float[] {1f, 2f}),
                new int[] {7, 9}), new MemoryHit("d2", 0.4f, Float16.pack(new float[] {3f, 4f})))).join();
        List<int[]> terms = seen.get(0).memoryTerms();
        assertEquals(2, terms.size());
        assertArrayEquals(new int[] {7, 9}, terms.get(0));
        assertNull(terms.get(1), "a memory without a lexical half");
    }

    @Test
    void theAggregatorReadsTheKeysCosineWhileTheEvidenceShowsTheMatchScore() {
        List<AnswerRequest> seen = new ArrayList<>();
        Reader reader = recording(seen);
        // Matched dense + lexical (1.3), but the aggregator was trained on the dense cosine (0.7).
        Answer a = reader.read(context(new MemoryHit("d1", 1.3f, 0.7f, Float16.pack(new float[] {1f, 2f})))).join();
        assertArrayEquals(new float[] {0.7f}, seen.get(0).scores());
        assertEquals(1.3f, a.getEvidence().get(0).getScore(), 1e-6);
    }

    @Test
    void retrievalOnlyModelGivesEvidenceAndNoMadeUpText() {
        Reader reader = new Reader(RETRIEVAL_ONLY, r -> {
            throw new AssertionError("no reader to call");
        });
        Answer a = reader.read(context(new MemoryHit("d1", 0.9f, new short[0]))).join();
        assertEquals("", a.getAnswer());
        assertEquals(AnswerStatus.NO_READER, a.getStatus());
        assertEquals("d1", a.getEvidence().get(0).getDocId());
    }

    @Test
    void tenantWithoutMemoriesGetsAClosedBookAnswerMarkedSo() {
        Reader reader = new Reader(WITH_READER, r -> {
            assertTrue(r.memories().isEmpty());
            return CompletableFuture.completedFuture("guess");
        });
        Answer a = reader.read(context()).join();
        assertEquals(AnswerStatus.NO_MEMORY, a.getStatus());
        assertTrue(a.getEvidence().isEmpty());
    }
}
