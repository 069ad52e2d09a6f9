INSERT INTO "inv"."order""s" ("id", "region", "no;te") SELECT CAST(u.c0 AS integer), CAST(u.c1 AS text), CAST(u.c2 AS numeric(10,2)) FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(c0, c1, c2) ON CONFLICT ("id", "region") DO UPDATE SET "no;te" = excluded."no;te";
INSERT INTO "inv"."order""s" ("id", "region", "no;te") SELECT CAST(u.c0 AS integer), CAST(u.c1 AS text), CAST(u.c2 AS numeric(10,2)) FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(c0, c1, c2);
INSERT INTO "inv"."order""s" ("id", "region") SELECT CAST(u.c0 AS integer), CAST(u.c1 AS text) FROM UNNEST($1::text[], $2::text[]) AS u(c0, c1) ON CONFLICT ("id", "region") DO NOTHING;
UPDATE "inv"."order""s" AS t SET "no;te" = CAST(u.c2 AS numeric(10,2)) FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(c0, c1, c2) WHERE t."id" = CAST(u.c0 AS integer) AND t."region" = CAST(u.c1 AS text);
DELETE FROM "inv"."order""s" AS t USING UNNEST($1::text[]) AS u(c0) WHERE t."id" = CAST(u.c0 AS integer);
DELETE FROM "inv"."order""s" AS t USING UNNEST($1::text[], $2::text[]) AS u(c0, c1) WHERE t."id" = CAST(u.c0 AS integer) AND t."region" = CAST(u.c1 AS text);
TRUNCATE TABLE "inv"."order""s";
CREATE TABLE IF NOT EXISTS "inv"."order""s" ("id" integer NOT NULL, "ünï""code" text, PRIMARY KEY ("id"));
ALTER TABLE "inv"."order""s" ADD COLUMN "ünï""code" text;
