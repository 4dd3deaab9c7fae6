package io.cmtstream.eval;

import io.cmtstream.model.AnswerRequest;
import io.cmtstream.model.CmtModel;
import io.cmtstream.model.Encoding;
import io.cmtstream.model.MemoryStates;
import io.cmtstream.model.ModelInfo;
import io.cmtstream.squad.SquadDataset;
import io.cmtstream.squad.SquadSplit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The evaluation's wiring, with a fake model instead of the neural one: keys are hashed bags of words, and the
 * fake reader answers right exactly when its first memory is the question's own paragraph. So the figures it must
 * report are known: oracle 100, closed book 0, CMT top-k and BM25 top-1 equal to their retrievers' recall@1.
 */
class ModelEvaluationTest {

    private static final Path SQUAD = Path.of("data/squad/squad-v1.1-dev-open.json");
    private static final Path SPLIT = Path.of("data/squad/split.json");

    @TempDir
    Path out;

    @Test
    void readingFiguresAgreeWithWhatTheReaderWasGiven() throws IOException {
        SquadDataset validation = SquadDataset.load(SQUAD).select(SquadSplit.load(SPLIT), "validation");
        EvaluationOptions options = new EvaluationOptions(SQUAD, SPLIT, "validation", Path.of("fake-cmt"),
                Optional.of(Path.of("fake-untuned")), 3, 120, out, "cpu");
        AtomicInteger opened = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        EvaluationReport report = new ModelEvaluation(options, dir -> {
            opened.incrementAndGet();
            return new FakeModel(validation, dir.toString().contains("untuned"), closed);
        }).run();

        assertEquals(2, opened.get());
        assertEquals(2, closed.get(), "the evaluation closes every model it opened");

        RetrievalMetrics cmt = report.retrieval(ModelEvaluation.CMT);
        RetrievalMetrics bm25 = report.retrieval(ModelEvaluation.BM25);
        RetrievalMetrics untuned = report.retrieval(ModelEvaluation.UNTUNED);
        assertEquals(120, cmt.questions());
        assertEquals(120, bm25.questions());
        assertEquals(120, untuned.questions());
        assertTrue(bm25.recallAt(10) > 0.5, "BM25 finds most SQuAD paragraphs: " + bm25.recallAt(10));
        assertTrue(cmt.recallAt(1) > 0.2, "bag-of-words keys find some: " + cmt.recallAt(1));

        assertEquals(0.0, report.reading(ModelEvaluation.CLOSED_BOOK).score().exactMatch(), 1e-9);
        assertEquals(100.0, report.reading(ModelEvaluation.ORACLE).score().exactMatch(), 1e-9);
        assertEquals(100.0, report.reading(ModelEvaluation.ORACLE).score().f1(), 1e-9);
        assertEquals(100 * cmt.recallAt(1), report.reading(ModelEvaluation.cmtTopK(3)).score().exactMatch(), 1e-9);
        assertEquals(100 * bm25.recallAt(1), report.reading(ModelEvaluation.BM25_TOP1).score().exactMatch(), 1e-9);

        String markdown = Files.readString(out.resolve("report.md"));
        assertEquals(report.toMarkdown(), markdown);
        assertTrue(markdown.contains("| " + ModelEvaluation.BM25 + " |"), markdown);
        assertTrue(markdown.contains("| " + ModelEvaluation.ORACLE + " |"), markdown);
        for (String file : List.of("predictions-closed-book.json", "predictions-cmt-top-3.json",
                "predictions-oracle-matching.json", "predictions-bm25-top-1.json")) {
            assertTrue(Files.exists(out.resolve(file)), file);
        }
    }

    @Test
    void retrievalOnlyModelGetsNoAnswerTable() {
        SquadDataset validation = SquadDataset.load(SQUAD).select(SquadSplit.load(SPLIT), "validation");
        EvaluationOptions options = new EvaluationOptions(SQUAD, SPLIT, "validation", Path.of("fake"),
                Optional.empty(), 5, 20, out, "cpu");
        EvaluationReport report =
                new ModelEvaluation(options, dir -> new FakeModel(validation, true, new AtomicInteger())).run();
        assertEquals(20, report.retrieval(ModelEvaluation.CMT).questions());
        assertNull(report.reading(ModelEvaluation.CLOSED_BOOK));
        assertNull(report.retrieval(ModelEvaluation.UNTUNED));
    }

    @Test
    void batchesAreAtMost32AndKeepOrder() {
        List<Integer> sizes = new ArrayList<>();
        List<Integer> input = new ArrayList<>();
        for (int i = 0; i < 70; i++) {
            input.add(i);
        }
        List<Integer> output = ModelEvaluation.inBatches(input, chunk -> {
            sizes.add(chunk.size());
            return chunk.stream().map(i -> i * 2).toList();
        });
        assertEquals(List.of(32, 32, 6), sizes);
        assertEquals(138, output.get(69));
        assertThrows(IllegalStateException.class, () -> ModelEvaluation.inBatches(input, chunk -> List.of()));
    }

    @Test
    void limitTakesAnEvenlySpreadSample() {
        List<Integer> items = List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assertEquals(List.of(0, 2, 4, 6, 8), ModelEvaluation.evenlySpread(items, 5));
        assertEquals(items, ModelEvaluation.evenlySpread(items, 0));
        assertEquals(items, ModelEvaluation.evenlySpread(items, 50));
    }

    /** Bag-of-words keys; one "memory token" holding the text's position; a reader that needs its gold memory. */
    private static final class FakeModel implements CmtModel {
        private static final int DIM = 512;
        private final boolean retrievalOnly;
        private final AtomicInteger closed;
        private final Map<String, Integer> paragraphByText = new HashMap<>();
        private final Map<String, Integer> questionByText = new HashMap<>();
        private final List<SquadDataset.Question> questions;
        private final List<String> paragraphIds;

        FakeModel(SquadDataset data, boolean retrievalOnly, AtomicInteger closed) {
            this.retrievalOnly = retrievalOnly;
            this.closed = closed;
            this.questions = data.questions();
            this.paragraphIds = data.paragraphs().stream().map(SquadDataset.Paragraph::id).toList();
            for (int i = 0; i < data.paragraphs().size(); i++) {
                paragraphByText.put(data.paragraphs().get(i).context(), i);
            }
            for (int i = 0; i < questions.size(); i++) {
                questionByText.putIfAbsent(questions.get(i).question(), i);
            }
        }

        @Override
        public ModelInfo info() {
            return new ModelInfo("fake", "0", 1, DIM, !retrievalOnly, 256, 64);
        }

        @Override
        public List<Encoding> encodeDocuments(List<String> texts) {
            return texts.stream().map(t -> encode(t, paragraphByText.get(t))).toList();
        }

        @Override
        public List<Encoding> encodeQueries(List<String> texts) {
            return texts.stream().map(t -> encode(t, questionByText.get(t))).toList();
        }

        private Encoding encode(String text, int position) {
            float[] key = new float[DIM];
            String[] words = text.toLowerCase(Locale.ROOT).split("\\W+");
            for (String w : words) {
                if (w.length() > 3) {
                    key[Math.floorMod(w.hashCode(), DIM)] += 1;
                }
            }
            double norm = 0;
            for (float v : key) {
                norm += v * v;
            }
            for (int i = 0; i < DIM; i++) {
                key[i] /= (float) Math.max(Math.sqrt(norm), 1e-9);
            }
            // the text's position rides in the question's states and in the memory's one scale
            float[] states = retrievalOnly ? new float[0] : new float[] {position};
            MemoryStates memory = retrievalOnly ? MemoryStates.NONE
                    : new MemoryStates(new byte[0], new float[] {position}, new short[1]);
            return new Encoding(key, states, memory, words.length, words.length > 256);
        }

        @Override
        public List<String> answer(List<AnswerRequest> requests) {
            if (retrievalOnly) {
                throw new UnsupportedOperationException("retrieval-only");
            }
            return requests.stream().map(r -> {
                SquadDataset.Question q = questions.get((int) r.questionStates()[0]);
                if (r.memories().isEmpty()) {
                    return "";
                }
                String first = paragraphIds.get((int) r.memories().get(0).scales()[0]);
                return first.equals(q.paragraphId()) ? q.answers().get(0) : "";
            }).toList();
        }

        @Override
        public void close() {
            closed.incrementAndGet();
        }
    }
}
