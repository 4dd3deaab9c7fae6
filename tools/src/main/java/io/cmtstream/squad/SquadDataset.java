package io.cmtstream.squad;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The articles, paragraphs and questions of a SQuAD v1.1 JSON file, or of a selection of its articles.
 *
 * <p>Only the fields the evaluation needs are read: {@code data[].title}, {@code paragraphs[].context} and
 * {@code qas[].id/question/answers[].text}; {@code answer_start} is ignored because EM and F1 use the text alone.
 *
 * <p>Invariants: article titles and question ids are unique (loading fails otherwise); a paragraph's id is
 * {@code "<title>#<index>"} with the 0-based index of the paragraph in its article, so it is stable across loads and
 * selections; every question names the paragraph it was asked about; articles, paragraphs and questions keep file
 * order. Instances are immutable and thread-safe.
 */
public final class SquadDataset {

    /** One article: its title and its paragraphs in file order. */
    public record Article(String title, List<Paragraph> paragraphs) {
        public Article {
            paragraphs = List.copyOf(paragraphs);
        }
    }

    /**
     * One paragraph, the unit that becomes a document (and a memory).
     *
     * @param id {@code "<title>#<index>"}
     * @param title the article's title
     * @param index 0-based position in the article
     * @param context the paragraph text
     */
    public record Paragraph(String id, String title, int index, String context) {
        /** This paragraph as a document of {@code tenant}, published now: how every tool streams SQuAD. */
        public io.cmtstream.avro.Document asDocument(String tenant) {
            return io.cmtstream.avro.Document.newBuilder().setTenant(tenant).setId(id).setText(context)
                    .setTitle(title).setSource("squad-v1.1-dev").setOp(io.cmtstream.avro.DocumentOp.UPSERT)
                    .setPublishedAt(java.time.Instant.now()).build();
        }
    }

    /**
     * One question with its crowd-sourced reference answers.
     *
     * @param id the SQuAD question id
     * @param question the question text
     * @param answers reference answer texts, in file order (duplicates kept, as in the file)
     * @param paragraphId id of the paragraph the question was asked about (the gold document)
     */
    public record Question(String id, String question, List<String> answers, String paragraphId) {
        public Question {
            answers = List.copyOf(answers);
        }
    }

    private final List<Article> articles;
    private final List<Question> questions;
    private final Map<String, Paragraph> paragraphsById;

    private SquadDataset(List<Article> articles, List<Question> questions) {
        this.articles = List.copyOf(articles);
        this.questions = List.copyOf(questions);
        Map<String, Paragraph> byId = new LinkedHashMap<>();
        for (Article article : this.articles) {
            for (Paragraph p : article.paragraphs()) {
                byId.put(p.id(), p);
            }
        }
        this.paragraphsById = byId;
    }

    /** Reads a SQuAD v1.1 JSON file. */
    public static SquadDataset load(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read SQuAD file " + file, e);
        }
        JsonNode data = root.path("data");
        if (!data.isArray()) {
            throw new IllegalArgumentException(file + " has no 'data' array: not a SQuAD v1.1 file");
        }
        List<Article> articles = new ArrayList<>();
        List<Question> questions = new ArrayList<>();
        Set<String> titles = new HashSet<>();
        Set<String> questionIds = new HashSet<>();
        for (JsonNode articleNode : data) {
            String title = requiredText(articleNode, "title", file);
            if (!titles.add(title)) {
                throw new IllegalArgumentException(file + ": duplicate article title " + title);
            }
            List<Paragraph> paragraphs = new ArrayList<>();
            int index = 0;
            for (JsonNode paragraphNode : articleNode.path("paragraphs")) {
                Paragraph paragraph =
                        new Paragraph(title + "#" + index, title, index, requiredText(paragraphNode, "context", file));
                paragraphs.add(paragraph);
                for (JsonNode qa : paragraphNode.path("qas")) {
                    String id = requiredText(qa, "id", file);
                    if (!questionIds.add(id)) {
                        throw new IllegalArgumentException(file + ": duplicate question id " + id);
                    }
                    List<String> answers = new ArrayList<>();
                    for (JsonNode answer : qa.path("answers")) {
                        answers.add(requiredText(answer, "text", file));
                    }
                    questions.add(new Question(id, requiredText(qa, "question", file), answers, paragraph.id()));
                }
                index++;
            }
            articles.add(new Article(title, paragraphs));
        }
        return new SquadDataset(articles, questions);
    }

    private static String requiredText(JsonNode node, String field, Path file) {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual()) {
            throw new IllegalArgumentException(file + ": missing text field '" + field + "' in " + abbreviate(node));
        }
        return value.asText();
    }

    private static String abbreviate(JsonNode node) {
        String text = node.toString();
        return text.length() <= 120 ? text : text.substring(0, 120) + "...";
    }

    /** The articles of one split (e.g. "test"), in this file's order. */
    public SquadDataset select(SquadSplit split, String splitName) {
        return select(split.titles(splitName));
    }

    /**
     * The named articles, in this file's order.
     *
     * @throws IllegalArgumentException naming the first title this dataset does not have
     */
    public SquadDataset select(Collection<String> titles) {
        Set<String> wanted = new HashSet<>(titles);
        Map<String, Article> byTitle = new HashMap<>();
        for (Article article : articles) {
            byTitle.put(article.title(), article);
        }
        for (String title : titles) {
            if (!byTitle.containsKey(title)) {
                throw new IllegalArgumentException("no article titled '" + title + "' in the SQuAD file");
            }
        }
        List<Article> kept = articles.stream().filter(a -> wanted.contains(a.title())).toList();
        Set<String> keptParagraphs = new HashSet<>();
        kept.forEach(a -> a.paragraphs().forEach(p -> keptParagraphs.add(p.id())));
        List<Question> keptQuestions =
                questions.stream().filter(q -> keptParagraphs.contains(q.paragraphId())).toList();
        return new SquadDataset(kept, keptQuestions);
    }

    public List<Article> articles() {
        return articles;
    }

    /** Every paragraph of every article, in file order. */
    public List<Paragraph> paragraphs() {
        return List.copyOf(paragraphsById.values());
    }

    public List<Question> questions() {
        return questions;
    }

    /** @throws IllegalArgumentException if this dataset has no paragraph with that id */
    public Paragraph paragraph(String id) {
        Paragraph p = paragraphsById.get(id);
        if (p == null) {
            throw new IllegalArgumentException("no paragraph " + id);
        }
        return p;
    }
}
