//! Reads: model records through the cache, bulk decoding, audit entries.

use super::*;

/// Records below which decoding on one core is faster than starting threads.
pub(super) const PARALLEL_DECODE_MIN: usize = 512;

/// The cores this process may use, read once (it opens cgroup files).
pub(super) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

impl SledStore {
    pub(super) fn read_model(&self, model_id: &ModelId) -> Result<ModelState, StoreError> {
        if let Some(state) = self.cached_model(model_id) {
            return Ok(state);
        }
        let bytes = self
            .tree(TreeId::Models)
            .get(model_id.as_str().as_bytes())
            .map_err(|e| self.error(e))?;
        match bytes {
            Some(bytes) => self.decode_model(model_id, &bytes),
            None => Ok(ModelState::default()),
        }
    }

    /// The model's decoded state, if the cache holds it.
    pub(super) fn cached_model(&self, model_id: &ModelId) -> Option<ModelState> {
        let cache = self.models.read().unwrap_or_else(PoisonError::into_inner);
        cache.get(model_id).cloned()
    }

    /// Decodes a model's stored record and keeps it in the cache (a state a
    /// commit put there meanwhile wins: it is at least as new).
    pub(super) fn decode_model(
        &self,
        model_id: &ModelId,
        bytes: &[u8],
    ) -> Result<ModelState, StoreError> {
        let state: ModelState = self.decode("models", bytes)?;
        self.models
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(model_id.clone())
            .or_insert_with(|| state.clone());
        Ok(state)
    }

    /// Decodes records of one tree, in order, many of them on every core:
    /// decoding is most of what reading a whole catalogue costs.
    pub(super) fn decode_all<T: DeserializeOwned + Send>(
        &self,
        tree: &str,
        encoded: &[sled::IVec],
    ) -> Result<Vec<T>, StoreError> {
        let decode_chunk = |chunk: &[sled::IVec]| {
            chunk
                .iter()
                .map(|bytes| self.decode(tree, bytes))
                .collect::<Result<Vec<T>, StoreError>>()
        };
        let threads = cores().min(encoded.len() / PARALLEL_DECODE_MIN).max(1);
        if threads == 1 {
            return decode_chunk(encoded);
        }
        let chunk_len = encoded.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = encoded
                .chunks(chunk_len)
                .map(|chunk| scope.spawn(move || decode_chunk(chunk)))
                .collect();
            let mut all = Vec::with_capacity(encoded.len());
            for worker in workers {
                let decoded = worker
                    .join()
                    .map_err(|_| StoreError::backend("a decoding thread panicked"))?;
                all.extend(decoded?);
            }
            Ok(all)
        })
    }

    pub(super) fn read_head(&self) -> Result<Option<ChainHead>, StoreError> {
        let bytes = self
            .tree(TreeId::Meta)
            .get(HEAD_KEY)
            .map_err(|e| self.error(e))?;
        bytes
            .map(|b| keys::decode_head(&b).ok_or_else(|| self.damaged("the audit chain head")))
            .transpose()
    }

    pub(super) fn commits(&self) -> Result<u64, StoreError> {
        commits(&self.path, self.tree(TreeId::Meta))
    }

    pub(crate) fn read_entry(&self, sequence: u64) -> Result<Option<AuditLogEntry>, StoreError> {
        let bytes = self
            .tree(TreeId::Audit)
            .get(keys::sequence(sequence))
            .map_err(|e| self.error(e))?;
        bytes.map(|b| self.decode("audit", &b)).transpose()
    }

    pub(super) fn decode<T: DeserializeOwned>(
        &self,
        tree: &str,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupted {
            location: at(&self.path),
            detail: format!("a record in {tree} cannot be read: {e}"),
        })
    }
}
