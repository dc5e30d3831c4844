-- DeepLens schema, version 10: the catalog's changes are ordered by a counter the database
-- keeps, not by clocks. index_state.catalog_generation counts a tenant's product-photo
-- feature writes (and rematches); it advances in the writing transaction, under
-- index_state's row lock, so generations follow commit order. A photo's features carry the
-- generation their write made; a keyframe's the generation its write saw. A keyframe's own
-- match step starts after its write commits, so it sees every photo of a generation up to
-- the keyframe's; the pass over earlier keyframes checks a photo against the keyframes
-- that saw an older generation. Before this, a clock margin (5 s) decided which keyframes
-- that pass took, and a commit slower than the margin fell between both directions.
ALTER TABLE index_state ADD COLUMN catalog_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE local_features ADD COLUMN catalog_generation bigint NOT NULL DEFAULT 0;
-- Existing keyframes saw generation 0 and existing photos are generation 1: a photo still
-- waiting for its pass checks every keyframe indexed before this version.
UPDATE local_features SET catalog_generation = 1 WHERE item_kind = 'product_image';
UPDATE index_state SET catalog_generation = 1
    WHERE tenant_id IN (SELECT DISTINCT tenant_id FROM local_features WHERE item_kind = 'product_image');
-- The catalog a keyframe's matches were last decided with, as a catalog generation.
ALTER TABLE frames ADD COLUMN decided_with_generation bigint;
ALTER TABLE frames DROP COLUMN decided_with_photos, DROP COLUMN decided_with_newest;
