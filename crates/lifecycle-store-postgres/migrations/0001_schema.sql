-- The lifecycle store's schema. Records and entries are kept as the JSON
-- text the domain writes (not jsonb, which would reorder keys and round
-- numbers), beside the columns that index and constrain them.

-- Each model's revision: the optimistic guard every commit checks.
CREATE TABLE lifecycle_models (
    model_id text PRIMARY KEY,
    revision bigint NOT NULL CHECK (revision >= 0)
);

-- Version records, keyed by the version without build metadata.
CREATE TABLE lifecycle_versions (
    model_id text NOT NULL REFERENCES lifecycle_models (model_id),
    version_key text NOT NULL,
    status text NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (model_id, version_key)
);

-- The database's own word on "one active and one canary per model", behind
-- the revision guard and the adapter's check: checked when the transaction
-- commits, so a commit may write the leaving version and the newcomer in
-- either order.
ALTER TABLE lifecycle_versions ADD CONSTRAINT lifecycle_one_active
    EXCLUDE USING btree (model_id WITH =) WHERE (status = 'active') DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE lifecycle_versions ADD CONSTRAINT lifecycle_one_canary
    EXCLUDE USING btree (model_id WITH =) WHERE (status = 'canary') DEFERRABLE INITIALLY DEFERRED;

-- The audit log: sequence numbers 1, 2, 3... without gaps, each entry
-- linked by hash to the one before (the chain is checked by the audit log).
CREATE TABLE lifecycle_audit (
    sequence bigint PRIMARY KEY CHECK (sequence > 0),
    model_id text,
    severity smallint NOT NULL,
    at_micros bigint NOT NULL,
    kind text NOT NULL,
    actor text NOT NULL,
    entry text NOT NULL
);
CREATE INDEX lifecycle_audit_by_model ON lifecycle_audit (model_id, sequence) WHERE model_id IS NOT NULL;
CREATE INDEX lifecycle_audit_by_severity ON lifecycle_audit (severity, sequence);
CREATE INDEX lifecycle_audit_by_time ON lifecycle_audit (at_micros, sequence);

-- One row: the chain's head (sequence 0 before the first entry), and what
-- pruning left behind (the last pruned entry's head, and how many).
CREATE TABLE lifecycle_chain (
    id smallint PRIMARY KEY CHECK (id = 1),
    head_sequence bigint NOT NULL,
    head_hash text,
    pruned_sequence bigint,
    pruned_hash text,
    pruned_count bigint NOT NULL DEFAULT 0
);
INSERT INTO lifecycle_chain (id, head_sequence) VALUES (1, 0);

-- Where the audit log's incremental verification got to: a hint, apart from
-- the chain's row so that recording it never waits for a commit.
CREATE TABLE lifecycle_verified (
    id smallint PRIMARY KEY CHECK (id = 1),
    sequence bigint NOT NULL,
    hash text NOT NULL
);

-- Metrics checkpoints: one row per (model, version, replica), the merged
-- part under replica ''. Bounded by the versions, never one row per result.
CREATE TABLE lifecycle_metrics (
    model_id text NOT NULL,
    version_key text NOT NULL,
    replica text NOT NULL,
    state bytea NOT NULL,
    snapshot text NOT NULL,
    PRIMARY KEY (model_id, version_key, replica),
    FOREIGN KEY (model_id, version_key) REFERENCES lifecycle_versions (model_id, version_key)
);

-- Ids of the batches of results recorded (idempotent recording).
CREATE TABLE lifecycle_batches (
    batch_id text PRIMARY KEY
);

-- Leases: which manager does the work that must run once.
CREATE TABLE lifecycle_leases (
    name text PRIMARY KEY,
    lease text NOT NULL
);
