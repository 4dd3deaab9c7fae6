package io.cmtstream.memory;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Picks the matching kernel once per JVM: the Vector API one where the module is there and the CPU suits it. */
final class KeyKernels {
    private static final Logger LOG = LoggerFactory.getLogger(KeyKernels.class);
    static final String VECTOR_MODULE = "jdk.incubator.vector";

    private static final KeyKernel BEST = select();

    private KeyKernels() {}

    static KeyKernel best() {
        return BEST;
    }

    /** The Vector API kernel, or null where this JVM cannot run it. */
    static KeyKernel vector() {
        if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
            return null;
        }
        try {
            Class<?> type = Class.forName("io.cmtstream.memory.VectorKeyKernel");
            if (!(Boolean) type.getDeclaredMethod("usable").invoke(null)) {
                return null;
            }
            return (KeyKernel) type.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            LOG.warn("Vector API present but its kernel failed to load; matching uses the scalar kernel", e);
            return null;
        }
    }

    private static KeyKernel select() {
        KeyKernel vector = vector();
        if (vector != null) {
            LOG.info("Matching kernel: {} (int8 keys, Vector API)", vector.name());
            return vector;
        }
        LOG.warn("Matching kernel: scalar (int8 keys). Start the JVM with --add-modules={} for the SIMD kernel, "
                + "2-5x faster on large banks", VECTOR_MODULE);
        return new ScalarKeyKernel();
    }
}
