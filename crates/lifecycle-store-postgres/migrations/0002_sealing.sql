-- Sealing in batches (docs/storage.md): a commit queues its audit events
-- here, in the transaction of its state change, without touching the
-- chain's head; a sealer then numbers and links every queued event into
-- lifecycle_audit in one short transaction of its own. Commits on different
-- models no longer wait for each other's flushes: they share them.
CREATE SEQUENCE lifecycle_commit_ids;

CREATE TABLE lifecycle_unsealed (
    commit_id bigint NOT NULL,
    position integer NOT NULL,
    -- When the event was queued: a reader seals events left queued longer
    -- than a moment (their committer stopped before sealing them).
    queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    event text NOT NULL,
    PRIMARY KEY (commit_id, position)
);

-- Which commit an entry came from, so that a committer whose events another
-- process sealed finds them. Entries restored or imported have none.
ALTER TABLE lifecycle_audit ADD COLUMN commit_id bigint;
CREATE INDEX lifecycle_audit_by_commit ON lifecycle_audit (commit_id) WHERE commit_id IS NOT NULL;
