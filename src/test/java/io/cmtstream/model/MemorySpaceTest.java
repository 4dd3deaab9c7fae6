package io.cmtstream.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemorySpaceTest {
    private static final Path TINY = Path.of("src/test/resources/models/tiny-random");
    private static final Path BUNDLED = Path.of("models/cmt-bge-small-squad");

    private static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    private static String space(Path dir) {
        return MemorySpace.of(ModelConfig.read(dir));
    }

    @Test
    void aModelsSpaceIsStableAndNamesItsKeyWidth() {
        String bundled = space(BUNDLED);
        assertEquals(bundled, space(BUNDLED));
        assertTrue(bundled.matches("\\d+x\\d+-[0-9a-f]{16}"), bundled);
        assertNotEquals(bundled, space(TINY));
    }

    @Test
    void aNewReaderKeepsTheSpaceAndANewKeyHeadChangesIt(@TempDir Path tmp) throws IOException {
        String before = space(TINY);
        Path newReader = copy(TINY, tmp.resolve("new-reader"));
        Files.write(newReader.resolve("reader.pt"), new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
        assertEquals(before, space(newReader), "the reader reads memories; it does not make them");

        Path newKeys = copy(TINY, tmp.resolve("new-key-head"));
        Files.write(newKeys.resolve("compressor.pt"), new byte[] {1}, java.nio.file.StandardOpenOption.APPEND);
        assertNotEquals(before, space(newKeys));

        Path newEmbeddings = copy(TINY, tmp.resolve("new-embeddings"));
        Files.write(newEmbeddings.resolve("embeddings.pt"), new byte[] {1}, java.nio.file.StandardOpenOption.APPEND);
        assertNotEquals(before, space(newEmbeddings));
    }

    @Test
    void anUnreadableFileIsAModelLoadErrorNamingIt(@TempDir Path tmp) throws IOException {
        Path dir = copy(TINY, tmp.resolve("gone"));
        ModelConfig config = ModelConfig.read(dir);
        Files.delete(dir.resolve("compressor.pt"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> MemorySpace.of(config));
        assertTrue(e.getMessage().contains("compressor.pt"), e.getMessage());
    }
}
