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
    MODEL_ERROR;

    /** Formats the reason carried by a DeadLetter: {@code CODE: detail}. */
    public String reason(String detail) {
        return name() + ": " + detail;
    }
}
