package io.cmtstream.squad;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs on the project's own data/squad files (surefire's working directory is the project root). */
class SquadDatasetTest {

    private static SquadDataset all;
    private static SquadSplit split;

    @BeforeAll
    static void load() {
        all = SquadDataset.load(Path.of("data/squad/squad-v1.1-dev-open.json"));
        split = SquadSplit.load(Path.of("data/squad/split.json"));
    }

    @Test
    void loadsEveryOpenArticleParagraphAndQuestion() {
        // Figures from data/squad/README.md.
        assertEquals(38, all.articles().size());
        assertEquals(1631, all.paragraphs().size());
        assertEquals(8583, all.questions().size());
    }

    @Test
    void paragraphIdIsTitleHashIndexInArticle() {
        SquadDataset.Paragraph first = all.paragraphs().get(0);
        assertEquals("1973_oil_crisis#0", first.id());
        assertEquals("1973_oil_crisis", first.title());
        assertEquals(0, first.index());
        assertTrue(first.context().startsWith("The 1973 oil crisis began in October 1973"));
        assertEquals(first, all.paragraph("1973_oil_crisis#0"));
    }

    @Test
    void questionCarriesItsReferenceAnswersAndGoldParagraph() {
        SquadDataset.Question q = all.questions().get(0);
        assertEquals("5725b33f6a3fe71400b8952d", q.id());
        assertEquals("When did the 1973 oil crisis begin?", q.question());
        assertEquals(List.of("October 1973", "October 1973", "October 1973", "October", "1973"), q.answers());
        assertEquals("1973_oil_crisis#0", q.paragraphId());
    }

    @Test
    void testSplitSelectsItsSixArticlesWithOnlyTheirQuestions() {
        SquadDataset test = all.select(split, "test");
        assertEquals(List.of("Fresno,_California", "Genghis_Khan", "Imperialism", "Islamism", "Nikola_Tesla",
                "Scottish_Parliament"), test.articles().stream().map(SquadDataset.Article::title).toList());
        assertEquals(291, test.paragraphs().size());
        assertEquals(1468, test.questions().size());
        Set<String> titles = new HashSet<>(split.titles("test"));
        for (SquadDataset.Question q : test.questions()) {
            assertTrue(titles.contains(test.paragraph(q.paragraphId()).title()), q.id());
        }
    }

    @Test
    void splitsCoverEveryArticleExactlyOnce() {
        assertEquals(Set.of("test", "validation", "train"), split.names());
        int total = 0;
        Set<String> seen = new HashSet<>();
        for (String name : split.names()) {
            total += split.titles(name).size();
            seen.addAll(split.titles(name));
        }
        assertEquals(38, total);
        assertEquals(all.articles().stream().map(SquadDataset.Article::title).collect(java.util.stream.Collectors.toSet()),
                seen);
    }

    @Test
    void selectionByTitlesKeepsFileOrderAndParagraphIds() {
        SquadDataset two = all.select(List.of("Nikola_Tesla", "Amazon_rainforest"));
        assertEquals("Amazon_rainforest", two.articles().get(0).title());
        assertEquals("Nikola_Tesla#3", two.articles().get(1).paragraphs().get(3).id());
        assertFalse(two.questions().isEmpty());
    }

    @Test
    void unknownTitleFailsNamingIt() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> all.select(List.of("Atlantis")));
        assertTrue(e.getMessage().contains("Atlantis"), e.getMessage());
    }

    @Test
    void unknownSplitFailsListingTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> split.titles("dev"));
        assertTrue(e.getMessage().contains("validation"), e.getMessage());
    }
}
