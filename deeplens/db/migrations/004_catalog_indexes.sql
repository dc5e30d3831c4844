-- DeepLens schema, version 4: the per-product counts of the catalog listings use these;
-- without them a deep page of a 5,000-product catalog took seconds.
CREATE INDEX IF NOT EXISTS product_images_sku ON product_images (tenant_id, sku);
CREATE INDEX IF NOT EXISTS appearances_sku ON appearances (tenant_id, sku);
