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
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.cmtstream.model.ParityITCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trained-model path (compressor head, aggregator, reader through DJL's PyTorch engine) on a tiny random model
 * traced with Debian's torch 1.13 (src/test/resources/models/tiny-random/make_tiny_random.py): shapes, masking,
 * padding of k, batching and cached greedy decoding, parity with PyTorch on the traced files (each head given the
 * de-quantised weights of its {@code weights} method), and the start failing on a head without that method.
 */
class TinyModelITCase {

    private static final Path TINY = Path.of("src/test/resources/models/tiny-random");

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
        // The row's ids make both the compressor's token-id input and, by their count, its mask.
        DjlCmtModel.Tokenized tokens = new DjlCmtModel.Tokenized(new long[][] {ids}, length,
                new int[] {real}, new boolean[] {false});
        DjlCmtModel.Compressed compressed = model.compress(hidden, tokens);
        assertClose(floats(c.get("memory")), compressed.memory(), "memory tokens");
        assertClose(floats(c.get("key")), compressed.keys(), "key");

        JsonNode a = expected.get("aggregator");
        int width = model.info().memoryTokens() * model.info().hiddenDim();
        float[] all = floats(a.get("memories"));
        List<float[]> memories = List.of(Arrays.copyOfRange(all, 0, width), Arrays.copyOfRange(all, width, 2 * width));
        AnswerRequest request = new AnswerRequest(floats(a.get("query")), memories, floats(a.get("scores")));
        float[] prompt = model.aggregate(List.of(request));
        assertClose(floats(a.get("prompt")), prompt, "soft prompt");

        JsonNode r = expected.get("reader");
        long[] answer = new long[r.get("answer").size()];
        for (int i = 0; i < answer.length; i++) {
            answer[i] = r.get("answer").get(i).asLong();
        }
        assertClose(floats(r.get("logits")), model.readerLogits(prompt, new long[][] {answer}), "logits");
    }

    @Test
    void keysHaveTheModelsKeyWidthAndUnitLength() {
        ModelInfo info = model.info();
        assertEquals(64, info.keyDim());
        assertEquals(2, info.memoryTokens());
        Encoding e = model.encodeQueries(List.of("Where did the black death originate?")).get(0);
        assertEquals(64, e.key().length);
        assertEquals(2 * 384, e.memoryTokens().length);
        assertEquals(1.0, Math.sqrt(DjlCmtModelITCase.dot(e.key(), e.key())), 1e-5);
    }

    @Test
    void paddingInABatchDoesNotChangeMemoryOrKey() {
        String shortText = "Oxygen is a chemical element.";
        String longText = "Oxygen is a chemical element with symbol O and atomic number 8. It is a member of the "
                + "chalcogen group on the periodic table and is a highly reactive nonmetal and oxidizing agent.";
        Encoding alone = model.encodeDocuments(List.of(shortText)).get(0);
        Encoding padded = model.encodeDocuments(List.of(longText, shortText)).get(1);
        assertArrayEquals(alone.key(), padded.key(), 1e-4f);
        assertArrayEquals(alone.memoryTokens(), padded.memoryTokens(), 1e-4f);
    }

    @Test
    void batchedAnswersEqualSingleAnswersWhateverTheirMemoryCounts() {
        List<Encoding> texts = model.encodeDocuments(List.of("first document", "second document about oxygen",
                "third, about the black death", "fourth"));
        List<AnswerRequest> requests = new ArrayList<>();
        for (int q = 0; q < texts.size(); q++) {
            List<float[]> memories = new ArrayList<>();
            float[] scores = new float[q];
            for (int j = 0; j < q; j++) {
                memories.add(texts.get(j).memoryTokens());
                scores[j] = 0.5f + 0.1f * j;
            }
            requests.add(new AnswerRequest(texts.get(q).memoryTokens(), memories, scores));
        }
        List<String> batched = model.answer(requests);
        for (int q = 0; q < requests.size(); q++) {
            assertEquals(model.answer(List.of(requests.get(q))).get(0), batched.get(q), "request " + q);
        }
        float[] prompt = model.aggregate(requests);
        long[][] ids = model.generate(prompt, null, requests.size());
        for (long[] answer : ids) {
            assertTrue(answer.length <= model.config().maxAnswerTokens(), "answer of " + answer.length + " tokens");
        }
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
                requests.add(new AnswerRequest(question.get(60, TimeUnit.SECONDS).memoryTokens(),
                        List.of(document.memoryTokens()), new float[] {0.5f}));
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
        for (String file : new String[] {"model.json", "embeddings.pt", "compressor.pt", "aggregator.pt",
                "reader.pt"}) {
            Files.copy(TINY.resolve(file), dir.resolve(file));
        }
        // A TorchScript module with a forward but no weights method, as a cmt-model/2 head would be.
        Files.copy(TINY.resolve("embeddings.pt"), dir.resolve("aggregator.pt"), StandardCopyOption.REPLACE_EXISTING);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> DjlCmtModel.load(dir, "cpu"));
        assertTrue(e.getMessage().startsWith("cannot load " + dir.resolve("aggregator.pt") + ": its weights method "
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
