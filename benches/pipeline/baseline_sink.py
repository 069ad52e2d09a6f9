"""A hand-written Debezium -> PostgreSQL sink, as a team would write it: the baseline of issue #18.

confluent-kafka (librdkafka's defaults, a consumer group, manual commits), Debezium envelopes from
Kafka Connect's JsonConverter with schemas parsed with `json`, psycopg 3 `executemany` upserts
(`INSERT ... ON CONFLICT (pk) DO UPDATE`) and deletes, the database transaction committed and then
the group's offsets after each batch of up to 500 records: at-least-once, no version guard (a
replay after a crash re-applies a batch; keys are last-writer-wins within a batch).

The target table exists already (the benchmark creates the shape sluice creates). Like
`sluice run --stop-at-end`, it reads up to the end offsets seen at start and exits, printing one
JSON object: times (seconds since the epoch), the record count and the two halves' timings.

Usage: python baseline_sink.py --bootstrap HOST:PORT --topic T --group G --dsn postgres://...
"""

import time

START = time.time()

import argparse  # noqa: E402
import base64  # noqa: E402
import datetime  # noqa: E402
import decimal  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import psycopg  # noqa: E402
from confluent_kafka import Consumer, KafkaException, TopicPartition  # noqa: E402

EPOCH = datetime.datetime(1970, 1, 1)


def converter(field):
    """A function turning one JsonConverter value of this Connect field into a Python value."""
    name = field.get("name")
    if name == "org.apache.kafka.connect.data.Decimal":
        scale = int(field["parameters"]["scale"])

        def dec(v):
            unscaled = int.from_bytes(base64.b64decode(v), "big", signed=True)
            return decimal.Decimal(unscaled).scaleb(-scale)

        return dec
    if name == "io.debezium.time.MicroTimestamp":
        return lambda v: EPOCH + datetime.timedelta(microseconds=v)
    if name == "io.debezium.time.Timestamp":
        return lambda v: EPOCH + datetime.timedelta(milliseconds=v)
    # ZonedTimestamp is ISO-8601 text: PostgreSQL parses it. Plain types map as they are.
    return None


class Table:
    """The statements and per-column converters of one target table, from the record schema."""

    def __init__(self, name, value_schema, key_fields):
        after = next(f for f in value_schema["fields"] if f["field"] == "after")
        self.columns = [f["field"] for f in after["fields"]]
        self.convert = [converter(f) for f in after["fields"]]
        self.key = key_fields
        cols = ", ".join(self.columns)
        params = ", ".join(["%s"] * len(self.columns))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.columns if c not in self.key)
        self.upsert = (
            f"INSERT INTO {name} ({cols}) VALUES ({params}) "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}"
        )
        self.delete = f"DELETE FROM {name} WHERE " + " AND ".join(f"{k} = %s" for k in self.key)

    def row(self, image):
        out = []
        for column, conv in zip(self.columns, self.convert):
            v = image.get(column)
            out.append(conv(v) if conv is not None and v is not None else v)
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--dsn", required=True)
    p.add_argument("--batch", type=int, default=500)
    args = p.parse_args()

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    # The end offsets at start: stop once every partition has been read up to them.
    meta = consumer.list_topics(args.topic, timeout=30)
    partitions = sorted(meta.topics[args.topic].partitions)
    end = {}
    for part in partitions:
        _, high = consumer.get_watermark_offsets(TopicPartition(args.topic, part), timeout=30)
        end[part] = high
    total = sum(end.values())
    remaining = {part for part, high in end.items() if high > 0}
    next_offset = {}

    conn = psycopg.connect(args.dsn)
    tables = {}
    consumer.subscribe([args.topic])

    records = 0
    first_message = None
    half_at = None
    progress = []  # (time, records committed)
    while remaining:
        msgs = consumer.consume(num_messages=args.batch, timeout=1.0)
        if not msgs:
            continue
        if first_message is None:
            first_message = time.time()
        # Last write per key wins within the batch (keys are the target's primary key).
        changes = {}
        for m in msgs:
            if m.error():
                raise KafkaException(m.error())
            next_offset[m.partition()] = m.offset() + 1
            if m.value() is None:
                continue  # the tombstone after a delete
            envelope = json.loads(m.value())
            payload = envelope["payload"]
            name = payload["source"]["table"]
            table = tables.get(name)
            if table is None:
                key_schema = json.loads(m.key())["schema"]
                table = Table(name, envelope["schema"], [f["field"] for f in key_schema["fields"]])
                tables[name] = table
            key = json.loads(m.key())["payload"]
            key = tuple(key[k] for k in table.key)
            if payload["op"] == "d":
                changes[(name, key)] = None
            else:
                changes[(name, key)] = table.row(payload["after"])
        with conn.cursor() as cur:
            for name, table in tables.items():
                ups = [row for (t, _), row in changes.items() if t == name and row is not None]
                dels = [list(k) for (t, k), row in changes.items() if t == name and row is None]
                if ups:
                    cur.executemany(table.upsert, ups)
                if dels:
                    cur.executemany(table.delete, dels)
        conn.commit()
        consumer.commit(asynchronous=False)
        records += len(msgs)
        now = time.time()
        progress.append((now, records))
        if half_at is None and records * 2 >= total:
            half_at = now
        for part, high in end.items():
            if part in remaining and next_offset.get(part, 0) >= high:
                remaining.discard(part)

    end_time = time.time()
    consumer.close()
    conn.close()
    first_message = first_message or end_time
    half_at = half_at or end_time
    half_records = next((n for t, n in progress if t >= half_at), records)
    json.dump(
        {
            "start": START,
            "first_message": first_message,
            "half": half_at,
            "end": end_time,
            "records": records,
            "half_records": half_records,
            "first_half_secs": half_at - first_message,
            "second_half_secs": end_time - half_at,
            "progress": [[round(t - START, 4), n] for t, n in progress],
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
