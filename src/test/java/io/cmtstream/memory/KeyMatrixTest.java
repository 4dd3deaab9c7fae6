package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KeyMatrixTest {

    private static List<KeyKernel> kernels() {
        List<KeyKernel> kernels = new ArrayList<>(List.of(new ScalarKeyKernel()));
        KeyKernel vector = KeyKernels.vector();
        if (vector != null) {
            kernels.add(vector);
        }
        return kernels;
    }

    private static float[] randomUnit(Random random, int dim) {
        float[] v = new float[dim];
        double norm = 0;
        for (int i = 0; i < dim; i++) {
            v[i] = (float) random.nextGaussian();
            norm += v[i] * v[i];
        }
        for (int i = 0; i < dim; i++) {
            v[i] /= (float) Math.sqrt(norm);
        }
        return v;
    }

    @Test
    void everyKernelComputesTheScaledInt8DotProductForAnyWidth() {
        Random random = new Random(7);
        for (KeyKernel kernel : kernels()) {
            for (int dim : new int[] {1, 7, 8, 13, 16, 17, 31, 384}) {
                int rows = 300; // more than one block of rows
                byte[] codes = new byte[rows * dim];
                float[] scales = new float[rows];
                random.nextBytes(codes);
                for (int r = 0; r < rows; r++) {
                    scales[r] = random.nextFloat();
                }
                float[][] queries = {randomUnit(random, dim), randomUnit(random, dim), randomUnit(random, dim)};
                float[][] scores = new float[queries.length][rows];
                kernel.scoreAll(codes, scales, rows, dim, queries, scores);
                for (int q = 0; q < queries.length; q++) {
                    for (int r = 0; r < rows; r++) {
                        double exact = 0;
                        double magnitude = 0; // sum of |code| * max |query|: the scalar kernel rounds the query
                        float maxQuery = 0f;  // to int16, off by at most 1/65534 of that per term
                        for (int j = 0; j < dim; j++) {
                            exact += (double) codes[r * dim + j] * queries[q][j];
                            maxQuery = Math.max(maxQuery, Math.abs(queries[q][j]));
                        }
                        for (int j = 0; j < dim; j++) {
                            magnitude += Math.abs(codes[r * dim + j]) * maxQuery;
                        }
                        exact *= scales[r];
                        assertEquals(exact, scores[q][r], 1e-4 * scales[r] * magnitude + 1e-6,
                                kernel.name() + " dim " + dim + " query " + q + " row " + r);
                    }
                }
            }
        }
    }

    @Test
    void int8RowsKeepTheScoresOfUnitKeysWithinAFewThousandths() {
        Random random = new Random(11);
        KeyMatrix matrix = new KeyMatrix();
        List<float[]> keys = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            float[] key = randomUnit(random, 384);
            keys.add(key);
            matrix.put("d" + i, key);
        }
        float[] query = randomUnit(random, 384);
        float[] scores = new float[matrix.size()];
        matrix.scoreAll(query, scores);
        for (int i = 0; i < keys.size(); i++) {
            double exact = 0;
            for (int j = 0; j < 384; j++) {
                exact += (double) keys.get(i)[j] * query[j];
            }
            assertEquals(exact, scores[i], 3e-3, "row " + i);
            assertEquals(scores[i], KeyMatrix.score(query, keys.get(i)), 0f, "a key scored alone scores as its row");
        }
    }

    @Test
    void removingMovesTheLastRowWithItsScale() {
        KeyMatrix matrix = new KeyMatrix();
        matrix.put("a", new float[] {1f, 0f});
        matrix.put("b", new float[] {0f, 0.5f});
        matrix.put("c", new float[] {0.25f, 0f});
        assertTrue(matrix.remove("a"));
        float[] scores = new float[matrix.size()];
        matrix.scoreAll(new float[] {1f, 1f}, scores);
        assertEquals(2, matrix.size());
        assertEquals("c", matrix.idAt(0));
        assertEquals(0.25f, scores[0], 1e-6f);
        assertEquals(0.5f, scores[1], 1e-6f);
    }

    @Test
    void quantisationSurvivesZeroAndNonFiniteKeys() {
        byte[] codes = new byte[3];
        assertEquals(0f, KeyMatrix.quantize(new float[] {0f, 0f, 0f}, codes, 0));
        float scale = KeyMatrix.quantize(new float[] {Float.NaN, 0.5f, Float.POSITIVE_INFINITY}, codes, 0);
        assertEquals(0.5f / 127f, scale, 1e-9f);
        assertEquals(0, codes[0]);
        assertEquals(127, codes[1]);
        assertEquals(127, codes[2]);
    }

    @Test
    void theVectorKernelIsUsedWhereTheTestJvmLoadsItsModule() {
        // The build's JVMs run with --add-modules=jdk.incubator.vector (pom.xml); a JVM without it is exercised by
        // the scalar kernel's own cases above.
        if (ModuleLayer.boot().findModule(KeyKernels.VECTOR_MODULE).isPresent() && VectorKeyKernel.usable()) {
            assertNotNull(KeyKernels.vector());
            assertTrue(KeyKernels.best().name().startsWith("vector"), KeyKernels.best().name());
        } else {
            assertEquals("scalar", KeyKernels.best().name());
        }
    }
}
