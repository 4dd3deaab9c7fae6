package io.cmtstream.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The identity of the space a model writes memories in: what a stored memory's key, lexical half and states depend
 * on. Two models with the same memory space can read each other's memories; a new reader alone keeps it (the
 * reader reads memories, it does not make them), a new key head, word embeddings, memory layer, backbone or lexical
 * weighting changes it. A memory bank records it, so a restore under another model fails instead of matching
 * questions against keys of another space ({@code memory/BankLayout}).
 */
public final class MemorySpace {
    private MemorySpace() {}

    /**
     * {@code <key dim>x<hidden>-<first 16 hex digits of a SHA-256>} over the contract format, the backbone's
     * identity and memory layer, the lexical weighting's parameters and the bytes of the files a memory is made
     * with (the key head, the word embeddings, the idf table); the backbone's ONNX file is named, not hashed (it
     * comes from a versioned Maven artifact and is large).
     *
     * @throws ModelLoadException when one of those files cannot be read
     */
    public static String of(ModelConfig model) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
        ModelConfig.Backbone b = model.backbone();
        text(sha, ModelConfig.FORMAT, b.kind(), b.maven(), b.onnxResource(), b.tokenizerResource(),
                b.memoryOutput(), Integer.toString(b.memoryLayer()), Integer.toString(model.dims().key()),
                Integer.toString(model.dims().hidden()), Integer.toString(model.maxDocumentTokens()));
        if (model.files() != null) {
            file(sha, model.files().compressor());
            file(sha, model.files().embeddings());
        }
        ModelConfig.Lexical lexical = model.lexical();
        if (lexical != null) {
            text(sha, Double.toString(lexical.k1()), Double.toString(lexical.b()),
                    Double.toString(lexical.averageLength()));
            file(sha, lexical.idf());
        }
        return model.dims().key() + "x" + model.dims().hidden() + "-"
                + HexFormat.of().formatHex(sha.digest()).substring(0, 16);
    }

    private static void text(MessageDigest sha, String... parts) {
        for (String part : parts) {
            sha.update(String.valueOf(part).getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
        }
    }

    private static void file(MessageDigest sha, Path path) {
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(path)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha.update(buffer, 0, n);
            }
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + path + ": " + e, e);
        }
        sha.update((byte) 0);
    }
}
