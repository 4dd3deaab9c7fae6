package io.cmtstream.ingest;

import java.io.Serializable;
import java.util.regex.Pattern;

/**
 * Bounds that incoming documents and queries must respect.
 *
 * @param maxDocumentChars longest document text accepted
 * @param maxQuestionChars longest question accepted
 * @param maxTopK largest topK a query may ask for
 */
public record IngestLimits(int maxDocumentChars, int maxQuestionChars, int maxTopK) implements Serializable {
    /** Tenants are used in keys, metrics and logs, so they are kept to a safe alphabet. */
    public static final Pattern TENANT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public static final int MAX_ID_CHARS = 512;

    /** Most document ids a query may restrict matching to. */
    public static final int MAX_RESTRICT_TO = 1024;
}
