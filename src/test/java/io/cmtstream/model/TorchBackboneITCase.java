package io.cmtstream.model;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The backbone on PyTorch (the bundle's backbone.pt fed with the ONNX file's weights, what a GPU task manager runs)
 * against the backbone on ONNX Runtime (the CPU default), both on the CPU, on SQuAD text through the real bge-small
 * weights: the same last-layer and memory-layer states within {@value #MAX_ABS_DIFF} (max absolute difference over
 * every real token's state), and, through the whole model, the same keys and the same answers.
 */
class TorchBackboneITCase {

    /**
     * The states are O(1) (layer-normed); two float32 engines summing in other orders differ by about 1e-5 (measured:
     * 2.4e-6 last layer, 8.1e-6 memory layer, 1.0e-7 keys).
     */
    private static final double MAX_ABS_DIFF = 1e-4;
    private static final List<String> ARTICLES = List.of("Amazon_rainforest", "Black_Death", "Oxygen",
            "Packet_switching", "Steam_engine", "Normans");

    private static DjlCmtModel onnx;
    private static DjlCmtModel torch;
    private static List<DjlCmtModelITCase.Paragraph> paragraphs;

    @BeforeAll
    static void load() throws IOException {
        assumeTrue(java.nio.file.Files.isDirectory(TrainedModelITCase.TRAINED),
                TrainedModelITCase.TRAINED + " is not there yet (training makes it)");
        onnx = DjlCmtModel.load(TrainedModelITCase.TRAINED, "cpu", "onnx");
        torch = DjlCmtModel.load(TrainedModelITCase.TRAINED, "cpu", "torch");
        paragraphs = DjlCmtModelITCase.squadParagraphs(ARTICLES, 2);
    }

    @AfterAll
    static void close() {
        for (DjlCmtModel model : new DjlCmtModel[] {onnx, torch}) {
            if (model != null) {
                model.close();
            }
        }
    }

    @Test
    void enginesAreTheOnesAsked() {
        assertEquals("OnnxRuntime", onnx.backboneEngine());
        assertEquals("PyTorch", torch.backboneEngine());
    }

    @Test
    void autoOnTheCpuKeepsTheOnnxBackbone() {
        try (DjlCmtModel auto = DjlCmtModel.load(TrainedModelITCase.TRAINED, "cpu")) {
            assertEquals("OnnxRuntime", auto.backboneEngine());
        }
    }

    @Test
    void bothEnginesGiveTheSameStatesOfAPaddedBatch() {
        List<String> texts = new ArrayList<>();
        for (DjlCmtModelITCase.Paragraph p : paragraphs) {
            texts.add(p.context());
            texts.addAll(p.questions());
        }
        int hidden = onnx.config().backbone().hidden();
        // documents (up to 256 tokens) and questions in one batch: most rows are padded
        Tokenized tokens = onnx.tokenize(texts, onnx.config().maxDocumentTokens());
        Backbone.States expected = onnx.backboneStates(tokens);
        Backbone.States actual = torch.backboneStates(tokens);
        double last = maxAbsDiffOverRealTokens(expected.last(), actual.last(), tokens, hidden);
        double memory = maxAbsDiffOverRealTokens(expected.memory(), actual.memory(), tokens, hidden);
        System.out.printf("torch vs onnx backbone, %d texts, %d positions: max |diff| last layer %.2e, "
                + "memory layer %.2e%n", texts.size(), tokens.batch() * tokens.maxLength(), last, memory);
        assertTrue(last <= MAX_ABS_DIFF, "last layer states differ by " + last);
        assertTrue(memory <= MAX_ABS_DIFF, "memory layer states differ by " + memory);
    }

    @Test
    void bothEnginesGiveTheSameKeysAndAnswers() {
        List<String> documents = paragraphs.stream().map(DjlCmtModelITCase.Paragraph::context).toList();
        List<String> questions = paragraphs.stream().flatMap(p -> p.questions().stream()).toList();
        List<Encoding> onnxDocuments = onnx.encodeDocuments(documents);
        List<Encoding> torchDocuments = torch.encodeDocuments(documents);
        List<Encoding> onnxQuestions = onnx.encodeQueries(questions);
        List<Encoding> torchQuestions = torch.encodeQueries(questions);
        double keys = 0;
        for (int i = 0; i < documents.size(); i++) {
            keys = Math.max(keys, maxAbsDiff(onnxDocuments.get(i).key(), torchDocuments.get(i).key()));
        }
        for (int i = 0; i < questions.size(); i++) {
            keys = Math.max(keys, maxAbsDiff(onnxQuestions.get(i).key(), torchQuestions.get(i).key()));
        }
        assertTrue(keys <= MAX_ABS_DIFF, "keys differ by " + keys);

        List<AnswerRequest> onnxRequests = new ArrayList<>();
        List<AnswerRequest> torchRequests = new ArrayList<>();
        for (int q = 0; q < questions.size(); q++) {
            int own = q / 2;
            int other = (own + 1) % documents.size();
            // k = 1 (its own paragraph) and k = 2 (another paragraph first)
            onnxRequests.add(new AnswerRequest(onnxQuestions.get(q).states(),
                    List.of(onnxDocuments.get(own).memory())));
            torchRequests.add(new AnswerRequest(torchQuestions.get(q).states(),
                    List.of(torchDocuments.get(own).memory())));
            onnxRequests.add(new AnswerRequest(onnxQuestions.get(q).states(),
                    List.of(onnxDocuments.get(other).memory(), onnxDocuments.get(own).memory())));
            torchRequests.add(new AnswerRequest(torchQuestions.get(q).states(),
                    List.of(torchDocuments.get(other).memory(), torchDocuments.get(own).memory())));
        }
        List<String> onnxAnswers = onnx.answer(onnxRequests);
        List<String> torchAnswers = torch.answer(torchRequests);
        System.out.printf("torch vs onnx: max |diff| of %d keys %.2e; answers %s%n",
                documents.size() + questions.size(), keys, onnxAnswers);
        assertEquals(onnxAnswers, torchAnswers);
        assertTrue(onnxAnswers.stream().filter(a -> !a.isEmpty()).count() >= onnxAnswers.size() / 2,
                "most questions read from their own paragraph get an answer: " + onnxAnswers);
    }

    private static double maxAbsDiffOverRealTokens(float[] a, float[] b, Tokenized tokens, int hidden) {
        assertEquals(a.length, b.length);
        double worst = 0;
        for (int row = 0; row < tokens.batch(); row++) {
            int from = row * tokens.maxLength() * hidden;
            for (int i = from; i < from + tokens.length(row) * hidden; i++) {
                worst = Math.max(worst, Math.abs((double) a[i] - b[i]));
            }
        }
        return worst;
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs((double) a[i] - b[i]));
        }
        return worst;
    }
}
