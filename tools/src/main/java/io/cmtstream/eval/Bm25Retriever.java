package io.cmtstream.eval;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The BM25 baseline: an in-memory Lucene index over documents, queried with free text.
 *
 * <p>Documents and queries go through the same analyzer (Lucene's StandardAnalyzer: Unicode word segmentation,
 * lower-casing, the classic English stop words; no stemming, which lives outside lucene-core). A query is the
 * disjunction of its analysed terms, built directly as term queries, so question marks, quotes or words like "AND" in
 * a question are plain text rather than query syntax. Scoring is Lucene's BM25 with its defaults (k1 = 1.2,
 * b = 0.75).
 *
 * <p>Immutable after construction; {@link #topK} is thread-safe. Owns its index: {@link #close()} releases it.
 */
public final class Bm25Retriever implements AutoCloseable {

    private static final String ID = "id";
    private static final String TEXT = "text";

    // The list Lucene's EnglishAnalyzer uses (ENGLISH_STOP_WORDS_SET); that class is not in lucene-core.
    private static final CharArraySet STOP_WORDS = CharArraySet.unmodifiableSet(new CharArraySet(List.of(
            "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
            "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to",
            "was", "will", "with"), false));

    private final Analyzer analyzer;
    private final Directory directory;
    private final DirectoryReader reader;
    private final IndexSearcher searcher;

    private Bm25Retriever(Analyzer analyzer, Directory directory, DirectoryReader reader) {
        this.analyzer = analyzer;
        this.directory = directory;
        this.reader = reader;
        this.searcher = new IndexSearcher(reader);
        this.searcher.setSimilarity(new BM25Similarity());
    }

    /** Indexes the documents (id to text); ids should be unique, as hits are reported by id. */
    public static Bm25Retriever index(Map<String, String> textsById) {
        Analyzer analyzer = new StandardAnalyzer(STOP_WORDS);
        Directory directory = new ByteBuffersDirectory();
        try {
            IndexWriterConfig config = new IndexWriterConfig(analyzer).setSimilarity(new BM25Similarity());
            try (IndexWriter writer = new IndexWriter(directory, config)) {
                for (Map.Entry<String, String> doc : textsById.entrySet()) {
                    Document document = new Document();
                    document.add(new StoredField(ID, doc.getKey()));
                    document.add(new TextField(TEXT, doc.getValue(), Field.Store.NO));
                    writer.addDocument(document);
                }
            }
            return new Bm25Retriever(analyzer, directory, DirectoryReader.open(directory));
        } catch (IOException e) {
            analyzer.close();
            throw new UncheckedIOException("cannot build the BM25 index", e);
        }
    }

    /** How many documents are indexed. */
    public int size() {
        return reader.numDocs();
    }

    /**
     * The k best documents for the query, best first (ties in index order). Empty when the query has no indexable
     * term (e.g. only stop words or punctuation).
     */
    public List<Hit> topK(String query, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, was " + k);
        }
        BooleanQuery.Builder builder = new BooleanQuery.Builder();
        int clauses = 0;
        try (TokenStream tokens = analyzer.tokenStream(TEXT, query)) {
            CharTermAttribute term = tokens.addAttribute(CharTermAttribute.class);
            tokens.reset();
            // A pasted paragraph as a query must not trip Lucene's clause limit; its first terms are enough.
            while (tokens.incrementToken() && clauses < IndexSearcher.getMaxClauseCount()) {
                builder.add(new TermQuery(new Term(TEXT, term.toString())), BooleanClause.Occur.SHOULD);
                clauses++;
            }
            tokens.end();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (clauses == 0) {
            return List.of();
        }
        try {
            TopDocs top = searcher.search(builder.build(), k);
            StoredFields stored = searcher.storedFields();
            List<Hit> hits = new ArrayList<>(top.scoreDocs.length);
            for (ScoreDoc scoreDoc : top.scoreDocs) {
                hits.add(new Hit(stored.document(scoreDoc.doc).get(ID), scoreDoc.score));
            }
            return hits;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try (analyzer; directory; reader) {
            // try-with-resources closes all three, in reverse order, even if one fails
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
