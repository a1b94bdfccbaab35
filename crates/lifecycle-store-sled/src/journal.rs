//! The commit journal: a commit's writes, recorded as one value before they are made.

use crate::keys;

/// The trees a commit writes to.
/// The discriminants are stored in journals: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TreeId {
    /// Format marker, chain head, commit counter, journal.
    Meta = 0,
    /// Each model's `ModelState`.
    Models = 1,
    /// Audit entries by sequence number.
    Audit = 2,
    /// Index: model id, sequence number.
    AuditByModel = 3,
    /// Index: timestamp, sequence number.
    AuditByTime = 4,
    /// Index: severity, sequence number.
    AuditBySeverity = 5,
}

/// Every tree, at the index of its discriminant.
pub const TREES: [TreeId; 6] = [
    TreeId::Meta,
    TreeId::Models,
    TreeId::Audit,
    TreeId::AuditByModel,
    TreeId::AuditByTime,
    TreeId::AuditBySeverity,
];

/// The writes of commit number `commit`: puts of computed values and
/// deletes, so replaying them is idempotent.
#[derive(Debug, Default, PartialEq)]
pub struct Journal {
    /// The commit's number; the last put sets the commit counter to it.
    pub commit: u64,
    /// (tree, key, value to put or `None` to delete), in the order they are made.
    pub puts: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>,
}

/// Marks a delete in the encoded tree byte.
const DELETE: u8 = 0x80;

impl TreeId {
    /// The sled tree's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Models => "models",
            Self::Audit => "audit",
            Self::AuditByModel => "audit_by_model",
            Self::AuditByTime => "audit_by_time",
            Self::AuditBySeverity => "audit_by_severity",
        }
    }
}

impl Journal {
    /// Adds a put.
    pub fn put(&mut self, tree: TreeId, key: &[u8], value: Vec<u8>) {
        self.puts.push((tree, key.to_vec(), Some(value)));
    }

    /// Adds a delete.
    pub fn delete(&mut self, tree: TreeId, key: &[u8]) {
        self.puts.push((tree, key.to_vec(), None));
    }

    /// `commit`, then per operation: tree index (with [`DELETE`] set for a
    /// delete), key length, key, and for a put value length and value.
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self
            .puts
            .iter()
            .map(|(_, k, v)| 9 + k.len() + v.as_ref().map_or(0, Vec::len))
            .sum();
        let mut out = Vec::with_capacity(8 + size);
        out.extend_from_slice(&keys::sequence(self.commit));
        for (tree, key, value) in &self.puts {
            out.push(*tree as u8 | if value.is_none() { DELETE } else { 0 });
            for part in std::iter::once(key).chain(value) {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part);
            }
        }
        out
    }

    /// Reads an encoded journal; `None` if the bytes are damaged.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut rest = bytes;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (head, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(head)
        };
        let commit = u64::from_be_bytes(take(8)?.try_into().ok()?);
        let mut puts = Vec::new();
        while let Some(tag) = take(1) {
            let tree = *TREES.get(usize::from(tag[0] & !DELETE))?;
            let key_len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
            let key = take(key_len)?.to_vec();
            let value = if tag[0] & DELETE == 0 {
                let value_len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
                Some(take(value_len)?.to_vec())
            } else {
                None
            };
            puts.push((tree, key, value));
        }
        Some(Self { commit, puts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tree_sits_at_its_discriminant() {
        for (index, tree) in TREES.iter().enumerate() {
            assert_eq!(*tree as usize, index, "{}", tree.name());
        }
    }

    #[test]
    fn journals_round_trip_and_damage_is_detected() {
        let mut journal = Journal {
            commit: 42,
            ..Journal::default()
        };
        journal.put(TreeId::Models, b"gpt-4", b"{}".to_vec());
        journal.put(
            TreeId::AuditBySeverity,
            &[3, 0, 0, 0, 0, 0, 0, 0, 9],
            Vec::new(),
        );
        let bytes = journal.encode();
        assert_eq!(Journal::decode(&bytes), Some(journal));
        assert_eq!(
            Journal::decode(&bytes[..bytes.len() - 1]),
            None,
            "truncated"
        );
        assert_eq!(Journal::decode(&bytes[..3]), None);
        let mut bad_tree = bytes.clone();
        bad_tree[8] = 200;
        assert_eq!(Journal::decode(&bad_tree), None);
    }
}
