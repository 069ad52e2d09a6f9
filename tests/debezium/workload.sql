-- The streaming workload of the live end-to-end run, applied to the source while Debezium
-- captures it and sluice applies it. Each "-- step:" is one psql command (one implicit
-- transaction unless it says BEGIN); tests/live_debezium.rs pauses between steps, and
-- compose/live-local.sh runs the file at once. The last step's logical decoding message is the
-- marker after which EmbeddedDebezium writes the end offsets of every topic (marker-done.json).

-- step: inserts
INSERT INTO customers (first_name, last_name, email) VALUES
  ('Ada', 'Lovelace', 'ada@example.com'),
  ('Alan', 'Turing', 'alan@example.com');
INSERT INTO products (name, description, weight) VALUES ('lamp', 'desk lamp, brass', 1.5);
INSERT INTO products_on_hand VALUES (110, 7);
INSERT INTO orders (order_date, purchaser, quantity, product_id) VALUES
  ('2024-03-01', 1005, 2, 110),
  ('2024-03-02', 1001, 1, 103);

-- step: updates
UPDATE customers SET email = 'sally@acme.example' WHERE id = 1001;
UPDATE products SET weight = weight * 2, description = NULL WHERE id IN (101, 104);
UPDATE products_on_hand SET quantity = quantity + 10 WHERE product_id <= 103;

-- step: a transaction of several tables
BEGIN;
UPDATE orders SET quantity = 5 WHERE id = 10001;
DELETE FROM orders WHERE id = 10003;
INSERT INTO customers (first_name, last_name, email) VALUES ('Edsger', 'Dijkstra', 'ewd@example.com');
COMMIT;

-- step: deletes
DELETE FROM products_on_hand WHERE product_id = 109;
DELETE FROM customers WHERE id = 1004;
DELETE FROM products WHERE id = 109;

-- step: a primary key change (cascades to products_on_hand)
UPDATE products SET id = 120 WHERE id = 108;

-- step: schema change
ALTER TABLE customers ADD COLUMN phone VARCHAR(32);
INSERT INTO customers (first_name, last_name, email, phone) VALUES
  ('Grace', 'Hopper', 'grace@example.com', '+1 555 0100');
UPDATE customers SET phone = '+44 20 7946 0000' WHERE id = 1005;

-- step: truncate
TRUNCATE orders;

-- step: after the truncate
INSERT INTO orders (order_date, purchaser, quantity, product_id) VALUES
  ('2024-04-01', 1008, 3, 120),
  ('2024-04-02', 1002, 1, 101);
UPDATE customers SET last_name = 'King', phone = NULL WHERE id = 1005;
DELETE FROM customers WHERE id = 1007;

-- step: done
SELECT pg_logical_emit_message(true, 'sluice.live', 'done');
