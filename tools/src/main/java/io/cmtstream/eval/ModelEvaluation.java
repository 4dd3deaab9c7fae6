package io.cmtstream.eval;

import io.cmtstream.squad.SquadDataset;
import io.cmtstream.squad.SquadScorer;
import io.cmtstream.squad.SquadSplit;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.cmtstream.memory.MatchKey;
import io.cmtstream.model.AnswerRequest;
import io.cmtstream.model.CmtModel;
import io.cmtstream.model.DjlCmtModel;
import io.cmtstream.model.Encoding;
import io.cmtstream.model.MemoryStates;
import io.cmtstream.model.ModelInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Evaluates a CMT model on the SQuAD articles of one split, outside Flink: self-matching retrieval against BM25 and
 * the untuned backbone, and the reader's EM/F1 closed book, with CMT's top-k memories, with the gold paragraph's
 * memory (oracle matching) and with BM25's best paragraph's memory.
 *
 * <p>The retrieval pool is every paragraph of the chosen articles, each compressed once, as the job's memory bank
 * would hold them; the questions are those articles' questions ({@code --limit} takes an evenly spread sample). It
 * writes {@code report.md} and, per reading condition, the predictions in the official {@code {id: answer}} format
 * under {@code --out}, so the official script can re-score them.
 *
 * <p>Model calls go in chunks of {@value #BATCH}. Loads each model through the given loader and closes it when
 * done; one run at a time per instance.
 */
public final class ModelEvaluation {

    /** Texts or requests per model call. */
    public static final int BATCH = 32;

    public static final String CMT = "CMT self-matching";
    /** Shown when the model matches dense + lexical: what the dense keys alone would retrieve. */
    public static final String CMT_DENSE = "CMT dense key alone";
    public static final String BM25 = "BM25 (Lucene)";
    public static final String UNTUNED = "untuned backbone [CLS]";
    public static final String CLOSED_BOOK = "closed book";
    public static final String ORACLE = "oracle matching";
    public static final String BM25_TOP1 = "BM25 top-1";

    /** The name of the CMT top-k reading condition for a given k. */
    public static String cmtTopK(int k) {
        return "CMT top-" + k;
    }

    /** Ranks looked at for recall@k and MRR: the report's columns go up to 10. */
    private static final int DEPTH = 10;

    private final EvaluationOptions options;
    private final Function<Path, CmtModel> modelLoader;

    /** @param modelLoader opens a model directory; the evaluation closes what it returns */
    public ModelEvaluation(EvaluationOptions options, Function<Path, CmtModel> modelLoader) {
        this.options = options;
        this.modelLoader = modelLoader;
    }

    public static void main(String[] args) {
        EvaluationOptions options;
        try {
            Optional<EvaluationOptions> parsed = EvaluationOptions.parseOrHelp(args);
            if (parsed.isEmpty()) {
                return;
            }
            options = parsed.get();
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        EvaluationReport report = new ModelEvaluation(options, defaultModelLoader(options.device())).run();
        System.out.print(report.toMarkdown());
    }

    /** The runtime's own model implementation, on the device the options name. */
    static Function<Path, CmtModel> defaultModelLoader(String device) {
        return dir -> DjlCmtModel.load(dir, device);
    }

    /** Runs the evaluation, writes its files under {@code --out} and returns the figures. */
    public EvaluationReport run() {
        SquadSplit split = SquadSplit.load(options.split());
        SquadDataset set = SquadDataset.load(options.squad()).select(split, options.set());
        List<SquadDataset.Paragraph> paragraphs = set.paragraphs();
        List<SquadDataset.Question> questions = evenlySpread(set.questions(), options.limit());
        List<String> paragraphIds = paragraphs.stream().map(SquadDataset.Paragraph::id).toList();
        List<String> questionTexts = questions.stream().map(SquadDataset.Question::question).toList();
        int depth = Math.max(DEPTH, options.k());

        EvaluationReport report = new EvaluationReport("CMT evaluation on SQuAD v1.1, set `" + options.set() + "`");
        report.fact(String.format(Locale.ROOT,
                "Data: %s, set `%s` of %s: %d articles, %d paragraphs (the retrieval pool), %d of %d questions%s",
                options.squad(), options.set(), options.split(), set.articles().size(), paragraphs.size(),
                questions.size(), set.questions().size(),
                questions.size() < set.questions().size() ? " (evenly spread sample, --limit)" : ""));

        List<List<Hit>> bm25Hits = bm25(paragraphs, questions, depth);
        try (CmtModel model = modelLoader.apply(options.model())) {
            ModelInfo info = model.info();
            report.fact(String.format(Locale.ROOT, "Model: %s, version %s (%s)%s", info.name(), info.version(),
                    options.model(), info.hasReader() ? "" : ", retrieval-only"));
            Encoded encoded = encode(model, paragraphs, questionTexts, report, "model");
            List<List<Hit>> cmtHits = rank(encoded, paragraphIds, depth, true);
            report.retrieval(CMT, recall(cmtHits, questions));
            if (encoded.documents().stream().anyMatch(d -> d.terms().size() > 0)) {
                report.retrieval(CMT_DENSE, recall(rank(encoded, paragraphIds, depth, false), questions));
                report.fact("CMT self-matching scores dense keys + the lexical half (BM25 over WordPiece ids with the"
                        + " model's statistics, docs/MODEL-CONTRACT.md), as the memory bank does");
            }
            if (info.hasReader()) {
                for (Condition condition : conditions(encoded, paragraphIds, questions, cmtHits, bm25Hits)) {
                    Map<String, String> predictions = answer(model, questions, condition);
                    report.reading(condition.name(), condition.description(),
                            SquadScorer.score(questions, predictions));
                    writePredictions(condition.name(), predictions);
                }
            } else {
                report.note("The model has no reader: no answers were scored.");
            }
        }
        report.retrieval(BM25, recall(bm25Hits, questions));

        if (options.untunedModel().isPresent()) {
            try (CmtModel untuned = modelLoader.apply(options.untunedModel().get())) {
                Encoded encoded = encode(untuned, paragraphs, questionTexts, null, "untuned model");
                report.retrieval(UNTUNED, recall(rank(encoded, paragraphIds, depth, false), questions));
                report.fact("Untuned baseline: " + untuned.info().name() + " (" + options.untunedModel().get()
                        + "), key = L2-normalised [CLS] state of the backbone");
            }
        }

        report.note("Training and evaluation data are the 38 openly available SQuAD v1.1 dev articles, split by"
                + " article (" + options.split() + "); the official SQuAD train set is not used. SQuAD is CC BY-SA 4.0"
                + " (Rajpurkar et al., EMNLP 2016).");
        write(options.out().resolve("report.md"), report.toMarkdown());
        progress("wrote %s", options.out().resolve("report.md"));
        return report;
    }

    private static List<List<Hit>> bm25(List<SquadDataset.Paragraph> paragraphs,
                                        List<SquadDataset.Question> questions, int depth) {
        long start = System.nanoTime();
        Map<String, String> texts = new LinkedHashMap<>();
        paragraphs.forEach(p -> texts.put(p.id(), p.context()));
        List<List<Hit>> hits = new ArrayList<>(questions.size());
        try (Bm25Retriever bm25 = Bm25Retriever.index(texts)) {
            for (SquadDataset.Question q : questions) {
                hits.add(bm25.topK(q.question(), depth));
            }
        }
        progress("BM25: %d questions in %.1f s", questions.size(), seconds(start));
        return hits;
    }

    /** One reading condition: its report name and description, and one request per question. */
    private record Condition(String name, String description, List<AnswerRequest> requests) {}

    private List<Condition> conditions(Encoded encoded, List<String> paragraphIds,
                                       List<SquadDataset.Question> questions, List<List<Hit>> cmtHits,
                                       List<List<Hit>> bm25Hits) {
        Map<String, Encoding> byParagraph = new HashMap<>();
        for (int i = 0; i < paragraphIds.size(); i++) {
            byParagraph.put(paragraphIds.get(i), encoded.documents().get(i));
        }
        List<AnswerRequest> closed = new ArrayList<>();
        List<AnswerRequest> topK = new ArrayList<>();
        List<AnswerRequest> oracle = new ArrayList<>();
        List<AnswerRequest> bm25Top1 = new ArrayList<>();
        for (int i = 0; i < questions.size(); i++) {
            Encoding q = encoded.queries().get(i);
            List<Hit> cmt = cmtHits.get(i);
            List<Hit> bm25 = bm25Hits.get(i);
            closed.add(request(q, List.of(), byParagraph));
            topK.add(request(q, cmt.subList(0, Math.min(options.k(), cmt.size())), byParagraph));
            oracle.add(request(q, List.of(new Hit(questions.get(i).paragraphId(), 0)), byParagraph));
            // A question with no indexable term gets no BM25 hit: the reader then reads closed book.
            bm25Top1.add(request(q, bm25.subList(0, Math.min(1, bm25.size())), byParagraph));
        }
        return List.of(
                new Condition(CLOSED_BOOK, "no memory (the span reader has nothing to copy from: an empty answer)", closed),
                new Condition(cmtTopK(options.k()),
                        "the " + options.k() + " memories whose keys best match the question", topK),
                new Condition(ORACLE, "the gold paragraph's memory alone", oracle),
                new Condition(BM25_TOP1, "the memory of BM25's best paragraph", bm25Top1));
    }

    /** Keys and memories of the documents and the questions, from one model. */
    private record Encoded(List<Encoding> documents, List<Encoding> queries) {}

    private Encoded encode(CmtModel model, List<SquadDataset.Paragraph> paragraphs, List<String> questions,
                           EvaluationReport report, String what) {
        long start = System.nanoTime();
        List<Encoding> documents =
                inBatches(paragraphs.stream().map(SquadDataset.Paragraph::context).toList(), model::encodeDocuments);
        double documentSeconds = seconds(start);
        progress("%s: %d paragraphs encoded in %.1f s", what, documents.size(), documentSeconds);
        start = System.nanoTime();
        List<Encoding> queries = inBatches(questions, model::encodeQueries);
        double querySeconds = seconds(start);
        progress("%s: %d questions encoded in %.1f s", what, queries.size(), querySeconds);
        if (report != null) {
            long truncated = documents.stream().filter(Encoding::truncated).count();
            double meanTokens = documents.stream().mapToInt(Encoding::tokenCount).average().orElse(0);
            report.fact(String.format(Locale.ROOT,
                    "Paragraphs: %.0f tokens on average; %d of %d truncated to the model's %d tokens",
                    meanTokens, truncated, documents.size(), model.info().maxDocumentTokens()));
            report.fact(String.format(Locale.ROOT,
                    "Encoding time: paragraphs %.1f s (%.1f/s), questions %.1f s (%.1f/s), batches of %d",
                    documentSeconds, documents.size() / documentSeconds, querySeconds,
                    queries.size() / querySeconds, BATCH));
        }
        return new Encoded(documents, queries);
    }

    /** Ranks by the bank's match score: dense + lexical, or with {@code lexical} false the dense keys alone. */
    private static List<List<Hit>> rank(Encoded encoded, List<String> paragraphIds, int depth, boolean lexical) {
        KeyRetriever retriever = new KeyRetriever(paragraphIds,
                encoded.documents().stream().map(Encoding::key).toList(),
                lexical ? encoded.documents().stream().map(Encoding::terms).toList() : null);
        return encoded.queries().stream().map(q -> retriever.topK(lexical
                ? new MatchKey(q.key(), q.terms().terms(), q.terms().weights()) : MatchKey.dense(q.key()), depth)).toList();
    }

    private static RetrievalMetrics recall(List<List<Hit>> hits, List<SquadDataset.Question> questions) {
        RetrievalMetrics metrics = new RetrievalMetrics(DEPTH);
        for (int i = 0; i < questions.size(); i++) {
            metrics.addHits(hits.get(i), questions.get(i).paragraphId());
        }
        return metrics;
    }

    /** The question with the given paragraphs' memories, best first. */
    private static AnswerRequest request(Encoding question, List<Hit> hits, Map<String, Encoding> byParagraph) {
        List<MemoryStates> memories = new ArrayList<>(hits.size());
        float[] scores = new float[hits.size()];
        for (Hit hit : hits) {
            scores[memories.size()] = (float) hit.score();
            memories.add(byParagraph.get(hit.id()).memory());
        }
        return new AnswerRequest(question.states(), memories, scores);
    }

    private static Map<String, String> answer(CmtModel model, List<SquadDataset.Question> questions,
                                              Condition condition) {
        long start = System.nanoTime();
        List<String> answers = inBatches(condition.requests(), model::answer);
        Map<String, String> byId = new LinkedHashMap<>();
        for (int i = 0; i < questions.size(); i++) {
            byId.put(questions.get(i).id(), answers.get(i));
        }
        progress("%s: %d answers in %.1f s", condition.name(), answers.size(), seconds(start));
        return byId;
    }

    /** Calls the model chunk by chunk, checking it returns one output per input. */
    static <I, O> List<O> inBatches(List<I> inputs, Function<List<I>, List<O>> call) {
        List<O> outputs = new ArrayList<>(inputs.size());
        for (int from = 0; from < inputs.size(); from += BATCH) {
            List<I> chunk = inputs.subList(from, Math.min(inputs.size(), from + BATCH));
            List<O> result = call.apply(chunk);
            if (result.size() != chunk.size()) {
                throw new IllegalStateException(
                        "model returned " + result.size() + " results for " + chunk.size() + " inputs");
            }
            outputs.addAll(result);
        }
        return outputs;
    }

    /** {@code limit} items spread evenly over the list (all of it when limit is 0 or not smaller than its size). */
    static <T> List<T> evenlySpread(List<T> items, int limit) {
        if (limit == 0 || limit >= items.size()) {
            return items;
        }
        List<T> sample = new ArrayList<>(limit);
        for (int i = 0; i < limit; i++) {
            sample.add(items.get((int) ((long) i * items.size() / limit)));
        }
        return sample;
    }

    private void writePredictions(String condition, Map<String, String> predictions) {
        String file = "predictions-" + condition.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-") + ".json";
        try {
            Files.createDirectories(options.out());
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(options.out().resolve(file).toFile(), predictions);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + options.out().resolve(file), e);
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    // Progress goes to stderr so that stdout carries only the report.
    private static void progress(String format, Object... args) {
        System.err.println("[eval] " + String.format(Locale.ROOT, format, args));
    }
}
