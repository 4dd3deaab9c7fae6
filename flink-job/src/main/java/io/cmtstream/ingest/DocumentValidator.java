package io.cmtstream.ingest;

import io.cmtstream.avro.Document;
import io.cmtstream.avro.DocumentOp;


/** Checks a decoded Document before it may become a memory. Stateless and thread-safe. */
public final class DocumentValidator implements RecordValidator<Document> {
    private final IngestLimits limits;

    public DocumentValidator(IngestLimits limits) {
        this.limits = limits;
    }

    @Override
    public Document validate(Document document) throws InvalidRecordException {
        RecordChecks.tenant(document.getTenant());
        RecordChecks.id(document.getId());
        if (document.getOp() != DocumentOp.DELETE) {
            RecordChecks.text("text", document.getText(), limits.maxDocumentChars());
        }
        return document;
    }
}
