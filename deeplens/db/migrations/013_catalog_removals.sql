-- Product photos removed from a catalog, with the catalog generation that removed them. A
-- match process's catalog index drops them when it catches up past that generation, as it
-- adds the photos written since; a decision that saw one of them before is made again.
CREATE TABLE catalog_removals (
    tenant_id           text        NOT NULL,
    photo_id            bigint      NOT NULL,
    sku                 text        NOT NULL,
    object_key          text        NOT NULL,
    catalog_generation  bigint      NOT NULL,
    removed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, photo_id)
);
CREATE INDEX catalog_removals_generation ON catalog_removals (tenant_id, catalog_generation);
CREATE INDEX catalog_removals_key ON catalog_removals (tenant_id, object_key);
