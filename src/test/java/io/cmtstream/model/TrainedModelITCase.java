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
 * The bundled trained model (models/cmt-bge-small-squad, or the directory in {@code -Dcmt.trained.model}) end to
 * end: compress, self-match, read. Skipped only while that directory does not exist (training makes it).
 */
class TrainedModelITCase {

    static final Path TRAINED = Path.of(System.getProperty("cmt.trained.model", "models/cmt-bge-small-squad"));
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
        List<Encoding> encodings = model.encodeDocuments(List.of("Oxygen is a chemical element.", "Short."));
        int[] tokens = {8, 4};
        for (int i = 0; i < tokens.length; i++) {
            Encoding e = encodings.get(i);
            assertEquals(info.keyDim(), e.key().length);
            assertEquals(tokens[i], e.memory().tokens());
            assertEquals(tokens[i] * info.hiddenDim(), e.memory().states().length);
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
        String answer = model.answer(List.of(new AnswerRequest(question.states(), List.of(document.memory()))))
                .get(0);
        System.out.printf("Q: %s%nA: %s%n", paragraph.questions().get(0), answer);
        assertFalse(answer.isBlank(), "empty answer to '" + paragraph.questions().get(0) + "'");
        assertTrue(paragraph.context().toLowerCase(java.util.Locale.ROOT).contains(answer),
                "'" + answer + "' is copied from the paragraph");
    }

    @Test
    void batchedAnswersEqualSingleAnswersWhateverTheirMemoryCounts() throws IOException {
        List<DjlCmtModelITCase.Paragraph> paragraphs = DjlCmtModelITCase.squadParagraphs(ARTICLES, 1);
        List<Encoding> documents = model.encodeDocuments(
                paragraphs.stream().map(DjlCmtModelITCase.Paragraph::context).toList());
        List<Encoding> questions = model.encodeQueries(paragraphs.stream().map(p -> p.questions().get(0)).toList());
        List<AnswerRequest> requests = new ArrayList<>();
        for (int q = 0; q < questions.size(); q++) {
            // Request q gets q memories (the first is closed book), so rows of several requests share calls.
            List<MemoryStates> memories = new ArrayList<>();
            for (int j = 0; j < q; j++) {
                memories.add(documents.get((q + j) % documents.size()).memory());
            }
            requests.add(new AnswerRequest(questions.get(q).states(), memories));
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
            String answer = runtime.answer(new AnswerRequest(question.states(), List.of(document.memory())))
                    .get(60, TimeUnit.SECONDS);
            assertFalse(answer.isBlank());
        }
    }
}
