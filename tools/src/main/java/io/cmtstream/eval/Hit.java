package io.cmtstream.eval;

/**
 * One retrieved document: its id and the retriever's score (higher is better; scales differ between retrievers).
 */
public record Hit(String id, double score) {}
