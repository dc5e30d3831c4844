-- The vocabulary word of each descriptor of a product photo (uint16 little-endian, one per
-- descriptor), found once by the features step, so no match process or snapshot build
-- searches the vocabulary for catalog descriptors again. words_vocabulary names the
-- vocabulary they belong to; words of another vocabulary are found afresh.
ALTER TABLE local_features ADD COLUMN words bytea, ADD COLUMN words_vocabulary text;
