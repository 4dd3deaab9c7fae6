package io.cmtstream.ingest;

import java.io.Serializable;
import java.util.regex.Pattern;

/**
 * Bounds that incoming documents and queries must respect.
 *
 * @param maxDocumentChars longest document text accepted
 * @param maxQuestionChars longest question accepted
 * @param maxTopK largest topK a query may ask for
 * @param maxFutureSkewMillis how far ahead of the job's wall clock a publishedAt or askedAt may be; later ones are
 *                            refused ({@link Rejection#EVENT_TIME_IN_FUTURE}), since one document dated next year
 *                            would lift its partition's watermark for every tenant and one query dated next year
 *                            would wait in the bank for a year
 */
public record IngestLimits(int maxDocumentChars, int maxQuestionChars, int maxTopK, long maxFutureSkewMillis)
        implements Serializable {
    /** The default skew of {@code cmt.ingest.max-future-skew}: clocks of publishers may run a little ahead. */
    public static final long DEFAULT_FUTURE_SKEW_MILLIS = 5 * 60_000L;

    public IngestLimits(int maxDocumentChars, int maxQuestionChars, int maxTopK) {
        this(maxDocumentChars, maxQuestionChars, maxTopK, DEFAULT_FUTURE_SKEW_MILLIS);
    }

    /** Tenants are used in keys, metrics and logs, so they are kept to a safe alphabet. */
    public static final Pattern TENANT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public static final int MAX_ID_CHARS = 512;

    /** Most document ids a query may restrict matching to. */
    public static final int MAX_RESTRICT_TO = 1024;
}
