-- Source DDL for scenario "types" (database "types"): one wide table with every common PostgreSQL
-- type Debezium maps, the same table with REPLICA IDENTITY FULL, and a table without a primary key.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'très bien');

CREATE TABLE types_default (
  id              integer PRIMARY KEY,
  c_smallint      smallint,
  c_integer       integer,
  c_bigint        bigint,
  c_real          real,
  c_double        double precision,
  c_numeric       numeric(12,4),
  c_numeric_wide  numeric(45,5),
  c_numeric_var   numeric,
  c_bool          boolean,
  c_char          char(5),
  c_varchar       varchar(20),
  c_text          text,
  c_bytea         bytea,
  c_date          date,
  c_time0         time(0),
  c_time3         time(3),
  c_time6         time(6),
  c_timetz        timetz,
  c_ts0           timestamp(0),
  c_ts3           timestamp(3),
  c_ts6           timestamp(6),
  c_tstz          timestamptz,
  c_interval      interval,
  c_uuid          uuid,
  c_json          json,
  c_jsonb         jsonb,
  c_xml           xml,
  c_bit1          bit(1),
  c_bit8          bit(8),
  c_varbit        bit varying(16),
  c_int_arr       integer[],
  c_text_arr      text[],
  c_enum          mood,
  c_inet          inet,
  c_cidr          cidr,
  c_macaddr       macaddr,
  c_money         money
);

CREATE TABLE types_full (LIKE types_default INCLUDING ALL);
ALTER TABLE types_full REPLICA IDENTITY FULL;

-- No primary key (REPLICA IDENTITY FULL so that it could be updated; the workload only inserts).
CREATE TABLE types_nopk (
  label      text,
  c_integer  integer,
  c_numeric  numeric(12,4),
  c_date     date,
  c_tstz     timestamptz,
  c_jsonb    jsonb,
  c_text_arr text[]
);
ALTER TABLE types_nopk REPLICA IDENTITY FULL;
