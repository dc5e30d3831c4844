-- Saved catalog indexes (deeplens index build). A match process loads the newest snapshot of
-- its tenant's catalog index from the object store and adds the photos written after its
-- catalog generation; an index is only valid with the vocabulary it was built on.
CREATE TABLE catalog_snapshots (
    tenant_id           text        NOT NULL,
    catalog_generation  bigint      NOT NULL,
    object_key          text        NOT NULL,
    vocabulary          text        NOT NULL,
    photos              integer     NOT NULL,
    descriptors         bigint      NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, catalog_generation, vocabulary)
);
