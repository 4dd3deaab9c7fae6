package io.cmtstream.model;

import ai.djl.Device;
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
 * Java runtime against PyTorch: the fixtures in src/test/resources/parity/ (or the directory in
 * {@code -Dcmt.parity.dir}; written by training/late_fixture.py, format in the README there) hold the trainer's
 * token ids, pieces and float outputs for a few texts and one reading; this runtime must produce the same ids and
 * pieces, floats within a relative error of 1e-3 (max |java - python| over max |python| of each tensor), the same
 * span and the same answer text. Skipped only while the trained model directory does not exist; once it does, a
 * missing fixture fails.
 */
class ParityITCase {

    /** Overridable to check a freshly made fixture before it replaces the committed one. */
    private static final Path FIXTURES = Path.of(System.getProperty("cmt.parity.dir", "src/test/resources/parity"));
    private static final double MAX_RELATIVE_ERROR = 1e-3;
    /**
     * The int8 reader's logits: PyTorch's int8 engines quantise activations per call each its own way (the
     * fixture's is Debian torch's onednn, this runtime's on x86 is libtorch's fbgemm), so they differ by more than
     * float rounding (docs/MODEL-CONTRACT.md "Parity").
     */
    private static final double MAX_INT8_RELATIVE_ERROR = 0.15;

    private static DjlCmtModel model;
    /** The reader's float path (what a GPU runs), compared with the fixture's exact logits. */
    private static SpanReader floatReader;
    private static final List<AutoCloseable> OPENED = new ArrayList<>();

    @BeforeAll
    static void load() {
        assumeTrue(Files.isDirectory(TrainedModelITCase.TRAINED),
                TrainedModelITCase.TRAINED + " is not there yet (training makes it)");
        // The CPU keeps the comparison about the export, not about GPU kernels.
        model = DjlCmtModel.load(TrainedModelITCase.TRAINED, "cpu");
        TextTokenizer tokenizer = TextTokenizer.load(model.config());
        OPENED.add(tokenizer);
        floatReader = SpanReader.load(model.config(), Device.cpu(), tokenizer.pieceText(), OPENED, false);
        OPENED.add(floatReader);
    }

    @AfterAll
    static void close() {
        TorchScripts.closeAll(OPENED, null);
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
        assertFalse(files.isEmpty(), "no parity fixture in " + FIXTURES + " (training/late_fixture.py writes it)");
        List<DynamicTest> tests = new ArrayList<>();
        for (Path file : files) {
            JsonNode fixture = new ObjectMapper().readTree(file.toFile());
            String name = file.getFileName().toString();
            tests.add(DynamicTest.dynamicTest(name + ": fixture is of this model",
                    () -> assertEquals(model.config().version(), fixture.get("version").asText(),
                            name + " was made for another export; rerun training/late_fixture.py")));
            tests.add(DynamicTest.dynamicTest(name + ": token ids, pieces, backbone states, keys and memories",
                    () -> checkEncodings(fixture)));
            tests.add(DynamicTest.dynamicTest(name + ": reader logits, best span and answer text",
                    () -> checkReading(fixture)));
            tests.add(DynamicTest.dynamicTest(name + ": closed book", () -> checkClosedBook(fixture)));
        }
        return tests;
    }

    private void checkEncodings(JsonNode fixture) {
        int hidden = model.config().backbone().hidden();
        for (String kind : new String[] {"documents", "questions"}) {
            boolean documents = kind.equals("documents");
            int maxTokens = documents ? model.config().maxDocumentTokens() : model.config().maxQueryTokens();
            for (JsonNode text : fixture.get(kind)) {
                String label = kind + " '" + abbreviate(text.get("text").asText()) + "'";
                Tokenized tokens = model.tokenize(List.of(text.get("text").asText()), maxTokens);
                assertArrayEquals(longs(text.get("ids")), tokens.ids()[0], label + ": token ids");
                if (documents) {
                    assertArrayEquals(shorts(text.get("pieces")), tokens.pieces()[0], label + ": pieces");
                }

                Backbone.States states = model.backboneStates(tokens);
                int length = tokens.maxLength();
                assertClose(floats(text.get("backboneCls")), row(states.last(), 0, hidden), label
                        + ": backbone [CLS] state");
                assertClose(floats(text.get("backboneMean")), mean(states.last(), length, hidden), label
                        + ": backbone mean state");
                assertClose(floats(text.get("statesCls")), row(states.memory(), 0, hidden), label
                        + ": memory layer [CLS] state");
                assertClose(floats(text.get("statesMean")), mean(states.memory(), length, hidden), label
                        + ": memory layer mean state");
                assertClose(floats(text.get("key")), model.keys(states.last(), tokens), label + ": key");

                Encoding encoding = (documents ? model.encodeDocuments(List.of(text.get("text").asText()))
                        : model.encodeQueries(List.of(text.get("text").asText()))).get(0);
                assertClose(floats(text.get("key")), encoding.key(), label + ": key through the public API");
                if (documents) {
                    assertClose(floats(text.get("stateScales")), encoding.memory().scales(), label
                            + ": memory scales");
                    assertArrayEquals(shorts(text.get("pieces")), encoding.memory().pieces(), label
                            + ": memory pieces");
                } else {
                    assertClose(floats(text.get("statesCls")), row(encoding.states(), 0, hidden), label
                            + ": question states through the public API");
                }
                if (model.config().lexical() != null) {
                    JsonNode lexical = text.get("lexical");
                    assertNotNull(lexical, label + ": the fixture has no lexical half; rerun training/late_fixture.py");
                    assertArrayEquals(ints(lexical.get("terms")), encoding.terms().terms(), label + ": lexical terms");
                    assertClose(floats(lexical.get("weights")), encoding.terms().weights(),
                            label + ": lexical weights");
                }
            }
        }
    }

    private void checkReading(JsonNode fixture) {
        JsonNode reading = fixture.get("reading");
        AnswerRequest request = request(fixture);
        List<float[]> starts = new ArrayList<>();
        List<float[]> ends = new ArrayList<>();
        for (int j = 0; j < request.memories().size(); j++) {
            JsonNode document = fixture.get("documents").get(reading.get("memories").get(j).asInt());
            MemoryStates own = request.memories().get(j);
            MemoryStates python = new MemoryStates(bytes(document.get("stateCodes")),
                    floats(document.get("stateScales")), own.pieces());
            // Backbones 1e-6 apart may round a state to the neighbouring int8 code; such a code moves the logits by
            // about 1e-3 relative, so the reader is compared on the fixture's own codes, and the codes separately.
            assertCodesAgree(python.states(), own.states(), "memory " + j);
            // as the fixture has them: a batch of one, nothing padded
            List<SpanReader.Row> row = List.of(new SpanReader.Row(request.questionStates(), python.dequantize()));
            SpanReader.Logits exact = floatReader.logits(row).get(0);
            assertClose(floats(reading.get("start").get(j)), exact.start(), "memory " + j + ": start logits");
            assertClose(floats(reading.get("end").get(j)), exact.end(), "memory " + j + ": end logits");
            // the runtime's own path: int8 products on this CPU where the reader has them
            SpanReader.Logits logits = model.readerLogits(row).get(0);
            JsonNode int8 = reading.get("int8");
            if (int8 != null) {
                assertClose(floats(int8.get("start").get(j)), logits.start(), "memory " + j + ": int8 start logits",
                        MAX_INT8_RELATIVE_ERROR);
                assertClose(floats(int8.get("end").get(j)), logits.end(), "memory " + j + ": int8 end logits",
                        MAX_INT8_RELATIVE_ERROR);
            }
            starts.add(logits.start());
            ends.add(logits.end());
        }
        SpanChooser.Span span = SpanChooser.best(starts, ends, model.config().maxAnswerTokens(), new float[starts.size()]);
        JsonNode best = reading.get("best");
        assertEquals(List.of(best.get("memory").asInt(), best.get("start").asInt(), best.get("end").asInt()),
                List.of(span.memory(), span.start(), span.end()), "best span (memory slot, start, end)");
        // the job's path: every memory in one batched call
        assertEquals(reading.get("answerText").asText(), model.answer(List.of(request)).get(0), "answer text");
        System.out.printf("parity answer: '%s' (references %s)%n", reading.get("answerText").asText(),
                reading.get("references"));
    }

    private void checkClosedBook(JsonNode fixture) {
        AnswerRequest request = request(fixture);
        assertEquals(fixture.get("closedBook").get("answerText").asText(),
                model.answer(List.of(new AnswerRequest(request.questionStates(), List.of()))).get(0));
    }

    /** The fixture's question with its memories in the fixture's order, from this runtime's own encodings. */
    private AnswerRequest request(JsonNode fixture) {
        JsonNode reading = fixture.get("reading");
        String question = fixture.get("questions").get(reading.get("question").asInt()).get("text").asText();
        Encoding q = model.encodeQueries(List.of(question)).get(0);
        List<MemoryStates> memories = new ArrayList<>();
        for (JsonNode index : reading.get("memories")) {
            String text = fixture.get("documents").get(index.asInt()).get("text").asText();
            memories.add(model.encodeDocuments(List.of(text)).get(0).memory());
        }
        return new AnswerRequest(q.states(), memories);
    }

    private static float[] row(float[] states, int row, int hidden) {
        return java.util.Arrays.copyOfRange(states, row * hidden, (row + 1) * hidden);
    }

    private static float[] mean(float[] states, int length, int hidden) {
        float[] mean = new float[hidden];
        for (int t = 0; t < length; t++) {
            for (int i = 0; i < hidden; i++) {
                mean[i] += states[t * hidden + i] / length;
            }
        }
        return mean;
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        assertClose(expected, actual, what, MAX_RELATIVE_ERROR);
    }

    private static void assertClose(float[] expected, float[] actual, String what, double maxRelative) {
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
        assertTrue(relative < maxRelative, what + ": relative error " + relative + " (at " + worstAt
                + ": python " + expected[worstAt] + ", java " + actual[worstAt] + ")");
    }

    /** At most one code in a thousand may differ from Python's, and none by more than one step. */
    private static void assertCodesAgree(byte[] expected, byte[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": int8 codes");
        int differing = 0;
        for (int i = 0; i < expected.length; i++) {
            int step = Math.abs(expected[i] - actual[i]);
            assertTrue(step <= 1, what + ": int8 code " + i + " is " + actual[i] + ", python " + expected[i]);
            differing += step;
        }
        System.out.printf("parity %s: %d of %d int8 codes one step from python's%n", what, differing, expected.length);
        assertTrue(differing * 1000 <= expected.length, what + ": " + differing + " of " + expected.length
                + " int8 codes differ from python's");
    }

    private static byte[] bytes(JsonNode array) {
        byte[] out = new byte[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) array.get(i).asInt();
        }
        return out;
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

    private static short[] shorts(JsonNode array) {
        short[] out = new short[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (short) array.get(i).asInt();
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
