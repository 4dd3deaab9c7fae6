package io.cmtstream.registry;

/**
 * The registry answered that it has no schema of this id (HTTP 404, error code 40403): a fact about the record, the
 * one kind of unusable schema that is not remembered for good (see {@link SchemaRegistryClient}).
 */
public class UnknownSchemaIdException extends UnusableSchemaException {
    private final int id;

    public UnknownSchemaIdException(int id, String message) {
        super(message);
        this.id = id;
    }

    public int id() {
        return id;
    }
}
