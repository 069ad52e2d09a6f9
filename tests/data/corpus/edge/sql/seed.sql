-- Seed for scenario "edge": loaded before the connector starts, so these rows arrive as snapshot records
-- ("r"). The workload inserts the same values again with id + 100 (streaming path, "c").
-- numeric(10,2) cannot hold an infinity in PostgreSQL ("numeric field overflow: A field with precision 10,
-- scale 2 cannot hold an infinite value"), so c_numeric_10_2 gets NaN and ordinary values only.
-- 1: ordinary values
INSERT INTO edge_values VALUES (1, 'ordinary',
  '2024-02-29', '2024-02-29 13:45:07', '2024-02-29 13:45:07.123', '2024-02-29 13:45:07.123456', '2024-02-29 13:45:07.123456+00',
  12345.6789, 12345678.91, 3.25, 2.718281828459045,
  '{1,2,3}', '{a,"b c"}');
-- 2: every column NULL
INSERT INTO edge_values (id) VALUES (2);
-- 3: +infinity everywhere; empty arrays
INSERT INTO edge_values VALUES (3, 'plus infinity',
  'infinity', 'infinity', 'infinity', 'infinity', 'infinity',
  'Infinity', 0.01, 'Infinity', 'Infinity',
  '{}', '{}');
-- 4: -infinity everywhere; arrays with NULL elements
INSERT INTO edge_values VALUES (4, 'minus infinity',
  '-infinity', '-infinity', '-infinity', '-infinity', '-infinity',
  '-Infinity', -0.01, '-Infinity', '-Infinity',
  '{1,NULL,3}', '{a,NULL}');
-- 5: NaN; BC dates and timestamps; arrays of only NULL
INSERT INTO edge_values VALUES (5, 'NaN and BC',
  '0044-03-15 BC', '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00.123 BC', '0044-03-15 12:00:00.123456 BC', '0044-03-15 12:00:00+00 BC',
  'NaN', 'NaN', 'NaN', 'NaN',
  '{NULL}', '{NULL}');
-- 6: year 10000 and later
INSERT INTO edge_values VALUES (6, 'year 10000+',
  '12345-06-07', '10000-01-01 00:00:00', '10000-01-01 00:00:00.001', '12345-06-07 08:09:10.123456', '10000-01-01 00:00:00+00',
  -12345.6789, -12345678.91, -3.25, -2.718281828459045,
  '{-2147483648,2147483647}', '{"",NULL,z}');
-- 7: the last day BC and the first day AD (era boundary); real/double negative zero
INSERT INTO edge_values VALUES (7, 'era boundary',
  '0001-12-31 BC', '0001-12-31 23:59:59 BC', '0001-01-01 00:00:00.000', '0001-01-01 00:00:00.000001', '0001-01-01 00:00:00+00',
  0, 0, '-0', '-0',
  '{NULL,NULL}', '{}');
