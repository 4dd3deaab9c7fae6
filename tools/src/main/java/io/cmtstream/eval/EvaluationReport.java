package io.cmtstream.eval;

import io.cmtstream.squad.SquadScorer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The figures of one evaluation run and their markdown rendering: a list of facts about the run, a retrieval table
 * (recall@1/5/10 and MRR per retriever) and an answer table (EM/F1 per reading condition).
 *
 * <p>Rows keep insertion order; a name appears once per table (adding it again replaces the row). Not
 * thread-safe: filled by one run, then read.
 */
public final class EvaluationReport {

    /** One reading condition: what the reader was given, and how well it answered. */
    public record Reading(String description, SquadScorer.Score score) {}

    private final String title;
    private final List<String> facts = new ArrayList<>();
    private final Map<String, RetrievalMetrics> retrieval = new LinkedHashMap<>();
    private final Map<String, Reading> reading = new LinkedHashMap<>();
    private final List<String> notes = new ArrayList<>();

    public EvaluationReport(String title) {
        this.title = title;
    }

    /** Adds a line to the run's description (data, model, sizes, timings). */
    public void fact(String line) {
        facts.add(line);
    }

    /** Adds a line under the tables. */
    public void note(String line) {
        notes.add(line);
    }

    public void retrieval(String method, RetrievalMetrics metrics) {
        retrieval.put(method, metrics);
    }

    public void reading(String condition, String description, SquadScorer.Score score) {
        reading.put(condition, new Reading(description, score));
    }

    /** The retrieval figures of a method, or null if it was not evaluated. */
    public RetrievalMetrics retrieval(String method) {
        return retrieval.get(method);
    }

    /** The answer figures of a reading condition, or null if it was not evaluated. */
    public Reading reading(String condition) {
        return reading.get(condition);
    }

    public String toMarkdown() {
        StringBuilder md = new StringBuilder();
        md.append("# ").append(title).append("\n\n");
        for (String fact : facts) {
            md.append("- ").append(fact).append('\n');
        }
        if (!retrieval.isEmpty()) {
            md.append("\n## Retrieval: the question's own paragraph among all paragraphs of the set\n\n");
            md.append("| method |");
            for (int k : RetrievalMetrics.REPORTED_KS) {
                md.append(" R@").append(k).append(" |");
            }
            md.append(" MRR@10 | questions |\n|---|");
            md.append("---:|".repeat(RetrievalMetrics.REPORTED_KS.size() + 2)).append('\n');
            retrieval.forEach((method, m) -> {
                md.append("| ").append(method).append(" |");
                for (int k : RetrievalMetrics.REPORTED_KS) {
                    md.append(' ').append(k <= m.maxK() ? percent(m.recallAt(k)) : "n/a").append(" |");
                }
                md.append(' ').append(percent(m.meanReciprocalRank())).append(" | ")
                        .append(m.questions()).append(" |\n");
            });
        }
        if (!reading.isEmpty()) {
            md.append("\n## Answers: official SQuAD v1.1 exact match and F1\n\n");
            md.append("| condition | the reader is given | EM | F1 | questions |\n|---|---|---:|---:|---:|\n");
            reading.forEach((condition, r) -> md.append("| ").append(condition).append(" | ")
                    .append(r.description()).append(" | ")
                    .append(number(r.score().exactMatch())).append(" | ")
                    .append(number(r.score().f1())).append(" | ")
                    .append(r.score().questions()).append(" |\n"));
        }
        if (!notes.isEmpty()) {
            md.append('\n');
            notes.forEach(n -> md.append(n).append("\n\n"));
        }
        return md.toString();
    }

    private static String percent(double fraction) {
        return number(100 * fraction);
    }

    private static String number(double value) {
        return Double.isNaN(value) ? "n/a" : String.format(Locale.ROOT, "%.1f", value);
    }
}
