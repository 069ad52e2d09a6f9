-- Streaming workload for scenario "evolution". Run with psql (ON_ERROR_STOP=1) after the snapshot has completed.
-- Lines "SELECT pg_logical_emit_message(false, 'corpus.checkpoint', '<name>');" are sync points: the harness
-- splits the file there (one psql session per piece) and dumps oracle/<name>.json right after each one.
-- Every statement is autocommit (its own transaction), so each ALTER TABLE commits before the DML that follows
-- it, and that DML is the first change pgoutput sends with the new relation message.
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'snapshot');

-- [e01] plain DML on the original schema (id integer, name varchar(20), qty integer, price numeric(8,2))
INSERT INTO items (id, name, qty, price) VALUES (4, 'pliers', 40, 6.25);
INSERT INTO items (id, name, qty, price) VALUES (5, 'saw', NULL, 21.00);
UPDATE items SET qty = 12, price = 13.00 WHERE id = 1;
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'before_changes');

-- [e02] ADD COLUMN (nullable, no default), then DML setting it, and an update of an old row that leaves it NULL
ALTER TABLE items ADD COLUMN note text;
INSERT INTO items (id, name, qty, price, note) VALUES (6, 'chisel', 3, 9.90, 'added after ADD COLUMN note');
UPDATE items SET note = 'note set on an old row' WHERE id = 2;
UPDATE items SET qty = 30 WHERE id = 3;
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'added_column');

-- [e03] ADD COLUMN NOT NULL DEFAULT (existing rows get true without a rewrite), then an insert and an update
ALTER TABLE items ADD COLUMN active boolean NOT NULL DEFAULT true;
INSERT INTO items (id, name, qty, price, note, active) VALUES (7, 'level', 2, 15.40, 'inserted inactive', false);
UPDATE items SET active = false WHERE id = 1;
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'added_default_column');

-- [e04] widen qty integer -> bigint (table rewrite), then a value above 2^31 and an update of an old row
ALTER TABLE items ALTER COLUMN qty TYPE bigint;
INSERT INTO items (id, name, qty, price, note) VALUES (8, 'bulk bolts', 5000000000, 0.05, 'qty above int4');
UPDATE items SET qty = qty + 1 WHERE id = 4;
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'widened_int');

-- [e05] widen price numeric(8,2) -> numeric(12,2), then a value that did not fit before
ALTER TABLE items ALTER COLUMN price TYPE numeric(12,2);
INSERT INTO items (id, name, qty, price, note) VALUES (9, 'yacht', 1, 1234567890.12, 'price above numeric(8,2)');
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'widened_numeric');

-- [e06] widen name varchar(20) -> varchar(40) (no rewrite), then a 35-character name
ALTER TABLE items ALTER COLUMN name TYPE varchar(40);
INSERT INTO items (id, name, qty, price, note) VALUES (10, 'Deluxe stainless steel widget large', 4, 99.99, 'name longer than 20');
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'widened_varchar');

-- [e07] delete of an old row (REPLICA IDENTITY DEFAULT: before image has the key only)
DELETE FROM items WHERE id = 5;
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'final');
