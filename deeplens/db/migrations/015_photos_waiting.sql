-- Whether a product photo still waits for its earlier keyframes, as a column the planner
-- keeps statistics on. The planner cannot estimate "matched_at IS DISTINCT FROM indexed_at"
-- between two columns and took every photo to be waiting, so each photo's match step scanned
-- the whole table (13 ms at 10,000 photos, quadratic over an onboarding); on a boolean it
-- sees that nearly none are, and reads the partial index.
ALTER TABLE local_features ADD COLUMN earlier_frames_waiting boolean
    GENERATED ALWAYS AS (earlier_frames_matched_at IS DISTINCT FROM indexed_at) STORED;
DROP INDEX IF EXISTS local_features_photos_waiting;
CREATE INDEX local_features_photos_waiting ON local_features (tenant_id)
    WHERE item_kind = 'product_image' AND earlier_frames_waiting;
ANALYZE local_features;
