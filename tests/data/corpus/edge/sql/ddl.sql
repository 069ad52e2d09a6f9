-- Source DDL for scenario "edge" (database "edge"): one table with the edge values of date/time, numeric,
-- floating-point and array types (infinities, NaN, BC, year 10000+, empty arrays, arrays with NULL elements).
CREATE TABLE edge_values (
  id            integer PRIMARY KEY,
  label         text,
  c_date        date,
  c_ts0         timestamp(0),
  c_ts3         timestamp(3),
  c_ts6         timestamp(6),
  c_tstz        timestamptz,
  c_numeric     numeric,
  c_numeric_10_2 numeric(10,2),
  c_real        real,
  c_double      double precision,
  c_int_arr     integer[],
  c_text_arr    text[]
);
