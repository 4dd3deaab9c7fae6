package io.cmtstream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Java runtime against PyTorch: the fixtures in src/test/resources/parity/ (written by training/fixture.py, format
 * in the README there) hold the trainer's token ids and float outputs for a few texts; this runtime must produce the
 * same ids and floats within a relative error of 1e-3 (max |java - python| over max |python| of each tensor).
 * Skipped only while the trained model directory does not exist; once it does, a missing fixture fails.
 */
class ParityITCase {

    /** Overridable to check a freshly made fixture before it replaces the committed one. */
    private static final Path FIXTURES = Path.of(System.getProperty("cmt.parity.dir", "src/test/resources/parity"));
    private static final double MAX_RELATIVE_ERROR = 1e-3;

    private static DjlCmtModel model;

    @BeforeAll
    static void load() {
        assumeTrue(Files.isDirectory(TrainedModelITCase.TRAINED),
                TrainedModelITCase.TRAINED + " is not there yet (training/train.sh makes it)");
        // The CPU keeps the comparison about the export, not about GPU kernels.
        model = DjlCmtModel.load(TrainedModelITCase.TRAINED, "cpu");
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @TestFactory
    List<DynamicTest> javaRuntimeMatchesPyTorch() throws IOException {
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(FIXTURES)) {
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(FIXTURES, "*.json")) {
                stream.forEach(files::add);
            }
        }
        assertFalse(files.isEmpty(), "no parity fixture in " + FIXTURES + " (training/fixture.py writes it)");
        List<DynamicTest> tests = new ArrayList<>();
        for (Path file : files) {
            JsonNode fixture = new ObjectMapper().readTree(file.toFile());
            String name = file.getFileName().toString();
            tests.add(DynamicTest.dynamicTest(name + ": fixture is of this model",
                    () -> assertEquals(model.config().version(), fixture.get("version").asText(),
                            name + " was made for another export; rerun training/fixture.py")));
            tests.add(DynamicTest.dynamicTest(name + ": token ids, backbone, keys and memory tokens",
                    () -> checkEncodings(fixture)));
            tests.add(DynamicTest.dynamicTest(name + ": soft prompts, open and closed book",
                    () -> checkAggregation(fixture)));
            tests.add(DynamicTest.dynamicTest(name + ": first-step logits and greedy answer",
                    () -> checkDecoding(fixture)));
        }
        return tests;
    }

    private void checkEncodings(JsonNode fixture) {
        for (String kind : new String[] {"documents", "questions"}) {
            int maxTokens = kind.equals("documents") ? model.config().maxDocumentTokens()
                    : model.config().maxQueryTokens();
            for (JsonNode text : fixture.get(kind)) {
                String label = kind + " '" + abbreviate(text.get("text").asText()) + "'";
                DjlCmtModel.Tokenized tokens = model.tokenize(List.of(text.get("text").asText()), maxTokens);
                assertArrayEquals(longs(text.get("ids")), tokens.ids()[0], label + ": token ids");

                float[] states = model.backboneStates(tokens);
                int hidden = model.config().backbone().hidden();
                int length = tokens.maxLength();
                float[] cls = new float[hidden];
                float[] mean = new float[hidden];
                System.arraycopy(states, 0, cls, 0, hidden);
                for (int t = 0; t < length; t++) {
                    for (int i = 0; i < hidden; i++) {
                        mean[i] += states[t * hidden + i] / length;
                    }
                }
                assertClose(floats(text.get("backboneCls")), cls, label + ": backbone [CLS] state");
                assertClose(floats(text.get("backboneMean")), mean, label + ": backbone mean state");

                DjlCmtModel.Compressed compressed = model.compress(states, tokens);
                assertClose(floats(text.get("key")), compressed.keys(), label + ": key");
                assertClose(floats(text.get("memory")), compressed.memory(), label + ": memory tokens");

                Encoding encoding = (kind.equals("documents") ? model.encodeDocuments(List.of(text.get("text")
                        .asText())) : model.encodeQueries(List.of(text.get("text").asText()))).get(0);
                assertClose(floats(text.get("key")), encoding.key(), label + ": key through the public API");
                if (model.config().lexical() != null) {
                    JsonNode lexical = text.get("lexical");
                    assertNotNull(lexical, label + ": the fixture has no lexical half; rerun training/fixture.py");
                    assertArrayEquals(ints(lexical.get("terms")), encoding.terms().terms(), label + ": lexical terms");
                    assertClose(floats(lexical.get("weights")), encoding.terms().weights(),
                            label + ": lexical weights");
                }
            }
        }
    }

    private void checkAggregation(JsonNode fixture) {
        JsonNode aggregation = fixture.get("aggregation");
        AnswerRequest request = request(fixture);
        assertClose(floats(aggregation.get("scores")), request.scores(), "self-matching scores");
        assertClose(floats(aggregation.get("prompt")), model.aggregate(List.of(request)), "soft prompt");
        AnswerRequest closedBook = new AnswerRequest(request.questionTokens(), List.of(), new float[0]);
        assertClose(floats(aggregation.get("closedBookPrompt")), model.aggregate(List.of(closedBook)),
                "closed-book soft prompt");
    }

    private void checkDecoding(JsonNode fixture) {
        JsonNode decoding = fixture.get("decoding");
        AnswerRequest request = request(fixture);
        float[] prompt = model.aggregate(List.of(request));
        float[] logits = model.readerLogits(prompt, new long[][] {{model.config().tokens().bos()}});
        long[] topIds = longs(decoding.get("firstStepTop20Ids"));
        float[] expected = floats(decoding.get("firstStepTop20Logits"));
        float[] actual = new float[topIds.length];
        for (int i = 0; i < topIds.length; i++) {
            actual[i] = logits[(int) topIds[i]];
        }
        assertClose(expected, actual, "first-step logits of PyTorch's top 20");
        assertEquals(topIds[0], argMax(logits), "first answer token");

        long[] answerIds = model.generate(prompt, null, 1)[0];
        assertArrayEquals(longs(decoding.get("answerIds")), answerIds, "greedy answer ids");
        // a request that does not know its memories' terms is never restricted
        assertEquals(decoding.get("answerText").asText(), model.answer(List.of(request)).get(0), "answer text");
        if (model.config().lexical() != null) {
            checkAnswerVocabulary(decoding, request(fixture, true));
        }
    }

    /** Answers from the memories' terms: the fixture's k = 2 question, and one paragraph where it matters. */
    private void checkAnswerVocabulary(JsonNode decoding, AnswerRequest withTerms) {
        AnswerVocabulary vocabulary = AnswerVocabulary.of(lexicalWeighting(), model.config().dims().vocab());
        assertNotNull(decoding.get("memoryTermsAnswerIds"), "the fixture has no restricted answer; rerun "
                + "training/fixture.py");
        assertArrayEquals(longs(decoding.get("memoryTermsAnswerIds")), model.generate(model.aggregate(
                List.of(withTerms)), vocabulary.masks(List.of(withTerms)), 1)[0], "answer ids from the memories' terms");

        JsonNode single = decoding.get("singleMemory");
        Encoding q = model.encodeQueries(List.of(single.get("question").asText())).get(0);
        Encoding d = model.encodeDocuments(List.of(single.get("document").asText())).get(0);
        AnswerRequest one = new AnswerRequest(q.memoryTokens(), List.of(d.memoryTokens()),
                new float[] {(float) DjlCmtModelITCase.dot(q.key(), d.key())}, List.of(d.terms().terms()));
        float[] prompt = model.aggregate(List.of(one));
        assertArrayEquals(longs(single.get("answerIds")), model.generate(prompt, null, 1)[0],
                "one memory: free answer ids");
        assertArrayEquals(longs(single.get("memoryTermsAnswerIds")),
                model.generate(prompt, vocabulary.masks(List.of(one)), 1)[0], "one memory: answer ids from its terms");
        if (model.config().readerScoresAmong()) {
            assertArrayEquals(longs(single.get("memoryTermsAnswerIds")),
                    model.generateAmong(prompt, vocabulary.candidates(List.of(one)))[0],
                    "one memory: scoring only its terms' ids (step_among) gives the same answer");
            assertArrayEquals(longs(decoding.get("memoryTermsAnswerIds")), model.generateAmong(model.aggregate(
                    List.of(withTerms)), vocabulary.candidates(List.of(withTerms)))[0], "k = 2: the same through "
                    + "step_among");
        }
        if (model.config().lexical().answersFromMemoryTerms()) {
            // what the job does: the model's own vocabulary, through the public API
            assertEquals(decoding.get("memoryTermsAnswerText").asText(), model.answer(List.of(withTerms)).get(0),
                    "answer text from the memories' terms");
            assertEquals(single.get("memoryTermsAnswerText").asText(), model.answer(List.of(one)).get(0),
                    "one memory: answer text from its terms");
        }
    }

    private static LexicalWeighting lexicalWeighting() {
        return LexicalWeighting.load(model.config().lexical(), model.config().dims().vocab());
    }

    /** The fixture's question with its top-k documents, from this runtime's own encodings. */
    private AnswerRequest request(JsonNode fixture) {
        return request(fixture, false);
    }

    /** The same, with the documents' terms when {@code withTerms}. */
    private AnswerRequest request(JsonNode fixture, boolean withTerms) {
        JsonNode aggregation = fixture.get("aggregation");
        String question = fixture.get("questions").get(aggregation.get("question").asInt()).get("text").asText();
        Encoding q = model.encodeQueries(List.of(question)).get(0);
        List<float[]> memories = new ArrayList<>();
        List<int[]> terms = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        for (JsonNode index : aggregation.get("documentOrder")) {
            String text = fixture.get("documents").get(index.asInt()).get("text").asText();
            Encoding d = model.encodeDocuments(List.of(text)).get(0);
            memories.add(d.memoryTokens());
            terms.add(d.terms().terms());
            scores.add((float) DjlCmtModelITCase.dot(q.key(), d.key()));
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
        }
        return new AnswerRequest(q.memoryTokens(), memories, s, withTerms ? terms : null);
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 0;
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
            double diff = Math.abs((double) expected[i] - actual[i]);
            if (diff > worst || worstAt < 0) {
                worst = diff;
                worstAt = i;
            }
        }
        double relative = scale == 0 ? worst : worst / scale;
        System.out.printf("parity %s: relative error %.2e%n", what, relative);
        assertTrue(relative < MAX_RELATIVE_ERROR, what + ": relative error " + relative + " (at " + worstAt
                + ": python " + expected[worstAt] + ", java " + actual[worstAt] + ")");
    }

    private static int argMax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).asDouble();
        }
        return out;
    }

    private static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    private static int[] ints(JsonNode array) {
        return java.util.Arrays.stream(longs(array)).mapToInt(Math::toIntExact).toArray();
    }

    private static String abbreviate(String text) {
        return text.length() <= 40 ? text : text.substring(0, 40) + "...";
    }
}
