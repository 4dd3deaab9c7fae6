package io.cmtstream.squad;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The official SQuAD v1.1 metric (evaluate-v1.1.py), so that figures are comparable with published ones.
 *
 * <p>Normalisation, in the script's order: lower-case; delete every ASCII punctuation character (Python's
 * {@code string.punctuation}); replace the whole words a, an, the by a space; collapse whitespace. Exact match
 * compares normalised strings; F1 is the token-overlap F1 of the normalised, whitespace-split tokens, counting
 * repeated tokens as a multiset. Both are maxed over the reference answers and averaged over questions, ×100.
 *
 * <p>Edge cases follow the v1.1 script exactly (not v2.0): an empty prediction gets F1 0 even against an empty
 * reference, while its exact match against an empty reference is 1. Stateless and thread-safe.
 */
public final class SquadScorer {

    /**
     * Aggregated figures over a set of questions.
     *
     * @param exactMatch mean exact match ×100
     * @param f1 mean F1 ×100
     * @param questions how many questions were scored (unanswered ones count as 0, as in the official script)
     */
    public record Score(double exactMatch, double f1, int questions) {}

    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    // Python's re is Unicode-aware for str patterns: \b must see non-ASCII letters as word characters too.
    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b", Pattern.UNICODE_CHARACTER_CLASS);

    private SquadScorer() {}

    /** The official normalisation of an answer text. */
    public static String normalize(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        StringBuilder noPunctuation = new StringBuilder(lower.length());
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            if (PUNCTUATION.indexOf(c) < 0) {
                noPunctuation.append(c);
            }
        }
        String noArticles = ARTICLES.matcher(noPunctuation).replaceAll(" ");
        return String.join(" ", splitOnWhitespace(noArticles));
    }

    /** Python's {@code str.split()}: runs of whitespace separate tokens, no empty tokens. */
    private static List<String> splitOnWhitespace(String text) {
        List<String> tokens = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < text.length(); i++) {
            if (isPythonSpace(text.charAt(i))) {
                if (start >= 0) {
                    tokens.add(text.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
        }
        if (start >= 0) {
            tokens.add(text.substring(start));
        }
        return tokens;
    }

    // Python's str.isspace also counts no-break spaces (Zs) and NEL, which Character.isWhitespace does not.
    private static boolean isPythonSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    /** Whether the prediction equals the reference after normalisation. */
    public static boolean exactMatch(String prediction, String reference) {
        return normalize(prediction).equals(normalize(reference));
    }

    /** Token-overlap F1 in [0, 1]; 0 when the two share no token. */
    public static double f1(String prediction, String reference) {
        List<String> predicted = tokens(prediction);
        List<String> expected = tokens(reference);
        Map<String, Integer> remaining = new HashMap<>();
        for (String token : expected) {
            remaining.merge(token, 1, Integer::sum);
        }
        int same = 0;
        for (String token : predicted) {
            Integer left = remaining.get(token);
            if (left != null && left > 0) {
                remaining.put(token, left - 1);
                same++;
            }
        }
        if (same == 0) {
            return 0.0;
        }
        double precision = (double) same / predicted.size();
        double recall = (double) same / expected.size();
        return 2 * precision * recall / (precision + recall);
    }

    private static List<String> tokens(String text) {
        String normalized = normalize(text);
        return normalized.isEmpty() ? List.of() : Arrays.asList(normalized.split(" "));
    }

    /** Exact match (0 or 1) maxed over the references; 0 when there are none. */
    public static double maxExactMatch(String prediction, List<String> references) {
        for (String reference : references) {
            if (exactMatch(prediction, reference)) {
                return 1.0;
            }
        }
        return 0.0;
    }

    /** F1 maxed over the references; 0 when there are none. */
    public static double maxF1(String prediction, List<String> references) {
        double best = 0.0;
        for (String reference : references) {
            best = Math.max(best, f1(prediction, reference));
        }
        return best;
    }

    /**
     * Scores predictions (question id to answer text) over the given questions, as evaluate-v1.1.py does: a question
     * with no prediction scores 0 and still counts.
     */
    public static Score score(List<SquadDataset.Question> questions, Map<String, String> predictions) {
        double em = 0;
        double f1 = 0;
        for (SquadDataset.Question question : questions) {
            String prediction = predictions.get(question.id());
            if (prediction == null) {
                continue;
            }
            em += maxExactMatch(prediction, question.answers());
            f1 += maxF1(prediction, question.answers());
        }
        int n = questions.size();
        return n == 0 ? new Score(Double.NaN, Double.NaN, 0) : new Score(100 * em / n, 100 * f1 / n, n);
    }
}
