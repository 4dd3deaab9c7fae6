package io.cmtstream.model;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelRuntimeTest {

    private static final int L = 2;
    private static final int HIDDEN = 3;

    /** A fake model: keys are {length}, question states L x HIDDEN of the length; answers echo the memory count. */
    private static final class FakeModel implements CmtModel {
        final boolean hasReader;
        final List<Integer> documentBatches = new CopyOnWriteArrayList<>();
        final AtomicInteger closed = new AtomicInteger();

        FakeModel(boolean hasReader) {
            this.hasReader = hasReader;
        }

        @Override
        public ModelInfo info() {
            return new ModelInfo("fake", "v1", HIDDEN, 1, hasReader, 256, 64);
        }

        @Override
        public List<Encoding> encodeDocuments(List<String> texts) {
            documentBatches.add(texts.size());
            return encodeQueries(texts);
        }

        @Override
        public List<Encoding> encodeQueries(List<String> questions) {
            List<Encoding> out = new ArrayList<>();
            for (String q : questions) {
                float[] states = new float[hasReader ? L * HIDDEN : 0];
                java.util.Arrays.fill(states, q.length());
                out.add(new Encoding(new float[] {q.length()}, states, MemoryStates.NONE, q.length(), false));
            }
            return out;
        }

        @Override
        public List<String> answer(List<AnswerRequest> requests) {
            return requests.stream().map(r -> "memories=" + r.memories().size()).toList();
        }

        @Override
        public void close() {
            closed.incrementAndGet();
        }
    }

    private final List<ModelRuntime> opened = new ArrayList<>();

    private ModelRuntime acquire(ModelSpec spec, FakeModel model, AtomicInteger loads) {
        ModelRuntime runtime = ModelRuntime.acquire(spec, s -> {
            loads.incrementAndGet();
            return model;
        });
        opened.add(runtime);
        return runtime;
    }

    @AfterEach
    void releaseAll() {
        opened.forEach(ModelRuntime::close);
        assertEquals(0, ModelRuntime.loadedModels());
    }

    @Test
    void sharesOneModelPerDirectoryAndClosesItOnTheLastRelease() throws Exception {
        FakeModel model = new FakeModel(true);
        AtomicInteger loads = new AtomicInteger();
        ModelSpec spec = ModelSpec.of("models/fake");
        ModelRuntime first = acquire(spec, model, loads);
        ModelRuntime second = acquire(ModelSpec.of("models/../models/fake"), model, loads);
        assertEquals(1, loads.get());
        assertEquals(1, ModelRuntime.loadedModels());
        assertSame(first.info(), second.info());

        first.close();
        first.close();
        assertEquals(0, model.closed.get(), "released twice by one handle, still held by the other");
        assertEquals(4f, second.encodeQuery("four").get(5, TimeUnit.SECONDS).key()[0]);

        second.close();
        assertEquals(1, model.closed.get());
        assertEquals(0, ModelRuntime.loadedModels());

        ModelRuntime again = acquire(spec, model, loads);
        assertEquals(2, loads.get(), "a model released by everyone is loaded afresh");
        again.close();
    }

    @Test
    void batchesConcurrentCallersIntoOneModelCall() throws Exception {
        FakeModel model = new FakeModel(true);
        ModelSpec spec = ModelSpec.of("models/fake").withMaxBatchSize(4).withMaxBatchDelayMillis(10_000);
        List<ModelRuntime> slots = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            slots.add(acquire(spec, model, new AtomicInteger()));
        }
        List<CompletableFuture<Encoding>> futures = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ModelRuntime slot = slots.get(i);
            String text = "x".repeat(i + 1);
            futures.add(CompletableFuture.supplyAsync(() -> slot.encodeDocument(text)).thenCompose(f -> f));
        }
        for (int i = 0; i < 4; i++) {
            assertEquals(i + 1, futures.get(i).get(5, TimeUnit.SECONDS).tokenCount());
        }
        assertEquals(List.of(4), model.documentBatches);
        ModelRuntime.BatchStats stats = slots.get(0).stats().documents();
        assertEquals(List.of(1L, 4L, 0), List.of(stats.batches(), stats.items(), stats.queued()));
    }

    @Test
    void questionsAndAnswersDoNotWaitForCompanionsLikeDocumentsDo() throws Exception {
        // A batch delay of a minute: a document alone waits for it, a question or an answer alone must not.
        ModelRuntime runtime = acquire(ModelSpec.of("models/fake").withMaxBatchDelayMillis(60_000),
                new FakeModel(true), new AtomicInteger());
        CompletableFuture<Encoding> document = runtime.encodeDocument("waits");
        assertEquals(5, runtime.encodeQuery("quick").get(5, TimeUnit.SECONDS).tokenCount());
        float[] question = new float[L * HIDDEN];
        assertEquals("memories=1", runtime.answer(new AnswerRequest(question, List.of(memory(3))))
                .get(5, TimeUnit.SECONDS));
        assertFalse(document.isDone(), "the document should still wait for companions");
        runtime.close();
    }

    @Test
    void answersThroughTheReader() throws Exception {
        ModelRuntime runtime = acquire(ModelSpec.of("models/fake").withMaxBatchDelayMillis(0), new FakeModel(true),
                new AtomicInteger());
        float[] question = new float[L * HIDDEN];
        String answer = runtime.answer(new AnswerRequest(question, List.of(memory(3), memory(4))))
                .get(5, TimeUnit.SECONDS);
        assertEquals("memories=2", answer);
    }

    @Test
    void malformedAnswerRequestFailsAloneBeforeBatching() {
        ModelRuntime runtime = acquire(ModelSpec.of("models/fake"), new FakeModel(true), new AtomicInteger());
        float[] question = new float[L * HIDDEN];
        CompletableFuture<String> wrongWidth = runtime.answer(new AnswerRequest(new float[5], List.of()));
        CompletableFuture<String> memoryTooLong = runtime.answer(new AnswerRequest(question, List.of(memory(257))));
        assertTrue(wrongWidth.isCompletedExceptionally());
        assertTrue(memoryTooLong.isCompletedExceptionally());
        ExecutionException e = assertThrows(ExecutionException.class, wrongWidth::get);
        assertInstanceOf(IllegalArgumentException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("questionStates must hold 2 to 64 rows of 3 values, had 5 "
                + "values"), e.getCause().getMessage());
        e = assertThrows(ExecutionException.class, memoryTooLong::get);
        assertTrue(e.getCause().getMessage().contains("memory 0 must hold at most 256 rows"), e.getCause().getMessage());
    }

    @Test
    void retrievalOnlyModelRefusesToAnswer() {
        ModelRuntime runtime = acquire(ModelSpec.of("models/fake"), new FakeModel(false), new AtomicInteger());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> runtime.answer(new AnswerRequest(new float[0], List.of())).get());
        assertInstanceOf(UnsupportedOperationException.class, e.getCause());
    }

    @Test
    void failedLoadLeavesNothingBehind() {
        ModelLoadException failure = new ModelLoadException("model file models/x/reader.pt is missing");
        assertSame(failure, assertThrows(ModelLoadException.class, () -> ModelRuntime.acquire(
                ModelSpec.of("models/x"), s -> {
                    throw failure;
                })));
        assertEquals(0, ModelRuntime.loadedModels());
    }

    @Test
    void closedHandleFailsItsFutures() {
        FakeModel model = new FakeModel(true);
        ModelRuntime runtime = acquire(ModelSpec.of("models/fake"), model, new AtomicInteger());
        runtime.close();
        ExecutionException e = assertThrows(ExecutionException.class, () -> runtime.encodeQuery("q").get());
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals(1, model.closed.get());
    }

    @Test
    void realLoaderNamesTheMissingDirectory() {
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> ModelRuntime.acquire(ModelSpec.of("models/does-not-exist")));
        assertTrue(e.getMessage().contains("models/does-not-exist"), e.getMessage());
    }

    @Test
    void specRejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.of("m").withDevice("tpu"));
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.of("m").withBackboneEngine("tensorrt"));
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.of("m").withMaxBatchSize(0));
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.of("m").withMaxBatchDelayMillis(-1));
        assertThrows(IllegalArgumentException.class, () -> ModelSpec.of(" "));
    }

    /** A memory of {@code tokens} zero states. */
    private static MemoryStates memory(int tokens) {
        return new MemoryStates(new byte[tokens * HIDDEN], new float[tokens], new short[tokens]);
    }
}
