package io.cmtstream.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Measures model load time and encode/answer throughput at several batch sizes on SQuAD paragraphs and questions.
 * Not a test (no assertions, machine-dependent); run by hand:
 * <pre>
 * java -Dai.djl.offline=true -cp target/test-classes:target/classes:$(cat cp.txt) \
 *     io.cmtstream.model.EncodeThroughputBenchmark models/cmt-bge-small-squad cpu 1,8,32
 * </pre>
 */
public final class EncodeThroughputBenchmark {

    private EncodeThroughputBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "src/test/resources/models/retrieval-only");
        String device = args.length > 1 ? args[1] : "cpu";
        String[] sizes = (args.length > 2 ? args[2] : "1,8,32").split(",");
        int texts = Integer.getInteger("texts", 64);

        JsonNode data = new ObjectMapper().readTree(Path.of("data/squad/squad-v1.1-dev-open.json").toFile())
                .get("data");
        List<String> paragraphs = new ArrayList<>();
        List<String> questions = new ArrayList<>();
        for (JsonNode article : data) {
            for (JsonNode paragraph : article.get("paragraphs")) {
                paragraphs.add(paragraph.get("context").asText());
                questions.add(paragraph.get("qas").get(0).get("question").asText());
            }
        }

        long started = System.nanoTime();
        try (DjlCmtModel model = DjlCmtModel.load(dir, device)) {
            System.out.printf("load %s on %s: %d ms%n", dir, device, (System.nanoTime() - started) / 1_000_000);
            // Warm-up: first calls pay for allocation and (PyTorch) graph profiling.
            model.encodeDocuments(paragraphs.subList(0, 8));
            model.encodeQueries(questions.subList(0, 8));
            for (String size : sizes) {
                int batch = Integer.parseInt(size.trim());
                report("documents", batch, texts, paragraphs, model::encodeDocuments);
                report("questions", batch, texts, questions, model::encodeQueries);
                if (model.info().hasReader()) {
                    List<Encoding> docs = model.encodeDocuments(paragraphs.subList(0, batch));
                    List<Encoding> qs = model.encodeQueries(questions.subList(0, batch));
                    List<AnswerRequest> requests = new ArrayList<>();
                    for (int i = 0; i < batch; i++) {
                        requests.add(new AnswerRequest(qs.get(i).states(), List.of(docs.get(i).memory())));
                    }
                    model.answer(requests);
                    int rounds = Math.max(1, texts / batch / 2);
                    long t = System.nanoTime();
                    for (int r = 0; r < rounds; r++) {
                        model.answer(requests);
                    }
                    double seconds = (System.nanoTime() - t) / 1e9;
                    System.out.printf("answers   batch %2d: %7.1f answers/s (%.0f ms per batch, k=1)%n", batch,
                            rounds * batch / seconds, 1000 * seconds / rounds);
                }
            }
        }
    }

    private interface Encoder {
        List<Encoding> encode(List<String> texts);
    }

    private static void report(String what, int batch, int texts, List<String> pool, Encoder encoder) {
        int rounds = Math.max(1, texts / batch);
        int tokens = 0;
        long t = System.nanoTime();
        for (int r = 0; r < rounds; r++) {
            List<String> chunk = pool.subList(r * batch + 100, r * batch + 100 + batch);
            for (Encoding e : encoder.encode(chunk)) {
                tokens += e.tokenCount();
            }
        }
        double seconds = (System.nanoTime() - t) / 1e9;
        System.out.printf("%-9s batch %2d: %7.1f texts/s (%.0f ms per batch, %.0f tokens per text)%n", what, batch,
                rounds * batch / seconds, 1000 * seconds / rounds, (double) tokens / (rounds * batch));
    }
}
