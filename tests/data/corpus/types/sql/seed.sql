-- Seed for scenario "types": loaded before the connector starts, so these rows arrive as snapshot
-- records ("r"). The workload copies them (ids + 100) so every value also takes the streaming path.
-- 1: ordinary values
INSERT INTO types_default VALUES (1,
  12, 123456, 1234567890123, 3.25, 2.718281828459045, 12345678.1234, 1234567890.12345, 3.14159265358979323846,
  true, 'ab', 'hello', 'plain text', '\xdeadbeef',
  '2024-02-29', '13:45:07', '13:45:07.123', '13:45:07.123456', '13:45:07.123456+02:00',
  '2024-02-29 13:45:07', '2024-02-29 13:45:07.123', '2024-02-29 13:45:07.123456', '2024-02-29 13:45:07.123456+02:00',
  '3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1, "b": [true, null]}', '{"b": [1, 2], "a": "x"}', '<doc><a>1</a></doc>',
  B'1', B'10100101', B'1101',
  '{1,2,3}', '{"a","b c"}', 'happy', '192.168.1.10', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56);
-- 2: every column NULL
INSERT INTO types_default (id) VALUES (2);
-- 3: minimum / negative / pre-1970 / BC / empty
INSERT INTO types_default VALUES (3,
  -32768, -2147483648, -9223372036854775808, -1.5e-38, -1.7976931348623157e308, -99999999.9999,
  -1234567890123456789012345678901234567890.12345, -0.000000000000000000000000000000000000001,
  false, '', '', '', '\x',
  '1900-01-01', '00:00:00', '00:00:00.000', '00:00:00.000001', '00:00:00-14:59',
  '1969-12-31 23:59:59', '1969-12-31 23:59:59.999', '1900-01-01 00:00:00.000001', '1969-07-20 20:17:40+00',
  '-3 days -04:05:06.000001',
  '00000000-0000-0000-0000-000000000000', '[]', '{}', '',
  B'0', B'00000000', B'',
  '{}', '{}', 'sad', '::1', '::/0', '00:00:00:00:00:00', -92233720368547758.08);
-- 4: maximum / unicode / special characters
INSERT INTO types_default VALUES (4,
  32767, 2147483647, 9223372036854775807, 3.4028235e38, 1.7976931348623157e308, 99999999.9999,
  9999999999999999999999999999999999999999.99999, 123456789012345678901234567890123456789012345.678901234567890123,
  true, 'ünï', 'ÄÖÜ 日本語 😀', E'line1\nline2\ttab "quotes" ''single'' back\\slash', '\x00ff10',
  '9999-12-31', '23:59:59', '23:59:59.999', '23:59:59.999999', '23:59:59.999999+14:59',
  '9999-12-31 23:59:59', '2262-04-11 23:47:16.854', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:08+00',
  '178956970 hours 59 minutes 59.999999 seconds',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"ü": "日本", "n": 1.50, "nested": {"x": [1, {"y": null}]}}', '{"big": 123456789012345678901234567890}', '<t>ü &amp; &lt;</t>',
  B'1', B'11111111', B'1111111111111111',
  '{2147483647,NULL,-2147483648}', '{"","NULL",NULL,"ü 日本","a,b","q\"uote","back\\slash"}', 'très bien',
  '2001:db8::ff00:42:8329/64', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', 92233720368547758.07);
-- 5: BC and early dates, zero values
INSERT INTO types_default VALUES (5,
  0, 0, 0, -0.0, 0, 0, 0, 0,
  false, ' ', ' ', ' ', '\x00',
  '0044-03-15 BC', '12:00:00', '12:00:00.5', '12:00:00.05', '12:00:00+00',
  '0001-01-01 00:00:00', '0044-03-15 12:00:00.001 BC', '1582-10-04 23:59:59.999999', '0001-01-01 00:00:00+00',
  '0 seconds',
  '123e4567-e89b-12d3-a456-426614174000', 'null', '"a string"', '<?xml version="1.0"?><r/>',
  B'0', B'00000001', B'0',
  '{0}', '{""}', 'ok', '0.0.0.0', '0.0.0.0/0', '01:23:45:67:89:ab', 0);
-- 6: months and years in intervals (Debezium's numeric interval mode approximates a month)
INSERT INTO types_default (id, c_interval, c_text) VALUES (6, '1 year 2 mons 3 days 04:05:06', 'interval with months');
-- 7: timestamptz / timetz offsets and sub-millisecond timestamps
INSERT INTO types_default (id, c_timetz, c_tstz, c_ts3, c_ts6, c_time6, c_text) VALUES
  (7, '23:59:59.999999-12:00', '2000-01-01 00:00:00.000001-08:00', '2000-02-29 12:00:00.999', '1970-01-01 00:00:00.000001', '00:00:00.5', 'offsets');

-- 8, 9: special values: NaN / infinities, time 24:00:00 (date 'infinity' is left out: see README)
INSERT INTO types_default (id, c_real, c_double, c_time6, c_ts0, c_ts3, c_ts6, c_tstz, c_text) VALUES
  (8, 'NaN', '-Infinity', '24:00:00', 'infinity', '-infinity', '-infinity', 'infinity', 'specials');
INSERT INTO types_default (id, c_real, c_double, c_time0, c_ts0, c_ts3, c_ts6, c_tstz, c_text) VALUES
  (9, 'Infinity', 'NaN', '24:00:00', '-infinity', 'infinity', 'infinity', '-infinity', 'specials 2');
-- 10: numeric 'NaN' (Debezium's precise decimal mode cannot carry it: it sends null and logs a WARN)
INSERT INTO types_default (id, c_numeric, c_numeric_var, c_text) VALUES (10, 'NaN', 'NaN', 'numeric NaN');

INSERT INTO types_full SELECT * FROM types_default;

INSERT INTO types_nopk VALUES
  ('a', 1, 1.5, '2024-01-01', '2024-01-01 00:00:00+00', '{"k": 1}', '{x,y}'),
  ('a', 1, 1.5, '2024-01-01', '2024-01-01 00:00:00+00', '{"k": 1}', '{x,y}'),
  ('b', NULL, NULL, NULL, NULL, NULL, NULL);
