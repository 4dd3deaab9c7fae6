package io.cmtstream.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.cmtstream.model.DjlCmtModel;
import io.cmtstream.model.Encoding;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Documents compressed per second by the model alone (no Flink, no Kafka) at several batch sizes, the FLOPs a
 * document costs, and the GEMM rate this machine achieves with the same engine, which together give the floor.
 */
final class ModelThroughput {
    private ModelThroughput() {}

    /** bge-small-en-v1.5: 12 layers, hidden 384, feed-forward 1536. */
    static final int LAYERS = 12;
    static final int HIDDEN = 384;
    static final int FFN = 1536;

    record Result(Map<Integer, Double> documentsPerSecond, double meanTokens, double flopsPerDocument,
                  double gemmFlopsPerSecond) {
        double bestDocumentsPerSecond() {
            return documentsPerSecond.values().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        }

        double flopFloorDocumentsPerSecond() {
            return gemmFlopsPerSecond / flopsPerDocument;
        }

        String toMarkdown() {
            StringBuilder md = new StringBuilder("## Model alone (outside Flink)\n\n| batch | documents/s |\n|---:|---:|\n");
            documentsPerSecond.forEach((b, r) -> md.append(String.format("| %d | %.2f |%n", b, r)));
            md.append(String.format("%nMean document length %.0f tokens (test-split paragraphs, truncated at the "
                            + "model's maximum); backbone cost %.2f GFLOP per document (2 x multiply-adds of the "
                            + "projections, feed-forward and attention of %d layers); PyTorch GEMM rate on this "
                            + "machine %.1f GFLOP/s ([256 x %d] x [%d x %d] float32); FLOP floor %.2f documents/s.%n",
                    meanTokens, flopsPerDocument / 1e9, LAYERS, gemmFlopsPerSecond / 1e9, HIDDEN, HIDDEN, FFN,
                    flopFloorDocumentsPerSecond()));
            return md.toString();
        }
    }

    static Result measure(Path modelDir, List<String> paragraphs, int texts, int[] batches, PrintStream out) {
        Map<Integer, Double> rates = new LinkedHashMap<>();
        double tokens = 0;
        try (DjlCmtModel model = DjlCmtModel.load(modelDir, "cpu")) {
            model.encodeDocuments(paragraphs.subList(0, 4));
            List<Encoding> sample = model.encodeDocuments(paragraphs.subList(0, Math.min(texts, paragraphs.size())));
            int max = model.config().maxDocumentTokens();
            tokens = sample.stream().mapToInt(e -> Math.min(e.tokenCount(), max)).average().orElse(0);
            for (int batch : batches) {
                int n = Math.max(batch, texts / batch * batch);
                long started = System.nanoTime();
                for (int i = 0; i < n; i += batch) {
                    // In the order the ingest bench publishes them (paragraph i mod the split's size).
                    List<String> documents = new ArrayList<>(batch);
                    for (int j = i; j < i + batch; j++) {
                        documents.add(paragraphs.get(j % paragraphs.size()));
                    }
                    model.encodeDocuments(documents);
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                rates.put(batch, n / seconds);
                out.printf("model alone: batch %d, %d documents, %.2f documents/s%n", batch, n, n / seconds);
            }
        }
        return new Result(rates, tokens, flopsPerDocument(tokens), gemmRate());
    }

    /** Forward FLOPs of the backbone for a text of {@code tokens} tokens (the heads are under 2% of it). */
    static double flopsPerDocument(double tokens) {
        double projections = 4.0 * tokens * HIDDEN * HIDDEN;
        double feedForward = 2.0 * tokens * HIDDEN * FFN;
        double attention = 2.0 * tokens * tokens * HIDDEN;
        return 2.0 * LAYERS * (projections + feedForward + attention);
    }

    static double gemmRate() {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            NDArray a = manager.randomUniform(0, 1, new Shape(256, HIDDEN));
            NDArray b = manager.randomUniform(0, 1, new Shape(HIDDEN, FFN));
            for (int i = 0; i < 10; i++) {
                a.matMul(b).close();
            }
            int rounds = 200;
            long started = System.nanoTime();
            for (int i = 0; i < rounds; i++) {
                a.matMul(b).close();
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            return 2.0 * 256 * HIDDEN * FFN * rounds / seconds;
        }
    }
}
