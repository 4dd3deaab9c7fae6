package io.cmtstream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.cmtstream.model.ParityITCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trained-model path (key head and span reader through DJL's PyTorch engine, the backbone's memory layer
 * through ONNX Runtime) on a tiny random model traced with Debian's torch 1.13
 * (src/test/resources/models/tiny-random/make_tiny_random.py): shapes, the memory's storage, padding and batching
 * of reader rows, span answers copied from a memory, parity with PyTorch on the traced files (each head given the
 * de-quantised weights of its {@code weights} method), and the start failing on a head without that method.
 */
class TinyModelITCase {

    private static final Path TINY = Path.of("src/test/resources/models/tiny-random");
    private static final int H = 384;

    private static DjlCmtModel model;
    private static JsonNode expected;

    @BeforeAll
    static void load() throws IOException {
        model = DjlCmtModel.load(TINY, "cpu");
        expected = new ObjectMapper().readTree(TINY.resolve("expected.json").toFile());
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void torchScriptOutputsMatchPyTorch() {
        JsonNode c = expected.get("compressor");
        float[] hidden = floats(c.get("hidden"));
        float[] mask = floats(c.get("mask"));
        int length = mask.length;
        int real = 0;
        for (float m : mask) {
            real += m > 0 ? 1 : 0;
        }
        long[] ids = new long[real];
        for (int i = 0; i < real; i++) {
            ids[i] = c.get("ids").get(i).asLong();
        }
        // The row's ids make both the key head's token-id input and, by their count, its mask.
        Tokenized tokens = new Tokenized(new long[][] {ids}, new short[][] {new short[real]}, length,
                new int[] {real}, new boolean[] {false});
        assertClose(floats(c.get("key")), model.keys(hidden, tokens), "key");

        JsonNode r = expected.get("reader");
        List<SpanReader.Logits> logits = model.readerLogits(List.of(new SpanReader.Row(floats(r.get("question")),
                floats(r.get("memory")))));
        assertClose(floats(r.get("start")), logits.get(0).start(), "start logits");
        assertClose(floats(r.get("end")), logits.get(0).end(), "end logits");
    }

    @Test
    void encodingsHaveTheModelsShapes() {
        ModelInfo info = model.info();
        assertEquals(64, info.keyDim());
        String text = "Where did the black death originate?";
        Encoding question = model.encodeQueries(List.of(text)).get(0);
        assertEquals(64, question.key().length);
        assertEquals(1.0, Math.sqrt(DjlCmtModelITCase.dot(question.key(), question.key())), 1e-5);
        // [CLS] where did the black death originate ? [SEP]
        assertEquals(9 * H, question.states().length, "a question keeps its states, float");
        assertEquals(0, question.memory().tokens());

        Encoding document = model.encodeDocuments(List.of(text)).get(0);
        MemoryStates memory = document.memory();
        assertEquals(0, document.states().length);
        assertEquals(9, memory.tokens(), "one state per real token, [CLS] and [SEP] included");
        assertEquals(9 * H, memory.states().length);
        assertEquals(101, Pieces.id(memory.pieces()[0]));
        assertEquals(102, Pieces.id(memory.pieces()[8]));
        assertFalse(Pieces.startsChunk(memory.pieces()[0]));
        assertTrue(Pieces.startsChunk(memory.pieces()[1]), "where");
        assertFalse(Pieces.startsChunk(memory.pieces()[7]), "? sticks to originate");
        // the document's memory is the question's states, int8 per token: off by at most half a step
        float[] states = question.states();
        float[] read = memory.dequantize();
        for (int i = 0; i < states.length; i++) {
            float step = memory.scales()[i / H];
            assertEquals(states[i], read[i], step / 2 + 1e-3f * step, "state " + i);
        }
    }

    @Test
    void paddingInABatchChangesNoEncoding() {
        String shortText = "Oxygen is a chemical element.";
        String longText = "Oxygen is a chemical element with symbol O and atomic number 8. It is a member of the "
                + "chalcogen group on the periodic table and is a highly reactive nonmetal and oxidizing agent.";
        Encoding alone = model.encodeDocuments(List.of(shortText)).get(0);
        Encoding padded = model.encodeDocuments(List.of(longText, shortText)).get(1);
        assertArrayEquals(alone.key(), padded.key(), 1e-4f);
        assertArrayEquals(alone.memory().pieces(), padded.memory().pieces());
        assertArrayEquals(alone.memory().dequantize(), padded.memory().dequantize(), 0.02f);
    }

    @Test
    void truncatedDocumentsKeepSepAsTheirLastPiece() {
        Encoding e = model.encodeDocuments(List.of("oxygen ".repeat(300))).get(0);
        assertTrue(e.truncated());
        assertEquals(model.config().maxDocumentTokens(), e.memory().tokens());
        assertEquals(102, Pieces.id(e.memory().pieces()[e.memory().tokens() - 1]));
    }

    @Test
    void answersAreSpansOfAMemoryAndClosedBookIsEmpty() {
        Encoding question = model.encodeQueries(List.of("Which element?")).get(0);
        Encoding document = model.encodeDocuments(List.of("Oxygen is a chemical element.")).get(0);
        String answer = model.answer(List.of(new AnswerRequest(question.states(), List.of(document.memory())))).get(0);
        assertFalse(answer.isEmpty());
        assertTrue("oxygen is a chemical element.".contains(answer), "'" + answer + "' is no span of the text");
        assertEquals("", model.answer(List.of(new AnswerRequest(question.states(), List.of()))).get(0));
    }

    @Test
    void batchedAnswersEqualSingleAnswersWhateverTheirMemoryCounts() {
        List<Encoding> texts = model.encodeDocuments(List.of("first document", "second document about oxygen",
                "third, about the black death in 1347 (a plague)", "fourth"));
        List<Encoding> questions = model.encodeQueries(List.of("which?", "what is the second about?",
                "when did the black death come?", "and the fourth?"));
        List<AnswerRequest> requests = new ArrayList<>();
        for (int q = 0; q < texts.size(); q++) {
            List<MemoryStates> memories = new ArrayList<>();
            for (int j = 0; j < q; j++) {
                memories.add(texts.get((q + j) % texts.size()).memory());
            }
            requests.add(new AnswerRequest(questions.get(q).states(), memories));
        }
        List<String> batched = model.answer(requests);
        assertEquals("", batched.get(0), "closed book");
        for (int q = 0; q < requests.size(); q++) {
            assertEquals(model.answer(List.of(requests.get(q))).get(0), batched.get(q), "request " + q);
        }
    }

    @Test
    void readerLogitsDoNotDependOnTheBatchsPadding() {
        Encoding q1 = model.encodeQueries(List.of("a short one?")).get(0);
        Encoding q2 = model.encodeQueries(List.of("a much longer question about the black death and its origins?"))
                .get(0);
        float[] m1 = model.encodeDocuments(List.of("Oxygen is an element.")).get(0).memory().dequantize();
        float[] m2 = model.encodeDocuments(List.of("The Black Death was a bubonic plague pandemic in Eurasia "
                + "from 1346 to 1353.")).get(0).memory().dequantize();
        SpanReader.Logits alone = model.readerLogits(List.of(new SpanReader.Row(q1.states(), m1))).get(0);
        List<SpanReader.Logits> together = model.readerLogits(List.of(new SpanReader.Row(q2.states(), m2),
                new SpanReader.Row(q1.states(), m1)));
        assertClose(alone.start(), together.get(1).start(), "start logits, padded question and memory");
        assertClose(alone.end(), together.get(1).end(), "end logits, padded question and memory");
        assertEquals(m2.length / H, together.get(0).start().length);
    }

    @Test
    void manyRowsAreSplitIntoCallsOfBoundedSize() {
        Encoding q = model.encodeQueries(List.of("what is it?")).get(0);
        MemoryStates m = model.encodeDocuments(List.of("word ".repeat(120))).get(0).memory();
        int rows = SpanReader.MAX_BATCH_TOKENS / (m.tokens() + q.states().length / H) + 3;
        List<SpanReader.Row> many = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            many.add(new SpanReader.Row(q.states(), m.dequantize()));
        }
        List<SpanReader.Logits> logits = model.readerLogits(many);
        assertEquals(rows, logits.size());
        assertArrayEquals(logits.get(0).start(), logits.get(rows - 1).start(), 1e-4f);
    }

    @Test
    void sharedRuntimeAnswersConcurrentRequestsInBatches() throws Exception {
        ModelSpec spec = ModelSpec.of(TINY.toString()).withDevice("cpu").withMaxBatchDelayMillis(100);
        try (ModelRuntime runtime = ModelRuntime.acquire(spec)) {
            Encoding document = runtime.encodeDocument("Oxygen is a chemical element.").get(60, TimeUnit.SECONDS);
            List<CompletableFuture<Encoding>> questions = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                questions.add(runtime.encodeQuery("question " + i));
            }
            List<AnswerRequest> requests = new ArrayList<>();
            for (CompletableFuture<Encoding> question : questions) {
                requests.add(new AnswerRequest(question.get(60, TimeUnit.SECONDS).states(),
                        List.of(document.memory())));
            }
            List<CompletableFuture<String>> answers = new ArrayList<>();
            for (AnswerRequest request : requests) {
                answers.add(runtime.answer(request));
            }
            for (CompletableFuture<String> answer : answers) {
                answer.get(60, TimeUnit.SECONDS);
            }
            assertEquals(6, runtime.stats().answers().items());
            assertTrue(runtime.stats().answers().batches() < 6);
            assertTrue(runtime.stats().queries().batches() < 6);
        }
    }

    @Test
    void headWithoutWeightsMethodFailsTheStartNamingIt(@TempDir Path dir) throws IOException {
        for (String file : new String[] {"model.json", "embeddings.pt", "compressor.pt", "reader.pt"}) {
            Files.copy(TINY.resolve(file), dir.resolve(file));
        }
        // A TorchScript module with a forward but no weights method.
        Files.copy(TINY.resolve("embeddings.pt"), dir.resolve("reader.pt"), StandardCopyOption.REPLACE_EXISTING);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> DjlCmtModel.load(dir, "cpu"));
        assertTrue(e.getMessage().startsWith("cannot load " + dir.resolve("reader.pt") + ": its weights method "
                + "failed"), e.getMessage());
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).asDouble();
        }
        return out;
    }
}
