-- The source database of the compose stack (database "inventory", created by POSTGRES_DB) and of
-- the live end-to-end run (tests/live_debezium.rs, compose/live-local.sh): the Debezium tutorial
-- schema the recordings in tests/data/corpus/inventory were made from (Debezium 3.6.3,
-- PostgreSQL 15). Run once, when the volume is empty; the snapshot reads these rows (op "r").
-- orders.product_id follows a product's key change (the live workload changes one).

CREATE TABLE customers (
  id         SERIAL PRIMARY KEY,
  first_name VARCHAR(255) NOT NULL,
  last_name  VARCHAR(255) NOT NULL,
  email      VARCHAR(255) NOT NULL UNIQUE
);
ALTER SEQUENCE customers_id_seq RESTART WITH 1001;

CREATE TABLE products (
  id          SERIAL PRIMARY KEY,
  name        VARCHAR(255) NOT NULL,
  description VARCHAR(512),
  weight      FLOAT
);
ALTER SEQUENCE products_id_seq RESTART WITH 101;

CREATE TABLE products_on_hand (
  product_id INTEGER NOT NULL PRIMARY KEY REFERENCES products(id) ON UPDATE CASCADE ON DELETE CASCADE,
  quantity   INTEGER NOT NULL
);

CREATE TABLE orders (
  id         SERIAL PRIMARY KEY,
  order_date DATE NOT NULL,
  purchaser  INTEGER NOT NULL REFERENCES customers(id) ON UPDATE CASCADE,
  quantity   INTEGER NOT NULL,
  product_id INTEGER NOT NULL REFERENCES products(id) ON UPDATE CASCADE
);
ALTER SEQUENCE orders_id_seq RESTART WITH 10001;

INSERT INTO products (name, description, weight) VALUES
  ('scooter', 'Small 2-wheel scooter', 3.14),
  ('car battery', '12V car battery', 8.1),
  ('12-pack drill bits', '12-pack of drill bits with sizes ranging from #40 to #3', 0.8),
  ('hammer', '12oz carpenter''s hammer', 0.75),
  ('hammer', '14oz carpenter''s hammer', 0.875),
  ('hammer', '16oz carpenter''s hammer', 1.0),
  ('rocks', 'box of assorted rocks', 5.3),
  ('jacket', 'water resistent black wind breaker', 0.1),
  ('spare tire', '24 inch spare tire', 22.2);

INSERT INTO products_on_hand VALUES (101,3), (102,8), (103,18), (104,4), (105,5), (106,0), (107,44), (108,2), (109,5);

INSERT INTO customers (first_name, last_name, email) VALUES
  ('Sally', 'Thomas', 'sally.thomas@acme.com'),
  ('George', 'Bailey', 'gbailey@foobar.com'),
  ('Edward', 'Walker', 'ed@walker.com'),
  ('Anne', 'Kretchmar', 'annek@noanswer.org');

INSERT INTO orders (order_date, purchaser, quantity, product_id) VALUES
  ('2016-01-16', 1001, 1, 102),
  ('2016-01-17', 1002, 2, 105),
  ('2016-02-19', 1002, 2, 106),
  ('2016-02-21', 1003, 1, 107);
