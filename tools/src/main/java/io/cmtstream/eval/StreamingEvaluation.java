package io.cmtstream.eval;

import io.cmtstream.app.Cli;
import io.cmtstream.app.EmbeddedCluster;
import io.cmtstream.app.JobConfig;
import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Evidence;
import io.cmtstream.avro.Query;
import io.cmtstream.avro.ReadOrder;
import io.cmtstream.client.CmtClient;
import io.cmtstream.squad.SquadDataset;
import io.cmtstream.squad.SquadScorer;
import io.cmtstream.squad.SquadSplit;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.apache.kafka.clients.CommonClientConfigs;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The paper's streaming QA protocol, measured on the running job through its Kafka topics:
 * <ol>
 *   <li>articles stream in one after the other; right after each article's paragraphs (documents), its questions
 *       are asked (condition {@code cmt-now});</li>
 *   <li>once every article is in, every question is asked again under each condition: {@code cmt-end} (top-k
 *       self-matching; against {@code cmt-now} this is knowledge retention), {@code recall} (top-10 evidence, for
 *       recall@1/5/10), {@code closed-book} (no memory), {@code oracle} (the gold paragraph's memory),
 *       {@code bm25} (BM25's best paragraph's memory, through the same compressor and reader), {@code cmt-k1} and
 *       {@code cmt-k3} (top-1 and top-3 self-matching, whatever {@code --k} is: does aggregating more memories
 *       help?);</li>
 *   <li>then, from the {@code recall} answers' evidence, {@code gold-rank3}: the gold paragraph's memory read
 *       third, behind the two best-matching other memories (k = 3, {@code Query.readOrder} LISTED, so its match
 *       score is no higher than theirs): are all k memories really read?</li>
 *   <li>answers are read from the answers topic only, and scored with the official SQuAD v1.1 EM/F1.</li>
 * </ol>
 * Baselines use {@code Query.restrictTo}, so every condition goes through the same job, compressor and reader.
 */
public final class StreamingEvaluation {
    static final List<String> CONDITIONS = List.of("cmt-now", "cmt-end", "recall", "closed-book", "oracle", "bm25",
            "cmt-k1", "cmt-k3", "gold-rank3");
    /** Conditions asked once every article is in, per question. */
    private static final int END_CONDITIONS = 7;

    private final SquadDataset data;
    private final Map<String, List<SquadDataset.Question>> questionsByArticle = new LinkedHashMap<>();
    private final List<SquadDataset.Question> questions = new ArrayList<>();
    private final int k;
    private final String tenant;
    private final PrintStream out;

    /**
     * @param questionsPerArticle ask only the first this many questions of each article (0: all)
     */
    public StreamingEvaluation(SquadDataset data, int questionsPerArticle, int k, String tenant, PrintStream out) {
        this.data = data;
        this.k = k;
        this.tenant = tenant;
        this.out = out;
        for (SquadDataset.Article article : data.articles()) {
            List<SquadDataset.Question> all = data.select(List.of(article.title())).questions();
            List<SquadDataset.Question> asked = questionsPerArticle > 0 && all.size() > questionsPerArticle
                    ? all.subList(0, questionsPerArticle) : all;
            questionsByArticle.put(article.title(), asked);
            questions.addAll(asked);
        }
    }

    /** What came back, with the times it was published and received at. */
    public record Run(Map<String, Map<String, Answer>> answersByCondition, Map<String, Long> receivedAt,
                      long firstDocumentPublishedAt, int documents, int expected, Duration elapsed) {
        public int received() {
            return answersByCondition.values().stream().mapToInt(Map::size).sum();
        }
    }

    public Run stream(CmtClient client, Duration timeout) {
        long started = System.nanoTime();
        Map<String, String> bm25Top1 = bm25Top1();
        long firstPublished = System.currentTimeMillis();
        int documents = 0;
        int expected = 0;
        for (SquadDataset.Article article : data.articles()) {
            for (SquadDataset.Paragraph p : article.paragraphs()) {
                client.publish(p.asDocument(tenant));
                documents++;
            }
            client.flush();
            for (SquadDataset.Question q : questionsOf(article)) {
                ask(client, "cmt-now", q, k, null);
                expected++;
            }
            client.flush();
        }
        for (SquadDataset.Question q : questions) {
            ask(client, "cmt-end", q, k, null);
            ask(client, "recall", q, 10, null);
            ask(client, "closed-book", q, 1, List.of());
            ask(client, "oracle", q, 1, List.of(q.paragraphId()));
            ask(client, "bm25", q, 1, bm25Top1.containsKey(q.id()) ? List.of(bm25Top1.get(q.id())) : List.of());
            ask(client, "cmt-k1", q, 1, null);
            ask(client, "cmt-k3", q, 3, null);
            expected += END_CONDITIONS;
        }
        client.flush();
        out.printf("Streamed %d documents of %d articles and %d queries (%d questions x %d conditions); "
                + "reading answers...%n", documents, data.articles().size(), expected, questions.size(),
                END_CONDITIONS + 1);

        Map<String, Map<String, Answer>> answers = new LinkedHashMap<>();
        CONDITIONS.forEach(c -> answers.put(c, new HashMap<>()));
        Map<String, Long> receivedAt = new HashMap<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        int received = collect(client, answers, receivedAt, expected, deadline);

        // The two best-matching other memories come from the recall run's evidence, so they are asked only now.
        int asked = 0;
        for (SquadDataset.Question q : questions) {
            Answer recall = answers.get("recall").get(q.id());
            if (recall != null) {
                ask(client, "gold-rank3", q, 3, goldBehindOthers(recall, q.paragraphId()));
                asked++;
            }
        }
        client.flush();
        expected += questions.size();
        received += collect(client, answers, receivedAt, asked, deadline);
        return new Run(answers, receivedAt, firstPublished, documents, expected,
                Duration.ofNanos(System.nanoTime() - started));
    }

    /** The two best-matching memories other than the gold one, then the gold one. */
    static List<String> goldBehindOthers(Answer recall, String gold) {
        List<String> ids = new ArrayList<>(recall.getEvidence().stream().map(Evidence::getDocId)
                .filter(id -> !id.equals(gold)).limit(2).toList());
        ids.add(gold);
        return ids;
    }

    /** Reads answers of this tenant until {@code expected} new ones came or the deadline passed; how many came. */
    private int collect(CmtClient client, Map<String, Map<String, Answer>> answers, Map<String, Long> receivedAt,
                        int expected, long deadline) {
        int received = 0;
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("answers").setInitialMax(expected)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(out)).build()) {
            while (received < expected && System.nanoTime() < deadline) {
                for (Answer a : client.pollAnswers(Duration.ofMillis(500))) {
                    if (!a.getTenant().equals(tenant)) {
                        continue;
                    }
                    int slash = a.getQueryId().indexOf('/');
                    Map<String, Answer> byQuestion = answers.get(a.getQueryId().substring(0, slash));
                    if (byQuestion != null && byQuestion.put(a.getQueryId().substring(slash + 1), a) == null) {
                        receivedAt.put(a.getQueryId(), System.currentTimeMillis());
                        received++;
                    }
                }
                bar.stepTo(received);
            }
        }
        return received;
    }

    private void ask(CmtClient client, String condition, SquadDataset.Question q, int topK, List<String> restrictTo) {
        client.publish(query(tenant, condition, q, topK, restrictTo));
    }

    /**
     * The query of one condition. Only gold-rank3 is read in the order listed: its gold memory, listed last, comes
     * third with a match score no higher than the two before it, whatever it matched.
     */
    static Query query(String tenant, String condition, SquadDataset.Question q, int topK, List<String> restrictTo) {
        return Query.newBuilder().setTenant(tenant).setId(condition + "/" + q.id()).setQuestion(q.question())
                .setAskedAt(Instant.now()).setTopK(topK).setRestrictTo(restrictTo)
                .setReadOrder(condition.equals("gold-rank3") ? ReadOrder.LISTED : null).build();
    }

    private List<SquadDataset.Question> questionsOf(SquadDataset.Article article) {
        return questionsByArticle.get(article.title());
    }

    private Map<String, String> bm25Top1() {
        Map<String, String> texts = new LinkedHashMap<>();
        data.paragraphs().forEach(p -> texts.put(p.id(), p.context()));
        Map<String, String> top1 = new HashMap<>();
        try (Bm25Retriever bm25 = Bm25Retriever.index(texts)) {
            for (SquadDataset.Question q : questions) {
                List<Hit> hits = bm25.topK(q.question(), 1);
                if (!hits.isEmpty()) {
                    top1.put(q.id(), hits.get(0).id());
                }
            }
        }
        return top1;
    }

    /** Scores a run into the report and the charts' data. */
    public StreamingReport score(Run run, String title) {
        EvaluationReport report = new EvaluationReport(title);
        report.fact(String.format("%d articles, %d paragraphs (documents), %d questions; top-k = %d; tenant %s",
                data.articles().size(), run.documents(), questions.size(), k, tenant));
        report.fact(String.format("%d of %d answers received from the answers topic in %.1f s",
                run.received(), run.expected(), run.elapsed().toMillis() / 1000.0));

        RetrievalMetrics recall = new RetrievalMetrics(10);
        for (SquadDataset.Question q : questions) {
            Answer a = run.answersByCondition().get("recall").get(q.id());
            recall.add(a == null ? List.of() : a.getEvidence().stream().map(Evidence::getDocId).toList(),
                    q.paragraphId());
        }
        report.retrieval("CMT self-matching (in the job)", recall);

        Map<String, String> descriptions = Map.of(
                "cmt-now", "top-" + k + " memories, asked right after its article streamed in",
                "cmt-end", "top-" + k + " memories, asked after every article streamed in",
                "recall", "top-10 memories (the retrieval run)",
                "closed-book", "no memory (restrictTo = [])",
                "oracle", "the gold paragraph's memory",
                "bm25", "the memory of BM25's top-1 paragraph",
                "cmt-k1", "top-1 memory",
                "cmt-k3", "top-3 memories",
                "gold-rank3", "the gold paragraph's memory read third, behind the two best-matching other memories,"
                        + " with a match score no higher than theirs (k = 3)");
        for (String condition : CONDITIONS) {
            report.reading(condition, descriptions.get(condition),
                    SquadScorer.score(questions, predictions(run, condition)));
        }

        List<Double> produced = new ArrayList<>();
        List<Double> visible = new ArrayList<>();
        long lastArticleFirstAnswer = Long.MAX_VALUE;
        List<SquadDataset.Question> lastArticle = questionsOf(data.articles().get(data.articles().size() - 1));
        for (SquadDataset.Question q : questions) {
            Answer a = run.answersByCondition().get("cmt-now").get(q.id());
            if (a == null) {
                continue;
            }
            long asked = a.getAskedAt().toEpochMilli();
            produced.add((double) (a.getAnsweredAt().toEpochMilli() - asked));
            visible.add((double) (run.receivedAt().get("cmt-now/" + q.id()) - asked));
            if (lastArticle.contains(q)) {
                lastArticleFirstAnswer = Math.min(lastArticleFirstAnswer, a.getAnsweredAt().toEpochMilli());
            }
        }
        double ingestSeconds = (lastArticleFirstAnswer - run.firstDocumentPublishedAt()) / 1000.0;
        report.note(String.format("**Latency** of `cmt-now` answers, askedAt to the answer being produced: %s; "
                        + "to the answer being visible to a read_committed consumer: %s (ms).",
                Percentiles.describe(produced), Percentiles.describe(visible)));
        report.note(String.format("**Ingestion**: %d documents in at most %.1f s, at least %.2f documents/s "
                        + "(first document published to the first answer about the last article, which the "
                        + "consistency guarantee holds back until every earlier document is in the bank).",
                run.documents(), ingestSeconds, run.documents() / ingestSeconds));

        List<StreamingReport.ArticleRetention> retention = new ArrayList<>();
        for (SquadDataset.Article article : data.articles()) {
            List<SquadDataset.Question> qs = questionsOf(article);
            retention.add(new StreamingReport.ArticleRetention(article.title(),
                    SquadScorer.score(qs, predictions(run, "cmt-now")),
                    SquadScorer.score(qs, predictions(run, "cmt-end"))));
        }
        StringBuilder table = new StringBuilder("## Retention: F1 right after an article streamed in, and after all\n\n"
                + "Matched as of askedAt, a question asked right after its article can read only the articles "
                + "streamed so far, however late the job matched it; `evidence differs` counts the questions whose "
                + "evidence now and at the end differ, `read later` those whose answer right after its article "
                + "cites a later article (0 unless matching as of askedAt is off).\n\n"
                + "| # | article | questions | EM now | F1 now | EM at end | F1 at end | evidence differs | read later |\n"
                + "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        Map<String, Integer> articleOf = new HashMap<>();
        for (int i = 0; i < data.articles().size(); i++) {
            for (SquadDataset.Paragraph p : data.articles().get(i).paragraphs()) {
                articleOf.put(p.id(), i);
            }
        }
        for (int i = 0; i < retention.size(); i++) {
            StreamingReport.ArticleRetention r = retention.get(i);
            int differs = 0;
            int readLater = 0;
            for (SquadDataset.Question q : questionsOf(data.articles().get(i))) {
                List<String> now = evidence(run, "cmt-now", q.id());
                if (!now.equals(evidence(run, "cmt-end", q.id()))) {
                    differs++;
                }
                int article = i;
                if (now.stream().anyMatch(docId -> articleOf.getOrDefault(docId, -1) > article)) {
                    readLater++;
                }
            }
            table.append(String.format("| %d | %s | %d | %.1f | %.1f | %.1f | %.1f | %d | %d |%n", i + 1, r.title(),
                    r.now().questions(), r.now().exactMatch(), r.now().f1(), r.atEnd().exactMatch(), r.atEnd().f1(),
                    differs, readLater));
        }
        report.note(table.toString());
        return new StreamingReport(report, retention, produced);
    }

    private static List<String> evidence(Run run, String condition, String questionId) {
        Answer a = run.answersByCondition().get(condition).get(questionId);
        return a == null ? List.of() : a.getEvidence().stream().map(e -> e.getDocId()).toList();
    }

    private static Map<String, String> predictions(Run run, String condition) {
        Map<String, String> predictions = new HashMap<>();
        run.answersByCondition().get(condition).forEach((id, a) -> predictions.put(id, a.getAnswer()));
        return predictions;
    }

    public static void main(String[] args) {
        try {
            System.exit(run(args, System.out));
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
        } catch (Exception e) {
            e.printStackTrace();
            System.exit(1);
        }
    }

    static int run(String[] args, PrintStream out) throws Exception {
        StreamingEvaluationArgs a = new StreamingEvaluationArgs();
        if (!Cli.parse(a, args)) {
            return 0;
        }
        SquadDataset all = SquadDataset.load(a.data.squad);
        List<String> titles = a.articles.isEmpty() ? SquadSplit.load(a.data.split).titles(a.set) : a.articles;
        if (a.limitArticles > 0) {
            titles = titles.subList(0, Math.min(titles.size(), a.limitArticles));
        }
        SquadDataset data = all.select(titles);
        String tenant = "eval-" + System.currentTimeMillis();
        StreamingEvaluation evaluation = new StreamingEvaluation(data, a.questionsPerArticle, a.k, tenant, out);
        Duration timeout = Duration.ofSeconds(a.timeoutSeconds);
        String what = a.articles.isEmpty() ? "'" + a.set + "' split" : "chosen articles";

        Run run;
        String where;
        if (a.bootstrapServers == null || a.bootstrapServers.isEmpty()) {
            Map<String, String> options = new LinkedHashMap<>(a.job.settings());
            options.putIfAbsent("cmt.query.default-top-k", Integer.toString(a.k));
            try (EmbeddedCluster cluster = EmbeddedCluster.start(options, false); CmtClient client = cluster.client()) {
                where = "embedded job (in-process Kafka, MiniCluster, RocksDB), model " + cluster.model().name()
                        + "@" + cluster.model().version();
                run = evaluation.stream(client, timeout);
            }
        } else {
            Properties props = JobConfig.kafkaProperties(a.job.configuration());
            props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, a.bootstrapServers);
            try (CmtClient client = new CmtClient(props, "documents", "queries", "answers")) {
                where = "running job at " + a.bootstrapServers;
                run = evaluation.stream(client, timeout);
            }
        }
        StreamingReport report = evaluation.score(run, "cmt-stream streaming evaluation: " + what);
        report.report().fact("job: " + where);
        report.report().fact("command: StreamingEvaluation " + String.join(" ", args));
        Path dir = a.out;
        report.write(dir);
        out.println(report.report().toMarkdown());
        out.println("Report written to " + dir.resolve("report.md").toAbsolutePath());
        if (run.received() < run.expected()) {
            out.printf("FAILED: %d answers missing after %s%n", run.expected() - run.received(), timeout);
            return 2;
        }
        return 0;
    }
}
