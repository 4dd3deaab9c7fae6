package io.cmtstream.ingest;

/**
 * Why a record was refused. The code is stable (dashboards and alerts key on it); the detail is for people.
 */
public enum Rejection {
    MALFORMED_AVRO,
    WRONG_SCHEMA,
    MISSING_FIELD,
    BAD_TENANT,
    BAD_ID,
    EMPTY_TEXT,
    TEXT_TOO_LONG,
    INVALID_UTF8,
    BAD_TOP_K,
    BAD_RESTRICTION,
    /** A valid record the model failed on (exception or timeout) on every try; see compress/ModelCallGuard. */
    MODEL_ERROR,
    /** publishedAt or askedAt further ahead of the job's clock than {@code cmt.ingest.max-future-skew}. */
    EVENT_TIME_IN_FUTURE,
    /** A check threw instead of deciding (a bug): the record is kept here rather than failing the source. */
    VALIDATION_ERROR,
    /**
     * A query whose (tenant, id) is still pending or was answered less than {@code cmt.query.id-retention} ago
     * (decided once, before the query is fanned out, so it never mixes with the first).
     */
    DUPLICATE_QUERY_ID,
    /**
     * A query refused because its tenant already has {@code cmt.query.max-pending} queries waiting for the
     * document watermark (decided once, before fan-out, so no query is half-answered).
     */
    OVERLOADED,
    /**
     * In schema registry mode (cmt.kafka.value-format=AVRO_REGISTRY): a record framed with a schema id the registry
     * answered it does not have. An unreachable registry is never this: the source waits for it instead.
     */
    UNKNOWN_SCHEMA_ID;

    /**
     * The code a DeadLetter's reason starts with; {@code MALFORMED_AVRO} for a reason that names none (every reason
     * the job writes names one, see {@link #reason}).
     */
    public static Rejection of(String reason) {
        int colon = reason.indexOf(':');
        try {
            return valueOf(colon < 0 ? reason : reason.substring(0, colon));
        } catch (IllegalArgumentException e) {
            return MALFORMED_AVRO;
        }
    }

    /** Formats the reason carried by a DeadLetter: {@code CODE: detail}. */
    public String reason(String detail) {
        return name() + ": " + detail;
    }
}
