-- Source DDL for scenario "evolution" (database "evolution"): one table whose columns are changed mid-stream by
-- sql/workload.sql (ADD COLUMN, ADD COLUMN NOT NULL DEFAULT, and three type widenings).
CREATE TABLE public.items (id integer PRIMARY KEY, name varchar(20) NOT NULL, qty integer, price numeric(8,2));
