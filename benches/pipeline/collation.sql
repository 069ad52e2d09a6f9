-- The version guard's statements on a key column of the database's default collation against
-- the same with COLLATE "C" (schema version 5), in one run: 130,000 stored versions, then 60
-- batches of 1,000 keys (70 % new) looked up (the LATERAL probe sluice runs) and upserted.
-- Prints microseconds per key. Run it in a database of the collation to compare, e.g.
--   createdb -T template0 --lc-collate=en_US.UTF-8 --lc-ctype=en_US.UTF-8 en
--   psql -d en -f benches/pipeline/collation.sql
-- Session 14 (PostgreSQL 15, 2-core machine): en_US.UTF-8 lookup 3.2 / 2.2 us, upsert
-- 7.4 / 5.3 us; C.UTF-8 lookup 2.5 / 2.3 us, upsert 5.9 / 5.5 us (default / "C").
DROP TABLE IF EXISTS v_def, v_c;
CREATE TABLE v_def (table_name TEXT NOT NULL, row_key TEXT NOT NULL, version_kind SMALLINT NOT NULL, version_hi BIGINT NOT NULL, version_lo BIGINT NOT NULL, deleted boolean NOT NULL, updated_at_ms BIGINT NOT NULL, source_name TEXT, source_ts_ms BIGINT, PRIMARY KEY (table_name, row_key));
CREATE TABLE v_c (table_name TEXT COLLATE "C" NOT NULL, row_key TEXT COLLATE "C" NOT NULL, version_kind SMALLINT NOT NULL, version_hi BIGINT NOT NULL, version_lo BIGINT NOT NULL, deleted boolean NOT NULL, updated_at_ms BIGINT NOT NULL, source_name TEXT, source_ts_ms BIGINT, PRIMARY KEY (table_name, row_key));
INSERT INTO v_def SELECT 'orders', '["' || g || '"]', 1, g, 0, false, 0, 'bench', 0 FROM generate_series(1, 130000) g;
INSERT INTO v_c SELECT * FROM v_def;
VACUUM ANALYZE v_def; VACUUM ANALYZE v_c;
DO $$
DECLARE
  n int := 1000; it int := 60; t0 timestamptz;
  up_def interval := '0'; up_c interval := '0'; lk_def interval := '0'; lk_c interval := '0';
  k text[]; kind text[]; hi text[]; lo text[]; del text[]; src text[]; ts text[]; cnt int;
BEGIN
  FOR i IN 1..it LOOP
    SELECT array_agg(CASE WHEN g % 10 < 7 THEN '["' || (200000 + i*n + g) || '"]' ELSE '["' || ((i*7919 + g*104729) % 130000 + 1) || '"]' END),
           array_agg('1'::text), array_agg((i*n+g)::text), array_agg('0'::text), array_agg('false'::text), array_agg('bench'::text), array_agg('0'::text)
      INTO k, kind, hi, lo, del, src, ts FROM generate_series(1, n) g;
    FOR t IN 1..2 LOOP
      t0 := clock_timestamp();
      EXECUTE format('SELECT count(*) FROM UNNEST($2::text[]) AS k(row_key) CROSS JOIN LATERAL (SELECT * FROM %I r WHERE r.table_name = $1 AND r.row_key = k.row_key LIMIT 1) AS v', CASE WHEN t=1 THEN 'v_def' ELSE 'v_c' END) INTO cnt USING 'orders', k;
      IF t = 1 THEN lk_def := lk_def + (clock_timestamp() - t0); ELSE lk_c := lk_c + (clock_timestamp() - t0); END IF;
      t0 := clock_timestamp();
      EXECUTE format('INSERT INTO %I (table_name, row_key, version_kind, version_hi, version_lo, deleted, updated_at_ms, source_name, source_ts_ms) SELECT $1, u.k, CAST(u.kind AS SMALLINT), CAST(u.hi AS BIGINT), CAST(u.lo AS BIGINT), CAST(u.del AS BOOLEAN), 0, u.src, CAST(u.ts AS BIGINT) FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(k, kind, hi, lo, del, src, ts) ON CONFLICT (table_name, row_key) DO UPDATE SET version_kind = excluded.version_kind, version_hi = excluded.version_hi, version_lo = excluded.version_lo, deleted = excluded.deleted, updated_at_ms = excluded.updated_at_ms, source_name = excluded.source_name, source_ts_ms = excluded.source_ts_ms', CASE WHEN t=1 THEN 'v_def' ELSE 'v_c' END)
        USING 'orders', k, kind, hi, lo, del, src, ts;
      IF t = 1 THEN up_def := up_def + (clock_timestamp() - t0); ELSE up_c := up_c + (clock_timestamp() - t0); END IF;
    END LOOP;
  END LOOP;
  RAISE NOTICE 'lookup: default % us/key, C % us/key; upsert: default % us/row, C % us/row',
    round(extract(epoch from lk_def)*1e6/(n*it)::numeric, 2), round(extract(epoch from lk_c)*1e6/(n*it)::numeric, 2),
    round(extract(epoch from up_def)*1e6/(n*it)::numeric, 2), round(extract(epoch from up_c)*1e6/(n*it)::numeric, 2);
END $$;
