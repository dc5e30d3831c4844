-- DeepLens schema, version 5: each model's HNSW index holds its vectors as halfvec.
-- Half the bytes per graph node: at 100k x 1280-d the index drops from 781 MB to ~390 MB
-- and a search touches half the memory (bench/search.py: ~40% less time per query at the
-- same recall). The column keeps full float32 vectors, so scores stay exact.
DO $$
DECLARE
    m record;
BEGIN
    FOR m IN SELECT model, dim, index_name FROM models LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I', m.index_name);
        EXECUTE format(
            'CREATE INDEX %I ON embeddings USING hnsw ((embedding::halfvec(%s)) halfvec_cosine_ops)'
            ' WITH (m = 16, ef_construction = 64) WHERE model = %L',
            m.index_name, m.dim, m.model);
    END LOOP;
END $$;
