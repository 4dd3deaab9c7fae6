package io.cmtstream.memory;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KeyMatrixTest {

    @Test
    void unrolledDotEqualsThePlainSumForAnyWidth() {
        Random random = new Random(7);
        for (int dim : new int[] {1, 7, 8, 13, 384}) {
            float[] rows = new float[3 * dim];
            float[] query = new float[dim];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = random.nextFloat() - 0.5f;
            }
            for (int i = 0; i < dim; i++) {
                query[i] = random.nextFloat() - 0.5f;
            }
            for (int row = 0; row < 3; row++) {
                double plain = 0;
                for (int j = 0; j < dim; j++) {
                    plain += (double) rows[row * dim + j] * query[j];
                }
                assertEquals(plain, KeyMatrix.dot(rows, row * dim, query, dim), 1e-4, "dim " + dim + " row " + row);
            }
        }
    }
}
