package io.cmtstream.compress;

import io.cmtstream.avro.Query;
import io.cmtstream.client.AvroBytes;
import io.cmtstream.model.ModelRuntime;
import io.cmtstream.model.ModelSpec;

import java.util.concurrent.CompletableFuture;

/** Flink adapter: questions in, keys in the memories' space out (self-matching), through the shared runtime. */
public class EncodeQueries extends ModelAsyncFunction<Query, EncodedQuery> {
    private final int defaultTopK;
    private transient Compressor compressor;

    public EncodeQueries(ModelSpec spec, ModelCallGuard.Settings faults, String queriesTopic, int defaultTopK) {
        super(spec, faults, queriesTopic);
        this.defaultTopK = defaultTopK;
    }

    @Override
    protected void opened(ModelRuntime runtime) {
        compressor = new Compressor(runtime::encodeDocument, runtime::encodeQuery, defaultTopK);
    }

    @Override
    protected ModelRuntime.BatchStats batcher(ModelRuntime.Stats stats) {
        return stats.queries();
    }

    @Override
    protected String metricPrefix() {
        return "encodeQuery";
    }

    @Override
    protected CompletableFuture<EncodedQuery> call(Query query) {
        return compressor.encode(query);
    }

    @Override
    protected String recordKind() {
        return "query";
    }

    @Override
    protected String deadLetterKey(Query query) {
        return query.getTenant() + "/" + query.getId();
    }

    @Override
    protected byte[] payload(Query query) {
        return AvroBytes.encode(query);
    }
}
