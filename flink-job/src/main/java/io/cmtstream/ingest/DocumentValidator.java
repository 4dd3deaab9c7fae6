package io.cmtstream.ingest;

import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;


/** Checks a decoded Document before it may become a memory. Stateless and thread-safe. */
public final class DocumentValidator implements RecordValidator<Document> {
    private final IngestLimits limits;
    private final WallClock clock;

    public DocumentValidator(IngestLimits limits) {
        this(limits, WallClock.SYSTEM);
    }

    /** @param clock what {@code publishedAt} is compared with ({@link IngestLimits#maxFutureSkewMillis()}) */
    public DocumentValidator(IngestLimits limits, WallClock clock) {
        this.limits = limits;
        this.clock = clock;
    }

    @Override
    public Document validate(Document document) throws InvalidRecordException {
        RecordChecks.tenant(document.getTenant());
        RecordChecks.id(document.getId());
        RecordChecks.notInFuture("publishedAt", document.getPublishedAt(), limits.maxFutureSkewMillis(), clock.millis());
        if (document.getOp() != DocumentOp.DELETE) {
            RecordChecks.text("text", document.getText(), limits.maxDocumentChars());
        }
        return document;
    }
}
