-- DeepLens schema, version 6: whether the keyframes indexed before a product photo have been
-- matched against it. A new (or replaced) photo waits until one pass over those keyframes
-- has checked it, and photos that arrive together share that pass. Photos indexed before
-- this version were checked when they arrived, so they start done.
ALTER TABLE local_features ADD COLUMN earlier_frames_matched_at timestamptz;
UPDATE local_features SET earlier_frames_matched_at = indexed_at WHERE item_kind = 'product_image';
CREATE INDEX IF NOT EXISTS local_features_photos_waiting ON local_features (tenant_id)
    WHERE item_kind = 'product_image' AND earlier_frames_matched_at IS DISTINCT FROM indexed_at;
