-- DeepLens schema, version 6: whether the keyframes indexed before a product photo have been
-- matched against it. A new (or replaced) photo waits until a pass over those keyframes has
-- checked it, and photos that arrive together share that pass. A pass too long for one
-- call records how far it got (keyframe ids up to earlier_frames_through are done) and goes
-- on in a follow-up event. Photos indexed before this version were checked when they
-- arrived, so they start done.
ALTER TABLE local_features ADD COLUMN earlier_frames_matched_at timestamptz;
ALTER TABLE local_features ADD COLUMN earlier_frames_through bigint NOT NULL DEFAULT 0;
UPDATE local_features SET earlier_frames_matched_at = indexed_at WHERE item_kind = 'product_image';
CREATE INDEX IF NOT EXISTS local_features_photos_waiting ON local_features (tenant_id)
    WHERE item_kind = 'product_image' AND earlier_frames_matched_at IS DISTINCT FROM indexed_at;
