package io.cmtstream.model;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The bundled trained model (models/cmt-bge-small-squad) end to end: compress, self-match, aggregate, read.
 * Skipped only while that directory does not exist (it is produced by training/train.sh).
 */
class TrainedModelITCase {

    static final Path TRAINED = Path.of("models/cmt-bge-small-squad");
    private static final List<String> ARTICLES = List.of("Amazon_rainforest", "Black_Death", "Oxygen",
            "Packet_switching");

    private static DjlCmtModel model;

    @BeforeAll
    static void load() {
        assumeTrue(Files.isDirectory(TRAINED), TRAINED + " is not there yet (training/train.sh makes it)");
        model = DjlCmtModel.load(TRAINED, "auto");
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void encodesWithTheShapesOfModelJson() {
        ModelInfo info = model.info();
        assertTrue(info.hasReader());
        assertTrue(info.memoryTokens() > 0);
        List<Encoding> encodings = model.encodeDocuments(List.of("Oxygen is a chemical element.", "Short."));
        for (Encoding e : encodings) {
            assertEquals(info.keyDim(), e.key().length);
            assertEquals(info.memoryTokens() * info.hiddenDim(), e.memoryTokens().length);
            assertEquals(1.0, Math.sqrt(DjlCmtModelITCase.dot(e.key(), e.key())), 1e-3);
        }
    }

    @Test
    void selfMatchingFindsTheQuestionsOwnParagraph() throws IOException {
        List<DjlCmtModelITCase.Paragraph> paragraphs = DjlCmtModelITCase.squadParagraphs(ARTICLES, 1);
        List<Encoding> documents = model.encodeDocuments(
                paragraphs.stream().map(DjlCmtModelITCase.Paragraph::context).toList());
        List<Encoding> questions = model.encodeQueries(paragraphs.stream().map(p -> p.questions().get(0)).toList());
        int found = 0;
        for (int q = 0; q < questions.size(); q++) {
            int best = 0;
            for (int d = 1; d < documents.size(); d++) {
                if (DjlCmtModelITCase.dot(questions.get(q).key(), documents.get(d).key())
                        > DjlCmtModelITCase.dot(questions.get(q).key(), documents.get(best).key())) {
                    best = d;
                }
            }
            found += best == q ? 1 : 0;
        }
        assertTrue(found >= questions.size() - 1, "own paragraph ranked first for only " + found + " of "
                + questions.size() + " questions");
    }

    @Test
    void answersAQuestionAboutItsParagraph() throws IOException {
        DjlCmtModelITCase.Paragraph paragraph = DjlCmtModelITCase.squadParagraphs(List.of("Black_Death"), 1).get(0);
        Encoding document = model.encodeDocuments(List.of(paragraph.context())).get(0);
        Encoding question = model.encodeQueries(paragraph.questions()).get(0);
        float score = (float) DjlCmtModelITCase.dot(question.key(), document.key());
        String answer = model.answer(List.of(new AnswerRequest(question.memoryTokens(),
                List.of(document.memoryTokens()), new float[] {score}))).get(0);
        System.out.printf("Q: %s%nA: %s%n", paragraph.questions().get(0), answer);
        assertFalse(answer.isBlank(), "empty answer to '" + paragraph.questions().get(0) + "'");
    }

    @Test
    void batchedAnswersEqualSingleAnswersWhateverTheirMemoryCounts() throws IOException {
        List<DjlCmtModelITCase.Paragraph> paragraphs = DjlCmtModelITCase.squadParagraphs(ARTICLES, 1);
        List<Encoding> documents = model.encodeDocuments(
                paragraphs.stream().map(DjlCmtModelITCase.Paragraph::context).toList());
        List<Encoding> questions = model.encodeQueries(paragraphs.stream().map(p -> p.questions().get(0)).toList());
        List<AnswerRequest> requests = new ArrayList<>();
        for (int q = 0; q < questions.size(); q++) {
            // Request q gets q memories (the first is closed book), so the batch pads k and the present mask.
            List<float[]> memories = new ArrayList<>();
            float[] scores = new float[q];
            for (int j = 0; j < q; j++) {
                int d = (q + j) % documents.size();
                memories.add(documents.get(d).memoryTokens());
                scores[j] = (float) DjlCmtModelITCase.dot(questions.get(q).key(), documents.get(d).key());
            }
            requests.add(new AnswerRequest(questions.get(q).memoryTokens(), memories, scores));
        }
        List<String> batched = model.answer(requests);
        for (int q = 0; q < requests.size(); q++) {
            assertEquals(model.answer(List.of(requests.get(q))).get(0), batched.get(q), "request " + q);
        }
    }

    @Test
    void sharedRuntimeServesTheWholePath() throws Exception {
        DjlCmtModelITCase.Paragraph paragraph = DjlCmtModelITCase.squadParagraphs(List.of("Oxygen"), 1).get(0);
        try (ModelRuntime runtime = ModelRuntime.acquire(ModelSpec.of(TRAINED.toString()))) {
            Encoding document = runtime.encodeDocument(paragraph.context()).get(60, TimeUnit.SECONDS);
            Encoding question = runtime.encodeQuery(paragraph.questions().get(0)).get(60, TimeUnit.SECONDS);
            float score = (float) DjlCmtModelITCase.dot(question.key(), document.key());
            String answer = runtime.answer(new AnswerRequest(question.memoryTokens(),
                    List.of(document.memoryTokens()), new float[] {score})).get(60, TimeUnit.SECONDS);
            assertFalse(answer.isBlank());
        }
    }
}
