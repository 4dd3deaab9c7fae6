package io.cmtstream.compress;

import io.cmtstream.avro.Document;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.memory.CompressedDocument;
import io.cmtstream.model.ModelRuntime;
import io.cmtstream.model.ModelSpec;
import org.apache.flink.metrics.Counter;

import java.util.concurrent.CompletableFuture;

/** Flink adapter: documents in, compressed memories (or deletes) out, through the shared model runtime. */
public class CompressDocuments extends ModelAsyncFunction<Document, CompressedDocument> {
    private transient Compressor compressor;
    private transient Counter compressed;
    private transient Counter truncated;

    public CompressDocuments(ModelSpec spec, ModelCallGuard.Settings faults, String documentsTopic) {
        super(spec, faults, documentsTopic);
    }

    @Override
    protected void opened(ModelRuntime runtime) {
        compressor = new Compressor(runtime::encodeDocument, runtime::encodeQuery, 1);
        compressed = getRuntimeContext().getMetricGroup().counter("documentsCompressed");
        truncated = getRuntimeContext().getMetricGroup().counter("documentsTruncated");
    }

    @Override
    protected ModelRuntime.BatchStats batcher(ModelRuntime.Stats stats) {
        return stats.documents();
    }

    @Override
    protected String metricPrefix() {
        return "compress";
    }

    @Override
    protected CompletableFuture<CompressedDocument> call(Document document) {
        return compressor.compress(document).thenApply(d -> {
            if (!d.delete) {
                compressed.inc();
                if (d.truncated) {
                    truncated.inc();
                }
            }
            return d;
        });
    }

    @Override
    protected String recordKind() {
        return "document";
    }

    @Override
    protected String deadLetterKey(Document document) {
        return document.getTenant() + "/" + document.getId();
    }

    @Override
    protected byte[] payload(Document document) {
        return AvroBytes.encode(document);
    }
}
