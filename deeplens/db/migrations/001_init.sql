-- DeepLens schema, version 1. Every row carries tenant_id; vectors carry their model name.
CREATE EXTENSION IF NOT EXISTS vector;

-- Every uploaded object the pipeline has seen, keyed by its key; sha256 makes re-uploads no-ops.
CREATE TABLE objects (
    tenant_id   text        NOT NULL,
    key         text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('product_image', 'video', 'unknown')),
    sha256      text        NOT NULL,
    size        bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE products (
    tenant_id   text        NOT NULL,
    sku         text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, sku)
);

CREATE TABLE product_images (
    id          bigserial   PRIMARY KEY,
    tenant_id   text        NOT NULL,
    sku         text        NOT NULL,
    object_key  text        NOT NULL,
    sha256      text        NOT NULL,
    width       integer     NOT NULL,
    height      integer     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, object_key),
    FOREIGN KEY (tenant_id, sku) REFERENCES products (tenant_id, sku)
);

CREATE TABLE videos (
    tenant_id    text             NOT NULL,
    video_id     text             NOT NULL,
    object_key   text             NOT NULL,
    sha256       text             NOT NULL,
    fps          double precision NOT NULL,
    frame_count  integer          NOT NULL,
    width        integer          NOT NULL,
    height       integer          NOT NULL,
    duration     double precision NOT NULL,
    keyframes    integer,
    truncated    boolean          NOT NULL DEFAULT false,
    created_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, video_id)
);

CREATE TABLE frames (
    id           bigserial        PRIMARY KEY,
    tenant_id    text             NOT NULL,
    video_id     text             NOT NULL,
    frame_index  integer          NOT NULL,
    t            double precision NOT NULL,
    object_key   text             NOT NULL,
    width        integer          NOT NULL,
    height       integer          NOT NULL,
    UNIQUE (tenant_id, video_id, frame_index),
    FOREIGN KEY (tenant_id, video_id) REFERENCES videos (tenant_id, video_id)
);

-- Untyped `vector` so several models of different dimensions live side by side; each model
-- gets a partial expression HNSW index (created by the application when the model first writes).
CREATE TABLE embeddings (
    tenant_id   text    NOT NULL,
    item_kind   text    NOT NULL CHECK (item_kind IN ('product_image', 'frame')),
    item_id     bigint  NOT NULL,
    model       text    NOT NULL,
    dim         integer NOT NULL,
    embedding   vector  NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, item_kind, item_id, model)
);

CREATE TABLE models (
    model       text    PRIMARY KEY,
    dim         integer NOT NULL,
    index_name  text    NOT NULL
);

CREATE TABLE local_features (
    tenant_id   text    NOT NULL,
    item_kind   text    NOT NULL CHECK (item_kind IN ('product_image', 'frame')),
    item_id     bigint  NOT NULL,
    kind        text    NOT NULL,
    count       integer NOT NULL,
    data        bytea   NOT NULL,
    PRIMARY KEY (tenant_id, item_kind, item_id)
);

-- One verified (frame, product) pair; appearances are rolled up from these.
CREATE TABLE frame_matches (
    tenant_id         text             NOT NULL,
    frame_id          bigint           NOT NULL REFERENCES frames (id),
    sku               text             NOT NULL,
    video_id          text             NOT NULL,
    t                 double precision NOT NULL,
    product_image_id  bigint           NOT NULL REFERENCES product_images (id),
    inliers           integer          NOT NULL,
    similarity        real             NOT NULL,
    score             real             NOT NULL,
    box               integer[]        NOT NULL,
    corners           real[]           NOT NULL,
    PRIMARY KEY (tenant_id, frame_id, sku)
);
CREATE INDEX frame_matches_video_sku ON frame_matches (tenant_id, video_id, sku, t);

CREATE TABLE appearances (
    id                    uuid             PRIMARY KEY,
    tenant_id             text             NOT NULL,
    video_id              text             NOT NULL,
    sku                   text             NOT NULL,
    start_t               double precision NOT NULL,
    end_t                 double precision NOT NULL,
    frames                integer          NOT NULL,
    best_frame_id         bigint           NOT NULL REFERENCES frames (id),
    best_product_image_id bigint           NOT NULL REFERENCES product_images (id),
    best_score            real             NOT NULL,
    box                   integer[]        NOT NULL,
    evidence_key          text,
    updated_at            timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX appearances_lookup ON appearances (tenant_id, video_id, sku, start_t);

-- Bad input, recorded where the API can show it; one row per (object, step).
CREATE TABLE failures (
    id          bigserial   PRIMARY KEY,
    tenant_id   text        NOT NULL,
    object_key  text        NOT NULL,
    step        text        NOT NULL,
    reason      text        NOT NULL,
    message     text        NOT NULL,
    event_id    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, object_key, step)
);

-- The in-process broker's durable queue: one row per (event, subscriber), as a Knative
-- Trigger delivers each event to each matching subscriber independently.
CREATE TABLE deliveries (
    id               bigserial   PRIMARY KEY,
    tenant_id        text        NOT NULL,
    event_id         text        NOT NULL,
    event_type       text        NOT NULL,
    subscriber       text        NOT NULL,
    root_key         text,
    event            jsonb       NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'running', 'done', 'failed', 'dead')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, subscriber)
);
CREATE INDEX deliveries_ready ON deliveries (next_attempt_at) WHERE status IN ('pending', 'running');
CREATE INDEX deliveries_root ON deliveries (tenant_id, root_key) WHERE status IN ('pending', 'running');

CREATE TABLE dead_letters (
    id           bigserial   PRIMARY KEY,
    tenant_id    text        NOT NULL,
    event_id     text        NOT NULL,
    subscriber   text        NOT NULL,
    event        jsonb       NOT NULL,
    error        text        NOT NULL,
    attempts     integer     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz
);

-- Event ids a step has completed, so a redelivered event is a no-op.
CREATE TABLE processed_events (
    subscriber    text        NOT NULL,
    event_id      text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscriber, event_id)
);
