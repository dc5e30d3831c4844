-- What a keyframe's last decision saw: the product photos verified as its candidates, and
-- the neighbouring keyframes' candidates verified as rivals (NULL when no product was about
-- to be matched, so none were asked for). A pass for new photos decides a keyframe again
-- only where these changed; NULL candidates (decided before this migration) always do.
ALTER TABLE frames ADD COLUMN decided_candidates bigint[];
ALTER TABLE frames ADD COLUMN decided_rivals bigint[];
