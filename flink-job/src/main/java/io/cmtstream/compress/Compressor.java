package io.cmtstream.compress;

import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;
import io.cmtstream.avro.Query;
import io.cmtstream.avro.ReadOrder;
import io.cmtstream.memory.CompressedDocument;
import io.cmtstream.memory.Memory;
import io.cmtstream.model.Encoding;
import io.cmtstream.model.MemoryStates;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Compression in the paper's sense: a document becomes a memory (key + its token states, int8, and pieces) and a
 * question becomes a key in the same space (self-matching) with its token states, both through the one backbone
 * and key head of the model.
 *
 * <p>Thread-safe if the encoders are; it holds no state of its own.
 */
public final class Compressor {
    private final Function<String, CompletableFuture<Encoding>> documentEncoder;
    private final Function<String, CompletableFuture<Encoding>> queryEncoder;
    private final int defaultTopK;

    public Compressor(Function<String, CompletableFuture<Encoding>> documentEncoder,
                      Function<String, CompletableFuture<Encoding>> queryEncoder,
                      int defaultTopK) {
        this.documentEncoder = documentEncoder;
        this.queryEncoder = queryEncoder;
        this.defaultTopK = defaultTopK;
    }

    /** Deletes skip the model: there is nothing to compress. */
    public CompletableFuture<CompressedDocument> compress(Document document) {
        long publishedAt = document.getPublishedAt().toEpochMilli();
        if (document.getOp() == DocumentOp.DELETE) {
            return CompletableFuture.completedFuture(
                    CompressedDocument.delete(document.getTenant(), document.getId(), publishedAt));
        }
        return documentEncoder.apply(document.getText()).thenApply(encoding -> {
            MemoryStates states = encoding.memory();
            Memory memory = new Memory(document.getId(), publishedAt, encoding.key(), states.states(),
                    states.scales(), states.pieces(), document.getText().getBytes(StandardCharsets.UTF_8).length,
                    document.getTitle(), document.getSource())
                    .withTerms(encoding.terms().terms(), encoding.terms().weights());
            return CompressedDocument.upsert(document.getTenant(), memory, encoding.tokenCount(), encoding.truncated());
        });
    }

    public CompletableFuture<EncodedQuery> encode(Query query) {
        long started = System.nanoTime();
        return queryEncoder.apply(query.getQuestion()).thenApply(encoding -> {
            EncodedQuery q = new EncodedQuery();
            q.tenant = query.getTenant();
            q.queryId = query.getId();
            q.question = query.getQuestion();
            q.askedAt = query.getAskedAt().toEpochMilli();
            q.topK = query.getTopK() != null ? query.getTopK() : defaultTopK;
            q.restrictTo = query.getRestrictTo() == null ? null : query.getRestrictTo().toArray(new String[0]);
            q.readInListedOrder = q.restrictTo != null && query.getReadOrder() == ReadOrder.LISTED;
            q.key = encoding.key();
            q.terms = encoding.terms().terms();
            q.termWeights = encoding.terms().weights();
            q.states = encoding.states();
            q.encodeMillis = (System.nanoTime() - started) / 1_000_000;
            return q;
        });
    }
}
