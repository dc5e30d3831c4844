-- DeepLens schema, version 3: when an item's local features were written, so a new product
-- photo is verified only against keyframes that may have been matched before it existed.
ALTER TABLE local_features ADD COLUMN indexed_at timestamptz NOT NULL DEFAULT clock_timestamp();
