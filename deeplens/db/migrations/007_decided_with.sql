-- The catalog a keyframe's matches were last decided against (its photo count and newest
-- feature write), so that a decision made with an older catalog never replaces one made
-- with a newer catalog: two match calls holding different catalog snapshots may finish in
-- either order.
ALTER TABLE frames ADD COLUMN decided_with_photos integer;
ALTER TABLE frames ADD COLUMN decided_with_newest timestamptz;
