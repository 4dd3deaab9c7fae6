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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real backbone (bge-small ONNX from its Maven artifact) in retrieval-only mode, and its memory layer's
 * output, declared at load, against the trainer's PyTorch backbone.
 */
class DjlCmtModelITCase {

    static final Path RETRIEVAL_ONLY = Path.of("src/test/resources/models/retrieval-only");
    static final Path SQUAD = Path.of("data/squad/squad-v1.1-dev-open.json");
    private static final List<String> ARTICLES = List.of("Amazon_rainforest", "Black_Death", "Oxygen",
            "Packet_switching");

    private static DjlCmtModel model;

    /** One article's first paragraph and its first questions. */
    record Paragraph(String title, String context, List<String> questions) {}

    @BeforeAll
    static void load() {
        model = DjlCmtModel.load(RETRIEVAL_ONLY, "cpu");
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    static List<Paragraph> squadParagraphs(List<String> titles, int questionsEach) throws IOException {
        JsonNode data = new ObjectMapper().readTree(SQUAD.toFile()).get("data");
        List<Paragraph> out = new ArrayList<>();
        for (String title : titles) {
            for (JsonNode article : data) {
                if (article.get("title").asText().equals(title)) {
                    JsonNode paragraph = article.get("paragraphs").get(0);
                    List<String> questions = new ArrayList<>();
                    for (int q = 0; q < questionsEach; q++) {
                        questions.add(paragraph.get("qas").get(q).get("question").asText());
                    }
                    out.add(new Paragraph(title, paragraph.get("context").asText(), questions));
                }
            }
        }
        assertEquals(titles.size(), out.size(), "articles found in " + SQUAD);
        return out;
    }

    static double dot(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += (double) a[i] * b[i];
        }
        return sum;
    }

    @Test
    void questionKeyScoresItsOwnParagraphAboveUnrelatedOnes() throws IOException {
        List<Paragraph> paragraphs = squadParagraphs(ARTICLES, 3);
        List<Encoding> documents = model.encodeDocuments(paragraphs.stream().map(Paragraph::context).toList());
        for (int own = 0; own < paragraphs.size(); own++) {
            List<Encoding> questions = model.encodeQueries(paragraphs.get(own).questions());
            for (int q = 0; q < questions.size(); q++) {
                double ownScore = dot(questions.get(q).key(), documents.get(own).key());
                for (int other = 0; other < paragraphs.size(); other++) {
                    if (other != own) {
                        double otherScore = dot(questions.get(q).key(), documents.get(other).key());
                        assertTrue(ownScore > otherScore, "'" + paragraphs.get(own).questions().get(q)
                                + "' scores " + paragraphs.get(other).title() + " (" + otherScore + ") above "
                                + paragraphs.get(own).title() + " (" + ownScore + ")");
                    }
                }
            }
        }
    }

    @Test
    void retrievalOnlyKeysAreUnitLengthClsStatesWithoutMemories() {
        ModelInfo info = model.info();
        assertFalse(info.hasReader());
        assertEquals(384, info.keyDim());
        Encoding e = model.encodeQueries(List.of("Where did the black death originate?")).get(0);
        assertEquals(384, e.key().length);
        assertEquals(0, e.states().length);
        assertEquals(0, model.encodeDocuments(List.of("Oxygen.")).get(0).memory().tokens());
        assertEquals(1.0, Math.sqrt(dot(e.key(), e.key())), 1e-5);
        assertEquals(7, e.tokenCount(), "where / did / the / black / death / originate / ?, without [CLS] [SEP]");
        assertFalse(e.truncated());
    }

    @Test
    void paddingInABatchDoesNotChangeAnEncoding() throws IOException {
        String shortText = "Oxygen is a chemical element.";
        String longText = squadParagraphs(List.of("Oxygen"), 1).get(0).context();
        float[] alone = model.encodeDocuments(List.of(shortText)).get(0).key();
        float[] padded = model.encodeDocuments(List.of(longText, shortText)).get(1).key();
        assertArrayEquals(alone, padded, 1e-4f);
    }

    @Test
    void longTextIsTruncatedToTheModelsLengthAndCountsAllItsTokens() {
        String text = String.join(" ", Collections.nCopies(400, "oxygen"));
        Encoding document = model.encodeDocuments(List.of(text)).get(0);
        assertTrue(document.truncated());
        assertEquals(400, document.tokenCount());
        Encoding question = model.encodeQueries(List.of(text)).get(0);
        assertTrue(question.truncated());
        // Truncated at the model's maximum: the key is that of the first maxDocumentTokens tokens.
        String exactFit = String.join(" ", Collections.nCopies(254, "oxygen"));
        Encoding fit = model.encodeDocuments(List.of(exactFit)).get(0);
        assertFalse(fit.truncated());
        assertArrayEquals(fit.key(), document.key(), 1e-4f);
    }

    @Test
    void emptyTextStillEncodes() {
        Encoding e = model.encodeDocuments(List.of("")).get(0);
        assertEquals(0, e.tokenCount());
        assertEquals(384, e.key().length);
    }

    @Test
    void answeringNeedsAReader() {
        assertThrows(UnsupportedOperationException.class,
                () -> model.answer(List.of(new AnswerRequest(new float[0], List.of()))));
    }

    @Test
    void sharedRuntimeBatchesConcurrentQuestions() throws Exception {
        ModelSpec spec = ModelSpec.of(RETRIEVAL_ONLY.toString()).withDevice("cpu").withMaxBatchDelayMillis(200);
        try (ModelRuntime a = ModelRuntime.acquire(spec); ModelRuntime b = ModelRuntime.acquire(spec)) {
            List<CompletableFuture<Encoding>> futures = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                futures.add((i % 2 == 0 ? a : b).encodeQuery("question number " + i));
            }
            for (CompletableFuture<Encoding> f : futures) {
                assertEquals(384, f.get(60, TimeUnit.SECONDS).key().length);
            }
            ModelRuntime.BatchStats stats = a.stats().queries();
            assertEquals(8, stats.items());
            assertTrue(stats.batches() < 8, "8 questions took " + stats.batches() + " model calls");
            CompletableFuture<String> answer = a.answer(new AnswerRequest(new float[0], List.of()));
            assertTrue(answer.isCompletedExceptionally());
        }
        assertEquals(0, ModelRuntime.loadedModels());
    }

    @Test
    void missingBackboneResourceIsNamedAtStart(@TempDir Path dir) throws IOException {
        String json = Files.readString(RETRIEVAL_ONLY.resolve("model.json"))
                .replace("\"bge-small-en-v1.5.onnx\"", "\"no-such-backbone.onnx\"");
        Files.writeString(dir.resolve("model.json"), json);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> DjlCmtModel.load(dir, "cpu"));
        assertTrue(e.getMessage().contains("no-such-backbone.onnx"), e.getMessage());
        assertTrue(e.getMessage().contains(dir.resolve("model.json").toString()), e.getMessage());
    }

    @Test
    void corruptTorchScriptFileFailsTheStartNamingIt(@TempDir Path dir) throws IOException {
        String json = Files.readString(RETRIEVAL_ONLY.resolve("model.json"))
                .replace("\"files\": {}", """
                        "files": { "embeddings": "embeddings.pt", "compressor": "compressor.pt", "reader": "reader.pt" },
                        "dims": { "hidden": 384, "key": 384, "vocab": 30522 },
                        "memory": { "kind": "token-states", "storage": "int8-per-token" },
                        "maxAnswerTokens": 8""")
                .replace("\"tokens\": { \"pad\": 0 }", "\"tokens\": { \"pad\": 0, \"cls\": 101, \"sep\": 102 }")
                .replace("\"hidden\": 384\n", "\"hidden\": 384, \"memoryLayer\": 8,\n"
                        + "    \"memoryOutput\": \"/encoder/layer.7/output/LayerNorm/Add_1_output_0\"\n");
        Files.writeString(dir.resolve("model.json"), json);
        for (String file : new String[] {"embeddings.pt", "compressor.pt", "reader.pt"}) {
            Files.writeString(dir.resolve(file), "not a TorchScript archive");
        }
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> DjlCmtModel.load(dir, "cpu"));
        assertTrue(e.getMessage().startsWith("cannot load " + dir.resolve("compressor.pt") + ": "), e.getMessage());
    }

    @Test
    void anUnknownMemoryLayerTensorFailsTheStartNamingIt(@TempDir Path dir) throws IOException {
        Path tiny = Path.of("src/test/resources/models/tiny-random");
        for (String file : new String[] {"embeddings.pt", "compressor.pt", "reader.pt"}) {
            Files.copy(tiny.resolve(file), dir.resolve(file));
        }
        Files.writeString(dir.resolve("model.json"), Files.readString(tiny.resolve("model.json"))
                .replace("/encoder/layer.7/output/LayerNorm/Add_1_output_0", "/encoder/layer.99/output"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> DjlCmtModel.load(dir, "cpu"));
        assertTrue(e.getMessage().contains("backbone.memoryOutput") && e.getMessage().contains(
                "/encoder/layer.99/output"), e.getMessage());
    }
}
