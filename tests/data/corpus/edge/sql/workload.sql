-- Streaming workload for scenario "edge". Lines "SELECT pg_logical_emit_message(false, 'corpus.checkpoint', '<name>');"
-- are sync points: the harness dumps every table right after each one (oracle/<name>.json).
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'snapshot');

-- every seed row again while streaming (ids + 100), one autocommit insert each
INSERT INTO edge_values VALUES (101, 'ordinary',
  '2024-02-29', '2024-02-29 13:45:07', '2024-02-29 13:45:07.123', '2024-02-29 13:45:07.123456', '2024-02-29 13:45:07.123456+00',
  12345.6789, 12345678.91, 3.25, 2.718281828459045,
  '{1,2,3}', '{a,"b c"}');
INSERT INTO edge_values (id) VALUES (102);
INSERT INTO edge_values VALUES (103, 'plus infinity',
  'infinity', 'infinity', 'infinity', 'infinity', 'infinity',
  'Infinity', 0.01, 'Infinity', 'Infinity',
  '{}', '{}');
INSERT INTO edge_values VALUES (104, 'minus infinity',
  '-infinity', '-infinity', '-infinity', '-infinity', '-infinity',
  '-Infinity', -0.01, '-Infinity', '-Infinity',
  '{1,NULL,3}', '{a,NULL}');
INSERT INTO edge_values VALUES (105, 'NaN and BC',
  '0044-03-15 BC', '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00.123 BC', '0044-03-15 12:00:00.123456 BC', '0044-03-15 12:00:00+00 BC',
  'NaN', 'NaN', 'NaN', 'NaN',
  '{NULL}', '{NULL}');
INSERT INTO edge_values VALUES (106, 'year 10000+',
  '12345-06-07', '10000-01-01 00:00:00', '10000-01-01 00:00:00.001', '12345-06-07 08:09:10.123456', '10000-01-01 00:00:00+00',
  -12345.6789, -12345678.91, -3.25, -2.718281828459045,
  '{-2147483648,2147483647}', '{"",NULL,z}');
INSERT INTO edge_values VALUES (107, 'era boundary',
  '0001-12-31 BC', '0001-12-31 23:59:59 BC', '0001-01-01 00:00:00.000', '0001-01-01 00:00:00.000001', '0001-01-01 00:00:00+00',
  0, 0, '-0', '-0',
  '{NULL,NULL}', '{}');
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'streamed_inserts');

-- infinity -> ordinary value (rows 3 and 103: every +infinity/Infinity column; arrays from empty to non-empty)
UPDATE edge_values SET label = 'was plus infinity',
  c_date = '2000-01-01', c_ts0 = '2000-01-01 00:00:00', c_ts3 = '2000-01-01 00:00:00.5', c_ts6 = '2000-01-01 00:00:00.000005',
  c_tstz = '2000-01-01 00:00:00+00', c_numeric = 1, c_real = 1, c_double = 1,
  c_int_arr = '{7}', c_text_arr = '{x}'
WHERE id IN (3, 103);
-- ordinary value -> infinity (rows 1 and 101: +infinity/-infinity, NaN; arrays to empty / with NULL)
UPDATE edge_values SET label = 'was ordinary',
  c_date = 'infinity', c_ts0 = '-infinity', c_ts3 = 'infinity', c_ts6 = '-infinity',
  c_tstz = 'infinity', c_numeric = '-Infinity', c_numeric_10_2 = 'NaN', c_real = 'NaN', c_double = 'Infinity',
  c_int_arr = '{}', c_text_arr = '{NULL,b}'
WHERE id IN (1, 101);
-- all NULL -> edge values (rows 2 and 102)
UPDATE edge_values SET label = 'was null',
  c_date = '-infinity', c_ts0 = '12345-06-07 00:00:00', c_ts3 = '0044-03-15 00:00:00 BC', c_ts6 = 'infinity',
  c_tstz = '-infinity', c_numeric = 'NaN', c_real = '-Infinity', c_double = 'NaN'
WHERE id IN (2, 102);
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'updated');

-- deletes (REPLICA IDENTITY DEFAULT: key-only before image, then a tombstone)
DELETE FROM edge_values WHERE id IN (4, 104);
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'final');
