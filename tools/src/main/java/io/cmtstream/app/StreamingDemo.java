package io.cmtstream.app;

import io.cmtstream.avro.Answer;
import io.cmtstream.avro.Query;
import io.cmtstream.client.CmtClient;
import io.cmtstream.squad.SquadDataset;
import io.cmtstream.squad.SquadScorer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The embedded default's script: streams SQuAD articles one after the other (each article's paragraphs as
 * documents, then some of its questions), reads the answers back from the answers topic while later articles are
 * still streaming, and scores them. Everything goes through the real topics.
 */
public final class StreamingDemo {
    private final CmtClient client;
    private final PrintStream out;
    private final String tenant;

    public StreamingDemo(CmtClient client, PrintStream out, String tenant) {
        this.client = client;
        this.out = out;
        this.tenant = tenant;
    }

    /** Result of a demo run. */
    public record Result(int documents, int questions, int answered, SquadScorer.Score score,
                         int goldInEvidence, int goldFirst, Duration elapsed, Map<String, Answer> answers) {}

    public Result run(SquadDataset data, int questionsPerArticle, Duration timeout) {
        long started = System.nanoTime();
        Map<String, SquadDataset.Question> asked = new LinkedHashMap<>();
        int documents = 0;
        for (SquadDataset.Article article : data.articles()) {
            for (SquadDataset.Paragraph p : article.paragraphs()) {
                client.publish(p.asDocument(tenant));
                documents++;
            }
            client.flush();
            int n = 0;
            for (SquadDataset.Question q : data.questions()) {
                if (n < questionsPerArticle && data.paragraph(q.paragraphId()).title().equals(article.title())) {
                    client.publish(Query.newBuilder().setTenant(tenant).setId(q.id()).setQuestion(q.question())
                            .setAskedAt(Instant.now()).build());
                    asked.put(q.id(), q);
                    n++;
                }
            }
            client.flush();
        }
        out.printf("Published %d documents and %d questions from %d articles; reading answers...%n",
                documents, asked.size(), data.articles().size());

        Map<String, Answer> answers = new HashMap<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("answers").setInitialMax(asked.size())
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(out))
                .build()) {
            while (answers.size() < asked.size() && System.nanoTime() < deadline) {
                for (Answer a : client.pollAnswers(Duration.ofMillis(500))) {
                    if (asked.containsKey(a.getQueryId())) {
                        answers.put(a.getQueryId(), a);
                    }
                }
                bar.stepTo(answers.size());
            }
        }

        Map<String, String> predictions = new HashMap<>();
        int goldInEvidence = 0;
        int goldFirst = 0;
        for (Map.Entry<String, Answer> e : answers.entrySet()) {
            Answer a = e.getValue();
            predictions.put(e.getKey(), a.getAnswer());
            String gold = asked.get(e.getKey()).paragraphId();
            if (a.getEvidence().stream().anyMatch(ev -> ev.getDocId().equals(gold))) {
                goldInEvidence++;
            }
            if (!a.getEvidence().isEmpty() && a.getEvidence().get(0).getDocId().equals(gold)) {
                goldFirst++;
            }
        }
        List<SquadDataset.Question> questions = List.copyOf(asked.values());
        SquadScorer.Score score = SquadScorer.score(questions, predictions);
        return new Result(documents, asked.size(), answers.size(), score, goldInEvidence, goldFirst,
                Duration.ofNanos(System.nanoTime() - started), answers);
    }
}
