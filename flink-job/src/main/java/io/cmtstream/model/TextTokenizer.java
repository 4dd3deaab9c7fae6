package io.cmtstream.model;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The backbone's WordPiece tokenizer (Hugging Face tokenizers through DJL): texts to {@code [CLS] .. [SEP]} ids
 * truncated to a maximum length, with each token's piece ({@link Pieces}: the id and whether the token starts a
 * whitespace-separated chunk of the text), and the vocabulary to read pieces back as text ({@link PieceText}).
 *
 * <p>Thread-safe (the native tokenizer is). Owns the native tokenizer; {@link #close} frees it.
 */
final class TextTokenizer implements AutoCloseable {

    private final HuggingFaceTokenizer tokenizer;
    private final PieceText pieceText;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, PieceText pieceText) {
        this.tokenizer = tokenizer;
        this.pieceText = pieceText;
    }

    /**
     * Loads the tokenizer resource named in {@code config}.
     *
     * @throws ModelLoadException naming the resource and model.json
     */
    static TextTokenizer load(ModelConfig config) {
        String name = config.backbone().tokenizerResource();
        Path json = ModelConfig.modelJson(config.dir());
        // Truncation and padding are done here, not by the tokenizer: the untruncated length is a metric.
        Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false",
                "padding", "false");
        HuggingFaceTokenizer tokenizer;
        try (InputStream in = BackboneResources.open(config.dir(), name)) {
            tokenizer = HuggingFaceTokenizer.newInstance(in, options);
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("cannot load tokenizer " + name + " named in " + json + ": "
                    + e.getMessage(), e);
        }
        try (InputStream in = BackboneResources.open(config.dir(), name)) {
            return new TextTokenizer(tokenizer, PieceText.read(in));
        } catch (IOException | RuntimeException e) {
            tokenizer.close();
            throw new ModelLoadException("cannot read the vocabulary of tokenizer " + name + " named in " + json
                    + ": " + e.getMessage(), e);
        }
    }

    /** The vocabulary, for reading pieces back as text. */
    PieceText pieceText() {
        return pieceText;
    }

    /** Tokenizes {@code texts}, each truncated to {@code maxTokens} ids, specials included. */
    Tokenized tokenize(List<String> texts, int maxTokens) {
        Encoding[] encodings = tokenizer.batchEncode(texts);
        long[][] ids = new long[texts.size()][];
        short[][] pieces = new short[texts.size()][];
        int[] counts = new int[texts.size()];
        boolean[] truncated = new boolean[texts.size()];
        int longest = 0;
        for (int i = 0; i < encodings.length; i++) {
            long[] full = encodings[i].getIds();
            long[] special = encodings[i].getSpecialTokenMask();
            short[] allPieces = pieces(texts.get(i), full, special, encodings[i].getCharTokenSpans());
            counts[i] = (int) (full.length - Arrays.stream(special).filter(m -> m != 0).count());
            if (full.length > maxTokens) {
                // Same as Hugging Face truncation of one sequence: drop text tokens from the end, keep [SEP].
                ids[i] = Arrays.copyOf(full, maxTokens);
                ids[i][maxTokens - 1] = full[full.length - 1];
                pieces[i] = Arrays.copyOf(allPieces, maxTokens);
                pieces[i][maxTokens - 1] = allPieces[full.length - 1];
                truncated[i] = true;
            } else {
                ids[i] = full;
                pieces[i] = allPieces;
            }
            longest = Math.max(longest, ids[i].length);
        }
        return new Tokenized(ids, pieces, longest, counts, truncated);
    }

    /** One piece per token; the tokenizer's offsets count code points, Java strings UTF-16 units. */
    private static short[] pieces(String text, long[] ids, long[] special, CharSpan[] spans) {
        int[] charIndex = new int[text.codePointCount(0, text.length()) + 1];
        for (int c = 0, i = 0; i < text.length(); c++) {
            charIndex[c] = i;
            i += Character.charCount(text.codePointAt(i));
        }
        charIndex[charIndex.length - 1] = text.length();
        short[] out = new short[ids.length];
        for (int t = 0; t < ids.length; t++) {
            CharSpan span = spans[t];
            boolean starts = special[t] == 0 && span != null && span.getStart() >= 0
                    && span.getStart() < charIndex.length && Pieces.startsChunk(text, charIndex[span.getStart()]);
            out[t] = Pieces.of(ids[t], starts);
        }
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
