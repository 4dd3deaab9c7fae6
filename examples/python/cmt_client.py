#!/usr/bin/python3
"""A small Python client of cmt-stream: publish documents, ask questions, read dead letters.

It speaks what the job speaks: plain Avro binary of the records in schemas/, or with --registry-url the job's
schema registry mode (cmt.kafka.value-format=AVRO_REGISTRY: byte 0, a 4-byte schema id, Avro binary, schemas
registered under "<topic>-value" of a Confluent-compatible registry), keyed like the Java client
(io.cmtstream.client.CmtClient) by "tenant/id" in UTF-8, partitioned like the Java producer (murmur2), so a
document id published from Java and from Python lands on the same partition.

Needs Debian's python3-confluent-kafka and python3-avro (run it with /usr/bin/python3). See README.md beside it.
"""
import argparse
import base64
import datetime
import io
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.request
import uuid

import avro.io
import avro.schema
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMAS = os.path.normpath(os.path.join(HERE, "..", "..", "schemas"))
REASON_HEADER = "cmt.reason"


class Schemas:
    """The job's Avro schemas (Document, Query, Answer, DeadLetter), read from the .avsc files in one directory."""

    def __init__(self, directory):
        self._schemas = {}
        for name in ("Document", "Query", "Answer", "DeadLetter"):
            with open(os.path.join(directory, name + ".avsc"), encoding="utf-8") as f:
                self._schemas[name] = avro.schema.parse(f.read())

    def encode(self, name, record):
        out = io.BytesIO()
        avro.io.DatumWriter(self._schemas[name]).write(record, avro.io.BinaryEncoder(out))
        return out.getvalue()

    def decode(self, name, data):
        return avro.io.DatumReader(self._schemas[name]).read(avro.io.BinaryDecoder(io.BytesIO(data)))

    def encode_for(self, name, record, topic):
        """The value of a record published to topic (plain Avro: the same for every topic)."""
        return self.encode(name, record)


class RegistrySchemas(Schemas):
    """The job's schemas, framed for a Confluent-compatible schema registry (the job's AVRO_REGISTRY format).

    Writing registers the record's schema under "<topic>-value" (the topic-name strategy) and frames the Avro
    binary with the id the registry gives; reading fetches the writer's schema by the record's id and resolves it
    against the job's schema, so records written with an evolved schema are read too. Both are cached.
    """

    MAGIC = 0

    def __init__(self, directory, url, user_info_file=None, timeout=10.0):
        super().__init__(directory)
        self._url = url.rstrip("/")
        self._user_info_file = user_info_file
        self._timeout = timeout
        self._ids = {}
        self._writers = {}

    def encode_for(self, name, record, topic):
        subject = topic + "-value"
        if subject not in self._ids:
            reply = self._call("POST", "/subjects/%s/versions" % urllib.request.quote(subject, safe=""),
                               {"schema": str(self._schemas[name])})
            self._ids[subject] = reply["id"]
        return struct.pack(">bI", self.MAGIC, self._ids[subject]) + self.encode(name, record)

    def decode(self, name, data):
        if len(data) < 5 or data[0] != self.MAGIC:
            raise ValueError("not framed for a schema registry (no magic byte 0)")
        schema_id = struct.unpack(">I", data[1:5])[0]
        if schema_id not in self._writers:
            self._writers[schema_id] = avro.schema.parse(self._call("GET", "/schemas/ids/%d" % schema_id)["schema"])
        reader = avro.io.DatumReader(self._writers[schema_id], self._schemas[name])
        return reader.read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))

    def _call(self, method, path, body=None):
        request = urllib.request.Request(self._url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode("utf-8"),
                                         headers={"Content-Type": "application/vnd.schemaregistry.v1+json",
                                                  "Accept": "application/vnd.schemaregistry.v1+json"})
        if self._user_info_file:
            with open(self._user_info_file, encoding="utf-8") as f:
                token = base64.b64encode(f.read().strip().encode("utf-8")).decode("ascii")
            request.add_header("Authorization", "Basic " + token)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raise RegistryError("%s %s: HTTP %d %s" % (method, path, e.code, e.read().decode("utf-8", "replace")))
        except (urllib.error.URLError, OSError) as e:
            raise RegistryError("%s %s: %s" % (method, path, e))


class RegistryError(Exception):
    """The schema registry refused a call or could not be reached."""


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def millis(value):
    """An Avro timestamp-millis as decoded (a datetime) in epoch milliseconds, for JSON output."""
    return int(value.timestamp() * 1000) if isinstance(value, datetime.datetime) else value


class CmtClient:
    """Publishes documents and queries, waits for answers, reads dead letters. Not thread-safe."""

    def __init__(self, bootstrap_servers, schemas_dir=DEFAULT_SCHEMAS, documents_topic="documents",
                 queries_topic="queries", answers_topic="answers", dead_letters_topic="dead-letters", config=None,
                 registry_url=None, registry_user_info_file=None):
        self.schemas = (RegistrySchemas(schemas_dir, registry_url, registry_user_info_file) if registry_url
                        else Schemas(schemas_dir))
        self.topics = {"documents": documents_topic, "queries": queries_topic, "answers": answers_topic,
                       "dead-letters": dead_letters_topic}
        self._common = {"bootstrap.servers": bootstrap_servers, **(config or {})}
        # murmur2_random is the Java producer's default partitioner: same key, same partition as CmtClient.
        self._producer = Producer({**self._common, "acks": "all", "partitioner": "murmur2_random"})

    def publish_document(self, tenant, doc_id, text, title=None, source=None, published_at=None, op="UPSERT"):
        """Publishes one Document and returns where the broker put it (topic, partition, offset)."""
        record = {"tenant": tenant, "id": doc_id, "text": text, "publishedAt": published_at or now(),
                  "title": title, "source": source, "op": op}
        return self._send(self.topics["documents"], tenant + "/" + doc_id, self._encode("Document", record, "documents"))

    def publish_query(self, tenant, query_id, question, top_k=None, restrict_to=None, asked_at=None):
        record = {"tenant": tenant, "id": query_id, "question": question, "askedAt": asked_at or now(),
                  "topK": top_k, "restrictTo": restrict_to}
        return self._send(self.topics["queries"], tenant + "/" + query_id, self._encode("Query", record, "queries"))

    def ask(self, tenant, question, query_id=None, top_k=None, restrict_to=None, timeout=60.0):
        """Asks a question and waits for its answer (a dict of the Answer record), or raises TimeoutError.

        The answers topic is read from its end as it stood before the query was sent, so old answers are skipped,
        and read_committed: exactly-once answers become visible when the job's checkpoint commits them.
        """
        query_id = query_id or str(uuid.uuid4())
        consumer = self._consumer(self.topics["answers"], start_at_end=True)
        try:
            self.publish_query(tenant, query_id, question, top_k, restrict_to)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = consumer.poll(min(1.0, max(0.0, deadline - time.monotonic())))
                if msg is None or self._skip(msg):
                    continue
                answer = self.schemas.decode("Answer", msg.value())
                if answer["tenant"] == tenant and answer["queryId"] == query_id:
                    return answer
            raise TimeoutError("no answer to query %s of tenant %s within %s s" % (query_id, tenant, timeout))
        finally:
            consumer.close()

    def dead_letters(self, code=None, max_count=None, timeout=10.0):
        """Yields (DeadLetter dict, Kafka headers dict) from the topic's start, optionally only one reason code,
        until max_count were yielded or timeout seconds passed."""
        consumer = self._consumer(self.topics["dead-letters"], start_at_end=False)
        try:
            count, deadline = 0, time.monotonic() + timeout
            while time.monotonic() < deadline and (max_count is None or count < max_count):
                msg = consumer.poll(min(1.0, max(0.0, deadline - time.monotonic())))
                if msg is None or self._skip(msg):
                    continue
                letter = self.schemas.decode("DeadLetter", msg.value())
                headers = {k: v.decode("utf-8", "replace") for k, v in (msg.headers() or [])}
                if code is None or letter["reason"].split(":", 1)[0] == code:
                    count += 1
                    yield letter, headers
        finally:
            consumer.close()

    def close(self):
        self._producer.flush(10)

    def _encode(self, name, record, topic):
        return self.schemas.encode_for(name, record, self.topics[topic])

    def _send(self, topic, key, value):
        where = {}

        def delivered(err, msg):
            if err is not None:
                where["error"] = err
            else:
                where.update(topic=msg.topic(), partition=msg.partition(), offset=msg.offset(), key=key)

        self._producer.produce(topic, value=value, key=key.encode("utf-8"), on_delivery=delivered)
        self._producer.flush(30)
        if "error" in where or "offset" not in where:
            raise KafkaException(where.get("error", "record to %s not delivered within 30 s" % topic))
        return where

    def _consumer(self, topic, start_at_end):
        """A consumer assigned to every partition of the topic (no group rebalance), at its end or its start."""
        consumer = Consumer({**self._common, "group.id": "cmt-py-client-" + str(uuid.uuid4()),
                             "enable.auto.commit": False, "isolation.level": "read_committed"})
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None or not metadata.partitions:
            consumer.close()
            raise KafkaException("topic %s: %s" % (topic, metadata.error or "no partitions"))
        partitions = metadata.partitions
        assignment = []
        for p in partitions:
            if start_at_end:
                # Resolved now, not lazily on the first fetch, so an answer to a query sent next cannot be missed.
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                assignment.append(TopicPartition(topic, p, high))
            else:
                assignment.append(TopicPartition(topic, p, OFFSET_BEGINNING))
        consumer.assign(assignment)
        return consumer

    @staticmethod
    def _skip(msg):
        if msg.error():
            print("kafka: %s" % msg.error(), file=sys.stderr)
            return True
        return False


def answer_json(answer):
    return {**answer, "askedAt": millis(answer["askedAt"]), "answeredAt": millis(answer["answeredAt"])}


def dead_letter_json(letter, headers):
    out = {**letter, "failedAt": millis(letter["failedAt"]), "headers": headers}
    # The record's key is text ("tenant/id") unless a producer sent something else; its value may be anything
    # (that is why it is here), so it is shown as base64.
    out["key"] = None if letter["key"] is None else letter["key"].decode("utf-8", "backslashreplace")
    out["payload"] = None if letter["payload"] is None else base64.b64encode(letter["payload"]).decode("ascii")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Publish documents, ask questions and read dead letters of "
                                                 "cmt-stream (plain Avro, or framed for a schema registry).")
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--schemas", default=DEFAULT_SCHEMAS, help="directory of the .avsc files (default: %(default)s)")
    for topic in ("documents", "queries", "answers", "dead-letters"):
        parser.add_argument("--%s-topic" % topic, default=topic)
    parser.add_argument("--registry-url", help="the job's schema registry (cmt.registry.url) when it runs with "
                                               "cmt.kafka.value-format=AVRO_REGISTRY; default: plain Avro")
    parser.add_argument("--registry-user-info-file", help="file holding user:password for the registry's basic auth")
    parser.add_argument("-X", dest="config", action="append", default=[], metavar="KEY=VALUE",
                        help="librdkafka setting, e.g. -X security.protocol=SASL_SSL (repeatable)")
    commands = parser.add_subparsers(dest="command", required=True)

    publish = commands.add_parser("publish", help="publish one document (upsert, or --delete)")
    publish.add_argument("--tenant", required=True)
    publish.add_argument("--doc-id", required=True)
    text = publish.add_mutually_exclusive_group()
    text.add_argument("--text", help="the document's text")
    text.add_argument("--text-file", help="read the text from this file ('-': standard input)")
    publish.add_argument("--title")
    publish.add_argument("--source", help="where the text came from (URL, file, feed)")
    publish.add_argument("--delete", action="store_true", help="op DELETE: forget this document id")

    ask = commands.add_parser("ask", help="ask a question and print its answer")
    ask.add_argument("--tenant", required=True)
    ask.add_argument("--question", required=True)
    ask.add_argument("--query-id", help="default: a random UUID")
    ask.add_argument("--top-k", type=int, help="memories to read (default: the job's)")
    ask.add_argument("--restrict-to", nargs="*", metavar="DOC_ID", help="match only among these document ids")
    ask.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer (default: 60)")

    dead = commands.add_parser("dead-letters", help="print dead letters, from the topic's start")
    dead.add_argument("--code", help="only this reason code, e.g. EMPTY_TEXT")
    dead.add_argument("--max", type=int, help="stop after this many")
    dead.add_argument("--timeout", type=float, default=10.0, help="stop after this many seconds (default: 10)")

    args = parser.parse_args(argv)
    config = dict(kv.split("=", 1) for kv in args.config)
    client = CmtClient(args.bootstrap_servers, args.schemas, args.documents_topic, args.queries_topic,
                       args.answers_topic, args.dead_letters_topic, config, args.registry_url,
                       args.registry_user_info_file)
    try:
        if args.command == "publish":
            if args.delete:
                body = ""
            elif args.text_file:
                with (sys.stdin if args.text_file == "-" else open(args.text_file, encoding="utf-8")) as f:
                    body = f.read()
            elif args.text is not None:
                body = args.text
            else:
                parser.error("publish needs --text or --text-file (or --delete)")
            print(json.dumps(client.publish_document(args.tenant, args.doc_id, body, args.title, args.source,
                                                     op="DELETE" if args.delete else "UPSERT")))
        elif args.command == "ask":
            answer = client.ask(args.tenant, args.question, args.query_id, args.top_k, args.restrict_to, args.timeout)
            print(json.dumps(answer_json(answer)))
        else:
            for letter, headers in client.dead_letters(args.code, args.max, args.timeout):
                print(json.dumps(dead_letter_json(letter, headers)), flush=True)
    except TimeoutError as e:
        print(e, file=sys.stderr)
        return 1
    except KafkaException as e:
        print("kafka: %s" % e, file=sys.stderr)
        return 2
    except RegistryError as e:
        print("schema registry: %s" % e, file=sys.stderr)
        return 3
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
