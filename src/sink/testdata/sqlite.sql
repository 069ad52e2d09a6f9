INSERT INTO "inv.order""s" ("id", "region", "no;te") VALUES (?, ?, ?), (?, ?, ?) ON CONFLICT ("id", "region") DO UPDATE SET "no;te" = excluded."no;te";
INSERT INTO "inv.order""s" ("id", "region", "no;te") VALUES (?, ?, ?), (?, ?, ?);
INSERT INTO "inv.order""s" ("id", "region") VALUES (?, ?) ON CONFLICT ("id", "region") DO NOTHING;
UPDATE "inv.order""s" SET "no;te" = ?3 WHERE "id" = ?1 AND "region" = ?2;
DELETE FROM "inv.order""s" WHERE "id" IN (?, ?, ?);
DELETE FROM "inv.order""s" WHERE ("id", "region") IN (VALUES (?, ?), (?, ?));
DELETE FROM "inv.order""s";
CREATE TABLE IF NOT EXISTS "inv.order""s" ("id" integer NOT NULL, "ünï""code" text, PRIMARY KEY ("id"));
ALTER TABLE "inv.order""s" ADD COLUMN "ünï""code" text;
