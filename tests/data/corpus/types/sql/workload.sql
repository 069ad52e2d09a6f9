-- Streaming workload for scenario "types". Lines "SELECT pg_logical_emit_message(false, 'corpus.checkpoint', '<name>');"
-- are sync points: the harness dumps every table right after each one (oracle/<name>.json).
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'snapshot');

-- every seed value again, inserted while streaming (ids + 100); temporary tables are not published
CREATE TEMP TABLE seed_copy AS SELECT * FROM types_default WHERE id < 100;
UPDATE seed_copy SET id = id + 100;
INSERT INTO types_default SELECT * FROM seed_copy;
INSERT INTO types_full SELECT * FROM seed_copy;
INSERT INTO types_nopk VALUES ('c', -7, -0.0001, '1960-06-30', '1960-06-30 12:00:00+05:30', '[1, "two"]', '{}');
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'streamed_inserts');

-- update every column of row 1: new values
UPDATE types_default SET
  c_smallint = -12, c_integer = -123456, c_bigint = -1234567890123, c_real = -3.25, c_double = -2.5e-300,
  c_numeric = -0.0001, c_numeric_wide = 0.00001, c_numeric_var = 1e-20,
  c_bool = false, c_char = 'xyz', c_varchar = 'world', c_text = 'changed', c_bytea = '\x0102',
  c_date = '1970-01-01', c_time0 = '01:02:03', c_time3 = '01:02:03.004', c_time6 = '01:02:03.000004', c_timetz = '01:02:03.000004-05:30',
  c_ts0 = '1970-01-01 00:00:00', c_ts3 = '1970-01-01 00:00:00.001', c_ts6 = '1970-01-01 00:00:00.000001', c_tstz = '1970-01-01 00:00:00+00',
  c_interval = '-00:00:00.000001',
  c_uuid = 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', c_json = '{"changed": true}', c_jsonb = '[1, "two", null]', c_xml = '<changed/>',
  c_bit1 = B'0', c_bit8 = B'01010101', c_varbit = B'0000000000000001',
  c_int_arr = '{-1}', c_text_arr = '{changed}', c_enum = 'sad', c_inet = '10.1.2.3/16', c_cidr = '192.168.0.0/24', c_macaddr = 'aa:bb:cc:dd:ee:ff', c_money = -0.01
WHERE id IN (1, 101);
UPDATE types_full SET
  c_smallint = -12, c_integer = -123456, c_bigint = -1234567890123, c_real = -3.25, c_double = -2.5e-300,
  c_numeric = -0.0001, c_numeric_wide = 0.00001, c_numeric_var = 1e-20,
  c_bool = false, c_char = 'xyz', c_varchar = 'world', c_text = 'changed', c_bytea = '\x0102',
  c_date = '1970-01-01', c_time0 = '01:02:03', c_time3 = '01:02:03.004', c_time6 = '01:02:03.000004', c_timetz = '01:02:03.000004-05:30',
  c_ts0 = '1970-01-01 00:00:00', c_ts3 = '1970-01-01 00:00:00.001', c_ts6 = '1970-01-01 00:00:00.000001', c_tstz = '1970-01-01 00:00:00+00',
  c_interval = '-00:00:00.000001',
  c_uuid = 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', c_json = '{"changed": true}', c_jsonb = '[1, "two", null]', c_xml = '<changed/>',
  c_bit1 = B'0', c_bit8 = B'01010101', c_varbit = B'0000000000000001',
  c_int_arr = '{-1}', c_text_arr = '{changed}', c_enum = 'sad', c_inet = '10.1.2.3/16', c_cidr = '192.168.0.0/24', c_macaddr = 'aa:bb:cc:dd:ee:ff', c_money = -0.01
WHERE id IN (1, 101);
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'updated_values');

-- row 2 (all NULL) takes row 4's values; row 3 becomes all NULL
UPDATE types_default d SET (c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_numeric_wide, c_numeric_var,
  c_bool, c_char, c_varchar, c_text, c_bytea, c_date, c_time0, c_time3, c_time6, c_timetz, c_ts0, c_ts3, c_ts6, c_tstz,
  c_interval, c_uuid, c_json, c_jsonb, c_xml, c_bit1, c_bit8, c_varbit, c_int_arr, c_text_arr, c_enum, c_inet, c_cidr, c_macaddr, c_money)
  = (SELECT c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_numeric_wide, c_numeric_var,
  c_bool, c_char, c_varchar, c_text, c_bytea, c_date, c_time0, c_time3, c_time6, c_timetz, c_ts0, c_ts3, c_ts6, c_tstz,
  c_interval, c_uuid, c_json, c_jsonb, c_xml, c_bit1, c_bit8, c_varbit, c_int_arr, c_text_arr, c_enum, c_inet, c_cidr, c_macaddr, c_money
  FROM types_default WHERE id = 4) WHERE d.id IN (2, 102);
UPDATE types_full d SET (c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_numeric_wide, c_numeric_var,
  c_bool, c_char, c_varchar, c_text, c_bytea, c_date, c_time0, c_time3, c_time6, c_timetz, c_ts0, c_ts3, c_ts6, c_tstz,
  c_interval, c_uuid, c_json, c_jsonb, c_xml, c_bit1, c_bit8, c_varbit, c_int_arr, c_text_arr, c_enum, c_inet, c_cidr, c_macaddr, c_money)
  = (SELECT c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_numeric_wide, c_numeric_var,
  c_bool, c_char, c_varchar, c_text, c_bytea, c_date, c_time0, c_time3, c_time6, c_timetz, c_ts0, c_ts3, c_ts6, c_tstz,
  c_interval, c_uuid, c_json, c_jsonb, c_xml, c_bit1, c_bit8, c_varbit, c_int_arr, c_text_arr, c_enum, c_inet, c_cidr, c_macaddr, c_money
  FROM types_full WHERE id = 4) WHERE d.id IN (2, 102);
UPDATE types_default SET (c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_numeric_wide, c_numeric_var,
  c_bool, c_char, c_varchar, c_text, c_bytea, c_date, c_time0, c_time3, c_time6, c_timetz, c_ts0, c_ts3, c_ts6, c_tstz,
  c_interval, c_uuid, c_json, c_jsonb, c_xml, c_bit1, c_bit8, c_varbit, c_int_arr, c_text_arr, c_enum, c_inet, c_cidr, c_macaddr, c_money)
  = (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) WHERE id IN (3, 103);
UPDATE types_full SET (c_smallint, c_integer, c_bigint, c_real, c_double, c_numeric, c_numeric_wide, c_numeric_var,
  c_bool, c_char, c_varchar, c_text, c_bytea, c_date, c_time0, c_time3, c_time6, c_timetz, c_ts0, c_ts3, c_ts6, c_tstz,
  c_interval, c_uuid, c_json, c_jsonb, c_xml, c_bit1, c_bit8, c_varbit, c_int_arr, c_text_arr, c_enum, c_inet, c_cidr, c_macaddr, c_money)
  = (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) WHERE id IN (3, 103);
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'nulls_swapped');

-- one column at a time (small updates: REPLICA IDENTITY FULL before images carry every column)
UPDATE types_default SET c_jsonb = c_jsonb || '{"added": 1}' WHERE id = 5;
UPDATE types_full SET c_jsonb = c_jsonb || '{"added": 1}' WHERE id = 5;
UPDATE types_default SET c_int_arr = array_append(c_int_arr, 42) WHERE id = 105;
UPDATE types_full SET c_int_arr = array_append(c_int_arr, 42) WHERE id = 105;
-- primary-key change (the new row's create event carries the __debezium.oldkey header)
UPDATE types_default SET id = 205 WHERE id = 5;
UPDATE types_full SET id = 205 WHERE id = 5;
-- deletes (one from the snapshot, one streamed)
DELETE FROM types_default WHERE id IN (4, 106);
DELETE FROM types_full WHERE id IN (4, 106);
INSERT INTO types_nopk VALUES ('d', 2147483647, 99999999.9999, '0044-03-15 BC', '9999-12-31 23:59:59.999999+00', '{"ü": []}', '{"",NULL}');
SELECT pg_logical_emit_message(false, 'corpus.checkpoint', 'final');
