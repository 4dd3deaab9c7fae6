package io.cmtstream.ingest;

import io.cmtstream.avro.Query;


/** Checks a decoded Query before it is encoded. Stateless and thread-safe. */
public final class QueryValidator implements RecordValidator<Query> {
    private final IngestLimits limits;
    private final WallClock clock;

    public QueryValidator(IngestLimits limits) {
        this(limits, WallClock.SYSTEM);
    }

    /** @param clock what {@code askedAt} is compared with ({@link IngestLimits#maxFutureSkewMillis()}) */
    public QueryValidator(IngestLimits limits, WallClock clock) {
        this.limits = limits;
        this.clock = clock;
    }

    @Override
    public Query validate(Query query) throws InvalidRecordException {
        RecordChecks.tenant(query.getTenant());
        RecordChecks.id(query.getId());
        RecordChecks.notInFuture("askedAt", query.getAskedAt(), limits.maxFutureSkewMillis(), clock.millis());
        RecordChecks.text("question", query.getQuestion(), limits.maxQuestionChars());
        Integer topK = query.getTopK();
        if (topK != null && (topK < 1 || topK > limits.maxTopK())) {
            throw new InvalidRecordException(Rejection.BAD_TOP_K,
                    "topK " + topK + " is outside 1.." + limits.maxTopK());
        }
        if (query.getRestrictTo() != null) {
            if (query.getRestrictTo().size() > IngestLimits.MAX_RESTRICT_TO) {
                throw new InvalidRecordException(Rejection.BAD_RESTRICTION, "restrictTo names "
                        + query.getRestrictTo().size() + " documents, more than " + IngestLimits.MAX_RESTRICT_TO);
            }
            for (String docId : query.getRestrictTo()) {
                if (docId == null || docId.isBlank() || docId.length() > IngestLimits.MAX_ID_CHARS) {
                    throw new InvalidRecordException(Rejection.BAD_RESTRICTION,
                            "restrictTo holds an empty or over-long document id");
                }
            }
        }
        return query;
    }
}
