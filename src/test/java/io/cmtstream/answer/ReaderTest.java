package io.cmtstream.answer;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.AnswerStatus;
import io.cmtstream.compress.EncodedQuery;
import io.cmtstream.memory.ListedOrderMerger;
import io.cmtstream.memory.MemoryHit;
import io.cmtstream.model.AnswerRequest;
import io.cmtstream.model.MemoryStates;
import io.cmtstream.model.ModelInfo;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReaderTest {
    private static final ModelInfo WITH_READER = new ModelInfo("m", "1", 2, 2, true, 256, 64);
    private static final ModelInfo RETRIEVAL_ONLY = new ModelInfo("m", "1", 2, 2, false, 256, 64);

    static RetrievedContext context(MemoryHit... hits) {
        EncodedQuery q = new EncodedQuery();
        q.tenant = "acme";
        q.queryId = "q1";
        q.askedAt = 1000;
        q.states = new float[] {0.5f, -1f, 0f, 2f};
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

    /** A hit with a memory of one token of two states. */
    private static MemoryHit hit(String docId, float score, float keyScore, byte state) {
        return new MemoryHit(docId, score, keyScore, new byte[] {state, 0}, new float[] {0.5f},
                new short[] {(short) (100 + state)});
    }

    @Test
    void readerGetsTheQuestionAndTheTopKMemoriesInOrder() {
        List<AnswerRequest> seen = new ArrayList<>();
        Reader reader = recording(seen);
        Answer a = reader.read(context(hit("d1", 0.9f, 0.9f, (byte) 1), hit("d2", 0.4f, 0.4f, (byte) 3))).join();
        assertEquals("Tesla", a.getAnswer());
        assertEquals(AnswerStatus.ANSWERED, a.getStatus());
        assertEquals(List.of("d1", "d2"), a.getEvidence().stream().map(e -> e.getDocId()).toList());
        assertArrayEquals(new float[] {0.5f, -1f, 0f, 2f}, seen.get(0).questionStates());
        MemoryStates second = seen.get(0).memories().get(1);
        assertArrayEquals(new byte[] {3, 0}, second.states());
        assertArrayEquals(new float[] {0.5f}, second.scales());
        assertArrayEquals(new short[] {103}, second.pieces());
        assertArrayEquals(new float[] {0.9f, 0.4f}, seen.get(0).matchScores(), "the prior of each memory's spans");
        assertEquals("m@1", a.getModelVersion());
    }

    @Test
    void theEvidenceShowsTheMatchScore() {
        // Matched dense + lexical (1.3) on a key cosine of 0.7: the evidence shows what ranked the memory.
        Answer a = recording(new ArrayList<>()).read(context(hit("d1", 1.3f, 0.7f, (byte) 1))).join();
        assertEquals(1.3f, a.getEvidence().get(0).getScore(), 1e-6);
    }

    @Test
    void aQueryReadInListedOrderShowsItsMemoriesInThatOrderWithTheClampedScores() {
        List<AnswerRequest> seen = new ArrayList<>();
        MemoryHit[] shard0 = {hit("gold", 0.9f, 0.8f, (byte) 1)};
        MemoryHit[] shard1 = {hit("other1", 0.5f, 0.5f, (byte) 2), hit("other2", 0.3f, 0.3f, (byte) 3)};
        RetrievedContext c = context(ListedOrderMerger.merge(List.of(shard0, shard1),
                new String[] {"other1", "other2", "gold"}, 3).toArray(new MemoryHit[0]));
        Answer a = recording(seen).read(c).join();
        assertEquals(List.of("other1", "other2", "gold"), a.getEvidence().stream().map(e -> e.getDocId()).toList());
        assertEquals(List.of(0.5f, 0.3f, 0.3f), a.getEvidence().stream().map(e -> e.getScore()).toList());
        assertArrayEquals(new float[] {0.5f, 0.3f, 0.3f}, seen.get(0).matchScores(), "the gold's prior ties, no more");
        assertArrayEquals(new byte[] {1, 0}, seen.get(0).memories().get(2).states(), "the gold's memory read third");
    }

    @Test
    void theAnswerNamesTheDocumentsChangedSinceAskedAtAndNoneWhenNoneDid() {
        RetrievedContext changed = context(hit("d1", 0.9f, 0.9f, (byte) 1));
        changed.changed = new String[] {"d4", "d9"};
        assertEquals(List.of("d4", "d9"), recording(new ArrayList<>()).read(changed).join().getChangedAfterAskedAt());
        assertEquals(List.of(), recording(new ArrayList<>()).read(context(hit("d1", 0.9f, 0.9f, (byte) 1))).join()
                .getChangedAfterAskedAt());
    }

    @Test
    void memoriesStoredWithoutStatesAreNotRead() {
        List<AnswerRequest> seen = new ArrayList<>();
        // state written under an older model contract: matched, shown as evidence, but nothing to read
        Answer a = recording(seen).read(context(new MemoryHit("old", 0.9f), hit("d2", 0.4f, 0.4f, (byte) 3)))
                .join();
        assertEquals(1, seen.get(0).memories().size());
        assertArrayEquals(new short[] {103}, seen.get(0).memories().get(0).pieces());
        assertArrayEquals(new float[] {0.4f}, seen.get(0).matchScores(), "scores stay with their memories");
        assertEquals(List.of("old", "d2"), a.getEvidence().stream().map(e -> e.getDocId()).toList());
    }

    @Test
    void retrievalOnlyModelGivesEvidenceAndNoMadeUpText() {
        Reader reader = new Reader(RETRIEVAL_ONLY, r -> {
            throw new AssertionError("no reader to call");
        });
        Answer a = reader.read(context(new MemoryHit("d1", 0.9f))).join();
        assertEquals("", a.getAnswer());
        assertEquals(AnswerStatus.NO_READER, a.getStatus());
        assertEquals("d1", a.getEvidence().get(0).getDocId());
    }

    @Test
    void tenantWithoutMemoriesGetsAnEmptyAnswerMarkedSoWithoutAModelCall() {
        Reader reader = new Reader(WITH_READER, r -> {
            throw new AssertionError("a span reader has nothing to read without memories");
        });
        Answer a = reader.read(context()).join();
        assertEquals(AnswerStatus.NO_MEMORY, a.getStatus());
        assertEquals("", a.getAnswer());
        assertTrue(a.getEvidence().isEmpty());
    }
}
