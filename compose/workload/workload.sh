#!/bin/sh
# The workload generator: a change to the source inventory database every
# WORKLOAD_INTERVAL_SECONDS (1 s) — a new customer, a stock update, an order, and old orders
# deleted past 50 — until the service is stopped. Debezium captures each one.
set -eu
export PGPASSWORD="$(cat /run/secrets/source-db-password)"
while :; do
    psql -v ON_ERROR_STOP=1 -q -h source-db -U postgres -d inventory <<'SQL'
BEGIN;
INSERT INTO customers (first_name, last_name, email)
  VALUES ('Load', 'Generator', 'load-' || txid_current() || '@example.com');
UPDATE products_on_hand SET quantity = quantity + 1
  WHERE product_id = (SELECT product_id FROM products_on_hand ORDER BY random() LIMIT 1);
INSERT INTO orders (order_date, purchaser, quantity, product_id)
  SELECT current_date, c.id, 1 + (random() * 4)::int, p.id
  FROM (SELECT id FROM customers ORDER BY random() LIMIT 1) c,
       (SELECT id FROM products ORDER BY random() LIMIT 1) p;
DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY id LIMIT 1)
  AND (SELECT count(*) FROM orders) > 50;
COMMIT;
SQL
    sleep "${WORKLOAD_INTERVAL_SECONDS:-1}"
done
